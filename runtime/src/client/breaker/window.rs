//! The sliding-window breaker (resilience4j's model): failure and slow-call rates over the last
//! calls or the last stretch of time, probes in half-open judged by the same rates, and an open
//! wait that can grow with each re-opening.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Admission, CallOutcome, Rejection, Transition};
use crate::client::BreakerState;
use crate::client::policy::SlidingWindow;

/// A time-based window is kept as this many buckets.
const TIME_BUCKETS: u32 = 10;

/// Calls, failures and slow calls of a stretch of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Counts {
    fn add(&mut self, outcome: Recorded) {
        self.calls += 1;
        self.failures += u32::from(outcome.failed);
        self.slow += u32::from(outcome.slow);
    }

    fn remove(&mut self, outcome: Recorded) {
        self.calls -= 1;
        self.failures -= u32::from(outcome.failed);
        self.slow -= u32::from(outcome.slow);
    }

    fn plus(self, other: Self) -> Self {
        Self {
            calls: self.calls + other.calls,
            failures: self.failures + other.failures,
            slow: self.slow + other.slow,
        }
    }

    /// Whether these counts trip `settings`: enough calls, and a failure or slow-call rate at
    /// its threshold.
    fn trips(self, settings: &SlidingWindow, minimum: u32) -> bool {
        if self.calls == 0 || self.calls < minimum {
            return false;
        }
        let calls = f64::from(self.calls);
        let failing = f64::from(self.failures) / calls >= settings.failure_rate_threshold;
        let slow = settings.slow_call_duration.is_some()
            && f64::from(self.slow) / calls >= settings.slow_call_rate_threshold;
        failing || slow
    }
}

/// One recorded call.
#[derive(Debug, Clone, Copy)]
struct Recorded {
    failed: bool,
    slow: bool,
}

/// The closed state's memory of calls.
enum Window {
    /// The last `window_size` calls.
    Count {
        outcomes: VecDeque<Recorded>,
        counts: Counts,
    },
    /// The calls of the last `window_duration`, in buckets.
    Time {
        buckets: VecDeque<(Instant, Counts)>,
    },
}

impl Window {
    fn new(settings: &SlidingWindow) -> Self {
        match settings.window_duration {
            Some(_) => Self::Time {
                buckets: VecDeque::with_capacity(TIME_BUCKETS as usize + 1),
            },
            None => Self::Count {
                outcomes: VecDeque::with_capacity(settings.window_size.min(1024) as usize),
                counts: Counts::default(),
            },
        }
    }

    fn record(&mut self, settings: &SlidingWindow, now: Instant, outcome: Recorded) {
        match self {
            Self::Count { outcomes, counts } => {
                outcomes.push_back(outcome);
                counts.add(outcome);
                if outcomes.len() > settings.window_size.max(1) as usize
                    && let Some(oldest) = outcomes.pop_front()
                {
                    counts.remove(oldest);
                }
            }
            Self::Time { buckets } => {
                let duration = settings.window_duration.unwrap_or(Duration::from_secs(10));
                let width = (duration / TIME_BUCKETS).max(Duration::from_millis(1));
                let fresh = buckets
                    .back()
                    .is_none_or(|(start, _)| now.saturating_duration_since(*start) >= width);
                if fresh {
                    buckets.push_back((now, Counts::default()));
                }
                if let Some((_, counts)) = buckets.back_mut() {
                    counts.add(outcome);
                }
            }
        }
    }

    /// The counts of the window as of `now`.
    fn counts(&mut self, settings: &SlidingWindow, now: Instant) -> Counts {
        match self {
            Self::Count { counts, .. } => *counts,
            Self::Time { buckets } => {
                let duration = settings.window_duration.unwrap_or(Duration::from_secs(10));
                while buckets
                    .front()
                    .is_some_and(|(start, _)| now.saturating_duration_since(*start) >= duration)
                {
                    buckets.pop_front();
                }
                buckets
                    .iter()
                    .fold(Counts::default(), |sum, (_, counts)| sum.plus(*counts))
            }
        }
    }

