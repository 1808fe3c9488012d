//! Call policies: what options.proto says, what the builder overrides, and the built-in defaults
//! used where neither says anything.

use std::borrow::Cow;
use std::time::Duration;

use tonic::Code;

use crate::rpc::MethodKind;

/// The deadline of a call when neither the caller's [`Context`](crate::Context), the method's
/// options, nor the client says otherwise: no call may wait forever.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// gRFC A6 caps attempts at 5, the first one included; larger values are clamped.
pub const MAX_ATTEMPTS: u32 = 5;

/// Which RPCs may be attempted more than once, and how the attempts are spaced (gRFC A6).
///
/// A policy only matters for calls that are safe to repeat: the method is declared
/// `IDEMPOTENT` or `NO_SIDE_EFFECTS`, or the request carries a non-empty idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts including the first; 1 disables retries. The client caps it at
    /// `ClientBuilder::max_attempts` ([`MAX_ATTEMPTS`] by default).
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter (±20 %).
    pub initial_backoff: Duration,
    /// Upper bound of the backoff, before jitter.
    pub max_backoff: Duration,
    /// Growth of the backoff per retry; any positive factor (below 1 it shrinks).
    pub backoff_multiplier: f64,
    /// Status codes worth another attempt.
    pub retryable_codes: Cow<'static, [Code]>,
}

impl RetryPolicy {
    /// The built-in policy for safe calls when options.proto sets none: three attempts, backoff
    /// bound from 100 ms doubling to 1 s, on `UNAVAILABLE` only.
    pub const DEFAULT: Self = Self {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        backoff_multiplier: 2.0,
        retryable_codes: Cow::Borrowed(&[Code::Unavailable]),
    };

    /// A policy that never retries.
    pub const NEVER: Self = Self {
        max_attempts: 1,
        ..Self::DEFAULT
    };

    /// The attempts this policy allows, within gRFC A6's bound.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Whether a status with `code` is worth another attempt.
    pub fn retries(&self, code: Code) -> bool {
        self.retryable_codes.contains(&code)
    }

    /// The backoff before retry number `retry` (1 for the first retry, and again for the
    /// first after a server pushback): `min(initial_backoff × multiplier^(retry-1),
    /// max_backoff)`. The delay is this times a factor drawn uniformly from `[0.8, 1.2]`
    /// (gRFC A6 as amended), so that clients failing together do not retry together.
    pub fn backoff_bound(&self, retry: u32) -> Duration {
        let multiplier = if self.backoff_multiplier.is_finite() && self.backoff_multiplier > 0.0 {
            self.backoff_multiplier
        } else {
            1.0
        };
        let growth = multiplier.powi(retry.saturating_sub(1).min(64) as i32);
        let bound = self.initial_backoff.as_secs_f64() * growth;
        if bound.is_finite() && bound < self.max_backoff.as_secs_f64() {
            Duration::from_secs_f64(bound)
        } else {
            self.max_backoff
        }
    }
}

/// Retry throttling by token bucket (gRFC A6): every retryable failure takes a token, every
/// success gives back `token_ratio`, and retries stop while the bucket is at or below half full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryThrottling {
    /// Size of the bucket, which starts full.
    pub max_tokens: u32,
    /// Tokens returned per successful call.
    pub token_ratio: f64,
}

impl RetryThrottling {
    /// The built-in throttling when options.proto sets none.
    pub const DEFAULT: Self = Self {
        max_tokens: 10,
        token_ratio: 0.1,
    };
}

/// How a method's circuit breaker decides to fail calls fast.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerPolicy {
    /// No breaker: every call goes to the network.
    Disabled,
    /// Failure rate over a count-based sliding window (the default model).
    SlidingWindow(SlidingWindow),
    /// Client-side adaptive throttling from the Google SRE book.
    Adaptive(Adaptive),
}

impl BreakerPolicy {
    /// The built-in breaker when options.proto sets none.
    pub const DEFAULT: Self = Self::SlidingWindow(SlidingWindow::DEFAULT);
}

