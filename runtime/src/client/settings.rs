//! The builder's [`Settings`] and their resolution into a [`ClientCore`]: what options.proto
//! says for each method, overridden by what the builder was told.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use http::uri::PathAndQuery;
use tokio::sync::Notify;
use tonic::metadata::AsciiMetadataKey;

use super::balancing::LoadBalancing;
use super::breaker::{Breaker, BreakerControls, Classifier};
use super::endpoints::{self, Endpoint, Endpoints};
use super::error::ClientError;
use super::health;
use super::outliers::{OutlierDetection, OutlierState};
use super::replay::RetryBuffer;
use super::resolve::{Follow, Resolve, Target};
use super::send::Sender;
use super::shared::{ClientCore, Fallback, Inner, MethodState};
use super::throttle::Throttle;
use super::transport::{HttpVersion, Protocol, Transport};
use super::{
    BreakerPolicy, DEFAULT_DEADLINE, DEFAULT_PROPAGATED_HEADERS, HedgingPolicy, MAX_ATTEMPTS,
    RetryPolicy, RetryThrottling, ServiceInfo, TransitionHook,
};
use crate::rpc::{REQUEST_ID_HEADER, TRACEPARENT, WireSettings};

/// Where a client's endpoints come from.
pub(super) enum Endpointing {
    /// A channel, or the servers of a URL list: each with its label (`None`: the client's
    /// target).
    Fixed(Vec<(Option<String>, Transport)>),
    /// A name, resolved while the client runs, and how to reach each address it resolves to.
    Resolved {
        target: Target,
        resolver: Arc<dyn Resolve>,
        refresh: Duration,
        transport: Box<dyn Fn(SocketAddr) -> Transport + Send + Sync>,
        /// Told when a connection to one of the addresses fails or ends.
        failures: Arc<Notify>,
    },
}

/// Makes a client's endpoints, each with a breaker per method named after it: those of a URL
/// list when the client is built, those of a resolved name's addresses as they appear.
struct EndpointMaker {
    spec: &'static ServiceInfo,
    policies: Arc<[BreakerPolicy]>,
    hook: Option<TransitionHook>,
    classifiers: Arc<[Option<Classifier>]>,
    controls: Option<BreakerControls>,
    wire: WireSettings,
    /// The service each endpoint's health is watched for, if it is.
    health_check: Option<Arc<str>>,
    /// Whether the client detects outliers, so that its endpoints count their calls.
    detects_outliers: bool,
}

impl EndpointMaker {
    fn make(&self, label: String, transport: Transport) -> Arc<Endpoint> {
        let breakers = self
            .spec
            .methods
            .iter()
            .zip(self.policies.iter())
            .zip(self.classifiers.iter())
            .map(|((method, policy), classifier)| {
                let name: Arc<str> =
                    format!("{}/{}@{}", self.spec.name, method.method(), label).into();
                let breaker = Arc::new(Breaker::new(
                    name,
                    policy,
                    self.hook.clone(),
                    classifier.clone(),
                )?);
                if let Some(controls) = &self.controls {
                    controls.register(method.method(), Arc::clone(&breaker));
                }
                Some(breaker)
            })
            .collect();
        let endpoint = Arc::new(Endpoint {
            id: endpoints::next_id(),
            label,
            sender: Sender::new(transport, &self.wire),
            breakers,
            pause: Default::default(),
            in_flight: Default::default(),
            outlier: self.detects_outliers.then(OutlierState::default),
            health: Default::default(),
        });
        if let Some(service) = &self.health_check {
            health::watch(&endpoint, Arc::clone(service));
        }
        endpoint
    }
}

/// What a client keeps of its streams' sent messages for retries, per call and in all
/// (grpc-java's defaults).
const DEFAULT_RETRY_BUFFER: (usize, usize) = (1 << 20, 16 << 20);

/// A setting for one method or for all of them.
#[derive(Debug, Clone)]
pub(super) struct Override<T> {
    pub(super) all: Option<T>,
    pub(super) by_method: Vec<(String, T)>,
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
    pub(super) fn for_method(&self, name: &str) -> Option<T> {
        self.by_method
            .iter()
            .rev()
            .find(|(method, _)| method == name)
            .map(|(_, value)| value.clone())
            .or_else(|| self.all.clone())
    }
}