    fn clear(&mut self) {
        match self {
            Self::Count { outcomes, counts } => {
                outcomes.clear();
                *counts = Counts::default();
            }
            Self::Time { buckets } => buckets.clear(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        since: Instant,
        admitted: u32,
        probes: Counts,
    },
}

impl State {
    fn public(self) -> BreakerState {
        match self {
            Self::Closed => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

pub(super) struct WindowMachine {
    settings: SlidingWindow,
    state: State,
    pub(super) epoch: u64,
    window: Window,
    /// Openings since the breaker was last closed: the open wait grows with them.
    consecutive_opens: u32,
    /// With a `counting_interval`: when the closed state's counts are next cleared.
    interval_ends: Option<Instant>,
}

/// The most state changes time alone makes at once (open → half-open → open … when the half-open
/// wait is short): a bound, so that zero waits cannot spin.
const MAX_TIMED_STEPS: usize = 8;

impl WindowMachine {
    pub(super) fn new(settings: SlidingWindow, now: Instant) -> Self {
        Self {
            window: Window::new(&settings),
            interval_ends: settings
                .counting_interval
                .and_then(|interval| now.checked_add(interval)),
            settings,
            state: State::Closed,
            epoch: 0,
            consecutive_opens: 0,
        }
    }

    /// Moves the state on as far as the clock alone moves it by `now`, as if a timer had fired
    /// at each moment a wait ended (resilience4j's automatic transitions): an open breaker whose
    /// wait has ended is half-open, a half-open one past `half_open_max_wait` is open again, and
    /// a closed one past its `counting_interval` starts counting afresh (gobreaker's
    /// `Interval`). Returns the state changes, oldest first.
    pub(super) fn advance(&mut self, now: Instant) -> Vec<(BreakerState, BreakerState)> {
        let mut changes = Vec::new();
        for _ in 0..MAX_TIMED_STEPS {
            let change = match self.state {
                State::Open { until } if now >= until => self.enter(
                    State::HalfOpen {
                        since: until,
                        admitted: 0,
                        probes: Counts::default(),
                    },
                    until,
                ),
                // Probes that take longer than allowed to decide: the dependency is not back.
                State::HalfOpen { since, .. } => match self.settings.half_open_max_wait {
                    Some(wait) if now.saturating_duration_since(since) >= wait => {
                        self.open(since.checked_add(wait).unwrap_or(now))
                    }
                    _ => break,
                },
                State::Closed => {
                    if let (Some(ends), Some(interval)) =
                        (self.interval_ends, self.settings.counting_interval)
                        && now >= ends
                    {
                        // A new generation, as gobreaker's: calls admitted before it are not
                        // counted in it.
                        self.window.clear();
                        self.epoch += 1;
                        self.interval_ends = now.checked_add(interval);
                    }
                    break;
                }
                State::Open { .. } => break,
            };
            changes.extend(change);
        }
        changes
    }

    pub(super) fn public_state(&self) -> BreakerState {
        self.state.public()
    }

    /// How long a call may take before it counts as slow.
    pub(super) fn slow_call_duration(&self) -> Option<Duration> {
        self.settings.slow_call_duration
    }

    /// Admits a call or not, in the state [`advance`](Self::advance) left as of `now`.
    pub(super) fn try_acquire(&mut self, now: Instant) -> Admission {
        if let State::Open { until } = self.state {
            return Admission::Rejected {
                retry_after: until.saturating_duration_since(now),
                why: Rejection::Open,
            };
        }
        let permitted = self.settings.half_open_max_calls.max(1);
        match &mut self.state {
            State::Closed => Admission::Admitted {
                epoch: self.epoch,
                probe: false,
            },
            State::HalfOpen { admitted, .. } if *admitted < permitted => {
                *admitted += 1;
                Admission::Admitted {
                    epoch: self.epoch,
                    probe: true,
                }
            }
            // The probes are out; their outcomes decide soon.
            State::HalfOpen { .. } => Admission::Rejected {
                retry_after: self.settings.open_duration.min(Duration::from_secs(1)),
                why: Rejection::ProbesOut,
            },
            State::Open { .. } => unreachable!("answered above"),
        }
    }

    pub(super) fn record(
        &mut self,
        now: Instant,
        epoch: u64,
        probe: bool,
        outcome: CallOutcome,
        slow: bool,
    ) -> Transition {
        if epoch != self.epoch {
            return None;
        }
        let recorded = match outcome {
            CallOutcome::Failure => Some(Recorded { failed: true, slow }),
            CallOutcome::Success => Some(Recorded {
                failed: false,
                slow,
            }),
            // Given up by the caller, or classified as saying nothing about the dependency.
            CallOutcome::Ignored => None,
        };
        let permitted = self.settings.half_open_max_calls.max(1);
        match &mut self.state {
            State::Closed => {
                let recorded = recorded?;
                self.window.record(&self.settings, now, recorded);
                let counts = self.window.counts(&self.settings, now);
                // A count-based window holds `window_size` calls at most: a larger minimum
                // would never be reached, so it is the window's size, as in resilience4j.
                let mut minimum = self.settings.minimum_calls.max(1);
                if self.settings.window_duration.is_none() {
                    minimum = minimum.min(self.settings.window_size.max(1));
                }
                if counts.trips(&self.settings, minimum) {
                    return self.open(now);
                }
                None
            }
            State::HalfOpen {
                admitted, probes, ..
            } if probe => {
                let Some(recorded) = recorded else {
                    // The slot goes back for another probe.
                    *admitted = admitted.saturating_sub(1);
                    return None;
                };
                probes.add(recorded);
                if recorded.failed && self.settings.reopen_on_probe_failure {
                    return self.open(now);
                }
                if probes.calls < permitted {
                    return None;
                }
                // Every permitted probe has answered: their rates decide, as the window's do.
                if probes.trips(&self.settings, permitted) {
                    self.open(now)
                } else {
                    self.consecutive_opens = 0;
                    self.enter(State::Closed, now)
                }
            }
            _ => None,
        }
    }

    /// The open wait of the next opening: `open_duration`, grown by
    /// `open_duration_multiplier` for each opening since the breaker last closed, up to
    /// `max_open_duration`.
    fn open_wait(&self) -> Duration {
        let base = self.settings.open_duration;
        let multiplier = self.settings.open_duration_multiplier;
        if !(multiplier.is_finite() && multiplier > 1.0) || self.consecutive_opens <= 1 {
            return base;
        }
        let cap = self.settings.max_open_duration.max(base);
        let grown = base.as_secs_f64() * multiplier.powi(self.consecutive_opens as i32 - 1);
        if grown.is_finite() && grown < cap.as_secs_f64() {
            Duration::from_secs_f64(grown)
        } else {
            cap
        }
    }

    /// Opens the breaker at `at`.
    fn open(&mut self, at: Instant) -> Transition {
        self.consecutive_opens = self.consecutive_opens.saturating_add(1);
        let until = at
            .checked_add(self.open_wait())
            .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365));
        self.enter(State::Open { until }, at)
    }

    /// Back to closed with nothing counted, as new.
    pub(super) fn reset(&mut self, now: Instant) -> Transition {
        self.consecutive_opens = 0;
        self.enter(State::Closed, now)
    }

    /// Enters `next` at `at`, counting from nothing.
    fn enter(&mut self, next: State, at: Instant) -> Transition {
        let from = self.state.public();
        self.state = next;
        self.epoch += 1;
        self.window.clear();
        if matches!(next, State::Closed) {
            self.interval_ends = self
                .settings
                .counting_interval
                .and_then(|interval| at.checked_add(interval));
        }
        Some((from, next.public()))
    }
}
