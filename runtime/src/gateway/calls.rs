//! What the generated dispatch calls, one function per kind of rpc, so that the work of a call
//! (reading the request within the body limit, mapping it, running the domain method within the
//! deadline, writing the response or error) is written once, here, generic over the domain
//! method.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use futures_util::future::Either;
use futures_util::{FutureExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::headers::HeaderRules;
use super::response::json_response;
use super::routed::{Call, ResponseFuture, Route, RpcName, StreamErrorHandler};
use super::schema::MessageSchema;
use super::status;
use super::stream::{StreamFormat, stream_response};
use super::{http_body, protobuf, trailers};
use crate::call::recover::{recover_call, recover_stream};
use crate::call::{DomainMethod, within_deadline};
use crate::rpc::MethodKind;
use crate::{BoxStream, Context, MetadataMap, ResponseMetadata, Status};

/// Answers a call whose rpc the generated dispatch does not know: only a route table and a
/// dispatch of different generator runs could disagree so.
pub fn unknown_rpc(call: Call) -> ResponseFuture {
    let status = Status::internal(format!(
        "the gateway has no dispatch for rpc {}",
        RpcName(call.inner.route.method)
    ));
    Box::pin(std::future::ready(status::error_response(&status)))
}

/// Serves a unary rpc: the request from bindings, query and body, the domain method within the
/// deadline, the response as JSON.
pub fn unary<T, Req, Resp, M>(
    domain: &Arc<T>,
    call: Call,
    schema: &'static MessageSchema,
    method: M,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    Req: DeserializeOwned + Serialize + prost::Message + Default + Send + 'static,
    Resp: Serialize + prost::Message + Send + 'static,
    M: for<'b> DomainMethod<'b, T, Req, Resp>,
{
    serve_request(domain, call, schema, method, write_message)
}

/// Serves a server-streaming rpc: like [`unary`], the responses as newline-delimited JSON or
/// Server-Sent Events (`Accept: text/event-stream`), cut at the deadline.
pub fn server_streaming<T, Req, Resp, M>(
    domain: &Arc<T>,
    call: Call,
    schema: &'static MessageSchema,
    method: M,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    Req: DeserializeOwned + Serialize + prost::Message + Default + Send + 'static,
    Resp: Serialize + Send + 'static,
    M: for<'b> DomainMethod<'b, T, Req, BoxStream<Resp>>,
{
    serve_request(domain, call, schema, method, write_stream)
}

/// Serves a client-streaming rpc: the requests as JSON messages in the body (see
/// [`ndjson_requests`](super::stream::ndjson_requests)), each
/// merged with the path bindings; the response as JSON.
pub fn client_streaming<T, Req, Resp, M>(
    domain: &Arc<T>,
    call: Call,
    schema: &'static MessageSchema,
    method: M,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + prost::Message + Send + 'static,
    M: for<'b> DomainMethod<'b, T, BoxStream<Req>, Resp>,
{
    let read = |call| request_stream::<Req>(call, schema);
    serve_now(Arc::clone(domain), call, read, method, write_message)
}

/// Serves a bidi-streaming rpc: [`client_streaming`]'s requests, [`server_streaming`]'s
/// responses.
pub fn bidi_streaming<T, Req, Resp, M>(
    domain: &Arc<T>,
    call: Call,
    schema: &'static MessageSchema,
    method: M,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    M: for<'b> DomainMethod<'b, T, BoxStream<Req>, BoxStream<Resp>>,
{
    let read = |call| request_stream::<Req>(call, schema);
    serve_now(Arc::clone(domain), call, read, method, write_stream)
}

/// A request turned away before it reached the domain, answered already: its HTTP status is not
/// always one a gRPC code maps to (413). Boxed: it is the rare path of a small `Result`.
type Rejection = Box<http::Response<Body>>;

/// How the response of a call is to be written, known before the call is consumed.
struct Reply {
    route: Route,
    format: StreamFormat,
    /// `Accept` prefers binary protobuf.
    protobuf: bool,
    deadline: Option<tokio::time::Instant>,
    /// What the stream's error goes through before it is written (a response stream's only).
    stream_errors: Option<StreamErrorHandler>,
}

/// Serves a call of one request message: read from the body where its rule takes one
/// ([`serve`]), else made at once from the path and the query ([`serve_now`]).
fn serve_request<T, Req, Out, M, W, WriteFuture>(
    domain: &Arc<T>,
    call: Call,
    schema: &'static MessageSchema,
    method: M,
    write: W,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    Req: DeserializeOwned + Serialize + prost::Message + Default + Send + 'static,
    Out: Send + 'static,
    M: for<'b> DomainMethod<'b, T, Req, Out>,
    W: FnOnce(Out, Reply) -> WriteFuture + Send + 'static,
    WriteFuture: Future<Output = http::Response<Body>> + Send + 'static,
{
    if call.inner.reads_body() {
        let read = move |call| read_request::<Req>(call, schema);
        Box::pin(serve(Arc::clone(domain), call, read, method, write))
    } else {
        let read = |call| request_without_body::<Req>(call, schema);
        serve_now(Arc::clone(domain), call, read, method, write)
    }
}

/// Serves a call whose input is read from its body: `read` it, run `method` within the
/// deadline, and `write` its output, or the error.
///
/// The reading and the answer are two futures, one after the other (`then`), not two `.await`s
/// of one `async fn`: there, the read's result (the context, 320 bytes) would be kept beside
/// the answer's future, which holds it again. Boxed on every call, the whole stays under the
/// 1 KiB that the allocator serves from its per-thread cache.
fn serve<T, In, Out, M, R, ReadFuture, W, WriteFuture>(
    domain: Arc<T>,
    mut call: Call,
    read: R,
    method: M,
    write: W,
) -> impl Future<Output = http::Response<Body>>
where
    M: for<'b> DomainMethod<'b, T, In, Out>,
    R: FnOnce(Call) -> ReadFuture,
    ReadFuture: Future<Output = Result<(Context, In), Rejection>>,
    W: FnOnce(Out, Reply) -> WriteFuture,
    WriteFuture: Future<Output = http::Response<Body>>,
{
    let (held, shape) = Held::take(domain, &mut call);
    read(call).then(move |read| match read {
        Ok((ctx, input)) => Either::Left(answer(held, shape, ctx, input, method, write)),
        Err(rejection) => Either::Right(std::future::ready(*rejection)),
    })
}

/// Serves a call whose input is whole without reading the body (a request of path and query,
/// or a stream of the body's lines read as the domain asks): [`serve`] without a reading
/// future to poll and move the answer's future out of.
fn serve_now<T, In, Out, M, R, W, WriteFuture>(
    domain: Arc<T>,
    mut call: Call,
    read: R,
    method: M,
    write: W,
) -> ResponseFuture
where
    T: Send + Sync + 'static,
    In: Send + 'static,
    Out: Send + 'static,
    M: for<'b> DomainMethod<'b, T, In, Out>,
    R: FnOnce(Call) -> Result<(Context, In), Rejection>,
    W: FnOnce(Out, Reply) -> WriteFuture + Send + 'static,
    WriteFuture: Future<Output = http::Response<Body>> + Send + 'static,
{
    let (held, shape) = Held::take(domain, &mut call);
    match read(call) {
        Ok((ctx, input)) => Box::pin(answer(held, shape, ctx, input, method, write)),
        Err(rejection) => Box::pin(std::future::ready(*rejection)),
    }
}

/// How the answer is to be written, taken from the call before it is consumed.
#[derive(Clone, Copy)]
struct Shape {
    route: Route,
    format: StreamFormat,
    protobuf: bool,
    trailers: bool,
    /// The rpc answers with a stream of JSON messages (not of `HttpBody` chunks).
    stream_of_messages: bool,
}

/// Runs `method` within the call's deadline and `write`s its output, or the error, with the
/// response metadata by the gateway's rules.
fn answer<T, In, Out, M, W, WriteFuture>(
    held: Held<T>,
    shape: Shape,
    mut ctx: Context,
    input: In,
    method: M,
    write: W,
) -> impl Future<Output = http::Response<Body>>
where
    M: for<'b> DomainMethod<'b, T, In, Out>,
    W: FnOnce(Out, Reply) -> WriteFuture,
    WriteFuture: Future<Output = http::Response<Body>>,
{
    ctx.enforce_deadline_outside();
    let trailers = shape.trailers;
    let mut held = held;
    let reply = Reply {
        route: shape.route,
        format: shape.format,
        protobuf: shape.protobuf,
        deadline: ctx.deadline(),
        stream_errors: held.stream_errors.take(),
    };
    // An `async` block rather than an `async fn`, which would keep each argument twice in its
    // state.
    async move {
        // `held` is the block's whole, the admission permit with it, named here even unused
        // (should a block ever capture only the fields it names, as a closure does): the slot
        // is held until the answer is ready (tests/it/load_shedding.rs fails otherwise). Its
        // fields are borrowed in place: moved into a local, the state would hold them twice.
        let Held {
            domain,
            rules,
            _permit,
            stream_errors: _,
        } = &held;
        let call = recover_call(|| method.call(domain, &ctx, input));
        let response = match within_deadline(&ctx, call).await {
            Ok(output) => write(output, reply).await,
            Err(mut status) => {
                // The status's metadata goes out by the gateway's rules, not the default ones,
                // and once.
                let metadata = std::mem::take(status.metadata_mut());
                forget_recorded(&metadata, ctx.response());
                if shape.stream_of_messages {
                    // A response stream that fails before it starts is written as one that
                    // fails at its first message (grpc-gateway sees both at the stream's first
                    // receive), through the stream error handler, not the error handler.
                    if let Some(handler) = &reply.stream_errors {
                        status = handler(status);
                    }
                    let mut response = shape.format.failed_at_once(&status);
                    rules.write_metadata(&metadata, response.headers_mut());
                    response
                } else {
                    let mut response = status::error_response(&status);
                    rules.write_metadata(&metadata, response.headers_mut());
                    // An error handler gets the status whole, its metadata included.
                    *status.metadata_mut() = metadata;
                    response.extensions_mut().insert(status);
                    response
                }
            }
        };
        trailers::with_metadata(rules, ctx.response(), response, trailers)
    }
}

/// Drops from the call's response metadata (`recorded`, written after the error's) the keys of
/// the error's `metadata`, which go out with the error. Through the generated client, a
/// proxy's domain, a remote error's metadata is both: the status carries what the remote's
/// answer held, and the client records the same as the response's trailers to forward them.
fn forget_recorded(metadata: &MetadataMap, recorded: &ResponseMetadata) {
    if metadata.is_empty() {
        return;
    }
    for name in metadata.as_ref().keys() {
        recorded.headers().as_mut().remove(name);
        recorded.trailers().as_mut().remove(name);
    }
}

/// What a call holds from its reading to its answer.
struct Held<T> {
    domain: Arc<T>,
    rules: HeaderRules,
    _permit: crate::call::admission::Permit,
    /// The gateway's stream error handler, for an rpc of a response stream.
    stream_errors: Option<StreamErrorHandler>,
}

impl<T> Held<T> {
    /// What the answer needs of `call` beside its input: the domain, the header rules and the
    /// admission permit, and how to write the answer.
    fn take(domain: Arc<T>, call: &mut Call) -> (Self, Shape) {
        let inner = &mut call.inner;
        let streams_responses = matches!(
            inner.route.method.kind,
            MethodKind::ServerStreaming | MethodKind::BidiStreaming
        );
        let held = Held {
            domain,
            rules: inner.header_rules.clone(),
            // The call's slot in its service's admission, until the answer is ready.
            _permit: std::mem::replace(&mut inner.permit, crate::call::admission::Permit::none()),
            stream_errors: inner.stream_errors.take().filter(|_| streams_responses),
        };
        let shape = Shape {
            route: inner.route,
            format: inner.format.stream,
            protobuf: inner.format.protobuf,
            trailers: inner.format.trailers,
            stream_of_messages: streams_responses && !inner.route.binding.response_http_body,
        };
        (held, shape)
    }
}

/// The response message as JSON, or encoded when the caller asked for binary protobuf and the
/// whole message is the body.
fn write_message<Resp: Serialize + prost::Message>(
    response: Resp,
    reply: Reply,
) -> std::future::Ready<http::Response<Body>> {
    let body = reply.route.response_body();
    std::future::ready(if reply.route.binding.response_http_body {
        http_body::response(&response, body)
    } else if reply.protobuf && body.is_none() {
        protobuf::protobuf_response(&response)
    } else {
        json_response(&response, body)
    })
}

async fn write_stream<Resp: Serialize + Send + 'static>(
    stream: BoxStream<Resp>,
    reply: Reply,
) -> http::Response<Body> {
    let stream = recover_stream(stream);
    let (stream, deadline) = match reply.stream_errors {
        None => (stream, reply.deadline),
        // Cut at the deadline first, so that the cut's error goes through the handler too.
        Some(handler) => {
            let stream = crate::deadline::cut_stream(reply.deadline, stream)
                .map_err(move |status| handler(status));
            (Box::pin(stream) as BoxStream<Resp>, None)
        }
    };
    if reply.route.binding.response_http_body {
        let body = reply.route.response_body();
        return http_body::stream_response(stream, deadline, body).await;
    }
    stream_response(stream, deadline, reply.format, reply.route.response_body()).await
}

mod read;

use read::{read_request, request_stream, request_without_body};
