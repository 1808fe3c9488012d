//! The one attempt path every call takes, whatever its kind and whatever its policy.
//!
//! [`ClientCore::attempt`] builds one attempt's wire request (the call's metadata, the time
//! left as `grpc-timeout`, `grpc-previous-rpc-attempts` after the first), sends the call's
//! message or its stream over the picked endpoint, waits for what the call needs before it is
//! decided (the one response message, the first streamed one, or the response headers), and
//! classifies the outcome: committed or not, refused unprocessed or not, retryable or not under
//! the policy in force. It records the outcome with the endpoint's breaker and the throttling
//! bucket. Retrying ([`super::retry`]) and hedging ([`super::hedging`]) are loops over it that
//! decide only whether, when and where the next attempt goes: tonic's single
//! `Grpc::streaming` core and connect-go's one `Spec` per rpc are the models.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;
use tonic::{Code, Status};

use super::endpoints::Pick;
use super::replay::Replay;
use super::response::Undecoded;
use super::send::{Opened, Outgoing, reserved};
use super::shared::{Call, ClientCore};
use super::streams::{Aborted, abort_on_error, with_trailers};
use super::throttle::Pushback;
use super::{CallOutcome, MethodInfo};
use crate::BoxStream;
use crate::deadline::coarse_grpc_timeout_value;
use crate::rpc::{PREVIOUS_ATTEMPTS_HEADER, RETRY_PUSHBACK};

/// What every attempt of a call sends.
pub(super) enum Outbound {
    /// One encoded message (unary and server-streaming calls): each attempt sends a
    /// reference-counted view of the same bytes.
    Message(Bytes),
    /// The caller's request stream (client and bidi streams), kept for the attempts after the
    /// first as far as the call may be retried.
    Stream(Arc<Replay>),
}

/// What an attempt waits for before the call is decided: until then a failure may be retried;
/// after the response headers the call is committed (gRFC A6).
#[derive(Clone, Copy)]
pub(super) enum Receive {
    /// The one response message and the trailers (unary and client-streaming calls).
    Message,
    /// The response headers and the first message (server-streaming calls), so that a stream
    /// that fails at once fails the call.
    FirstMessage,
    /// The response headers only (bidi streams, whose server may wait for input before it
    /// answers).
    Headers,
}

impl Call<'_> {
    /// Reads the first message of a stream whose response headers decided the call (a hedged
    /// server stream), so that a stream failing at once fails the call as it does unhedged.
    /// The call is committed: a failure here is not retried.
    pub(super) async fn first_message(&self, answered: Answered) -> Result<Answered, Status> {
        let Answered::Stream {
            mut responses,
            aborted,
        } = answered
        else {
            return Ok(answered);
        };
        let first = match tokio::time::timeout_at(self.deadline, responses.next()).await {
            Ok(Some(Err(status))) => return Err(normalize(status, self)),
            Ok(first) => first,
            Err(_elapsed) => return Err(deadline_exceeded(self)),
        };
        Ok(Answered::Stream {
            responses: Box::pin(futures_util::stream::iter(first).chain(responses)),
            aborted,
        })
    }
}

/// What a successful attempt brings back.
pub(super) enum Answered {
    Message(Bytes),
    Stream {
        /// The response messages (the first already read, for a server stream), recording the
        /// trailers where the caller reads them when they end.
        responses: BoxStream<Bytes>,
        /// Resolves with the caller's request stream's error, for a streamed request.
        aborted: Option<Aborted>,
    },
}

/// How an attempt failed.
pub(super) struct Failed {
    pub(super) status: Status,
    /// After the response headers, or after a streamed request outgrew what is kept for a
    /// replay: the call is committed and never sent again (gRFC A6).
    pub(super) committed: bool,
    /// Refused by the server before it processed the stream, and not committed: sent again
    /// once, transparently, whatever the method.
    pub(super) refused: bool,
    /// The code is one the policy in force retries (or, hedging, does not treat as fatal).
    pub(super) retryable: bool,
    /// The throttling bucket, drained by this failure, no longer allows retries.
    pub(super) throttled: bool,
}

impl Failed {
    fn before_headers(status: Status) -> Self {
        Self {
            status,
            committed: false,
            refused: false,
            retryable: false,
            throttled: false,
        }
    }

    fn after_headers(status: Status) -> Self {
        Self {
            committed: true,
            ..Self::before_headers(status)
        }
    }
}

