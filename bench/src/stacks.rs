//! The two cross-cutting stacks bench/adapter_overhead.sh compares for issue 15: the runtime's
//! interceptor stack at the domain-trait boundary, and the tower-http layers a tonic user would
//! put on the server to do the same work, with the metrics recorder and tracing subscriber they
//! share.
//!
//! Both do, per call and in this order: a bearer-token check whose hook accepts (and stores the
//! identity it returns), an `x-request-id` (made as a UUID v7 when the caller sent none, and
//! returned in the response headers), an `INFO` span, go-grpc-prometheus style metrics through
//! the `metrics` facade, and an `INFO` access line (disabled by the subscriber's level).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use metrics::{Label, SharedString, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rust_svc_runtime::interceptors::metrics::HANDLING_SECONDS_BUCKETS;
use rust_svc_runtime::interceptors::{
    Auth, Intercepted, Interceptors, Logging, Metrics, RequestIds, Tracing,
};
use rust_svc_runtime::rpc::code_name;
use rust_svc_runtime::{Code, Status};
use tower::Layer;
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::validate_request::ValidateRequest;
use tower_service::Service;
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The token the benchmark requests carry (`authorization: Bearer bench`).
pub const TOKEN: &str = "bench";

/// How often the metrics recorder folds its histogram samples into buckets, as the Prometheus
/// exporter's own upkeep task does by default.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The identity the accepting auth hook returns, on both stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub &'static str);

/// The auth hook of both stacks: accepts every token.
fn accept(_token: &str) -> Result<Caller, Status> {
    Ok(Caller("bench"))
}

/// One interceptor of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `Auth::bearer` with a hook that accepts.
    Auth,
    /// `RequestIds`.
    RequestIds,
    /// `Tracing`.
    Tracing,
    /// `Metrics::default()`.
    Metrics,
    /// `Logging::new()`.
    Logging,
}

impl Part {
    /// The full stack, in the order the runtime's docs suggest.
    pub const ALL: [Part; 5] = [
        Part::Auth,
        Part::RequestIds,
        Part::Tracing,
        Part::Metrics,
        Part::Logging,
    ];

    /// The part named `name` (as [`Part::name`] spells it, with `-` for spaces).
    pub fn parse(name: &str) -> Option<Part> {
        Part::ALL
            .into_iter()
            .find(|part| part.name().replace(' ', "-") == name)
    }

    /// Its name in the benchmarks' output.
    pub fn name(self) -> &'static str {
        match self {
            Part::Auth => "auth",
            Part::RequestIds => "request ids",
            Part::Tracing => "tracing",
            Part::Metrics => "metrics",
            Part::Logging => "logging",
        }
    }
}

/// Wraps `domain` in the full server stack.
pub fn interceptor_stack<S>(domain: S) -> Intercepted<S> {
    interceptor_stack_of(&Part::ALL, domain)
}

/// Wraps `domain` in a stack of `parts` (in the order given).
pub fn interceptor_stack_of<S>(parts: &[Part], domain: S) -> Intercepted<S> {
    parts
        .iter()
        .fold(Interceptors::server(), |stack, part| match part {
            Part::Auth => stack.with(Auth::bearer(|token, _call| accept(token))),
            Part::RequestIds => stack.with(RequestIds),
            Part::Tracing => stack.with(Tracing),
            Part::Metrics => stack.with(Metrics::default()),
            Part::Logging => stack.with(Logging::new()),
        })
        .wrap(domain)
}

/// Which spans the installed subscriber keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spans {
    /// A registry behind a `WARN` filter: the `INFO` span of a call and its `INFO` access line
    /// are disabled at their callsites.
    Off,
    /// A registry behind an `INFO` filter, with no layer that formats or exports anything: every
    /// call's span is created, stored, entered and closed; the access lines stay disabled (their
    /// targets are filtered at `WARN`).
    Live,
}

