//! The machinery behind every generated client: deadlines, propagation, retries, throttling and
//! circuit breakers.
//!
//! A generated client (`InventoryServiceClient`…) is a thin shell around a [`ClientCore`] and a
//! [`ServiceSpec`] constant holding what options.proto says. It implements the service's domain
//! trait, so it can be passed anywhere the trait is expected. Every call goes through here:
//!
//! 1. **Deadline.** The call's deadline is the earliest of the caller [`Context`]'s deadline, the
//!    method's deadline (its own, else its service's `default_deadline`, else one set with
//!    [`ClientBuilder::method_deadline`]), and the client-wide [`ClientBuilder::deadline`]. When
//!    none of these exists, [`DEFAULT_DEADLINE`] (30 s) applies. The deadline is sent as
//!    `grpc-timeout` and enforced locally; expiry is `DEADLINE_EXCEEDED`, never `CANCELLED`. A
//!    context whose deadline has passed fails locally, without touching the network.
//! 2. **Propagation.** The headers on the allow-list (`x-request-id`, `traceparent`,
//!    `tracestate` unless [`ClientBuilder::propagate_headers`] says otherwise) are copied from the
//!    caller's context, so a handler passing its own context on forwards them downstream along
//!    with its remaining budget.
//! 3. **Circuit breaker**, one per method: while open, a call fails fast with `UNAVAILABLE`
//!    naming the breaker and carrying a `RetryInfo` detail. Only dependency failures count
//!    against it (see [`is_dependency_failure`]).
//! 4. **Retries** (gRFC A6), only where safe: the method's `idempotency_level` is `IDEMPOTENT` or
//!    `NO_SIDE_EFFECTS`, or the request's idempotency-key field is non-empty (the key is then
//!    sent as `idempotency-key` metadata too, the same on every attempt). At most 5 attempts, on
//!    the policy's retryable codes, with fully jittered exponential backoff or the server's
//!    `RetryInfo` delay, all inside the one deadline, and throttled by a token bucket shared by
//!    the client's methods. A server stream is retried only until its first message arrives;
//!    client- and bidi-streaming calls are never retried.

mod breaker;
mod codec;
mod policy;
mod retry;

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::uri::PathAndQuery;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::Endpoint;
use tonic::{Code, Status};

pub use tonic::transport::Channel;

pub use breaker::{BreakerState, BreakerTransition, TransitionHook};
pub use policy::{
    Adaptive, BreakerPolicy, DEFAULT_DEADLINE, MAX_ATTEMPTS, MethodKind, MethodSpec, RetryPolicy,
    RetryThrottling, ServiceSpec, SlidingWindow, is_dependency_failure,
};

use crate::deadline::{GRPC_TIMEOUT, format_grpc_timeout};
use crate::{BoxStream, Context};
use breaker::Breaker;
use codec::RawCodec;
use retry::{Pushback, Throttle};

/// The headers forwarded from the caller's context unless the builder says otherwise.
pub const DEFAULT_PROPAGATED_HEADERS: &[&str] = &["x-request-id", "traceparent", "tracestate"];

/// The metadata key carrying a request's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Implemented by every generated client, so that [`ClientBuilder`] can build it.
pub trait GeneratedClient: Sized {
    /// What options.proto says about the service.
    const SPEC: &'static ServiceSpec;

