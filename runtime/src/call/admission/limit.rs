//! The limit's arithmetic: latency gathered in windows, the gradient rule that moves the limit,
//! and what a caller may expect of the line (see the [module docs](super)).

use std::time::Duration;

use tokio::time::Instant;

use super::{MAX_PUSHBACK, State};
use crate::rpc::MethodInfo;

/// The shortest window of latency samples.
const WINDOW: Duration = Duration::from_millis(100);
/// The fewest samples a window closes with.
const WINDOW_SAMPLES: u32 = 10;
/// How many windows the long-term latency averages over.
const LONG_WINDOWS: f64 = 300.0;
/// How many windows it is the plain mean of first, as concurrency-limits' `ExpAvgMeasurement`
/// warms up: one early window (a cold cache, a first burst) must not be the baseline that the
/// next 300 are measured against.
const WARM_UP_WINDOWS: u32 = 10;
/// Calls that end sooner than this say nothing of the service's latency (a refusal, a
/// validation error, a failure before any work) and are left out of it, as concurrency-limits'
/// `WindowedLimit` leaves them (`minRttThreshold`): a spell of them would drag the long-term
/// latency down, and the limit with it once real work comes back. They still free their
/// slots, so they count for the rate the line moves at.
const MIN_LATENCY: Duration = Duration::from_micros(100);
/// How much of a window's new limit is taken at once.
const SMOOTHING: f64 = 0.2;
/// How much of the line's rate is kept from one window to the next when it falls.
const THROUGHPUT_DECAY: f64 = 0.98;

pub(super) struct Window {
    pub(super) started: Instant,
    /// When it may close: `started` + [`WINDOW`], which each call's end compares the clock
    /// with.
    due: Instant,
    /// Calls finished in the window.
    pub(super) samples: u32,
    /// Those that took at least [`MIN_LATENCY`], and the sum of their latencies (seconds).
    pub(super) measured: u32,
    pub(super) latency_sum: f64,
    pub(super) max_in_flight: u32,
}

impl Window {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            started: now,
            due: now + WINDOW,
            samples: 0,
            measured: 0,
            latency_sum: 0.0,
            max_in_flight: 0,
        }
    }

    /// A call that took `latency` finished.
    pub(super) fn record(&mut self, latency: Duration) {
        self.samples += 1;
        if latency >= MIN_LATENCY {
            self.measured += 1;
            self.latency_sum += latency.as_secs_f64();
        }
    }
}

/// The whole slots a limit gives, at least one.
pub(super) fn slots(limit: f64) -> u32 {
    (limit.floor() as u32).max(1)
}

impl State {
    /// A dependency of `method` that is pausing calls now, and for how long still.
    pub(super) fn paused_dependency(&self, method: &MethodInfo) -> Option<(String, Duration)> {
        self.dependencies
            .iter()
            .filter(|(path, _)| *path == method.path)
            .find_map(|(_, dependency)| {
                let pause = dependency.paused_for()?;
                Some((dependency.name().to_owned(), pause))
            })
    }

    /// How long a call takes now, in seconds: the last window's mean while the service is busy
    /// (at least half its slots taken), else the lower of that and the long-run mean; zero
    /// before any.
    fn expected_seconds(&self) -> f64 {
        let busy = self.in_flight.saturating_mul(2) >= slots(self.limit);
        match (self.short_latency, self.long_latency) {
            (Some(short), Some(long)) if !busy => short.min(long),
            (short, _) => short.unwrap_or(0.0),
        }
    }

    /// How long a call of the rpc at `path` takes now, for its deadline: the lower of the
    /// service's figure and the rpc's own recent latency. A service's rpcs differ (a quick
    /// lookup beside a slow export); the service's mean alone refused the lookup for the
    /// export's time. The rpc's figure alone is not used: it is not renewed while the rpc is
    /// not called, and a stale one must not refuse more than the service's would.
    pub(super) fn expected_latency_of(&self, path: &str) -> Duration {
        let service = self.expected_seconds();
        let seconds = match self.methods.iter().find(|(known, _)| *known == path) {
            Some((_, own)) => service.min(*own),
            None => service,
        };
        Duration::from_secs_f64(seconds)
    }

