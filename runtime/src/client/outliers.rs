//! Outlier detection (gRFC A50): every `interval`, the endpoints whose calls fail far more than
//! the others' are ejected (they get no calls) for a while that grows each time it happens
//! again, by success rate (below the mean by `stdev_factor` standard deviations) or by failure
//! percentage (above a threshold), never more than `max_ejection_percent` of the endpoints at
//! once.
//!
//! How it relates to the breakers: a breaker is per endpoint *and method*, and judges an
//! endpoint against a fixed threshold of its own calls, call by call; outlier detection judges
//! each endpoint against the others, over all its methods, once per interval. A breaker opens
//! on a dependency that is down everywhere; outlier detection takes out one bad replica among
//! healthy ones (a host with a bad disk, a pod stuck in a retry storm) while its breakers,
//! judged alone, may stay closed. Both count the same failures: the breakers' default
//! classification ([`default_classification`](super::default_classification)) decides, and a
//! call the caller gave up on or a refusal for load counts neither way.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// gRFC A50's settings: how often endpoints are judged, how long an ejection lasts, and the
/// algorithms that judge (none by default: give one or both). Built, so that new settings are
/// not a breaking change: `OutlierDetection::new().failure_percentage(FailurePercentage::DEFAULT)`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierDetection {
    interval: Duration,
    base_ejection_time: Duration,
    max_ejection_time: Duration,
    max_ejection_percent: u32,
    success_rate: Option<SuccessRate>,
    failure_percentage: Option<FailurePercentage>,
}

/// Ejection by success rate: among the endpoints with at least `request_volume` calls in the
/// interval (and only when there are `minimum_hosts` of them), those whose success rate is below
/// the mean by more than `stdev_factor / 1000` standard deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuccessRate {
    /// In thousandths of a standard deviation (1900: 1.9).
    pub stdev_factor: u32,
    /// The percentage of outliers found that are ejected.
    pub enforcement_percentage: u32,
    /// The fewest endpoints with enough calls for the algorithm to run.
    pub minimum_hosts: usize,
    /// The fewest calls in the interval for an endpoint to count.
    pub request_volume: u64,
}

/// Ejection by failure percentage: among the endpoints with at least `request_volume` calls in
/// the interval (and only when there are `minimum_hosts` of them), those whose calls failed
/// more than `threshold` percent of the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailurePercentage {
    /// The failure percentage above which an endpoint is an outlier.
    pub threshold: u32,
    /// The percentage of outliers found that are ejected.
    pub enforcement_percentage: u32,
    /// The fewest endpoints with enough calls for the algorithm to run.
    pub minimum_hosts: usize,
    /// The fewest calls in the interval for an endpoint to count.
    pub request_volume: u64,
}

impl SuccessRate {
    /// gRFC A50's defaults: 1.9 standard deviations, always enforced, 5 endpoints with 100
    /// calls each.
    pub const DEFAULT: Self = Self {
        stdev_factor: 1900,
        enforcement_percentage: 100,
        minimum_hosts: 5,
        request_volume: 100,
    };

    /// With another minimum of endpoints.
    #[must_use]
    pub const fn minimum_hosts(mut self, hosts: usize) -> Self {
        self.minimum_hosts = hosts;
        self
    }

    /// With another minimum of calls per endpoint.
    #[must_use]
    pub const fn request_volume(mut self, calls: u64) -> Self {
        self.request_volume = calls;
        self
    }

    /// With another factor, in thousandths of a standard deviation.
    #[must_use]
    pub const fn stdev_factor(mut self, thousandths: u32) -> Self {
        self.stdev_factor = thousandths;
        self
    }
}

impl FailurePercentage {
    /// gRFC A50's defaults: above 85 % failures, always enforced, 5 endpoints with 50 calls
    /// each.
    pub const DEFAULT: Self = Self {
        threshold: 85,
        enforcement_percentage: 100,
        minimum_hosts: 5,
        request_volume: 50,
    };

    /// With another threshold, in percent.
    #[must_use]
    pub const fn threshold(mut self, percent: u32) -> Self {
        self.threshold = percent;
        self
    }

    /// With another minimum of endpoints.
    #[must_use]
    pub const fn minimum_hosts(mut self, hosts: usize) -> Self {
        self.minimum_hosts = hosts;
        self
    }

    /// With another minimum of calls per endpoint.
    #[must_use]
    pub const fn request_volume(mut self, calls: u64) -> Self {
        self.request_volume = calls;
        self
    }
}

impl Default for OutlierDetection {
    fn default() -> Self {
        Self::new()
    }
}

impl OutlierDetection {
    /// gRFC A50's defaults: judged every 10 s, ejected for 30 s the first time (twice that the
    /// second, up to 300 s), at most 10 % of the endpoints at once; no algorithm yet.
    pub const fn new() -> Self {
        Self {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate: None,
            failure_percentage: None,
        }
    }

    /// How often the endpoints are judged.
    #[must_use]
    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long a first ejection lasts; the n-th lasts n times as long, up to
    /// [`max_ejection_time`](Self::max_ejection_time).
    #[must_use]
    pub const fn base_ejection_time(mut self, time: Duration) -> Self {
        self.base_ejection_time = time;
        self
    }

