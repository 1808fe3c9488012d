//! `interop_server`: `grpc.testing.TestService` as the gRPC interop spec describes it
//! (<https://github.com/grpc/grpc/blob/master/doc/interop-test-descriptions.md>), served by the
//! generated adapter, with the flags of grpc-go's `interop/server`:
//!
//! ```text
//! interop_server --port=10000 --use_tls=false
//! ```
//!
//! `--port=0` takes any free port. Once it listens it prints `listening on 127.0.0.1:PORT`
//! (the port it got) on stdout, for a test to wait on. Plain TCP only: `--use_tls=true` is
//! refused.
//!
//! Where the generated code cannot do what the spec asks, the server does the nearest thing:
//!
//! - Responses are gzip-compressed for every client that accepts gzip (the adapter's
//!   `send_compressed`), whatever `response_compressed` or a response parameter's `compressed`
//!   says: a domain method has no say over the compression of one message.
//! - `expect_compressed: true` is checked against the call's `grpc-encoding` (the probe of
//!   `client_compressed_*`, sent without one, is answered `INVALID_ARGUMENT`); `false` is not
//!   checked, since a handler sees the call's encoding, not each message's flag.
//! - `fill_username` and `fill_oauth_scope` leave their fields empty: there is no
//!   authentication.
//! - ORCA: a unary request's `orca_per_query_report` comes back as the `endpoint-load-metrics-bin`
//!   trailer (`orca_per_rpc`); the out-of-band service (`xds.service.orca.v3.OpenRcaService`,
//!   `orca_oob`) is not served.
//! - `grpc.testing.UnimplementedService` is not served, so its calls are answered
//!   `UNIMPLEMENTED` as any unknown service is.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use rust_svc_interop::grpc::testing::{
    EchoStatus, Empty, PayloadType, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse, TestService, TestServiceGrpc,
};
use rust_svc_interop::{ECHO_INITIAL, ECHO_TRAILING, Flags, payload};
use rust_svc_runtime::server::StampDeadlines;
use rust_svc_runtime::{BoxStream, Code, CompressionEncoding, Context, Status};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::server::TcpIncoming;

/// The `server_id` a `fill_server_id` request gets (`pick_first_unary` checks that every call
/// reached the same server).
const SERVER_ID: &str = "rust-svc-interop-server";

/// The trailer of a per-call ORCA load report.
const ORCA_TRAILER: &str = "endpoint-load-metrics-bin";

/// `xds.data.orca.v3.OrcaLoadReport` (cncf/xds), the fields the interop report fills.
#[derive(Clone, PartialEq, prost::Message)]
struct OrcaLoadReport {
    #[prost(double, tag = "1")]
    cpu_utilization: f64,
    #[prost(double, tag = "2")]
    mem_utilization: f64,
    #[prost(map = "string, double", tag = "4")]
    request_cost: HashMap<String, f64>,
    #[prost(map = "string, double", tag = "5")]
    utilization: HashMap<String, f64>,
}

/// The interop test service.
struct Interop;

/// Echoes the spec's two metadata keys: the initial one as a response header, the binary one
/// as a trailer.
fn echo_metadata(ctx: &Context) {
    if let Some(value) = ctx.metadata().get(ECHO_INITIAL) {
        ctx.response().headers().insert(ECHO_INITIAL, value.clone());
    }
    if let Some(value) = ctx.metadata().get_bin(ECHO_TRAILING) {
        ctx.response()
            .trailers()
            .insert_bin(ECHO_TRAILING, value.clone());
    }
}

/// The status a request's `response_status` asks for, if it asks for a failure.
fn requested_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => {
            Err(Status::new(Code::from(status.code), status.message.clone()))
        }
        _ => Ok(()),
    }
}

/// Fails a request that expects to have been compressed when its call carries no compression.
fn check_compressed(ctx: &Context, expect_compressed: bool) -> Result<(), Status> {
    let compressed = ctx
        .metadata()
        .get("grpc-encoding")
        .is_some_and(|encoding| encoding != "identity");
    if expect_compressed && !compressed {
        return Err(Status::invalid_argument(
            "expected a compressed request, got an uncompressed one",
        ));
    }
    Ok(())
}

/// A response payload of the requested type and size.
fn response_payload(
    response_type: i32,
    size: i32,
) -> Result<rust_svc_interop::grpc::testing::Payload, Status> {
    if response_type != PayloadType::Compressable as i32 {
        return Err(Status::invalid_argument(format!(
            "unsupported payload type {response_type}"
        )));
    }
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("negative response size {size}")))?;
    Ok(payload(size))
}

/// Sends the responses `parameters` describe, each after its interval; false once the caller
/// is gone.
async fn send_responses(
    tx: &mpsc::Sender<Result<StreamingOutputCallResponse, Status>>,
    ctx: &Context,
    response_type: i32,
    parameters: &[ResponseParameters],
) -> bool {
    for parameters in parameters {
        if parameters.interval_us > 0 {
            tokio::time::sleep(Duration::from_micros(parameters.interval_us as u64)).await;
        }
        let response = response_payload(response_type, parameters.size).map(|payload| {
            let fill_peer = parameters.fill_peer_socket_address.is_some_and(|b| b.value);
            StreamingOutputCallResponse {
                payload: Some(payload),
                peer_socket_address: match (fill_peer, ctx.peer_addr()) {
                    (true, Some(peer)) => peer.to_string(),
                    _ => String::new(),
                },
            }
        });
        let failed = response.is_err();
        if tx.send(response).await.is_err() || failed {
            return false;
        }
    }
    true
}

