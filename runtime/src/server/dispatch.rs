//! The gRPC routing every generated adapter shares. A generated adapter implements
//! [`GrpcDispatch`]: its service's [`ServiceInfo`] and one `match` arm per rpc naming the domain
//! method and its call shape. [`GrpcServer`](super::GrpcServer) finds the rpc by path in the
//! description and hands the call to that arm, and [`GrpcCall`] serves it: its messages read
//! and its answer written by `messages`, whatever the shape, compression or format, with the
//! outcomes tonic's `server::Grpc` has (the tests compare the two).
//!
//! tonic-build writes this routing into every service, about a hundred lines per rpc (a struct
//! and a `Service` impl per rpc, the codec set-up repeated in each); here it is written once,
//! generic over the domain method, and monomorphised per rpc as tonic's would be.

use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::FutureExt;

use super::messages::{self, CallWire, WireConfig};
use super::{accept, run};
#[cfg(feature = "json")]
use crate::call::codec::WithJson;
use crate::call::codec::{Format, JsonSupport, NoJson};
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
    #[cfg(feature = "json")]
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

    /// What the call's headers and the server's settings agree on for its messages.
    fn negotiate(&self) -> Result<CallWire, Status> {
        CallWire::negotiate(self.request.headers(), self.format(), &self.wire)
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
        self.serve_one::<_, _, _, _, Unary>(domain, method)
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
        self.serve_one::<_, _, _, _, ServerStreaming>(domain, method)
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
        self.serve_streamed::<_, _, _, _, ClientStreaming>(domain, method)
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
        self.serve_streamed::<_, _, _, _, BidiStreaming>(domain, method)
    }

    /// A call whose request is one message (unary, server-streaming): the call is accepted
    /// (its deadline read) before the body, so that an expired or malformed deadline is
    /// refused without reading; the one message is then read and the domain called.
    fn serve_one<T, Request, Response, M, S>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        S: Shape<Response>,
        M: for<'b> DomainMethod<'b, T, Request, S::Out> + Copy,
    {
        let wire = match self.negotiate() {
            Ok(wire) => wire,
            Err(status) => return Box::pin(std::future::ready(status.into_http())),
        };
        let domain = Arc::clone(domain);
        let accepted = accept(tonic::Request::from_http(self.request));
        let read = async move {
            let (ctx, body) = accepted?;
            Ok((ctx, messages::read_one::<Request, J>(body, wire).await?))
        };
        Box::pin(read.then(move |read| {
            run(domain, read, method, S::respond)
                .map(move |answered| messages::respond::<_, Response, J>(answered, wire))
        }))
    }

    /// A call whose request is a stream (client- and bidi-streaming): the domain is called
    /// with the stream of messages as the body brings them.
    fn serve_streamed<T, Request, Response, M, S>(self, domain: &Arc<T>, method: M) -> GrpcFuture
    where
        T: ?Sized + Send + Sync + 'static,
        Request: prost::Message + Default + Send + 'static,
        Response: prost::Message + Send + 'static,
        J: JsonSupport<Request> + JsonSupport<Response>,
        S: Shape<Response>,
        M: for<'b> DomainMethod<'b, T, BoxStream<Request>, S::Out> + Copy,
    {
        let wire = match self.negotiate() {
            Ok(wire) => wire,
            Err(status) => return Box::pin(std::future::ready(status.into_http())),
        };
        let request = self.request.map(|body| -> BoxStream<Request> {
            Box::pin(messages::Requests::<Request, J>::new(body, wire))
        });
        let accepted = accept(tonic::Request::from_http(request));
        Box::pin(
            run(Arc::clone(domain), accepted, method, S::respond)
                .map(move |answered| messages::respond::<_, Response, J>(answered, wire)),
        )
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

/// What a call shape answers with: the domain method's output (`Out`) as the stream of
/// messages the answer is written from (`Sent`). A unary answer is a stream of one, so that
/// one writer serves every shape. Named by a marker type rather than by the types themselves:
/// a call's future then holds no `dyn` stream, whose lifetime the compiler would erase when
/// it checks that the future is `Send`.
pub(super) trait Shape<Response> {
    type Out: 'static;
    type Sent: futures_core::Stream<Item = Result<Response, Status>> + Unpin + Send + 'static;

    fn respond(ctx: &Context, out: Self::Out) -> Self::Sent;
}

pub(super) struct Unary;
pub(super) struct ServerStreaming;
pub(super) struct ClientStreaming;
pub(super) struct BidiStreaming;

impl<Response: Send + 'static> Shape<Response> for Unary {
    type Out = Response;
    type Sent = futures_util::stream::Once<std::future::Ready<Result<Response, Status>>>;

    fn respond(_ctx: &Context, out: Response) -> Self::Sent {
        futures_util::stream::once(std::future::ready(Ok(out)))
    }
}

impl<Response: Send + 'static> Shape<Response> for ServerStreaming {
    type Out = BoxStream<Response>;
    type Sent = BoxStream<Response>;

    fn respond(ctx: &Context, out: BoxStream<Response>) -> BoxStream<Response> {
        stream_within_deadline(ctx, out)
    }
}

impl<Response: Send + 'static> Shape<Response> for ClientStreaming {
    type Out = Response;
    type Sent = futures_util::stream::Once<std::future::Ready<Result<Response, Status>>>;

    fn respond(_ctx: &Context, out: Response) -> Self::Sent {
        futures_util::stream::once(std::future::ready(Ok(out)))
    }
}

impl<Response: Send + 'static> Shape<Response> for BidiStreaming {
    type Out = BoxStream<Response>;
    type Sent = BoxStream<Response>;

    fn respond(ctx: &Context, out: BoxStream<Response>) -> BoxStream<Response> {
        stream_within_deadline(ctx, out)
    }
}

#[cfg(test)]
mod tests;
