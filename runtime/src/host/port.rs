//! What a port serves, request by request: the paths of the rpc services and of the binary's
//! own routes go to axum's `Router` (tonic's routes, `/metrics`, [`super::Host::route`]), every
//! other path straight to the REST gateway. A REST route on a path the `Router` takes too (an
//! HTTP rule on its rpc's own gRPC path) gets the requests there that are neither gRPC nor
//! Connect ([`Port::transcoded`]).
//!
//! The gateway used to be the `Router`'s fallback, under a second, outer `Router` that only
//! had the layers around the whole port as its fallback. axum answers a fallback through a
//! catch-all route: a tree lookup, the path copied into a URL parameter, an extensions map, a
//! boxed clone of the service, twice per REST request, about 3,500 instructions each
//! (bench/RESULTS.md, "REST straight to the gateway on a Host port"). Here one lookup in a
//! tree of the same paths, with the `matchit` version axum matches with, decides instead; what
//! each path reaches, and in which order, is what the `Router` chose.
//!
//! Each connection serves its requests with a [`Port`] of its own ([`Port::for_connection`]),
//! which knows the connection's info (the client's address, over TLS its certificates). Only
//! the requests to the `Router` carry that info in their extensions, as tonic's `Server` put it
//! there (tonic's `remote_addr` and `peer_certs`, and a binary's own routes, read it), with
//! their deadline stamped on arrival ([`StampDeadlines`]); the gateway is told the client's
//! address once per connection and reads its own `Grpc-Timeout`. An extensions map costs three
//! allocations and their frees per request, about a thirtieth of a REST call (bench/RESULTS.md,
//! "Connection info once per connection, and one header timer per connection").

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use futures_util::future::Either;
use http::{Extensions, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::call::protocol::is_rest;
#[cfg(feature = "gateway")]
use crate::gateway::{Gateway, GatewayFuture, peer_addr};
use crate::server::{DeadlineStamped, StampDeadlines};

/// What answers the paths the `Router` has no route for: the REST gateway, or without the
/// `gateway` feature a 404.
#[cfg(feature = "gateway")]
pub(super) type Fallback = Gateway;
#[cfg(feature = "gateway")]
type FallbackFuture = GatewayFuture;
#[cfg(not(feature = "gateway"))]
pub(super) type Fallback = NotFound;
#[cfg(not(feature = "gateway"))]
type FallbackFuture = std::future::Ready<Result<Response, Infallible>>;

/// The fallback of a port without the gateway: `404 Not Found`, empty.
#[cfg(not(feature = "gateway"))]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NotFound;

#[cfg(not(feature = "gateway"))]
impl Service<Request<Body>> for NotFound {
    type Response = Response;
    type Error = Infallible;
    type Future = FallbackFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<Body>) -> Self::Future {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        std::future::ready(Ok(response))
    }
}

/// The paths axum's `Router` of a port has routes for, in its syntax (`/{service}/{*rest}`,
/// `/metrics`, `/orders/{id}`): requests to any other path go to the gateway.
#[derive(Debug)]
pub(super) struct RouterPaths {
    /// `None` when a path would not go in: the `Router` then takes every request, as it
    /// did before this split (it has the gateway as its fallback).
    tree: Option<matchit::Router<()>>,
}

impl RouterPaths {
    pub(super) fn new() -> Self {
        Self {
            tree: Some(matchit::Router::new()),
        }
    }

    /// Adds a path the `Router` was given a route for.
    pub(super) fn add(&mut self, path: &str) {
        if let Some(tree) = &mut self.tree
            && tree.insert(path, ()).is_err()
        {
            // axum took the path with the same matcher, so this does not happen; if it did,
            // the `Router` deciding everything is still right.
            self.tree = None;
        }
    }

    fn routed(&self, path: &str) -> bool {
        self.tree.as_ref().is_none_or(|tree| tree.at(path).is_ok())
    }
}