/// Everything a builder can override; `None` and empty mean "as options.proto says".
#[derive(Default)]
pub(super) struct Settings {
    pub(super) client_deadline: Option<Duration>,
    /// [`ClientBuilder::default_deadline`](super::ClientBuilder::default_deadline), if set.
    pub(super) default_deadline: Option<Option<Duration>>,
    pub(super) method_deadlines: Override<Duration>,
    pub(super) retry: Override<RetryPolicy>,
    pub(super) hedging: Override<HedgingPolicy>,
    pub(super) breaker: Override<BreakerPolicy>,
    pub(super) throttling: Option<Option<RetryThrottling>>,
    pub(super) max_attempts: Option<u32>,
    pub(super) retry_buffer_per_call: Option<usize>,
    pub(super) retry_buffer_per_client: Option<usize>,
    pub(super) propagate: Option<Vec<AsciiMetadataKey>>,
    /// [`ClientBuilder::forward_gateway_metadata`](super::ClientBuilder::forward_gateway_metadata),
    /// if set.
    pub(super) forward_gateway_metadata: Option<bool>,
    pub(super) hook: Option<TransitionHook>,
    pub(super) classifier: Override<Classifier>,
    pub(super) controls: Option<BreakerControls>,
    pub(super) fallbacks: Vec<(&'static str, Fallback)>,
    pub(super) target: Option<String>,
    /// How named targets are resolved ([`ClientBuilder::resolver`](super::ClientBuilder::resolver)).
    pub(super) resolver: Option<Arc<dyn Resolve>>,
    /// How often a named target is resolved again ([`ClientBuilder::resolve_every`](super::ClientBuilder::resolve_every)).
    pub(super) resolve_every: Option<Duration>,
    /// How calls spread over the endpoints ([`ClientBuilder::load_balancing`](super::ClientBuilder::load_balancing)).
    pub(super) balancing: Option<LoadBalancing>,
    /// gRFC A50's outlier detection ([`ClientBuilder::outlier_detection`](super::ClientBuilder::outlier_detection)).
    pub(super) outlier_detection: Option<OutlierDetection>,
    /// gRFC A17's health checking: the service watched ([`ClientBuilder::health_check`](super::ClientBuilder::health_check)).
    pub(super) health_check: Option<Arc<str>>,
    pub(super) wire: ClientWire,
    pub(super) protocol: Protocol,
    pub(super) http_version: HttpVersion,
    /// TLS for `https://` endpoints ([`ClientBuilder::tls`](super::ClientBuilder::tls)).
    #[cfg(feature = "tls")]
    pub(super) tls: Option<super::tls::ClientTls>,
    /// The first invalid setting, reported when the client is built.
    pub(super) error: Option<ClientError>,
}

/// A client's message limits and compression: [`WireSettings::client`] until the builder says
/// otherwise.
pub(super) struct ClientWire(pub(super) WireSettings);

impl Default for ClientWire {
    fn default() -> Self {
        Self(WireSettings::client())
    }
}

impl Settings {
    /// The core these settings describe; they were validated as they were made.
    pub(super) fn assemble(
        self,
        spec: &'static ServiceInfo,
        endpointing: Endpointing,
        target: String,
    ) -> ClientCore {
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
        let mut breaker_policies = Vec::with_capacity(spec.methods.len());
        let methods = spec
            .methods
            .iter()
            .map(|method| {
                let own = self
                    .method_deadlines
                    .for_method(method.method())
                    .or(method.deadline);
                let timeout = match (own, self.client_deadline) {
                    (Some(own), Some(client)) => Some(own.min(client)),
                    (own, client) => own.or(client),
                };
                let mut retry = self
                    .retry
                    .for_method(method.method())
                    .or_else(|| method.retry.clone())
                    .unwrap_or(RetryPolicy::DEFAULT);
                let cap = self.max_attempts.unwrap_or(MAX_ATTEMPTS);
                retry.max_attempts = retry.max_attempts.clamp(1, cap);
                // A builder's retry policy for the method replaces the proto's hedging, and a
                // builder's hedging replaces any retry policy.
                let builder_retry = self.retry.for_method(method.method()).is_some();
                let hedging = self
                    .hedging
                    .for_method(method.method())
                    .or_else(|| method.hedging.clone().filter(|_| !builder_retry))
                    .map(|mut hedging| {
                        hedging.max_attempts = hedging.max_attempts.clamp(1, cap);
                        hedging
                    });
                let breaker = self.breaker.for_method(method.method()).unwrap_or_else(|| {
                    method
                        .circuit_breaker
                        .clone()
                        .map_or(BreakerPolicy::DEFAULT, BreakerPolicy::SlidingWindow)
                });
                breaker_policies.push(breaker);
                MethodState {
                    spec: method,
                    path: PathAndQuery::from_static(method.path),
                    timeout,
                    retry,
                    hedging,
                    fallback: self
                        .fallbacks
                        .iter()
                        .rev()
                        .find(|(name, _)| *name == method.method())
                        .map(|(_, fallback)| Arc::clone(fallback)),
                }
            })
            .collect();
        let maker = EndpointMaker {
            spec,
            policies: breaker_policies.into(),
            hook: self.hook.clone(),
            classifiers: spec
                .methods
                .iter()
                .map(|method| self.classifier.for_method(method.method()))
                .collect(),
            controls: self.controls.clone(),
            wire: self.wire.0.clone(),
            health_check: self.health_check.clone(),
            detects_outliers: self.outlier_detection.is_some(),
        };
        let balancing = self.balancing.unwrap_or_default();
        let endpoints = match endpointing {
            Endpointing::Fixed(channels) => Endpoints::new(
                channels
                    .into_iter()
                    .map(|(label, transport)| {
                        maker.make(label.unwrap_or_else(|| target.clone()), transport)
                    })
                    .collect(),
                balancing,
            ),
            Endpointing::Resolved {
                target,
                resolver,
                refresh,
                transport,
                failures,
            } => Endpoints::resolved(
                Follow {
                    target,
                    resolver,
                    refresh,
                    failures,
                },
                move |address| maker.make(address.to_string(), transport(address)),
                balancing,
            ),
        };
        if let Some(detection) = self.outlier_detection {
            endpoints.detect_outliers(detection);
        }
        ClientCore {
            inner: Arc::new(Inner {
                endpoints,
                max_encoding: self.wire.0.max_encoding_message_size,
                propagates_request_id: propagate.iter().any(|key| key == REQUEST_ID_HEADER),
                propagates_traceparent: propagate.iter().any(|key| key == TRACEPARENT),
                target,
                methods,
                throttle,
                propagate,
                forwards_gateway_metadata: self.forward_gateway_metadata.unwrap_or(true),
                retry_buffer: {
                    let (per_call, per_client) = DEFAULT_RETRY_BUFFER;
                    Arc::new(RetryBuffer {
                        per_call: self.retry_buffer_per_call.unwrap_or(per_call),
                        per_client: self.retry_buffer_per_client.unwrap_or(per_client),
                        used: AtomicUsize::new(0),
                    })
                },
                default_deadline: self.default_deadline.unwrap_or(Some(DEFAULT_DEADLINE)),
            }),
        }
    }
}
