//! Circuit breakers, one per (target, method) of a client.
//!
//! Written here rather than taken from `tower-resilience-circuitbreaker` or `failsafe` because
//! both read `std::time::Instant` (so open durations cannot be tested under paused tokio time),
//! neither has the SRE adaptive model, and their tower-layer shape would put a separately typed
//! service stack in front of every method, where a client needs one small lock per method that
//! classifies gRPC codes and answers with a status carrying `RetryInfo`.

mod adaptive;
mod controls;
mod window;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::policy::{BreakerPolicy, is_dependency_failure};
use adaptive::AdaptiveMachine;
pub use controls::BreakerControls;
use window::WindowMachine;

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow and their outcomes are recorded.
    Closed,
    /// Calls fail fast without touching the network (for the adaptive model: some calls are
    /// being rejected).
    Open,
    /// A limited number of probe calls decide whether to close or re-open.
    HalfOpen,
    /// Forced open at run time ([`BreakerControls::force_open`]): every call fails fast until
    /// the breaker is reset.
    ForcedOpen,
    /// Turned off at run time ([`BreakerControls::disable`]): every call goes through and none
    /// is counted until the breaker is reset.
    Disabled,
}

/// How the outcome of a call counts for its breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The dependency answered: counts toward closing.
    Success,
    /// The dependency failed: counts toward opening.
    Failure,
    /// Says nothing about the dependency: counted neither way.
    Ignored,
}

/// Decides how a call that ended with a status code counts for its breaker; see
/// [`ClientBuilder::breaker_classifier`](super::ClientBuilder::breaker_classifier).
pub type Classifier = Arc<dyn Fn(Code) -> CallOutcome + Send + Sync>;

/// The classification a breaker uses unless told otherwise: dependency failures
/// ([`is_dependency_failure`]) and a `CANCELLED` the server sent (a call the caller gives up
/// on is not recorded at all) are failures, except `RESOURCE_EXHAUSTED`, which is ignored: a
/// server shedding load, or a quota, answers with it, and a busy dependency is not a broken
/// one (the retry throttle and the server's pushback slow the client down instead). Every
/// other code, `OK` included, is an answer from a healthy dependency.
///
/// Whatever the classifier, a failure whose status carries `grpc-retry-pushback-ms` (a
/// refusal for load) and a `DEADLINE_EXCEEDED` at the caller's remaining budget rather than
/// the method's own deadline are not counted either way.
pub fn default_classification(code: Code) -> CallOutcome {
    if code == Code::ResourceExhausted {
        CallOutcome::Ignored
    } else if is_dependency_failure(code) || code == Code::Cancelled {
        CallOutcome::Failure
    } else {
        CallOutcome::Success
    }
}

/// A change of a breaker's state, passed to the hook set with
/// [`ClientBuilder::on_breaker_transition`](super::ClientBuilder::on_breaker_transition) and
/// logged as a `tracing` event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BreakerTransition {
    /// The breaker's name: `service/Method@target`.
    pub breaker: Arc<str>,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
}

/// Receives every [`BreakerTransition`], e.g. to update a metrics gauge.
pub type TransitionHook = Arc<dyn Fn(&BreakerTransition) + Send + Sync>;

/// The gauge of every breaker's state (labelled `breaker="service/Method@target"`): 0 closed,
/// 1 half-open, 2 open, 3 forced open, 4 disabled.
pub const STATE_GAUGE: &str = "grpc_client_breaker_state";

fn state_value(state: BreakerState) -> f64 {
    match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
        BreakerState::ForcedOpen => 3.0,
        BreakerState::Disabled => 4.0,
    }
}

fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::HalfOpen => "half_open",
        BreakerState::Open => "open",
        BreakerState::ForcedOpen => "forced_open",
        BreakerState::Disabled => "disabled",
    }
}

/// One circuit breaker.
pub(crate) struct Breaker {
    name: Arc<str>,
    hook: Option<TransitionHook>,
    classifier: Option<Classifier>,
    state: Mutex<Guarded>,
    /// Held by the one thread delivering the queued changes (see [`Breaker::announce_pending`]).
    announcing: Mutex<()>,
}

/// What the breaker's lock guards: its model, and a state forced at run time.
struct Guarded {
    machine: Machine,
    forced: Option<Forced>,
    /// Changes made and not yet announced, in the order they were made.
    pending: VecDeque<(BreakerState, BreakerState)>,
}

impl Guarded {
    /// Queues `changes` for announcing, in order; whether there were any.
    fn queue(&mut self, changes: impl IntoIterator<Item = (BreakerState, BreakerState)>) -> bool {
        let before = self.pending.len();
        self.pending.extend(changes);
        self.pending.len() > before
    }

    /// Moves the model on as the clock alone moves it (nothing while a state is forced).
    fn advance(&mut self, now: Instant) -> Vec<(BreakerState, BreakerState)> {
        match (&self.forced, &mut self.machine) {
            (None, Machine::Window(window)) => window.advance(now),
            (None, Machine::Adaptive(adaptive)) => adaptive.advance(now).into_iter().collect(),
            (Some(_), _) => Vec::new(),
        }
    }

