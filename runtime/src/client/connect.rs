//! The Connect protocol and gRPC-Web on the client side: the gRPC requests the client writes
//! ([`super::send`]), translated on the way out and the answers back to gRPC on the way in.
//! Everything above (deadlines, retries, hedging, breakers, the pushback pause) is the same
//! for every protocol because it sees gRPC either way.
//!
//! - Unary: the one enveloped message becomes the body (its compression `Content-Encoding`),
//!   `grpc-timeout` becomes `Connect-Timeout-Ms`; the answer's message is enveloped again and
//!   its `Trailer-` headers become trailers, or its JSON error the status of a trailers-only
//!   answer.
//! - Streaming: the envelopes are the same; the stream's end (flagged `0b10`) becomes the
//!   trailers.
//! - gRPC-Web: the envelopes and headers are gRPC's; the trailers come as the body's last
//!   envelope (flagged `0x80`), a block of `name: value` lines.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, HeaderName};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use tonic::body::Body;

use crate::call::connect::{self as wire, FLAG_COMPRESSED, FLAG_END_STREAM};
use crate::deadline::parse_grpc_timeout;
use crate::rpc::{GRPC_ENCODING_NAME, GRPC_STATUS_NAME, GRPC_TIMEOUT, MethodKind, ServiceInfo};
use crate::{BoxFuture, Code, Status};

/// The error type of a transport.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future of a transport's answer.
pub(super) type Answer = BoxFuture<'static, Result<http::Response<Body>, BoxError>>;

/// Whether the rpc at `path` of `service` takes and gives one message.
pub(super) fn is_unary(service: &ServiceInfo, path: &str) -> bool {
    service
        .methods
        .iter()
        .find(|method| method.path == path)
        .is_some_and(|method| method.kind == MethodKind::Unary)
}

/// A gRPC request as Connect: its headers renamed, and for a unary one its message unwrapped.
pub(super) async fn request(
    request: http::Request<Body>,
    unary: bool,
) -> Result<http::Request<Body>, Status> {
    let (mut parts, body) = request.into_parts();
    let headers = &mut parts.headers;
    headers.remove(http::header::TE);
    if let Some(timeout) = headers.remove(GRPC_TIMEOUT) {
        let millis = parse_grpc_timeout(timeout.as_bytes())
            .map(|timeout| timeout.as_millis().clamp(1, 9_999_999_999))
            .map_err(|invalid| Status::internal(invalid.to_string()))?;
        headers.insert(wire::TIMEOUT_MS, HeaderValue::from(millis as u64));
    }
    headers.insert(wire::PROTOCOL_VERSION, HeaderValue::from_static("1"));
    let encoding = headers.remove("grpc-encoding");
    let accept = headers.remove("grpc-accept-encoding");
    if !unary {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/connect+proto"),
        );
        if let Some(encoding) = encoding {
            headers.insert(wire::CONTENT_ENCODING, encoding);
        }
        if let Some(accept) = accept {
            headers.insert(wire::ACCEPT_ENCODING, accept);
        }
        return Ok(http::Request::from_parts(parts, body));
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/proto"));
    if let Some(accept) = accept {
        headers.insert(ACCEPT_ENCODING, accept);
    }
    let mut framed = body.collect().await?.to_bytes();
    if framed.len() < 5 {
        return Err(Status::internal("a unary request without its message"));
    }
    let flags = framed.get_u8();
    let _length = framed.get_u32();
    if flags & FLAG_COMPRESSED != 0
        && let Some(encoding) = encoding
    {
        headers.insert(CONTENT_ENCODING, encoding);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(framed.len()));
    Ok(http::Request::from_parts(
        parts,
        Body::new(http_body_util::Full::new(framed).map_err(|never| match never {})),
    ))
}

