//! `google.api.HttpBody` on the REST routes, as grpc-gateway passes it: raw bytes both ways.
//!
//! - As the request (the whole request with `body: "*"`, or the `body` field): the HTTP body,
//!   whatever its type, becomes `data`, and its `Content-Type` becomes `content_type`; path
//!   variables and the query fill the rest of the request as usual.
//! - As the response (or its `response_body` field): `data` is the HTTP body and
//!   `content_type` its `Content-Type` (`application/octet-stream` when empty), no JSON.
//! - As a client stream (`stream google.api.HttpBody` with `body: "*"`): the raw body in the
//!   chunks it arrives in, one message each with the request's `Content-Type`, so that an
//!   upload of any size passes in the memory of a chunk (no body limit applies to it).
//! - As a server stream: one chunked body of every message's `data`, with the first message's
//!   content type. An error before the first message is the usual JSON status; after it, the
//!   body ends abruptly (the chunked encoding is not finished), which tells a client the
//!   download is incomplete.
//!
//! The message passes through its proto3 JSON form (`data` in base64), so that the request
//! merges with bindings and query by the one set of rules, and any `HttpBody` type a generator
//! wrote (prost's, or an extern path's) serves.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::response::{ResponseBody, to_json};
use super::status::error_response;
use crate::{BoxStream, Status};

/// The content type of a response whose `HttpBody` names none.
const OCTET_STREAM: &str = "application/octet-stream";

/// The proto3 JSON of an `HttpBody` holding `body` as sent, with its `Content-Type`.
pub(super) fn request_json(content_type: Option<&HeaderValue>, body: &[u8]) -> Vec<u8> {
    json_of(content_type_of(content_type), body)
}

/// The request's `Content-Type` as text, or nothing.
fn content_type_of(content_type: Option<&HeaderValue>) -> &str {
    content_type
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// The proto3 JSON of an `HttpBody` of `content_type` holding `data`.
fn json_of(content_type: &str, data: &[u8]) -> Vec<u8> {
    let message = json!({"contentType": content_type, "data": STANDARD.encode(data)});
    message.to_string().into_bytes()
}

/// A client stream of `HttpBody` messages from the raw request body: one message per chunk
/// the body arrives in, each with the request's `Content-Type`, so that an upload of any size
/// goes through in the memory of a chunk. `decode` reads each message's JSON.
pub(super) fn request_stream<T, F>(
    content_type: Option<&HeaderValue>,
    body: Body,
    decode: F,
) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(&[u8]) -> Result<T, Status> + Send + 'static,
{
    let content_type = content_type_of(content_type).to_owned();
    Box::pin(body.into_data_stream().filter_map(move |chunk| {
        let item = match chunk {
            Ok(chunk) if chunk.is_empty() => None,
            Ok(chunk) => Some(decode(&json_of(&content_type, &chunk))),
            Err(error) => Some(Err(Status::invalid_argument(format!(
                "could not read the request body: {error}"
            )))),
        };
        std::future::ready(item)
    }))
}

/// The content type and the bytes of the `HttpBody` that `message` is (or its `response_body`
/// field holds).
fn raw_of<T: Serialize>(
    message: &T,
    response_body: Option<ResponseBody>,
) -> Result<(String, Bytes), Status> {
    let json = to_json(message, response_body)?;
    let value: Value = serde_json::from_slice(&json)
        .map_err(|error| Status::internal(format!("failed to read the HttpBody: {error}")))?;
    let content_type = value["contentType"].as_str().unwrap_or_default();
    let data = value["data"].as_str().unwrap_or_default();
    let data = STANDARD
        .decode(data)
        .map_err(|error| Status::internal(format!("the HttpBody's data is not base64: {error}")))?;
    let content_type = if content_type.is_empty() {
        OCTET_STREAM
    } else {
        content_type
    };
    Ok((content_type.to_owned(), Bytes::from(data)))
}

fn content_type_value(content_type: &str) -> HeaderValue {
    HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(OCTET_STREAM))
}

/// 200 with the `HttpBody` that `message` is, as it is.
pub(super) fn response<T: Serialize>(
    message: &T,
    response_body: Option<ResponseBody>,
) -> Response<Body> {
    match raw_of(message, response_body) {
        Ok((content_type, data)) => {
            let mut response = Response::new(Body::from(data));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, content_type_value(&content_type));
            response
        }
        Err(status) => error_response(&status),
    }
}

/// A stream of `HttpBody` messages as one chunked download (see the module docs).
pub(super) async fn stream_response<T: Serialize + Send + 'static>(
    stream: BoxStream<T>,
    deadline: Option<Instant>,
    response_body: Option<ResponseBody>,
) -> Response<Body> {
    let mut stream = crate::deadline::cut_stream(deadline, stream);
    let first = match stream.next().await {
        None => (OCTET_STREAM.to_owned(), Bytes::new()),
        Some(item) => match item.and_then(|message| raw_of(&message, response_body)) {
            Ok(first) => first,
            Err(status) => return error_response(&status),
        },
    };
    let (content_type, first_data) = first;
    let rest = stream.map(move |item| {
        item.and_then(|message| raw_of(&message, response_body))
            .map(|(_, data)| data)
            // An error after the first bytes can only end the body, unfinished.
            .map_err(|status| std::io::Error::other(status.message().to_owned()))
    });
    let chunks = stream::once(async move { Ok(first_data) }).chain(rest);
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, content_type_value(&content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct HttpBody {
        content_type: String,
        data: String,
    }

    #[test]
    fn a_request_body_becomes_data_and_its_type_content_type() {
        let png = HeaderValue::from_static("image/png");
        let json: Value = serde_json::from_slice(&request_json(Some(&png), &[0, 159, 1])).unwrap();
        assert_eq!(json, json!({"contentType": "image/png", "data": "AJ8B"}));
        let json: Value = serde_json::from_slice(&request_json(None, b"")).unwrap();
        assert_eq!(json, json!({"contentType": "", "data": ""}));
    }

    #[test]
    fn a_response_is_its_data_with_its_content_type() {
        let body = HttpBody {
            content_type: "text/csv".to_owned(),
            data: STANDARD.encode("a,b\n"),
        };
        let (content_type, data) = raw_of(&body, None).unwrap();
        assert_eq!(
            (content_type.as_str(), &data[..]),
            ("text/csv", &b"a,b\n"[..])
        );
        let untyped = HttpBody {
            content_type: String::new(),
            data: String::new(),
        };
        assert_eq!(raw_of(&untyped, None).unwrap().0, OCTET_STREAM);
    }
}
