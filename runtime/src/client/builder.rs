//! [`ClientBuilder`]: the overrides of what options.proto says, and their resolution into a
//! [`ClientCore`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};

use tonic::metadata::AsciiMetadataKey;

use super::breaker::{BreakerControls, CallOutcome};
use super::error::ClientError;
use super::settings::{Endpointing, Settings};
use super::shared::Fallback;
use super::transport::{HttpVersion, Protocol, Transport};

mod targets;
use super::{
    BreakerPolicy, BreakerTransition, Channel, GeneratedClient, HedgingPolicy, MethodKind,
    RetryPolicy, RetryThrottling, ServiceInfo,
};

/// Overrides the policies a generated client reads from options.proto, then builds it.
///
/// Method names are the rpc names of the .proto file (`"CheckStock"`); an unknown name is an
/// error when the client is built, not a setting silently ignored.
pub struct ClientBuilder<C> {
    spec: &'static ServiceInfo,
    settings: Settings,
    _client: PhantomData<fn() -> C>,
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
            spec: C::SERVICE,
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

    /// Hedges every safe call of the service (see [`HedgingPolicy`]), in place of its retry
    /// policy.
    #[must_use]
    pub fn hedging_policy(mut self, policy: HedgingPolicy) -> Self {
        self.settings.hedging.all = Some(policy);
        self
    }

    /// Hedges the safe calls of one method, in place of its retry policy.
    #[must_use]
    pub fn method_hedging_policy(mut self, method: &str, policy: HedgingPolicy) -> Self {
        self.check_method(method);
        self.settings
            .hedging
            .by_method
            .push((method.to_owned(), policy));
        self
    }

    /// The most attempts any call makes, the first included, whatever a retry policy asks:
    /// [`MAX_ATTEMPTS`](super::MAX_ATTEMPTS) (5, as grpc-go) unless raised or lowered here (at least 1). gRFC A6
    /// has clients cap a service's `maxAttempts` this way.
    #[must_use]
    pub fn max_attempts(mut self, cap: u32) -> Self {
        self.settings.max_attempts = Some(cap.max(1));
        self
    }

    /// How much of the messages a retryable client or bidi stream has sent is kept, so that a
    /// retry can send them again: `per_call` bytes for one call, `per_client` for all of the
    /// client's calls together (by default 1 MiB and 16 MiB, as grpc-java). A call that would
    /// keep more is committed: it goes on, but is no longer retried.
    #[must_use]
    pub fn retry_buffer(self, per_call: usize, per_client: usize) -> Self {
        self.retry_buffer_per_call(per_call)
            .retry_buffer_per_client(per_client)
    }

    /// How much of the messages one retryable stream has sent is kept for a retry (1 MiB by
    /// default; see [`retry_buffer`](Self::retry_buffer)).
    #[must_use]
    pub fn retry_buffer_per_call(mut self, bytes: usize) -> Self {
        self.settings.retry_buffer_per_call = Some(bytes);
        self
    }

