//! The gRPC routing every generated adapter shares. A generated adapter implements
//! [`GrpcDispatch`]: its service's [`ServiceInfo`] and one `match` arm per rpc naming the domain
//! method and its call shape. [`GrpcServer`](super::GrpcServer) finds the rpc by path in the
//! description and hands the call to that arm, and [`GrpcCall`] runs it through tonic's own
//! `server::Grpc` with prost's codec: framing, compression and size limits stay tonic's. The
//! exception is the commonest call, a unary one in binary protobuf that nothing compresses,
//! which `plain` serves with the same outcomes and a fraction of the work.
//!
//! tonic-build writes this routing into every service, about a hundred lines per rpc (a struct
//! and a `Service` impl per rpc, the codec set-up repeated in each); here it is written once,
//! generic over the domain method, and monomorphised per rpc as tonic's would be.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_util::FutureExt;
use tonic::codec::EnabledCompressionEncodings;

use super::{accept, accept_streaming, plain, run};
use crate::call::codec::{Format, JsonSupport, MessageCodec, NoJson, WithJson};
use crate::call::{DomainMethod, stream_within_deadline};
use crate::rpc::{ServiceInfo, WireSettings};
use crate::{BoxFuture, BoxStream, Context, Status};

/// The future of one routed call: the HTTP response, whatever happened (an error is a gRPC
/// status in it).
pub type GrpcFuture = BoxFuture<'static, http::Response<tonic::body::Body>>;

/// A generated gRPC adapter, as [`GrpcServer`](super::GrpcServer) serves it: the service it
/// serves and a call for each of its rpcs.
pub trait GrpcDispatch: Clone + Send + Sync + 'static {
    /// The service's description; its `methods` are the rpcs served, in the order
    /// [`dispatch`](Self::dispatch) numbers them.
    const SERVICE: &'static ServiceInfo;

    /// The size limits and compression this adapter was built with.
    fn wire(&self) -> &WireSettings;

    /// Serves `call` with the rpc at position `rpc` of [`SERVICE`](Self::SERVICE)'s methods,
    /// typically `call.unary(&self.domain, <T as Service>::method)`.
    fn dispatch(&self, rpc: usize, call: GrpcCall) -> GrpcFuture;
}

/// The wire settings in the form tonic's `server::Grpc` takes them, converted once per server.
#[derive(Debug, Clone, Copy)]
pub(super) struct WireConfig {
    accept_compressed: EnabledCompressionEncodings,
    send_compressed: EnabledCompressionEncodings,
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
}

impl WireConfig {
    pub(super) fn new(settings: &WireSettings) -> Self {
        let enabled = |encodings: &[crate::CompressionEncoding]| {
            let mut enabled = EnabledCompressionEncodings::default();
            for encoding in encodings {
                enabled.enable(*encoding);
            }
            enabled
        };
        Self {
            accept_compressed: enabled(&settings.accept_compressed),
            send_compressed: enabled(&settings.send_compressed),
            max_decoding_message_size: settings.max_decoding_message_size,
            max_encoding_message_size: settings.max_encoding_message_size,
        }
    }

    /// The limit on a request message.
    pub(super) fn max_decoding_message_size(&self) -> usize {
        self.max_decoding_message_size
    }

    fn grpc<Encode, Decode, J>(
        self,
        format: Format,
    ) -> tonic::server::Grpc<MessageCodec<Encode, Decode, J>>
    where
        Encode: prost::Message + Send + 'static,
        Decode: prost::Message + Default + Send + 'static,
        J: JsonSupport<Encode> + JsonSupport<Decode>,
    {
        tonic::server::Grpc::new(MessageCodec::new(format))
            .apply_compression_config(self.accept_compressed, self.send_compressed)
            .apply_max_message_size_config(
                Some(self.max_decoding_message_size),
                Some(self.max_encoding_message_size),
            )
    }
}

/// One call on its way to a domain method: the HTTP request and the server's wire settings.
/// Each method serves it with one call shape. The body is axum's because tonic's `Server`
/// routes with axum, so the body arrives as one and is handed on without another box.
///
/// A Connect call arrives here translated to gRPC's framing (see `server::connect`), with its
/// message [`Format`]; `J` says whether the rpc's messages can be JSON: an adapter generated
/// with proto3 JSON serves through [`json`](GrpcCall::json).
#[derive(Debug)]
pub struct GrpcCall<J = NoJson> {
    request: http::Request<axum::body::Body>,
    wire: WireConfig,
    json: PhantomData<fn() -> J>,
}

impl GrpcCall {
    pub(super) fn new(request: http::Request<axum::body::Body>, wire: WireConfig) -> Self {
        Self {
            request,
            wire,
            json: PhantomData,
        }
    }

