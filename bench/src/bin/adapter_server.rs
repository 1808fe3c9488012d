//! The server half of bench/adapter_overhead.sh: serves `inventory.v1.InventoryService` on
//! 127.0.0.1, with the same `CheckStock` handler, so that an external load generator (h2load) can
//! compare the ways of serving it (`--impl`):
//!
//! - `generated`: the generated adapter (`InventoryServiceGrpc` around a domain
//!   `impl InventoryService`);
//! - `tonic`: a hand-written implementation of tonic's own generated server trait;
//! - `stack`: the generated adapter around the domain wrapped in the runtime's full interceptor
//!   stack (auth, request ids, tracing, metrics, logging; see `rust_svc_bench::stacks`);
//! - `tower`: the generated adapter around the bare domain, with the tower-http layers that do
//!   the same work on tonic's server;
//! - `stack-spans`, `tower-spans`: the same two with every call's `INFO` span live (a registry
//!   with an `INFO` filter) rather than disabled by a `WARN` filter.
//!
//! The last four install a Prometheus recorder that is never rendered while serving; with
//! `--metrics-out FILE`, SIGTERM renders it to FILE before the server exits. `--without PART`
//! (repeatable; `auth`, `request-ids`, `tracing`, `metrics`, `logging`) leaves an interceptor
//! out of a `stack`, to see what it costs over the network.
//!
//! ```text
//! adapter_server --impl NAME --port N [--metrics-out FILE] [--without PART]…
//!                                           serve until killed
//! adapter_server --write-request FILE       write a gRPC-framed CheckStockRequest
//! adapter_server --check --port N [--expect-auth]
//!                                           call CheckStock with tonic's client (with the
//!                                           bearer token; --expect-auth: first without it,
//!                                           which must fail UNAUTHENTICATED)
//! ```
//!
//! The server runs a multi-thread tokio runtime with exactly one worker thread: the script pins
//! the process to one core, and more workers would only contend for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryServiceGrpc, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockUpdate,
    WatchStockLevelsRequest,
};
use prost::Message;
use rust_svc_bench::plain_tonic::inventory::v1::inventory_service_client::InventoryServiceClient as TonicClient;
use rust_svc_bench::plain_tonic::inventory::v1::inventory_service_server::{
    InventoryService as TonicInventoryService, InventoryServiceServer,
};
use rust_svc_bench::stacks::{
    Part, Spans, TOKEN, install_recorder, install_subscriber, interceptor_stack_of,
};
use rust_svc_bench::tower_layers;
use rust_svc_bench::{Stock, check_stock_reply};
use rust_svc_runtime::{BoxStream, Code, Status};
use tokio::signal::unix::SignalKind;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Generated,
    Tonic,
    Stack(Spans),
    Tower(Spans),
}

impl Impl {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "generated" => Impl::Generated,
            "tonic" => Impl::Tonic,
            "stack" => Impl::Stack(Spans::Off),
            "tower" => Impl::Tower(Spans::Off),
            "stack-spans" => Impl::Stack(Spans::Live),
            "tower-spans" => Impl::Tower(Spans::Live),
            _ => return None,
        })
    }
}

const IMPLS: &str = "generated|tonic|stack|tower|stack-spans|tower-spans";

enum Mode {
    Serve {
        implementation: Impl,
        port: u16,
        metrics_out: Option<String>,
        without: Vec<Part>,
    },
    WriteRequest(String),
    Check {
        port: u16,
        expect_auth: bool,
    },
}

fn parse_args() -> Result<Mode, String> {
    let mut implementation = None;
    let mut port = None;
    let mut write_request = None;
    let mut check = false;
    let mut expect_auth = false;
    let mut metrics_out = None;
    let mut without = Vec::new();
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
            "--expect-auth" => expect_auth = true,
            "--metrics-out" => metrics_out = Some(value("--metrics-out")?),
            "--without" => {
                let name = value("--without")?;
                without.push(Part::parse(&name).ok_or(format!("no interceptor `{name}`"))?);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if let Some(path) = write_request {
        return Ok(Mode::WriteRequest(path));
    }
    let port = port.ok_or("--port is required")?;
    if check {
        return Ok(Mode::Check { port, expect_auth });
    }
    let implementation = implementation
        .as_deref()
        .and_then(Impl::parse)
        .ok_or(format!("--impl {IMPLS} is required"))?;
    if metrics_out.is_some() && matches!(implementation, Impl::Generated | Impl::Tonic) {
        return Err("--metrics-out needs an implementation with metrics".to_owned());
    }
    if !without.is_empty() && !matches!(implementation, Impl::Stack(_)) {
        return Err("--without needs a stack".to_owned());
    }
    Ok(Mode::Serve {
        implementation,
        port,
        metrics_out,
        without,
    })
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

async fn serve(
    implementation: Impl,
    port: u16,
    metrics_out: Option<String>,
    without: Vec<Part>,
) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if let Impl::Stack(spans) | Impl::Tower(spans) = implementation {
        // The same subscriber and recorder for both stacks; the bare servers install neither,
        // as in the issue 6 comparison.
        install_subscriber(spans);
        let metrics = install_recorder();
        if let Some(path) = metrics_out {
            let mut terminate = tokio::signal::unix::signal(SignalKind::terminate())
                .map_err(|e| format!("handling SIGTERM: {e}"))?;
            tokio::spawn(async move {
                terminate.recv().await;
                let status = match std::fs::write(&path, metrics.render()) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("adapter_server: writing {path}: {e}");
                        1
                    }
                };
                std::process::exit(status);
            });
        }
    }
    let serve_error = |e| format!("serving on {addr}: {e}");
    // Identical server configuration (tonic's defaults) for all; only the service and the
    // layers differ.
    match implementation {
        Impl::Generated => Server::builder()
            .add_service(InventoryServiceGrpc::new(Stock).into_service())
            .serve(addr)
            .await
            .map_err(serve_error),
        Impl::Tonic => Server::builder()
            .add_service(InventoryServiceServer::new(HandWritten))
            .serve(addr)
            .await
            .map_err(serve_error),
        Impl::Stack(_) => {
            let parts: Vec<Part> = Part::ALL
                .into_iter()
                .filter(|part| !without.contains(part))
                .collect();
            let stack = interceptor_stack_of(&parts, Stock);
            Server::builder()
                .add_service(InventoryServiceGrpc::new(stack).into_service())
                .serve(addr)
                .await
                .map_err(serve_error)
        }
        Impl::Tower(_) => Server::builder()
            .layer(tower_layers!().into_inner())
            .add_service(InventoryServiceGrpc::new(Stock).into_service())
            .serve(addr)
            .await
            .map_err(serve_error),
    }
}

/// One real gRPC call through tonic's client: proves that the server answers `CheckStock` with
/// grpc-status OK and the expected message, which h2load (HTTP status only) cannot see.
async fn check(port: u16, expect_auth: bool) -> Result<(), String> {
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
    if expect_auth {
        match client.check_stock(request.clone()).await {
            Err(status) if status.code() == Code::Unauthenticated => {}
            outcome => return Err(format!("a call without a token got {outcome:?}")),
        }
    }
    let mut request = tonic::Request::new(request);
    let bearer = format!("Bearer {TOKEN}").parse().expect("valid metadata");
    request.metadata_mut().insert("authorization", bearer);
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
                Mode::Serve {
                    implementation,
                    port,
                    metrics_out,
                    without,
                } => serve(implementation, port, metrics_out, without).await,
                Mode::Check { port, expect_auth } => check(port, expect_auth).await,
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
