//! gRPC-Web and Connect on the gRPC paths of a port.
//!
//! tonic-web translates gRPC-Web to gRPC and passes any other HTTP/2 request through, but
//! answers 400 to every other HTTP/1.1 request: a Connect call over HTTP/1.1 (curl's default,
//! a browser's `fetch`) would never reach the adapter, which serves Connect itself. So an
//! HTTP/1.1 request that is neither gRPC nor gRPC-Web goes straight to the adapter; the rest go
//! through tonic-web as before.

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use http::Request;
use http::header::CONTENT_TYPE;
use tonic_web::{GrpcWebLayer, GrpcWebService};
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;

/// The layer of [`Protocols`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ProtocolsLayer;

impl<S: Clone> Layer<S> for ProtocolsLayer {
    type Service = Protocols<S>;

    fn layer(&self, inner: S) -> Protocols<S> {
        Protocols {
            web: GrpcWebLayer::new().layer(inner.clone()),
            inner,
        }
    }
}

/// A gRPC route's service, reached directly by Connect over HTTP/1.1 and through tonic-web by
/// everything else.
#[derive(Debug, Clone)]
pub(super) struct Protocols<S> {
    inner: S,
    web: GrpcWebService<S>,
}

/// Whether a request goes around tonic-web: HTTP/1 and not gRPC's content type (gRPC-Web's
/// starts with it too).
fn is_connect_over_http1(request: &Request<Body>) -> bool {
    request.version() < http::Version::HTTP_2
        && !request
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
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
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // Both are axum routes, always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if is_connect_over_http1(&request) {
            return Box::pin(Service::<Request<Body>>::call(&mut self.inner, request));
        }
        let future = self.web.call(request);
        Box::pin(async move { Ok(future.await?.map(Body::new)) })
    }
}
