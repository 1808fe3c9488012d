//! [`ClientCore`]: the shared state of a generated client and the machinery of its calls.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::uri::PathAndQuery;
use tokio::time::Instant;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::{Code, Status};

use super::attempts::Failed;
use super::breaker::BreakerState;
use super::codec::{self, RawCodec};
use super::endpoints::{self, Endpoint, Endpoints, Pick};
use super::replay::{Replay, RetryBuffer};
use super::settings::Settings;
use super::streams::{
    AbortableStream, Aborted, abort_on_error, decode_stream, encode_stream, until_aborted,
    with_trailers,
};
use super::throttle::Throttle;
use super::{
    Channel, DEFAULT_DEADLINE, HedgingPolicy, IDEMPOTENCY_KEY_HEADER, MethodInfo, RetryPolicy,
    ServiceInfo,
};
use crate::context::ResponseMetadata;
use crate::deadline::{GRPC_TIMEOUT, format_grpc_timeout};
use crate::rpc::TRACEPARENT;
use crate::{BoxStream, Context};

/// The shared state of a generated client: cheap to clone (one `Arc`), and every clone shares
/// the connections, the breakers and the throttling bucket.
#[derive(Clone)]
pub struct ClientCore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) endpoints: Endpoints,
    /// The largest request message the client sends.
    pub(super) max_encoding: usize,
    /// Whether `traceparent` is on the propagation list.
    pub(super) propagates_traceparent: bool,
    pub(super) target: String,
    pub(super) methods: Vec<MethodState>,
    pub(super) throttle: Option<Throttle>,
    pub(super) propagate: Vec<AsciiMetadataKey>,
    /// What client and bidi streams keep of their sent messages for a retry.
    pub(super) retry_buffer: Arc<RetryBuffer>,
}

pub(super) struct MethodState {
    pub(super) spec: &'static MethodInfo,
    pub(super) path: PathAndQuery,
    /// The method's timeout after builder overrides and the client-wide cap, if any is set.
    pub(super) timeout: Option<Duration>,
    pub(super) retry: RetryPolicy,
    /// Hedging in place of the retry policy, for calls safe to send more than once.
    pub(super) hedging: Option<HedgingPolicy>,
    /// Answers the calls its breaker turns away ([`ClientBuilder::method_fallback`]).
    ///
    /// [`ClientBuilder::method_fallback`]: super::ClientBuilder::method_fallback
    pub(super) fallback: Option<Fallback>,
}

/// A fallback, answering a rejected call with an encoded response (or not).
pub(super) type Fallback = Arc<dyn Fn(&Status) -> Option<Bytes> + Send + Sync>;

impl fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let breakers: Vec<_> = self
            .inner
            .endpoints
            .iter()
            .flat_map(|endpoint| endpoint.breakers.iter().flatten())
            .collect();
        f.debug_struct("ClientCore")
            .field("target", &self.inner.target)
            .field("breakers", &breakers)
            .finish_non_exhaustive()
    }
}

/// What one attempt needs besides the message.
pub(super) struct Call<'a> {
    /// The method's number in the spec.
    pub(super) index: usize,
    pub(super) method: &'a MethodState,
    pub(super) deadline: Instant,
    metadata: MetadataMap,
    /// Where the response metadata goes: the caller's context, unless it is serving a call (see
    /// [`Context::is_serving`]).
    response: Option<ResponseMetadata>,
    /// Whether the call may be retried: its method is idempotent or has no side effects, or its
    /// request carries an idempotency key.
    pub(super) retry_safe: bool,
    /// Set when a breaker turned the call away without sending it.
    pub(super) rejected: AtomicBool,
}

impl ClientCore {
    /// A core with the policies of options.proto (and the built-in defaults) over `channel`.
    pub fn new(spec: &'static ServiceInfo, channel: Channel) -> Self {
        Settings::default().assemble(spec, vec![(None, channel)], "channel".to_owned())
    }