/// Settings of the sliding-window breaker (resilience4j's model).
///
/// - **Closed → open** when, over the window (the last `window_size` calls, or the calls of the
///   last `window_duration`) holding at least `minimum_calls`, the failure rate reaches
///   `failure_rate_threshold` or the rate of calls slower than `slow_call_duration` reaches
///   `slow_call_rate_threshold`.
/// - **Open → half-open** after the open wait: `open_duration`, times
///   `open_duration_multiplier` for each re-opening since the breaker last closed, up to
///   `max_open_duration`.
/// - **Half-open** lets `half_open_max_calls` probes through and rejects other calls while
///   they run; once all have answered, their failure and slow-call rates decide: open again at
///   the thresholds, closed below. Probes that take longer than `half_open_max_wait` to decide
///   open it again.
///
/// Add fields with `..SlidingWindow::DEFAULT`, as generated code does: more may come.
#[derive(Debug, Clone, PartialEq)]
pub struct SlidingWindow {
    /// Failure rate in `(0, 1]` at which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Calls in a count-based window.
    pub window_size: u32,
    /// Calls recorded before the rates are judged.
    pub minimum_calls: u32,
    /// How long the breaker stays open the first time.
    pub open_duration: Duration,
    /// Probe calls let through while half-open.
    pub half_open_max_calls: u32,
    /// A time-based window instead: the calls of this last stretch of time (kept in ten
    /// buckets), however many. `None`: the last `window_size` calls.
    pub window_duration: Option<Duration>,
    /// Calls that take at least this long count as slow. `None`: no slow-call rate.
    pub slow_call_duration: Option<Duration>,
    /// Slow-call rate in `(0, 1]` at which the breaker opens.
    pub slow_call_rate_threshold: f64,
    /// How long half-open may wait for its probes before opening again. `None`: no bound.
    pub half_open_max_wait: Option<Duration>,
    /// Growth of the open wait with each re-opening since the breaker last closed; 1 keeps it
    /// fixed.
    pub open_duration_multiplier: f64,
    /// The longest open wait it may grow to.
    pub max_open_duration: Duration,
}

impl SlidingWindow {
    /// The defaults options.proto documents.
    pub const DEFAULT: Self = Self {
        failure_rate_threshold: 0.5,
        window_size: 100,
        minimum_calls: 10,
        open_duration: Duration::from_secs(30),
        half_open_max_calls: 5,
        window_duration: None,
        slow_call_duration: None,
        slow_call_rate_threshold: 1.0,
        half_open_max_wait: None,
        open_duration_multiplier: 1.0,
        max_open_duration: Duration::from_secs(30),
    };
}

/// Settings of adaptive throttling: over the last `window`, a call is rejected locally with
/// probability `max(0, (requests − k × accepts) / (requests + 1))`, where `accepts` counts calls
/// the dependency answered without a dependency failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    /// The multiplier `k`; 2 is the SRE book's recommendation. Lower is more aggressive.
    pub k: f64,
    /// How far back requests and accepts are counted.
    pub window: Duration,
    /// Requests the window must hold before any is rejected, so that the first failures of a
    /// quiet client do not reject its next calls.
    pub minimum_requests: u32,
}

impl Adaptive {
    /// `k = 2` over two minutes, as in the SRE book, rejecting nothing before 10 requests.
    pub const DEFAULT: Self = Self {
        k: 2.0,
        window: Duration::from_secs(120),
        minimum_requests: 10,
    };
}

/// Whether a status means the dependency failed (and counts against its breaker) rather than
/// that the caller asked for something wrong.
///
/// Dependency failures are `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `INTERNAL`, `UNKNOWN`,
/// `RESOURCE_EXHAUSTED` and `DATA_LOSS`. Everything else (`INVALID_ARGUMENT`, `NOT_FOUND`,
/// `FAILED_PRECONDITION`, …) is an answer from a healthy dependency.
pub fn is_dependency_failure(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Internal
            | Code::Unknown
            | Code::ResourceExhausted
            | Code::DataLoss
    )
}

