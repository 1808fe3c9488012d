//! The endpoints a client calls: one channel, the servers of a URL list, or the addresses a
//! name resolves to now (see [`super::resolve`]), which change while the client runs.
//!
//! Each endpoint has its own circuit breakers, so a dead server opens only its own breakers and
//! calls keep flowing to the live ones. Attempts go round robin over the endpoints whose breaker
//! admits the call, and a retry goes to an endpoint the call has not tried yet when one admits
//! it: a retry sent back to the server that just failed would most likely fail the same way.
//!
//! The set is replaced whole when a resolver reports a change ([`Current::replace`]); an
//! attempt picks from the set as it is when the attempt starts and holds it until it ends, so an
//! endpoint that left the set finishes the calls it has (its connection closes once the last
//! one ends) and gets no new ones. Endpoints are told apart across sets by a number of their
//! own, never reused, which is what a call remembers of the endpoints it tried.
//!
//! Written here rather than with tonic's `Channel::balance_list` (tower's power-of-two-choices
//! balancer), which hides which server an attempt went to: breakers and retries could then
//! neither tell the servers apart nor steer away from the one that failed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use tonic::Status;

use super::backoff::{self, Pause, PauseSource};
use super::balancing::{InFlight, LoadBalancing};
use super::breaker::{Breaker, BreakerState, Permit};
use super::health::{Health, Watched};
use super::outliers::{OutlierDetection, OutlierState};
use super::resolve::{FirstAnswer, Follow, Follower};
use super::send::Sender;

/// One server (or one caller-made channel) and the breakers of its methods.
pub(super) struct Endpoint {
    /// The endpoint's number, unique in the process: what a call remembers of where it went.
    pub(super) id: u64,
    /// The endpoint's URL or address, or the client's target for a caller-made channel: named
    /// in the breakers and in [`ClientCore::breaker_states`](super::ClientCore::breaker_states).
    pub(super) label: String,
    /// Writes the endpoint's calls and takes their answers.
    pub(super) sender: Sender,
    /// One per method of the service, in the spec's order; `None` where the breaker is disabled.
    pub(super) breakers: Vec<Option<Arc<Breaker>>>,
    /// Set while the server has asked for a pause (a refusal for load).
    pub(super) pause: Arc<Pause>,
    /// The attempts on it now, counted under `least_request` only (which prefers the endpoint
    /// with fewer).
    pub(super) in_flight: AtomicUsize,
    /// Its calls' outcomes and its ejection, when the client detects outliers: nothing to
    /// count or to check on a call otherwise.
    pub(super) outlier: Option<OutlierState>,
    /// What its health check says, when the client watches its endpoints' health.
    pub(super) health: Health,
}

impl Watched for Endpoint {
    fn sender(&self) -> &Sender {
        &self.sender
    }

    fn health(&self) -> &Health {
        &self.health
    }

    fn label(&self) -> &str {
        &self.label
    }
}

/// A fresh endpoint number.
pub(super) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The endpoints of a client as they are now, and where the round robin stands.
pub(super) struct Endpoints {
    current: Arc<Current>,
    next: AtomicUsize,
    balancing: LoadBalancing,
    /// For a resolved target: whether its first resolution has answered.
    first: Option<FirstAnswer>,
}

/// The set in force, shared with the resolver that replaces it and with [`Backoff`]s.
///
/// [`Backoff`]: super::Backoff
#[derive(Default)]
pub(super) struct Current {
    set: RwLock<Arc<EndpointSet>>,
}

/// One version of the endpoint set.
#[derive(Default)]
pub(super) struct EndpointSet {
    pub(super) list: Vec<Arc<Endpoint>>,
}

/// The endpoint chosen for one attempt, and its breaker's admission.
pub(super) struct Pick<'a> {
    pub(super) endpoint: &'a Endpoint,
    pub(super) permit: Option<Permit<'a>>,
    /// Counts the attempt among the endpoint's calls in flight until the pick is dropped,
    /// under a policy that reads the count.
    pub(super) _in_flight: Option<InFlight<'a>>,
}

impl Endpoints {
    /// The endpoints of a URL list or a channel: at least one, which the builder guarantees.
    /// A resolved name starts with none and gets them from its resolver.
    pub(super) fn new(list: Vec<Arc<Endpoint>>, balancing: LoadBalancing) -> Self {
        Self {
            balancing,
            current: Arc::new(Current {
                set: RwLock::new(Arc::new(EndpointSet { list })),
            }),
            next: AtomicUsize::new(0),
            first: None,
        }
    }

    /// The endpoints of a resolved target, which `follow` keeps in step with it; `make` makes
    /// the endpoint of an address (its connection, its breakers).
    pub(super) fn resolved(
        follow: Follow,
        make: impl Fn(SocketAddr) -> Arc<Endpoint> + Send + Sync + 'static,
        balancing: LoadBalancing,
    ) -> Self {
        let mut endpoints = Self::new(Vec::new(), balancing);
        endpoints.first = Some(follow.spawn(Following {
            set: Arc::downgrade(&endpoints.current),
            make,
        }));
        endpoints
    }

