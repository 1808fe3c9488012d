//! Client-side adaptive throttling from the Google SRE book, with a minimum number of requests
//! before it rejects anything.
//!
//! The state it reports has hysteresis, so that one outage reads as one `Open` and one
//! `Closed`: it is `Open` from the first call it rejects, and `Closed` again once the rejection
//! probability is zero and it has rejected nothing for a whole window. Read from the
//! probability alone, it flapped while a dependency recovered (the probability falls to zero,
//! a few rejected requests raise it again), and each flap was a log line and a metric change.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Admission, CallOutcome, Rejection, Transition};
use crate::client::BreakerState;
use crate::client::policy::Adaptive;

/// Request and accept counts of one slice of the adaptive window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    requests: u64,
    accepts: u64,
}

/// The adaptive window is kept as this many buckets.
const ADAPTIVE_BUCKETS: u32 = 10;

pub(super) struct AdaptiveMachine {
    settings: Adaptive,
    buckets: VecDeque<Bucket>,
    /// The state it reports: `Open` since it rejected a call, until a quiet window has passed.
    rejecting: bool,
    /// When it last rejected a call.
    last_rejection: Option<Instant>,
    rng: fastrand::Rng,
}

impl AdaptiveMachine {
    pub(super) fn new(settings: Adaptive) -> Self {
        Self {
            settings,
            buckets: VecDeque::with_capacity(ADAPTIVE_BUCKETS as usize + 1),
            rejecting: false,
            last_rejection: None,
            rng: fastrand::Rng::new(),
        }
    }

    pub(super) fn public_state(&self) -> BreakerState {
        if self.rejecting {
            BreakerState::Open
        } else {
            BreakerState::Closed
        }
    }

    fn bucket_width(&self) -> Duration {
        (self.settings.window / ADAPTIVE_BUCKETS).max(Duration::from_millis(1))
    }

    /// Drops the buckets older than the window.
    fn expire(&mut self, now: Instant) {
        let window = self.settings.window;
        while self
            .buckets
            .front()
            .is_some_and(|bucket| now.saturating_duration_since(bucket.start) >= window)
        {
            self.buckets.pop_front();
        }
    }

    /// The bucket for `now`, after dropping buckets older than the window.
    fn current(&mut self, now: Instant) -> &mut Bucket {
        self.expire(now);
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

    /// The SRE book's rejection probability over the window; 0 until the window holds
    /// `minimum_requests`, so that a few early failures of a quiet client reject nothing.
    fn rejection_probability(&self) -> f64 {
        let (requests, accepts) = self.buckets.iter().fold((0u64, 0u64), |(r, a), bucket| {
            (r + bucket.requests, a + bucket.accepts)
        });
        if requests < u64::from(self.settings.minimum_requests) {
            return 0.0;
        }
        let requests = requests as f64;
        ((requests - self.settings.k * accepts as f64) / (requests + 1.0)).max(0.0)
    }

    /// Moves the window on as the clock alone moves it: once an outage's requests have aged
    /// out of it, the breaker reads (and announces) closed without waiting for a call.
    pub(super) fn advance(&mut self, now: Instant) -> Transition {
        self.expire(now);
        self.settle(now)
    }

    /// `Closed` again when the probability is zero and the last rejection is a window old.
    fn settle(&mut self, now: Instant) -> Transition {
        let quiet = self
            .last_rejection
            .is_none_or(|rejected| now.saturating_duration_since(rejected) >= self.settings.window);
        if self.rejecting && quiet && self.rejection_probability() == 0.0 {
            self.track(false)
        } else {
            None
        }
    }

    pub(super) fn try_acquire(&mut self, now: Instant) -> (Admission, Transition) {
        // The probability comes from the history; this request joins it afterwards, so a fresh
        // window admits everything.
        self.current(now);
        let probability = self.rejection_probability();
        self.current(now).requests += 1;
        if probability > 0.0 && self.rng.f64() < probability {
            self.last_rejection = Some(now);
            let admission = Admission::Rejected {
                retry_after: self.bucket_width(),
                why: Rejection::Throttled,
            };
            (admission, self.track(true))
        } else {
            let admission = Admission::Admitted {
                epoch: 0,
                probe: false,
            };
            (admission, self.settle(now))
        }
    }

    pub(super) fn record(&mut self, now: Instant, outcome: CallOutcome) {
        match outcome {
            CallOutcome::Success => self.current(now).accepts += 1,
            CallOutcome::Failure => {}
            // Counted neither way: the request it added is taken back.
            CallOutcome::Ignored => {
                let bucket = self.current(now);
                bucket.requests = bucket.requests.saturating_sub(1);
            }
        }
    }

    /// Back to admitting everything, with an empty history.
    pub(super) fn reset(&mut self) -> Transition {
        self.buckets.clear();
        self.last_rejection = None;
        self.track(false)
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