/// A Connect answer as the gRPC one the client reads.
pub(super) async fn response<B>(
    response: http::Response<B>,
    unary: bool,
) -> Result<http::Response<Body>, BoxError>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = response.into_parts();
    let http_status = parts.status;
    parts.headers.remove(CONTENT_LENGTH);
    if !http_status.is_success() {
        let body = body.collect().await.map_err(Into::into)?.to_bytes();
        let body = match parts.headers.get(CONTENT_ENCODING) {
            Some(encoding) if encoding != "identity" => {
                decompress(encoding.as_bytes(), &body).unwrap_or_default()
            }
            _ => body.to_vec(),
        };
        let (headers, trailers) = split_trailers(std::mem::take(&mut parts.headers));
        let mut metadata = headers;
        metadata.extend(trailers);
        metadata.remove(CONTENT_TYPE);
        let status = wire::status_from_error_body(http_status, &body, metadata);
        return Ok(status.into_http());
    }
    // A success in another content type than the one asked for is no answer of this rpc.
    let expected = if unary {
        "application/proto"
    } else {
        "application/connect+proto"
    };
    let content_type = parts.headers.get(CONTENT_TYPE);
    let media = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if media != Some(expected) {
        // Connect in another codec is a broken answer (INTERNAL); no Connect answer at all (a
        // proxy's page) is UNKNOWN, as connect-go tells them.
        let connect = media.is_some_and(|media| {
            let codec = if unary {
                media.strip_prefix("application/")
            } else {
                media.strip_prefix("application/connect+")
            };
            codec.is_some_and(|codec| matches!(codec, "proto" | "json"))
        });
        let message =
            format!("the Connect answer's content type is {content_type:?}, not {expected}");
        let code = if connect {
            Code::Internal
        } else {
            Code::Unknown
        };
        return Ok(Status::new(code, message).into_http());
    }
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    if unary {
        let encoding = parts.headers.remove(CONTENT_ENCODING);
        let message = body.collect().await.map_err(Into::into)?.to_bytes();
        let (mut headers, mut trailers) = split_trailers(std::mem::take(&mut parts.headers));
        if let Some(encoding) = &encoding {
            headers.insert("grpc-encoding", encoding.clone());
        }
        parts.headers = headers;
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let framed = wire::envelope(encoding.is_some(), &message);
        let frames = vec![
            Ok::<_, Status>(Frame::data(framed)),
            Ok(Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        return Ok(http::Response::from_parts(parts, Body::new(body)));
    }
    let encoding = parts.headers.remove(wire::CONTENT_ENCODING);
    if let Some(encoding) = &encoding {
        parts.headers.insert("grpc-encoding", encoding.clone());
    }
    let body = StreamBody {
        inner: Body::new(body.map_err(|error| Status::from_error(error.into()))),
        buffer: BytesMut::new(),
        done: false,
        encoding,
        end: End::Connect,
        header_status: None,
    };
    Ok(http::Response::from_parts(parts, Body::new(body)))
}

/// A gRPC request as gRPC-Web: the same envelopes and headers, its own content type.
pub(super) fn grpc_web_request(request: http::Request<Body>) -> http::Request<Body> {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(http::header::TE);
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc-web+proto"),
    );
    parts
        .headers
        .insert("x-grpc-web", HeaderValue::from_static("1"));
    http::Request::from_parts(parts, body)
}