    /// Wraps a configured core.
    fn from_core(core: ClientCore) -> Self;
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// A builder setting named a method the service does not have.
    UnknownMethod {
        /// The service's full name.
        service: &'static str,
        /// The name given.
        method: String,
        /// The methods the service has.
        known: Vec<&'static str>,
    },
    /// A propagated header name is not a valid ASCII metadata key.
    InvalidHeader(String),
    /// An endpoint URL could not be parsed.
    InvalidEndpoint {
        /// The URL given.
        endpoint: String,
        /// The parser's complaint.
        reason: String,
    },
    /// [`ClientBuilder::connect_lazy`] was given no endpoints.
    NoEndpoints,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMethod {
                service,
                method,
                known,
            } => write!(
                f,
                "{service} has no method `{method}`; its methods are {}",
                known.join(", ")
            ),
            Self::InvalidHeader(name) => {
                write!(f, "`{name}` is not a valid header name to propagate")
            }
            Self::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid endpoint `{endpoint}`: {reason}")
            }
            Self::NoEndpoints => f.write_str("no endpoint given to connect to"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A setting for one method or for all of them.
#[derive(Debug, Clone)]
struct Override<T> {
    all: Option<T>,
    by_method: Vec<(String, T)>,
}

impl<T> Default for Override<T> {
    fn default() -> Self {
        Self {
            all: None,
            by_method: Vec::new(),
        }
    }
}

impl<T: Clone> Override<T> {
    fn for_method(&self, name: &str) -> Option<T> {
        self.by_method
            .iter()
            .rev()
            .find(|(method, _)| method == name)
            .map(|(_, value)| value.clone())
            .or_else(|| self.all.clone())
    }
}

/// Overrides the policies a generated client reads from options.proto, then builds it.
///
/// Method names are the rpc names of the .proto file (`"CheckStock"`); an unknown name is an
/// error when the client is built, not a setting silently ignored.
pub struct ClientBuilder<C> {
    spec: &'static ServiceSpec,
    settings: Settings,
    _client: PhantomData<fn() -> C>,
}

/// Everything a builder can override; `None` and empty mean "as options.proto says".
#[derive(Default)]
struct Settings {
    client_deadline: Option<Duration>,
    method_deadlines: Override<Duration>,
    retry: Override<RetryPolicy>,
    breaker: Override<BreakerPolicy>,
    throttling: Option<Option<RetryThrottling>>,
    propagate: Option<Vec<AsciiMetadataKey>>,
    hook: Option<TransitionHook>,
    target: Option<String>,
    /// The first invalid setting, reported when the client is built.
    error: Option<ClientError>,
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("service", &self.spec.name)
            .field("client_deadline", &self.settings.client_deadline)
            .field("target", &self.settings.target)
            .finish_non_exhaustive()
    }
}

impl<C: GeneratedClient> Default for ClientBuilder<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: GeneratedClient> ClientBuilder<C> {
    /// A builder starting from the policies in options.proto.
    pub fn new() -> Self {
        Self {
            spec: C::SPEC,
            settings: Settings::default(),
            _client: PhantomData,
        }
    }

    /// A deadline for every call of this client: calls get at most this long, whatever the
    /// method's own deadline.
    #[must_use]
    pub fn deadline(mut self, timeout: Duration) -> Self {
        self.settings.client_deadline = Some(timeout);
        self
    }

    /// Replaces one method's deadline from options.proto.
    #[must_use]
    pub fn method_deadline(mut self, method: &str, timeout: Duration) -> Self {
        self.check_method(method);
        self.settings
            .method_deadlines
            .by_method
            .push((method.to_owned(), timeout));
        self
    }

