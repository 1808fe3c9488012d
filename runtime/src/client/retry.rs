//! Retrying (gRFC A6): the policy that sends a failed call again where it is safe, with the
//! jittered backoff, server pushback, throttling, the commit point at the response headers and
//! the transparent retry of a stream the server refused. A loop over
//! [`ClientCore::attempt`](super::attempt), which does the sending.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tonic::Status;

use super::MAX_ATTEMPTS;
use super::attempt::{Answered, Failed, Outbound, Receive};
use super::shared::{Call, ClientCore};
use super::throttle::{self, Pushback};

impl ClientCore {
    /// Runs the attempts of a call under its retry policy: one, or more where retrying is safe.
    /// A hand-written loop rather than `tower::retry`: the policy needs the deadline, the
    /// breaker, server pushback and the throttle together, which a `tower::retry::Policy` sees
    /// only in pieces.
    pub(super) async fn with_retries(
        &self,
        call: &Call<'_>,
        outbound: &Outbound,
        receive: Receive,
    ) -> Result<Answered, Status> {
        let method = call.method;
        let attempts = if call.retry_safe {
            method.retry.attempts()
        } else {
            1
        };
        let mut number = 1;
        // The retry whose backoff applies next: 1 at first and again after a server pushback,
        // after which the backoff starts over from `initial_backoff` (gRFC A6).
        let mut backoff_retry = 1;
        // A stream the server refused before processing it (REFUSED_STREAM, or above a GOAWAY's
        // last stream id) is sent again once, for any method and without counting as an
        // attempt: gRFC A6's transparent retry.
        let mut transparent_retry_left = true;
        // The endpoints the call has been sent to, so that a retry goes elsewhere when it can:
        // the first `MAX_ATTEMPTS` of them, on the stack (a client whose cap is raised above
        // it spreads its later retries by round robin alone).
        let mut tried = [0; MAX_ATTEMPTS as usize];
        loop {
            // When every endpoint's breaker turns the attempt away, the call ends: retrying
            // would only spend the backoff (and the bucket's tokens) on local rejections.
            // The set as it is now: an endpoint that left it since the last attempt gets no
            // retry, and this attempt keeps the one it picks until it ends.
            self.inner.endpoints.settled(call.deadline).await;
            let set = self.inner.endpoints.snapshot();
            let pick = self
                .inner
                .endpoints
                .pick(
                    &set,
                    call.index,
                    &tried[..(number as usize - 1).min(tried.len())],
                )
                .inspect_err(|_| {
                    // Turned away before anything was sent: a fallback may answer instead.
                    if number == 1 {
                        call.rejected.store(true, Ordering::Relaxed);
                    }
                })?;
            if let Some(slot) = tried.get_mut(number as usize - 1) {
                *slot = pick.endpoint.id;
            }
            let failed = match self
                .attempt(call, pick, number - 1, outbound, receive)
                .await
            {
                Ok(answered) => return Ok(answered),
                Err(failed) => failed,
            };
            if failed.refused && transparent_retry_left && Instant::now() < call.deadline {
                transparent_retry_left = false;
                continue;
            }
            let Failed {
                status,
                committed,
                retryable,
                throttled,
                ..
            } = failed;
            // Once the server has sent response headers the call is committed (gRFC A6): what
            // it did cannot be known, so it is never sent again.
            if number >= attempts || !retryable || throttled || committed {
                return Err(status);
            }
            let delay = match throttle::pushback(&status) {
                Pushback::Stop => return Err(status),
                Pushback::Delay(delay) => {
                    backoff_retry = 1;
                    delay
                }
                Pushback::None => {
                    let delay = jittered(method.retry.backoff_bound(backoff_retry));
                    backoff_retry += 1;
                    delay
                }
            };
            // A retry that could only start after the deadline is not made (gRFC A6).
            if Instant::now() + delay >= call.deadline {
                return Err(status);
            }
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }
}

/// `backoff` times a factor drawn uniformly from `[0.8, 1.2]`: gRFC A6 as amended replaced
/// full jitter with ±20 %, so that clients failing together spread out without retrying at
/// once.
fn jittered(backoff: Duration) -> Duration {
    jitter(backoff, fastrand::f64())
}

/// `backoff` scaled by `0.8 + 0.4 × unit`, for `unit` in `[0, 1)`.
fn jitter(backoff: Duration, unit: f64) -> Duration {
    backoff.mul_f64(JITTER_LOW + (JITTER_HIGH - JITTER_LOW) * unit)
}

/// The bounds of the jitter factor (gRFC A6).
const JITTER_LOW: f64 = 0.8;
const JITTER_HIGH: f64 = 1.2;

#[cfg(test)]
mod jitter_tests {
    use super::*;

    #[test]
    fn the_factor_spans_eighty_to_one_hundred_twenty_percent() {
        let backoff = Duration::from_millis(1000);
        assert_eq!(jitter(backoff, 0.0), Duration::from_millis(800));
        assert_eq!(jitter(backoff, 0.5), Duration::from_millis(1000));
        assert!(jitter(backoff, 0.999_999) < Duration::from_millis(1200));
    }

    /// 100 000 draws from a fixed seed: every one within ±20 %, the mean within 0.5 % of the
    /// backoff, and each tenth of the range holding 10 % ± 1 % of the draws (uniform).
    #[test]
    fn draws_are_uniform_over_the_range() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let backoff = Duration::from_millis(100);
        let draws = 100_000;
        let mut deciles = [0_u32; 10];
        let mut sum = 0.0;
        for _ in 0..draws {
            let delay = jitter(backoff, rng.f64()).as_secs_f64() / backoff.as_secs_f64();
            assert!((JITTER_LOW..JITTER_HIGH).contains(&delay), "{delay}");
            sum += delay;
            let decile = ((delay - JITTER_LOW) / (JITTER_HIGH - JITTER_LOW) * 10.0) as usize;
            deciles[decile.min(9)] += 1;
        }
        let mean = sum / f64::from(draws);
        assert!((mean - 1.0).abs() < 0.005, "{mean}");
        for (decile, count) in deciles.iter().enumerate() {
            let share = f64::from(*count) / f64::from(draws);
            assert!((share - 0.1).abs() < 0.01, "decile {decile}: {share}");
        }
    }
}
