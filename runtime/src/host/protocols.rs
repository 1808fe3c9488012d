//! gRPC-Web and Connect on the gRPC paths of a port.
//!
//! tonic-web translates gRPC-Web to gRPC and passes any other HTTP/2 request through, but
//! answers 400 to every other HTTP/1.1 request: a Connect call over HTTP/1.1 (curl's default,
//! a browser's `fetch`) would never reach the adapter, which serves Connect itself. So only
//! gRPC-Web (and gRPC over HTTP/1.1, for tonic-web's 400) goes through tonic-web; every other
//! request goes straight to the adapter, as tonic-web would pass it on over HTTP/2.

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use http::header::CONTENT_TYPE;
#[cfg(feature = "grpc-web")]
use tonic_web::{GrpcWebLayer, GrpcWebService};
use tower_layer::Layer;
use tower_service::Service;

use super::{HEALTH_SERVICE, REFLECTION_SERVICES};
use crate::BoxFuture;
use crate::call::codec::Format;
use crate::call::protocol::{RpcProtocol, rpc_protocol};

/// The layer of [`Protocols`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ProtocolsLayer;

impl<S> Layer<S> for ProtocolsLayer {
    type Service = Protocols<S>;

    fn layer(&self, inner: S) -> Protocols<S> {
        Protocols { inner }
    }
}

/// A gRPC route's service, reached directly by gRPC over HTTP/2 and by Connect, and through
/// tonic-web by everything else. It holds the route once, not beside a tonic-web copy of it:
/// axum clones a route's service for every request, so each copy held was cloned (and its
/// boxes allocated) on every call.
#[derive(Debug, Clone)]
pub(super) struct Protocols<S> {
    inner: S,
}

/// Whether a request goes around tonic-web: not gRPC-Web, and either HTTP/2 (which tonic-web
/// passes through as it is) or Connect over HTTP/1 (not gRPC's content type, which tonic-web
/// answers with 400 over HTTP/1).
fn goes_around_tonic_web(request: &Request<Body>) -> bool {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map_or(&b""[..], |value| value.as_bytes());
    if content_type.starts_with(b"application/grpc-web") {
        return false;
    }
    request.version() >= http::Version::HTTP_2 || !content_type.starts_with(b"application/grpc")
}

impl<S> Service<Request<Body>> for Protocols<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>
        + Service<Request<tonic::body::Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    <S as Service<Request<Body>>>::Future: Send + 'static,
    <S as Service<Request<tonic::body::Body>>>::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        <S as Service<Request<Body>>>::Future,
        BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // An axum route, always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if goes_around_tonic_web(&request) {
            let future = Service::<Request<Body>>::call(&mut self.inner, request);
            return futures_util::future::Either::Left(future);
        }
        #[cfg(feature = "grpc-web")]
        let answer = self.grpc_web(request);
        #[cfg(not(feature = "grpc-web"))]
        let answer = unsupported(&request);
        futures_util::future::Either::Right(answer)
    }
}

/// A gRPC-Web call, or gRPC over HTTP/1.1, without the `grpc-web` feature: `415 Unsupported
/// Media Type`, as grpc-go answers a content type it does not serve.
#[cfg(not(feature = "grpc-web"))]
fn unsupported(request: &Request<Body>) -> BoxFuture<'static, Result<Response, Infallible>> {
    let mut response = Response::new(Body::from(format!(
        "this server does not serve {:?} (gRPC-Web: rust-svc-runtime's `grpc-web` feature)",
        request.headers().get(CONTENT_TYPE)
    )));
    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
    Box::pin(std::future::ready(Ok(response)))
}

#[cfg(feature = "grpc-web")]
impl<S> Protocols<S>
where
    S: Service<Request<tonic::body::Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    /// A gRPC-Web call, or gRPC over HTTP/1.1, through tonic-web.
    #[cfg(feature = "grpc-web")]
    fn grpc_web(
        &mut self,
        mut request: Request<Body>,
    ) -> BoxFuture<'static, Result<Response, Infallible>> {
        // tonic-web knows gRPC-Web's binary codec only: a JSON call goes through it as binary,
        // its messages coded as JSON by the adapter (the `Format` it carries), and its answer
        // is labelled JSON again.
        let content_type = request.headers().get(CONTENT_TYPE);
        let json = content_type
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web+json"));
        if content_type.is_some_and(|value| value.as_bytes().starts_with(b"application/grpc-web")) {
            // What the call was before tonic-web made it gRPC, for its context.
            request
                .extensions_mut()
                .insert(crate::rpc::WireProtocol::GrpcWeb);
        }
        if json {
            request.headers_mut().insert(
                CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc-web+proto"),
            );
            request.extensions_mut().insert(Format::Json);
        }
        let mut web: GrpcWebService<S> = GrpcWebLayer::new().layer(self.inner.clone());
        let future = web.call(request);
        Box::pin(async move {
            let mut response = future.await?.map(Body::new);
            if json {
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    http::HeaderValue::from_static("application/grpc-web+json"),
                );
            }
            Ok(response)
        })
    }
}

