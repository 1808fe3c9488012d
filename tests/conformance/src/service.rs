//! `ConformanceService` as the suite specifies it (service.proto, and what its reference server
//! does): every response echoes what the server saw of the call in a `RequestInfo` (request
//! headers, the timeout left, the requests as `Any`), and the first request's response
//! definition says which headers, trailers, messages, delays and error to answer with.

use std::time::Duration;

use futures_util::StreamExt;
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::pb::conformance_payload::RequestInfo;
use crate::pb::unary_response_definition::Response;
use crate::pb::{self, ConformancePayload, Header};
use crate::{Any, append_headers, pack, to_headers, to_status};

/// The implementation served by `conformance_server`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conformance;

/// What a response reports of the call: fixed when the call arrives, but the timeout, which is
/// read when the report is made.
#[derive(Debug, Clone)]
struct Seen {
    headers: Vec<Header>,
    deadline: Option<Instant>,
}

impl Seen {
    fn of(ctx: &Context) -> Self {
        Self {
            headers: to_headers(&ctx.metadata().clone().into_headers()),
            deadline: ctx.deadline(),
        }
    }

    fn info(&self, requests: Vec<Any>) -> RequestInfo {
        RequestInfo {
            request_headers: self.headers.clone(),
            timeout_ms: self.deadline.map(|deadline| {
                i64::try_from(
                    deadline
                        .saturating_duration_since(Instant::now())
                        .as_millis(),
                )
                .unwrap_or(i64::MAX)
            }),
            requests,
            connect_get_info: None,
        }
    }
}

/// Sets the response headers and trailers a definition asks for.
fn set_metadata(ctx: &Context, headers: &[Header], trailers: &[Header]) {
    append_headers(ctx.response().headers().as_mut(), headers);
    append_headers(ctx.response().trailers().as_mut(), trailers);
}

