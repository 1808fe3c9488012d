//! A gRPC response turned into a Connect one (see the [module docs](super)).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{Buf, Bytes};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;

use super::Response;
use crate::call::codec::Format;
use crate::call::connect::{self as wire, FLAG_END_STREAM};
use crate::context::ResponseMetadata;
use crate::rpc::{GRPC_ENCODING_NAME, GRPC_STATUS_NAME, http_status};
use crate::{Code, Status};

/// How a Connect call is answered: its kind and message format.
#[derive(Debug, Clone, Copy)]
pub(in crate::server) struct Reply {
    streaming: bool,
    format: Format,
}

impl Reply {
    pub(in crate::server) fn new(streaming: bool, format: Format) -> Self {
        Self { streaming, format }
    }

    fn content_type(self) -> &'static str {
        match (self.streaming, self.format) {
            (false, Format::Json) => "application/json",
            (true, Format::Json) => "application/connect+json",
            (true, _) => "application/connect+proto",
            (false, _) => "application/proto",
        }
    }

    /// The answer to a call that failed with `status` before any message: a unary one as
    /// Connect's JSON error with the code's HTTP status, a streaming one as a stream that ends
    /// at once with it.
    pub(in crate::server) fn error(self, status: &Status) -> Response {
        self.failed(status, HeaderMap::new(), &HeaderMap::new())
    }

    fn failed(self, status: &Status, headers: HeaderMap, trailers: &HeaderMap) -> Response {
        if self.streaming {
            return self.stream_ended(status, headers, trailers);
        }
        let mut response = http::Response::new(tonic::body::Body::new(
            http_body_util::Full::new(Bytes::from(wire::error_body(status)))
                .map_err(|never| match never {}),
        ));
        *response.status_mut() = http_status(status.code());
        *response.headers_mut() = headers;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        add_trailers(response.headers_mut(), trailers);
        response
    }

    /// A stream of no message that ends with `status` and `trailers`.
    fn stream_ended(self, status: &Status, headers: HeaderMap, trailers: &HeaderMap) -> Response {
        let end = end_stream(status, trailers);
        let mut response = http::Response::new(tonic::body::Body::new(
            http_body_util::Full::new(end).map_err(|never| match never {}),
        ));
        *response.headers_mut() = headers;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type()));
        response
    }
}

/// The Connect answer to the gRPC answer `grpc` gives; `cell` tells the trailers the handler
/// set from its headers when both travel in one block (an error before any message).
pub(in crate::server) async fn reply<F>(
    grpc: F,
    reply: Reply,
    cell: ResponseMetadata,
) -> Result<Response, Infallible>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let (parts, body) = grpc.await?.into_parts();
    if parts.headers.contains_key(&GRPC_STATUS_NAME) {
        // Trailers-only: the status, the handler's headers and its trailers in one block.
        let status = Status::from_header_map(&parts.headers)
            .unwrap_or_else(|| Status::internal("the response had no valid grpc-status"));
        let trailer_names: Vec<String> = cell
            .trailers()
            .keys()
            .map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => key.as_str().to_owned(),
                tonic::metadata::KeyRef::Binary(key) => key.as_str().to_owned(),
            })
            .collect();
        let (mut headers, mut trailers) = (HeaderMap::new(), HeaderMap::new());
        for (name, value) in metadata(&parts.headers) {
            let into = if trailer_names.iter().any(|t| t == name.as_str()) {
                &mut trailers
            } else {
                &mut headers
            };
            into.append(name.clone(), value.clone());
        }
        keep_connection(&parts.headers, &mut headers);
        return Ok(reply.failed(&status, headers, &trailers));
    }
    let mut headers: HeaderMap = metadata(&parts.headers)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    keep_connection(&parts.headers, &mut headers);
    let encoding = parts.headers.get(&GRPC_ENCODING_NAME).cloned();
    if reply.streaming {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type()));
        if let Some(encoding) = encoding {
            headers.insert(wire::CONTENT_ENCODING, encoding);
        }
        let mut response = http::Response::new(tonic::body::Body::new(StreamBody {
            inner: body,
            ended: false,
        }));
        *response.headers_mut() = headers;
        return Ok(response);
    }
    let (data, trailers) = match body.collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned().unwrap_or_default();
            (collected.to_bytes(), trailers)
        }
        Err(status) => return Ok(reply.failed(&status, headers, &HeaderMap::new())),
    };
    let status = Status::from_header_map(&trailers)
        .unwrap_or_else(|| Status::internal("the response ended without a grpc-status"));
    let trailers: HeaderMap = metadata(&trailers)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if status.code() != Code::Ok {
        return Ok(reply.failed(&status, headers, &trailers));
    }
    let Some((compressed, message)) = one_message(data) else {
        let status = Status::internal("a unary call answered OK with no single message");
        return Ok(reply.failed(&status, headers, &trailers));
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type()));
    if compressed && let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, encoding);
    }
    add_trailers(&mut headers, &trailers);
    let mut response = http::Response::new(tonic::body::Body::new(
        http_body_util::Full::new(message).map_err(|never| match never {}),
    ));
    *response.status_mut() = StatusCode::OK;
    *response.headers_mut() = headers;
    Ok(response)
}

