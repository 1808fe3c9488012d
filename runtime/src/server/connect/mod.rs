//! The Connect protocol (connectrpc.com/docs/protocol), served by every generated adapter beside
//! gRPC, on the same paths, from the same dispatch.
//!
//! A Connect call is translated to gRPC's framing on the way in and back on the way out, as
//! tonic-web does for gRPC-Web, so that everything a gRPC call goes through (admission, the
//! arrival deadline, the interceptors, the size limits, tonic's decompression) a Connect call
//! goes through too, written once:
//!
//! - unary, `POST` with `application/proto` or `application/json` (or `GET` with the message in
//!   the query, for rpcs marked `NO_SIDE_EFFECTS`): the body becomes one gRPC message,
//!   `Content-Encoding` its compression flag, `Connect-Timeout-Ms` the `grpc-timeout`; the
//!   answer is the message alone with the trailers as `Trailer-` headers, or an error as
//!   Connect's JSON with the code's HTTP status ([`reply`]);
//! - streaming, `application/connect+proto` or `+json`: the envelopes are gRPC's (one flag
//!   byte, four of length), so the body passes as it is; the trailers become the stream's last
//!   envelope, flagged as its end, with the status as JSON.
//!
//! The message format is carried to the dispatch as a [`Format`] extension, which picks the
//! codec (see `call::codec`).

mod reply;

use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue,
};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

use crate::call::codec::Format;
use crate::call::connect as wire;
use crate::deadline::format_grpc_timeout;
use crate::rpc::{GRPC_TIMEOUT, Idempotency, MethodInfo, MethodKind};
use crate::{BoxFuture, Status};

pub(super) use reply::{Reply, reply};

/// The response of a call answered here.
type Response = http::Response<tonic::body::Body>;

/// Whether a request to an rpc's path is a Connect call: any that is not gRPC (gRPC-Web has been
/// translated to gRPC by tonic-web before it gets here).
pub(super) fn is_connect(headers: &HeaderMap, method: &Method) -> bool {
    method == Method::GET
        || !headers
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// A Connect request translated to a gRPC one, with what its answer needs; or the answer to a
/// request that is not a valid Connect call.
pub(super) fn translate<B>(
    request: http::Request<B>,
    rpc: &MethodInfo,
    limit: usize,
) -> Result<(http::Request<axum::body::Body>, Reply), Box<Response>>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let streaming = rpc.kind != MethodKind::Unary;
    let (mut parts, body) = request.into_parts();
    let reject = |status: Status| Box::new(Reply::new(streaming, Format::Json).error(&status));
    if let Some(version) = parts.headers.get(wire::PROTOCOL_VERSION)
        && version != "1"
    {
        return Err(reject(Status::invalid_argument(format!(
            "{} must be \"1\", not {version:?}",
            wire::PROTOCOL_VERSION
        ))));
    }
    let (format, compression, body) = match parts.method {
        Method::POST => {
            let Some(format) = content_format(&parts.headers, streaming) else {
                return Err(Box::new(unsupported_media_type(streaming)));
            };
            if streaming {
                let compression = parts.headers.remove(wire::CONTENT_ENCODING);
                (format, compression, axum::body::Body::new(body))
            } else {
                let compression = parts.headers.remove(CONTENT_ENCODING);
                let flag = compression.is_some();
                (format, compression, unary_body(body, flag, limit))
            }
        }
        Method::GET if !streaming && rpc.idempotency == Idempotency::NoSideEffects => {
            let query = match GetQuery::parse(parts.uri.query().unwrap_or("")) {
                Ok(query) => query,
                Err(status) => return Err(reject(status)),
            };
            let flag = query.compression.is_some();
            let framed = wire::envelope(flag, &query.message);
            parts.method = Method::POST;
            (
                query.format,
                query.compression,
                axum::body::Body::from(framed),
            )
        }
        _ => return Err(Box::new(method_not_allowed(rpc))),
    };
    let headers = &mut parts.headers;
    if let Some(timeout) = headers.remove(wire::TIMEOUT_MS) {
        match wire::parse_timeout(timeout.as_bytes()) {
            Ok(timeout) => {
                let value = HeaderValue::from_str(&format_grpc_timeout(timeout))
                    .expect("a formatted timeout is a header value");
                headers.insert(GRPC_TIMEOUT, value);
            }
            Err(status) => return Err(reject(status)),
        }
    }
    let accept = headers.remove(if streaming {
        HeaderName::from_static(wire::ACCEPT_ENCODING)
    } else {
        ACCEPT_ENCODING
    });
    if let Some(accept) = accept {
        headers.insert("grpc-accept-encoding", accept);
    }
    if let Some(compression) = compression.filter(|value| value != "identity") {
        headers.insert("grpc-encoding", compression);
    }
    headers.remove(wire::PROTOCOL_VERSION);
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    parts.extensions.insert(format);
    parts.extensions.insert(crate::rpc::WireProtocol::Connect);
    Ok((
        http::Request::from_parts(parts, body),
        Reply::new(streaming, format),
    ))
}