impl ClientCore {
    /// One attempt of `call`, the `previous + 1`th, over the endpoint `pick` chose.
    pub(super) async fn attempt(
        &self,
        call: &Call<'_>,
        pick: Pick<'_>,
        previous: u32,
        outbound: &Outbound,
        receive: Receive,
    ) -> Result<Answered, Failed> {
        let wire = call.attempt_headers(previous);
        let (outgoing, replay, mut aborted) = match outbound {
            Outbound::Message(message) => (Outgoing::Message(message.clone()), None, None),
            Outbound::Stream(replay) => {
                let (stream, aborted) = abort_on_error(replay.reader());
                (Outgoing::Stream(stream), Some(replay), Some(aborted))
            }
        };
        let exchange = async {
            let response = pick
                .endpoint
                .sender
                .send(&call.method.path, wire, outgoing)
                .await;
            let response = match (response, replay) {
                (Ok(response), replay) => {
                    replay.inspect(|replay| replay.commit());
                    response
                }
                (Err(status), Some(replay)) if replay.is_committed() => {
                    return Err(Failed::after_headers(status));
                }
                (Err(status), _) => return Err(Failed::before_headers(status)),
            };
            match receive {
                Receive::Message => call
                    .single_response(response)
                    .await
                    .map(Answered::Message)
                    .map_err(Failed::after_headers),
                Receive::FirstMessage => {
                    let mut rest = call.record_headers(response).into_stream();
                    let first = rest.message().await.map_err(Failed::after_headers)?;
                    let rest = with_trailers(rest, call.response.clone());
                    Ok(Answered::Stream {
                        responses: Box::pin(futures_util::stream::iter(first.map(Ok)).chain(rest)),
                        aborted: None,
                    })
                }
                Receive::Headers => Ok(Answered::Stream {
                    responses: with_trailers(
                        call.record_headers(response).into_stream(),
                        call.response.clone(),
                    ),
                    aborted: None,
                }),
            }
        };
        // The caller's request stream failing ends the call at once, whatever the attempt is
        // waiting for: a server that reads before it answers would otherwise wait on input
        // that never comes.
        let outcome = tokio::select! {
            // The exchange first: a single message has no stream to abort, and nothing random
            // need be drawn on every poll.
            biased;
            outcome = tokio::time::timeout_at(call.deadline, exchange) => match outcome {
                Ok(outcome) => outcome,
                Err(_elapsed) => Err(Failed::before_headers(deadline_exceeded(call))),
            },
            status = async {
                match aborted.as_mut() {
                    Some(aborted) => aborted.await,
                    None => std::future::pending().await,
                }
            } => Err(Failed::after_headers(status)),
        };
        let outcome = match outcome {
            Ok(Answered::Stream { responses, .. }) => Ok(Answered::Stream { responses, aborted }),
            Ok(answered) => Ok(answered),
            Err(failed) => {
                pick.endpoint.pause.observe(&failed.status);
                Err(self.classify(call, failed))
            }
        };
        if let Some(outlier) = &pick.endpoint.outlier {
            match &outcome {
                Ok(_) => outlier.record(true),
                Err(failed) if says_nothing_of_health(call, &failed.status) => {}
                Err(failed) => match super::default_classification(failed.status.code()) {
                    CallOutcome::Success => outlier.record(true),
                    CallOutcome::Failure => outlier.record(false),
                    _ => {}
                },
            }
        }
        if let Some(permit) = pick.permit {
            match &outcome {
                Ok(_) => permit.record(Code::Ok),
                Err(failed) if says_nothing_of_health(call, &failed.status) => permit.ignore(),
                Err(failed) => permit.record(failed.status.code()),
            }
        }
        if outcome.is_ok()
            && let Some(throttle) = &self.inner.throttle
        {
            throttle.on_success();
        }
        outcome
    }

    /// Puts the failure in gRPC's terms and says what the policy in force makes of it. Every
    /// failure the policy would retry drains the throttling bucket, whether or not this call
    /// may be retried: the bucket measures the dependency's health.
    fn classify(&self, call: &Call<'_>, failed: Failed) -> Failed {
        let refused = !failed.committed && super::connection::never_processed(&failed.status);
        let status = normalize(failed.status, call);
        let retryable = match call.hedging() {
            Some(hedging) => hedging.non_fatal_codes.contains(&status.code()),
            None => call.method.retry.retries(status.code()),
        };
        // What gRFC A6 counts against the throttle: a failure with a retryable code, or a
        // server's "do not retry" pushback whatever the code; never a transparent retry (a
        // stream the server refused unprocessed), which is no failure of the call's.
        let counts =
            !refused && (retryable || matches!(super::throttle::pushback(&status), Pushback::Stop));
        let throttled = counts
            && self
                .inner
                .throttle
                .as_ref()
                .is_some_and(|throttle| !throttle.on_retryable_failure());
        Failed {
            status,
            committed: failed.committed,
            refused,
            retryable,
            throttled,
        }
    }
}