    /// Replaces the retry policy of every method.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry.all = Some(policy);
        self
    }

    /// Replaces one method's retry policy.
    #[must_use]
    pub fn method_retry_policy(mut self, method: &str, policy: RetryPolicy) -> Self {
        self.check_method(method);
        self.settings
            .retry
            .by_method
            .push((method.to_owned(), policy));
        self
    }

    /// Replaces the retry throttling; `None` turns it off.
    #[must_use]
    pub fn retry_throttling(mut self, throttling: Option<RetryThrottling>) -> Self {
        self.settings.throttling = Some(throttling);
        self
    }

    /// Replaces the circuit breaker settings of every method (each keeps its own breaker).
    #[must_use]
    pub fn circuit_breaker(mut self, policy: BreakerPolicy) -> Self {
        self.settings.breaker.all = Some(policy);
        self
    }

    /// Replaces one method's circuit breaker settings.
    #[must_use]
    pub fn method_circuit_breaker(mut self, method: &str, policy: BreakerPolicy) -> Self {
        self.check_method(method);
        self.settings
            .breaker
            .by_method
            .push((method.to_owned(), policy));
        self
    }

    /// Replaces the allow-list of headers forwarded from the caller's context
    /// ([`DEFAULT_PROPAGATED_HEADERS`] by default).
    #[must_use]
    pub fn propagate_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut keys = Vec::new();
        for name in headers {
            let name = name.as_ref();
            match name.parse::<AsciiMetadataKey>() {
                Ok(key) => keys.push(key),
                Err(_) => self.fail(ClientError::InvalidHeader(name.to_owned())),
            }
        }
        self.settings.propagate = Some(keys);
        self
    }

    /// Calls `hook` on every circuit breaker state change (a `tracing` event is logged either
    /// way).
    #[must_use]
    pub fn on_breaker_transition(
        mut self,
        hook: impl Fn(&BreakerTransition) + Send + Sync + 'static,
    ) -> Self {
        self.settings.hook = Some(Arc::new(hook));
        self
    }

    /// Names the target in breaker names and messages (by default the endpoint URLs, or
    /// `channel` for a client built from a channel).
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.settings.target = Some(target.into());
        self
    }

    /// Builds the client over `channel`.
    pub fn build(self, channel: Channel) -> Result<C, ClientError> {
        self.finish(channel, "channel".to_owned())
    }

    /// Builds the client over endpoints it connects to on first use; several endpoints are
    /// load-balanced (tonic's `balance_list`). Must be called inside a tokio runtime.
    pub fn connect_lazy<I, S>(self, endpoints: I) -> Result<C, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls: Vec<String> = endpoints
            .into_iter()
            .map(|url| url.as_ref().to_owned())
            .collect();
        let mut parsed = urls
            .iter()
            .map(|url| {
                Endpoint::from_shared(url.clone()).map_err(|error| ClientError::InvalidEndpoint {
                    endpoint: url.clone(),
                    reason: error.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channel = match parsed.len() {
            0 => return Err(ClientError::NoEndpoints),
            1 => parsed.remove(0).connect_lazy(),
            _ => Channel::balance_list(parsed.into_iter()),
        };
        self.finish(channel, urls.join(","))
    }

    fn check_method(&mut self, name: &str) {
        if !self.spec.methods.iter().any(|method| method.name == name) {
            self.fail(ClientError::UnknownMethod {
                service: self.spec.name,
                method: name.to_owned(),
                known: self.spec.methods.iter().map(|method| method.name).collect(),
            });
        }
    }

    fn fail(&mut self, error: ClientError) {
        self.settings.error.get_or_insert(error);
    }

    fn finish(mut self, channel: Channel, default_target: String) -> Result<C, ClientError> {
        if let Some(error) = self.settings.error.take() {
            return Err(error);
        }
        let target = self.settings.target.take().unwrap_or(default_target);
        Ok(C::from_core(
            self.settings.assemble(self.spec, channel, target),
        ))
    }
}

impl Settings {
    /// The core these settings describe; they were validated as they were made.
    fn assemble(self, spec: &'static ServiceSpec, channel: Channel, target: String) -> ClientCore {
        let throttle = self
            .throttling
            .unwrap_or(Some(
                spec.retry_throttling.unwrap_or(RetryThrottling::DEFAULT),
            ))
            .map(Throttle::new);
        let propagate = self.propagate.unwrap_or_else(|| {
            DEFAULT_PROPAGATED_HEADERS
                .iter()
                .map(|name| AsciiMetadataKey::from_static(name))
                .collect()
        });
        let methods = spec
            .methods
            .iter()
            .map(|method| {
                let own = self
                    .method_deadlines
                    .for_method(method.name)
                    .or(method.deadline);
                let timeout = match (own, self.client_deadline) {
                    (Some(own), Some(client)) => Some(own.min(client)),
                    (own, client) => own.or(client),
                };
                let retry = self
                    .retry
                    .for_method(method.name)
                    .or_else(|| method.retry.clone())
                    .unwrap_or(RetryPolicy::DEFAULT);
                let breaker = self.breaker.for_method(method.name).unwrap_or_else(|| {
                    method
                        .circuit_breaker
                        .clone()
                        .map_or(BreakerPolicy::DEFAULT, BreakerPolicy::SlidingWindow)
                });
                let name: Arc<str> = format!("{}/{}@{}", spec.name, method.name, target).into();
                MethodState {
                    spec: method,
                    path: PathAndQuery::from_static(method.path),
                    timeout,
                    retry,
                    breaker: Breaker::new(name, &breaker, self.hook.clone()),
                }
            })
            .collect();
        ClientCore {
            inner: Arc::new(Inner {
                grpc: tonic::client::Grpc::new(channel),
                target,
                methods,
                throttle,
                propagate,
            }),
        }
    }
}

/// The shared state of a generated client: cheap to clone (one `Arc`), and every clone shares
/// the connection, the breakers and the throttling bucket.
#[derive(Clone)]
pub struct ClientCore {
    inner: Arc<Inner>,
}

struct Inner {
    grpc: tonic::client::Grpc<Channel>,
    target: String,
    methods: Vec<MethodState>,
    throttle: Option<Throttle>,
    propagate: Vec<AsciiMetadataKey>,
}

struct MethodState {
    spec: &'static MethodSpec,
    path: PathAndQuery,
    /// The method's timeout after builder overrides and the client-wide cap, if any is set.
    timeout: Option<Duration>,
    retry: RetryPolicy,
    breaker: Option<Breaker>,
}

impl fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let breakers: Vec<_> = self
            .inner
            .methods
            .iter()
            .filter_map(|method| method.breaker.as_ref())
            .collect();
        f.debug_struct("ClientCore")
            .field("target", &self.inner.target)
            .field("breakers", &breakers)
            .finish_non_exhaustive()
    }
}

