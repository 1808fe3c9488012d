//! [`GrpcServer`]: the tonic service every generated adapter is served as. Besides routing (see
//! [`dispatch`](super::dispatch)) it does what needs the HTTP request and response rather than
//! the decoded messages:
//!
//! - parses `grpc-timeout` when the request arrives, rejects a malformed one, and races the whole
//!   call against the deadline (see the [module docs](super));
//! - hands the call a [`ResponseMetadata`] cell, whose headers and trailers the call's answer
//!   ([`CallFuture`], in `answer.rs`) sends with the response and with the final status,
//!   whenever the handler set the trailers (a streaming handler may set them late);
//! - reports an over-limit message as `RESOURCE_EXHAUSTED`, as gRPC's status-code document
//!   requires, where tonic says `OUT_OF_RANGE` (also in the answer).

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use http_body::Body as HttpBody;
use tonic::server::NamedService;

use super::answer::CallFuture;
#[cfg(feature = "connect")]
use super::connect;
use super::dispatch::{GrpcCall, GrpcDispatch, GrpcFuture, unknown_method};
use super::messages::WireConfig;
use crate::call::ArrivalDeadline;
use crate::call::admission::{Admission, Admit, Permit, close_after_refusal};
use crate::call::codec::Format;
use crate::context::ResponseMetadata;
use crate::deadline::deadline_from_headers;
use crate::rpc::LoadShedding;
use crate::{BoxFuture, Status};

/// The response metadata cell of a request, shared with the handler's [`Context`](crate::Context).
#[derive(Debug, Clone)]
pub(super) struct ResponseCell(pub(super) ResponseMetadata);

/// Serves a generated adapter ([`GrpcDispatch`]) as a tonic service: parses `grpc-timeout` when
/// the request arrives and rejects a malformed one with `INVALID_ARGUMENT` before any work is
/// done, routes the call to its rpc by path (`UNIMPLEMENTED` for a path the service does not
/// have), sends the trailers handlers set, and reports over-limit messages as
/// `RESOURCE_EXHAUSTED`.
///
/// A call that arrives without a deadline (curl, most REST clients, a gRPC client that sets
/// none) gets its rpc's default deadline from the proto (`rust_svc.v1` `deadline` or the
/// service's `default_deadline`) on the server side too, as go-zero's servers apply their
/// default timeout, so that no call the proto bounds runs unbounded;
/// [`default_deadlines(false)`](Self::default_deadlines) serves such calls without one.
///
/// Every call is admitted by the service's [`Admission`] first, before its body is read: the
/// adaptive limit on calls at once (see [`load_shedding`](Self::load_shedding)), which a server
/// made with [`for_domain`](Self::for_domain), as generated adapters make theirs, shares with
/// the gateway of the same domain.
#[derive(Debug, Clone)]
pub struct GrpcServer<S> {
    // Shared: routers clone the service they route to for every request (axum's `Route` does,
    // and a host nests two routers), and an adapter's own clone allocates (its settings).
    inner: std::sync::Arc<S>,
    wire: WireConfig,
    default_deadlines: bool,
    admission: Admission,
}

impl<S: GrpcDispatch> GrpcServer<S> {
    /// Serves a generated adapter, with the size limits and compression it was built with.
    pub fn new(inner: S) -> Self {
        let wire = WireConfig::new(inner.wire());
        let admission = Admission::new(S::SERVICE.name, S::SERVICE.load_shedding);
        Self {
            inner: std::sync::Arc::new(inner),
            wire,
            default_deadlines: true,
            admission,
        }
    }

    /// Serves a generated adapter of `domain`, admitting calls through the admission every
    /// server of that domain shares (the gateway's included).
    pub fn for_domain<T: Send + Sync + 'static>(inner: S, domain: &std::sync::Arc<T>) -> Self {
        Self {
            admission: Admission::for_domain(S::SERVICE, domain),
            ..Self::new(inner)
        }
    }

    /// How the service sheds load: options.proto's `load_shedding` by default (on unless the
    /// proto turns it off); [`LoadShedding::OFF`] admits every call. The setting is the
    /// admission's, so the gateway of the same domain follows it too.
    #[must_use]
    pub fn load_shedding(self, policy: LoadShedding) -> Self {
        self.admission.set_policy(policy);
        self
    }

    /// The service's admission: its current limit and calls in flight.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Whether a call that arrives without a deadline gets its rpc's default deadline from
    /// the proto (on by default; see above).
    #[must_use]
    pub fn default_deadlines(mut self, on: bool) -> Self {
        self.default_deadlines = on;
        self
    }

    /// The adapter served.
    pub fn into_inner(self) -> S {
        std::sync::Arc::unwrap_or_clone(self.inner)
    }
}