impl Call<'_> {
    /// The headers of the attempt after `previous` others: the call's metadata (but for what
    /// tonic's client would remove, [`reserved`]) and the time left as `grpc-timeout`; one
    /// after the first is counted as a retry and says how many came before it (gRFC A6).
    fn attempt_headers(&self, previous: u32) -> http::HeaderMap {
        // Copied into a map with room for what this attempt and the client add (a clone would
        // be exactly full, and grow on the first of them).
        let mut headers = http::HeaderMap::with_capacity(self.metadata.len() + ADDED_PER_ATTEMPT);
        for (name, value) in self.metadata.as_ref() {
            if !reserved(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if self.sends_deadline {
            let value = coarse_grpc_timeout_value(left);
            headers.insert(&crate::rpc::GRPC_TIMEOUT_NAME, value);
        }
        if previous > 0 {
            count_retry(self.method.spec);
            headers.insert(
                http::HeaderName::from_static(PREVIOUS_ATTEMPTS_HEADER),
                http::HeaderValue::from(previous),
            );
        }
        headers
    }

    /// The one message of a unary or client-streaming response, its headers and trailers
    /// recorded. The headers are recorded before the reading future is made, and the reading
    /// mapped rather than awaited in an `async` block, which would hold the messages beside
    /// the future reading them.
    fn single_response(
        &self,
        response: Opened,
    ) -> impl Future<Output = Result<Bytes, Status>> + '_ {
        self.record_headers(response).single().map(move |read| {
            let (message, trailers) = read?;
            if let Some(trailers) = trailers
                && let Some(response) = &self.response
            {
                response.record_trailers(trailers);
            }
            Ok(message)
        })
    }

    /// Records the response headers where the caller reads them, and hands on the messages.
    fn record_headers(&self, response: Opened) -> Undecoded {
        let (headers, messages, _) = response.into_parts();
        if let Some(response) = &self.response {
            response.record_headers(headers);
        }
        messages
    }
}

/// The headers an attempt's request gains after the call's metadata: `grpc-timeout`,
/// `grpc-previous-rpc-attempts`, and tonic's `te`, `content-type`, `grpc-encoding` and
/// `grpc-accept-encoding`.
const ADDED_PER_ATTEMPT: usize = 6;

/// Counts an attempt after a call's first that was made (a breaker may turn it away first).
fn count_retry(spec: &'static MethodInfo) {
    metrics::counter!(
        "grpc_client_retries_total",
        "grpc_service" => spec.service(),
        "grpc_method" => spec.method(),
    )
    .increment(1);
}

/// Whether a failed call says nothing about its dependency's health, whatever the breaker's
/// classifier says of its code: a refusal for load (the status carries gRFC A6's
/// `grpc-retry-pushback-ms`: the server asked for a pause and did no work), or a
/// `DEADLINE_EXCEEDED` at the caller's remaining budget rather than the method's own deadline
/// (the caller was short of time). Counting those would open the breaker of a healthy but busy
/// dependency, or of one that a hurried caller gives too little time.
fn says_nothing_of_health(call: &Call<'_>, status: &Status) -> bool {
    match status.code() {
        // A server past its capacity starves its own outgoing calls: their deadline running out
        // says more about this machine than about the dependency.
        Code::DeadlineExceeded => call.caller_bound || call.caller_shedding,
        _ => status.metadata().contains_key(RETRY_PUSHBACK),
    }
}

fn deadline_exceeded(call: &Call<'_>) -> Status {
    Status::deadline_exceeded(format!(
        "deadline exceeded while calling {}",
        call.method.spec.path
    ))
}

/// tonic's channel enforces `grpc-timeout` too and reports its own expiry as `CANCELLED`
/// ("Timeout expired"); the caller must see `DEADLINE_EXCEEDED`.
fn normalize(status: Status, call: &Call<'_>) -> Status {
    // tonic says OUT_OF_RANGE for a message over its limit; gRPC's status codes say
    // RESOURCE_EXHAUSTED.
    if status.code() == Code::OutOfRange && crate::rpc::is_size_limit_message(status.message()) {
        return Status::resource_exhausted(format!(
            "{}: {}",
            call.method.spec.path,
            status.message()
        ));
    }
    // tonic's decoder says UNIMPLEMENTED for a response compressed in an encoding it lacks;
    // that code is for what the server does not implement, and gRPC's clients (grpc-go,
    // connect-go, the conformance suite) say INTERNAL for a response they cannot read.
    if status.code() == Code::Unimplemented
        && status.message().starts_with("Content is compressed with")
    {
        return Status::internal(format!(
            "{}: the response {}",
            call.method.spec.path,
            status.message()
        ));
    }
    let timed_out = status.code() == Code::Cancelled
        && (status.message() == tonic::TimeoutExpired(()).to_string()
            || Instant::now() >= call.server_deadline);
    if timed_out {
        deadline_exceeded(call)
    } else {
        super::connection::unavailable_if_connection_lost(status)
    }
}
