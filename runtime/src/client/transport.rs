//! What a client's calls travel over: gRPC over HTTP/2 (the default), or gRPC-Web or Connect,
//! over HTTP/2 or HTTP/1.1. HTTP/2 is the runtime's own connection ([`Http2`]) and HTTP/1.1
//! hyper-util's client, for `http://` and `https://` endpoints alike: TLS is a layer under them
//! (`connector.rs`), not another client. A client built over a caller's own channel
//! ([`ClientBuilder::build`](super::ClientBuilder::build)) sends on that channel, once it is
//! ready. Every call is written as a gRPC request ([`super::send`]); for the other protocols
//! it is translated on its way out and the answer on its way back ([`connect`](super::connect),
//! for gRPC-Web and Connect), so the rest of the client is the same over every protocol.

use futures_util::future::TryFutureExt;
use http_body::Body as _;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic::body::Body;
use tower_service::Service;

use super::Channel;
use super::connect::{self, Answer, BoxError};
use super::connector::{Dial, Dialer};
use super::http2::Http2;
use crate::rpc::{GRPC_STATUS_NAME, ServiceInfo};

/// The protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC over HTTP/2.
    #[default]
    Grpc,
    /// gRPC-Web (binary), over HTTP/1.1 or HTTP/2: what browsers and proxies that cannot pass
    /// HTTP/2 trailers speak. With the `grpc-web` feature.
    #[cfg(feature = "grpc-web")]
    GrpcWeb,
    /// The Connect protocol (binary protobuf), over HTTP/1.1 or HTTP/2. With the `connect`
    /// feature.
    #[cfg(feature = "connect")]
    Connect,
}

/// The HTTP version gRPC-Web and Connect calls travel over (gRPC needs HTTP/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/1.1: one call at a time on each connection, half-duplex streams only.
    Http1,
    /// HTTP/2: prior knowledge without TLS, ALPN with it.
    #[default]
    Http2,
}

/// The wire under one endpoint.
#[derive(Clone, Debug)]
enum Wire {
    Channel(Channel),
    // Boxed: the client is six times the size of a channel.
    Http1(Box<Client<Dialer, Body>>),
    /// HTTP/2 on h2 directly ([`Http2`]).
    Http2(Http2),
}

/// One endpoint's transport: a [`Wire`] and the protocol spoken over it.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    wire: Wire,
    protocol: Protocol,
    service: &'static ServiceInfo,
    /// The scheme and authority of requests on the client's own connections (tonic's channel
    /// adds its own).
    origin: Option<http::Uri>,
}

impl Transport {
    /// `protocol` over tonic's HTTP/2 `channel`.
    pub(super) fn channel(
        channel: Channel,
        protocol: Protocol,
        service: &'static ServiceInfo,
    ) -> Self {
        Self {
            wire: Wire::Channel(channel),
            protocol,
            service,
            origin: None,
        }
    }

    /// `protocol` (gRPC-Web or Connect) over HTTP/1.1 connections to `origin`, made on demand
    /// as `dial` says.
    pub(super) fn http1(
        origin: http::Uri,
        protocol: Protocol,
        service: &'static ServiceInfo,
        dial: Dial,
    ) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(Dialer(dial));
        Self {
            wire: Wire::Http1(Box::new(client)),
            protocol,
            service,
            origin: Some(origin),
        }
    }

    /// `protocol` over HTTP/2 to `origin`, on one connection made on first use as `dial` says
    /// (see [`Http2`]).
    pub(super) fn http2(
        origin: http::Uri,
        protocol: Protocol,
        service: &'static ServiceInfo,
        dial: Dial,
    ) -> Self {
        Self {
            wire: Wire::Http2(Http2::new(origin.clone(), dial)),
            protocol,
            service,
            origin: Some(origin),
        }
    }
}

/// Sends a request on a wire as it is.
fn send(wire: &Wire, request: http::Request<Body>) -> Answer {
    match wire {
        Wire::Channel(channel) => {
            let channel = channel.clone();
            Box::pin(async move { Ok(ready(channel).await?.call(request).await?) })
        }
        Wire::Http1(client) => {
            // tonic marks its requests HTTP/2.
            let mut request = request;
            *request.version_mut() = http::Version::HTTP_11;
            let sent = client.request(request);
            Box::pin(async move { Ok(sent.await?.map(Body::new)) })
        }
        Wire::Http2(http2) => Box::pin(http2.clone().send(request)),
    }
}

/// A caller's channel once it can take a call (tonic's channel buffers calls behind a worker
/// that must be polled ready first). A channel that cannot is `UNAVAILABLE`: nothing was sent.
async fn ready(mut channel: Channel) -> Result<Channel, BoxError> {
    match futures_util::future::poll_fn(|cx| channel.poll_ready(cx)).await {
        Ok(()) => Ok(channel),
        Err(error) => Err(Box::new(tonic::Status::unavailable(format!(
            "the channel is not ready: {error}"
        )))),
    }
}

/// A status in a gRPC answer's headers is the answer only when nothing follows them
/// (trailers-only). With a body after them, the trailers say how the call ended, and a call
/// whose trailers are missing is broken: the headers' status is dropped, as grpc-go drops it.
fn trailers_only_or_none(mut response: http::Response<Body>) -> http::Response<Body> {
    if response.body().is_end_stream() {
        return response;
    }
    if response.headers().contains_key(&GRPC_STATUS_NAME) {
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            response.headers_mut().remove(name);
        }
    }
    response
}

impl Transport {
    /// The scheme and authority of requests on the client's own connections.
    pub(super) fn origin(&self) -> Option<&http::Uri> {
        self.origin.as_ref()
    }

    /// Sends a gRPC request as the transport's protocol and answers as gRPC.
    pub(super) fn answer(&self, request: http::Request<Body>) -> Answer {
        match (&self.wire, self.protocol) {
            #[cfg(feature = "grpc-web")]
            (wire, Protocol::GrpcWeb) => {
                let answer = send(wire, connect::grpc_web_request(request));
                Box::pin(async move { connect::grpc_web_response(answer.await?).await })
            }
            #[cfg(feature = "connect")]
            (wire, Protocol::Connect) => {
                let wire = wire.clone();
                let unary = connect::is_unary(self.service, request.uri().path());
                Box::pin(async move {
                    let request = connect::request(request, unary).await?;
                    let answer = send(&wire, request).await?;
                    connect::response(answer, unary).await
                })
            }
            // One box for the call, where going through `send` would box it twice; mapped, not
            // awaited in an `async` block, which would hold the call's future twice.
            (Wire::Http2(http2), Protocol::Grpc) => Box::pin(
                http2
                    .clone()
                    .send(request)
                    .map_ok(trailers_only_or_none as fn(_) -> _),
            ),
            (Wire::Http1(_), Protocol::Grpc) => Box::pin(std::future::ready(Err(
                "gRPC needs HTTP/2: choose HttpVersion::Http2 or another protocol".into(),
            ))),
            (Wire::Channel(channel), Protocol::Grpc) => {
                let channel = channel.clone();
                Box::pin(async move {
                    let answer = ready(channel).await?.call(request).await?;
                    Ok(trailers_only_or_none(answer))
                })
            }
        }
    }
}
