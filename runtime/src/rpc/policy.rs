//! The call policies an rpc may carry (gRFC A6's retry, retry throttling and hedging), as
//! options.proto and the client builder set them. Data only: the client carries them out.

use std::borrow::Cow;
use std::time::Duration;

use crate::Code;

/// Which RPCs may be attempted more than once, and how the attempts are spaced (gRFC A6).
///
/// A policy only matters for calls that are safe to repeat: the method is declared
/// `IDEMPOTENT` or `NO_SIDE_EFFECTS`, or the request carries a non-empty idempotency key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts including the first; 1 (or 0) disables retries. The client caps it at
    /// `ClientBuilder::max_attempts` (5 by default).
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

    /// A policy that never retries: one attempt.
    pub const NEVER: Self = Self {
        max_attempts: 1,
        ..Self::DEFAULT
    };

    /// [`DEFAULT`](Self::DEFAULT)'s spacing, retrying on `retryable_codes`; the setters below
    /// change the rest, in a `const` too:
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rust_svc_runtime::{Code, client::RetryPolicy};
    /// const READS: RetryPolicy = RetryPolicy::new(&[Code::Unavailable, Code::ResourceExhausted])
    ///     .max_attempts(4)
    ///     .initial_backoff(Duration::from_millis(50));
    /// ```
    pub const fn new(retryable_codes: &'static [Code]) -> Self {
        Self {
            max_attempts: Self::DEFAULT.max_attempts,
            initial_backoff: Self::DEFAULT.initial_backoff,
            max_backoff: Self::DEFAULT.max_backoff,
            backoff_multiplier: Self::DEFAULT.backoff_multiplier,
            retryable_codes: Cow::Borrowed(retryable_codes),
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts): attempts in all, the first included. `0` and
    /// `1` both mean one attempt, no retry; the client caps larger values at
    /// `ClientBuilder::max_attempts` (5 unless changed).
    #[must_use]
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    #[must_use]
    pub const fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub const fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets [`backoff_multiplier`](Self::backoff_multiplier).
    #[must_use]
    pub const fn backoff_multiplier(mut self, multiplier: f64) -> Self {
        self.backoff_multiplier = multiplier;
        self
    }

    /// Sets [`retryable_codes`](Self::retryable_codes) from a list made at run time (in a
    /// `const`, pass the list to [`new`](Self::new)).
    #[must_use]
    pub fn retryable_codes(mut self, codes: impl Into<Cow<'static, [Code]>>) -> Self {
        self.retryable_codes = codes.into();
        self
    }

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

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Retry throttling by token bucket (gRFC A6): every retryable failure takes a token, every
/// success gives back `token_ratio`, and retries stop while the bucket is at or below half full.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryThrottling {
    /// Size of the bucket, which starts full.
    pub max_tokens: u32,
    /// Tokens returned per successful call, above zero; decimal places beyond three are
    /// ignored, as gRFC A6 says (0.5466 is 0.546).
    pub token_ratio: f64,
}

impl RetryThrottling {
    /// The built-in throttling when options.proto sets none.
    pub const DEFAULT: Self = Self {
        max_tokens: 10,
        token_ratio: 0.1,
    };

    /// A bucket of `max_tokens`, `token_ratio` of a token back per success.
    pub const fn new(max_tokens: u32, token_ratio: f64) -> Self {
        Self {
            max_tokens,
            token_ratio,
        }
    }
}

impl Default for RetryThrottling {
    fn default() -> Self {
        Self::DEFAULT
    }
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
#[non_exhaustive]
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

impl HedgingPolicy {
    /// `max_attempts` in all, one more every `hedging_delay` while none has answered, no code
    /// non-fatal (as gRFC A6's service config defaults it). Set the rest with the setters below,
    /// in a `const` too.
    pub const fn new(max_attempts: u32, hedging_delay: Duration) -> Self {
        Self {
            max_attempts,
            hedging_delay,
            non_fatal_codes: Cow::Borrowed(&[]),
        }
    }

    /// [`new`](Self::new) with `non_fatal_codes`, for a `const`.
    pub const fn with_non_fatal_codes(
        max_attempts: u32,
        hedging_delay: Duration,
        non_fatal_codes: &'static [Code],
    ) -> Self {
        Self {
            max_attempts,
            hedging_delay,
            non_fatal_codes: Cow::Borrowed(non_fatal_codes),
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    #[must_use]
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`hedging_delay`](Self::hedging_delay).
    #[must_use]
    pub const fn hedging_delay(mut self, delay: Duration) -> Self {
        self.hedging_delay = delay;
        self
    }

    /// Sets [`non_fatal_codes`](Self::non_fatal_codes).
    #[must_use]
    pub fn non_fatal_codes(mut self, codes: impl Into<Cow<'static, [Code]>>) -> Self {
        self.non_fatal_codes = codes.into();
        self
    }
}

impl Default for HedgingPolicy {
    /// Two attempts, the second after 100 ms without an answer.
    fn default() -> Self {
        Self::new(2, Duration::from_millis(100))
    }
}