/// The layer of [`UnknownRpc`], given the services the port hosts.
#[derive(Debug, Clone)]
pub(super) struct UnknownRpcLayer {
    hosted: std::sync::Arc<[String]>,
}

impl UnknownRpcLayer {
    /// `hosted`: the services the port serves.
    pub(super) fn new(hosted: impl IntoIterator<Item = String>) -> Self {
        Self {
            hosted: hosted.into_iter().collect(),
        }
    }
}

/// Whether `service` is one a port hosts that speaks gRPC and gRPC-Web but not Connect:
/// tonic's health and reflection services, not generated adapters, which serve Connect.
fn grpc_only(service: &str) -> bool {
    service == HEALTH_SERVICE || REFLECTION_SERVICES.contains(&service)
}

impl<S> Layer<S> for UnknownRpcLayer {
    type Service = UnknownRpc<S>;

    fn layer(&self, inner: S) -> UnknownRpc<S> {
        UnknownRpc {
            inner,
            hosted: std::sync::Arc::clone(&self.hosted),
        }
    }
}

/// Answers an rpc call (gRPC, gRPC-Web or Connect, by its content type) to a service the port
/// does not host in the caller's protocol, `UNIMPLEMENTED`, instead of letting it fall through
/// to the REST gateway, whose 404 a gRPC-Web or Connect client cannot read.
#[derive(Debug, Clone)]
pub(super) struct UnknownRpc<S> {
    inner: S,
    hosted: std::sync::Arc<[String]>,
}

impl<S> UnknownRpc<S> {
    /// The service it passes the other requests to.
    pub(super) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// `UNIMPLEMENTED` for `service`, in `protocol`'s form.
fn unknown_service(protocol: RpcProtocol, service: &str) -> Response {
    unimplemented(
        protocol,
        &crate::Status::unimplemented(format!("unknown service {service}")),
    )
}

/// `status` (UNIMPLEMENTED) in `protocol`'s form.
fn unimplemented(protocol: RpcProtocol, status: &crate::Status) -> Response {
    match protocol {
        RpcProtocol::Connect => {
            let mut response = Response::new(Body::from(crate::call::connect::error_body(status)));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response.headers_mut().insert(
                CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        RpcProtocol::Grpc | RpcProtocol::GrpcWeb => {
            // Trailers-only: the status in the headers, which gRPC-Web reads there too.
            let mut response = status.clone().into_http::<Body>();
            if protocol == RpcProtocol::GrpcWeb {
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    http::HeaderValue::from_static("application/grpc-web+proto"),
                );
            }
            response
        }
    }
}

impl<S> Service<Request<Body>> for UnknownRpc<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        futures_util::future::Either<S::Future, std::future::Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let protocol = rpc_protocol(request.headers());
        let service = || {
            request
                .uri()
                .path()
                .strip_prefix('/')
                .and_then(|path| path.split_once('/'))
                .map_or("", |(service, _)| service)
        };
        let answer = match protocol {
            Some(protocol) if !self.hosted.iter().any(|hosted| hosted == service()) => {
                Some(unknown_service(protocol, service()))
            }
            // Health and reflection answer gRPC and gRPC-Web only: anything else on their
            // paths is a Connect call (a generated service would take it as one), told so,
            // rather than tonic's INTERNAL for a body it cannot frame.
            Some(RpcProtocol::Grpc | RpcProtocol::GrpcWeb) => None,
            _ if grpc_only(service()) => Some(unimplemented(
                RpcProtocol::Connect,
                &crate::Status::unimplemented(format!(
                    "{} is served over gRPC and gRPC-Web, not Connect",
                    service()
                )),
            )),
            _ => None,
        };
        match answer {
            Some(answer) => futures_util::future::Either::Right(std::future::ready(Ok(answer))),
            None => futures_util::future::Either::Left(self.inner.call(request)),
        }
    }
}
