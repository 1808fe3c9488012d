//! The Connect protocol's wire pieces that a server and a client both need
//! (connectrpc.com/docs/protocol): its header names, its timeout, its JSON error and the JSON of
//! a stream's end.
//!
//! A Connect error is `{"code": "not_found", "message": "…", "details": [{"type": "…",
//! "value": "<base64>"}]}`. Its details are the `Any`s of the `google.rpc.Status` that a
//! [`Status`] carries encoded in its [`details`](Status::details) (what `tonic_types` writes and
//! what `grpc-status-details-bin` holds), so a status keeps its details across gRPC, gRPC-Web
//! and Connect alike.

use std::time::Duration;

use base64::Engine as _;
use http::HeaderMap;
use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::rpc::{code_from_connect_name, connect_code_name};
use crate::{Code, Status};

/// The header naming the protocol version; `1` is the only one.
pub const PROTOCOL_VERSION: &str = "connect-protocol-version";

/// The header carrying a call's timeout in milliseconds.
pub const TIMEOUT_MS: &str = "connect-timeout-ms";

/// How a streaming call's messages are compressed.
pub const CONTENT_ENCODING: &str = "connect-content-encoding";

/// The compressions a streaming caller accepts.
pub const ACCEPT_ENCODING: &str = "connect-accept-encoding";

/// The prefix that carries a unary response's trailers as headers.
pub const TRAILER_PREFIX: &str = "trailer-";

/// The envelope flag of a compressed message, as in gRPC.
pub const FLAG_COMPRESSED: u8 = 0b01;

/// The envelope flag of a stream's last message: its end, as JSON, not a message.
pub const FLAG_END_STREAM: u8 = 0b10;

/// `message` in one envelope (gRPC's framing, which Connect's streams share).
pub fn envelope(compressed: bool, message: &[u8]) -> bytes::Bytes {
    use bytes::BufMut as _;
    let mut framed = bytes::BytesMut::with_capacity(5 + message.len());
    framed.put_u8(if compressed { FLAG_COMPRESSED } else { 0 });
    framed.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    framed.extend_from_slice(message);
    framed.freeze()
}

/// A timeout as `connect-timeout-ms` carries it: at most ten digits, nothing else.
pub fn parse_timeout(value: &[u8]) -> Result<Duration, Status> {
    let valid = !value.is_empty() && value.len() <= 10 && value.iter().all(u8::is_ascii_digit);
    let millis = valid
        .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "malformed {TIMEOUT_MS} {:?}: at most 10 digits of milliseconds",
                String::from_utf8_lossy(value)
            ))
        })?;
    Ok(Duration::from_millis(millis))
}

/// A Connect error as JSON. Read leniently, as connect-go reads it: any field may be missing or
/// `null` (a code that is neither is then the HTTP status's, or `UNKNOWN` in a stream's end).
#[derive(Debug, Serialize, Deserialize)]
struct ErrorJson {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    details: Option<Vec<DetailJson>>,
}

/// One detail of a Connect error: an `Any`, its type name without the `type.googleapis.com/`
/// prefix and its bytes in base64.
#[derive(Debug, Serialize, Deserialize)]
struct DetailJson {
    #[serde(rename = "type", default)]
    type_name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// The end of a Connect stream as JSON: its error, if it failed, and its trailers.
#[derive(Debug, Default, Serialize, Deserialize)]
struct EndStreamJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ErrorJson {
    fn of(status: &Status) -> Self {
        let details = if status.details().is_empty() {
            Vec::new()
        } else {
            tonic_types::pb::Status::decode(status.details())
                .map(|rpc| rpc.details)
                .unwrap_or_default()
                .into_iter()
                .map(|any| DetailJson {
                    type_name: Some(
                        any.type_url
                            .rsplit_once('/')
                            .map_or(any.type_url.as_str(), |(_, name)| name)
                            .to_owned(),
                    ),
                    value: Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(any.value)),
                })
                .collect()
        };
        Self {
            code: Some(connect_code_name(status.code()).to_owned()),
            message: Some(status.message().to_owned()).filter(|message| !message.is_empty()),
            details: Some(details).filter(|details| !details.is_empty()),
        }
    }

    /// The status this error describes, `fallback` if it names no code.
    fn into_status(self, fallback: Code, metadata: HeaderMap) -> Status {
        let code = self
            .code
            .as_deref()
            .and_then(code_from_connect_name)
            .unwrap_or(fallback);
        let message = self.message.unwrap_or_default();
        let details: Vec<prost_types::Any> = self
            .details
            .into_iter()
            .flatten()
            .filter_map(|detail| {
                Some(prost_types::Any {
                    type_url: format!("type.googleapis.com/{}", detail.type_name?),
                    value: decode_base64(&detail.value.unwrap_or_default())?,
                })
            })
            .collect();
        let metadata = tonic::metadata::MetadataMap::from_headers(metadata);
        if details.is_empty() {
            return Status::with_metadata(code, message, metadata);
        }
        let encoded = tonic_types::pb::Status {
            code: code as i32,
            message: message.clone(),
            details,
        }
        .encode_to_vec();
        Status::with_details_and_metadata(code, message, encoded.into(), metadata)
    }
}

/// Base64 as Connect peers write it: standard or URL-safe alphabet, padded or not.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}

/// The JSON body of a unary error response.
pub fn error_body(status: &Status) -> Vec<u8> {
    serde_json::to_vec(&ErrorJson::of(status)).expect("an error serializes")
}

