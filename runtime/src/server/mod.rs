//! How a generated adapter serves gRPC. The adapter is a [`GrpcDispatch`]: [`GrpcServer`] routes
//! each call by path to one arm of its `dispatch`, which names the domain method and its shape
//! ([`GrpcCall::unary`] and its siblings). The work of a call is written once here, generic over
//! the domain method, instead of as an `async` body per generated method: the compiler then
//! checks it once, not once per rpc. [`unary`], [`server_streaming`], [`client_streaming`] and
//! [`bidi_streaming`] do the same for a hand-written implementation of tonic's own server trait
//! (the `tonic_server` artifact) that wants the domain's call semantics.
//!
//! Deadline handling has one subtlety. tonic's `Server` enforces `grpc-timeout` on its own and
//! answers `CANCELLED` when it fires; it arms that timer right *after* calling the routed service.
//! [`GrpcServer`] wraps each generated service, stamps the absolute deadline on the request
//! synchronously in `call`, so our deadline is never later than tonic's, and races the whole call
//! (body decoding included) against it. tonic polls the inner future before its timer, so on
//! expiry the caller sees `DEADLINE_EXCEEDED` from us. Behind a router that calls services
//! late (axum), [`StampDeadlines`] on the server does the stamping instead.
//!
//! The response metadata a handler sets on its [`Context`] goes out with the response headers
//! (set before a unary handler returns, or a streaming one returns its stream) and, for
//! trailers, with the final status, which [`GrpcServer`]'s response body adds whenever the
//! handler set them. [`WireSettings`] are the generated adapter's size limits and compression.

mod answer;
#[cfg(feature = "connect")]
mod connect;
mod dispatch;
mod messages;
mod wire;

use std::future::Future;

use futures_util::future::Either;
use tonic::metadata::MetadataMap;

use crate::call::ArrivalDeadline;
use crate::call::recover::recover_call;
pub use crate::call::{DomainMethod, stream_within_deadline, within_deadline};
use crate::deadline::deadline_from_headers;
use crate::rpc::WireProtocol;
pub use crate::rpc::WireSettings;
use crate::{BoxFuture, BoxStream, Context, Status};
pub use answer::CallFuture;
pub use dispatch::{GrpcCall, GrpcDispatch, GrpcFuture};
use wire::ResponseCell;
pub use wire::{DeadlineStamped, GrpcResponseFuture, GrpcServer, StampDeadlines};

pub use crate::deadline::deadline_exceeded;

/// Turns a unary or server-streaming wire request into `(Context, message)`, failing with
/// `DEADLINE_EXCEEDED` when the deadline passed before the domain was called.
pub fn accept<T>(request: tonic::Request<T>) -> Result<(Context, T), Status> {
    let deadline = match request.extensions().get::<ArrivalDeadline>() {
        Some(ArrivalDeadline(deadline)) => Some(*deadline),
        // No deadline on arrival, or served without `GrpcServer` (the tonic service mounted
        // directly): the header, if any, is read now.
        None => deadline_from_headers(request.metadata().as_ref())
            .map_err(|invalid| Status::invalid_argument(invalid.to_string()))?,
    };
    let peer_addr = request.remote_addr();
    #[cfg(feature = "tls")]
    let peer_certificates = request.peer_certs().map(|chain| {
        crate::call::PeerCertificates::new(
            chain
                .iter()
                .map(|certificate| certificate.to_vec())
                .collect(),
        )
    });
    let (metadata, mut extensions, message) = request.into_parts();
    let response = extensions
        .remove::<ResponseCell>()
        .map(|ResponseCell(response)| response)
        .unwrap_or_default();
    // gRPC-Web and Connect arrive translated to gRPC, marked with what they were.
    let protocol = extensions
        .get::<WireProtocol>()
        .copied()
        .unwrap_or(WireProtocol::Grpc);
    let mut ctx = Context::serving_call(metadata, response, protocol);
    if let Some(admission) = extensions.remove::<crate::call::admission::Admission>() {
        admission.mark(&mut ctx);
    }
    if let Some(deadline) = deadline {
        ctx = ctx.with_deadline(deadline);
    }
    if let Some(peer_addr) = peer_addr {
        ctx = ctx.with_peer_addr(peer_addr);
    }
    #[cfg(feature = "tls")]
    if let Some(chain) = peer_certificates {
        ctx.extensions_mut().insert(chain);
    }
    if ctx.is_expired() {
        return Err(deadline_exceeded());
    }
    Ok((ctx, message))
}