    /// How much of the messages all of the client's retryable streams have sent is kept for
    /// retries together (16 MiB by default; see [`retry_buffer`](Self::retry_buffer)).
    #[must_use]
    pub fn retry_buffer_per_client(mut self, bytes: usize) -> Self {
        self.settings.retry_buffer_per_client = Some(bytes);
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
    /// ([`DEFAULT_PROPAGATED_HEADERS`](super::DEFAULT_PROPAGATED_HEADERS) by default). A
    /// gateway's call to the same rpc forwards its whole metadata instead (see
    /// [`forward_gateway_metadata`](Self::forward_gateway_metadata)).
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

    /// Whether a call made for a REST gateway's call to the same rpc (the client as the
    /// gateway's domain: proxy mode) sends the request metadata the gateway's header rules
    /// made, whole: `Authorization`, `Grpc-Metadata-*` keys, the `grpcgateway-` headers and
    /// `x-forwarded-*`, as grpc-gateway sends them to its backend (the default, `true`). With
    /// `false` such a call forwards only the [allow-list](Self::propagate_headers), as every
    /// other call does.
    #[must_use]
    pub fn forward_gateway_metadata(mut self, forward: bool) -> Self {
        self.settings.forward_gateway_metadata = Some(forward);
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

    /// Decides how each call's outcome counts for its breaker: a failure, a success, or
    /// ignored (counted neither way). By default dependency failures and a `CANCELLED` sent by
    /// the server are failures, `RESOURCE_EXHAUSTED` (load shedding, quotas) is ignored and
    /// every other code a success ([`default_classification`](super::default_classification));
    /// a call the caller gives up on is never counted, and neither is a refusal for load (a
    /// status with `grpc-retry-pushback-ms`) or a `DEADLINE_EXCEEDED` at the caller's own
    /// remaining budget, whatever the classifier says.
    #[must_use]
    pub fn breaker_classifier(
        mut self,
        classify: impl Fn(Code) -> CallOutcome + Send + Sync + 'static,
    ) -> Self {
        self.settings.classifier.all = Some(Arc::new(classify));
        self
    }

    /// Like [`breaker_classifier`](Self::breaker_classifier), for the breaker of one method
    /// only (it wins over the client-wide one): a method whose `NOT_FOUND` means the dependency
    /// lost its data, or whose `RESOURCE_EXHAUSTED` means it is broken.
    #[must_use]
    pub fn method_breaker_classifier(
        mut self,
        method: &str,
        classify: impl Fn(Code) -> CallOutcome + Send + Sync + 'static,
    ) -> Self {
        self.check_method(method);
        self.settings
            .classifier
            .by_method
            .push((method.to_owned(), Arc::new(classify)));
        self
    }

    /// Answers the calls of unary rpc `method` that its circuit breaker turns away (every
    /// endpoint's breaker open) with what `fallback` returns for the rejection: cached data, a
    /// default, a degraded answer. `None` lets the rejection through as the call's
    /// `UNAVAILABLE`. Calls that reached the service and failed are not answered by it.
    #[must_use]
    pub fn method_fallback<Resp>(
        mut self,
        method: &str,
        fallback: impl Fn(&Status) -> Option<Resp> + Send + Sync + 'static,
    ) -> Self
    where
        Resp: prost::Message,
    {
        self.check_method(method);
        if let Some(spec) = self
            .spec
            .methods
            .iter()
            .find(|spec| spec.method() == method)
        {
            if spec.kind != MethodKind::Unary {
                self.fail(ClientError::FallbackNotUnary {
                    service: self.spec.name,
                    method: spec.method(),
                });
            }
            let encoded: Fallback = Arc::new(move |status: &Status| {
                fallback(status).map(|response| Bytes::from(response.encode_to_vec()))
            });
            self.settings.fallbacks.push((spec.method(), encoded));
        }
        self
    }

    /// Registers the client's breakers with `controls`, which can then force them open, turn
    /// them off or reset them at run time.
    #[must_use]
    pub fn breaker_controls(mut self, controls: &BreakerControls) -> Self {
        self.settings.controls = Some(controls.clone());
        self
    }

    /// The largest response message the client decodes (default 4 MiB, as gRPC's); a larger one
    /// fails the call with `RESOURCE_EXHAUSTED`.
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.settings.wire.0.max_decoding_message_size = limit;
        self
    }

    /// The largest request message the client sends (default 4 MiB); a larger one fails the
    /// call with `RESOURCE_EXHAUSTED` before anything is sent.
    #[must_use]
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.settings.wire.0.max_encoding_message_size = limit;
        self
    }