/// Runs `work` in a task that sends into the returned stream, which ends when the task does.
fn stream_from<F, Fut>(work: F) -> BoxStream<StreamingOutputCallResponse>
where
    F: FnOnce(mpsc::Sender<Result<StreamingOutputCallResponse, Status>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(work(tx));
    Box::pin(ReceiverStream::new(rx))
}

impl Interop {
    fn simple(&self, ctx: &Context, request: SimpleRequest) -> Result<SimpleResponse, Status> {
        echo_metadata(ctx);
        check_compressed(ctx, request.expect_compressed.is_some_and(|b| b.value))?;
        requested_status(request.response_status.as_ref())?;
        if let Some(report) = request.orca_per_query_report {
            let report = OrcaLoadReport {
                cpu_utilization: report.cpu_utilization,
                mem_utilization: report.memory_utilization,
                request_cost: report.request_cost,
                utilization: report.utilization,
            };
            let value = MetadataValue::from_bytes(&prost::Message::encode_to_vec(&report));
            ctx.response().trailers().insert_bin(ORCA_TRAILER, value);
        }
        Ok(SimpleResponse {
            payload: Some(response_payload(
                request.response_type,
                request.response_size,
            )?),
            server_id: if request.fill_server_id {
                SERVER_ID.to_owned()
            } else {
                String::new()
            },
            ..Default::default()
        })
    }
}

impl TestService for Interop {
    async fn empty_call(&self, _ctx: &Context, _request: Empty) -> Result<Empty, Status> {
        Ok(Empty {})
    }

    async fn unary_call(
        &self,
        ctx: &Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.simple(ctx, request)
    }

    async fn cacheable_unary_call(
        &self,
        ctx: &Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.simple(ctx, request)
    }

    async fn streaming_output_call(
        &self,
        ctx: &Context,
        request: StreamingOutputCallRequest,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(ctx);
        requested_status(request.response_status.as_ref())?;
        let ctx = ctx.clone();
        Ok(stream_from(move |tx| async move {
            let parameters = &request.response_parameters;
            send_responses(&tx, &ctx, request.response_type, parameters).await;
        }))
    }

    async fn streaming_input_call(
        &self,
        ctx: &Context,
        mut requests: BoxStream<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        echo_metadata(ctx);
        let mut sum = 0;
        while let Some(request) = requests.next().await {
            let request = request?;
            check_compressed(ctx, request.expect_compressed.is_some_and(|b| b.value))?;
            sum += request.payload.map_or(0, |payload| payload.body.len());
        }
        let aggregated_payload_size = i32::try_from(sum)
            .map_err(|_| Status::invalid_argument("payloads larger than 2 GiB in all"))?;
        Ok(StreamingInputCallResponse {
            aggregated_payload_size,
        })
    }

    async fn full_duplex_call(
        &self,
        ctx: &Context,
        mut requests: BoxStream<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(ctx);
        let ctx = ctx.clone();
        Ok(stream_from(move |tx| async move {
            // Ends when the caller half-closes (the call ends OK) or is gone.
            while let Some(Ok(request)) = requests.next().await {
                if let Err(status) = requested_status(request.response_status.as_ref()) {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                let parameters = &request.response_parameters;
                if !send_responses(&tx, &ctx, request.response_type, parameters).await {
                    return;
                }
            }
        }))
    }

    async fn half_duplex_call(
        &self,
        ctx: &Context,
        requests: BoxStream<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        echo_metadata(ctx);
        let ctx = ctx.clone();
        Ok(stream_from(move |tx| async move {
            let requests: Result<Vec<_>, Status> = requests.collect().await;
            let requests = match requests {
                Ok(requests) => requests,
                Err(_) => return,
            };
            for request in requests {
                if let Err(status) = requested_status(request.response_status.as_ref()) {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                let parameters = &request.response_parameters;
                if !send_responses(&tx, &ctx, request.response_type, parameters).await {
                    return;
                }
            }
        }))
    }

    async fn unimplemented_call(&self, _ctx: &Context, _request: Empty) -> Result<Empty, Status> {
        Err(Status::unimplemented(
            "grpc.testing.TestService/UnimplementedCall is not implemented, as the spec asks",
        ))
    }
}

async fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|error| format!("listening on port {port}: {error}"))?;
    println!("listening on 127.0.0.1:{}", listener.local_addr()?.port());
    let service = TestServiceGrpc::new(Interop).send_compressed(CompressionEncoding::Gzip);
    tonic::transport::Server::builder()
        .layer(StampDeadlines)
        .add_service(service.into_service())
        // No Nagle: with it, each small response waited for the peer's delayed ACK (100
        // sequential calls of pick_first_unary took 3 s instead of 0.1).
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1), &["port", "use_tls"], &["use_tls"]) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("interop_server: {error}");
            return ExitCode::from(2);
        }
    };
    let port = match (flags.number("port", 10000u16), flags.boolean("use_tls")) {
        (Ok(port), Ok(false)) => port,
        (Ok(_), Ok(true)) => {
            eprintln!("interop_server: --use_tls=true is not supported: plain TCP only");
            return ExitCode::from(2);
        }
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("interop_server: {error}");
            return ExitCode::from(2);
        }
    };
    match serve(port).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("interop_server: {error}");
            ExitCode::FAILURE
        }
    }
}