    /// The state callers see: a forced one, else the model's.
    fn state(&self) -> BreakerState {
        match self.forced {
            Some(Forced::Open) => BreakerState::ForcedOpen,
            Some(Forced::Disabled) => BreakerState::Disabled,
            None => match &self.machine {
                Machine::Window(window) => window.public_state(),
                Machine::Adaptive(adaptive) => adaptive.public_state(),
            },
        }
    }
}

/// A state set at run time, over the model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forced {
    Open,
    Disabled,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("state", &self.lock().state())
            .finish_non_exhaustive()
    }
}

enum Machine {
    Window(WindowMachine),
    Adaptive(AdaptiveMachine),
}

/// Admission to make one call; the outcome must be reported with [`Permit::record`].
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    /// The state epoch the permit was issued in: outcomes from an earlier epoch are stale.
    epoch: u64,
    probe: bool,
    /// When the call was admitted, to tell a slow call.
    started: Instant,
    /// Whether the outcome is counted (not while the breaker is disabled).
    counted: bool,
    recorded: bool,
}

impl Breaker {
    /// A breaker with `policy`, or `None` when the policy is [`BreakerPolicy::Disabled`].
    /// `classifier` decides how outcomes count ([`default_classification`] when `None`).
    pub(crate) fn new(
        name: Arc<str>,
        policy: &BreakerPolicy,
        hook: Option<TransitionHook>,
        classifier: Option<Classifier>,
    ) -> Option<Self> {
        let machine = match policy {
            BreakerPolicy::Disabled => return None,
            BreakerPolicy::SlidingWindow(settings) => {
                Machine::Window(WindowMachine::new(settings.clone(), Instant::now()))
            }
            BreakerPolicy::Adaptive(settings) => {
                Machine::Adaptive(AdaptiveMachine::new(settings.clone()))
            }
        };
        // The series exists from the start, so a dashboard shows a closed breaker as 0 rather
        // than as no data.
        metrics::gauge!(STATE_GAUGE, "breaker" => name.to_string()).set(0.0);
        Some(Self {
            name,
            hook,
            classifier,
            state: Mutex::new(Guarded {
                machine,
                forced: None,
                pending: VecDeque::new(),
            }),
            announcing: Mutex::new(()),
        })
    }

    /// The state as of now: read against the clock, so an open breaker whose wait has ended
    /// reads half-open without a call having been made (and the change is announced).
    pub(crate) fn state(&self) -> BreakerState {
        let (state, changed) = {
            let mut guarded = self.lock();
            let changes = guarded.advance(Instant::now());
            let changed = guarded.queue(changes);
            (guarded.state(), changed)
        };
        if changed {
            self.announce_pending();
        }
        state
    }

