//! Errors over REST: the HTTP status of each gRPC code and the `google.rpc.Status` JSON body.
//!
//! The status table is grpc-gateway v2's `HTTPStatusFromCode` (`runtime/errors.go`), which is
//! also Connect's (`connectCodeToHTTP` in connect-go) and the mapping google/rpc/code.proto
//! documents; DESIGN.md settles on it. The body is the `google.rpc.Status` message in proto3
//! JSON, like grpc-gateway's default error handler writes it, except that `details` is always
//! present (`[]` when empty) so that clients and the OpenAPI error model need no special case.
//!
//! Details travel in [`Status::details`] as an encoded `google.rpc.Status` (what
//! `tonic_types::StatusExt` writes and what a remote gRPC server sends in
//! `grpc-status-details-bin`). Each `Any` in it is rendered as proto3 JSON: the standard
//! `google.rpc` error details (`error_details.proto`) with their fields, anything else as
//! `{"@type": url, "value": base64}` since without a descriptor its fields cannot be named.

mod details;

use axum::body::Body;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use self::details::details_json;
use super::APPLICATION_JSON;
use super::headers::metadata_headers;
use crate::{Code, Status};

pub use crate::rpc::http_status;

/// The gRPC code the body of one of the gateway's own HTTP-level rejections carries (a request
/// that never reached an rpc: unknown path, wrong method, body too large, bad media type).
///
/// This is not an inverse of [`http_status`] (several codes share a status). 400, 404 and 405
/// follow grpc-gateway's `DefaultRoutingErrorHandler` (405 is `UNIMPLEMENTED` there: the method
/// is not implemented for that path); 413 is `RESOURCE_EXHAUSTED`, the code gRPC uses for a
/// message over the size limit; 415 is `INVALID_ARGUMENT` (the client sent something the server
/// cannot read). The rest are the code whose [`http_status`] is that status, and `UNKNOWN` for
/// a status no code maps to, as gRPC's HTTP-to-gRPC mapping does.
pub fn code_for_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=299 => Code::Ok,
        400 | 415 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 | 501 => Code::Unimplemented,
        408 | 504 => Code::DeadlineExceeded,
        409 => Code::Aborted,
        413 | 429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        500 => Code::Internal,
        503 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// A status as `google.rpc.Status` JSON, fields in proto order (`code`, `message`, `details`,
/// as grpc-gateway writes them); the streams embed it as their `"error"`.
#[derive(Debug, Clone, Copy)]
pub struct StatusJson<'a>(pub &'a Status);

impl Serialize for StatusJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("google.rpc.Status", 3)?;
        object.serialize_field("code", &(self.0.code() as i32))?;
        object.serialize_field("message", self.0.message())?;
        object.serialize_field("details", &details_json(self.0.details()))?;
        object.end()
    }
}

/// The `google.rpc.Status` JSON body of a status:
/// `{"code": <int>, "message": "...", "details": [<Any JSON>...]}`.
pub fn status_body(status: &Status) -> Vec<u8> {
    // Strings, numbers and `Value`s always serialize.
    serde_json::to_vec(&StatusJson(status)).expect("a status serializes")
}

/// The error response for a status: its [`http_status`], `Content-Type: application/json`,
/// the [`status_body`], the status's metadata as `Grpc-Metadata-*` headers, and the status
/// itself in its extensions.
pub fn error_response(status: &Status) -> Response<Body> {
    status_response(http_status(status.code()), status)
}

/// An error response with an HTTP status chosen by the caller rather than derived from the code
/// (grpc-gateway's `HTTPStatusError`): e.g. 405 for a known path with the wrong method, whose
/// body still carries `UNIMPLEMENTED`.
pub fn status_response(http: StatusCode, status: &Status) -> Response<Body> {
    let mut response = Response::new(Body::from(status_body(status)));
    *response.status_mut() = http;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
    metadata_headers(status.metadata(), headers);
    // A refusal for load asks gRPC clients to come back after `grpc-retry-pushback-ms`;
    // HTTP clients read the same in `Retry-After`, in whole seconds (RFC 9110, 10.2.3).
    if let Some(millis) = status
        .metadata()
        .get(crate::rpc::RETRY_PUSHBACK)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
    {
        headers.insert(RETRY_AFTER, HeaderValue::from(millis.div_ceil(1000).max(1)));
    }
    // RFC 9110 requires a challenge on every 401; grpc-gateway puts the status message there,
    // which lets a handler choose the challenge (`Bearer realm="..."`) through the message.
    if status.code() == Code::Unauthenticated
        && let Ok(challenge) = HeaderValue::from_str(status.message())
        && !challenge.is_empty()
    {
        headers.insert(WWW_AUTHENTICATE, challenge);
    }
    // For an error handler, or a layer of one's own, to write the error its own way.
    response.extensions_mut().insert(status.clone());
    response
}

/// One of the gateway's own HTTP-level rejections: the given HTTP status, and a
/// `google.rpc.Status` body with [`code_for_http_status`] and `message`.
pub fn http_error(http: StatusCode, message: impl Into<String>) -> Response<Body> {
    status_response(http, &Status::new(code_for_http_status(http), message))
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn an_error_response_carries_its_status_for_a_handler_or_layer() {
        let status = Status::not_found("no such item");
        let response = error_response(&status);
        let carried = response.extensions().get::<Status>().unwrap();
        assert_eq!(
            (carried.code(), carried.message()),
            (Code::NotFound, "no such item")
        );
    }

    #[test]
    fn every_code_has_grpc_gateways_http_status() {
        let table: [(Code, u16); 17] = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (number, (code, http)) in table.into_iter().enumerate() {
            assert_eq!(code as usize, number, "the table is in code order");
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn the_gateways_own_rejections_carry_a_fitting_code() {
        let cases: &[(u16, Code)] = &[
            (400, Code::InvalidArgument),
            (404, Code::NotFound),
            (405, Code::Unimplemented),
            (413, Code::ResourceExhausted),
            (415, Code::InvalidArgument),
            (429, Code::ResourceExhausted),
            (499, Code::Cancelled),
            (503, Code::Unavailable),
            (504, Code::DeadlineExceeded),
            (418, Code::Unknown),
        ];
        for (http, code) in cases {
            let status = StatusCode::from_u16(*http).unwrap();
            assert_eq!(code_for_http_status(status), *code, "{http}");
        }
    }

    #[test]
    fn a_status_without_details_has_an_empty_details_array() {
        let body = status_body(&Status::not_found("no item \"x\""));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"code":5,"message":"no item \"x\"","details":[]}"#
        );
    }

    #[tokio::test]
    async fn error_responses_carry_status_content_type_metadata_and_challenge() {
        let mut status = Status::unauthenticated(r#"Bearer realm="inventory""#);
        status
            .metadata_mut()
            .insert("x-request-id", "r-9".parse().unwrap());
        let response = error_response(&status);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let headers = response.headers();
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(headers[WWW_AUTHENTICATE], r#"Bearer realm="inventory""#);
        assert_eq!(headers["grpc-metadata-x-request-id"], "r-9");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], 16);

        let unauthenticated = error_response(&Status::unauthenticated("line\nbreak"));
        assert!(!unauthenticated.headers().contains_key(WWW_AUTHENTICATE));
        let other = error_response(&Status::permission_denied("no"));
        assert_eq!(other.status(), StatusCode::FORBIDDEN);
        assert!(!other.headers().contains_key(WWW_AUTHENTICATE));
    }

    #[tokio::test]
    async fn http_errors_keep_the_chosen_status() {
        let response = http_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            json!({"code": 12, "message": "method not allowed", "details": []})
        );
    }
}
