//! `logistics`: the example system (inventory, orders, dispatch) as a deployable binary. Each
//! service runs on a port of its own, with gRPC, gRPC-Web, REST/JSON, health checks, server
//! reflection and `/metrics`; orders reaches inventory and dispatch over the network through
//! the generated clients.
//!
//! ```text
//! logistics all                      # the three services in one process, ports 50051-50053
//! logistics inventory --listen 0.0.0.0:50051 --db /var/lib/logistics/inventory.db
//! logistics orders --listen 0.0.0.0:50052 --inventory http://inv-a:50051,http://inv-b:50051 \
//!     --dispatch http://dispatch:50053
//! logistics dispatch --listen 0.0.0.0:50053
//! logistics demo --orders http://127.0.0.1:50052
//! logistics all --seed-units 5000000 --breaker-open-for 1s   # stock for a benchmark, and
//!                                                            # breakers that recover quickly
//! ```
//!
//! Every serving command prints one line per service once it listens, `inventory listening
//! on http://127.0.0.1:50051`, for scripts to wait on and parse; logs go to stderr (`RUST_LOG`
//! filters them, `info` by default).

mod demo;
mod hops;
mod inventories;
mod services;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use http::HeaderName;
use rust_svc_runtime::host::{self, ConnectionLimits, DrainPolicy, Host, Signals, Stop};
use rust_svc_runtime::interceptors::metrics::metrics_exporter_prometheus::PrometheusHandle;
use rust_svc_runtime::rpc::LoadShedding;
use tracing_subscriber::EnvFilter;

use crate::services::{Dependencies, Seed};

// See the jemalloc dependency in Cargo.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The encoded descriptors of the three protos and their imports (see build.rs), which
/// reflection serves.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The example logistics system: inventory, orders and dispatch over gRPC, gRPC-Web and REST.
#[derive(Debug, Parser)]
#[command(name = "logistics", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the three services in one process, each on its own port, orders calling the
    /// others over the network as it would across machines.
    All(AllArgs),
    /// Serves the inventory.
    Inventory(InventoryArgs),
    /// Serves the orders, calling inventory and dispatch.
    Orders(OrdersArgs),
    /// Serves the courier dispatch.
    Dispatch(DispatchArgs),
    /// Places an order end to end and prints each hop the calls made.
    Demo(DemoArgs),
}

/// How every serving command shuts down and who may call it from a browser.
#[derive(Debug, Args)]
struct ServeArgs {
    /// On SIGINT or SIGTERM, how long the calls in flight may take to finish once the ports
    /// stop accepting; longer ones (streams) are cut.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    /// On SIGINT or SIGTERM, how long to report NOT_SERVING while still accepting calls,
    /// for load balancers to notice first; a second signal ends the wait.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    shutdown_delay: Duration,
    /// The origins browsers may call REST and gRPC-Web from, `*` for any; repeat or
    /// comma-separate. Any by default: the example has no credentials or cookies to protect,
    /// and the page on the orders port calls the other ports.
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        value_delimiter = ',',
        default_value = "*"
    )]
    cors_origins: Vec<String>,
    /// The most connections each port keeps open; more are closed as they arrive. By default
    /// three quarters of the open-file limit (`ulimit -n`), at most 10,000.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// How long a new connection may take to send its first request line (HTTP/1.1) or the
    /// HTTP/2 preface before it is closed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    preface_timeout: Duration,
    /// Closes a connection on which nothing has moved either way for this long (a quiet
    /// stream counts as idle too); never by default.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    idle_timeout: Option<Duration>,
    /// Admits every call instead of shedding load: no limit on calls at once, no line, no
    /// refusals (the services shed adaptively by default; see the guide's Overload
    /// chapter).
    #[arg(long)]
    no_load_shedding: bool,
}