fn delay(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// A unary answer (unary, idempotent unary and client-stream rpcs) to `requests`, as
/// `definition` says.
async fn unary_answer(
    ctx: &Context,
    definition: Option<pb::UnaryResponseDefinition>,
    requests: Vec<Any>,
) -> Result<ConformancePayload, Status> {
    let info = Seen::of(ctx).info(requests);
    let Some(definition) = definition else {
        return Ok(ConformancePayload {
            data: Vec::new(),
            request_info: Some(info),
        });
    };
    set_metadata(
        ctx,
        &definition.response_headers,
        &definition.response_trailers,
    );
    let data = match definition.response {
        Some(Response::Error(error)) => return Err(to_status(&error, vec![pack(&info)])),
        Some(Response::ResponseData(data)) => data,
        None => Vec::new(),
    };
    tokio::time::sleep(delay(definition.response_delay_ms)).await;
    Ok(ConformancePayload {
        data,
        request_info: Some(info),
    })
}

/// Where a stream answer's task sends its messages.
type Sender = mpsc::Sender<Result<ConformancePayload, Status>>;

/// The stream of what the task `answer` sends. The task ends when the caller goes away (its
/// next send fails).
fn answer_stream<F>(answer: impl FnOnce(Sender) -> F) -> BoxStream<ConformancePayload>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(1);
    tokio::spawn(answer(sender));
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

/// The rest of a stream answer once `sent` messages went: one per `response_data` left, each
/// after the delay, the first of all with the request info; then the error, with the request
/// info among its details when no message went before it.
async fn finish_stream(
    definition: pb::StreamResponseDefinition,
    seen: Seen,
    mut received: Vec<Any>,
    mut sent: usize,
    sender: Sender,
) {
    let delay = delay(definition.response_delay_ms);
    for data in definition.response_data.into_iter().skip(sent) {
        let request_info = (sent == 0).then(|| seen.info(std::mem::take(&mut received)));
        tokio::time::sleep(delay).await;
        let payload = ConformancePayload { data, request_info };
        if sender.send(Ok(payload)).await.is_err() {
            return;
        }
        sent += 1;
    }
    if let Some(error) = definition.error {
        let details = if sent == 0 {
            vec![pack(&seen.info(received))]
        } else {
            Vec::new()
        };
        let _ = sender.send(Err(to_status(&error, details))).await;
    }
}

/// A full-duplex answer: a response per request while responses are left (the first with the
/// whole request info, later ones with the requests since the last response), then, once the
/// client is done or the responses ran out, the rest as [`finish_stream`] sends it.
async fn full_duplex(
    definition: pb::StreamResponseDefinition,
    seen: Seen,
    mut requests: BoxStream<pb::BidiStreamRequest>,
    mut received: Vec<Any>,
    sender: Sender,
) {
    let delay = delay(definition.response_delay_ms);
    let mut sent = 0;
    // The first request has been received already.
    let mut first = true;
    loop {
        if !first {
            match requests.next().await {
                Some(Ok(request)) => received.push(pack(&request)),
                Some(Err(status)) => {
                    let _ = sender.send(Err(status)).await;
                    return;
                }
                None => break,
            }
        }
        first = false;
        let Some(data) = definition.response_data.get(sent).cloned() else {
            break;
        };
        let requests = std::mem::take(&mut received);
        let request_info = if sent == 0 {
            seen.info(requests)
        } else {
            RequestInfo {
                requests,
                ..RequestInfo::default()
            }
        };
        tokio::time::sleep(delay).await;
        let payload = ConformancePayload {
            data,
            request_info: Some(request_info),
        };
        if sender.send(Ok(payload)).await.is_err() {
            return;
        }
        sent += 1;
    }
    finish_stream(definition, seen, received, sent, sender).await;
}

impl pb::ConformanceService for Conformance {
    async fn unary(
        &self,
        ctx: &Context,
        request: pb::UnaryRequest,
    ) -> Result<pb::UnaryResponse, Status> {
        let requests = vec![pack(&request)];
        let payload = unary_answer(ctx, request.response_definition, requests).await?;
        Ok(pb::UnaryResponse {
            payload: Some(payload),
        })
    }

    async fn idempotent_unary(
        &self,
        ctx: &Context,
        request: pb::IdempotentUnaryRequest,
    ) -> Result<pb::IdempotentUnaryResponse, Status> {
        let requests = vec![pack(&request)];
        let payload = unary_answer(ctx, request.response_definition, requests).await?;
        Ok(pb::IdempotentUnaryResponse {
            payload: Some(payload),
        })
    }

    async fn server_stream(
        &self,
        ctx: &Context,
        request: pb::ServerStreamRequest,
    ) -> Result<BoxStream<pb::ServerStreamResponse>, Status> {
        let requests = vec![pack(&request)];
        let definition = request.response_definition.unwrap_or_default();
        set_metadata(
            ctx,
            &definition.response_headers,
            &definition.response_trailers,
        );
        let seen = Seen::of(ctx);
        let answer = answer_stream(|sender| finish_stream(definition, seen, requests, 0, sender));
        Ok(Box::pin(answer.map(|payload| {
            payload.map(|payload| pb::ServerStreamResponse {
                payload: Some(payload),
            })
        })))
    }

    async fn client_stream(
        &self,
        ctx: &Context,
        mut requests: BoxStream<pb::ClientStreamRequest>,
    ) -> Result<pb::ClientStreamResponse, Status> {
        let mut definition = None;
        let mut seen = Vec::new();
        while let Some(request) = requests.next().await {
            let request = request?;
            if seen.is_empty() {
                definition = request.response_definition.clone();
            }
            seen.push(pack(&request));
        }
        let payload = unary_answer(ctx, definition, seen).await?;
        Ok(pb::ClientStreamResponse {
            payload: Some(payload),
        })
    }

    async fn bidi_stream(
        &self,
        ctx: &Context,
        mut requests: BoxStream<pb::BidiStreamRequest>,
    ) -> Result<BoxStream<pb::BidiStreamResponse>, Status> {
        let seen = Seen::of(ctx);
        let Some(first) = requests.next().await.transpose()? else {
            return Ok(Box::pin(futures_util::stream::empty()));
        };
        let definition = first.response_definition.clone().unwrap_or_default();
        set_metadata(
            ctx,
            &definition.response_headers,
            &definition.response_trailers,
        );
        let received = vec![pack(&first)];
        let answer = if first.full_duplex {
            // The headers go out when this returns, before the first response: a full-duplex
            // client may wait for a response before it sends again.
            answer_stream(|sender| full_duplex(definition, seen, requests, received, sender))
        } else {
            // Half duplex: the whole upload first, then the answer (and its headers).
            let mut received = received;
            while let Some(request) = requests.next().await {
                received.push(pack(&request?));
            }
            answer_stream(|sender| finish_stream(definition, seen, received, 0, sender))
        };
        Ok(Box::pin(answer.map(|payload| {
            payload.map(|payload| pb::BidiStreamResponse {
                payload: Some(payload),
            })
        })))
    }

    async fn unimplemented(
        &self,
        _ctx: &Context,
        _request: pb::UnimplementedRequest,
    ) -> Result<pb::UnimplementedResponse, Status> {
        Err(Status::unimplemented(
            "connectrpc.conformance.v1.ConformanceService.Unimplemented is not implemented",
        ))
    }
}
