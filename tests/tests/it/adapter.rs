//! The generated tonic adapter over real HTTP/2 on loopback: every rpc kind round-trips into a
//! domain implementation and back, statuses reach the client, and deadlines are enforced by the
//! adapter (never surfacing as CANCELLED).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use rust_svc_runtime::server::StampDeadlines;
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use rust_svc_tests::tests::streaming::streaming_client::StreamingClient;
use rust_svc_tests::tests::streaming::{Ping, Pong, Streaming, StreamingGrpc};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};

/// The seq that makes `unary` fail with FAILED_PRECONDITION.
const FAILING_SEQ: u64 = 42;
/// The seq that makes `unary` wait forever.
const HANGING_SEQ: u64 = 7;

/// What the domain saw, for assertions.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    dropped_unfinished: AtomicUsize,
    request_ids: std::sync::Mutex<Vec<String>>,
    had_deadline: std::sync::Mutex<Vec<bool>>,
    had_peer: std::sync::Mutex<Vec<bool>>,
}

/// Counts a domain future dropped before it finished.
struct DropGuard<'a>(&'a Seen, bool);

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped_unfinished.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Clone, Default)]
struct Echo {
    seen: Arc<Seen>,
}

impl Streaming for Echo {
    async fn unary(&self, ctx: &Context, request: Ping) -> Result<Pong, Status> {
        let seen = &self.seen;
        seen.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(id) = ctx.metadata().get("x-request-id") {
            seen.request_ids
                .lock()
                .unwrap()
                .push(id.to_str().unwrap().to_owned());
        }
        seen.had_deadline
            .lock()
            .unwrap()
            .push(ctx.deadline().is_some());
        seen.had_peer
            .lock()
            .unwrap()
            .push(ctx.peer_addr().is_some());
        let mut guard = DropGuard(seen, false);
        match request.seq {
            FAILING_SEQ => return Err(Status::failed_precondition("sku 42 is out of stock")),
            HANGING_SEQ => std::future::pending::<()>().await,
            _ => {}
        }
        guard.1 = true;
        Ok(Pong {
            seq: request.seq + 1,
        })
    }

    async fn server_stream(
        &self,
        _ctx: &Context,
        request: Ping,
    ) -> Result<BoxStream<Pong>, Status> {
        let items = (0..request.seq).map(|seq| Ok(Pong { seq }));
        Ok(Box::pin(stream::iter(items)))
    }

    async fn client_stream(
        &self,
        _ctx: &Context,
        mut requests: BoxStream<Ping>,
    ) -> Result<Pong, Status> {
        let mut total = 0;
        while let Some(ping) = requests.next().await {
            total += ping?.seq;
        }
        Ok(Pong { seq: total })
    }

    async fn bidi(
        &self,
        _ctx: &Context,
        requests: BoxStream<Ping>,
    ) -> Result<BoxStream<Pong>, Status> {
        Ok(Box::pin(
            requests.map(|ping| ping.map(|ping| Pong { seq: ping.seq * 2 })),
        ))
    }
}