impl ServeArgs {
    /// The bounds on each port's connections.
    fn connection_limits(&self) -> ConnectionLimits {
        let limits = ConnectionLimits::default()
            .preface_timeout(self.preface_timeout)
            .idle_timeout(self.idle_timeout);
        match self.max_connections {
            Some(max) => limits.max_open(max as usize),
            None => limits,
        }
    }
}

/// What a new inventory database holds.
#[derive(Debug, Args)]
struct StockArgs {
    /// Units on hand of each demo SKU per warehouse in a new database, instead of the demo's
    /// counts (SKU-20001 stays out of stock); a database that has stock keeps it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    seed_units: Option<i64>,
}

impl StockArgs {
    fn seed(&self) -> Seed {
        self.seed_units.map_or(Seed::Demo, Seed::Units)
    }
}

/// How the orders' clients of inventory and dispatch behave.
#[derive(Debug, Args)]
struct ClientArgs {
    /// How long the circuit breakers of the inventory and dispatch clients stay open once
    /// tripped, before letting probe calls through; as the protos say by default (inventory
    /// 30s, dispatch 10s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    breaker_open_for: Option<Duration>,
    /// How often a named dependency (`--inventory dns:///inventory-headless:50051`) is
    /// resolved again; 30s by default (and within a second after a connection to one of its
    /// addresses fails).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    resolve_every: Option<Duration>,
}

#[derive(Debug, Args)]
struct AllArgs {
    /// Where the inventory listens (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    inventory_listen: SocketAddr,
    /// Where the orders listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052")]
    orders_listen: SocketAddr,
    /// Where dispatch listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50053")]
    dispatch_listen: SocketAddr,
    /// A directory for the SQLite files (inventory.db, orders.db), created if missing; in
    /// memory without it.
    #[arg(long, value_name = "DIR")]
    db_dir: Option<PathBuf>,
    #[command(flatten)]
    stock: StockArgs,
    #[command(flatten)]
    clients: ClientArgs,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct InventoryArgs {
    /// Where to listen (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// The SQLite file; in memory without it.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(flatten)]
    stock: StockArgs,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct OrdersArgs {
    /// Where to listen (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50052")]
    listen: SocketAddr,
    /// Inventory servers; repeat or comma-separate to balance the calls over several. Or one
    /// name, whose addresses are followed while orders runs: `dns:///inventory-headless:50051`.
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50051"
    )]
    inventory: Vec<String>,
    /// Dispatch servers; repeat or comma-separate to balance the calls over several. Or one
    /// name: `dns:///dispatch-headless:50053`.
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50053"
    )]
    dispatch: Vec<String>,
    /// The SQLite file; in memory without it.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(flatten)]
    clients: ClientArgs,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct DispatchArgs {
    /// Where to listen (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50053")]
    listen: SocketAddr,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// The orders service.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:50052")]
    orders: String,
    /// The customer placing the order.
    #[arg(long, default_value = "c_42")]
    customer: String,
    /// The SKU to order; SKU-20001 is out of stock, to see inventory refuse it.
    #[arg(long, default_value = "SKU-10042")]
    sku: String,
    /// How many units.
    #[arg(long, default_value_t = 1)]
    quantity: i32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours for a terminal only: not escape codes in files and log collectors.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("logistics: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command));
    // Whatever the drain left running (calls cut at the bound) is dropped here, not waited for.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("logistics: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::All(args) => all(args).await,
        Command::Inventory(args) => {
            let listener = bind(args.listen).await?;
            let metrics = host::install_metrics()?;
            let port = services::inventory(args.db.as_deref(), args.stock.seed()).await?;
            serve_ports(vec![(port, listener)], metrics, &args.serve).await
        }
        Command::Orders(args) => {
            let listener = bind(args.listen).await?;
            let dependencies = Dependencies {
                inventory: args.inventory,
                dispatch: args.dispatch,
                breaker_open_for: args.clients.breaker_open_for,
                resolve_every: args.clients.resolve_every,
            };
            // Before the clients exist: their breakers' gauges are registered as they are made.
            let metrics = host::install_metrics()?;
            let port = services::orders(&dependencies, args.db.as_deref())?;
            serve_ports(vec![(port, listener)], metrics, &args.serve).await
        }
        Command::Dispatch(args) => {
            let listener = bind(args.listen).await?;
            let metrics = host::install_metrics()?;
            let port = services::dispatch()?;
            serve_ports(vec![(port, listener)], metrics, &args.serve).await
        }
        Command::Demo(args) => {
            let demo = demo::Demo {
                orders: args.orders,
                customer: args.customer,
                sku: args.sku,
                quantity: args.quantity,
            };
            demo::run(&demo).await
        }
    }
}

