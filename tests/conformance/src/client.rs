//! One `ClientCompatRequest` run with the generated `ConformanceServiceClient`, as the suite's
//! reference client runs it (its `internal/app/referenceclient`): the request headers and
//! timeout on the call, the request messages with their delay, the cancellation at the time
//! asked (before the send side closes, a while after it closes, or after some responses), and
//! what came back: response headers, payloads, the error with its details, trailers.
//!
//! The protocol, HTTP version and TLS of the request choose the client and its connection
//! ([`Connections`]).
//!
//! Cancelling is dropping: a call's future or stream dropped resets its HTTP/2 stream (closes
//! its HTTP/1.1 connection), and the result then records the `CANCELED` error the reference
//! client's cancelled context gives.

use std::time::Duration;

use futures_util::StreamExt;
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::mpsc;

use crate::connections::Connections;
use crate::pb::client_compat_request::cancel::CancelTiming;
use crate::pb::client_compat_response::Result as Outcome;
use crate::pb::{self, ConformanceService, ConformanceServiceClient};
use crate::{Named, append_headers, from_status, to_headers, unpack};

/// When the call is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    Never,
    BeforeCloseSend,
    AfterCloseSend(Duration),
    AfterResponses(usize),
}

impl Cancel {
    fn of(request: &pb::ClientCompatRequest) -> Self {
        let Some(cancel) = &request.cancel else {
            return Self::Never;
        };
        match cancel.cancel_timing {
            Some(CancelTiming::BeforeCloseSend(_)) => Self::BeforeCloseSend,
            Some(CancelTiming::AfterCloseSendMs(ms)) => {
                Self::AfterCloseSend(Duration::from_millis(u64::from(ms)))
            }
            Some(CancelTiming::AfterNumResponses(count)) => Self::AfterResponses(count as usize),
            // A cancel without a time: right after the send side closes.
            None => Self::AfterCloseSend(Duration::ZERO),
        }
    }

    /// After this many responses, if the call is cancelled after some.
    fn after_responses(self) -> Option<usize> {
        match self {
            Self::AfterResponses(count) => Some(count),
            _ => None,
        }
    }

    /// How long after the send side closes, if the call is cancelled then.
    fn after_close_send(self) -> Option<Duration> {
        match self {
            Self::AfterCloseSend(delay) => Some(delay),
            _ => None,
        }
    }
}

/// The error a call cancelled by this client ends with.
fn canceled() -> pb::Error {
    pb::Error {
        code: pb::Code::Canceled as i32,
        message: Some("cancelled by the client".to_owned()),
        details: Vec::new(),
    }
}

/// Runs `request` and reports what happened, or why it could not be run.
pub async fn run(
    connections: &Connections,
    request: pb::ClientCompatRequest,
) -> pb::ClientCompatResponse {
    let result = match invoke(connections, &request).await {
        Ok(result) => Outcome::Response(result),
        Err(message) => Outcome::Error(pb::ClientErrorResult { message }),
    };
    pb::ClientCompatResponse {
        test_name: request.test_name,
        result: Some(result),
    }
}

/// The request messages of `request`, each an `M`.
fn messages<M: Named>(request: &pb::ClientCompatRequest) -> Result<Vec<M>, String> {
    request.request_messages.iter().map(unpack).collect()
}

/// The one request message of a unary or server-stream call.
fn single<M: Named>(request: &pb::ClientCompatRequest) -> Result<M, String> {
    let mut messages = messages(request)?;
    if messages.len() != 1 {
        return Err(format!(
            "{} takes exactly one request message, not {}",
            request.method(),
            messages.len()
        ));
    }
    Ok(messages.remove(0))
}

async fn invoke(
    connections: &Connections,
    request: &pb::ClientCompatRequest,
) -> Result<pb::ClientResponseResult, String> {
    if request.raw_request.is_some() {
        return Err("raw requests are not supported".to_owned());
    }
    let client = connections.client(request)?;
    let mut ctx = Context::new();
    if let Some(timeout) = request.timeout_ms {
        ctx = ctx.with_timeout(Duration::from_millis(u64::from(timeout)));
    }
    append_headers(
        ctx.outgoing_metadata_mut().as_mut(),
        &request.request_headers,
    );
    let cancel = Cancel::of(request);
    let mut result = pb::ClientResponseResult::default();
    let error = match request.method() {
        "Unary" => {
            let call = client.unary(&ctx, single(request)?);
            unary(call, cancel, &mut result, |response| response.payload).await
        }
        "IdempotentUnary" => {
            let call = client.idempotent_unary(&ctx, single(request)?);
            unary(call, cancel, &mut result, |response| response.payload).await
        }
        "Unimplemented" => {
            let call = client.unimplemented(&ctx, single(request)?);
            unary(call, cancel, &mut result, |_| None).await
        }
        "ServerStream" => {
            let call = client.server_stream(&ctx, single(request)?);
            let read = async {
                let stream = call.await.map_err(|status| from_status(&status))?;
                read_stream(stream, cancel, 0, &mut result.payloads, |response| {
                    response.payload
                })
                .await
            };
            within(cancel.after_close_send(), read).await.err()
        }
        "ClientStream" => client_stream(&client, &ctx, request, cancel, &mut result).await?,
        "BidiStream" => bidi_stream(&client, &ctx, request, cancel, &mut result).await?,
        other => return Err(format!("no method {other} in ConformanceService")),
    };
    result.error = error;
    result.response_headers = to_headers(&ctx.response().headers().clone().into_headers());
    result.response_trailers = to_headers(&ctx.response().trailers().clone().into_headers());
    Ok(result)
}