    /// Judges the endpoints every interval as `detection` says (gRFC A50), in a task that
    /// ends with the client.
    pub(super) fn detect_outliers(&self, detection: OutlierDetection) {
        let set = Arc::downgrade(&self.current);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(detection.interval_or_least());
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(current) = set.upgrade() else { return };
                let set = current.snapshot();
                let states: Vec<(&OutlierState, &str)> = set
                    .list
                    .iter()
                    .filter_map(|endpoint| {
                        Some((endpoint.outlier.as_ref()?, endpoint.label.as_str()))
                    })
                    .collect();
                detection.judge(&states, tokio::time::Instant::now());
            }
        });
    }

    /// Waits, until `deadline` at the latest, for a resolved target's first answer while the
    /// set is empty; at once otherwise.
    pub(super) async fn settled(&self, deadline: tokio::time::Instant) {
        let Some(first) = &self.first else { return };
        if *first.borrow() {
            return;
        }
        let mut first = first.clone();
        let _ = tokio::time::timeout_at(deadline, first.wait_for(|answered| *answered)).await;
    }

    /// The set in force, for a resolver to replace.
    pub(super) fn cell(&self) -> &Arc<Current> {
        &self.current
    }

    /// The set as it is now: an attempt holds it until it ends.
    pub(super) fn snapshot(&self) -> Arc<EndpointSet> {
        self.current.snapshot()
    }

    /// The endpoint for an attempt of method number `method` in `set`: the next in round-robin
    /// order whose breaker admits the call, preferring those not in `tried`. When no breaker
    /// admits it, the call fails fast with the first rejection.
    pub(super) fn pick<'a>(
        &self,
        set: &'a EndpointSet,
        method: usize,
        tried: &[u64],
    ) -> Result<Pick<'a>, Status> {
        let count = set.list.len();
        if count == 0 {
            return Err(Status::unavailable(
                "the client's target has no address to call (its name resolved to none yet)",
            ));
        }
        let order = self.balancing.order(count, &self.next, |index| {
            set.list[index].in_flight.load(Ordering::Relaxed)
        });
        let untried = |index: &usize| !tried.contains(&set.list[*index].id);
        let fresh = order.filter(untried);
        let again = order.filter(|index| !untried(index));
        let mut rejection = None;
        for index in fresh.chain(again) {
            let endpoint = &*set.list[index];
            if !endpoint.health.admits() {
                rejection.get_or_insert_with(|| {
                    Status::unavailable(format!(
                        "{} is not serving, its health check says, as is every endpoint that could take the call",
                        endpoint.label
                    ))
                });
                continue;
            }
            if endpoint
                .outlier
                .as_ref()
                .is_some_and(OutlierState::is_ejected)
            {
                rejection.get_or_insert_with(|| {
                    Status::unavailable(format!(
                        "{} is ejected by outlier detection, as is every endpoint that could take the call",
                        endpoint.label
                    ))
                });
                continue;
            }
            if let Some(left) = endpoint.pause.remaining() {
                rejection.get_or_insert_with(|| backoff::paused(&endpoint.label, left));
                continue;
            }
            let permit = match endpoint.breakers[method]
                .as_deref()
                .map(Breaker::try_acquire)
            {
                None => None,
                Some(Ok(permit)) => Some(permit),
                Some(Err(status)) => {
                    rejection.get_or_insert(status);
                    continue;
                }
            };
            return Ok(Pick {
                endpoint,
                permit,
                _in_flight: self
                    .balancing
                    .reads_in_flight()
                    .then(|| InFlight::start(&endpoint.in_flight)),
            });
        }
        Err(rejection.unwrap_or_else(|| Status::internal("the client has no endpoint to call")))
    }

    /// The state of each endpoint's breaker of method number `method`, with the endpoint's
    /// label; empty when the breaker is disabled.
    pub(super) fn breaker_states(&self, method: usize) -> Vec<(String, BreakerState)> {
        self.snapshot()
            .list
            .iter()
            .filter_map(|endpoint| {
                let breaker = endpoint.breakers[method].as_ref()?;
                Some((endpoint.label.clone(), breaker.state()))
            })
            .collect()
    }

    /// The labels of the endpoints in force, in the set's order.
    pub(super) fn labels(&self) -> Vec<String> {
        self.snapshot()
            .list
            .iter()
            .map(|endpoint| endpoint.label.clone())
            .collect()
    }
}

impl Current {
    pub(super) fn snapshot(&self) -> Arc<EndpointSet> {
        Arc::clone(&self.set.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `list` in force. The endpoints of the old set that `list` does not hold finish
    /// the attempts that hold them, and get no new ones.
    pub(super) fn replace(&self, list: Vec<Arc<Endpoint>>) {
        *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(EndpointSet { list });
    }
}

/// A resolved target's set, as its resolution task sees it.
struct Following<F> {
    set: Weak<Current>,
    make: F,
}

impl<F: Fn(SocketAddr) -> Arc<Endpoint> + Send + Sync + 'static> Follower for Following<F> {
    fn alive(&self) -> bool {
        self.set.strong_count() > 0
    }

    /// Replaces the set: the endpoints of addresses still there are kept (their connections
    /// and breakers), those of new addresses made.
    fn put_in_force(&self, addresses: &[SocketAddr]) {
        let Some(current) = self.set.upgrade() else {
            return;
        };
        let old = current.snapshot();
        let list = addresses
            .iter()
            .map(|address| {
                let label = address.to_string();
                old.list
                    .iter()
                    .find(|endpoint| endpoint.label == label)
                    .cloned()
                    .unwrap_or_else(|| (self.make)(*address))
            })
            .collect();
        current.replace(list);
    }
}

impl PauseSource for Current {
    fn shortest_common_pause(&self) -> Option<Duration> {
        backoff::shortest_common_pause(self.snapshot().list.iter().map(|e| &*e.pause))
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