/// Serves `service` on an ephemeral loopback port until the test ends.
async fn serve<S>(service: S) -> SocketAddr
where
    S: tonic::codegen::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // tonic's `Server` routes through axum, which calls the service only when its future is
    // first polled, after tonic has armed its own `grpc-timeout` timer: without the layer the
    // adapter's deadline falls a tick later under load, and tonic answers CANCELLED first.
    tokio::spawn(
        Server::builder()
            .layer(StampDeadlines)
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

async fn client(addr: SocketAddr) -> StreamingClient<Channel> {
    StreamingClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// A client over a plain hyper HTTP/2 connection. tonic's `Channel` enforces `grpc-timeout`
/// locally and gives up first with its own CANCELLED; deadline tests need to see what the
/// server answers, as a client in another language would.
type RawClient = StreamingClient<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic::body::Body,
    >,
>;

fn raw_client(addr: SocketAddr) -> RawClient {
    let http2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    StreamingClient::with_origin(http2, format!("http://{addr}").parse().unwrap())
}

async fn echo_server_raw() -> (Arc<Seen>, RawClient) {
    let echo = Echo::default();
    let seen = echo.seen.clone();
    let addr = serve(StreamingGrpc::new(echo).into_service()).await;
    (seen, raw_client(addr))
}

async fn echo_server() -> (Arc<Seen>, StreamingClient<Channel>) {
    let echo = Echo::default();
    let seen = echo.seen.clone();
    let addr = serve(StreamingGrpc::new(echo).into_service()).await;
    (seen, client(addr).await)
}

#[tokio::test]
async fn unary_round_trips_with_metadata_and_peer_in_the_context() {
    let (seen, mut client) = echo_server().await;
    let mut request = tonic::Request::new(Ping { seq: 1 });
    request
        .metadata_mut()
        .insert("x-request-id", "req-1".parse().unwrap());
    request.set_timeout(Duration::from_secs(30));
    let reply = client.unary(request).await.unwrap().into_inner();
    assert_eq!(reply, Pong { seq: 2 });
    assert_eq!(*seen.request_ids.lock().unwrap(), ["req-1"]);
    assert_eq!(*seen.had_deadline.lock().unwrap(), [true]);
    assert_eq!(*seen.had_peer.lock().unwrap(), [true]);
}

#[tokio::test]
async fn server_streaming_round_trips() {
    let (_, mut client) = echo_server().await;
    let stream = client
        .server_stream(Ping { seq: 3 })
        .await
        .unwrap()
        .into_inner();
    let seqs: Vec<u64> = stream.map(|pong| pong.unwrap().seq).collect().await;
    assert_eq!(seqs, [0, 1, 2]);
}

#[tokio::test]
async fn client_streaming_round_trips() {
    let (_, mut client) = echo_server().await;
    let pings = stream::iter([1, 2, 3, 4].map(|seq| Ping { seq }));
    let reply = client.client_stream(pings).await.unwrap().into_inner();
    assert_eq!(reply.seq, 10);
}

#[tokio::test]
async fn bidi_streaming_round_trips() {
    let (_, mut client) = echo_server().await;
    let pings = stream::iter([5, 6].map(|seq| Ping { seq }));
    let stream = client.bidi(pings).await.unwrap().into_inner();
    let seqs: Vec<u64> = stream.map(|pong| pong.unwrap().seq).collect().await;
    assert_eq!(seqs, [10, 12]);
}

#[tokio::test]
async fn a_domain_error_reaches_the_client_with_its_code_and_message() {
    let (_, mut client) = echo_server().await;
    let status = client.unary(Ping { seq: FAILING_SEQ }).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "sku 42 is out of stock");
}

#[tokio::test]
async fn an_already_expired_deadline_never_reaches_the_domain() {
    let (seen, mut client) = echo_server_raw().await;
    let mut request = tonic::Request::new(Ping { seq: 1 });
    request.set_timeout(Duration::from_nanos(1));
    let status = client.unary(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_slow_handler_is_cut_at_the_deadline_with_deadline_exceeded() {
    let (seen, mut client) = echo_server_raw().await;
    let mut request = tonic::Request::new(Ping { seq: HANGING_SEQ });
    request.set_timeout(Duration::from_millis(200));
    let status = client.unary(request).await.unwrap_err();
    // tonic's own server timer would say CANCELLED; the adapter's fires first.
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.dropped_unfinished.load(Ordering::SeqCst),
        1,
        "the domain future is dropped at the deadline"
    );
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_rejected_before_the_domain() {
    let (seen, mut client) = echo_server_raw().await;
    let mut request = tonic::Request::new(Ping { seq: 1 });
    request
        .metadata_mut()
        .insert("grpc-timeout", "soon".parse().unwrap());
    let status = client.unary(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("malformed grpc-timeout header \"soon\""),
        "{status:?}"
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_stub_answers_unimplemented_for_every_kind() {
    use rust_svc_tests::tests::streaming::UnimplementedStreaming;
    let addr = serve(StreamingGrpc::new(UnimplementedStreaming).into_service()).await;
    let mut client = client(addr).await;
    let unary = client.unary(Ping { seq: 1 }).await.unwrap_err();
    assert_eq!(unary.code(), Code::Unimplemented);
    assert_eq!(
        unary.message(),
        "tests.streaming.Streaming/Unary is not implemented"
    );
    let server = client.server_stream(Ping { seq: 1 }).await.unwrap_err();
    assert_eq!(server.code(), Code::Unimplemented);
    let upload = client
        .client_stream(stream::iter([Ping { seq: 1 }]))
        .await
        .unwrap_err();
    assert_eq!(upload.code(), Code::Unimplemented);
    let bidi = client
        .bidi(stream::iter([Ping { seq: 1 }]))
        .await
        .unwrap_err();
    assert_eq!(bidi.code(), Code::Unimplemented);
}

#[tokio::test]
async fn a_service_behind_arc_dyn_serves_the_same() {
    use rust_svc_tests::tests::streaming::DynStreaming;
    let shared: Arc<dyn DynStreaming> = Arc::new(Echo::default());
    let addr = serve(StreamingGrpc::new(shared).into_service()).await;
    let reply = client(addr).await.unary(Ping { seq: 9 }).await.unwrap();
    assert_eq!(reply.into_inner().seq, 10);
}

#[tokio::test]
async fn the_domain_trait_is_callable_in_process_without_a_transport() {
    let echo = Echo::default();
    let reply = echo.unary(&Context::new(), Ping { seq: 3 }).await.unwrap();
    assert_eq!(reply.seq, 4);
}