    /// The same call for an rpc whose messages have proto3 JSON impls: a Connect call in JSON
    /// is then served, not refused.
    pub fn json(self) -> GrpcCall<WithJson> {
        GrpcCall {
            request: self.request,
            wire: self.wire,
            json: PhantomData,
        }
    }
}

impl<J> GrpcCall<J> {
    /// The format the call's messages are in.
    fn format(&self) -> Format {
        self.request
            .extensions()
            .get::<Format>()
            .copied()
            .unwrap_or_default()
    }

    /// The HTTP request of the call.
    #[cfg(test)]
    pub(super) fn request(&self) -> &http::Request<axum::body::Body> {
        &self.request
    }

    /// Serves a unary rpc with `method` of `domain`.
    pub fn unary<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        M: for<'b> DomainMethod<'b, T, Request, Response> + Copy,
    {
        if self.format() == Format::Proto
            && plain::serves(
                self.request.headers(),
                !self.wire.send_compressed.is_empty(),
            )
        {
            self.plain_unary(domain, method)
        } else {
            self.tonic_unary(domain, method)
        }
    }

    /// [`unary`](Self::unary) for a call in binary protobuf that nothing compresses.
    fn plain_unary<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        M: for<'b> DomainMethod<'b, T, Request, Response> + Copy,
    {
        let domain = Arc::clone(domain);
        let (read_limit, write_limit) = (
            self.wire.max_decoding_message_size,
            self.wire.max_encoding_message_size,
        );
        // Accepted before the body is read, as on tonic's path (`one_message`): an expired or
        // malformed deadline is refused without reading.
        let accepted = accept(tonic::Request::from_http(self.request));
        let read = async move {
            let (ctx, body) = accepted?;
            Ok((ctx, plain::read_one::<Request>(body, read_limit).await?))
        };
        Box::pin(read.then(move |read| {
            run(
                domain,
                read,
                method,
                <Unary as Shape<Request, Response>>::respond,
            )
            .map(move |answered| plain::respond(answered, write_limit))
        }))
    }

    /// [`unary`](Self::unary) through tonic's `server::Grpc`: compression and JSON.
    fn tonic_unary<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        M: for<'b> DomainMethod<'b, T, Request, Response> + Copy,
    {
        let handler = Handler::<_, _, Unary, _, _>::new(domain, method);
        let mut grpc = self.wire.grpc::<Response, Request, J>(self.format());
        // Read as a stream, to refuse a request of no message or of two (see `one_message`).
        Box::pin(async move { grpc.client_streaming(handler, self.request).await })
    }

    /// Serves a server-streaming rpc; the response stream is cut at the deadline.
    pub fn server_streaming<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        M: for<'b> DomainMethod<'b, T, Request, BoxStream<Response>> + Copy,
    {
        let handler = Handler::<_, _, ServerStreaming, _, _>::new(domain, method);
        let mut grpc = self.wire.grpc::<Response, Request, J>(self.format());
        Box::pin(async move { grpc.streaming(handler, self.request).await })
    }

    /// Serves a client-streaming rpc; the domain gets the request messages as a [`BoxStream`].
    pub fn client_streaming<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        M: for<'b> DomainMethod<'b, T, BoxStream<Request>, Response> + Copy,
    {
        let handler = Handler::<_, _, ClientStreaming, _, _>::new(domain, method);
        let mut grpc = self.wire.grpc::<Response, Request, J>(self.format());
        Box::pin(async move { grpc.client_streaming(handler, self.request).await })
    }

    /// Serves a bidi-streaming rpc: [`client_streaming`](Self::client_streaming)'s request,
    /// [`server_streaming`](Self::server_streaming)'s response.
    pub fn bidi_streaming<T, Request, Response, M>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        M: for<'b> DomainMethod<'b, T, BoxStream<Request>, BoxStream<Response>> + Copy,
    {
        let handler = Handler::<_, _, BidiStreaming, _, _>::new(domain, method);
        let mut grpc = self.wire.grpc::<Response, Request, J>(self.format());
        Box::pin(async move { grpc.streaming(handler, self.request).await })
    }

    /// Answers `UNIMPLEMENTED`: the rpc is not one this adapter serves.
    pub fn unimplemented(self) -> GrpcFuture {
        let status = unknown_method(self.request.uri().path());
        Box::pin(std::future::ready(status.into_http()))
    }
}

/// The status of a call to a path no rpc has, worded as grpc-go words it.
pub(super) fn unknown_method(path: &str) -> Status {
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|path| path.rsplit_once('/'))
        .unwrap_or(("", path));
    Status::unimplemented(format!("unknown method {method} for service {service}"))
}

/// The four call shapes, as what the wire hands over (`Wire`), what the domain method takes
/// (`In`) and returns (`Out`), and what goes back to tonic (`Sent`). Named by a marker type
/// rather than by the four types themselves: a handler's type then holds no `dyn` stream, whose
/// lifetime the compiler would erase when it checks that the call's future is `Send`.
trait Shape<Request, Response> {
    type Wire;
    type In: Send + 'static;
    type Out: 'static;
    type Sent: Send + 'static;