impl<S: GrpcDispatch> NamedService for GrpcServer<S> {
    const NAME: &'static str = S::SERVICE.name;
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for GrpcServer<S>
where
    S: GrpcDispatch,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future =
        Either<GrpcResponseFuture, BoxFuture<'static, Result<Self::Response, Infallible>>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        #[cfg(feature = "connect")]
        if connect::is_connect(request.headers(), request.method()) {
            return self.connect(request);
        }
        match grpc_format(&request) {
            Ok(Format::Proto) => Either::Left(self.serve(request, ResponseMetadata::for_wire())),
            Ok(_) => {
                // gRPC with the JSON codec: answered as `application/grpc+json`.
                request.extensions_mut().insert(Format::Json);
                let answer = self.serve(request, ResponseMetadata::for_wire());
                Either::Right(Box::pin(async move {
                    let mut response = answer.await?;
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/grpc+json"),
                    );
                    Ok(response)
                }))
            }
            Err(status) => {
                let mut response = http::Response::new(tonic::body::Body::empty());
                *response.status_mut() = status;
                Either::Left(Either::Left(ready(Ok(response))))
            }
        }
    }
}

impl<S: GrpcDispatch> GrpcServer<S> {
    /// A Connect call: translated to the gRPC call the adapter serves, and its answer back.
    #[cfg(feature = "connect")]
    fn connect<B>(
        &mut self,
        request: http::Request<B>,
    ) -> Either<
        GrpcResponseFuture,
        BoxFuture<'static, Result<http::Response<tonic::body::Body>, Infallible>>,
    >
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let path = request.uri().path();
        let Some(rpc) = S::SERVICE.methods.iter().find(|method| method.path == path) else {
            let reply = connect::Reply::new(false, Format::Json);
            return Either::Right(Box::pin(ready(Ok(reply.error(&unknown_method(path))))));
        };
        match connect::translate(request, rpc, self.wire.max_decoding_message_size) {
            Err(response) => Either::Right(Box::pin(ready(Ok(*response)))),
            Ok((request, reply)) => {
                let cell = ResponseMetadata::for_wire();
                let grpc = self.serve(request, cell.clone());
                Either::Right(Box::pin(connect::reply(grpc, reply, cell)))
            }
        }
    }
}

/// The codec a gRPC request's content type names (`application/grpc`, `+proto` or `+json`), or
/// the HTTP status that refuses it: 405 for another verb than `POST`, 415 for another codec (as
/// gRPC's HTTP/2 protocol document asks).
fn grpc_format<B>(request: &http::Request<B>) -> Result<Format, http::StatusCode> {
    if request.method() != http::Method::POST {
        return Err(http::StatusCode::METHOD_NOT_ALLOWED);
    }
    let subtype = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .and_then(|value| value.trim().strip_prefix("application/grpc"));
    match subtype {
        Some("" | "+proto") => Ok(Format::Proto),
        Some("+json") => Ok(Format::Json),
        _ => Err(http::StatusCode::UNSUPPORTED_MEDIA_TYPE),
    }
}

/// The future of a gRPC call: answered at once, or run by [`CallFuture`].
pub type GrpcResponseFuture =
    Either<Ready<Result<http::Response<tonic::body::Body>, Infallible>>, CallFuture<GrpcFuture>>;

