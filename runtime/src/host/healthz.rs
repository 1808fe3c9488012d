//! `GET /healthz` (or a path of one's choosing, [`Host::health_endpoint`]): the port's
//! `grpc.health.v1` status over plain HTTP, for probes and load balancers that speak no gRPC,
//! as grpc-gateway's `WithHealthzEndpoint` serves it. `?service=pkg.v1.Service` asks for one
//! service, no parameter for the server as a whole; SERVING is a 200 with the
//! `HealthCheckResponse` in proto3 JSON (`{"status": "SERVING"}`); any other status a 503 with
//! UNAVAILABLE's `google.rpc.Status` (`"message": "status:NOT_SERVING"`), and a service the port
//! does not have a 404 with NOT_FOUND's, as grpc-gateway's error handler writes them.
//!
//! [`Host::health_endpoint`]: super::Host::health_endpoint

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::server::HealthService;

use crate::rpc::http_status;

/// The answer to one request, by the port's health statuses in `service`.
pub(super) async fn answer(service: Arc<HealthService>, RawQuery(query): RawQuery) -> Response {
    let name = query
        .as_deref()
        .and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "service")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default();
    match service
        .check(tonic::Request::new(HealthCheckRequest { service: name }))
        .await
    {
        Ok(answer) => match answer.into_inner().status() {
            ServingStatus::Serving => {
                let serving = ServingStatus::Serving.as_str_name();
                let mut response =
                    (StatusCode::OK, format!("{{\"status\":\"{serving}\"}}")).into_response();
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                fresh(response)
            }
            // grpc-gateway's UNAVAILABLE carrying the response in protobuf's text format.
            other => fresh(error_response(&tonic::Status::unavailable(format!(
                "status:{}",
                other.as_str_name()
            )))),
        },
        // tonic-health's NOT_FOUND for a service it has no status of.
        Err(error) => fresh(error_response(&error)),
    }
}

/// `status` as grpc-gateway's error handler writes it: the `google.rpc.Status` JSON, with the
/// HTTP status of its code. Health's statuses carry no details or metadata, so this is the
/// gateway's `error_response` of them (a test holds the two to the same bytes), written here
/// so that a port without the gateway answers the same.
fn error_response(status: &tonic::Status) -> Response {
    // A string always serializes.
    let message = serde_json::to_string(status.message()).expect("a string serializes");
    let body = format!(
        "{{\"code\":{},\"message\":{message},\"details\":[]}}",
        status.code() as i32
    );
    let mut response = (http_status(status.code()), body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `response`, which a probe must see as of now, not from a cache.
fn fresh<B>(mut response: http::Response<B>) -> http::Response<B> {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(all(test, feature = "gateway"))]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn errors_are_the_gateways_own() {
        for status in [
            tonic::Status::unavailable("status:NOT_SERVING"),
            tonic::Status::not_found("service \"a.B\" \u{e9} not found"),
        ] {
            let ours = error_response(&status);
            let gateway = crate::gateway::status::error_response(&status);
            assert_eq!(ours.status(), gateway.status());
            assert_eq!(
                ours.headers()[CONTENT_TYPE],
                gateway.headers()[CONTENT_TYPE]
            );
            let ours = ours.into_body().collect().await.unwrap().to_bytes();
            let gateway = gateway.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(ours, gateway);
        }
    }
}
