//! How a client dials an endpoint over TCP: the connector of its own HTTP/2 connections and of
//! the channels it makes.

use std::task::{Context as TaskContext, Poll};

use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tower_service::Service;

use crate::rpc::BatchedWrites;

/// tonic's TCP connector (Nagle's algorithm off; any scheme, as tonic's channel adds TLS for
/// `https` itself) with each connection's writes batched ([`BatchedWrites`]): the connector of
/// the channels [`ClientBuilder::connect_lazy`](super::ClientBuilder::connect_lazy) makes.
#[derive(Clone, Debug)]
pub(super) struct BatchingConnector(HttpConnector);

impl BatchingConnector {
    pub(super) fn new() -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        Self(http)
    }
}

type Tcp = <HttpConnector as Service<http::Uri>>::Response;

impl Service<http::Uri> for BatchingConnector {
    type Response = TokioIo<BatchedWrites<tokio::net::TcpStream>>;
    type Error = <HttpConnector as Service<http::Uri>>::Error;
    type Future = MapOk<<HttpConnector as Service<http::Uri>>::Future, fn(Tcp) -> Self::Response>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        self.0
            .call(uri)
            .map_ok(|tcp| TokioIo::new(BatchedWrites::new(tcp.into_inner())))
    }
}
