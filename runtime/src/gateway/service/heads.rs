//! What the gateway reads of a request's head before routing it: the client's address, whether
//! it is a gRPC call, and an HTTP/2 request's host.

use http::HeaderValue;

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

/// An HTTP/2 request's host is its `:authority`, which hyper keeps in the URI rather than in a
/// `Host` header, where HTTP/1.1 has it. The metadata of a call is made from the headers
/// (`x-forwarded-host`, `grpcgateway-host`), so the host is put there, and a call carries the
/// same metadata whichever version the client spoke (grpc-gateway reads Go's `Request.Host`,
/// which is either).
pub(super) fn host_from_authority(parts: &mut http::request::Parts) {
    if parts.version < http::Version::HTTP_2 || parts.headers.contains_key(http::header::HOST) {
        return;
    }
    if let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(http::header::HOST, host);
    }
}
