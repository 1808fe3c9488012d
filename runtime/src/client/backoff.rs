//! Backing off from a server that refused a call for load. A refusal's
//! `grpc-retry-pushback-ms` (what every generated server answers when it sheds a call; see
//! `call::admission`) asks the caller to come back later. The client then sends that endpoint
//! no call at all until the pause is over: calls fail at once, locally, with `UNAVAILABLE` and
//! the pause left as their own pushback, instead of queueing at a server that has said it is
//! full. The breaker does not count any of it (a busy server is not a broken one); a
//! [`Backoff`] lets a server shed its own calls at its door while a dependency is pausing them
//! (see `Admission::shed_while`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tonic::Status;

use crate::call::admission::Dependency;
use crate::rpc::RETRY_PUSHBACK;

/// The longest pause a server may ask for; a longer pushback is cut to this.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// One endpoint's pause.
#[derive(Debug, Default)]
pub(super) struct Pause {
    until: Mutex<Option<Instant>>,
}

impl Pause {
    /// Pauses the endpoint as `status` asks, if it is a refusal with a pushback.
    pub(super) fn observe(&self, status: &Status) {
        let Some(millis) = status
            .metadata()
            .get(RETRY_PUSHBACK)
            .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
        else {
            return;
        };
        let until = Instant::now() + Duration::from_millis(millis).min(MAX_PAUSE);
        let mut slot = self
            .until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if slot.is_none_or(|current| current < until) {
            *slot = Some(until);
        }
    }

    /// How much of the pause is left, if any.
    pub(super) fn remaining(&self) -> Option<Duration> {
        let until = (*self
            .until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()))?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

/// The answer to a call sent while its endpoint is paused: nothing was sent.
pub(super) fn paused(label: &str, left: Duration) -> Status {
    let millis = left.as_millis().max(1) as u64;
    let mut status = Status::unavailable(format!(
        "{label} refused a call for load and asked for a pause; nothing was sent, retry in \
         {millis} ms"
    ));
    status
        .metadata_mut()
        .insert(RETRY_PUSHBACK, tonic::metadata::MetadataValue::from(millis));
    status
}

/// Where a [`Backoff`] reads the pauses of a client's endpoints as they are now (the set
/// changes while a resolved name's addresses do).
pub(super) trait PauseSource: Send + Sync {
    /// How long every endpoint is still paused (the shortest of their pauses), or `None` while
    /// any takes calls (or there is none).
    fn shortest_common_pause(&self) -> Option<Duration>;
}

/// The shortest of `pauses`' remaining pauses while every one of them is paused; `None` when
/// one is not, or there is none.
pub(super) fn shortest_common_pause<'a>(
    pauses: impl Iterator<Item = &'a Pause>,
) -> Option<Duration> {
    pauses
        .map(Pause::remaining)
        .try_fold(None, |shortest: Option<Duration>, left| {
            let left = left?;
            Some(Some(shortest.map_or(left, |shortest| shortest.min(left))))
        })
        .flatten()
}

/// Whether the servers a client calls have asked it to pause: all of them, for how long still.
/// Cheap to clone; from the generated client's `backoff()`.
#[derive(Clone)]
pub struct Backoff {
    service: &'static str,
    pauses: Arc<dyn PauseSource>,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff")
            .field("service", &self.service)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl Backoff {
    pub(super) fn new(service: &'static str, pauses: Arc<dyn PauseSource>) -> Self {
        Self { service, pauses }
    }

    /// How long every endpoint is still paused (the shortest of their pauses), or `None`
    /// while any takes calls.
    pub fn remaining(&self) -> Option<Duration> {
        self.pauses.shortest_common_pause()
    }
}

impl Dependency for Backoff {
    fn name(&self) -> &str {
        self.service
    }

    fn paused_for(&self) -> Option<Duration> {
        self.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(millis: &str) -> Status {
        let mut status = Status::unavailable("full");
        status
            .metadata_mut()
            .insert(RETRY_PUSHBACK, millis.parse().unwrap());
        status
    }

    #[tokio::test(start_paused = true)]
    async fn a_pushback_pauses_the_endpoint_until_it_is_over() {
        let pause = Arc::new(Pause::default());
        pause.observe(&Status::unavailable("no pushback"));
        assert_eq!(pause.remaining(), None);
        pause.observe(&refusal("200"));
        assert_eq!(pause.remaining(), Some(Duration::from_millis(200)));
        // A shorter one does not cut a longer pause short.
        pause.observe(&refusal("50"));
        assert_eq!(pause.remaining(), Some(Duration::from_millis(200)));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(pause.remaining(), Some(Duration::from_millis(50)));
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(pause.remaining(), None);
        pause.observe(&refusal("3600000"));
        assert_eq!(pause.remaining(), Some(MAX_PAUSE), "capped");
    }

    struct Two(Arc<Pause>, Arc<Pause>);

    impl PauseSource for Two {
        fn shortest_common_pause(&self) -> Option<Duration> {
            shortest_common_pause([&*self.0, &*self.1].into_iter())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_is_paused_only_while_all_its_endpoints_are() {
        let (one, two) = (Arc::new(Pause::default()), Arc::new(Pause::default()));
        let backoff = Backoff::new("a.Svc", Arc::new(Two(Arc::clone(&one), Arc::clone(&two))));
        one.observe(&refusal("100"));
        assert_eq!(backoff.remaining(), None, "the other endpoint takes calls");
        two.observe(&refusal("300"));
        assert_eq!(backoff.remaining(), Some(Duration::from_millis(100)));
        assert_eq!(backoff.paused_for(), backoff.remaining());
        assert_eq!(backoff.name(), "a.Svc");
        assert_eq!(
            shortest_common_pause(std::iter::empty()),
            None,
            "no endpoint yet"
        );

        let status = paused("http://a", Duration::from_millis(100));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.metadata().get(RETRY_PUSHBACK).unwrap(), "100");
    }
}