/// The service of a port, under the layers around all of it (see the module docs).
#[derive(Clone)]
pub(super) struct Port {
    router: DeadlineStamped<axum::Router>,
    gateway: Fallback,
    paths: Arc<RouterPaths>,
    /// The gateway's routes on a path the `Router` also takes: an HTTP rule on its rpc's own
    /// gRPC path (the Envoy transcoder's `CreateShelfWithPackageServiceAndMethod`). Usually
    /// none.
    shared: Arc<Vec<(http::Method, String)>>,
    /// The info of the connection this port serves (see the module docs), for the requests
    /// to the `Router`; `None` before [`Port::for_connection`].
    connection: Option<Arc<Extensions>>,
}

impl Port {
    /// `router` must have `gateway` as its fallback, and a route for each of `paths`.
    pub(super) fn new(router: axum::Router, gateway: Fallback, paths: RouterPaths) -> Self {
        #[cfg(feature = "gateway")]
        let shared = gateway
            .literal_routes()
            .into_iter()
            .filter(|(_, path)| paths.routed(path))
            .collect();
        #[cfg(not(feature = "gateway"))]
        let shared = Vec::new();
        Self {
            router: StampDeadlines.layer(router),
            gateway,
            paths: Arc::new(paths),
            shared: Arc::new(shared),
            connection: None,
        }
    }

    /// Whether `request`, on a path both the `Router` and a gateway route take, is the
    /// gateway's: REST, in no rpc protocol ([`is_rest`]).
    fn transcoded(&self, request: &Request<Body>) -> bool {
        if self.shared.is_empty() {
            return false;
        }
        // The header check first: an rpc call (most requests on these paths) ends it.
        let path = request.uri().path();
        is_rest(request)
            && self
                .shared
                .iter()
                .any(|(method, route)| method == request.method() && route == path)
    }

    /// This port for the requests of one connection, whose info `connection` holds (tonic's
    /// connect info: `TcpConnectInfo`, or `TlsConnectInfo` over TLS).
    pub(super) fn for_connection(&self, connection: Extensions) -> Self {
        Self {
            router: self.router.clone(),
            #[cfg(feature = "gateway")]
            gateway: self.gateway.for_peer(peer_addr(&connection)),
            #[cfg(not(feature = "gateway"))]
            gateway: self.gateway,
            paths: Arc::clone(&self.paths),
            shared: Arc::clone(&self.shared),
            connection: Some(Arc::new(connection)),
        }
    }
}

impl Service<Request<Body>> for Port {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<RouteFuture<Infallible>, FallbackFuture>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // Both are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        if self.paths.routed(request.uri().path()) && !self.transcoded(&request) {
            if let Some(connection) = &self.connection {
                request
                    .extensions_mut()
                    .extend(Extensions::clone(connection));
            }
            Either::Left(self.router.call(request))
        } else {
            Either::Right(self.gateway.call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_router_takes_its_own_paths_only() {
        let mut paths = RouterPaths::new();
        paths.add("/inventory.v1.InventoryService/{*rest}");
        paths.add("/metrics");
        paths.add("/orders/{id}");
        for routed in [
            "/inventory.v1.InventoryService/CheckStock",
            "/inventory.v1.InventoryService/a/b",
            "/metrics",
            "/orders/7",
        ] {
            assert!(paths.routed(routed), "{routed}");
        }
        for gateway in [
            "/v1/items/SKU-1/stock",
            "/inventory.v1.InventoryService",
            "/metrics/x",
            "/orders",
            "/orders/7/lines",
            "/",
        ] {
            assert!(!paths.routed(gateway), "{gateway}");
        }
    }

    #[test]
    fn a_path_the_tree_refuses_leaves_every_request_to_the_router() {
        let mut paths = RouterPaths::new();
        paths.add("/a/{x}");
        // The same route again: axum would have refused it first.
        paths.add("/a/{y}");
        assert!(paths.routed("/anything"));
    }
}