    /// Admits a call, or answers the `UNAVAILABLE` status a rejected call fails with.
    pub(crate) fn try_acquire(&self) -> Result<Permit<'_>, Status> {
        let now = Instant::now();
        let (admission, changed) = {
            let mut guarded = self.lock();
            match guarded.forced {
                Some(Forced::Open) => {
                    // No model decides when it ends: an operator does. A second is the
                    // pushback of a shedding server, and what a caller is told here.
                    return Err(self.rejection(Duration::from_secs(1), Rejection::ForcedOpen));
                }
                Some(Forced::Disabled) => {
                    return Ok(Permit {
                        breaker: self,
                        epoch: 0,
                        probe: false,
                        started: now,
                        counted: false,
                        recorded: false,
                    });
                }
                None => {}
            }
            let mut changes = guarded.advance(now);
            let admission = match &mut guarded.machine {
                Machine::Window(window) => window.try_acquire(now),
                Machine::Adaptive(adaptive) => {
                    let (admission, change) = adaptive.try_acquire(now);
                    changes.extend(change);
                    admission
                }
            };
            (admission, guarded.queue(changes))
        };
        if changed {
            self.announce_pending();
        }
        match admission {
            Admission::Admitted { epoch, probe } => Ok(Permit {
                breaker: self,
                epoch,
                probe,
                started: now,
                counted: true,
                recorded: false,
            }),
            Admission::Rejected { retry_after, why } => Err(self.rejection(retry_after, why)),
        }
    }

    /// Forces the breaker open or disabled (`Some`), or back to its model (`None`, a reset).
    fn force(&self, forced: Option<Forced>) {
        let changed = {
            let mut guarded = self.lock();
            let from = guarded.state();
            guarded.forced = forced;
            // Forcing or resetting starts the model over, so that what was counted before
            // does not decide what happens after.
            match &mut guarded.machine {
                Machine::Window(window) => {
                    window.reset(Instant::now());
                }
                Machine::Adaptive(adaptive) => {
                    adaptive.reset();
                }
            }
            let to = guarded.state();
            guarded.queue((from != to).then_some((from, to)))
        };
        if changed {
            self.announce_pending();
        }
    }

    /// The `UNAVAILABLE` a call the breaker turns away fails with: which rejection it is in
    /// its message and, for a program, as an `ErrorInfo` reason (gobreaker's `ErrOpenState`
    /// and `ErrTooManyRequests`); when to come back as a `RetryInfo`.
    fn rejection(&self, retry_after: Duration, why: Rejection) -> Status {
        let (state, reason) = match why {
            Rejection::Open => ("is open", "CIRCUIT_BREAKER_OPEN"),
            Rejection::ForcedOpen => ("is forced open", "CIRCUIT_BREAKER_FORCED_OPEN"),
            Rejection::ProbesOut => (
                "is half-open with all its probe calls out",
                "CIRCUIT_BREAKER_PROBES_OUT",
            ),
            Rejection::Throttled => (
                "is throttling calls (adaptive)",
                "CIRCUIT_BREAKER_THROTTLED",
            ),
        };
        let mut details = ErrorDetails::with_retry_info(Some(retry_after));
        details.set_error_info(
            reason,
            ERROR_DOMAIN,
            [("breaker".to_owned(), self.name.to_string())],
        );
        Status::with_error_details(
            Code::Unavailable,
            format!(
                "circuit breaker {} {state}: failing fast without calling the service; retry in {:?}",
                self.name, retry_after
            ),
            details,
        )
    }

    fn record(&self, permit: &Permit<'_>, code: Option<Code>) {
        if !permit.counted {
            return;
        }
        let now = Instant::now();
        let outcome = match code {
            // Given up by the caller: says nothing about the dependency.
            None => CallOutcome::Ignored,
            Some(code) => match &self.classifier {
                Some(classify) => classify(code),
                None => default_classification(code),
            },
        };
        let changed = {
            let mut guarded = self.lock();
            if guarded.forced.is_some() {
                return;
            }
            let mut changes = guarded.advance(now);
            match &mut guarded.machine {
                Machine::Window(window) => {
                    let slow = window
                        .slow_call_duration()
                        .is_some_and(|slow| now.saturating_duration_since(permit.started) > slow);
                    changes.extend(window.record(now, permit.epoch, permit.probe, outcome, slow));
                }
                Machine::Adaptive(adaptive) => adaptive.record(now, outcome),
            }
            guarded.queue(changes)
        };
        if changed {
            self.announce_pending();
        }
    }

    /// Announces the queued changes in the order they were made, outside the state's lock (a
    /// hook may read the breaker). One thread delivers at a time: a change queued while another
    /// thread delivers, or by a hook on this one, is delivered by that thread's loop, which
    /// looks again once it has let go, so that none is left behind. Without this, two threads
    /// changing the state at once could announce in the wrong order, and the state gauge end
    /// on a state the breaker has left.
    fn announce_pending(&self) {
        loop {
            let delivering = match self.announcing.try_lock() {
                Ok(delivering) => delivering,
                // A hook panicked while delivering: the queue is still in order.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                let batch = std::mem::take(&mut self.lock().pending);
                if batch.is_empty() {
                    break;
                }
                for (from, to) in batch {
                    self.announce(from, to);
                }
            }
            drop(delivering);
            if self.lock().pending.is_empty() {
                return;
            }
        }
    }

    fn announce(&self, from: BreakerState, to: BreakerState) {
        metrics::gauge!(STATE_GAUGE, "breaker" => self.name.to_string()).set(state_value(to));
        metrics::counter!(
            "grpc_client_breaker_transitions_total",
            "breaker" => self.name.to_string(),
            "to" => state_name(to),
        )
        .increment(1);
        if to == BreakerState::Open {
            tracing::warn!(breaker = %self.name, ?from, ?to, "circuit breaker opened");
        } else {
            tracing::info!(breaker = %self.name, ?from, ?to, "circuit breaker changed state");
        }
        if let Some(hook) = &self.hook {
            hook(&BreakerTransition {
                breaker: self.name.clone(),
                from,
                to,
            });
        }
    }

    fn lock(&self) -> MutexGuard<'_, Guarded> {
        // The state stays consistent between statements, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Permit<'_> {
    /// Reports how the call ended: `Code::Ok`, or the status code it failed with.
    pub(crate) fn record(mut self, code: Code) {
        self.recorded = true;
        self.breaker.record(&self, Some(code));
    }

    /// Ends the call without counting it either way (a probe slot it held is given back).
    pub(crate) fn ignore(mut self) {
        self.recorded = true;
        self.breaker.record(&self, None);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A call dropped before it ended (the caller gave up) says nothing about the dependency,
        // but a probe slot it held must be given back.
        if !self.recorded && self.probe {
            self.breaker.record(self, None);
        }
    }
}

enum Admission {
    Admitted {
        epoch: u64,
        probe: bool,
    },
    Rejected {
        retry_after: Duration,
        why: Rejection,
    },
}

/// Why a call was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    /// The breaker is open.
    Open,
    /// An operator forced the breaker open ([`BreakerControls::force_open`]).
    ForcedOpen,
    /// Half-open, with as many probes out as it lets through.
    ProbesOut,
    /// Adaptive throttling drew this call.
    Throttled,
}

/// The `ErrorInfo` domain of the breaker's rejections.
const ERROR_DOMAIN: &str = "rust-svc.client";

type Transition = Option<(BreakerState, BreakerState)>;

#[cfg(test)]
mod tests;