/// The three services on their three ports, orders calling the others by their addresses.
async fn all(args: AllArgs) -> Result<(), String> {
    // Every port is bound before anything is served, so that a port in use fails the start
    // rather than leaving the others up.
    let inventory_listener = bind(args.inventory_listen).await?;
    let orders_listener = bind(args.orders_listen).await?;
    let dispatch_listener = bind(args.dispatch_listen).await?;
    let dependencies = Dependencies {
        inventory: vec![url_of(&inventory_listener)],
        dispatch: vec![url_of(&dispatch_listener)],
        breaker_open_for: args.clients.breaker_open_for,
        resolve_every: args.clients.resolve_every,
    };
    if let Some(dir) = &args.db_dir {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create --db-dir {}: {error}", dir.display()))?;
    }
    let db = |file: &str| args.db_dir.as_deref().map(|dir| dir.join(file));
    // Before the clients exist: their breakers' gauges are registered as they are made.
    let metrics = host::install_metrics()?;
    let inventory = services::inventory(db("inventory.db").as_deref(), args.stock.seed()).await?;
    let orders = services::orders(&dependencies, db("orders.db").as_deref())?;
    let ports = vec![
        (inventory, inventory_listener),
        (orders, orders_listener),
        (services::dispatch()?, dispatch_listener),
    ];
    serve_ports(ports, metrics, &args.serve).await
}

/// Where a listener on this host is reached: loopback for a wildcard address.
fn url_of(listener: &tokio::net::TcpListener) -> String {
    let mut addr = listener
        .local_addr()
        .expect("a bound TCP listener has an address");
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// [`host::bind`], its error as this binary reports errors.
async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    host::bind(addr).await.map_err(|error| error.to_string())
}

