//! Unary throughput and latency of the generated client (deadline, breaker and retry armed)
//! against tonic's plain generated client, calling the same loopback server, interleaved.
//!
//! `cargo run --release -p rust-svc-bench --bin client_overhead [rounds] [loopback|in-memory]`;
//! prints a Markdown table for bench/RESULTS.md. The in-memory transport (the test harness's
//! duplex pipes) takes the kernel's TCP stack out of the picture, so the clients' own costs
//! stand out of the noise.
//!
//! Over loopback a fourth client takes part: the generated client made as users make it,
//! `connect_lazy` with the server's URL, on its own HTTP/2 connection (the runtime's, not
//! tonic's channel); in memory there is no URL to connect to.
//!
//! `client_overhead profile CLIENT CALLS [loopback|in-memory]` makes only CALLS sequential
//! calls with one client (`tonic`, `tonic-timeout`, `generated` or, over loopback,
//! `generated-own`), to count its instructions under `valgrind --tool=callgrind`.

use std::time::{Duration, Instant};

use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, InventoryServiceClient,
    InventoryServiceGrpc,
};
use rust_svc_bench::Stock;
use rust_svc_bench::plain_tonic::inventory::v1::inventory_service_client::InventoryServiceClient as TonicClient;
use rust_svc_runtime::Context;

/// Sequential calls per round, for latency.
const LATENCY_CALLS: usize = 2_000;
/// Calls per round spread over `CONCURRENCY` tasks, for throughput.
const THROUGHPUT_CALLS: usize = 20_000;
const CONCURRENCY: usize = 16;
const WARMUP_CALLS: usize = 2_000;
/// `CheckStock`'s deadline in inventory.proto.
const CHECK_STOCK_DEADLINE: Duration = Duration::from_millis(300);

/// The two clients under comparison, behind one call signature.
#[derive(Clone)]
enum Client {
    Tonic(TonicClient<tonic::transport::Channel>),
    /// tonic's client sending the same `grpc-timeout`: what a deadline costs by itself, on the
    /// wire and in the server.
    TonicWithTimeout(TonicClient<tonic::transport::Channel>),
    Generated(InventoryServiceClient),
    /// The generated client from `connect_lazy`: its own connection to the server's URL.
    GeneratedOwn(InventoryServiceClient),
}

impl Client {
    fn name(&self) -> &'static str {
        match self {
            Self::Tonic(_) => "tonic client",
            Self::TonicWithTimeout(_) => "tonic client + grpc-timeout",
            Self::Generated(_) => "generated client",
            Self::GeneratedOwn(_) => "generated client, `connect_lazy`",
        }
    }

    async fn call(&mut self) {
        let reply = self.try_call().await;
        assert_eq!(reply.expect("the call succeeds").available, 7);
    }

    async fn try_call(&mut self) -> Result<CheckStockResponse, tonic::Status> {
        let request = CheckStockRequest {
            sku: "SKU-10042".to_owned(),
            warehouse_id: String::new(),
        };
        match self {
            Self::Tonic(client) => client.check_stock(request).await.map(|r| r.into_inner()),
            Self::TonicWithTimeout(client) => {
                let mut request = tonic::Request::new(request);
                request.set_timeout(CHECK_STOCK_DEADLINE);
                client.check_stock(request).await.map(|r| r.into_inner())
            }
            Self::Generated(client) | Self::GeneratedOwn(client) => {
                client.check_stock(&Context::new(), request).await
            }
        }
    }
}

/// Nanoseconds of each of `calls` sequential calls.
async fn latencies(client: &mut Client, calls: usize) -> Vec<u64> {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        client.call().await;
        samples.push(start.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    samples
}

/// Calls per second with `CONCURRENCY` tasks sharing the client.
async fn throughput(client: &Client) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                for _ in 0..THROUGHPUT_CALLS / CONCURRENCY {
                    client.call().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a benchmark task");
    }
    THROUGHPUT_CALLS as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `median (min–max)` of per-round figures.
fn summary(values: &mut [f64], unit: &str) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} {unit} ({:.1}–{:.1})",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

#[derive(Default)]
struct Figures {
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    calls_per_sec: Vec<f64>,
}

