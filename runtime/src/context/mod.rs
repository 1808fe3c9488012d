//! The call context every domain trait method receives, and the response metadata it carries.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

mod response;

pub use response::{MetadataGuard, ResponseMetadata};
pub(crate) use response::{append_entries, is_application_key};

/// What a domain trait method knows about the call it serves, independent of the transport.
///
/// The gRPC adapter builds it from the wire request (deadline from `grpc-timeout`, metadata,
/// peer address); the REST gateway from the HTTP request; callers in tests and in-process code
/// build it with [`Context::new`] and the `with_…` methods. Deadlines are
/// [`tokio::time::Instant`]s so that tests with paused time see them move with the clock.
///
/// # Metadata in both directions
///
/// - [`metadata`](Self::metadata) is the request metadata of the call being served: what the
///   caller sent. A generated client passed this context forwards only its allow-listed keys
///   (request id and trace context) downstream, never the rest (an `authorization` header meant
///   for this service must not leak to the next one).
/// - [`outgoing_metadata`](Self::outgoing_metadata) is metadata the caller attaches to the calls
///   made with this context: a generated client sends all of it, ASCII keys as they are and
///   `-bin` keys base64-encoded, as gRPC requires. Nothing a server receives lands here.
/// - [`response`](Self::response) holds the response headers and trailers of the call: a handler
///   sets them, the gRPC adapter and the gateway send them, and a generated client fills them in
///   with what the server answered. Clones of a context share them.
///
/// A context the gRPC adapter made for a call it serves is [*serving*](Self::is_serving): a
/// generated client given it does not write the downstream service's response metadata into it,
/// so a handler that passes its own context on does not answer with its dependency's headers.
/// To read a downstream call's response metadata, make the call with [`child`](Self::child).
#[derive(Debug, Clone)]
pub struct Context {
    deadline: Option<Instant>,
    metadata: MetadataMap,
    outgoing: MetadataMap,
    peer_addr: Option<SocketAddr>,
    response: ResponseMetadata,
    extensions: http::Extensions,
    span: tracing::Span,
    serving: bool,
}

impl Default for Context {
    fn default() -> Self {
        Self {
            deadline: None,
            metadata: MetadataMap::new(),
            outgoing: MetadataMap::new(),
            peer_addr: None,
            response: ResponseMetadata::default(),
            extensions: http::Extensions::new(),
            span: tracing::Span::none(),
            serving: false,
        }
    }
}

impl Context {
    /// A context with no deadline, no metadata and no peer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context for a call made while serving this one: the same deadline, request metadata
    /// (for propagation), peer, extensions and span, but its own response metadata and no
    /// outgoing metadata. A generated client records the downstream response in it.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            deadline: self.deadline,
            metadata: self.metadata.clone(),
            outgoing: MetadataMap::new(),
            peer_addr: self.peer_addr,
            response: ResponseMetadata::default(),
            extensions: self.extensions.clone(),
            span: self.span.clone(),
            serving: false,
        }
    }

    /// Sets the deadline, replacing any earlier one.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now, unless the context already has an earlier one:
    /// a callee never gets more time than its caller has left.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let candidate = Instant::now().checked_add(timeout);
        self.deadline = match (self.deadline, candidate) {
            (Some(current), Some(candidate)) => Some(current.min(candidate)),
            (current, candidate) => current.or(candidate),
        };
        self
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: MetadataMap) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the address of the peer that made the call.
    #[must_use]
    pub fn with_peer_addr(mut self, peer_addr: SocketAddr) -> Self {
        self.peer_addr = Some(peer_addr);
        self
    }

    /// The instant by which the call must be answered, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left until the deadline (zero once it has passed), or `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| deadline <= Instant::now())
    }

    /// The request metadata (gRPC metadata, or HTTP headers for gateway calls).
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// How many attempts of this call the client made before this one, from the
    /// `grpc-previous-rpc-attempts` header a retrying client sends (gRFC A6): 0 for a first
    /// attempt, and when the header is missing or malformed.
    pub fn previous_rpc_attempts(&self) -> u32 {
        self.metadata
            .get(crate::rpc::PREVIOUS_ATTEMPTS_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// The address of the peer that made the call, when the transport knows it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// Replaces the outgoing metadata: metadata to send on calls made with this context.
    #[must_use]
    pub fn with_outgoing_metadata(mut self, metadata: MetadataMap) -> Self {
        self.outgoing = metadata;
        self
    }

    /// Metadata to send on calls made with this context, beside the propagated request id and
    /// trace context.
    pub fn outgoing_metadata(&self) -> &MetadataMap {
        &self.outgoing
    }

    /// The outgoing metadata, mutably: `ctx.outgoing_metadata_mut().insert("x-tenant", …)`,
    /// or `insert_bin` for a binary `-bin` key.
    pub fn outgoing_metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.outgoing
    }

    /// The response headers and trailers of the call (shared by clones of this context).
    pub fn response(&self) -> &ResponseMetadata {
        &self.response
    }

    /// Typed values attached to the call by interceptors: the request id, the authenticated
    /// identity, anything a handler needs from the layer in front of it.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The `tracing` span of the call: the one the tracing interceptor opened, or a disabled span.
    /// Interceptors run the handler inside it, so every log line of the call carries its fields.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Sets the span of the call.
    pub fn set_span(&mut self, span: tracing::Span) {
        self.span = span;
    }

    /// Whether a server transport made this context for a call it serves (see the type's docs).
    pub fn is_serving(&self) -> bool {
        self.serving
    }

    /// A context a server transport made for a call it serves, over the response metadata cell
    /// the transport reads back (built directly, so no cell of its own is allocated and dropped).
    pub(crate) fn serving_call(metadata: MetadataMap, response: ResponseMetadata) -> Self {
        Self {
            deadline: None,
            metadata,
            outgoing: MetadataMap::new(),
            peer_addr: None,
            response,
            extensions: http::Extensions::new(),
            span: tracing::Span::none(),
            serving: true,
        }
    }

    /// Moves the outgoing metadata into the request metadata: the call as a server receives it
    /// over the wire. What in-process server stacks and fakes see, so that they match a remote
    /// server.
    pub(crate) fn receive_outgoing(&mut self) {
        if !self.outgoing.is_empty() {
            let outgoing = std::mem::take(&mut self.outgoing);
            append_entries(self.metadata.as_mut(), outgoing, |_| true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn with_timeout_never_extends_an_earlier_deadline() {
        let ctx = Context::new().with_timeout(Duration::from_millis(100));
        let tighter = ctx.clone().with_timeout(Duration::from_millis(50));
        let looser = ctx.clone().with_timeout(Duration::from_secs(5));
        assert_eq!(tighter.remaining(), Some(Duration::from_millis(50)));
        assert_eq!(looser.remaining(), Some(Duration::from_millis(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_expires() {
        let ctx = Context::new().with_timeout(Duration::from_millis(100));
        assert!(!ctx.is_expired());
        tokio::time::advance(Duration::from_millis(60)).await;
        assert_eq!(ctx.remaining(), Some(Duration::from_millis(40)));
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(ctx.is_expired());
        assert_eq!(ctx.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn no_deadline_means_never_expired() {
        let ctx = Context::new();
        assert_eq!(ctx.deadline(), None);
        assert_eq!(ctx.remaining(), None);
        assert!(!ctx.is_expired());
    }

    #[tokio::test]
    async fn a_huge_timeout_does_not_overflow() {
        let ctx = Context::new().with_timeout(Duration::MAX);
        assert!(!ctx.is_expired());
    }
}
