use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// What a domain trait method knows about the call it serves, independent of the transport.
///
/// The gRPC adapter builds it from the wire request (deadline from `grpc-timeout`, metadata,
/// peer address); callers in tests and in-process code build it with [`Context::new`] and the
/// `with_…` methods. Deadlines are [`tokio::time::Instant`]s so that tests with paused time see
/// them move with the clock.
#[derive(Debug, Clone, Default)]
pub struct Context {
    deadline: Option<Instant>,
    metadata: MetadataMap,
    peer_addr: Option<SocketAddr>,
}

impl Context {
    /// A context with no deadline, no metadata and no peer.
    pub fn new() -> Self {
        Self::default()
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

    /// The address of the peer that made the call, when the transport knows it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
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