/// `profile CLIENT CALLS [TRANSPORT]`: CALLS sequential calls with one client, nothing printed.
async fn profile(args: &[String]) {
    let [_, client, calls, rest @ ..] = args else {
        panic!("usage: client_overhead profile tonic|tonic-timeout|generated CALLS [TRANSPORT]");
    };
    let calls: usize = calls.parse().expect("CALLS is a number");
    let (channel, server) = connect(rest.first().map_or("in-memory", String::as_str)).await;
    let mut client = match client.as_str() {
        "tonic" => Client::Tonic(TonicClient::new(channel)),
        "tonic-timeout" => Client::TonicWithTimeout(TonicClient::new(channel)),
        "generated" => Client::Generated(InventoryServiceClient::new(channel)),
        "generated-own" => Client::GeneratedOwn(own_connection(&server)),
        other => panic!("unknown client `{other}`"),
    };
    // Under callgrind a first call (the connection made, the server's first answer) can take
    // longer than CheckStock's deadline: calls before the first that succeeds are not counted
    // (they cancel out between two runs anyway).
    for _ in 0..10 {
        if client.try_call().await.is_ok() {
            break;
        }
    }
    latencies(&mut client, calls).await;
}

/// The generated client as `connect_lazy` makes it, to a loopback server.
fn own_connection(server: &rust_svc_runtime::harness::ServerHandle) -> InventoryServiceClient {
    let addr = server
        .local_addr()
        .expect("`generated-own` needs the loopback transport");
    InventoryServiceClient::connect_lazy([format!("http://{addr}")]).expect("a client")
}

/// The server, and a channel to it over `transport`.
async fn connect(
    transport: &str,
) -> (
    tonic::transport::Channel,
    rust_svc_runtime::harness::ServerHandle,
) {
    let service = InventoryServiceGrpc::new(Stock).into_service();
    match transport {
        "loopback" => rust_svc_runtime::harness::serve_loopback(service)
            .await
            .expect("a loopback server"),
        "in-memory" => rust_svc_runtime::harness::serve_in_memory(service),
        other => panic!("unknown transport `{other}`: loopback or in-memory"),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("profile") {
        return profile(&args).await;
    }
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse().expect("rounds is a number"))
        .unwrap_or(10);
    let transport = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "loopback".to_owned());
    let (channel, server) = connect(&transport).await;
    // The first three share one connection; no two clients ever run at the same time.
    let mut clients = vec![
        Client::Tonic(TonicClient::new(channel.clone())),
        Client::TonicWithTimeout(TonicClient::new(channel.clone())),
        Client::Generated(InventoryServiceClient::new(channel)),
    ];
    if server.local_addr().is_some() {
        clients.push(Client::GeneratedOwn(own_connection(&server)));
    }
    for client in &mut clients {
        latencies(client, WARMUP_CALLS).await;
    }
    let mut figures: Vec<Figures> = clients.iter().map(|_| Figures::default()).collect();
    for round in 0..rounds {
        // Rotate who goes first, so that drift over the run hits all alike.
        let count = clients.len();
        for index in (0..count).map(|i| (i + round) % count) {
            let client = &mut clients[index];
            let samples = latencies(client, LATENCY_CALLS).await;
            let rate = throughput(client).await;
            let figure = &mut figures[index];
            figure
                .p50_us
                .push(percentile(&samples, 0.50) as f64 / 1000.0);
            figure
                .p99_us
                .push(percentile(&samples, 0.99) as f64 / 1000.0);
            figure.calls_per_sec.push(rate);
        }
    }
    let medians: Vec<(f64, f64)> = figures
        .iter()
        .map(|f| {
            let mut p50 = f.p50_us.clone();
            let mut rate = f.calls_per_sec.clone();
            p50.sort_by(f64::total_cmp);
            rate.sort_by(f64::total_cmp);
            (p50[p50.len() / 2], rate[rate.len() / 2])
        })
        .collect();
    println!(
        "{transport}: {rounds} interleaved rounds; per round {LATENCY_CALLS} sequential calls (latency) and \
         {THROUGHPUT_CALLS} calls over {CONCURRENCY} tasks (throughput); median (min–max) of rounds\n"
    );
    println!("| client | p50 latency | p99 latency | throughput |");
    println!("|---|---|---|---|");
    for (client, figure) in clients.iter().zip(&mut figures) {
        println!(
            "| {} | {} | {} | {} |",
            client.name(),
            summary(&mut figure.p50_us, "µs"),
            summary(&mut figure.p99_us, "µs"),
            summary(&mut figure.calls_per_sec, "calls/s"),
        );
    }
    println!();
    for (index, client) in clients.iter().enumerate().skip(2) {
        let added_p50 = medians[index].0 - medians[0].0;
        let ratio = medians[index].1 / medians[0].1;
        println!(
            "{} vs tonic: {added_p50:+.2} µs at p50 (target ≤ +1 µs), throughput {ratio:.3}× \
             (target ≥ 0.97×)",
            client.name()
        );
    }
}
