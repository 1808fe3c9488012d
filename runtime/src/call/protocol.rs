//! Which protocol a request on an rpc's path speaks: gRPC, gRPC-Web, Connect, or none of them
//! (REST, for the gateway). A port (`host`) and [`Gateway::with_grpc`] both ask, when an HTTP
//! rule sits on its rpc's own gRPC path.
//!
//! [`Gateway::with_grpc`]: crate::gateway::Gateway::with_grpc

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request};

use super::connect::PROTOCOL_VERSION;

/// An rpc protocol a request can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RpcProtocol {
    Grpc,
    GrpcWeb,
    Connect,
}

/// The rpc protocol `headers` say a request speaks, by its content type or Connect's version
/// header (every Connect client sends it); `None` for a request that is none of them.
pub(crate) fn rpc_protocol(headers: &HeaderMap) -> Option<RpcProtocol> {
    let content_type = headers.get(CONTENT_TYPE)?.as_bytes();
    if content_type.starts_with(b"application/grpc-web") {
        Some(RpcProtocol::GrpcWeb)
    } else if content_type.starts_with(b"application/grpc") {
        Some(RpcProtocol::Grpc)
    } else if content_type.starts_with(b"application/connect+")
        || media_type(content_type).eq_ignore_ascii_case(b"application/proto")
        || headers.contains_key(PROTOCOL_VERSION)
    {
        Some(RpcProtocol::Connect)
    } else {
        None
    }
}

/// The media type of a `Content-Type` value, without its parameters: `application/proto` of
/// `application/proto; charset=utf-8`, and not of `application/protobuf` (a REST body).
fn media_type(content_type: &[u8]) -> &[u8] {
    let end = content_type
        .iter()
        .position(|byte| *byte == b';')
        .unwrap_or(content_type.len());
    content_type[..end].trim_ascii()
}

/// Whether a request on a path an rpc protocol and a REST route share is REST: in no rpc
/// protocol ([`rpc_protocol`]) and not a Connect unary `GET`, which names itself in its
/// `connect=v1` query parameter rather than in a header.
pub(crate) fn is_rest<B>(request: &Request<B>) -> bool {
    is_rest_parts(request.uri(), request.headers())
}

/// [`is_rest`] of a request's URI and headers.
pub(crate) fn is_rest_parts(uri: &http::Uri, headers: &HeaderMap) -> bool {
    let connect_get = uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "connect=v1"));
    !connect_get && rpc_protocol(headers).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::post(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn protocols_are_told_by_content_type_and_connects_header() {
        let cases = [
            (
                vec![("content-type", "application/grpc")],
                Some(RpcProtocol::Grpc),
            ),
            (
                vec![("content-type", "application/grpc+proto")],
                Some(RpcProtocol::Grpc),
            ),
            (
                vec![("content-type", "application/grpc-web-text")],
                Some(RpcProtocol::GrpcWeb),
            ),
            (
                vec![("content-type", "application/connect+json")],
                Some(RpcProtocol::Connect),
            ),
            (
                vec![("content-type", "application/proto")],
                Some(RpcProtocol::Connect),
            ),
            (
                vec![
                    ("content-type", "application/json"),
                    ("connect-protocol-version", "1"),
                ],
                Some(RpcProtocol::Connect),
            ),
            (
                vec![("content-type", "application/proto; charset=utf-8")],
                Some(RpcProtocol::Connect),
            ),
            (vec![("content-type", "application/json")], None),
            // REST bodies in binary protobuf (the gateway's), not Connect's media type.
            (vec![("content-type", "application/protobuf")], None),
            (vec![("content-type", "application/x-protobuf")], None),
            (vec![("content-type", "text/plain")], None),
            (vec![], None),
        ];
        for (headers, expected) in cases {
            let request = request("/pkg.Svc/Method", &headers);
            assert_eq!(rpc_protocol(request.headers()), expected, "{headers:?}");
        }
    }

    #[test]
    fn a_connect_get_is_not_rest_and_json_without_a_version_is() {
        assert!(is_rest(&request(
            "/pkg.Svc/Method",
            &[("content-type", "application/json")]
        )));
        assert!(is_rest(&request("/pkg.Svc/Method?x=connect=v1", &[])));
        assert!(!is_rest(&request(
            "/pkg.Svc/Method?encoding=json&connect=v1",
            &[]
        )));
        assert!(!is_rest(&request(
            "/pkg.Svc/Method",
            &[("content-type", "application/grpc")]
        )));
    }
}