    /// Adds a call of the rpc at `path` that took `latency` to the rpc's recent latency (an
    /// average that moves a fifth of the way to each call), unless it was too quick to be work.
    pub(super) fn record_method(&mut self, path: &'static str, latency: Duration) {
        if latency < MIN_LATENCY {
            return;
        }
        let latency = latency.as_secs_f64();
        match self.methods.iter_mut().find(|(known, _)| *known == path) {
            Some((_, own)) => *own += (latency - *own) * SMOOTHING,
            None => self.methods.push((path, latency)),
        }
    }

    /// How long the `position`-th call in line would wait, at the rate calls finish.
    pub(super) fn predicted_wait(&self, position: u32) -> Duration {
        let rate = self.throughput.filter(|rate| *rate > 0.0).or_else(|| {
            // Before a rate is known: the limit's worth of calls per call time.
            self.short_latency
                .filter(|latency| *latency > 0.0)
                .map(|latency| self.limit / latency)
        });
        match rate {
            Some(rate) => Duration::from_secs_f64(f64::from(position) / rate).min(MAX_PUSHBACK),
            // Nothing measured yet: the line is as long as it is, and that is all we know.
            None => Duration::ZERO,
        }
    }

    /// Lets calls in line take the slots free now (every one, with shedding off).
    pub(super) fn grant_waiting(&mut self) {
        while self.in_flight < slots(self.limit) || !self.policy.enabled {
            let Some(waiter) = self.line.pop_front() else {
                break;
            };
            if waiter.send(()).is_ok() {
                self.in_flight += 1;
                self.waiting -= 1;
                self.window.max_in_flight = self.window.max_in_flight.max(self.in_flight);
            }
        }
    }

    /// Closes the window if it is due, moving the limit by the gradient rule; answers whether
    /// it closed.
    pub(super) fn close_window(&mut self, now: Instant) -> bool {
        if self.window.samples < WINDOW_SAMPLES || now < self.window.due {
            return false;
        }
        self.close_due_window(now);
        true
    }

    /// [`State::close_window`] once it is due (one call in hundreds): out of line, so that the
    /// calls that only record their latency do not carry its code.
    #[cold]
    #[inline(never)]
    fn close_due_window(&mut self, now: Instant) {
        let window = std::mem::replace(&mut self.window, Window::new(now));
        let elapsed = now.saturating_duration_since(window.started);
        let rate = f64::from(window.samples) / elapsed.as_secs_f64();
        // The rate the line moves at: a new peak at once, a dip slowly (by 2 % a window). A
        // short stall (a disk flush, a slow dependency for a moment) must not make the line
        // look too long to join: refused callers that try again at once would take the
        // machine's time from the calls that were let in, which slows the line further.
        // Trusting the peak errs the other way, and costs only a wait that ends in a refusal.
        self.throughput = Some(match self.throughput {
            None => rate,
            Some(previous) => rate.max(previous * THROUGHPUT_DECAY),
        });
        if window.measured == 0 {
            // Only calls too quick to be work: nothing to learn of the latency.
            return;
        }
        let short = window.latency_sum / f64::from(window.measured);
        self.short_latency = Some(short);
        // The plain mean of the first windows, then an average that moves by 1/300 a window.
        self.long_windows = self.long_windows.saturating_add(1);
        let weight = if self.long_windows <= WARM_UP_WINDOWS {
            f64::from(self.long_windows)
        } else {
            LONG_WINDOWS
        };
        let mut long = match self.long_latency {
            None => short,
            Some(long) => long + (short - long) / weight,
        };
        // Latency has fallen far below the long-run figure (load went away after a long
        // spell): let the long-run figure come down faster than its average would.
        if short > 0.0 && long / short > 2.0 {
            long *= 0.95;
        }
        self.long_latency = Some(long);
        if f64::from(window.max_in_flight) < self.limit / 2.0 {
            // Fewer calls than the limit came: they say nothing of how many the service can take.
            return;
        }
        let policy = self.policy;
        let gradient = if short > 0.0 {
            (policy.tolerance * long / short).clamp(0.5, 1.0)
        } else {
            1.0
        };
        let next = self.limit * gradient + self.limit.sqrt();
        let min = f64::from(policy.min_limit.max(1));
        let max = f64::from(policy.max_limit.max(policy.min_limit).max(1));
        self.limit = (self.limit * (1.0 - SMOOTHING) + next * SMOOTHING).clamp(min, max);
    }
}
