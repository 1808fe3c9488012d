//! The [`Context`] of a gateway call, from the HTTP request's headers, so that a handler sees the
//! same context over REST as over gRPC: the same metadata keys, the deadline, the peer.
//!
//! What is taken (grpc-gateway v2's `AnnotateContext` with its default header matcher, plus the
//! tracing headers this project propagates):
//!
//! - `Authorization`, `X-Request-Id`, `traceparent` and `tracestate`, under their own
//!   (lower-case) names: what a gRPC client would have sent as metadata, and what the generated
//!   clients propagate by default.
//! - `Grpc-Metadata-<key>: <value>` as metadata `<key>`. A key ending in `-bin` is binary
//!   metadata: its value is standard base64, padded or not, and is decoded (a value that is not
//!   base64 is a 400, as in grpc-gateway). A text value with bytes outside printable ASCII, a key
//!   that is not a valid gRPC metadata key (`0-9 a-z - _ .`) and a key in the `grpc-` namespace
//!   that gRPC reserves for itself are skipped, not refused: grpc-gateway skips the first two.
//! - `Grpc-Timeout` (gRPC's format, e.g. `250m`) as the deadline, counted from now; a malformed
//!   one is a 400 naming the header, as over gRPC here (grpc-gateway also answers 400).
//! - The peer address, when the transport knows it.
//!
//! Other headers (`Content-Type`, `Accept`, cookies…) are HTTP's business, not the call's, and
//! are left out, so that a handler cannot come to depend on something gRPC callers never send.

use std::net::SocketAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tonic::metadata::{BinaryMetadataValue, MetadataKey, MetadataMap};

use super::query::convert::decode_binary_header;
use super::response::METADATA_HEADER_PREFIX;
use crate::deadline::{GRPC_TIMEOUT, parse_grpc_timeout};
use crate::rpc::{REQUEST_ID_HEADER, TRACEPARENT, TRACESTATE};
use crate::{Context, Status};

/// Headers passed on as metadata under their own names.
pub const FORWARDED_HEADERS: &[&str] =
    &["authorization", REQUEST_ID_HEADER, TRACEPARENT, TRACESTATE];

/// The context of a gateway call with these request headers, from this peer, as the
/// [module](self) describes.
///
/// ```
/// # use rust_svc_runtime::gateway::headers::context_from_headers;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", "req-7".parse().unwrap());
/// headers.insert("grpc-metadata-tenant", "acme".parse().unwrap());
/// headers.insert("cookie", "session=secret".parse().unwrap());
/// let ctx = context_from_headers(&headers, None).unwrap();
/// assert_eq!(ctx.metadata().get("x-request-id").unwrap(), "req-7");
/// assert_eq!(ctx.metadata().get("tenant").unwrap(), "acme");
/// assert!(ctx.metadata().get("cookie").is_none());
///
/// headers.insert("grpc-timeout", "soon".parse().unwrap());
/// assert!(context_from_headers(&headers, None).is_err());
/// ```
pub fn context_from_headers(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Context, Status> {
    let mut ctx = Context::new().with_metadata(metadata_from_headers(headers)?);
    if let Some(value) = headers.get(GRPC_TIMEOUT) {
        let timeout = parse_grpc_timeout(value.as_bytes())
            .map_err(|invalid| Status::invalid_argument(invalid.to_string()))?;
        // A timeout too large to represent is no deadline at all, as over gRPC.
        if let Some(deadline) = Instant::now().checked_add(timeout) {
            ctx = ctx.with_deadline(deadline);
        }
    }
    if let Some(peer) = peer {
        ctx = ctx.with_peer_addr(peer);
    }
    Ok(ctx)
}

fn metadata_from_headers(headers: &HeaderMap) -> Result<MetadataMap, Status> {
    let mut metadata = MetadataMap::new();
    for (name, value) in headers {
        if FORWARDED_HEADERS.contains(&name.as_str()) {
            if is_text_value(value) {
                // Header values are reference-counted: passing one on copies nothing.
                metadata.as_mut().append(name.clone(), value.clone());
            }
            continue;
        }
        let Some(key) = name.as_str().strip_prefix(METADATA_HEADER_PREFIX) else {
            continue;
        };
        if !is_metadata_key(key) {
            continue;
        }
        if key.ends_with("-bin") {
            let bytes = decode_binary_header(value.as_bytes()).map_err(|error| {
                Status::invalid_argument(format!("invalid binary header {name}: {error}"))
            })?;
            if let Ok(key) = MetadataKey::from_bytes(key.as_bytes()) {
                metadata.append_bin(key, BinaryMetadataValue::from_bytes(&bytes));
            }
        } else if is_text_value(value)
            && let Ok(key) = HeaderName::from_bytes(key.as_bytes())
        {
            metadata.as_mut().append(key, value.clone());
        }
    }
    Ok(metadata)
}

/// A gRPC metadata key (`0-9 a-z - _ .`; header names are lower case already) outside the
/// `grpc-` namespace the protocol keeps for itself.
fn is_metadata_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with("grpc-")
        && key
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'))
}