/// A gRPC-Web answer as the gRPC one the client reads: the trailers, which gRPC-Web sends
/// as the body's last envelope (compressed or not, one line per value), as trailers.
///
/// Written here rather than with tonic-web's client service, which refuses a compressed
/// trailer envelope and keeps one value of a trailer sent with several (the conformance
/// suite's client cases).
pub(super) async fn grpc_web_response<B>(
    response: http::Response<B>,
) -> Result<http::Response<Body>, BoxError>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    if !parts.status.is_success() {
        let code = crate::rpc::code_from_http_status(parts.status);
        let status = Status::new(code, format!("HTTP status {}", parts.status));
        return Ok(status.into_http());
    }
    let grpc_web = parts.headers.get(CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes().starts_with(b"application/grpc-web")
            && !value.as_bytes().starts_with(b"application/grpc-web-text")
    });
    if !grpc_web {
        // Not gRPC-Web at all (a proxy's page): UNKNOWN, as gRPC's clients say.
        let status = Status::unknown(format!(
            "the gRPC-Web answer's content type is {:?}",
            parts.headers.get(CONTENT_TYPE)
        ));
        return Ok(status.into_http());
    }
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    // A status in the headers is the answer only if the body brings none of its own
    // (trailers-only); a trailer envelope in the body wins over it.
    let mut header_status = HeaderMap::new();
    if parts.headers.contains_key(&GRPC_STATUS_NAME) {
        // A trailers-only answer's metadata are its trailers too, as in gRPC.
        for (name, value) in &parts.headers {
            if name != CONTENT_TYPE && name != "grpc-encoding" {
                header_status.append(name.clone(), value.clone());
            }
        }
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            parts.headers.remove(name);
        }
    }
    let encoding = parts.headers.get(&GRPC_ENCODING_NAME).cloned();
    let body = StreamBody {
        inner: Body::new(body.map_err(|error| Status::from_error(error.into()))),
        buffer: BytesMut::new(),
        done: false,
        encoding,
        end: End::GrpcWeb,
        header_status: Some(header_status).filter(|status| !status.is_empty()),
    };
    Ok(http::Response::from_parts(parts, Body::new(body)))
}

/// gRPC-Web's trailer block (`name: value` lines) as trailers, every value kept.
fn trailer_block(block: &[u8]) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    for line in block.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon])
            .trim()
            .to_ascii_lowercase();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            trailers.append(name, value);
        }
    }
    trailers
}

/// A unary answer's headers, and its `Trailer-` ones as trailers.
fn split_trailers(all: HeaderMap) -> (HeaderMap, HeaderMap) {
    let (mut headers, mut trailers) = (HeaderMap::new(), HeaderMap::new());
    let mut last = None;
    for (name, value) in all {
        let name = match name {
            Some(name) => {
                last = Some(name.clone());
                name
            }
            None => last.clone().expect("a value follows its name"),
        };
        match name.as_str().strip_prefix(wire::TRAILER_PREFIX) {
            Some(trailer) => {
                if let Ok(trailer) = HeaderName::from_bytes(trailer.as_bytes()) {
                    trailers.append(trailer, value);
                }
            }
            None => {
                headers.append(name, value);
            }
        }
    }
    (headers, trailers)
}

/// A Connect stream's body as gRPC's: the envelopes as they are, the end of the stream as the
/// trailers.
struct StreamBody {
    inner: Body,
    buffer: BytesMut,
    done: bool,
    /// The stream's compression, which its end may be in too.
    encoding: Option<HeaderValue>,
    /// How the stream ends: Connect's JSON or gRPC-Web's trailer block.
    end: End,
    /// A status the headers carried: the trailers if the body ends without its own.
    header_status: Option<HeaderMap>,
}

/// The last envelope of a stream, by protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Flagged `0b10`: the status and trailers as JSON.
    Connect,
    /// Flagged `0x80`: the trailers as an HTTP/1 header block.
    GrpcWeb,
}

impl End {
    fn flag(self) -> u8 {
        match self {
            End::Connect => FLAG_END_STREAM,
            End::GrpcWeb => 0x80,
        }
    }
}

impl StreamBody {
    /// The next whole envelope in the buffer, as a frame.
    fn next_frame(&mut self) -> Option<Frame<Bytes>> {
        if self.buffer.len() < 5 {
            return None;
        }
        let length = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if self.buffer.len() < 5 + length {
            return None;
        }
        let envelope = self.buffer.split_to(5 + length).freeze();
        if envelope[0] & self.end.flag() == 0 {
            return Some(Frame::data(envelope));
        }
        self.done = true;
        let compressed = envelope[0] & FLAG_COMPRESSED != 0;
        let end = match (&self.encoding, compressed) {
            (Some(encoding), true) => decompress(encoding.as_bytes(), &envelope[5..]),
            (None, true) => Err(Status::internal(
                "the end of the Connect stream is compressed, but the stream names no encoding",
            )),
            (_, false) => Ok(envelope[5..].to_vec()),
        };
        let trailers = match self.end {
            End::Connect => match end.and_then(|end| wire::parse_end_stream(&end)) {
                Ok((status, trailers)) => grpc_trailers(&status, trailers),
                Err(status) => grpc_trailers(&status, HeaderMap::new()),
            },
            End::GrpcWeb => match end {
                Ok(block) => trailer_block(&block),
                Err(status) => grpc_trailers(&status, HeaderMap::new()),
            },
        };
        Some(Frame::trailers(trailers))
    }
}

