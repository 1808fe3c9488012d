//! gRFC A6's hedging: a safe call sent again every `hedging_delay` until one attempt answers,
//! the first answer winning and the others cancelled. A loop over
//! [`ClientCore::attempt`](super::attempt), as retrying is.

use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use tonic::Status;

use super::attempt::{Answered, Outbound, Receive};
use super::shared::{Call, ClientCore};
use super::throttle::{self, Pushback};
use super::{HedgingPolicy, MAX_ATTEMPTS};

impl ClientCore {
    /// Runs the hedged attempts of a unary or server-streaming call (see [`HedgingPolicy`]).
    ///
    /// An attempt that fails with a non-fatal code sends the next at once; a fatal code, or a
    /// failure after the response headers (the call is then committed), ends the call and
    /// cancels the others, as does the first success: for a server stream, the first response
    /// headers. A hedge is sent only while the throttle
    /// allows retries, the deadline is ahead, and the server has not asked to stop.
    pub(super) async fn with_hedging(
        &self,
        call: &Call<'_>,
        outbound: &Outbound,
        receive: Receive,
        policy: &HedgingPolicy,
    ) -> Result<Answered, Status> {
        let max_attempts = policy.max_attempts.max(1);
        // The hedges of one call pick from the set as it was when the call started: they are
        // sent within its deadline, and an endpoint that left the set since still finishes
        // what it is given. Declared before the attempts, which borrow from it.
        self.inner.endpoints.settled(call.deadline).await;
        let set = self.inner.endpoints.snapshot();
        let mut in_flight = FuturesUnordered::new();
        let mut sent: u32 = 0;
        let mut tried = [0; MAX_ATTEMPTS as usize];
        let mut next_at = Instant::now();
        let mut may_hedge = true;
        let mut last_failure: Option<Status> = None;
        // A hedged server stream is decided by its response headers, not its first message
        // (gRFC A6, as grpc-java commits a hedge): the first attempt to answer wins and the
        // others are cancelled before its first message is read.
        let attempt_receive = match receive {
            Receive::FirstMessage => Receive::Headers,
            other => other,
        };
        let answered = loop {
            may_hedge &= sent < max_attempts && next_at < call.deadline;
            if may_hedge && Instant::now() >= next_at {
                // A hedge after the first draws on the bucket as a retry does.
                let throttled = sent > 0
                    && self
                        .inner
                        .throttle
                        .as_ref()
                        .is_some_and(|throttle| !throttle.allows_retry());
                if throttled {
                    may_hedge = false;
                    continue;
                }
                let remembered = (sent as usize).min(tried.len());
                match self
                    .inner
                    .endpoints
                    .pick(&set, call.index, &tried[..remembered])
                {
                    Ok(pick) => {
                        if let Some(slot) = tried.get_mut(sent as usize) {
                            *slot = pick.endpoint.id;
                        }
                        in_flight.push(self.attempt(call, pick, sent, outbound, attempt_receive));
                        sent += 1;
                        next_at = Instant::now() + policy.hedging_delay;
                    }
                    // Every breaker turned it away: no hedge now, and none later.
                    Err(rejection) => {
                        if sent == 0 {
                            call.rejected.store(true, Ordering::Relaxed);
                            return Err(rejection);
                        }
                        may_hedge = false;
                        last_failure.get_or_insert(rejection);
                    }
                }
                continue;
            }
            let outcome = if may_hedge {
                if in_flight.is_empty() {
                    // Only a pushback's delay stands before the next hedge (A6): wait it out.
                    tokio::time::sleep_until(next_at).await;
                    continue;
                }
                tokio::select! {
                    outcome = in_flight.next() => outcome,
                    () = tokio::time::sleep_until(next_at) => continue,
                }
            } else {
                in_flight.next().await
            };
            let Some(outcome) = outcome else {
                // Nothing in flight and nothing more to send.
                return Err(last_failure.unwrap_or_else(|| {
                    Status::internal("hedging ended without an attempt (a bug)")
                }));
            };
            let failed = match outcome {
                Ok(answered) => break answered,
                Err(failed) => failed,
            };
            // The attempt drained the bucket if its code is not fatal; a throttled bucket
            // stops new hedges before they are sent, above.
            if failed.committed || !failed.retryable {
                return Err(failed.status);
            }
            match throttle::pushback(&failed.status) {
                Pushback::Stop => may_hedge = false,
                Pushback::Delay(delay) => next_at = Instant::now() + delay,
                // The next in line goes now, rather than at its delay.
                Pushback::None => next_at = Instant::now(),
            }
            last_failure = Some(failed.status);
        };
        // Cancels the attempts that lost.
        drop(in_flight);
        match receive {
            Receive::FirstMessage => call.first_message(answered).await,
            Receive::Message | Receive::Headers => Ok(answered),
        }
    }
}
