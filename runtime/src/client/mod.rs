//! The machinery behind every generated client: deadlines, propagation, retries, throttling and
//! circuit breakers.
//!
//! A generated client (`InventoryServiceClient`…) is a thin shell around a [`ClientCore`] and a
//! [`ServiceInfo`] (the service's generated description) holding what options.proto says. It implements the service's domain
//! trait, so it can be passed anywhere the trait is expected. Every call goes through here:
//!
//! 1. **Deadline.** The call's deadline is the earliest of the caller [`Context`](crate::Context)'s deadline, the
//!    method's deadline (its own, else its service's `default_deadline`, else one set with
//!    [`ClientBuilder::method_deadline`]), and the client-wide [`ClientBuilder::deadline`]. When
//!    none of these exists, [`DEFAULT_DEADLINE`] (30 s) applies
//!    ([`ClientBuilder::default_deadline`] changes it, or sends such calls with none). The deadline is sent as
//!    `grpc-timeout` and enforced locally; expiry is `DEADLINE_EXCEEDED`, never `CANCELLED`. A
//!    context whose deadline has passed fails locally, without touching the network.
//! 2. **Propagation.** The headers on the allow-list (`x-request-id`, `traceparent`,
//!    `tracestate` unless [`ClientBuilder::propagate_headers`] says otherwise) are copied from the
//!    caller's context, so a handler passing its own context on forwards them downstream along
//!    with its remaining budget.
//! 3. **Circuit breaker**, one per method (and per endpoint): while open, a call fails fast with
//!    `UNAVAILABLE` naming the breaker and carrying a `RetryInfo` detail. Only dependency
//!    failures count against it (see [`is_dependency_failure`]).
//! 4. **Retries** (gRFC A6), only where safe: the method's `idempotency_level` is `IDEMPOTENT` or
//!    `NO_SIDE_EFFECTS`, or the request's idempotency-key field is non-empty (the key is then
//!    sent as `idempotency-key` metadata too, the same on every attempt). On the policy's
//!    retryable codes, at most 5 attempts ([`ClientBuilder::max_attempts`] moves the cap), each
//!    retry carrying `grpc-previous-rpc-attempts`; exponential backoff jittered by ±20 %, or
//!    exactly the server's pushback (after which the backoff starts over), all inside the one
//!    deadline, and throttled by a token bucket shared by the client's methods. A call is
//!    committed, and never retried, once the response headers arrive; a stream the server
//!    refused unprocessed is sent again once (a transparent retry). Client and bidi streams of
//!    idempotent rpcs keep what they sent, within [`ClientBuilder::retry_buffer`], to send it
//!    again on a retry; past the buffer they are committed.
//! 5. **Backing off.** A server that refuses a call for load answers with a pushback
//!    (`grpc-retry-pushback-ms`); the client then sends that endpoint nothing until the pause
//!    is over (calls fail at once with `UNAVAILABLE` and what is left of the pause), and its
//!    breaker counts none of it. [`ClientCore::backoff`] tells a server to shed at its door
//!    meanwhile.
//! 6. **Balancing.** A client of several endpoints ([`ClientBuilder::connect_lazy`]) sends each
//!    attempt to the next endpoint, round robin, whose breaker admits it, and a retry to an
//!    endpoint the call has not tried yet when one admits it; a dead endpoint opens its own
//!    breakers only.

mod attempt;
mod backoff;
mod balancing;
mod breaker;
mod builder;
mod codec;
mod connect;
mod connection;
pub(crate) mod connector;
mod core;
mod endpoints;
mod error;
mod health;
mod hedging;
mod http2;
mod outliers;
mod policy;
mod replay;
mod resolve;
mod response;
mod retry;
mod send;
mod settings;
mod shared;
mod streams;
mod throttle;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub use tonic::transport::Channel;

pub use backoff::Backoff;
pub use balancing::LoadBalancing;
pub use breaker::{
    BreakerControls, BreakerState, BreakerTransition, CallOutcome, Classifier, TransitionHook,
    default_classification,
};
pub use builder::ClientBuilder;
pub use error::ClientError;
pub use outliers::{FailurePercentage, OutlierDetection, SuccessRate};
pub use policy::{
    Adaptive, BreakerPolicy, DEFAULT_DEADLINE, HedgingPolicy, MAX_ATTEMPTS, RetryPolicy,
    RetryThrottling, SlidingWindow, is_dependency_failure,
};
pub use resolve::{Dns, Resolution, Resolve, Target};
pub use shared::ClientCore;
#[cfg(feature = "tls")]
pub use tls::ClientTls;
pub use transport::{HttpVersion, Protocol};

pub use crate::rpc::{
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PROPAGATED_HEADERS, MethodInfo, MethodKind,
    PREVIOUS_ATTEMPTS_HEADER, ServiceInfo,
};

/// The metadata key carrying a request's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Implemented by every generated client, so that [`ClientBuilder`] can build it.
pub trait GeneratedClient: Sized {
    /// The service's rpcs and what options.proto says about them: the generated `static`
    /// [`ServiceInfo`] of the service.
    const SERVICE: &'static ServiceInfo;

    /// Wraps a configured core.
    fn from_core(core: ClientCore) -> Self;
}