/// What one attempt needs besides the message.
struct Call<'a> {
    method: &'a MethodState,
    deadline: Instant,
    metadata: MetadataMap,
    /// Whether the call may be retried: its method is idempotent or has no side effects, or its
    /// request carries an idempotency key.
    retry_safe: bool,
}

impl ClientCore {
    /// A core with the policies of options.proto (and the built-in defaults) over `channel`.
    pub fn new(spec: &'static ServiceSpec, channel: Channel) -> Self {
        Settings::default().assemble(spec, channel, "channel".to_owned())
    }

    /// The state of the breaker of the rpc named `method` (its proto name), or `None` when the
    /// service has no such rpc or its breaker is disabled.
    pub fn breaker_state(&self, method: &str) -> Option<BreakerState> {
        self.inner
            .methods
            .iter()
            .find(|state| state.spec.name == method)
            .and_then(|state| state.breaker.as_ref())
            .map(Breaker::state)
    }

    /// Calls unary method number `method` (its index in the [`ServiceSpec`]).
    /// `idempotency_key` is the request's key field, for methods that have one.
    ///
    /// The deadline is resolved and the request encoded now; the future borrows only the core.
    pub fn unary<'s, Req, Resp>(
        &'s self,
        method: usize,
        ctx: &Context,
        request: &Req,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<Resp, Status>> + Send + use<'s, Req, Resp>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + Send + 'static,
    {
        let started = self
            .prepare(method, ctx, idempotency_key)
            .map(|call| (call, codec::encode(request)));
        async move {
            let (call, body) = started?;
            codec::decode(self.unary_bytes(&call, body).await?)
        }
    }

    /// Calls server-streaming method number `method`. The call is retried (where safe) until the
    /// first response message arrives; the returned stream ends with `DEADLINE_EXCEEDED` if the
    /// deadline passes while it is being read.
    pub fn server_streaming<'s, Req, Resp>(
        &'s self,
        method: usize,
        ctx: &Context,
        request: &Req,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<BoxStream<Resp>, Status>> + Send + use<'s, Req, Resp>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + Send + 'static,
    {
        let started = self
            .prepare(method, ctx, idempotency_key)
            .map(|call| (call, codec::encode(request)));
        async move {
            let (call, body) = started?;
            Ok(decode_stream(
                self.server_streaming_bytes(&call, body).await?,
            ))
        }
    }

