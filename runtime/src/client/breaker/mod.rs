//! Circuit breakers, one per (target, method) of a client.
//!
//! Written here rather than taken from `tower-resilience-circuitbreaker` or `failsafe` because
//! both read `std::time::Instant` (so open durations cannot be tested under paused tokio time),
//! neither has the SRE adaptive model, and their tower-layer shape would put a separately typed
//! service stack in front of every method, where a client needs one small lock per method that
//! classifies gRPC codes and answers with a status carrying `RetryInfo`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::policy::{Adaptive, BreakerPolicy, SlidingWindow, is_dependency_failure};

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
}

/// A change of a breaker's state, passed to the hook set with
/// [`ClientBuilder::on_breaker_transition`](super::ClientBuilder::on_breaker_transition) and
/// logged as a `tracing` event.
#[derive(Debug, Clone)]
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
/// 1 half-open, 2 open.
pub const STATE_GAUGE: &str = "grpc_client_breaker_state";

fn state_value(state: BreakerState) -> f64 {
    match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    }
}

fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::HalfOpen => "half_open",
        BreakerState::Open => "open",
    }
}

/// One circuit breaker.
pub(crate) struct Breaker {
    name: Arc<str>,
    hook: Option<TransitionHook>,
    state: Mutex<Machine>,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("state", &self.state())
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
    recorded: bool,
}

impl Breaker {
    /// A breaker with `policy`, or `None` when the policy is [`BreakerPolicy::Disabled`].
    pub(crate) fn new(
        name: Arc<str>,
        policy: &BreakerPolicy,
        hook: Option<TransitionHook>,
    ) -> Option<Self> {
        let machine = match policy {
            BreakerPolicy::Disabled => return None,
            BreakerPolicy::SlidingWindow(settings) => {
                Machine::Window(WindowMachine::new(settings.clone()))
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
            state: Mutex::new(machine),
        })
    }

    /// The current state.
    pub(crate) fn state(&self) -> BreakerState {
        match &*self.lock() {
            Machine::Window(window) => window.state.public(),
            Machine::Adaptive(adaptive) => adaptive.public_state(),
        }
    }

    /// Admits a call, or answers the `UNAVAILABLE` status a rejected call fails with.
    pub(crate) fn try_acquire(&self) -> Result<Permit<'_>, Status> {
        let now = Instant::now();
        let (admission, transition) = {
            let mut machine = self.lock();
            match &mut *machine {
                Machine::Window(window) => window.try_acquire(now),
                Machine::Adaptive(adaptive) => adaptive.try_acquire(now),
            }
        };
        self.announce(transition);
        match admission {
            Admission::Admitted { epoch, probe } => Ok(Permit {
                breaker: self,
                epoch,
                probe,
                recorded: false,
            }),
            Admission::Rejected { retry_after } => Err(self.rejection(retry_after)),
        }
    }

    fn rejection(&self, retry_after: Duration) -> Status {
        Status::with_error_details(
            Code::Unavailable,
            format!(
                "circuit breaker {} is open: failing fast without calling the service; retry in {:?}",
                self.name, retry_after
            ),
            ErrorDetails::with_retry_info(Some(retry_after)),
        )
    }

    fn record(&self, permit: &Permit<'_>, code: Option<Code>) {
        let now = Instant::now();
        let transition = {
            let mut machine = self.lock();
            match &mut *machine {
                Machine::Window(window) => window.record(now, permit.epoch, permit.probe, code),
                Machine::Adaptive(adaptive) => {
                    adaptive.record(now, code);
                    None
                }
            }
        };
        self.announce(transition);
    }

    fn announce(&self, transition: Option<(BreakerState, BreakerState)>) {
        let Some((from, to)) = transition else {
            return;
        };
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

    fn lock(&self) -> MutexGuard<'_, Machine> {
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
    Admitted { epoch: u64, probe: bool },
    Rejected { retry_after: Duration },
}

type Transition = Option<(BreakerState, BreakerState)>;

