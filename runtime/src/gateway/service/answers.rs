//! The gateway's answers off the path of a call that a route takes: errors, `OPTIONS *`, and
//! the CORS headers. Kept out of `Gateway::answer`, which runs for every request, so that its
//! code and its stack frame stay the size of that path (each is `#[inline(never)]`).

use std::sync::Arc;

use axum::body::Body;
use http::header::ALLOW;
use http::{HeaderValue, Method, StatusCode};

use rust_svc_http_template::{Lookup, RouteTable};

use super::super::routed::{Entry, Inner, ResponseFuture};
use crate::Status;
use crate::gateway::status::{error_response, status_response};

/// A gRPC (or gRPC-Web) call that no gRPC route took, on a port shared with gRPC: the caller
/// gets what any gRPC server answers for a service it does not have, not a REST error it
/// cannot read.
#[cold]
#[inline(never)]
pub(super) fn unknown_grpc_service(parts: &http::request::Parts) -> ResponseFuture {
    let status = Status::unimplemented(format!("unknown service {}", parts.uri.path()));
    Box::pin(std::future::ready(status.into_http()))
}

/// A request target that is not a path (`GET foo`, `GET *`, the authority form): malformed,
/// not a path no route has, as grpc-gateway answers it. `OPTIONS *` asks about the server, not
/// a resource (RFC 9110 §9.3.7): an empty 200, as Go's net/http answers it before grpc-gateway
/// is asked.
#[cold]
#[inline(never)]
pub(super) fn not_a_path(parts: &http::request::Parts) -> ResponseFuture {
    if parts.method == Method::OPTIONS && parts.uri.path() == "*" {
        return Box::pin(std::future::ready(server_options()));
    }
    let status = Status::invalid_argument(format!(
        "the request target `{}` is not a path: it must start with `/`",
        parts.uri
    ));
    ready_error(&status)
}

/// The answer to a request no route takes: 405 when routes of other methods match its path,
/// else 404.
#[cold]
#[inline(never)]
pub(super) fn not_routed(
    table: &RouteTable<Entry>,
    parts: &http::request::Parts,
) -> ResponseFuture {
    match table.lookup(parts.method.as_str(), parts.uri.path()) {
        Lookup::MethodNotAllowed { allowed } => not_allowed(parts, &allowed),
        // `find` found no route, and `lookup` finds the same ones.
        Lookup::NotFound | Lookup::Found(_) | Lookup::InvalidEncoding { .. } => no_route(parts),
    }
}

fn no_route(parts: &http::request::Parts) -> ResponseFuture {
    ready_error(&Status::not_found(format!(
        "no route for {} {}",
        parts.method,
        parts.uri.path()
    )))
}

fn not_allowed(parts: &http::request::Parts, allowed: &[&str]) -> ResponseFuture {
    let status = Status::unimplemented(format!(
        "{} is not allowed on {}; allowed: {}",
        parts.method,
        parts.uri.path(),
        allowed.join(", ")
    ));
    let mut response = status_response(StatusCode::METHOD_NOT_ALLOWED, &status);
    if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(ALLOW, allow);
    }
    Box::pin(std::future::ready(response))
}

#[cold]
#[inline(never)]
pub(super) fn invalid_path(variable: &str, message: &str) -> ResponseFuture {
    ready_error(&Status::invalid_argument(format!(
        "path variable `{variable}`: {message}"
    )))
}

/// `response` with the CORS headers `origin` gets.
#[inline(never)]
pub(super) fn with_cors(
    gateway: Arc<Inner>,
    origin: Option<HeaderValue>,
    response: ResponseFuture,
) -> ResponseFuture {
    Box::pin(async move {
        let mut response = response.await;
        gateway
            .cors
            .decorate(origin.as_ref(), response.headers_mut());
        response
    })
}

/// The answer to `OPTIONS *`.
pub(super) fn server_options() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

#[cold]
#[inline(never)]
pub(super) fn ready_error(status: &Status) -> ResponseFuture {
    Box::pin(std::future::ready(error_response(status)))
}