    /// Compresses requests with `encoding` (`gzip` or `zstd`). The server must accept it: a
    /// server that does not answers `UNIMPLEMENTED`.
    #[must_use]
    pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.settings.wire.0.send_compressed = vec![encoding];
        self
    }

    /// Tells servers the client accepts responses compressed with `encoding`; call once per
    /// encoding.
    #[must_use]
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.settings.wire.0.accept_compressed.push(encoding);
        self
    }

    /// The deadline of a call that nothing else bounds (no caller deadline, none in the proto,
    /// none set on this builder): [`DEFAULT_DEADLINE`](super::DEFAULT_DEADLINE), 30 s, unless
    /// set here. `None` sends such calls with no deadline at all, as grpc-go and connect-go
    /// clients do by default: the server then sees no `grpc-timeout`, and the call waits as
    /// long as the server takes.
    #[must_use]
    pub fn default_deadline(mut self, timeout: Option<Duration>) -> Self {
        self.settings.default_deadline = Some(timeout);
        self
    }

    /// The protocol the client speaks: gRPC (the default), gRPC-Web or Connect. Deadlines,
    /// retries, hedging, breakers and pushback work the same over each; the server must speak
    /// it too (a generated server speaks all three).
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.settings.protocol = protocol;
        self
    }

    /// The HTTP version of gRPC-Web and Connect calls to the endpoints of
    /// [`connect_lazy`](Self::connect_lazy): HTTP/2 by default, HTTP/1.1 as browsers and
    /// proxies without HTTP/2 speak (one call at a time per connection; client and bidi streams
    /// are then sent whole before the answer is read). gRPC always takes HTTP/2, and a client
    /// built over a channel takes the channel's.
    #[must_use]
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.settings.http_version = version;
        self
    }

    /// Names the target in breaker names and messages (by default the endpoint URLs, or
    /// `channel` for a client built from a channel).
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.settings.target = Some(target.into());
        self
    }

    /// How the named targets of [`connect_lazy`](Self::connect_lazy) are resolved: a target
    /// that is not an `http://` or `https://` URL (`dns:///inventory:50051`, or a scheme of the
    /// resolver's own, `consul:///orders`) goes to `resolver`. By default `dns:` targets go to
    /// the system's resolver ([`Dns`](super::Dns)) and other schemes are refused.
    #[must_use]
    pub fn resolver(mut self, resolver: impl super::Resolve) -> Self {
        self.settings.resolver = Some(Arc::new(resolver));
        self
    }

    /// How often a named target is resolved again while nothing else asks for it (30 s by
    /// default; a failed or ended connection to one of its addresses asks for it within a
    /// second). A shorter period follows a scale-out sooner, for one query per period.
    #[must_use]
    pub fn resolve_every(mut self, period: Duration) -> Self {
        self.settings.resolve_every = Some(period.max(Duration::from_millis(10)));
        self
    }

    /// How calls spread over the endpoints: [`LoadBalancing::round_robin`] (the default),
    /// [`LoadBalancing::pick_first`] or [`LoadBalancing::least_request`] (gRFC A48). Breakers,
    /// pauses and "a retry goes to an endpoint the call has not tried" apply under each.
    ///
    /// [`LoadBalancing::round_robin`]: super::LoadBalancing::round_robin
    /// [`LoadBalancing::pick_first`]: super::LoadBalancing::pick_first
    /// [`LoadBalancing::least_request`]: super::LoadBalancing::least_request
    #[must_use]
    pub fn load_balancing(mut self, policy: super::LoadBalancing) -> Self {
        self.settings.balancing = Some(policy);
        self
    }

    /// Ejects the endpoints whose calls fail far more than the others' for a while (gRFC A50):
    /// see [`OutlierDetection`](super::OutlierDetection) and how it relates to the breakers.
    /// Off by default. The client must then be built inside a tokio runtime, which runs the
    /// evaluation every interval.
    #[must_use]
    pub fn outlier_detection(mut self, detection: super::OutlierDetection) -> Self {
        self.settings.outlier_detection = Some(detection);
        self
    }

    /// Watches each endpoint's health (gRFC A17): `grpc.health.v1.Health/Watch` for `service`
    /// (the service's name, as `FOO_SERVICE.name` gives it, or `""` for the server as a whole)
    /// on the endpoint's connection, and sends no new calls to one that says it is not serving,
    /// such as a draining pod, until it says it is again. A server without the health service
    /// is taken as serving. Off by default. The client must then be built inside a tokio
    /// runtime, which runs the watches.
    #[must_use]
    pub fn health_check(mut self, service: impl Into<String>) -> Self {
        self.settings.health_check = Some(service.into().into());
        self
    }

    /// TLS for the `https://` endpoints of [`connect_lazy`](Self::connect_lazy) (feature
    /// `tls`): the CAs to trust, a client certificate, the name to verify. They are dialled by
    /// the same connection code as `http://` ones, with TLS under it; without this, an
    /// `https://` endpoint trusts only the roots of the `tls-native-roots` and
    /// `tls-webpki-roots` features, if compiled in.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, tls: super::ClientTls) -> Self {
        self.settings.tls = Some(tls);
        self
    }

    /// Builds the client over `channel`, in the builder's [`protocol`](Self::protocol).
    pub fn build(self, channel: Channel) -> Result<C, ClientError> {
        let transport = Transport::channel(channel, self.settings.protocol, self.spec);
        self.finish(
            Endpointing::Fixed(vec![(None, transport)]),
            "channel".to_owned(),
        )
    }

    fn check_method(&mut self, name: &str) {
        if !self
            .spec
            .methods
            .iter()
            .any(|method| method.method() == name)
        {
            self.fail(ClientError::UnknownMethod {
                service: self.spec.name,
                method: name.to_owned(),
                known: self
                    .spec
                    .methods
                    .iter()
                    .map(|method| method.method())
                    .collect(),
            });
        }
    }

    fn fail(&mut self, error: ClientError) {
        self.settings.error.get_or_insert(error);
    }

    /// `endpointing` says where the endpoints come from.
    fn finish(
        mut self,
        endpointing: Endpointing,
        default_target: String,
    ) -> Result<C, ClientError> {
        if let Some(error) = self.settings.error.take() {
            return Err(error);
        }
        let target = self.settings.target.take().unwrap_or(default_target);
        Ok(C::from_core(self.settings.assemble(
            self.spec,
            endpointing,
            target,
        )))
    }
}