/// The application's entries of a gRPC header block: not the protocol's own.
fn metadata(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    headers.iter().filter(|(name, _)| {
        !matches!(
            name.as_str(),
            "content-type"
                | "content-length"
                | "connection"
                | "grpc-status"
                | "grpc-message"
                | "grpc-status-details-bin"
                | "grpc-encoding"
                | "grpc-accept-encoding"
        )
    })
}

/// `Connection: close` on a refusal over HTTP/1.1 (see `call::admission`) stays.
fn keep_connection(from: &HeaderMap, to: &mut HeaderMap) {
    if let Some(connection) = from.get(http::header::CONNECTION) {
        to.insert(http::header::CONNECTION, connection.clone());
    }
}

/// A unary response's trailers, as `Trailer-` headers.
fn add_trailers(headers: &mut HeaderMap, trailers: &HeaderMap) {
    for (name, value) in trailers {
        let prefixed = format!("{}{}", wire::TRAILER_PREFIX, name.as_str());
        if let Ok(name) = HeaderName::from_bytes(prefixed.as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

/// The single message of a unary gRPC body: its compressed flag and bytes.
fn one_message(mut data: Bytes) -> Option<(bool, Bytes)> {
    if data.len() < 5 {
        return None;
    }
    let flag = data.get_u8();
    let length = usize::try_from(data.get_u32()).ok()?;
    (data.len() == length).then_some((flag & wire::FLAG_COMPRESSED != 0, data))
}

/// The envelope that ends a Connect stream.
fn end_stream(status: &Status, trailers: &HeaderMap) -> Bytes {
    let mut envelope = wire::envelope(false, &wire::end_stream_body(status, trailers)).to_vec();
    envelope[0] = FLAG_END_STREAM;
    Bytes::from(envelope)
}

/// A gRPC streaming body as a Connect one: the messages as they are, the trailers as the end of
/// the stream.
struct StreamBody {
    inner: tonic::body::Body,
    ended: bool,
}

impl HttpBody for StreamBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let end = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => match frame.into_trailers() {
                Ok(trailers) => {
                    let status = Status::from_header_map(&trailers).unwrap_or_else(|| {
                        Status::internal("the stream ended without a grpc-status")
                    });
                    let metadata: HeaderMap = metadata(&trailers)
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect();
                    end_stream(&status, &metadata)
                }
                Err(frame) => return Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(Some(Err(status))) => end_stream(&status, &HeaderMap::new()),
            Poll::Ready(None) => end_stream(
                &Status::internal("the stream ended without a status"),
                &HeaderMap::new(),
            ),
        };
        self.ended = true;
        Poll::Ready(Some(Ok(Frame::data(end))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}
