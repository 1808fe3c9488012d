//! What holds retries back (gRFC A6): the throttling token bucket shared by a client's calls,
//! and the server's pushback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tonic::Status;
use tonic_types::StatusExt;

use super::policy::RetryThrottling;
use crate::rpc::RETRY_PUSHBACK;

/// Token counts are kept in thousandths, the precision gRFC A6 gives `token_ratio`, so the
/// bucket is one lock-free atomic.
const MILLI: f64 = 1000.0;

/// `token_ratio` in thousandths: gRFC A6 ignores the decimal places beyond three (0.5466 is
/// 0.546), and a ratio must be above zero, so the least is one thousandth. The small epsilon
/// keeps a ratio written with three places whole (0.29 is 289.99… thousandths in binary).
fn ratio_milli(token_ratio: f64) -> u64 {
    (token_ratio * MILLI + 1e-6).floor().max(1.0) as u64
}

/// The retry-throttling token bucket shared by every method of a client.
#[derive(Debug)]
pub(crate) struct Throttle {
    max_milli: u64,
    ratio_milli: u64,
    tokens_milli: AtomicU64,
}

impl Throttle {
    pub(crate) fn new(settings: RetryThrottling) -> Self {
        let max_milli = u64::from(settings.max_tokens.max(1)) * 1000;
        Self {
            max_milli,
            ratio_milli: ratio_milli(settings.token_ratio),
            tokens_milli: AtomicU64::new(max_milli),
        }
    }

    /// A successful attempt gives back `token_ratio` tokens.
    pub(crate) fn on_success(&self) {
        let _ = self
            .tokens_milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                (tokens < self.max_milli).then(|| (tokens + self.ratio_milli).min(self.max_milli))
            });
    }

    /// A failed attempt with a retryable code takes a token; answers whether a retry is still
    /// allowed, i.e. whether more than half the bucket is left.
    pub(crate) fn on_retryable_failure(&self) -> bool {
        let previous = self
            .tokens_milli
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_sub(1000))
            })
            .unwrap_or(0);
        previous.saturating_sub(1000) > self.max_milli / 2
    }

    /// Whether a retry (or a hedge) may be sent now: more than half the bucket is left.
    pub(crate) fn allows_retry(&self) -> bool {
        self.tokens_milli.load(Ordering::Relaxed) > self.max_milli / 2
    }

    #[cfg(test)]
    fn tokens(&self) -> f64 {
        self.tokens_milli.load(Ordering::Relaxed) as f64 / MILLI
    }
}

/// What the server said about retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// Nothing: the client's backoff applies.
    None,
    /// Wait this long before the next attempt.
    Delay(Duration),
    /// Do not retry (a negative or malformed `grpc-retry-pushback-ms`, per gRFC A6).
    Stop,
}

/// Reads a `google.rpc.RetryInfo` detail, or else the `grpc-retry-pushback-ms` trailer.
pub(crate) fn pushback(status: &Status) -> Pushback {
    if let Some(delay) = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
    {
        return Pushback::Delay(delay);
    }
    // Sent more than once, it says nothing reliable: gRFC A6 treats it as "do not retry".
    let mut values = status.metadata().get_all(RETRY_PUSHBACK).iter();
    if let (Some(_), Some(_)) = (values.next(), values.next()) {
        return Pushback::Stop;
    }
    match status.metadata().get(RETRY_PUSHBACK) {
        None => Pushback::None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            Some(millis) => Pushback::Delay(Duration::from_millis(millis)),
            None => Pushback::Stop,
        },
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn the_bucket_stops_retries_at_half_and_refills_on_success() {
        let throttle = Throttle::new(RetryThrottling {
            max_tokens: 10,
            token_ratio: 0.5,
        });
        // 10 → 9, 8, 7, 6 allow retries; 5 is not more than half.
        for _ in 0..4 {
            assert!(throttle.on_retryable_failure());
        }
        assert!(!throttle.on_retryable_failure());
        assert_eq!(throttle.tokens(), 5.0);
        throttle.on_success();
        throttle.on_success();
        throttle.on_success();
        assert_eq!(throttle.tokens(), 6.5);
        assert!(throttle.on_retryable_failure());
        for _ in 0..100 {
            throttle.on_success();
        }
        assert_eq!(throttle.tokens(), 10.0);
    }

    #[test]
    fn decimal_places_beyond_three_are_ignored() {
        // gRFC A6's own example, and ratios whose binary value is just under three places.
        for (ratio, milli) in [
            (0.5466, 546),
            (0.5469, 546),
            (0.29, 290),
            (0.1, 100),
            (1.0, 1000),
        ] {
            assert_eq!(ratio_milli(ratio), milli, "{ratio}");
        }
        assert_eq!(ratio_milli(0.0004), 1, "never zero");
    }

    #[test]
    fn the_bucket_never_goes_below_zero() {
        let throttle = Throttle::new(RetryThrottling {
            max_tokens: 1,
            token_ratio: 0.1,
        });
        for _ in 0..5 {
            assert!(!throttle.on_retryable_failure());
        }
        assert_eq!(throttle.tokens(), 0.0);
    }

    #[test]
    fn pushback_comes_from_retry_info_or_the_header() {
        let plain = Status::unavailable("down");
        assert_eq!(pushback(&plain), Pushback::None);

        let info = Status::with_error_details(
            Code::Unavailable,
            "busy",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(250))),
        );
        assert_eq!(pushback(&info), Pushback::Delay(Duration::from_millis(250)));

        let mut header = Status::unavailable("busy");
        header
            .metadata_mut()
            .insert(RETRY_PUSHBACK, "40".parse().unwrap());
        assert_eq!(
            pushback(&header),
            Pushback::Delay(Duration::from_millis(40))
        );

        let mut negative = Status::unavailable("go away");
        negative
            .metadata_mut()
            .insert(RETRY_PUSHBACK, "-1".parse().unwrap());
        assert_eq!(pushback(&negative), Pushback::Stop);

        for malformed in ["soon", "1.5", "", "0x10"] {
            let mut status = Status::unavailable("busy");
            status
                .metadata_mut()
                .insert(RETRY_PUSHBACK, malformed.parse().unwrap());
            assert_eq!(pushback(&status), Pushback::Stop, "{malformed:?}");
        }

        // Twice, even with the same value: not to be trusted, so no retry.
        let mut twice = Status::unavailable("busy");
        for value in ["40", "40"] {
            twice
                .metadata_mut()
                .append(RETRY_PUSHBACK, value.parse().unwrap());
        }
        assert_eq!(pushback(&twice), Pushback::Stop);
    }
}