    fn accept(
        request: tonic::Request<Self::Wire>,
    ) -> impl Future<Output = Result<(Context, Self::In), Status>> + Send + 'static;

    fn respond(ctx: &Context, out: Self::Out) -> Self::Sent;
}

struct Unary;
struct ServerStreaming;
struct ClientStreaming;
struct BidiStreaming;

/// The one message of a unary or server-streaming request: none, or a second, is refused
/// (see `plain::no_message`).
async fn one_message<Request: Send + 'static>(
    request: tonic::Request<tonic::Streaming<Request>>,
) -> Result<(Context, Request), Status> {
    let (ctx, mut messages) = accept(request)?;
    let Some(message) = messages.message().await? else {
        return Err(plain::no_message());
    };
    if messages.message().await?.is_some() {
        return Err(plain::second_message());
    }
    Ok((ctx, message))
}

impl<Request: Send + 'static, Response: Send + 'static> Shape<Request, Response> for Unary {
    type Wire = tonic::Streaming<Request>;
    type In = Request;
    type Out = Response;
    type Sent = Response;

    fn accept(
        request: tonic::Request<tonic::Streaming<Request>>,
    ) -> impl Future<Output = Result<(Context, Request), Status>> + Send + 'static {
        one_message(request)
    }

    fn respond(_ctx: &Context, out: Response) -> Response {
        out
    }
}

impl<Request: Send + 'static, Response: Send + 'static> Shape<Request, Response>
    for ServerStreaming
{
    type Wire = tonic::Streaming<Request>;
    type In = Request;
    type Out = BoxStream<Response>;
    type Sent = BoxStream<Response>;

    fn accept(
        request: tonic::Request<tonic::Streaming<Request>>,
    ) -> impl Future<Output = Result<(Context, Request), Status>> + Send + 'static {
        one_message(request)
    }

    fn respond(ctx: &Context, out: BoxStream<Response>) -> BoxStream<Response> {
        stream_within_deadline(ctx, out)
    }
}

impl<Request: Send + 'static, Response: Send + 'static> Shape<Request, Response>
    for ClientStreaming
{
    type Wire = tonic::Streaming<Request>;
    type In = BoxStream<Request>;
    type Out = Response;
    type Sent = Response;

    fn accept(
        request: tonic::Request<tonic::Streaming<Request>>,
    ) -> impl Future<Output = Result<(Context, BoxStream<Request>), Status>> + Send + 'static {
        std::future::ready(accept_streaming(request))
    }

    fn respond(_ctx: &Context, out: Response) -> Response {
        out
    }
}

impl<Request: Send + 'static, Response: Send + 'static> Shape<Request, Response> for BidiStreaming {
    type Wire = tonic::Streaming<Request>;
    type In = BoxStream<Request>;
    type Out = BoxStream<Response>;
    type Sent = BoxStream<Response>;

    fn accept(
        request: tonic::Request<tonic::Streaming<Request>>,
    ) -> impl Future<Output = Result<(Context, BoxStream<Request>), Status>> + Send + 'static {
        std::future::ready(accept_streaming(request))
    }

    fn respond(ctx: &Context, out: BoxStream<Response>) -> BoxStream<Response> {
        stream_within_deadline(ctx, out)
    }
}

/// A domain method as tonic's `server::Grpc` calls it: a tower service from the decoded
/// request to the response, of call shape `S`.
struct Handler<T: ?Sized, M, S, Request, Response> {
    domain: Arc<T>,
    method: M,
    shape: PhantomData<fn(S, Request) -> Response>,
}

impl<T: ?Sized, M, S, Request, Response> Handler<T, M, S, Request, Response> {
    fn new(domain: &Arc<T>, method: M) -> Self {
        Self {
            domain: Arc::clone(domain),
            method,
            shape: PhantomData,
        }
    }
}

impl<T, M, S, Request, Response> tower_service::Service<tonic::Request<S::Wire>>
    for Handler<T, M, S, Request, Response>
where
    T: ?Sized + Send + Sync + 'static,
    S: Shape<Request, Response>,
    M: for<'b> DomainMethod<'b, T, S::In, S::Out> + Copy,
{
    type Response = tonic::Response<S::Sent>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<tonic::Response<S::Sent>, Status>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<S::Wire>) -> Self::Future {
        let domain = Arc::clone(&self.domain);
        let method = self.method;
        // Chained, not awaited in one `async` block, which would keep the accepting future
        // beside the answering one: 1,960 bytes boxed on every call for CheckStock, past what
        // the allocator serves from its per-thread cache.
        Box::pin(S::accept(request).then(move |accepted| run(domain, accepted, method, S::respond)))
    }
}

#[cfg(test)]
mod tests;