    /// Calls client-streaming method number `method`. Never retried. If `requests` yields an
    /// error, the call is cancelled (the server never sees a clean end of input) and fails with
    /// that error.
    pub fn client_streaming<'s, Req, Resp>(
        &'s self,
        method: usize,
        ctx: &Context,
        requests: BoxStream<Req>,
    ) -> impl Future<Output = Result<Resp, Status>> + Send + use<'s, Req, Resp>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        let call = self.prepare(method, ctx, None);
        let requests = encode_stream(requests);
        async move { codec::decode(self.client_streaming_bytes(call?, requests).await?) }
    }

    /// Calls bidi-streaming method number `method`. Never retried. If `requests` yields an
    /// error, the call is cancelled and the response stream ends with that error.
    pub fn bidi_streaming<'s, Req, Resp>(
        &'s self,
        method: usize,
        ctx: &Context,
        requests: BoxStream<Req>,
    ) -> impl Future<Output = Result<BoxStream<Resp>, Status>> + Send + use<'s, Req, Resp>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + Send + 'static,
    {
        let call = self.prepare(method, ctx, None);
        let requests = encode_stream(requests);
        async move {
            Ok(decode_stream(
                self.bidi_streaming_bytes(call?, requests).await?,
            ))
        }
    }

    async fn unary_bytes(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, Status> {
        self.with_retries(call, body, |request| async move {
            self.ready_grpc()
                .await?
                .unary(request, call.method.path.clone(), RawCodec)
                .await
                .map(tonic::Response::into_inner)
        })
        .await
    }

    async fn server_streaming_bytes(
        &self,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<BoxStream<Bytes>, Status> {
        let (first, rest) = self
            .with_retries(call, body, |request| async move {
                let mut stream = self
                    .ready_grpc()
                    .await?
                    .server_streaming(request, call.method.path.clone(), RawCodec)
                    .await?
                    .into_inner();
                let first = stream.message().await?;
                Ok((first, stream))
            })
            .await?;
        let stream = futures_util::stream::iter(first.map(Ok)).chain(rest);
        Ok(crate::deadline::cut_stream(
            Some(call.deadline),
            Box::pin(stream),
        ))
    }

    async fn client_streaming_bytes(
        &self,
        call: Call<'_>,
        requests: BoxStream<Bytes>,
    ) -> Result<Bytes, Status> {
        let (outbound, mut aborted) = abort_on_error(requests);
        let attempt = until_aborted(&mut aborted, async {
            let request = call.request(outbound);
            self.ready_grpc()
                .await?
                .client_streaming(request, call.method.path.clone(), RawCodec)
                .await
                .map(tonic::Response::into_inner)
        });
        let permit = self.admit(&call)?;
        self.run(&call, permit, attempt).await
    }

    async fn bidi_streaming_bytes(
        &self,
        call: Call<'_>,
        requests: BoxStream<Bytes>,
    ) -> Result<BoxStream<Bytes>, Status> {
        let (outbound, mut aborted) = abort_on_error(requests);
        // Raced while waiting for the response headers too: a server that reads before it
        // answers would otherwise wait on input that never comes.
        let attempt = until_aborted(&mut aborted, async {
            let request = call.request(outbound);
            self.ready_grpc()
                .await?
                .streaming(request, call.method.path.clone(), RawCodec)
                .await
                .map(tonic::Response::into_inner)
        });
        let permit = self.admit(&call)?;
        let responses = self.run(&call, permit, attempt).await?;
        let stream = AbortableStream {
            inner: Some(Box::pin(responses)),
            aborted,
        };
        Ok(crate::deadline::cut_stream(
            Some(call.deadline),
            Box::pin(stream),
        ))
    }

    /// A handle on the shared channel, once it can take a call.
    async fn ready_grpc(&self) -> Result<tonic::client::Grpc<Channel>, Status> {
        let mut grpc = self.inner.grpc.clone();
        grpc.ready()
            .await
            .map_err(|error| Status::unavailable(format!("the channel is not ready: {error}")))?;
        Ok(grpc)
    }

    /// Resolves the deadline and outgoing metadata, failing locally when the budget is spent.
    fn prepare<'a>(
        &'a self,
        method: usize,
        ctx: &Context,
        idempotency_key: Option<&str>,
    ) -> Result<Call<'a>, Status> {
        let state = &self.inner.methods[method];
        let now = Instant::now();
        let own = state.timeout.and_then(|timeout| now.checked_add(timeout));
        let deadline = match (ctx.deadline(), own) {
            (Some(caller), Some(own)) => caller.min(own),
            (Some(caller), None) => caller,
            (None, Some(own)) => own,
            (None, None) => now + DEFAULT_DEADLINE,
        };
        if deadline <= now {
            return Err(Status::deadline_exceeded(format!(
                "the deadline passed before {} was called: the caller's budget is spent",
                state.spec.path
            )));
        }
        let mut metadata = MetadataMap::new();
        for key in &self.inner.propagate {
            for value in ctx.metadata().get_all(key.as_str()) {
                metadata.append(key.clone(), value.clone());
            }
        }
        let idempotency_key = idempotency_key.filter(|key| !key.is_empty());
        if let Some(value) = idempotency_key.and_then(|key| AsciiMetadataValue::try_from(key).ok())
        {
            metadata.insert(IDEMPOTENCY_KEY_HEADER, value);
        }
        let retry_safe = state.spec.kind != MethodKind::ClientStreaming
            && state.spec.kind != MethodKind::BidiStreaming
            && (state.spec.safe_to_retry || idempotency_key.is_some());
        Ok(Call {
            method: state,
            deadline,
            metadata,
            retry_safe,
        })
    }

    /// Runs the attempts of a unary or server-streaming call: one, or more where retrying is
    /// safe. A hand-written loop rather than `tower::retry`: the policy needs the deadline, the
    /// breaker, server pushback and the throttle together, which a `tower::retry::Policy` sees
    /// only in pieces.
    async fn with_retries<T, F, Fut>(
        &self,
        call: &Call<'_>,
        body: Bytes,
        attempt: F,
    ) -> Result<T, Status>
    where
        F: Fn(tonic::Request<Bytes>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let method = call.method;
        let attempts = if call.retry_safe {
            method.retry.attempts()
        } else {
            1
        };
        let mut number = 1;
        loop {
            // A breaker that turns the attempt away ends the call: retrying against it would only
            // spend the backoff (and the bucket's tokens) on local rejections.
            let permit = self.admit(call)?;
            // Every attempt sends the same encoded body (a reference-counted view of it).
            let wire = call.request(body.clone());
            let outcome = self.run(call, permit, attempt(wire)).await;
            let status = match outcome {
                Ok(value) => {
                    if let Some(throttle) = &self.inner.throttle {
                        throttle.on_success();
                    }
                    return Ok(value);
                }
                Err(status) => status,
            };
            let retryable = method.retry.retries(status.code());
            // Every retryable failure drains the bucket, whether or not this call may retry: the
            // bucket measures the dependency's health.
            let throttled = retryable
                && self
                    .inner
                    .throttle
                    .as_ref()
                    .is_some_and(|throttle| !throttle.on_retryable_failure());
            if number >= attempts || !retryable || throttled {
                return Err(status);
            }
            let delay = match retry::pushback(&status) {
                Pushback::Stop => return Err(status),
                Pushback::Delay(delay) => delay,
                Pushback::None => jittered(method.retry.backoff_bound(number)),
            };
            // A retry that could only start after the deadline is not made (gRFC A6).
            if Instant::now() + delay >= call.deadline {
                return Err(status);
            }
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }

    /// The breaker's admission for one attempt, or the status that fails it fast.
    fn admit<'a>(&self, call: &Call<'a>) -> Result<Option<breaker::Permit<'a>>, Status> {
        call.method
            .breaker
            .as_ref()
            .map(Breaker::try_acquire)
            .transpose()
    }

    /// One admitted attempt, raced against the deadline, its outcome recorded by the breaker.
    async fn run<T>(
        &self,
        call: &Call<'_>,
        permit: Option<breaker::Permit<'_>>,
        attempt: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let outcome = match tokio::time::timeout_at(call.deadline, attempt).await {
            Ok(outcome) => outcome.map_err(|status| normalize(status, call)),
            Err(_elapsed) => Err(deadline_exceeded(call)),
        };
        if let Some(permit) = permit {
            permit.record(outcome.as_ref().map_or_else(Status::code, |_| Code::Ok));
        }
        outcome
    }
}

