//! Binary protobuf on the REST routes, beside JSON: a request body sent as
//! `application/protobuf` (or `application/x-protobuf`) is read as the encoded request message,
//! and a unary call whose `Accept` prefers one of those types is answered with the encoded
//! response message. Path variables and the query fill the message as they do for JSON; errors
//! stay `google.rpc.Status` JSON, and streams stay newline-delimited JSON or Server-Sent Events.
//!
//! The encoded body is turned into the message's proto3 JSON and merged from there, so that
//! bindings and query follow one set of rules whatever the body's encoding. Only a body that
//! is the whole request (`body: "*"`) can be binary: for `body: "field"` the body would be the
//! encoding of that field's message, and the route table knows no field numbers.

use axum::body::Body;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

use super::status::status_response;
use crate::Status;

/// The media type of the binary responses the gateway writes.
pub const APPLICATION_PROTOBUF: &str = "application/protobuf";

/// The media types read and written as binary protobuf.
const PROTOBUF_TYPES: [&str; 2] = [APPLICATION_PROTOBUF, "application/x-protobuf"];

/// The media type of a header value, without parameters (its case as sent).
fn essence(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Whether `media_type` is one of [`PROTOBUF_TYPES`], in any case (media types are
/// case-insensitive). Compared in place: this runs for every request body.
fn is_protobuf_type(media_type: &str) -> bool {
    PROTOBUF_TYPES
        .iter()
        .any(|protobuf| protobuf.eq_ignore_ascii_case(media_type))
}

/// Whether the request's body is binary protobuf, by its `Content-Type`.
pub(super) fn is_protobuf_body(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| is_protobuf_type(essence(value)))
}

/// Whether the caller asks for binary protobuf: the first media type of the request's `Accept`
/// values that the gateway writes is a protobuf one (JSON, `*/*` and `application/*` keep
/// JSON).
pub(super) fn accepts_protobuf<'a>(accept: impl IntoIterator<Item = &'a HeaderValue>) -> bool {
    for value in accept {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for range in value.split(',') {
            let range = essence(range);
            if is_protobuf_type(range) {
                return true;
            }
            if ["application/json", "*/*", "application/*"]
                .iter()
                .any(|json| json.eq_ignore_ascii_case(range))
            {
                return false;
            }
        }
    }
    false
}

/// The proto3 JSON of the message `bytes` encode, for the merge with the path and the query.
pub(super) fn json_of_encoded<M>(bytes: &[u8]) -> Result<Vec<u8>, Status>
where
    M: prost::Message + Default + Serialize,
{
    let message = M::decode(bytes).map_err(|error| {
        Status::invalid_argument(format!("body: not a protobuf message: {error}"))
    })?;
    serde_json::to_vec(&message)
        .map_err(|error| Status::internal(format!("failed to read the protobuf body: {error}")))
}

/// 200 with `message` encoded, as `application/protobuf`.
pub(super) fn protobuf_response<M: prost::Message>(message: &M) -> Response<Body> {
    let mut response = Response::new(Body::from(message.encode_to_vec()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_PROTOBUF));
    response
}

/// 415 for a binary body where only JSON can be: the body is one field of the request.
pub(super) fn field_body_is_json_only(field: &str) -> Response<Body> {
    let status = Status::invalid_argument(format!(
        "a protobuf body is read as the whole request message; this route's body is the field \
         `{field}`, so send it as JSON"
    ));
    status_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &status)
}

#[cfg(test)]
mod tests {
    use http::header::{ACCEPT, HeaderMap};

    use super::*;

    fn headers(name: http::header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    fn wants_protobuf(headers: &HeaderMap) -> bool {
        accepts_protobuf(headers.get_all(ACCEPT))
    }

    #[test]
    fn protobuf_bodies_go_by_their_content_type() {
        for protobuf in [
            "application/protobuf",
            "application/x-protobuf",
            "Application/Protobuf; proto=x.Y",
        ] {
            let value = HeaderValue::from_static(protobuf);
            assert!(is_protobuf_body(Some(&value)), "{protobuf}");
        }
        for other in ["application/json", "application/octet-stream", "text/plain"] {
            let value = HeaderValue::from_static(other);
            assert!(!is_protobuf_body(Some(&value)), "{other}");
        }
        assert!(!is_protobuf_body(None));
    }

    #[test]
    fn the_first_known_accepted_type_decides() {
        let wants = |accept: &str| wants_protobuf(&headers(ACCEPT, accept));
        assert!(wants("application/protobuf"));
        assert!(wants("application/x-protobuf, application/json"));
        assert!(wants("text/html, application/protobuf;q=0.9"));
        assert!(!wants("application/json, application/protobuf"));
        assert!(!wants("*/*"));
        // Media types are compared without regard to case.
        assert!(wants("Application/X-Protobuf"));
        assert!(!wants("Application/JSON, application/protobuf"));
        assert!(!wants_protobuf(&HeaderMap::new()));
    }
}