/// A gRPC ASCII metadata value: printable ASCII and spaces.
fn is_text_value(value: &HeaderValue) -> bool {
    value
        .as_bytes()
        .iter()
        .all(|byte| (0x20..=0x7e).contains(byte))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn forwards_the_call_headers_under_their_own_names() {
        let ctx = context_from_headers(
            &headers(&[
                ("Authorization", b"Bearer t0ken"),
                ("X-Request-Id", b"req-1"),
                (
                    "traceparent",
                    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", b"vendor=1"),
                ("content-type", b"application/json"),
                ("user-agent", b"curl/8"),
                ("x-forwarded-for", b"10.0.0.1"),
            ]),
            None,
        )
        .unwrap();
        let metadata = ctx.metadata();
        assert_eq!(metadata.get("authorization").unwrap(), "Bearer t0ken");
        assert_eq!(metadata.get("x-request-id").unwrap(), "req-1");
        assert_eq!(metadata.get("tracestate").unwrap(), "vendor=1");
        assert!(metadata.get("traceparent").is_some());
        assert_eq!(metadata.len(), 4, "{metadata:?}");
    }

    #[test]
    fn grpc_metadata_headers_become_metadata_without_the_prefix() {
        let ctx = context_from_headers(
            &headers(&[
                ("Grpc-Metadata-Tenant", b"acme"),
                ("grpc-metadata-tenant", b"other"),
                ("Grpc-Metadata-Trace-Bin", b"AAEC"),
                ("Grpc-Metadata-Blob-Bin", b"AAECAw"),
            ]),
            None,
        )
        .unwrap();
        let metadata = ctx.metadata();
        let tenants: Vec<_> = metadata.get_all("tenant").iter().collect();
        assert_eq!(tenants, ["acme", "other"]);
        let trace = metadata.get_bin("trace-bin").unwrap().to_bytes().unwrap();
        assert_eq!(&trace[..], [0, 1, 2]);
        // Unpadded base64 is accepted, as grpc-gateway's decodeBinHeader does.
        let blob = metadata.get_bin("blob-bin").unwrap().to_bytes().unwrap();
        assert_eq!(&blob[..], [0, 1, 2, 3]);
    }

    #[test]
    fn a_binary_header_that_is_not_base64_is_an_invalid_argument_naming_it() {
        let status = context_from_headers(&headers(&[("Grpc-Metadata-Trace-Bin", b"!!!")]), None)
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("grpc-metadata-trace-bin"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn skips_what_is_not_valid_text_metadata_or_is_reserved() {
        let ctx = context_from_headers(
            &headers(&[
                ("grpc-metadata-", b"empty key"),
                ("grpc-metadata-grpc-status", b"0"),
                ("grpc-metadata-latin", b"caf\xe9"),
                ("authorization", b"caf\xe9"),
                ("grpc-metadata-ok", b"fine value"),
            ]),
            None,
        )
        .unwrap();
        let metadata = ctx.metadata();
        assert_eq!(metadata.len(), 1, "{metadata:?}");
        assert_eq!(metadata.get("ok").unwrap(), "fine value");
    }

    #[tokio::test(start_paused = true)]
    async fn grpc_timeout_sets_the_deadline() {
        let ctx = context_from_headers(&headers(&[("Grpc-Timeout", b"250m")]), None).unwrap();
        assert_eq!(ctx.remaining(), Some(Duration::from_millis(250)));
        let ctx = context_from_headers(&headers(&[]), None).unwrap();
        assert_eq!(ctx.deadline(), None);
    }

    #[test]
    fn a_malformed_grpc_timeout_is_an_invalid_argument_naming_the_header() {
        for bad in [&b"soon"[..], b"10", b"1.5S", b"123456789m", b""] {
            let status =
                context_from_headers(&headers(&[("grpc-timeout", bad)]), None).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(
                status.message().contains("grpc-timeout"),
                "{}",
                status.message()
            );
        }
    }

    #[test]
    fn the_peer_address_is_kept() {
        let peer: SocketAddr = "192.0.2.7:4711".parse().unwrap();
        let ctx = context_from_headers(&HeaderMap::new(), Some(peer)).unwrap();
        assert_eq!(ctx.peer_addr(), Some(peer));
        assert!(ctx.metadata().is_empty());
    }
}