/// Like [`accept`], for client- and bidi-streaming requests: the message stream becomes a plain
/// [`BoxStream`].
pub fn accept_streaming<T: Send + 'static>(
    request: tonic::Request<tonic::Streaming<T>>,
) -> Result<(Context, BoxStream<T>), Status> {
    let (ctx, stream) = accept(request)?;
    Ok((ctx, Box::pin(stream)))
}

/// The future a method of a tonic server trait returns (the form `#[async_trait]` gives it).
pub type WireFuture<'a, T> = BoxFuture<'a, Result<tonic::Response<T>, Status>>;

/// Serves a unary call: accepts the wire request (rejecting an expired or malformed deadline),
/// runs `method` on `domain` within the deadline, and wraps its response.
pub fn unary<'a, T, Request, Response, M>(
    domain: &'a T,
    request: tonic::Request<Request>,
    method: M,
) -> WireFuture<'a, Response>
where
    T: ?Sized + Sync,
    Request: Send + 'static,
    Response: 'static,
    M: for<'b> DomainMethod<'b, T, Request, Response>,
{
    serve(domain, accept(request), method, |_, response| response)
}

/// Serves a server-streaming call like [`unary`]; the response stream is cut at the deadline.
pub fn server_streaming<'a, T, Request, Response, M>(
    domain: &'a T,
    request: tonic::Request<Request>,
    method: M,
) -> WireFuture<'a, BoxStream<Response>>
where
    T: ?Sized + Sync,
    Request: Send + 'static,
    Response: Send + 'static,
    M: for<'b> DomainMethod<'b, T, Request, BoxStream<Response>>,
{
    serve(domain, accept(request), method, stream_within_deadline)
}

/// Serves a client-streaming call like [`unary`], the request stream handed on as a
/// [`BoxStream`].
pub fn client_streaming<'a, T, Request, Response, M>(
    domain: &'a T,
    request: tonic::Request<tonic::Streaming<Request>>,
    method: M,
) -> WireFuture<'a, Response>
where
    T: ?Sized + Sync,
    Request: Send + 'static,
    Response: 'static,
    M: for<'b> DomainMethod<'b, T, BoxStream<Request>, Response>,
{
    serve(domain, accept_streaming(request), method, |_, response| {
        response
    })
}

/// Serves a bidi-streaming call: [`client_streaming`]'s request, [`server_streaming`]'s response.
pub fn bidi_streaming<'a, T, Request, Response, M>(
    domain: &'a T,
    request: tonic::Request<tonic::Streaming<Request>>,
    method: M,
) -> WireFuture<'a, BoxStream<Response>>
where
    T: ?Sized + Sync,
    Request: Send + 'static,
    Response: Send + 'static,
    M: for<'b> DomainMethod<'b, T, BoxStream<Request>, BoxStream<Response>>,
{
    serve(
        domain,
        accept_streaming(request),
        method,
        stream_within_deadline,
    )
}

/// What the four kinds of call share: runs `method` within the deadline of an accepted call and
/// wraps what it returns, passed through `respond`, in a tonic response.
fn serve<'a, T, In, Out, Wire, M>(
    domain: &'a T,
    accepted: Result<(Context, In), Status>,
    method: M,
    respond: fn(&Context, Out) -> Wire,
) -> WireFuture<'a, Wire>
where
    T: ?Sized + Sync,
    In: Send + 'static,
    Out: 'static,
    Wire: 'static,
    M: for<'b> DomainMethod<'b, T, In, Out>,
{
    Box::pin(run(domain, accepted, method, respond))
}

