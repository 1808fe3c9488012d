//! The typed calls of a [`ClientCore`] (unary and the three streaming shapes), turned into
//! attempts ([`super::attempt`]) and their answers back into messages and streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use tokio::time::Instant;
use tonic::Status;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use super::attempt::{Answered, Outbound, Receive};
use super::breaker::BreakerState;
use super::codec;
use super::codec::check_encoded_size;
use super::endpoints::{self};
use super::replay::{Replay, RetryBuffer};
use super::settings::{Endpointing, Settings};
use super::shared::{Call, ClientCore};
use super::streams::{AbortableStream, decode_stream, encode_stream};
use super::transport::{Protocol, Transport};
use super::{Channel, IDEMPOTENCY_KEY_HEADER, ServiceInfo};
use crate::rpc::TRACEPARENT;
use crate::{BoxStream, Context};

/// The bound of a call sent with no deadline: far enough to be none, near enough for tokio's
/// timer.
const UNBOUNDED: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl ClientCore {
    /// A core with the policies of options.proto (and the built-in defaults) over `channel`.
    pub fn new(spec: &'static ServiceInfo, channel: Channel) -> Self {
        let transport = Transport::channel(channel, Protocol::Grpc, spec);
        Settings::default().assemble(
            spec,
            Endpointing::Fixed(vec![(None, transport)]),
            "channel".to_owned(),
        )
    }

    /// A core with the policies of options.proto over the client's own connection to `origin`,
    /// made as `dial` says (the test harness's servers: a loopback URL, or in-memory pipes),
    /// named `target`: the connection code production clients use.
    #[cfg_attr(
        not(feature = "host"),
        expect(dead_code, reason = "the harness needs `host`")
    )]
    pub(crate) fn dialled(
        spec: &'static ServiceInfo,
        origin: http::Uri,
        dial: super::connector::Dial,
        target: String,
    ) -> Self {
        let transport = Transport::http2(origin, Protocol::Grpc, spec, dial);
        Settings::default().assemble(spec, Endpointing::Fixed(vec![(None, transport)]), target)
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

    /// Whether the servers this client calls have asked it to pause (each refused a call for
    /// load): give it to [`Admission::shed_while`](crate::call::admission::Admission::shed_while)
    /// so that a server sheds the calls that would need them at its door.
    pub fn backoff(&self) -> super::Backoff {
        let service = self
            .inner
            .methods
            .first()
            .map_or("", |method| method.spec.service());
        super::Backoff::new(service, Arc::clone(self.inner.endpoints.cell()) as _)
    }

    /// The endpoints the client calls now, by their URL (a URL list), their address (a
    /// resolved name, as `ip:port`), or the client's target (a channel). A resolved name's
    /// change shows here once the resolver has put it in force.
    pub fn endpoints(&self) -> Vec<String> {
        self.inner.endpoints.labels()
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
        // The call moved into the future that awaits it, not kept there beside the `Result` it
        // came out of.
        match started {
            Ok((call, body)) => Either::Left(async move {
                let outbound = Outbound::Message(body);
                codec::decode(
                    self.call(&call, outbound, Receive::Message)
                        .await?
                        .message()?,
                )
            }),
            Err(status) => Either::Right(std::future::ready(Err(status))),
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
        // As in `unary`: the call moved into the future that awaits it.
        match started {
            Ok((call, body)) => Either::Left(async move {
                let outbound = Outbound::Message(body);
                let answer = self.call(&call, outbound, Receive::FirstMessage).await?;
                Ok(decode_stream(answer.stream()?))
            }),
            Err(status) => Either::Right(std::future::ready(Err(status))),
        }
    }

    /// Calls client-streaming method number `method`. Retried (where safe, and while what was
    /// sent fits the retry buffer) until the response headers arrive. If `requests` yields an
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
        let requests = encode_stream(requests, self.inner.max_encoding);
        match self.prepare(method, ctx, None) {
            Ok(call) => {
                let outbound = self.outbound_stream(&call, requests);
                Either::Left(async move {
                    codec::decode(
                        self.call(&call, outbound, Receive::Message)
                            .await?
                            .message()?,
                    )
                })
            }
            Err(status) => Either::Right(std::future::ready(Err(status))),
        }
    }

    /// Calls bidi-streaming method number `method`. Retried as client streams are. If
    /// `requests` yields an error, the call is cancelled and the response stream ends with that
    /// error.
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
        let requests = encode_stream(requests, self.inner.max_encoding);
        match self.prepare(method, ctx, None) {
            Ok(call) => {
                let outbound = self.outbound_stream(&call, requests);
                Either::Left(async move {
                    let answer = self.call(&call, outbound, Receive::Headers).await?;
                    Ok(decode_stream(answer.stream()?))
                })
            }
            Err(status) => Either::Right(std::future::ready(Err(status))),
        }
    }

    /// Every call, whatever its kind: its attempts under the policy in force (hedging, or
    /// retries, of which a call unsafe to retry gets one), then the answer as the caller reads
    /// it, or the rejection a fallback answers.
    async fn call(
        &self,
        call: &Call<'_>,
        outbound: Outbound,
        receive: Receive,
    ) -> Result<Answer, Status> {
        let answered = match call.hedging() {
            Some(policy) => self.with_hedging(call, &outbound, receive, policy).await,
            None => self.with_retries(call, &outbound, receive).await,
        };
        match answered {
            Ok(Answered::Message(message)) => Ok(Answer::Message(message)),
            Ok(Answered::Stream { responses, aborted }) => {
                let stream: BoxStream<Bytes> = match aborted {
                    Some(aborted) => Box::pin(AbortableStream {
                        inner: Some(responses),
                        aborted,
                    }),
                    None => responses,
                };
                Ok(Answer::Stream(crate::deadline::cut_client_stream(
                    call.deadline,
                    call.server_deadline,
                    stream,
                )))
            }
            Err(status) => match &call.method.fallback {
                Some(fallback) if call.rejected.load(Ordering::Relaxed) => {
                    fallback(&status).map(Answer::Message).ok_or(status)
                }
                _ => Err(status),
            }
            .inspect_err(|status| call.record_error(status)),
        }
    }

    /// A streamed request, kept for replays while the call may be retried. A call that may not
    /// keeps nothing: it can still be sent again transparently if the server refuses it before
    /// the first message is taken.
    fn outbound_stream(&self, call: &Call<'_>, requests: BoxStream<Bytes>) -> Outbound {
        let buffer = if call.retry_safe {
            Arc::clone(&self.inner.retry_buffer)
        } else {
            Arc::new(RetryBuffer::none())
        };
        Outbound::Stream(Replay::new(requests, buffer))
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
        let (deadline, caller_bound) = match (ctx.deadline(), own) {
            (Some(caller), Some(own)) => (caller.min(own), caller < own),
            (Some(caller), None) => (caller, true),
            (None, Some(own)) => (own, false),
            (None, None) => (
                now + self.inner.default_deadline.unwrap_or(UNBOUNDED),
                false,
            ),
        };
        let sends_deadline =
            ctx.deadline().is_some() || own.is_some() || self.inner.default_deadline.is_some();
        if deadline <= now {
            return Err(Status::deadline_exceeded(format!(
                "the deadline passed before {} was called: the caller's budget is spent",
                state.spec.path
            )));
        }
        // A gateway's call to this very rpc: the client is its proxy to the service, and the
        // metadata its header rules made goes on whole, as grpc-gateway sends it.
        let proxied = self.inner.forwards_gateway_metadata
            && ctx
                .gateway_rpc()
                .is_some_and(|rpc| rpc.path == state.spec.path);
        // Room for the most it can hold (the forwarded keys, the outgoing metadata, the request
        // id's and the trace parent's slots, the idempotency key) when that is more than the
        // six entries a header map makes room for on its first insert; an empty map allocates
        // nothing until then.
        let forwarded = if proxied {
            ctx.metadata().len()
        } else {
            self.inner.propagate.len()
        };
        let most = forwarded + ctx.outgoing_metadata().len() + 3;
        let mut metadata = if most > 6 {
            MetadataMap::with_capacity(most)
        } else {
            MetadataMap::new()
        };
        // A request-id interceptor's id has a slot of its own, sent (below) in place of the
        // request metadata's, which stays what the caller sent.
        let id_slot = ctx.request_id().is_some();
        for (name, value) in ctx.metadata().as_ref() {
            let allowed = proxied
                || self
                    .inner
                    .propagate
                    .iter()
                    .any(|key| key.as_str() == name.as_str());
            if !allowed || (id_slot && name == crate::rpc::REQUEST_ID_NAME) {
                continue;
            }
            let mut value = value.clone();
            if crate::rpc::is_unique_per_call(name.as_str()) {
                // New on every call: never indexed (see `rpc::never_indexed`).
                value.set_sensitive(true);
            }
            metadata.as_mut().append(name.clone(), value);
        }
        if id_slot
            && (proxied || self.inner.propagates_request_id)
            && let Some(id) = ctx.request_id_to_send()
        {
            let name = &crate::rpc::REQUEST_ID_NAME;
            metadata.as_mut().insert(name, id.to_header_value());
        }
        // The span of the call being served (or a client stack's span) is the next hop's
        // parent, not the span that called us.
        if (proxied || self.inner.propagates_traceparent)
            && let Some(parent) = crate::call::trace_context(ctx)
        {
            let value = crate::rpc::never_indexed(parent.traceparent().to_metadata_value());
            metadata.insert(TRACEPARENT, value);
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
            server_deadline: crate::deadline::earliest_server_deadline(deadline, now),
            sends_deadline,
            metadata,
            response: (!ctx.is_serving()).then(|| ctx.response().clone()),
            retry_safe,
            rejected: AtomicBool::new(false),
            caller_bound,
            caller_shedding: crate::call::admission::serving_is_shedding(ctx),
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

/// A call's answer as its caller reads it.
enum Answer {
    Message(Bytes),
    Stream(BoxStream<Bytes>),
}

impl Answer {
    fn message(self) -> Result<Bytes, Status> {
        match self {
            Self::Message(message) => Ok(message),
            Self::Stream(_) => Err(Status::internal("a stream answered a single-message call")),
        }
    }

    fn stream(self) -> Result<BoxStream<Bytes>, Status> {
        match self {
            Self::Stream(stream) => Ok(stream),
            Self::Message(_) => Err(Status::internal("a message answered a streaming call")),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataMap;

    use super::*;
    use crate::rpc::{MethodInfo, MethodKind};

    static METHODS: [MethodInfo; 2] = [
        MethodInfo::new("/test.Svc/Get", MethodKind::Unary),
        MethodInfo::new("/test.Svc/Put", MethodKind::Unary),
    ];
    static SERVICE: ServiceInfo = ServiceInfo::new("test.Svc", &METHODS);

    /// A core over a channel that connects on first use, which `prepare` never makes.
    fn core(settings: Settings) -> ClientCore {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let transport = Transport::channel(channel, Protocol::Grpc, &SERVICE);
        settings.assemble(
            &SERVICE,
            Endpointing::Fixed(vec![(None, transport)]),
            "test".to_owned(),
        )
    }

    /// What a gateway's header rules make of a REST call to `/test.Svc/Get`.
    fn gateway_context() -> Context {
        let mut metadata = MetadataMap::new();
        for (key, value) in [
            ("authorization", "Bearer t0ken"),
            ("x-request-id", "r-1"),
            ("tenant", "acme"),
            ("grpcgateway-user-agent", "curl/8"),
            ("x-forwarded-for", "192.0.2.7"),
        ] {
            metadata.insert(key, value.parse().unwrap());
        }
        let mut ctx = Context::new().with_metadata(metadata);
        static ROUTE: crate::rpc::HttpBinding = crate::rpc::HttpBinding::new("GET", "/v1/a");
        ctx.set_gateway_rpc(&METHODS[0], &ROUTE);
        ctx
    }

    fn sent(core: &ClientCore, method: usize, ctx: &Context) -> Vec<String> {
        let call = core.prepare(method, ctx, None).unwrap();
        let mut keys: Vec<_> = call
            .metadata
            .as_ref()
            .keys()
            .map(|key| key.as_str().to_owned())
            .collect();
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn a_gateways_call_to_the_same_rpc_sends_its_metadata_on_whole() {
        let core = core(Settings::default());
        let ctx = gateway_context();
        let whole = [
            "authorization",
            "grpcgateway-user-agent",
            "tenant",
            "x-forwarded-for",
            "x-request-id",
        ];
        assert_eq!(sent(&core, 0, &ctx), whole);
        // Another rpc called with the gateway call's context is a call made while serving it:
        // the allow-list alone.
        assert_eq!(sent(&core, 1, &ctx), ["x-request-id"]);
        // Metadata the handler made its own is no longer the gateway's.
        let replaced = ctx.clone().with_metadata(ctx.metadata().clone());
        assert_eq!(sent(&core, 0, &replaced), ["x-request-id"]);
        // A copy made to change it still is.
        let mut changed = ctx.clone();
        changed.metadata_mut().insert("added", "1".parse().unwrap());
        assert_eq!(sent(&core, 0, &changed).len(), whole.len() + 1);
    }

    #[tokio::test]
    async fn forwarding_the_gateways_metadata_can_be_turned_off() {
        let core = core(Settings {
            forward_gateway_metadata: Some(false),
            ..Settings::default()
        });
        assert_eq!(sent(&core, 0, &gateway_context()), ["x-request-id"]);
    }
}