    /// The longest an ejection lasts (at least the base ejection time).
    #[must_use]
    pub const fn max_ejection_time(mut self, time: Duration) -> Self {
        self.max_ejection_time = time;
        self
    }

    /// The largest share of the endpoints ejected at once, in percent (one may always be, when
    /// none is).
    #[must_use]
    pub const fn max_ejection_percent(mut self, percent: u32) -> Self {
        self.max_ejection_percent = if percent > 100 { 100 } else { percent };
        self
    }

    /// Ejects by success rate.
    #[must_use]
    pub const fn success_rate(mut self, settings: SuccessRate) -> Self {
        self.success_rate = Some(settings);
        self
    }

    /// Ejects by failure percentage.
    #[must_use]
    pub const fn failure_percentage(mut self, settings: FailurePercentage) -> Self {
        self.failure_percentage = Some(settings);
        self
    }

    /// The interval, at least a millisecond.
    pub(super) fn interval_or_least(&self) -> Duration {
        self.interval.max(Duration::from_millis(1))
    }

    /// One interval's evaluation (gRFC A50's algorithm) of the endpoints' states (with their
    /// labels) at `now`.
    pub(super) fn judge(&self, endpoints: &[(&OutlierState, &str)], now: Instant) {
        let counts: Vec<(u64, u64)> = endpoints
            .iter()
            .map(|(state, _)| state.take_counts())
            .collect();
        let total = endpoints.len();
        // The endpoints each algorithm finds, in gRFC A50's order (success rate first), with
        // the share of its findings the algorithm enforces.
        let mut outliers: Vec<(usize, u32)> = Vec::new();
        if let Some(rate) = self.success_rate
            && let Some(judged) = with_volume(&counts, rate.request_volume, rate.minimum_hosts)
        {
            let rates: Vec<f64> = judged
                .iter()
                .map(|&index| {
                    let (successes, failures) = counts[index];
                    successes as f64 / (successes + failures) as f64
                })
                .collect();
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            let variance =
                rates.iter().map(|rate| (rate - mean).powi(2)).sum::<f64>() / rates.len() as f64;
            let floor = mean - variance.sqrt() * f64::from(rate.stdev_factor) / 1000.0;
            outliers.extend(
                judged
                    .iter()
                    .zip(&rates)
                    .filter(|&(_, &success)| success < floor)
                    .map(|(&index, _)| (index, rate.enforcement_percentage)),
            );
        }
        if let Some(failure) = self.failure_percentage
            && let Some(judged) =
                with_volume(&counts, failure.request_volume, failure.minimum_hosts)
        {
            outliers.extend(
                judged
                    .into_iter()
                    .filter(|&index| {
                        let (successes, failures) = counts[index];
                        failures * 100 / (successes + failures) > u64::from(failure.threshold)
                    })
                    .map(|index| (index, failure.enforcement_percentage)),
            );
        }
        let mut ejected = endpoints
            .iter()
            .filter(|(state, _)| state.is_ejected())
            .count();
        let mut newly = vec![false; total];
        for (index, enforcement) in outliers {
            let (state, label) = endpoints[index];
            // At most max_ejection_percent ejected at once (one always may be, when none is).
            let room = ejected * 100 < total * self.max_ejection_percent as usize;
            if room && !state.is_ejected() && enforced(enforcement) {
                state.eject(now, label);
                newly[index] = true;
                ejected += 1;
            }
        }
        // Un-ejection, and the multiplier of those judged healthy going back down.
        for (index, (state, label)) in endpoints.iter().enumerate() {
            if !newly[index] {
                state.settle(
                    now,
                    self.base_ejection_time,
                    self.max_ejection_time.max(self.base_ejection_time),
                    label,
                );
            }
        }
    }
}

/// The endpoints with at least `request_volume` calls in the interval, when there are
/// `minimum_hosts` of them; `None` when the algorithm does not run.
fn with_volume(
    counts: &[(u64, u64)],
    request_volume: u64,
    minimum_hosts: usize,
) -> Option<Vec<usize>> {
    let judged: Vec<usize> = (0..counts.len())
        .filter(|&index| counts[index].0 + counts[index].1 >= request_volume.max(1))
        .collect();
    (judged.len() >= minimum_hosts.max(1)).then_some(judged)
}

/// Whether an outlier found is ejected, `percent` of the time.
fn enforced(percent: u32) -> bool {
    percent >= 100 || fastrand::u32(..100) < percent
}

/// One endpoint's outlier-detection state: its calls in the current interval, and its
/// ejection.
#[derive(Debug, Default)]
pub(super) struct OutlierState {
    successes: AtomicU64,
    failures: AtomicU64,
    /// How many ejections in a row make the next one longer (gRFC A50's multiplier).
    multiplier: AtomicU32,
    /// Read by every pick, so a flag rather than the lock below.
    ejected: AtomicBool,
    /// When the ejection in force began: the evaluation's alone.
    ejected_at: Mutex<Option<Instant>>,
}

