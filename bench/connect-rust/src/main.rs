//! The Rust server of bench/connect.sh: `inventory.v1.InventoryService` with the bench's `Stock`
//! domain (`rust_svc_bench::check_stock_reply` answers `CheckStock` at once, echoing the SKU),
//! through the generated adapter and gateway on a `rust_svc_runtime::host::Host`, as
//! `examples/logistics` serves its ports: gRPC, gRPC-Web and Connect on the rpc paths, over
//! HTTP/1.1 and HTTP/2 (h2c), with health and reflection beside them.
//!
//! With `--bare`, the same adapter alone on tonic's server with HTTP/1.1 accepted (no host:
//! no gRPC-Web, CORS, health, reflection, connection limits or drain), to tell what the host
//! adds.
//!
//! ```text
//! rust-svc-bench-connect --port N [--bare]     serve on 127.0.0.1:N until killed
//! ```
//!
//! The server runs a multi-thread tokio runtime with exactly one worker thread: the script pins
//! the process to one core, and more workers would only contend for it (as adapter_server).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use example_services::inventory::v1::{
    INVENTORY_SERVICE, InventoryServiceGateway, InventoryServiceGrpc,
};
use rust_svc_bench::Stock;
use rust_svc_runtime::host::{self, Host};
use tonic::service::Routes;

/// The port, and whether to serve `--bare`.
fn args() -> Result<(u16, bool), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, bare) = match args.as_slice() {
        [flag, port] if flag == "--port" => (port, false),
        [flag, port, bare] if flag == "--port" && bare == "--bare" => (port, true),
        _ => return Err("usage: rust-svc-bench-connect --port N [--bare]".to_owned()),
    };
    let port = port.parse().map_err(|_| format!("bad port `{port}`"))?;
    Ok((port, bare))
}

async fn serve_bare(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    tonic::transport::Server::builder()
        .accept_http1(true)
        .add_service(InventoryServiceGrpc::new(Stock).into_service())
        .serve(addr)
        .await
        .map_err(|e| format!("serving on {addr}: {e}"))
}

async fn serve(port: u16) -> Result<(), String> {
    let listener = host::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| e.to_string())?;
    let serving = Host::new("inventory")
        .service(
            INVENTORY_SERVICE.name,
            Routes::new(InventoryServiceGrpc::new(Stock).into_service()),
            Some(InventoryServiceGateway::routes(Stock)),
        )
        .start(listener, std::future::pending())
        .await
        .map_err(|e| e.to_string())?;
    match serving.task.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("serving: {e}")),
        Err(e) => Err(format!("the server task failed: {e}")),
    }
}

fn main() -> ExitCode {
    let outcome = args().and_then(|(port, bare)| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("building the tokio runtime: {e}"))?
            .block_on(async move {
                if bare {
                    serve_bare(port).await
                } else {
                    serve(port).await
                }
            })
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rust-svc-bench-connect: {message}");
            ExitCode::FAILURE
        }
    }
}