    /// The state of the breaker of the rpc named `method` (its proto name), or `None` when the
    /// service has no such rpc or its breaker is disabled. With several endpoints, each has its
    /// own breaker and this is their state taken together: closed while any endpoint's is
    /// closed, else half-open while any is, else open.
    pub fn breaker_state(&self, method: &str) -> Option<BreakerState> {
        endpoints::overall_state(&self.breaker_states(method))
    }

    /// The state of each endpoint's breaker of the rpc named `method`, with the endpoint's URL
    /// (or the client's target for a client built over a channel); empty when the service has
    /// no such rpc or its breaker is disabled.
    pub fn breaker_states(&self, method: &str) -> Vec<(String, BreakerState)> {
        self.inner
            .methods
            .iter()
            .position(|state| state.spec.method() == method)
            .map(|index| self.inner.endpoints.breaker_states(index))
            .unwrap_or_default()
    }

    /// Calls unary method number `method` (its index in the [`ServiceInfo`]).
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
            .and_then(|call| self.encode(&call, request).map(|body| (call, body)));
        async move {
            let (call, body) = started?;
            codec::decode(self.unary_bytes(&call, body).await?)
        }
    }

    /// Calls server-streaming method number `method`. The call is retried (where safe) until the
    /// response headers arrive, when it is committed; the returned stream ends with
    /// `DEADLINE_EXCEEDED` if the deadline passes while it is being read.
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
            .and_then(|call| self.encode(&call, request).map(|body| (call, body)));
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
        let requests = encode_stream(requests, self.inner.max_encoding);
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
        let requests = encode_stream(requests, self.inner.max_encoding);
        async move {
            Ok(decode_stream(
                self.bidi_streaming_bytes(call?, requests).await?,
            ))
        }
    }

    async fn unary_bytes(&self, call: &Call<'_>, body: Bytes) -> Result<Bytes, Status> {
        // Made as a server-streaming call, which is the same on the wire, because tonic's unary
        // call merges the trailers into the headers and the caller may want them apart.
        self.with_retries(call, body, |endpoint, request| async move {
            let response = Self::ready_grpc(endpoint)
                .await
                .map_err(Failed::before_headers)?
                .server_streaming(request, call.method.path.clone(), RawCodec)
                .await
                .map_err(Failed::before_headers)?;
            call.single_response(response)
                .await
                .map_err(Failed::after_headers)
        })
        .await
        .or_else(|status| match &call.method.fallback {
            Some(fallback) if call.rejected.load(Ordering::Relaxed) => {
                fallback(&status).ok_or(status)
            }
            _ => Err(status),
        })
        .inspect_err(|status| call.record_error(status))
    }

    async fn server_streaming_bytes(
        &self,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<BoxStream<Bytes>, Status> {
        let (first, rest) = self
            .with_retries(call, body, |endpoint, request| async move {
                let response = Self::ready_grpc(endpoint)
                    .await
                    .map_err(Failed::before_headers)?
                    .server_streaming(request, call.method.path.clone(), RawCodec)
                    .await
                    .map_err(Failed::before_headers)?;
                let mut stream = call.record_headers(response);
                let first = stream.message().await.map_err(Failed::after_headers)?;
                Ok((first, stream))
            })
            .await
            .inspect_err(|status| call.record_error(status))?;
        let rest = with_trailers(rest, call.response.clone());
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
        if call.retry_safe {
            let replay = Replay::new(requests, Arc::clone(&self.inner.retry_buffer));
            return self
                .with_retries(&call, Bytes::new(), |endpoint, wire| {
                    let (replay, call) = (&replay, &call);
                    async move {
                        let (response, mut aborted) =
                            Self::open_replayed_stream(call, endpoint, wire, replay).await?;
                        tokio::select! {
                            outcome = call.single_response(response) => {
                                outcome.map_err(Failed::after_headers)
                            }
                            status = &mut aborted => Err(Failed::after_headers(status)),
                        }
                    }
                })
                .await
                .inspect_err(|status| call.record_error(status));
        }
        let Pick {
            endpoint, permit, ..
        } = self.inner.endpoints.pick(call.index, &[])?;
        let (outbound, mut aborted) = abort_on_error(requests);
        let attempt = until_aborted(&mut aborted, async {
            let request = call.request(outbound);
            let response = Self::ready_grpc(endpoint)
                .await?
                .streaming(request, call.method.path.clone(), RawCodec)
                .await?;
            call.single_response(response).await
        });
        self.run(&call, permit, attempt)
            .await
            .inspect_err(|status| call.record_error(status))
    }

    async fn bidi_streaming_bytes(
        &self,
        call: Call<'_>,
        requests: BoxStream<Bytes>,
    ) -> Result<BoxStream<Bytes>, Status> {
        let (responses, aborted) = if call.retry_safe {
            let replay = Replay::new(requests, Arc::clone(&self.inner.retry_buffer));
            self.with_retries(&call, Bytes::new(), |endpoint, wire| {
                let (replay, call) = (&replay, &call);
                async move {
                    let (response, aborted) =
                        Self::open_replayed_stream(call, endpoint, wire, replay).await?;
                    Ok((call.record_headers(response), aborted))
                }
            })
            .await
            .inspect_err(|status| call.record_error(status))?
        } else {
            let Pick {
                endpoint, permit, ..
            } = self.inner.endpoints.pick(call.index, &[])?;
            let (outbound, mut aborted) = abort_on_error(requests);
            // Raced while waiting for the response headers too: a server that reads before
            // it answers would otherwise wait on input that never comes.
            let attempt = until_aborted(&mut aborted, async {
                let request = call.request(outbound);
                let response = Self::ready_grpc(endpoint)
                    .await?
                    .streaming(request, call.method.path.clone(), RawCodec)
                    .await?;
                Ok(call.record_headers(response))
            });
            let responses = self
                .run(&call, permit, attempt)
                .await
                .inspect_err(|status| call.record_error(status))?;
            (responses, aborted)
        };
        let stream = AbortableStream {
            inner: Some(with_trailers(responses, call.response.clone())),
            aborted,
        };
        Ok(crate::deadline::cut_stream(
            Some(call.deadline),
            Box::pin(stream),
        ))
    }

    /// One attempt of a retryable client or bidi stream, up to the response headers: the
    /// messages sent so far replayed from `replay`, then the rest as the caller sends them.
    /// The headers commit the call. A caller's stream that fails ends the call (committed:
    /// never retried); a failure before the headers may be retried unless the messages
    /// outgrew the retry buffer.
    async fn open_replayed_stream(
        call: &Call<'_>,
        endpoint: &Endpoint,
        wire: tonic::Request<Bytes>,
        replay: &Arc<Replay>,
    ) -> Result<(tonic::Response<tonic::Streaming<Bytes>>, Aborted), Failed> {
        let (outbound, mut aborted) = abort_on_error(replay.reader());
        // The attempt's metadata (grpc-timeout, grpc-previous-rpc-attempts), on the stream.
        let request = wire.map(|_| outbound);
        let opened = tokio::select! {
            outcome = async {
                Self::ready_grpc(endpoint)
                    .await?
                    .streaming(request, call.method.path.clone(), RawCodec)
                    .await
            } => outcome,
            status = &mut aborted => return Err(Failed::after_headers(status)),
        };
        match opened {
            Ok(response) => {
                replay.commit();
                Ok((response, aborted))
            }
            Err(status) if replay.is_committed() => Err(Failed::after_headers(status)),
            Err(status) => Err(Failed::before_headers(status)),
        }
    }

    /// A handle on an endpoint's channel, once it can take a call.
    async fn ready_grpc(endpoint: &Endpoint) -> Result<tonic::client::Grpc<Channel>, Status> {
        let mut grpc = endpoint.grpc.clone();
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
        // The span of the call being served (or a client stack's span) is the next hop's
        // parent, not the span that called us.
        if self.inner.propagates_traceparent
            && let Some(parent) = crate::call::trace_context(ctx)
        {
            metadata.insert(TRACEPARENT, parent.traceparent().to_metadata_value());
        }
        crate::context::append_entries(metadata.as_mut(), ctx.outgoing_metadata().clone(), |_| {
            true
        });
        let idempotency_key = idempotency_key.filter(|key| !key.is_empty());
        if let Some(value) = idempotency_key.and_then(|key| AsciiMetadataValue::try_from(key).ok())
        {
            metadata.insert(IDEMPOTENCY_KEY_HEADER, value);
        }
        // A stream has no one request to carry a key: only the method's idempotency counts.
        let retry_safe = state.spec.is_safe_to_retry() || idempotency_key.is_some();
        Ok(Call {
            index: method,
            method: state,
            deadline,
            metadata,
            response: (!ctx.is_serving()).then(|| ctx.response().clone()),
            retry_safe,
            rejected: AtomicBool::new(false),
        })
    }
}