impl OutlierState {
    /// Counts a call's outcome.
    pub(super) fn record(&self, success: bool) {
        let counter = if success {
            &self.successes
        } else {
            &self.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn take_counts(&self) -> (u64, u64) {
        (
            self.successes.swap(0, Ordering::Relaxed),
            self.failures.swap(0, Ordering::Relaxed),
        )
    }

    /// Whether the endpoint is ejected (un-ejection happens at evaluations).
    pub(super) fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    fn eject(&self, now: Instant, label: &str) {
        *self
            .ejected_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(now);
        self.ejected.store(true, Ordering::Relaxed);
        let times = self.multiplier.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            endpoint = label,
            times,
            "outlier detection ejects the endpoint: its calls fail far more than the others'",
        );
    }

    /// Ends an ejection whose time is up; lowers the multiplier of an endpoint not ejected.
    fn settle(&self, now: Instant, base: Duration, max: Duration, label: &str) {
        let mut ejected_at = self
            .ejected_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *ejected_at {
            Some(at) => {
                let multiplier = self.multiplier.load(Ordering::Relaxed).max(1);
                let lasts = base.saturating_mul(multiplier).min(max);
                if now >= at + lasts {
                    *ejected_at = None;
                    self.ejected.store(false, Ordering::Relaxed);
                    tracing::info!(
                        endpoint = label,
                        "outlier detection lets the endpoint back in"
                    );
                }
            }
            None => {
                let _ = self
                    .multiplier
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| m.checked_sub(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `calls` outcomes on `state`: `failures` of them failed.
    fn calls(state: &OutlierState, calls: u64, failures: u64) {
        for n in 0..calls {
            state.record(n >= failures);
        }
    }

    #[test]
    fn success_rate_ejects_the_endpoint_far_below_the_mean_for_longer_each_time() {
        let states: Vec<OutlierState> = (0..5).map(|_| OutlierState::default()).collect();
        let labels = ["a", "b", "c", "d", "e"];
        let judged: Vec<(&OutlierState, &str)> = states.iter().zip(labels).collect();
        let detection = OutlierDetection::new().success_rate(SuccessRate::DEFAULT);
        let base = Duration::from_secs(30);
        let start = Instant::now();

        // Four at 100 % of 100 calls, one at 50 %: mean 0.9, deviation 0.2, floor 0.52.
        let interval = |failing: u64| {
            for (index, state) in states.iter().enumerate() {
                calls(state, 100, if index == 4 { failing } else { 0 });
            }
        };
        interval(50);
        detection.judge(&judged, start);
        let ejected: Vec<bool> = states.iter().map(OutlierState::is_ejected).collect();
        assert_eq!(ejected, [false, false, false, false, true]);

        // Still ejected before the base time, back in at it.
        detection.judge(&judged, start + base - Duration::from_secs(1));
        assert!(states[4].is_ejected());
        detection.judge(&judged, start + base);
        assert!(!states[4].is_ejected());

        // Ejected again at once: twice as long this time (the multiplier is 2).
        interval(50);
        let again = start + base + Duration::from_secs(10);
        detection.judge(&judged, again);
        assert!(states[4].is_ejected());
        detection.judge(&judged, again + base);
        assert!(states[4].is_ejected(), "the second ejection lasts 60 s");
        detection.judge(&judged, again + base * 2);
        assert!(!states[4].is_ejected());
    }

    #[test]
    fn failure_percentage_respects_its_minimums_and_the_ejection_cap() {
        let states: Vec<OutlierState> = (0..4).map(|_| OutlierState::default()).collect();
        let labels = ["a", "b", "c", "d"];
        let judged: Vec<(&OutlierState, &str)> = states.iter().zip(labels).collect();
        let now = Instant::now();

        // Two endpoints failing 90 %: with the cap at 25 % of four, only one is ejected.
        let detection = OutlierDetection::new()
            .max_ejection_percent(25)
            .failure_percentage(FailurePercentage::DEFAULT.minimum_hosts(4));
        for (index, state) in states.iter().enumerate() {
            calls(state, 60, if index >= 2 { 54 } else { 0 });
        }
        detection.judge(&judged, now);
        let ejected = states.iter().filter(|state| state.is_ejected()).count();
        assert_eq!(ejected, 1);

        // Too few calls (under the request volume), or too few endpoints: nobody is judged.
        let fresh: Vec<OutlierState> = (0..4).map(|_| OutlierState::default()).collect();
        let judged: Vec<(&OutlierState, &str)> = fresh.iter().zip(labels).collect();
        for state in &fresh {
            calls(state, 10, 10);
        }
        detection.judge(&judged, now);
        assert!(fresh.iter().all(|state| !state.is_ejected()));
        let strict = OutlierDetection::new()
            .max_ejection_percent(100)
            .failure_percentage(FailurePercentage::DEFAULT.minimum_hosts(5));
        for state in &fresh {
            calls(state, 60, 60);
        }
        strict.judge(&judged, now);
        assert!(fresh.iter().all(|state| !state.is_ejected()));
    }
}