/// `work`, cancelled after `delay` if it takes longer.
async fn within<T>(
    delay: Option<Duration>,
    work: impl Future<Output = Result<T, pb::Error>>,
) -> Result<T, pb::Error> {
    match delay {
        Some(delay) => tokio::time::timeout(delay, work)
            .await
            .unwrap_or_else(|_| Err(canceled())),
        None => work.await,
    }
}

/// A unary call's outcome: its payload, or its error.
async fn unary<Response>(
    call: impl Future<Output = Result<Response, Status>>,
    cancel: Cancel,
    result: &mut pb::ClientResponseResult,
    payload: impl FnOnce(Response) -> Option<pb::ConformancePayload>,
) -> Option<pb::Error> {
    let call = async { call.await.map_err(|status| from_status(&status)) };
    match within(cancel.after_close_send(), call).await {
        Ok(response) => {
            result.payloads.push(payload(response).unwrap_or_default());
            None
        }
        Err(error) => Some(error),
    }
}

/// Reads `stream` to its end into `payloads`, cancelling once `received` plus what is read makes
/// the number of responses `cancel` waits for.
async fn read_stream<Response>(
    mut stream: BoxStream<Response>,
    cancel: Cancel,
    mut received: usize,
    payloads: &mut Vec<pb::ConformancePayload>,
    payload: impl Fn(Response) -> Option<pb::ConformancePayload>,
) -> Result<(), pb::Error> {
    loop {
        if cancel.after_responses() == Some(received) && received > 0 {
            return Err(canceled());
        }
        match stream.next().await {
            Some(Ok(response)) => {
                payloads.push(payload(response).unwrap_or_default());
                received += 1;
            }
            Some(Err(status)) => return Err(from_status(&status)),
            None => return Ok(()),
        }
    }
}

/// A request stream the test feeds through the returned sender; dropping the sender closes the
/// send side.
fn request_stream<M: Send + 'static>() -> (mpsc::UnboundedSender<Result<M, Status>>, BoxStream<M>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    (sender, Box::pin(stream))
}

async fn client_stream(
    client: &ConformanceServiceClient,
    ctx: &Context,
    request: &pb::ClientCompatRequest,
    cancel: Cancel,
    result: &mut pb::ClientResponseResult,
) -> Result<Option<pb::Error>, String> {
    let messages: Vec<pb::ClientStreamRequest> = messages(request)?;
    let delay = Duration::from_millis(u64::from(request.request_delay_ms));
    let (sender, requests) = request_stream();
    let call = client.client_stream(ctx, requests);
    tokio::pin!(call);
    let total = messages.len();
    let feed = async {
        for (index, message) in messages.into_iter().enumerate() {
            tokio::time::sleep(delay).await;
            if sender.send(Ok(message)).is_err() {
                return total - index;
            }
        }
        0
    };
    // The call is polled while the requests go, so that they are sent as they are fed.
    let answered = tokio::select! {
        answered = &mut call => Some(answered),
        unsent = feed => {
            result.num_unsent_requests = i32::try_from(unsent).unwrap_or(i32::MAX);
            None
        }
    };
    let answered = match answered {
        Some(answered) => Ok(answered),
        None if cancel == Cancel::BeforeCloseSend => Err(canceled()),
        None => {
            drop(sender);
            within(cancel.after_close_send(), async { Ok((&mut call).await) }).await
        }
    };
    let error = match answered {
        Ok(Ok(response)) => {
            result.payloads.push(response.payload.unwrap_or_default());
            None
        }
        Ok(Err(status)) => Some(from_status(&status)),
        Err(error) => Some(error),
    };
    Ok(error)
}

async fn bidi_stream(
    client: &ConformanceServiceClient,
    ctx: &Context,
    request: &pb::ClientCompatRequest,
    cancel: Cancel,
    result: &mut pb::ClientResponseResult,
) -> Result<Option<pb::Error>, String> {
    let messages: Vec<pb::BidiStreamRequest> = messages(request)?;
    let full_duplex = request.stream_type() == pb::StreamType::FullDuplexBidiStream;
    let delay = Duration::from_millis(u64::from(request.request_delay_ms));
    let (sender, requests) = request_stream();
    let call = client.bidi_stream(ctx, requests);
    tokio::pin!(call);
    let mut stream = None;
    let mut received = 0;
    let total = messages.len();
    for (index, message) in messages.into_iter().enumerate() {
        tokio::time::sleep(delay).await;
        if sender.send(Ok(message)).is_err() {
            result.num_unsent_requests = i32::try_from(total - index).unwrap_or(i32::MAX);
            break;
        }
        if !full_duplex {
            continue;
        }
        // Full duplex: a response for each request.
        let responses = match &mut stream {
            Some(responses) => responses,
            None => match (&mut call).await {
                Ok(responses) => stream.insert(responses),
                Err(status) => return Ok(Some(from_status(&status))),
            },
        };
        match responses.next().await {
            Some(Ok(response)) => {
                result.payloads.push(response.payload.unwrap_or_default());
                received += 1;
                if cancel.after_responses() == Some(received) {
                    return Ok(Some(canceled()));
                }
            }
            Some(Err(status)) => return Ok(Some(from_status(&status))),
            None => break,
        }
    }
    if cancel == Cancel::BeforeCloseSend {
        return Ok(Some(canceled()));
    }
    drop(sender);
    let payloads = &mut result.payloads;
    let rest = async {
        let responses = match stream {
            Some(responses) => responses,
            None => (&mut call).await.map_err(|status| from_status(&status))?,
        };
        read_stream(responses, cancel, received, payloads, |response| {
            response.payload
        })
        .await
    };
    Ok(within(cancel.after_close_send(), rest).await.err())
}