impl Call<'_> {
    /// A wire request with the call's metadata and the time left as `grpc-timeout`.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        let left = self.deadline.saturating_duration_since(Instant::now());
        if let Ok(value) = format_grpc_timeout(left).parse() {
            request.metadata_mut().insert(GRPC_TIMEOUT, value);
        }
        request
    }
}

fn deadline_exceeded(call: &Call<'_>) -> Status {
    Status::deadline_exceeded(format!(
        "deadline exceeded while calling {}",
        call.method.spec.path
    ))
}

/// tonic's channel enforces `grpc-timeout` too and reports its own expiry as `CANCELLED`
/// ("Timeout expired"); the caller must see `DEADLINE_EXCEEDED`.
fn normalize(status: Status, call: &Call<'_>) -> Status {
    let timed_out = status.code() == Code::Cancelled
        && (status.message() == tonic::TimeoutExpired(()).to_string()
            || Instant::now() >= call.deadline);
    if timed_out {
        deadline_exceeded(call)
    } else {
        status
    }
}

/// A delay drawn uniformly from `[0, bound]`.
fn jittered(bound: Duration) -> Duration {
    bound.mul_f64(fastrand::f64())
}

/// A caller's request stream, encoded message by message as it is sent.
fn encode_stream<Req: prost::Message + Send + 'static>(
    requests: BoxStream<Req>,
) -> BoxStream<Bytes> {
    Box::pin(requests.map(|request| request.map(|message| codec::encode(&message))))
}