/// Serves `ports` with `/metrics` rendered by `metrics`, announces them, and winds down on a
/// signal (see `rust_svc_runtime::host::shutdown`).
async fn serve_ports(
    ports: Vec<(Host, tokio::net::TcpListener)>,
    metrics: PrometheusHandle,
    args: &ServeArgs,
) -> Result<(), String> {
    let signals =
        Signals::listen().map_err(|error| format!("cannot listen for signals: {error}"))?;
    let stop = Stop::new();
    let mut serving = Vec::with_capacity(ports.len());
    for (port, listener) in ports {
        let port = port
            .descriptors(DESCRIPTORS)
            .cors_origins(args.cors_origins.iter().cloned())
            .metrics(metrics.clone())
            .connections(args.connection_limits())
            .expose_header(HeaderName::from_static(hops::HOP_HEADER));
        let port = if args.no_load_shedding {
            port.load_shedding(LoadShedding::OFF)
        } else {
            port
        };
        let label = port.label().to_owned();
        let started = port
            .start(listener, stop.wait())
            .await
            .map_err(|error| format!("{label}: {error}"))?;
        serving.push(started);
    }
    // One line per port, for scripts and tests to wait on and parse: flushed at once, as
    // stdout is block-buffered when it is a pipe.
    let mut stdout = std::io::stdout().lock();
    for port in &serving {
        let _ = writeln!(stdout, "{} listening on http://{}", port.label, port.addr);
    }
    let _ = stdout.flush();
    drop(stdout);
    let policy = DrainPolicy::new(args.shutdown_delay, args.drain_timeout);
    host::shutdown::run(serving, stop, signals, policy).await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("logistics").chain(args.iter().copied()))
            .unwrap_or_else(|error| panic!("{args:?}: {error}"))
            .command
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dependency_urls_repeat_or_comma_separate() {
        let Command::Orders(args) = parse(&[
            "orders",
            "--inventory",
            "http://a:1",
            "--inventory",
            "http://b:1,http://c:1",
            "--dispatch",
            "http://d:1",
        ]) else {
            panic!("not the orders command");
        };
        assert_eq!(args.inventory, ["http://a:1", "http://b:1", "http://c:1"]);
        assert_eq!(args.dispatch, ["http://d:1"]);
    }

    #[test]
    fn defaults_match_the_ports_of_all() {
        let Command::Orders(args) = parse(&["orders"]) else {
            panic!("not the orders command");
        };
        assert_eq!(args.listen, "127.0.0.1:50052".parse().unwrap());
        assert_eq!(args.inventory, ["http://127.0.0.1:50051"]);
        assert_eq!(args.dispatch, ["http://127.0.0.1:50053"]);
        assert_eq!(args.serve.drain_timeout, Duration::from_secs(10));
        assert_eq!(args.serve.shutdown_delay, Duration::ZERO);
        assert_eq!(args.serve.cors_origins, ["*"]);
        let Command::Demo(args) = parse(&["demo"]) else {
            panic!("not the demo command");
        };
        assert_eq!(args.orders, "http://127.0.0.1:50052");
    }

    #[test]
    fn breakers_stay_open_as_the_protos_say_unless_told_otherwise() {
        let Command::Orders(args) = parse(&["orders"]) else {
            panic!("not the orders command");
        };
        assert_eq!(args.clients.breaker_open_for, None);
        let Command::Orders(args) = parse(&["orders", "--breaker-open-for", "1s"]) else {
            panic!("not the orders command");
        };
        assert_eq!(args.clients.breaker_open_for, Some(Duration::from_secs(1)));
        let Command::All(args) = parse(&["all", "--breaker-open-for", "250ms"]) else {
            panic!("not the all command");
        };
        assert_eq!(
            args.clients.breaker_open_for,
            Some(Duration::from_millis(250))
        );
        for bad in [
            vec!["orders", "--breaker-open-for", "briefly"],
            vec!["orders", "--breaker-open-for"],
            // Only orders has clients.
            vec!["inventory", "--breaker-open-for", "1s"],
            vec!["dispatch", "--breaker-open-for", "1s"],
        ] {
            let args = std::iter::once("logistics").chain(bad.iter().copied());
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seed_units_replace_the_demo_counts_of_a_new_inventory() {
        let Command::Inventory(args) = parse(&["inventory"]) else {
            panic!("not the inventory command");
        };
        assert_eq!(args.stock.seed(), Seed::Demo);
        let Command::Inventory(args) = parse(&["inventory", "--seed-units", "5000000"]) else {
            panic!("not the inventory command");
        };
        assert_eq!(args.stock.seed(), Seed::Units(5_000_000));
        let Command::All(args) = parse(&["all", "--seed-units", "0"]) else {
            panic!("not the all command");
        };
        assert_eq!(args.stock.seed(), Seed::Units(0));
        for bad in [
            vec!["inventory", "--seed-units", "-1"],
            vec!["inventory", "--seed-units", "many"],
            vec!["inventory", "--seed-units", "1.5"],
            // Only the inventory is seeded.
            vec!["orders", "--seed-units", "10"],
            vec!["dispatch", "--seed-units", "10"],
        ] {
            let args = std::iter::once("logistics").chain(bad.iter().copied());
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        let Command::All(args) = parse(&["all", "--drain-timeout", "1m 30s"]) else {
            panic!("not the all command");
        };
        assert_eq!(args.serve.drain_timeout, Duration::from_secs(90));
        assert!(Cli::try_parse_from(["logistics", "all", "--drain-timeout", "soon"]).is_err());
    }
}
