//! The attempts of a unary or server-streaming call (gRFC A6): retries where safe, with the
//! jittered backoff, server pushback, throttling, the commit point at the response headers and
//! the transparent retry of a stream the server refused.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryFutureExt;
use tokio::time::Instant;
use tonic::metadata::AsciiMetadataValue;
use tonic::{Code, Status};

use super::MAX_ATTEMPTS;
use super::MethodInfo;
use super::breaker;
use super::core::{Call, ClientCore, deadline_exceeded, normalize};
use super::endpoints::{Endpoint, Pick};
use super::throttle::{self, Pushback};
use crate::rpc::PREVIOUS_ATTEMPTS_HEADER;

impl ClientCore {
    /// Runs the attempts of a unary or server-streaming call: one, or more where retrying is
    /// safe. A hand-written loop rather than `tower::retry`: the policy needs the deadline, the
    /// breaker, server pushback and the throttle together, which a `tower::retry::Policy` sees
    /// only in pieces.
    pub(super) async fn with_retries<'s, T, F, Fut>(
        &'s self,
        call: &Call<'_>,
        body: Bytes,
        attempt: F,
    ) -> Result<T, Status>
    where
        F: Fn(&'s Endpoint, tonic::Request<Bytes>) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        let method = call.method;
        if call.retry_safe
            && let Some(hedging) = &method.hedging
        {
            return self.with_hedging(call, body, hedging, attempt).await;
        }
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
            let picked = self
                .inner
                .endpoints
                .pick(call.index, &tried[..(number as usize - 1).min(tried.len())]);
            let Pick {
                index,
                endpoint,
                permit,
            } = picked.inspect_err(|_| {
                // Turned away before anything was sent: a fallback may answer instead.
                if number == 1 {
                    call.rejected.store(true, Ordering::Relaxed);
                }
            })?;
            if let Some(slot) = tried.get_mut(number as usize - 1) {
                *slot = index;
            }
            let wire = call.attempt_request(body.clone(), number - 1);
            let outcome = self
                .run_attempt(call, permit, attempt(endpoint, wire))
                .await;
            let failed = match outcome {
                Ok(value) => return Ok(self.succeeded(value)),
                Err(failed) => failed,
            };
            if failed.refused && transparent_retry_left && Instant::now() < call.deadline {
                transparent_retry_left = false;
                continue;
            }
            let Failed {
                status, committed, ..
            } = failed;
            let retryable = method.retry.retries(status.code());
            // Every retryable failure drains the bucket, whether or not this call may retry: the
            // bucket measures the dependency's health.
            let throttled = retryable
                && self
                    .inner
                    .throttle
                    .as_ref()
                    .is_some_and(|throttle| !throttle.on_retryable_failure());
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

    /// One admitted attempt, raced against the deadline, its outcome recorded by the breaker.
    pub(super) async fn run<T>(
        &self,
        call: &Call<'_>,
        permit: Option<breaker::Permit<'_>>,
        attempt: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        self.run_attempt(call, permit, attempt.map_err(Failed::before_headers))
            .await
            .map_err(|failed| failed.status)
    }

    /// [`ClientCore::run`] for an attempt that tells whether it failed after the response
    /// headers, and that finds out whether the server refused the stream unprocessed.
    pub(super) async fn run_attempt<T>(
        &self,
        call: &Call<'_>,
        permit: Option<breaker::Permit<'_>>,
        attempt: impl Future<Output = Result<T, Failed>>,
    ) -> Result<T, Failed> {
        let outcome = match tokio::time::timeout_at(call.deadline, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failed)) => Err(Failed {
                refused: super::connection::never_processed(&failed.status),
                status: normalize(failed.status, call),
                committed: failed.committed,
            }),
            Err(_elapsed) => Err(Failed::before_headers(deadline_exceeded(call))),
        };
        if let Some(permit) = permit {
            permit.record(
                outcome
                    .as_ref()
                    .map_or_else(|failed| failed.status.code(), |_| Code::Ok),
            );
        }
        outcome
    }
}

impl ClientCore {
    /// A success, told to the throttling bucket.
    pub(super) fn succeeded<T>(&self, value: T) -> T {
        if let Some(throttle) = &self.inner.throttle {
            throttle.on_success();
        }
        value
    }
}

impl Call<'_> {
    /// The wire request of the attempt after `previous` others: every attempt sends the same
    /// encoded body (a reference-counted view of it), and one after the first is counted as a
    /// retry and says how many came before it (gRFC A6).
    pub(super) fn attempt_request(&self, body: Bytes, previous: u32) -> tonic::Request<Bytes> {
        let mut wire = self.request(body);
        if previous > 0 {
            count_retry(self.method.spec);
            wire.metadata_mut()
                .insert(PREVIOUS_ATTEMPTS_HEADER, AsciiMetadataValue::from(previous));
        }
        wire
    }
}

/// How an attempt failed.
pub(super) struct Failed {
    pub(super) status: Status,
    /// After the response headers: the call is committed and never retried (gRFC A6).
    pub(super) committed: bool,
    /// Refused by the server before it processed the stream: transparently retried once.
    pub(super) refused: bool,
}

impl Failed {
    pub(super) fn before_headers(status: Status) -> Self {
        Self {
            status,
            committed: false,
            refused: false,
        }
    }

    pub(super) fn after_headers(status: Status) -> Self {
        Self {
            status,
            committed: true,
            refused: false,
        }
    }
}

/// Counts an attempt after a call's first that was made (a breaker may turn it away first).
fn count_retry(spec: &'static MethodInfo) {
    let service = spec.service();
    metrics::counter!(
        "grpc_client_retries_total",
        "grpc_service" => service,
        "grpc_method" => spec.method(),
    )
    .increment(1);
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