/// What options.proto says about one rpc; generated as a `const`. `None` means "not set", and the
/// built-in default applies.
#[derive(Debug)]
pub struct MethodSpec {
    /// The rpc's proto name, e.g. `CheckStock`: how the builder names it.
    pub name: &'static str,
    /// The HTTP/2 path, e.g. `/inventory.v1.InventoryService/CheckStock`.
    pub path: &'static str,
    /// The call shape.
    pub kind: MethodKind,
    /// `idempotency_level` is `IDEMPOTENT` or `NO_SIDE_EFFECTS`.
    pub safe_to_retry: bool,
    /// The method's deadline, or its service's `default_deadline`.
    pub deadline: Option<Duration>,
    /// The method's retry policy, or its service's.
    pub retry: Option<RetryPolicy>,
    /// The method's breaker settings, or its service's.
    pub circuit_breaker: Option<SlidingWindow>,
    /// The method's hedging policy, or its service's; it replaces the retry policy.
    pub hedging: Option<HedgingPolicy>,
}

/// gRFC A6's hedging: a safe call is sent again, without waiting for the first attempt to fail,
/// every `hedging_delay` until one attempt answers, up to `max_attempts` in flight together.
///
/// The first answer wins and the other attempts are cancelled; an attempt failing with one of
/// `non_fatal_codes` sends the next one at once, any other failure ends the call. Hedged
/// attempts draw on the retry throttling bucket as retries do, carry
/// `grpc-previous-rpc-attempts`, and a server pushback delays (or, negative, stops) the next.
/// It trades load on the service for a shorter tail: with a delay near the service's p95, a
/// call that would be slow gets a second chance at being fast.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgingPolicy {
    /// Attempts in all, the first included; capped as retries are
    /// (`ClientBuilder::max_attempts`).
    pub max_attempts: u32,
    /// How long to wait for an answer before sending the next attempt; zero sends them all
    /// at once.
    pub hedging_delay: Duration,
    /// Codes after which the next attempt goes out at once instead of the call failing.
    pub non_fatal_codes: Cow<'static, [Code]>,
}

/// What options.proto says about a service; generated as a `const`.
#[derive(Debug)]
pub struct ServiceSpec {
    /// The full proto name, e.g. `inventory.v1.InventoryService`.
    pub name: &'static str,
    /// Every rpc, in declaration order.
    pub methods: &'static [MethodSpec],
    /// The service's retry throttling.
    pub retry_throttling: Option<RetryThrottling>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bound_grows_then_caps() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            backoff_multiplier: 2.0,
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(policy.backoff_bound(1), Duration::from_millis(100));
        assert_eq!(policy.backoff_bound(2), Duration::from_millis(200));
        assert_eq!(policy.backoff_bound(3), Duration::from_millis(350));
        // Any positive multiplier (gRFC A6), a shrinking one too.
        let shrinking = RetryPolicy {
            initial_backoff: Duration::from_millis(400),
            backoff_multiplier: 0.5,
            ..policy.clone()
        };
        assert_eq!(shrinking.backoff_bound(1), Duration::from_millis(350));
        assert_eq!(shrinking.backoff_bound(2), Duration::from_millis(200));
        assert_eq!(shrinking.backoff_bound(3), Duration::from_millis(100));
        assert_eq!(policy.backoff_bound(40), Duration::from_millis(350));
    }

    #[test]
    fn a_policy_makes_at_least_one_attempt() {
        let greedy = RetryPolicy {
            max_attempts: 50,
            ..RetryPolicy::DEFAULT
        };
        // The client's cap applies when it is built (`ClientBuilder::max_attempts`).
        assert_eq!(greedy.attempts(), 50);
        let zero = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::DEFAULT
        };
        assert_eq!(zero.attempts(), 1);
    }

    #[test]
    fn only_dependency_failures_count() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::Unknown,
            Code::ResourceExhausted,
            Code::DataLoss,
        ] {
            assert!(is_dependency_failure(code), "{code:?}");
        }
        for code in [
            Code::Ok,
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::FailedPrecondition,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::Aborted,
            Code::Cancelled,
        ] {
            assert!(!is_dependency_failure(code), "{code:?}");
        }
    }
}