/// Installs the process's tracing subscriber: a registry with a level filter and nothing that
/// writes or exports.
pub fn install_subscriber(spans: Spans) {
    let registry = tracing_subscriber::registry();
    match spans {
        Spans::Off => registry.with(LevelFilter::WARN).init(),
        Spans::Live => registry
            .with(
                Targets::new()
                    .with_default(Level::INFO)
                    .with_target(
                        rust_svc_runtime::interceptors::logging::ACCESS_TARGET,
                        Level::WARN,
                    )
                    .with_target("tower_http::trace::on_response", Level::WARN)
                    .with_target("tower_http::trace::on_eos", Level::WARN),
            )
            .init(),
    }
}

/// Installs a Prometheus recorder (with go-grpc-prometheus's histogram buckets) that is never
/// rendered, and spawns its upkeep on the current runtime. The handle is for `--metrics-out`.
pub fn install_recorder() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_handling_seconds".into()),
            &HANDLING_SECONDS_BUCKETS,
        )
        .expect("the buckets are not empty")
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the first recorder installed");
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// The tower-http layers equivalent to [`interceptor_stack`], as a `tower::ServiceBuilder`, for
/// `Server::builder().layer(…)` or `.service(…)` (a macro: the layers' types are unnameable).
/// Outermost first, in the interceptor stack's order. The auth check answers a rejection itself,
/// so the body inside it is made tonic's (which tonic would box it into anyway; `Body::new`
/// does not box a tonic body twice).
#[macro_export]
macro_rules! tower_layers {
    () => {
        ::tower::ServiceBuilder::new()
            .layer(
                ::tower_http::validate_request::ValidateRequestHeaderLayer::custom(
                    $crate::stacks::BearerHook,
                ),
            )
            .layer(::tower_http::map_response_body::MapResponseBodyLayer::new(
                ::tonic::body::Body::new,
            ))
            .layer(::tower_http::request_id::SetRequestIdLayer::x_request_id(
                $crate::stacks::MakeUuidV7,
            ))
            .layer(::tower_http::request_id::PropagateRequestIdLayer::x_request_id())
            .layer(
                ::tower_http::trace::TraceLayer::new_for_grpc()
                    .make_span_with(
                        ::tower_http::trace::DefaultMakeSpan::new().level(::tracing::Level::INFO),
                    )
                    .on_response(
                        ::tower_http::trace::DefaultOnResponse::new().level(::tracing::Level::INFO),
                    )
                    .on_eos(::tower_http::trace::DefaultOnEos::new().level(::tracing::Level::INFO)),
            )
            .layer($crate::stacks::GrpcMetricsLayer)
    };
}

/// tower-http's bearer check is deprecated as "too basic"; this is the custom validator that
/// replaces it: it reads `authorization: Bearer <token>`, calls the same accepting hook as the
/// interceptor stack, and stores the identity in the request's extensions.
#[derive(Debug, Clone, Copy, Default)]
pub struct BearerHook;

impl<B> ValidateRequest<B> for BearerHook {
    type ResponseBody = tonic::body::Body;

    fn validate(&mut self, request: &mut Request<B>) -> Result<(), Response<Self::ResponseBody>> {
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| Status::unauthenticated("a bearer token is required").into_http())?;
        let caller = accept(token).map_err(Status::into_http)?;
        request.extensions_mut().insert(caller);
        Ok(())
    }
}

/// `x-request-id` values made as the interceptor stack makes them (`RequestId::generate`, a UUID
/// v7), so that both stacks pay the same for the id itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = rust_svc_runtime::interceptors::RequestId::generate();
        Some(RequestId::new(
            HeaderValue::from_str(id.as_str()).expect("a UUID is a header value"),
        ))
    }
}

/// A tower layer recording the interceptor stack's server metrics (tower-http has none), per
/// gRPC path: `grpc_server_started_total`, `_handled_total` (with `grpc_code`, read from the
/// `grpc-status` of the trailers, or of the headers of a trailers-only answer),
/// `_handling_seconds` (until the end of the response body), `_in_flight`, `_msg_received_total`
/// and `_msg_sent_total`. An HTTP layer cannot tell the kind of the rpc nor count messages
/// without parsing the body, so `grpc_type` is always `unary`, one message is counted in, and
/// one out per DATA frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The service [`GrpcMetricsLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let call = CallMetrics::start(request.uri().path());
        MetricsFuture {
            inner: self.inner.call(request),
            call: Some(call),
        }
    }
}