/// The format a `POST`'s content type names, if it is one a call of this kind may have.
fn content_format(headers: &HeaderMap, streaming: bool) -> Option<Format> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    match (streaming, media.as_str()) {
        (false, "application/proto") | (true, "application/connect+proto") => Some(Format::Proto),
        (false, "application/json") | (true, "application/connect+json") => Some(Format::Json),
        _ => None,
    }
}

/// 415 with the content types this call may have, as connect-go answers.
fn unsupported_media_type(streaming: bool) -> Response {
    let accepted = if streaming {
        "application/connect+proto, application/connect+json"
    } else {
        "application/proto, application/json"
    };
    let mut response = http::Response::new(tonic::body::Body::empty());
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
        .headers_mut()
        .insert("accept-post", HeaderValue::from_static(accepted));
    response
}

/// 405 with the methods the rpc takes: `GET` only for a unary `NO_SIDE_EFFECTS` rpc.
fn method_not_allowed(rpc: &MethodInfo) -> Response {
    let allowed = if rpc.kind == MethodKind::Unary && rpc.idempotency == Idempotency::NoSideEffects
    {
        "GET, POST"
    } else {
        "POST"
    };
    let mut response = http::Response::new(tonic::body::Body::empty());
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allowed));
    response
}

/// A unary body as one gRPC envelope, read when the call reads it (after admission) and no
/// further than `limit` bytes.
fn unary_body<B>(body: B, compressed: bool, limit: usize) -> axum::body::Body
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let read: BoxFuture<'static, Result<http_body::Frame<Bytes>, Status>> = Box::pin(async move {
        let message = read_limited(body, limit).await?;
        Ok(http_body::Frame::data(wire::envelope(compressed, &message)))
    });
    axum::body::Body::new(http_body_util::StreamBody::new(futures_util::stream::once(
        read,
    )))
}

/// The whole of `body`, refused with `RESOURCE_EXHAUSTED` past `limit` bytes (in tonic's
/// words, so that the status is the one a gRPC call over the limit gets).
async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Status>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let mut body = std::pin::pin!(body);
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| Status::from_error(error.into()))?;
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > limit {
                return Err(Status::resource_exhausted(format!(
                    "message length too large: found more than {limit} bytes, the limit is: \
                     {limit} bytes"
                )));
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(read.freeze())
}

/// The query of a unary `GET`: `message`, `encoding`, `base64`, `compression`, `connect`.
struct GetQuery {
    message: Vec<u8>,
    format: Format,
    compression: Option<HeaderValue>,
}

impl GetQuery {
    fn parse(query: &str) -> Result<Self, Status> {
        let mut message = None;
        let mut format = None;
        let mut base64 = false;
        let mut compression = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "message" => message = Some(value.into_owned()),
                "encoding" => {
                    format = Some(match &*value {
                        "proto" => Format::Proto,
                        "json" => Format::Json,
                        other => {
                            return Err(Status::invalid_argument(format!(
                                "unsupported encoding {other:?}: proto or json"
                            )));
                        }
                    });
                }
                "base64" => base64 = &*value == "1",
                "compression" if &*value != "identity" => {
                    compression = Some(HeaderValue::from_str(&value).map_err(|_| {
                        Status::invalid_argument(format!("unsupported compression {value:?}"))
                    })?);
                }
                "connect" if &*value != "v1" => {
                    return Err(Status::invalid_argument(format!(
                        "connect must be \"v1\", not {value:?}"
                    )));
                }
                _ => {}
            }
        }
        let format = format.ok_or_else(|| {
            Status::invalid_argument("a Connect GET needs encoding=proto or encoding=json")
        })?;
        let message = message.unwrap_or_default();
        let message = if base64 {
            wire::decode_base64(&message)
                .ok_or_else(|| Status::invalid_argument("the message is not valid base64"))?
        } else {
            message.into_bytes()
        };
        Ok(Self {
            message,
            format,
            compression,
        })
    }
}

#[cfg(test)]
mod tests;
