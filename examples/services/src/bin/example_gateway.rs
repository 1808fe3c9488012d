//! Serves the example system (inventory, orders, dispatch) over gRPC and REST/JSON on one port,
//! with demo stock and couriers, until Ctrl-C (or SIGTERM).
//!
//! ```text
//! cargo run -p example-services --bin example_gateway -- --listen 127.0.0.1:8080
//! curl http://127.0.0.1:8080/v1/items/SKU-10042/stock
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use example_services::system::ExampleSystem;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How long open calls (watch streams, typically) may take to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: example_gateway [--listen ADDR]
    serves the example inventory, orders and dispatch services over gRPC and REST/JSON on ADDR
    (default 127.0.0.1:8080; port 0 picks a free one); stops on Ctrl-C";

fn listen_addr() -> Result<Option<SocketAddr>, String> {
    let mut listen = DEFAULT_LISTEN.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--listen" => {
                listen = args
                    .next()
                    .ok_or_else(|| "--listen needs an address".to_owned())?;
            }
            other => match other.strip_prefix("--listen=") {
                Some(addr) => listen = addr.to_owned(),
                None => return Err(format!("unknown argument `{other}`")),
            },
        }
    }
    listen
        .parse()
        .map(Some)
        .map_err(|error| format!("--listen {listen}: {error}"))
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what `kill` and container runtimes
/// send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match listen_addr() {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("example_gateway: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (listener, local) = match ExampleSystem::bind(addr).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("example_gateway: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let system = ExampleSystem::demo().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(async move {
        system
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    // Scripts wait for this line to know the server is up.
    println!("example_gateway listening on http://{local}");

    let finished = tokio::select! {
        finished = &mut server => Some(finished),
        () = shutdown_signal() => None,
    };
    let finished = match finished {
        Some(finished) => finished,
        None => {
            eprintln!("example_gateway: shutting down");
            let _ = stop.send(());
            match tokio::time::timeout(GRACE, &mut server).await {
                Ok(finished) => finished,
                Err(_) => {
                    eprintln!("example_gateway: calls still open after {GRACE:?}; stopping anyway");
                    return ExitCode::SUCCESS;
                }
            }
        }
    };
    match finished {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("example_gateway: {error}");
            ExitCode::FAILURE
        }
        Err(panicked) => {
            eprintln!("example_gateway: the server task failed: {panicked}");
            ExitCode::FAILURE
        }
    }
}