#[derive(Debug, Clone, Copy)]
enum WindowState {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

impl WindowState {
    fn public(self) -> BreakerState {
        match self {
            Self::Closed => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

struct WindowMachine {
    settings: SlidingWindow,
    state: WindowState,
    epoch: u64,
    /// Outcomes of the last `window_size` calls while closed, `true` for a failure.
    outcomes: VecDeque<bool>,
    failures: u32,
}

impl WindowMachine {
    fn new(settings: SlidingWindow) -> Self {
        Self {
            outcomes: VecDeque::with_capacity(settings.window_size.min(1024) as usize),
            settings,
            state: WindowState::Closed,
            epoch: 0,
            failures: 0,
        }
    }

    fn try_acquire(&mut self, now: Instant) -> (Admission, Transition) {
        let mut transition = None;
        if let WindowState::Open { until } = self.state {
            if now < until {
                return (
                    Admission::Rejected {
                        retry_after: until - now,
                    },
                    None,
                );
            }
            transition = self.enter(WindowState::HalfOpen {
                admitted: 0,
                succeeded: 0,
            });
        }
        let admission = match &mut self.state {
            WindowState::Closed => Admission::Admitted {
                epoch: self.epoch,
                probe: false,
            },
            WindowState::HalfOpen { admitted, .. } => {
                if *admitted < self.settings.half_open_max_calls.max(1) {
                    *admitted += 1;
                    Admission::Admitted {
                        epoch: self.epoch,
                        probe: true,
                    }
                } else {
                    // The probes are still out; their outcome decides soon.
                    Admission::Rejected {
                        retry_after: self.settings.open_duration.min(Duration::from_secs(1)),
                    }
                }
            }
            WindowState::Open { .. } => unreachable!("left above"),
        };
        (admission, transition)
    }

    fn record(&mut self, now: Instant, epoch: u64, probe: bool, code: Option<Code>) -> Transition {
        if epoch != self.epoch {
            return None;
        }
        let failed = code.map(is_dependency_failure);
        match &mut self.state {
            WindowState::Closed => {
                // A call given up by its caller says nothing about the dependency.
                let failed = failed?;
                self.outcomes.push_back(failed);
                self.failures += u32::from(failed);
                if self.outcomes.len() > self.settings.window_size.max(1) as usize {
                    let oldest = self.outcomes.pop_front().unwrap_or(false);
                    self.failures -= u32::from(oldest);
                }
                let calls = self.outcomes.len() as u32;
                let rate = f64::from(self.failures) / f64::from(calls);
                if calls >= self.settings.minimum_calls.max(1)
                    && rate >= self.settings.failure_rate_threshold
                {
                    return self.open(now);
                }
                None
            }
            WindowState::HalfOpen {
                admitted,
                succeeded,
            } if probe => match failed {
                None => {
                    *admitted = admitted.saturating_sub(1);
                    None
                }
                Some(true) => self.open(now),
                Some(false) => {
                    *succeeded += 1;
                    if *succeeded >= self.settings.half_open_max_calls.max(1) {
                        self.enter(WindowState::Closed)
                    } else {
                        None
                    }
                }
            },
            _ => None,
        }
    }

    fn open(&mut self, now: Instant) -> Transition {
        let until = now
            .checked_add(self.settings.open_duration)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        self.enter(WindowState::Open { until })
    }

    fn enter(&mut self, next: WindowState) -> Transition {
        let from = self.state.public();
        self.state = next;
        self.epoch += 1;
        self.outcomes.clear();
        self.failures = 0;
        Some((from, next.public()))
    }
}

/// Request and accept counts of one slice of the adaptive window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    requests: u64,
    accepts: u64,
}

/// The adaptive window is kept as this many buckets.
const ADAPTIVE_BUCKETS: u32 = 10;

struct AdaptiveMachine {
    settings: Adaptive,
    buckets: VecDeque<Bucket>,
    rejecting: bool,
    rng: fastrand::Rng,
}

impl AdaptiveMachine {
    fn new(settings: Adaptive) -> Self {
        Self {
            settings,
            buckets: VecDeque::with_capacity(ADAPTIVE_BUCKETS as usize + 1),
            rejecting: false,
            rng: fastrand::Rng::new(),
        }
    }

    fn public_state(&self) -> BreakerState {
        if self.rejecting {
            BreakerState::Open
        } else {
            BreakerState::Closed
        }
    }

    fn bucket_width(&self) -> Duration {
        (self.settings.window / ADAPTIVE_BUCKETS).max(Duration::from_millis(1))
    }

    /// The bucket for `now`, after dropping buckets older than the window.
    fn current(&mut self, now: Instant) -> &mut Bucket {
        let window = self.settings.window;
        while self
            .buckets
            .front()
            .is_some_and(|bucket| now.saturating_duration_since(bucket.start) >= window)
        {
            self.buckets.pop_front();
        }
        let width = self.bucket_width();
        let fresh = self
            .buckets
            .back()
            .is_none_or(|bucket| now.saturating_duration_since(bucket.start) >= width);
        if fresh {
            self.buckets.push_back(Bucket {
                start: now,
                requests: 0,
                accepts: 0,
            });
        }
        self.buckets.back_mut().expect("pushed above")
    }

    /// The SRE book's rejection probability over the window.
    fn rejection_probability(&self) -> f64 {
        let (requests, accepts) = self.buckets.iter().fold((0u64, 0u64), |(r, a), bucket| {
            (r + bucket.requests, a + bucket.accepts)
        });
        let requests = requests as f64;
        ((requests - self.settings.k * accepts as f64) / (requests + 1.0)).max(0.0)
    }

    fn try_acquire(&mut self, now: Instant) -> (Admission, Transition) {
        // The probability comes from the history; this request joins it afterwards, so a fresh
        // window admits everything.
        self.current(now);
        let probability = self.rejection_probability();
        self.current(now).requests += 1;
        let transition = self.track(probability > 0.0);
        let admission = if probability > 0.0 && self.rng.f64() < probability {
            Admission::Rejected {
                retry_after: self.bucket_width(),
            }
        } else {
            Admission::Admitted {
                epoch: 0,
                probe: false,
            }
        };
        (admission, transition)
    }

    fn record(&mut self, now: Instant, code: Option<Code>) {
        if code.is_some_and(|code| !is_dependency_failure(code)) {
            self.current(now).accepts += 1;
        }
    }

    fn track(&mut self, rejecting: bool) -> Transition {
        if rejecting == self.rejecting {
            return None;
        }
        self.rejecting = rejecting;
        Some(if rejecting {
            (BreakerState::Closed, BreakerState::Open)
        } else {
            (BreakerState::Open, BreakerState::Closed)
        })
    }
}

#[cfg(test)]
mod tests;
