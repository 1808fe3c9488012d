//! `GET /healthz` (or a path of one's choosing, [`Host::health_endpoint`]): the port's
//! `grpc.health.v1` status over plain HTTP, for probes and load balancers that speak no gRPC,
//! as grpc-gateway's `WithHealthzEndpoint` serves it. `?service=pkg.v1.Service` asks for one
//! service, no parameter for the server as a whole; SERVING is a 200, any other status a 503,
//! a service the port does not have a 404, each with the status as JSON
//! (`{"status": "SERVING"}`, the `HealthCheckResponse` in proto3 JSON).
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
        Ok(answer) => {
            let status = answer.into_inner().status();
            let http = if status == ServingStatus::Serving {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(http, &serde_json::json!({ "status": status.as_str_name() }))
        }
        // tonic-health's NOT_FOUND for a service it has no status of.
        Err(error) => json(
            crate::gateway::status::http_status(error.code()),
            &serde_json::json!({ "code": error.code() as i32, "message": error.message() }),
        ),
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A probe must see the status of now, not a cache's.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
