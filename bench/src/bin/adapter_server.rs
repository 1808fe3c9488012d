//! The server half of bench/adapter_overhead.sh: serves `inventory.v1.InventoryService` on
//! 127.0.0.1 either through the generated adapter (`InventoryServiceGrpc` around a domain
//! `impl InventoryService`) or as a hand-written implementation of tonic's own generated server
//! trait, with the same `CheckStock` handler, so that an external load generator (h2load) can
//! compare the two.
//!
//! ```text
//! adapter_server --impl generated|tonic --port N   serve until killed
//! adapter_server --write-request FILE              write a gRPC-framed CheckStockRequest
//! adapter_server --check --port N                  call CheckStock with tonic's client
//! ```
//!
//! The server runs a multi-thread tokio runtime with exactly one worker thread: the script pins
//! the process to one core, and more workers would only contend for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use example_services::inventory::v1::inventory_service_server::{
    InventoryService as TonicInventoryService, InventoryServiceServer,
};
use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryServiceGrpc, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockUpdate,
    WatchStockLevelsRequest,
};
use prost::Message;
use rust_svc_bench::tonic_client::inventory::v1::inventory_service_client::InventoryServiceClient as TonicClient;
use rust_svc_bench::{Stock, check_stock_reply};
use rust_svc_runtime::{BoxStream, Status};
use tonic::transport::Server;

/// The SKU of the benchmark request; the reply echoes it.
const SKU: &str = "SKU-10042";
/// How long `--check` keeps retrying while the server starts.
const CHECK_PATIENCE: Duration = Duration::from_secs(15);

/// The baseline: tonic's generated server trait implemented by hand, as a tonic user would.
struct HandWritten;

#[tonic::async_trait]
impl TonicInventoryService for HandWritten {
    async fn check_stock(
        &self,
        request: tonic::Request<CheckStockRequest>,
    ) -> Result<tonic::Response<CheckStockResponse>, Status> {
        Ok(tonic::Response::new(check_stock_reply(
            request.into_inner(),
        )))
    }

    async fn reserve_items(
        &self,
        _request: tonic::Request<ReserveItemsRequest>,
    ) -> Result<tonic::Response<ReserveItemsResponse>, Status> {
        Err(Status::unimplemented("ReserveItems is not implemented"))
    }

    async fn release_reservation(
        &self,
        _request: tonic::Request<ReleaseReservationRequest>,
    ) -> Result<tonic::Response<ReleaseReservationResponse>, Status> {
        Err(Status::unimplemented(
            "ReleaseReservation is not implemented",
        ))
    }

    type WatchStockLevelsStream = BoxStream<StockUpdate>;

    async fn watch_stock_levels(
        &self,
        _request: tonic::Request<WatchStockLevelsRequest>,
    ) -> Result<tonic::Response<Self::WatchStockLevelsStream>, Status> {
        Err(Status::unimplemented("WatchStockLevels is not implemented"))
    }
}

enum Mode {
    Serve { generated: bool, port: u16 },
    WriteRequest(String),
    Check { port: u16 },
}

fn parse_args() -> Result<Mode, String> {
    let mut implementation = None;
    let mut port = None;
    let mut write_request = None;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--impl" => implementation = Some(value("--impl")?),
            "--port" => {
                let text = value("--port")?;
                port = Some(text.parse().map_err(|_| format!("bad port `{text}`"))?);
            }
            "--write-request" => write_request = Some(value("--write-request")?),
            "--check" => check = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(path) = write_request {
        return Ok(Mode::WriteRequest(path));
    }
    let port = port.ok_or("--port is required")?;
    if check {
        return Ok(Mode::Check { port });
    }
    let generated = match implementation.as_deref() {
        Some("generated") => true,
        Some("tonic") => false,
        _ => return Err("--impl generated|tonic is required".to_owned()),
    };
    Ok(Mode::Serve { generated, port })
}

/// A gRPC length-prefixed message: no compression, big-endian length, then the message.
fn grpc_frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let length = u32::try_from(body.len()).expect("a small message");
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

fn write_request(path: &str) -> Result<(), String> {
    let request = CheckStockRequest {
        sku: SKU.to_owned(),
        ..Default::default()
    };
    std::fs::write(path, grpc_frame(&request)).map_err(|e| format!("writing {path}: {e}"))?;
    // The script checks h2load's received DATA bytes against this, so that a response without a
    // message (a gRPC error is trailers only) cannot pass as a success.
    let reply = check_stock_reply(request);
    println!("{}", grpc_frame(&reply).len());
    Ok(())
}

async fn serve(generated: bool, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // Identical server configuration (tonic's defaults) for both; only the service differs.
    let router = if generated {
        Server::builder().add_service(InventoryServiceGrpc::new(Stock).into_service())
    } else {
        Server::builder().add_service(InventoryServiceServer::new(HandWritten))
    };
    router
        .serve(addr)
        .await
        .map_err(|e| format!("serving on {addr}: {e}"))
}

/// One real gRPC call through tonic's client: proves that the server answers `CheckStock` with
/// grpc-status OK and the expected message, which h2load (HTTP status only) cannot see.
async fn check(port: u16) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let mut client = loop {
        match TonicClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(e) if started.elapsed() > CHECK_PATIENCE => {
                return Err(format!("connecting to {url}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let request = CheckStockRequest {
        sku: SKU.to_owned(),
        ..Default::default()
    };
    let reply = client
        .check_stock(request)
        .await
        .map_err(|status| format!("CheckStock failed: {status}"))?
        .into_inner();
    if reply.sku != SKU || reply.available != 7 {
        return Err(format!("unexpected reply {reply:?}"));
    }
    println!("ok: CheckStock on port {port} answered {reply:?}");
    Ok(())
}

fn main() -> ExitCode {
    let outcome = parse_args().and_then(|mode| {
        if let Mode::WriteRequest(path) = &mode {
            return write_request(path);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("building the tokio runtime: {e}"))?;
        runtime.block_on(async {
            match mode {
                Mode::Serve { generated, port } => serve(generated, port).await,
                Mode::Check { port } => check(port).await,
                Mode::WriteRequest(_) => unreachable!("handled above"),
            }
        })
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("adapter_server: {message}");
            ExitCode::FAILURE
        }
    }
}
