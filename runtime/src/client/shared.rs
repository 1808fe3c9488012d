//! What every call of a client shares: the client's state ([`ClientCore`], one `Arc` of
//! it), each rpc's settings, and one call's description ([`Call`]), which the attempt path,
//! the typed calls and the settings all read. Below all of them, so that none of them imports
//! another for these.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use tokio::time::Instant;
use tonic::Status;
use tonic::metadata::{AsciiMetadataKey, MetadataMap};

use super::endpoints::Endpoints;
use super::replay::RetryBuffer;
use super::throttle::Throttle;
use super::{HedgingPolicy, MethodInfo, RetryPolicy};
use crate::context::ResponseMetadata;

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
    /// Whether `x-request-id` is on the propagation list.
    pub(super) propagates_request_id: bool,
    /// Whether `traceparent` is on the propagation list.
    pub(super) propagates_traceparent: bool,
    pub(super) target: String,
    pub(super) methods: Vec<MethodState>,
    pub(super) throttle: Option<Throttle>,
    pub(super) propagate: Vec<AsciiMetadataKey>,
    /// Whether a gateway's call to the same rpc sends its whole request metadata on
    /// ([`ClientBuilder::forward_gateway_metadata`](super::ClientBuilder::forward_gateway_metadata)).
    pub(super) forwards_gateway_metadata: bool,
    /// What client and bidi streams keep of their sent messages for a retry.
    pub(super) retry_buffer: Arc<RetryBuffer>,
    /// The deadline of a call nothing else bounds; `None` sends such calls with none.
    pub(super) default_deadline: Option<Duration>,
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
        let set = self.inner.endpoints.snapshot();
        let breakers: Vec<_> = set
            .list
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
    /// The earliest the server's deadline may pass: the `grpc-timeout` sent is a little short of
    /// the time left (`deadline::earliest_server_deadline`), so a server that enforces it may
    /// cancel the call that much before `deadline`. A `CANCELLED` from then on is the
    /// deadline's, as grpc-go reports a cancelling reset once its deadline has passed.
    pub(super) server_deadline: Instant,
    /// Whether the deadline goes out as `grpc-timeout`: not for a call with no deadline at all
    /// ([`ClientBuilder::default_deadline`](super::ClientBuilder::default_deadline)`(None)`),
    /// whose `deadline` is only a far bound.
    pub(super) sends_deadline: bool,
    pub(super) metadata: MetadataMap,
    /// Where the response metadata goes: the caller's context, unless it is serving a call (see
    /// [`Context::is_serving`]).
    pub(super) response: Option<ResponseMetadata>,
    /// Whether the call may be retried: its method is idempotent or has no side effects, or its
    /// request carries an idempotency key.
    pub(super) retry_safe: bool,
    /// Set when a breaker turned the call away without sending it.
    pub(super) rejected: AtomicBool,
    /// Whether the deadline is the caller's remaining budget rather than the method's own: a
    /// call cut there says the caller was short of time, not that the dependency is slow.
    pub(super) caller_bound: bool,
    /// Whether the call is made for a call its server let in while shedding load.
    pub(super) caller_shedding: bool,
}

impl Call<'_> {
    /// The hedging policy in force: the method's, for a call safe to send more than once.
    pub(super) fn hedging(&self) -> Option<&HedgingPolicy> {
        self.method.hedging.as_ref().filter(|_| self.retry_safe)
    }

    /// A failed call's metadata (a trailers-only response's, or the trailers of a stream that
    /// failed) is its trailers.
    pub(super) fn record_error(&self, status: &Status) {
        if let Some(response) = &self.response {
            response.record_trailers(status.metadata().clone());
        }
    }
}
