//! `{{ project.name }}`: serves {% for service in project.services %}`{{ service.full_name }}`{% if loop.last %}{% else %}, {% endif %}{% endfor %} on one port until SIGINT or SIGTERM.
//!
//! Prints `listening on http://ADDR` (`https` with TLS) once it serves (for scripts to wait on); logs go to
//! stderr. A port already in use, a bad certificate or a bad flag ends it with status 1 and a
//! message saying what is wrong.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use rust_svc_runtime::host::{self, DrainPolicy, Signals, Stop};
use tracing_subscriber::EnvFilter;

use {{ project.lib }}::config::{Config, LogFormat};
use {{ project.lib }}::server;

// See the `jemalloc` feature in Cargo.toml.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let config = Config::parse();
    init_logs(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{{ project.name }}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(serve(config));
    // Whatever the drain left running (calls cut at the bound) is dropped, not waited for.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("{{ project.name }}: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (`info` by default).
fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Json => logs.json().init(),
        // Colours for a terminal only, not escape codes in files.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn serve(config: Config) -> Result<(), String> {
    // Bound first, so that a port in use is reported before anything else starts.
    let listener = host::bind(config.listen)
        .await
        .map_err(|error| error.to_string())?;
    let signals =
        Signals::listen().map_err(|error| format!("cannot listen for signals: {error}"))?;
    // Before the clients are made: their breakers' gauges are registered as they are.
    let metrics = host::install_metrics()?;
    let stop = Stop::new();
    #[cfg(feature = "tls")]
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    #[cfg(not(feature = "tls"))]
    let scheme = "http";
    let serving = server::host(&config)?
        .metrics(metrics)
        .start(listener, stop.wait())
        .await
        .map_err(|error| error.to_string())?;
    // Flushed at once: stdout is block-buffered when it is a pipe.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on {scheme}://{}", serving.addr);
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(addr = %serving.addr, "serving");
    let policy = DrainPolicy::new(config.shutdown_delay, config.drain_timeout);
    host::shutdown::run(vec![serving], stop, signals, policy).await
}