impl ClientCore {
    /// The encoded request, or `RESOURCE_EXHAUSTED` when it is over the sending limit: found
    /// before anything is sent, with a message naming the rpc and both sizes.
    fn encode<Req: prost::Message>(&self, call: &Call<'_>, request: &Req) -> Result<Bytes, Status> {
        check_encoded_size(codec::encode(request), self.inner.max_encoding).map_err(|status| {
            Status::resource_exhausted(format!("{}: {}", call.method.spec.path, status.message()))
        })
    }
}

pub(super) fn check_encoded_size(body: Bytes, limit: usize) -> Result<Bytes, Status> {
    if body.len() > limit {
        Err(Status::resource_exhausted(format!(
            "the request message is {} bytes, over the sending limit of {limit} bytes",
            body.len()
        )))
    } else {
        Ok(body)
    }
}

impl Call<'_> {
    /// The one message of a unary or client-streaming response, its headers and trailers
    /// recorded.
    async fn single_response(
        &self,
        response: tonic::Response<tonic::Streaming<Bytes>>,
    ) -> Result<Bytes, Status> {
        let mut stream = self.record_headers(response);
        let message = stream.message().await?.ok_or_else(|| {
            Status::internal("the server ended the call without a response message")
        })?;
        if let Some(trailers) = stream.trailers().await?
            && let Some(response) = &self.response
        {
            response.record_trailers(trailers);
        }
        Ok(message)
    }

    /// Records the response headers where the caller reads them, and hands on the stream.
    fn record_headers(
        &self,
        response: tonic::Response<tonic::Streaming<Bytes>>,
    ) -> tonic::Streaming<Bytes> {
        let (headers, stream, _) = response.into_parts();
        if let Some(response) = &self.response {
            response.record_headers(headers);
        }
        stream
    }

    /// A failed call's metadata (a trailers-only response's, or the trailers of a stream that
    /// failed) is its trailers.
    fn record_error(&self, status: &Status) {
        if let Some(response) = &self.response {
            response.record_trailers(status.metadata().clone());
        }
    }

    /// A wire request with the call's metadata and the time left as `grpc-timeout`.
    pub(super) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        let left = self.deadline.saturating_duration_since(Instant::now());
        if let Ok(value) = format_grpc_timeout(left).parse() {
            request.metadata_mut().insert(GRPC_TIMEOUT, value);
        }
        request
    }
}

pub(super) fn deadline_exceeded(call: &Call<'_>) -> Status {
    Status::deadline_exceeded(format!(
        "deadline exceeded while calling {}",
        call.method.spec.path
    ))
}

/// tonic's channel enforces `grpc-timeout` too and reports its own expiry as `CANCELLED`
/// ("Timeout expired"); the caller must see `DEADLINE_EXCEEDED`.
pub(super) fn normalize(status: Status, call: &Call<'_>) -> Status {
    // tonic says OUT_OF_RANGE for a message over its limit; gRPC's status codes say
    // RESOURCE_EXHAUSTED.
    if status.code() == Code::OutOfRange && crate::rpc::is_size_limit_message(status.message()) {
        return Status::resource_exhausted(format!(
            "{}: {}",
            call.method.spec.path,
            status.message()
        ));
    }
    let timed_out = status.code() == Code::Cancelled
        && (status.message() == tonic::TimeoutExpired(()).to_string()
            || Instant::now() >= call.deadline);
    if timed_out {
        deadline_exceeded(call)
    } else {
        super::connection::unavailable_if_connection_lost(status)
    }
}
