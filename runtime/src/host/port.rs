//! What a port serves, request by request: the paths of the rpc services and of the binary's
//! own routes go to axum's `Router` (tonic's routes, `/metrics`, [`super::Host::route`]), every
//! other path straight to the REST gateway.
//!
//! The gateway used to be the `Router`'s fallback, under a second, outer `Router` that only
//! had the layers around the whole port as its fallback. axum answers a fallback through a
//! catch-all route: a tree lookup, the path copied into a URL parameter, an extensions map, a
//! boxed clone of the service, twice per REST request, about 3,500 instructions each
//! (bench/RESULTS.md, "REST straight to the gateway on a Host port"). Here one lookup in a
//! tree of the same paths, with the `matchit` version axum matches with, decides instead; what
//! each path reaches, and in which order, is what the `Router` chose.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use futures_util::future::Either;
use http::Request;
use tower_service::Service;

use crate::gateway::{Gateway, GatewayFuture};

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
    router: axum::Router,
    gateway: Gateway,
    paths: Arc<RouterPaths>,
}

impl Port {
    /// `router` must have `gateway` as its fallback, and a route for each of `paths`.
    pub(super) fn new(router: axum::Router, gateway: Gateway, paths: RouterPaths) -> Self {
        Self {
            router,
            gateway,
            paths: Arc::new(paths),
        }
    }
}

impl Service<Request<Body>> for Port {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<RouteFuture<Infallible>, GatewayFuture>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        // Both are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if self.paths.routed(request.uri().path()) {
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