/// A response stream, decoded message by message as it is read.
fn decode_stream<Resp: prost::Message + Default + Send + 'static>(
    responses: BoxStream<Bytes>,
) -> BoxStream<Resp> {
    Box::pin(responses.map(|response| response.and_then(codec::decode)))
}

/// Runs `attempt` unless the request stream fails first, in which case its error is the outcome.
async fn until_aborted<T>(
    aborted: &mut Aborted,
    attempt: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    tokio::select! {
        outcome = attempt => outcome,
        status = aborted => Err(status),
    }
}

/// Resolves with the request stream's error; pending forever if it ends cleanly.
type Aborted = Pin<Box<dyn Future<Output = Status> + Send>>;

/// Splits a caller's request stream into what goes on the wire (which stops, without ending,
/// at the first error) and a future that resolves with that error.
fn abort_on_error<T: Send + 'static>(requests: BoxStream<T>) -> (OutboundStream<T>, Aborted) {
    let (sender, receiver) = oneshot::channel();
    let aborted = Box::pin(async move {
        match receiver.await {
            Ok(status) => status,
            // The stream ended cleanly (or the call is gone): nothing will abort it.
            Err(_) => std::future::pending().await,
        }
    });
    (
        OutboundStream {
            inner: requests,
            error: Some(sender),
        },
        aborted,
    )
}

/// The outbound half of a streaming call. After an error it stays pending forever: ending it
/// would tell the server the input is complete, when the call is about to be cancelled instead.
struct OutboundStream<T> {
    inner: BoxStream<T>,
    error: Option<oneshot::Sender<Status>>,
}

impl<T> Stream for OutboundStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        if self.error.is_none() {
            return Poll::Pending;
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => Poll::Ready(Some(message)),
            Poll::Ready(Some(Err(status))) => {
                if let Some(sender) = self.error.take() {
                    let _ = sender.send(status);
                }
                Poll::Pending
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A bidi response stream that ends with the request stream's error, dropping the call.
struct AbortableStream<T> {
    inner: Option<Pin<Box<tonic::Streaming<T>>>>,
    aborted: Aborted,
}

impl<T> Stream for AbortableStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(status) = this.aborted.as_mut().poll(cx) {
            this.inner = None;
            return Poll::Ready(Some(Err(status)));
        }
        inner.as_mut().poll_next(cx)
    }
}
