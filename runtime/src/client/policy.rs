//! Call policies: what options.proto says, what the builder overrides, and the built-in defaults
//! used where neither says anything.

use std::time::Duration;

use tonic::Code;

pub use crate::rpc::{
    Adaptive, BreakerPolicy, HedgingPolicy, RetryPolicy, RetryThrottling, SlidingWindow,
};

/// The deadline of a call when neither the caller's [`Context`](crate::Context), the method's
/// options, nor the client says otherwise: no call may wait forever.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// gRFC A6 caps attempts at 5, the first one included; larger values are clamped.
pub const MAX_ATTEMPTS: u32 = 5;

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