/// [`serve`]'s work, unboxed, for [`dispatch`]'s handlers to box once: the accepted call's
/// context and message go straight into the `async` block that answers it. As an `async fn` it
/// kept the accepted call twice in its state, once as its argument and once taken apart.
fn run<D, T, In, Out, Wire, M>(
    domain: D,
    accepted: Result<(Context, In), Status>,
    method: M,
    respond: fn(&Context, Out) -> Wire,
) -> impl Future<Output = Result<tonic::Response<Wire>, Status>> + Send
where
    D: std::ops::Deref<Target = T> + Send,
    T: ?Sized + Sync,
    In: Send + 'static,
    Out: 'static,
    Wire: 'static,
    M: for<'b> DomainMethod<'b, T, In, Out>,
{
    let (mut ctx, message) = match accepted {
        Ok(accepted) => accepted,
        // Not `ready(Err(status))`, which would hold a `Response<Wire>` and be `Send` only if
        // `Wire` were.
        Err(status) => return Either::Right(async move { Err(status) }),
    };
    ctx.enforce_deadline_outside();
    Either::Left(async move {
        let handler = recover_call(|| method.call(&*domain, &ctx, message));
        match within_deadline(&ctx, handler).await {
            Ok(out) => {
                let mut response = tonic::Response::new(respond(&ctx, out));
                // Behind a `GrpcServer`, which adds them to the HTTP response (without passing
                // them through tonic's sanitizing of response metadata), none.
                if let Some(headers) = ctx.response().headers_to_answer_with() {
                    append_sendable(response.metadata_mut().as_mut(), headers);
                }
                Ok(response)
            }
            // An error before any message is a trailers-only response: what the handler set
            // travels with the status.
            Err(mut status) => {
                let metadata = status.metadata_mut().as_mut();
                append_sendable(metadata, ctx.response().headers().clone());
                append_sendable(metadata, ctx.response().trailers().clone());
                Err(status)
            }
        }
    })
}

/// Adds the entries of `metadata` a handler may send to `headers`: not the `grpc-*` keys, which
/// belong to the protocol (a handler cannot forge `grpc-status`), nor the HTTP framing ones.
pub(crate) fn append_sendable(headers: &mut http::HeaderMap, metadata: MetadataMap) {
    crate::context::append_entries(headers, metadata, crate::context::is_application_key);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::deadline::GRPC_TIMEOUT;

    /// A domain: counts the calls that reach it.
    struct Counter(std::sync::atomic::AtomicUsize);

    impl Counter {
        async fn double(&self, ctx: &Context, n: u32) -> Result<u32, Status> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            assert!(ctx.deadline().is_some(), "the deadline reaches the domain");
            Ok(n * 2)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unary_calls_the_domain_method_within_the_deadline() {
        let counter = Counter(Default::default());
        let mut request = tonic::Request::new(21);
        request
            .metadata_mut()
            .insert(GRPC_TIMEOUT, "1S".parse().unwrap());
        let response = unary(&counter, request, Counter::double).await.unwrap();
        assert_eq!(response.into_inner(), 42);

        let mut expired = tonic::Request::new(1);
        expired
            .metadata_mut()
            .insert(GRPC_TIMEOUT, "0n".parse().unwrap());
        let status = unary(&counter, expired, Counter::double).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(
            counter.0.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "an expired call does not reach the domain"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn accept_rejects_an_expired_deadline_and_a_malformed_header() {
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert(GRPC_TIMEOUT, "0m".parse().unwrap());
        assert_eq!(
            accept(request).unwrap_err().code(),
            tonic::Code::DeadlineExceeded
        );

        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert(GRPC_TIMEOUT, "soon".parse().unwrap());
        let status = accept(request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("malformed grpc-timeout"),
            "{}",
            status.message()
        );

        let mut request = tonic::Request::new(7u8);
        request
            .metadata_mut()
            .insert(GRPC_TIMEOUT, "2S".parse().unwrap());
        request
            .metadata_mut()
            .insert("x-request-id", "abc".parse().unwrap());
        let (ctx, message) = accept(request).unwrap();
        assert_eq!(message, 7);
        assert_eq!(ctx.remaining(), Some(Duration::from_secs(2)));
        assert_eq!(ctx.metadata().get("x-request-id").unwrap(), "abc");
    }
}
