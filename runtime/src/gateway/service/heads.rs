//! What the gateway reads of a request's head before routing it: the client's address, whether
//! it is a gRPC call, and its host.

use http::HeaderValue;

use crate::gateway::headers::Present;

/// The client's address in a request's (or a connection's) extensions: axum's connect info,
/// or tonic's (over TLS too), as `axum::serve` with connect info, tonic's `Server` and a `Host`
/// port put it there.
pub(crate) fn peer_addr(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::TcpConnectInfo;
    let addr = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0)
        .or_else(|| extensions.get::<TcpConnectInfo>()?.remote_addr());
    #[cfg(feature = "tls")]
    let addr = addr.or_else(|| {
        extensions
            .get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()?
            .get_ref()
            .remote_addr()
    });
    addr
}

/// Whether a request is a gRPC or gRPC-Web call, by its content type.
pub(super) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// Settles a request's host, in its `Host` header, as RFC 9110 and 9112 say (and Go's
/// `net/http`, which grpc-gateway runs on, does), or says why the request is malformed.
///
/// - An HTTP/2 request's host is its `:authority`, which hyper keeps in the URI rather than in
///   a `Host` header, where HTTP/1.1 has it. The metadata of a call is made from the headers
///   (`x-forwarded-host`, `grpcgateway-host`), so the host is put there, and a call carries
///   the same metadata whichever version the client spoke (grpc-gateway reads Go's
///   `Request.Host`, which is either).
/// - An HTTP/1.x request in absolute form (`GET http://example.com/v1/x`) is for the URI's
///   host, whatever its `Host` header says (RFC 9112 §3.2.2).
/// - Otherwise an HTTP/1.1 request must have exactly one `Host`, and every `Host` must be a
///   valid authority (RFC 9112 §3.2: 400); HTTP/1.0 may have none. The caller answers the
///   error only for a request that came over a connection.
pub(super) fn settle_host(
    parts: &mut http::request::Parts,
    present: &Present,
) -> Result<(), tonic::Status> {
    let http2 = parts.version >= http::Version::HTTP_2;
    let absolute_form = !http2 && parts.uri.authority().is_some();
    if (absolute_form || (http2 && !parts.headers.contains_key(http::header::HOST)))
        && let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(http::header::HOST, host);
    }
    if http2 || absolute_form {
        return Ok(());
    }
    match (present.hosts, present.invalid_host) {
        (0, _) if parts.version == http::Version::HTTP_11 => Err(tonic::Status::invalid_argument(
            "an HTTP/1.1 request must have a `Host` header (RFC 9112 §3.2)",
        )),
        (0, _) => Ok(()),
        (1, false) => Ok(()),
        (1, true) => Err(tonic::Status::invalid_argument(format!(
            "the `Host` header {:?} is not a host and port (RFC 9112 §3.2)",
            parts.headers.get(http::header::HOST)
        ))),
        _ => Err(tonic::Status::invalid_argument(
            "a request must have one `Host` header, not several (RFC 9112 §3.2)",
        )),
    }
}