impl<S: GrpcDispatch> GrpcServer<S> {
    /// Serves a gRPC call (or a Connect call translated to one), with `response` as the cell
    /// of the metadata its handler sets.
    fn serve<B>(
        &mut self,
        mut request: http::Request<B>,
        response: ResponseMetadata,
    ) -> GrpcResponseFuture
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        // Stamped already by `StampDeadlines` when the server has it in front of a router.
        let stamped = request
            .extensions()
            .get::<ArrivalDeadline>()
            .map(|ArrivalDeadline(deadline)| Ok(Some(*deadline)));
        let deadline = match stamped.unwrap_or_else(|| deadline_from_headers(request.headers())) {
            Ok(deadline) => deadline,
            Err(invalid) => {
                let status = Status::invalid_argument(invalid.to_string());
                return Either::Left(ready(Ok(status.into_http())));
            }
        };
        let path = request.uri().path();
        let Some(rpc) = S::SERVICE
            .methods
            .iter()
            .position(|method| method.path == path)
        else {
            return Either::Left(ready(Ok(unknown_method(path).into_http())));
        };
        // One clock read for the default deadline and the admission both.
        let now = tokio::time::Instant::now();
        let deadline = deadline.or_else(|| {
            self.default_deadlines
                .then(|| crate::call::default_deadline(&S::SERVICE.methods[rpc], now))
                .flatten()
        });
        if let Some(deadline) = deadline {
            request.extensions_mut().insert(ArrivalDeadline(deadline));
        }
        let (inner, permit) = match self
            .admission
            .admit_at(&S::SERVICE.methods[rpc], deadline, now)
        {
            Admit::Refused(status) => {
                let mut response = status.clone().into_http();
                close_after_refusal(&status, request.version(), response.headers_mut());
                return Either::Left(ready(Ok(response)));
            }
            Admit::Now(permit) => (None, permit),
            Admit::Wait(waiting) => (Some(waiting), Permit::none()),
        };
        request
            .extensions_mut()
            .insert(ResponseCell(response.clone()));
        if self.admission.is_shedding() {
            // For the handler's context (`accept`): see `admission::serving_is_shedding`.
            request.extensions_mut().insert(self.admission.clone());
        }
        let call = GrpcCall::new(request.map(axum::body::Body::new), self.wire);
        let inner = match inner {
            None => self.inner.dispatch(rpc, call),
            // In line for a slot: the call is routed once it has one.
            Some(waiting) => {
                let adapter = std::sync::Arc::clone(&self.inner);
                Box::pin(async move {
                    match waiting.await {
                        Ok(permit) => {
                            let response = adapter.dispatch(rpc, call).await;
                            drop(permit);
                            response
                        }
                        Err(status) => status.into_http(),
                    }
                })
            }
        };
        Either::Right(CallFuture::new(inner, deadline, response, permit))
    }
}

/// Stamps every request's `grpc-timeout` as an absolute deadline at the moment tonic's `Server`
/// hands the request over, for the [`GrpcServer`]s behind it to use.
///
/// tonic's `Server` arms a timer of its own for `grpc-timeout`, right after its inner service's
/// `call` returns, and answers `CANCELLED` when that timer wins. A [`GrpcServer`] called
/// directly by the server stamps its deadline first, but behind a router that calls services
/// when their future is first polled (axum, which the gateway's `with_grpc` and tonic's own
/// `Routes` are built on) it stamps a little later, and where the two deadlines fall in
/// different ticks of tokio's millisecond timer, tonic's fires first. Add this layer with
/// `Server::builder().layer(StampDeadlines)` whenever the generated services sit behind a
/// router, and callers always see `DEADLINE_EXCEEDED`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StampDeadlines;

impl<S> tower_layer::Layer<S> for StampDeadlines {
    type Service = DeadlineStamped<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineStamped { inner }
    }
}

/// A service whose requests carry their absolute deadline; see [`StampDeadlines`].
#[derive(Debug, Clone)]
pub struct DeadlineStamped<S> {
    inner: S,
}

