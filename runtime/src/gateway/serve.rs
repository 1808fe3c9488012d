//! The gateway as a tower `Service`, for axum, tonic's `Server` or hyper, and beside tonic's
//! routes on one port ([`Gateway::with_grpc`]).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use bytes::Bytes;

use super::routed::{Gateway, ResponseFuture};
use crate::call::protocol::is_rest;

impl<B> tower_service::Service<http::Request<B>> for Gateway
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> GatewayFuture {
        GatewayFuture {
            answer: self.handle(request.map(Body::new)),
        }
    }
}

/// The answer of the gateway as a [`Service`](tower_service::Service): [`Gateway::handle`]'s
/// future, which never fails, with `Ok` around its response. A type of its own rather than a
/// boxed `async` block, which cost a second allocation on every request.
pub struct GatewayFuture {
    answer: ResponseFuture,
}

impl fmt::Debug for GatewayFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayFuture").finish_non_exhaustive()
    }
}

impl Future for GatewayFuture {
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx).map(Ok)
    }
}

impl Gateway {
    /// One router for gRPC and REST on one port: requests to a gRPC service's path go to
    /// `grpc` (tonic's `Routes`), everything else to the gateway. Serve it with
    /// `axum::serve`, or with tonic's `Server` (`accept_http1(true)` for HTTP/1.1 clients),
    /// whose connections do not hand over on upgrade: no WebSocket streams there.
    ///
    /// An HTTP rule on a path under one of its service's gRPC paths (`post:
    /// "/pkg.Service/Method"`, as the Envoy transcoder serves it) gets the REST requests
    /// there: those in no rpc protocol (not gRPC, gRPC-Web or Connect, which names its
    /// version in `Connect-Protocol-Version` or, for a `GET`, in `connect=v1`).
    pub fn with_grpc(self, grpc: tonic::service::Routes) -> axum::Router {
        self.beside_grpc(grpc, true)
    }

    /// [`with_grpc`](Self::with_grpc); without `transcode_shared` the shared paths are left to
    /// tonic's routes, for a caller that sends their REST requests to the gateway before the
    /// router sees them (a `Host` port), so that its rpc calls are not routed twice.
    pub(crate) fn beside_grpc(
        self,
        grpc: tonic::service::Routes,
        transcode_shared: bool,
    ) -> axum::Router {
        let shared = if transcode_shared {
            self.grpc_service_paths()
        } else {
            Vec::new()
        };
        let mut router = grpc.clone().into_axum_router();
        for path in shared {
            let service = SharedPath {
                gateway: self.clone(),
                grpc: grpc.clone(),
            };
            router = router.route_service(&path, service);
        }
        router.fallback_service(self)
    }
}

/// The service of a path that one of the gateway's routes shares with tonic's routes (an HTTP
/// rule on its rpc's own gRPC path, see [`Gateway::with_grpc`]): REST requests to the gateway,
/// gRPC, gRPC-Web and Connect ones to tonic's routes.
#[derive(Clone)]
pub(super) struct SharedPath {
    pub(super) gateway: Gateway,
    pub(super) grpc: tonic::service::Routes,
}

/// The answer of tonic's routes, in axum's body.
type GrpcFuture = futures_util::future::MapOk<
    <tonic::service::Routes as tower_service::Service<http::Request<Body>>>::Future,
    fn(http::Response<tonic::body::Body>) -> http::Response<Body>,
>;

impl tower_service::Service<http::Request<Body>> for SharedPath {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = futures_util::future::Either<GatewayFuture, GrpcFuture>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // tonic's routes are an axum `Router`, which is always ready, as the gateway is.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        use futures_util::TryFutureExt as _;
        if is_rest(&request) {
            futures_util::future::Either::Left(self.gateway.call(request))
        } else {
            let to_axum: fn(http::Response<tonic::body::Body>) -> http::Response<Body> =
                |response| response.map(Body::new);
            futures_util::future::Either::Right(self.grpc.call(request).map_ok(to_axum))
        }
    }
}