/// The status a unary error response describes: its JSON body, or, when the body is not a
/// Connect error (a proxy's page), the code of its HTTP status.
pub fn status_from_error_body(http: http::StatusCode, body: &[u8], headers: HeaderMap) -> Status {
    let fallback = crate::rpc::code_from_http_status(http);
    match serde_json::from_slice::<ErrorJson>(body) {
        Ok(error) => error.into_status(fallback, headers),
        Err(_) => Status::with_metadata(
            fallback,
            format!("HTTP status {http}"),
            tonic::metadata::MetadataMap::from_headers(headers),
        ),
    }
}

/// The JSON of a stream's end: `status`'s error unless it is OK, and `trailers` as metadata
/// (`{"key": ["value", …]}`).
pub fn end_stream_body(status: &Status, trailers: &HeaderMap) -> Vec<u8> {
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers {
        let Ok(value) = value.to_str() else { continue };
        let values = metadata
            .entry(name.as_str())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(values) = values {
            values.push(value.into());
        }
    }
    let end = EndStreamJson {
        error: (status.code() != Code::Ok).then(|| ErrorJson::of(status)),
        metadata: Some(metadata).filter(|metadata| !metadata.is_empty()),
    };
    serde_json::to_vec(&end).expect("the end of a stream serializes")
}

/// The status and trailers of a stream's end: OK when it has no error.
pub fn parse_end_stream(body: &[u8]) -> Result<(Status, HeaderMap), Status> {
    let end: EndStreamJson = serde_json::from_slice(body).map_err(|error| {
        Status::internal(format!(
            "the end of the Connect stream is not valid JSON: {error}"
        ))
    })?;
    let mut trailers = HeaderMap::new();
    for (name, values) in end.metadata.unwrap_or_default() {
        let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        for value in values.as_array().into_iter().flatten() {
            if let Some(value) = value.as_str().and_then(|v| v.parse().ok()) {
                trailers.append(name.clone(), value);
            }
        }
    }
    let status = match end.error {
        Some(error) => error.into_status(Code::Unknown, trailers.clone()),
        None => Status::ok(""),
    };
    Ok((status, trailers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_framed_behind_its_flag_and_length() {
        let framed = envelope(false, b"\x08\x01");
        assert_eq!(&framed[..], b"\x00\x00\x00\x00\x02\x08\x01");
        assert_eq!(&envelope(false, b"")[..], b"\x00\x00\x00\x00\x00");
        assert_eq!(&envelope(true, b"\x01")[..], b"\x01\x00\x00\x00\x01\x01");
    }

    #[test]
    fn timeouts_are_at_most_ten_digits() {
        assert_eq!(parse_timeout(b"250").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_timeout(b"9999999999").unwrap(),
            Duration::from_millis(9_999_999_999)
        );
        for bad in [&b""[..], b"12345678901", b"-1", b"1.5", b"10s"] {
            let status = parse_timeout(bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        }
    }

    fn with_detail() -> Status {
        let detail = prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: vec![10, 2, 8, 3],
        };
        let encoded = tonic_types::pb::Status {
            code: Code::Unavailable as i32,
            message: "busy".into(),
            details: vec![detail],
        }
        .encode_to_vec();
        Status::with_details(Code::Unavailable, "busy", encoded.into())
    }

    #[test]
    fn an_error_carries_its_code_message_and_details() {
        let body = error_body(&with_detail());
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "unavailable",
                "message": "busy",
                "details": [{"type": "google.rpc.RetryInfo", "value": "CgIIAw"}],
            })
        );
        let status = status_from_error_body(
            http::StatusCode::SERVICE_UNAVAILABLE,
            &body,
            HeaderMap::new(),
        );
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "busy");
        assert_eq!(status.details(), with_detail().details());
    }

    #[test]
    fn a_body_that_is_no_connect_error_takes_the_code_of_its_http_status() {
        let status = status_from_error_body(
            http::StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
            HeaderMap::new(),
        );
        assert_eq!(status.code(), Code::Unavailable);
    }

    #[test]
    fn the_end_of_a_stream_carries_its_trailers_and_error() {
        let mut trailers = HeaderMap::new();
        trailers.append("x-count", "1".parse().unwrap());
        trailers.append("x-count", "2".parse().unwrap());
        let body = end_stream_body(&Status::ok(""), &trailers);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"metadata": {"x-count": ["1", "2"]}})
        );
        let (status, read) = parse_end_stream(&body).unwrap();
        assert_eq!(status.code(), Code::Ok);
        assert_eq!(read.get_all("x-count").iter().count(), 2);

        let body = end_stream_body(&with_detail(), &HeaderMap::new());
        let (status, _) = parse_end_stream(&body).unwrap();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.details(), with_detail().details());
        assert_eq!(parse_end_stream(b"{}").unwrap().0.code(), Code::Ok);
        assert_eq!(
            parse_end_stream(b"nope").unwrap_err().code(),
            Code::Internal
        );
    }

    #[test]
    fn errors_are_read_leniently() {
        let status = status_from_error_body(
            http::StatusCode::UNAUTHORIZED,
            br#"{"message": "oops"}"#,
            HeaderMap::new(),
        );
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "oops");
        let (status, _) =
            parse_end_stream(br#"{"error": {"code": null, "message": null}, "metadata": null}"#)
                .unwrap();
        assert_eq!(status.code(), Code::Unknown);
    }

    #[test]
    fn base64_is_read_in_either_alphabet_padded_or_not() {
        assert_eq!(decode_base64("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("+/8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("not base64!"), None);
    }
}
