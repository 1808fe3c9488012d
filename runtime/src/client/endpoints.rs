//! The endpoints a client calls: one channel, or several servers it balances across.
//!
//! Each endpoint has its own circuit breakers, so a dead server opens only its own breakers and
//! calls keep flowing to the live ones. Attempts go round robin over the endpoints whose breaker
//! admits the call, and a retry goes to an endpoint the call has not tried yet when one admits
//! it: a retry sent back to the server that just failed would most likely fail the same way.
//!
//! Written here rather than with tonic's `Channel::balance_list` (tower's power-of-two-choices
//! balancer), which hides which server an attempt went to: breakers and retries could then
//! neither tell the servers apart nor steer away from the one that failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::Status;

use super::backoff::{self, Pause};
use super::breaker::{Breaker, BreakerState, Permit};
use super::send::Sender;

/// One server (or one caller-made channel) and the breakers of its methods.
pub(super) struct Endpoint {
    /// The endpoint's URL, or the client's target for a caller-made channel: named in the
    /// breakers and in [`ClientCore::breaker_states`](super::ClientCore::breaker_states).
    pub(super) label: String,
    /// Writes the endpoint's calls and takes their answers.
    pub(super) sender: Sender,
    /// One per method of the service, in the spec's order; `None` where the breaker is disabled.
    pub(super) breakers: Vec<Option<Arc<Breaker>>>,
    /// Set while the server has asked for a pause (a refusal for load).
    pub(super) pause: Arc<Pause>,
}

/// The endpoints of a client, and where the round robin stands.
pub(super) struct Endpoints {
    list: Vec<Endpoint>,
    next: AtomicUsize,
}

/// The endpoint chosen for one attempt, and its breaker's admission.
pub(super) struct Pick<'a> {
    pub(super) index: usize,
    pub(super) endpoint: &'a Endpoint,
    pub(super) permit: Option<Permit<'a>>,
}

impl Endpoints {
    /// At least one endpoint, which the builder guarantees.
    pub(super) fn new(list: Vec<Endpoint>) -> Self {
        debug_assert!(!list.is_empty(), "a client needs an endpoint");
        Self {
            list,
            next: AtomicUsize::new(0),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.list.iter()
    }

    /// Every endpoint's pause.
    pub(super) fn pauses(&self) -> Vec<Arc<Pause>> {
        self.list
            .iter()
            .map(|endpoint| Arc::clone(&endpoint.pause))
            .collect()
    }

    /// The endpoint for an attempt of method number `method`: the next in round-robin order
    /// whose breaker admits the call, preferring those not in `tried`. When no breaker admits
    /// it, the call fails fast with the first rejection.
    pub(super) fn pick(&self, method: usize, tried: &[usize]) -> Result<Pick<'_>, Status> {
        let count = self.list.len();
        let start = if count == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        };
        let order = (0..count).map(|offset| (start + offset) % count);
        let fresh = order.clone().filter(|index| !tried.contains(index));
        let again = order.filter(|index| tried.contains(index));
        let mut rejection = None;
        for index in fresh.chain(again) {
            let endpoint = &self.list[index];
            if let Some(left) = endpoint.pause.remaining() {
                rejection.get_or_insert_with(|| backoff::paused(&endpoint.label, left));
                continue;
            }
            match endpoint.breakers[method]
                .as_deref()
                .map(Breaker::try_acquire)
            {
                None => {
                    return Ok(Pick {
                        index,
                        endpoint,
                        permit: None,
                    });
                }
                Some(Ok(permit)) => {
                    return Ok(Pick {
                        index,
                        endpoint,
                        permit: Some(permit),
                    });
                }
                Some(Err(status)) => {
                    rejection.get_or_insert(status);
                }
            }
        }
        Err(rejection.unwrap_or_else(|| Status::internal("the client has no endpoint to call")))
    }

    /// The state of each endpoint's breaker of method number `method`, with the endpoint's
    /// label; empty when the breaker is disabled.
    pub(super) fn breaker_states(&self, method: usize) -> Vec<(String, BreakerState)> {
        self.list
            .iter()
            .filter_map(|endpoint| {
                let breaker = endpoint.breakers[method].as_ref()?;
                Some((endpoint.label.clone(), breaker.state()))
            })
            .collect()
    }
}

/// The state of a client's breakers of one method taken together: the first of closed,
/// disabled, half-open, open and forced open that any endpoint's is in (in that order, calls
/// flowing first).
pub(super) fn overall_state(states: &[(String, BreakerState)]) -> Option<BreakerState> {
    [
        BreakerState::Closed,
        BreakerState::Disabled,
        BreakerState::HalfOpen,
        BreakerState::Open,
        BreakerState::ForcedOpen,
    ]
    .into_iter()
    .find(|wanted| states.iter().any(|(_, state)| state == wanted))
}
