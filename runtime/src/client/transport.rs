//! What a client's calls travel over: gRPC over HTTP/2 (the default), or gRPC-Web or Connect,
//! over HTTP/2 or HTTP/1.1. HTTP/2 is the runtime's own connection ([`Http2`]) and HTTP/1.1
//! hyper-util's client, for `http://` and `https://` endpoints alike: TLS is a layer under them
//! (`connector.rs`), not another client. A client built over a caller's own channel
//! ([`ClientBuilder::build`](super::ClientBuilder::build)) sends on that channel. tonic's client always makes a gRPC request;
//! for the other protocols it is translated on its way out and the answer on its way back
//! ([`connect`](super::connect), for gRPC-Web and Connect), so the
//! rest of the client is the same over every protocol.

use std::task::{Context as TaskContext, Poll};

use futures_util::future::{Either, MapErr, MapOk, TryFutureExt};
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
    /// HTTP/2 trailers speak.
    GrpcWeb,
    /// The Connect protocol (binary protobuf), over HTTP/1.1 or HTTP/2.
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

    /// tonic's client over this transport.
    pub(super) fn into_grpc(self) -> tonic::client::Grpc<Self> {
        match self.origin.clone() {
            Some(origin) => tonic::client::Grpc::with_origin(self, origin),
            None => tonic::client::Grpc::new(self),
        }
    }
}

/// Sends a request on a wire as it is.
fn send(wire: &Wire, request: http::Request<Body>) -> Answer {
    match wire {
        Wire::Channel(channel) => {
            let mut channel = channel.clone();
            Box::pin(async move {
                futures_util::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
                Ok(channel.call(request).await?)
            })
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

type ChannelFuture = MapOk<
    MapErr<
        <Channel as Service<http::Request<Body>>>::Future,
        fn(tonic::transport::Error) -> BoxError,
    >,
    fn(http::Response<Body>) -> http::Response<Body>,
>;

/// A status in a gRPC answer's headers is the answer only when nothing follows them
/// (trailers-only). With a body after them, the trailers say how the call ended, and a call
/// whose trailers are missing is broken: the headers' status is dropped, as grpc-go drops it.
///
/// The body is watched for a message cut short: see [`WholeMessages`].
fn trailers_only_or_none(mut response: http::Response<Body>) -> http::Response<Body> {
    if response.body().is_end_stream() {
        return response;
    }
    if response.headers().contains_key(&GRPC_STATUS_NAME) {
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            response.headers_mut().remove(name);
        }
    }
    response.map(|body| {
        Body::new(WholeMessages {
            inner: body,
            header: 0,
            length: 0,
            left: 0,
        })
    })
}

/// A gRPC response body that fails with `INTERNAL` when it ends inside a message (a length
/// prefix promising more bytes than came), where tonic's decoder would drop the partial
/// message and report the stream's status as if nothing were missing. It counts bytes only.
struct WholeMessages {
    inner: Body,
    /// How many of the current message's 5 prefix bytes have been seen, and their length part.
    header: usize,
    /// The length read so far from the current prefix.
    length: usize,
    /// Bytes of the current message still to come.
    left: usize,
}

impl WholeMessages {
    fn count(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.header == 0 && self.left > 0 {
                let taken = self.left.min(data.len());
                self.left -= taken;
                data = &data[taken..];
                continue;
            }
            // The prefix: a flag byte, then four bytes of length, big-endian.
            if self.header > 0 {
                self.length = (self.length << 8) | usize::from(data[0]);
            }
            self.header += 1;
            data = &data[1..];
            if self.header == 5 {
                self.header = 0;
                self.left = std::mem::take(&mut self.length);
            }
        }
    }

    /// Whether the body stopped inside a message or its prefix.
    fn cut(&self) -> bool {
        self.header > 0 || self.left > 0
    }
}

impl http_body::Body for WholeMessages {
    type Data = bytes::Bytes;
    type Error = crate::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, crate::Status>>> {
        let frame = std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_frame(cx));
        let cut = || {
            crate::Status::internal(
                "the response ended inside a message: its length prefix promised more",
            )
        };
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.count(data);
                } else if self.cut() {
                    return Poll::Ready(Some(Err(cut())));
                }
                Some(Ok(frame))
            }
            None if self.cut() => Some(Err(cut())),
            other => other,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Either<ChannelFuture, Answer>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        match (&mut self.wire, self.protocol) {
            // gRPC on the channel goes straight through: the channel's own readiness.
            (Wire::Channel(channel), Protocol::Grpc) => channel.poll_ready(cx).map_err(Into::into),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match (&mut self.wire, self.protocol) {
            (Wire::Channel(channel), Protocol::Grpc) => Either::Left(
                channel
                    .call(request)
                    .map_err(Into::into as fn(_) -> BoxError)
                    .map_ok(trailers_only_or_none as fn(_) -> _),
            ),
            _ => Either::Right(self.answer(request)),
        }
    }
}

impl Transport {
    /// Whether a request must wait for the transport to be ready ([`Service::poll_ready`]):
    /// gRPC over a channel. The others are sent with [`Transport::answer`].
    pub(super) fn needs_ready(&self) -> bool {
        matches!(
            (&self.wire, self.protocol),
            (Wire::Channel(_), Protocol::Grpc)
        )
    }

    /// The scheme and authority of requests on the client's own connections.
    pub(super) fn origin(&self) -> Option<&http::Uri> {
        self.origin.as_ref()
    }

    /// Sends a request on a transport that does not [need to be ready](Self::needs_ready).
    pub(super) fn answer(&self, request: http::Request<Body>) -> Answer {
        match (&self.wire, self.protocol) {
            (wire, Protocol::GrpcWeb) => {
                let answer = send(wire, connect::grpc_web_request(request));
                Box::pin(async move { connect::grpc_web_response(answer.await?).await })
            }
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
                // Ready first, as tonic's client makes it.
                let mut channel = channel.clone();
                Box::pin(async move {
                    futures_util::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
                    Ok(trailers_only_or_none(channel.call(request).await?))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(chunks: &[&[u8]]) -> bool {
        let mut body = WholeMessages {
            inner: Body::empty(),
            header: 0,
            length: 0,
            left: 0,
        };
        for chunk in chunks {
            body.count(chunk);
        }
        body.cut()
    }

    #[test]
    fn whole_messages_in_any_chunking_are_not_cut() {
        assert!(!counted(&[&[0, 0, 0, 0, 2, 8, 1]]));
        assert!(!counted(&[&[0, 0, 0], &[0, 2, 8], &[1, 0, 0, 0, 0, 0]]));
        assert!(!counted(&[&[0, 0, 0, 1, 0], &[7; 256]]));
    }

    #[test]
    fn a_message_or_prefix_cut_short_is_cut() {
        assert!(counted(&[&[0, 0, 0, 0, 10, 1, 2]]));
        assert!(counted(&[&[0, 0, 0]]));
        assert!(counted(&[&[0, 0, 0, 0, 2, 8, 1, 0]]));
    }
}