impl<S, B> tonic::codegen::Service<http::Request<B>> for DeadlineStamped<S>
where
    S: tonic::codegen::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // A malformed timeout is left for the `GrpcServer` to reject.
        if let Ok(Some(deadline)) = deadline_from_headers(request.headers()) {
            request.extensions_mut().insert(ArrivalDeadline(deadline));
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::time::Instant;
    use tonic::codegen::Service;
    use tower_layer::Layer;

    use super::*;
    use crate::Code;
    use crate::rpc::{MethodInfo, MethodKind, ServiceInfo, WireSettings};

    /// Answers at once, keeping the last request it was given.
    #[derive(Clone, Default)]
    struct Keep(Arc<Mutex<Option<http::Request<tonic::body::Body>>>>);

    impl Keep {
        fn take(&self) -> http::Request<tonic::body::Body> {
            self.0.lock().unwrap().take().expect("a request was kept")
        }
    }

    impl Service<http::Request<tonic::body::Body>> for Keep {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
            *self.0.lock().unwrap() = Some(request);
            ready(Ok(http::Response::new(tonic::body::Body::empty())))
        }
    }

    static METHODS: [MethodInfo; 1] = [MethodInfo::new("/test.Svc/Get", MethodKind::Unary)];
    static SERVICE: ServiceInfo = ServiceInfo::new("test.Svc", &METHODS);

    /// A generated adapter's stand-in: keeps the deadline of the last call routed to it.
    #[derive(Clone, Default)]
    struct Handler {
        deadline: Arc<Mutex<Option<Option<Instant>>>>,
        wire: WireSettings,
    }

    impl Handler {
        /// The deadline of the last call, `None` when no call reached the handler.
        fn deadline(&self) -> Option<Option<Instant>> {
            *self.deadline.lock().unwrap()
        }
    }

    impl GrpcDispatch for Handler {
        const SERVICE: &'static ServiceInfo = &SERVICE;

        fn wire(&self) -> &WireSettings {
            &self.wire
        }

        fn dispatch(&self, rpc: usize, call: GrpcCall) -> GrpcFuture {
            assert_eq!(rpc, 0);
            let deadline = call
                .request()
                .extensions()
                .get::<ArrivalDeadline>()
                .map(|ArrivalDeadline(deadline)| *deadline);
            *self.deadline.lock().unwrap() = Some(deadline);
            call.unimplemented()
        }
    }

    fn with_timeout(timeout: &'static str) -> http::Request<tonic::body::Body> {
        http::Request::post("/test.Svc/Get")
            .header("content-type", "application/grpc")
            .header("grpc-timeout", timeout)
            .body(tonic::body::Body::empty())
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_stamped_in_front_of_a_router_is_the_one_the_call_keeps() {
        let arrived = Instant::now();
        // What tonic's Server calls synchronously, before it arms its own timer.
        let router = Keep::default();
        let _ = StampDeadlines
            .layer(router.clone())
            .call(with_timeout("100m"))
            .await;
        // A router that calls the service later, on first poll.
        tokio::time::advance(Duration::from_millis(5)).await;
        let handler = Handler::default();
        let _ = GrpcServer::new(handler.clone()).call(router.take()).await;

        assert_eq!(
            handler.deadline(),
            Some(Some(arrived + Duration::from_millis(100)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_stamp_the_deadline_counts_from_the_call() {
        tokio::time::advance(Duration::from_millis(5)).await;
        let called = Instant::now();
        let handler = Handler::default();
        let _ = GrpcServer::new(handler.clone())
            .call(with_timeout("100m"))
            .await;

        assert_eq!(
            handler.deadline(),
            Some(Some(called + Duration::from_millis(100)))
        );
    }

    #[tokio::test]
    async fn a_malformed_timeout_passes_the_stamp_and_is_rejected_by_the_server() {
        let router = Keep::default();
        let _ = StampDeadlines
            .layer(router.clone())
            .call(with_timeout("soon"))
            .await;
        let handler = Handler::default();
        let response = GrpcServer::new(handler.clone())
            .call(router.take())
            .await
            .unwrap();

        assert_eq!(response.headers()["grpc-status"], "3");
        assert_eq!(
            handler.deadline(),
            None,
            "the call did not reach the handler"
        );
    }

    #[tokio::test]
    async fn a_path_the_service_does_not_have_is_unimplemented() {
        let handler = Handler::default();
        let request = http::Request::post("/test.Svc/Put")
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .unwrap();
        let response = GrpcServer::new(handler.clone())
            .call(request)
            .await
            .unwrap();

        let status = Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(status.message(), "unknown method Put for service test.Svc");
        assert_eq!(handler.deadline(), None);
    }

    #[test]
    fn the_server_is_named_for_its_service() {
        assert_eq!(<GrpcServer<Handler> as NamedService>::NAME, "test.Svc");
    }
}