const STARTED: &str = "grpc_server_started_total";
const HANDLED: &str = "grpc_server_handled_total";
const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
const IN_FLIGHT: &str = "grpc_server_in_flight";
const MSG_RECEIVED: &str = "grpc_server_msg_received_total";
const MSG_SENT: &str = "grpc_server_msg_sent_total";

/// One call's labels and clock, until it is recorded as handled (once, or on drop as
/// `CANCELLED`).
struct CallMetrics {
    labels: [Label; 3],
    started: Instant,
    sent: u64,
}

impl CallMetrics {
    fn start(path: &str) -> Self {
        let (service, method) = path
            .strip_prefix('/')
            .and_then(|path| path.split_once('/'))
            .unwrap_or(("unknown", "unknown"));
        let labels = [
            Label::from_static_parts("grpc_type", "unary"),
            Label::new(
                "grpc_service",
                SharedString::from_shared(Arc::from(service)),
            ),
            Label::new("grpc_method", SharedString::from_shared(Arc::from(method))),
        ];
        counter!(STARTED, labels.iter()).increment(1);
        gauge!(IN_FLIGHT, labels.iter()).increment(1.0);
        Self {
            labels,
            started: Instant::now(),
            sent: 0,
        }
    }

    fn finish(self, code: &'static str) {
        let labels = &self.labels;
        gauge!(IN_FLIGHT, labels.iter()).decrement(1.0);
        let [kind, service, method] = labels.clone();
        let code = Label::from_static_parts("grpc_code", code);
        counter!(HANDLED, vec![kind, service, method, code]).increment(1);
        histogram!(HANDLING_SECONDS, labels.iter()).record(self.started.elapsed().as_secs_f64());
        counter!(MSG_RECEIVED, labels.iter()).increment(1);
        counter!(MSG_SENT, labels.iter()).increment(self.sent);
    }
}

/// The name of the code in a `grpc-status` header, if there is one (`UNKNOWN` for a number
/// that is no code).
fn grpc_code(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?;
    let code: i32 = value.to_str().ok()?.parse().ok()?;
    Some(code_name(Code::from_i32(code)))
}

pin_project_lite::pin_project! {
    /// The response future of [`GrpcMetrics`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        call: Option<CallMetrics>,
    }

    impl<F> PinnedDrop for MetricsFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(call) = this.project().call.take() {
                call.finish("CANCELLED");
            }
        }
    }
}

impl<F, ResBody, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<MetricsBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = ready!(this.inner.poll(cx));
        let call = this.call.take().expect("polled after completion");
        Poll::Ready(match outcome {
            Ok(response) => {
                // A trailers-only answer (an error) has its status in the headers.
                let call = match grpc_code(response.headers()) {
                    Some(code) => {
                        call.finish(code);
                        None
                    }
                    None => Some(call),
                };
                Ok(response.map(|inner| MetricsBody { inner, call }))
            }
            Err(error) => {
                call.finish("INTERNAL");
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// The response body of [`GrpcMetrics`]: records the call when its trailers go by.
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        call: Option<CallMetrics>,
    }

    impl<B> PinnedDrop for MetricsBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(call) = this.project().call.take() {
                call.finish("CANCELLED");
            }
        }
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(call) = this.call.as_mut() {
            let code = match &frame {
                Some(Ok(frame)) => match frame.trailers_ref() {
                    Some(trailers) => Some(grpc_code(trailers).unwrap_or("UNKNOWN")),
                    None => {
                        call.sent += u64::from(frame.is_data());
                        None
                    }
                },
                Some(Err(_)) => Some("INTERNAL"),
                None => Some("UNKNOWN"),
            };
            if let Some(code) = code {
                this.call.take().expect("checked").finish(code);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