/// `data` decompressed from `encoding` (gzip only: what tonic itself accepts on this path), with
/// the server's reader (call/compression.rs).
fn decompress(encoding: &[u8], data: &[u8]) -> Result<Vec<u8>, Status> {
    #[cfg(feature = "gzip")]
    if encoding == b"gzip" {
        use crate::call::compression::{Undecompressed, decompress};
        return match decompress(crate::CompressionEncoding::Gzip, data, usize::MAX) {
            Ok(out) => Ok(out.into()),
            Err(Undecompressed::OverLimit(status)) => Err(status),
            Err(Undecompressed::Invalid(error)) => Err(Status::internal(format!(
                "a gzip body that does not decompress: {error}"
            ))),
        };
    }
    Err(Status::internal(format!(
        "a Connect answer compressed with {:?}, which this client does not read",
        String::from_utf8_lossy(encoding)
    )))
}

/// A status and trailers as gRPC's trailers.
fn grpc_trailers(status: &Status, mut trailers: HeaderMap) -> HeaderMap {
    let _ = status.add_header(&mut trailers);
    trailers
}

impl HttpBody for StreamBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            if let Some(frame) = self.next_frame() {
                return Poll::Ready(Some(Ok(frame)));
            }
            match std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(status)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(status)));
                }
                None => {
                    self.done = true;
                    if let Some(trailers) = self.header_status.take() {
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    let status = Status::internal("the stream ended without its status");
                    return Poll::Ready(Some(Ok(Frame::trailers(grpc_trailers(
                        &status,
                        HeaderMap::new(),
                    )))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timeout_goes_out_in_milliseconds() {
        let request = http::Request::builder()
            .header(GRPC_TIMEOUT, "1500u")
            .body(Body::empty())
            .unwrap();
        // A stream: the body is passed on as it is.
        let request = super::request(request, false).await.unwrap();
        let timeout = &request.headers()[wire::TIMEOUT_MS];
        // 1.5 ms rounds to 1: a deadline is never sent as zero.
        assert_eq!(timeout, "1");
        assert!(request.headers().get(GRPC_TIMEOUT).is_none());
    }

    #[test]
    fn a_grpc_web_trailer_block_keeps_every_value() {
        let trailers =
            trailer_block(b"grpc-status: 0\r\nX-Many: a\r\nx-many: b\r\ngrpc-message:\r\n");
        assert_eq!(trailers["grpc-status"], "0");
        let many: Vec<_> = trailers.get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
        assert_eq!(trailers["grpc-message"], "");
    }

    #[tokio::test]
    async fn a_compressed_grpc_web_trailer_envelope_is_read() {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(b"grpc-status: 5\r\ngrpc-message: gone\r\n")
            .unwrap();
        let block = gzip.finish().unwrap();
        let mut body = wire::envelope(false, b"\x08\x01").to_vec();
        let mut end = wire::envelope(true, &block).to_vec();
        end[0] = 0x81;
        body.extend_from_slice(&end);
        let response = http::Response::builder()
            .header(CONTENT_TYPE, "application/grpc-web+proto")
            .header("grpc-encoding", "gzip")
            .body(http_body_util::Full::new(Bytes::from(body)))
            .unwrap();
        let response = grpc_web_response(response).await.unwrap();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers["grpc-status"], "5");
        assert_eq!(&collected.to_bytes()[..], [0, 0, 0, 0, 2, 8, 1]);
    }
}
