//! The REST gateway end to end, CORS: preflights answered from the route table, allowed
//! origins on responses, exposed headers, and nothing at all when CORS is off (the default).

use std::time::Duration;

use rust_svc_runtime::Code;
use rust_svc_runtime::gateway::DEFAULT_MAX_BODY_BYTES;
use rust_svc_runtime::gateway::cors::Cors;
use serde_json::json;

use crate::gateway_common::{FAILED_BY, Reply, Served, serve, serve_built};

const APP: &str = "https://app.example";

async fn serve_cors() -> Served {
    let cors = Cors::new()
        .allow_origins([APP])
        .max_age(Duration::from_secs(600));
    serve_built(cors, DEFAULT_MAX_BODY_BYTES).await
}

async fn preflight(
    served: &Served,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Reply {
    let mut request = served
        .rest
        .request("OPTIONS", path)
        .header("origin", origin)
        .header("access-control-request-method", method);
    if !headers.is_empty() {
        request = request.header("access-control-request-headers", headers);
    }
    served.rest.send(request).await
}

fn sorted_list(value: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = value
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}

#[tokio::test]
async fn a_preflight_is_answered_with_the_methods_of_the_route_table() {
    let served = serve_cors().await;
    let reply = preflight(
        &served,
        "/v1/everything/abc",
        APP,
        "PUT",
        "Content-Type, X-Request-Id, Grpc-Metadata-Foo",
    )
    .await;
    assert!(reply.status.is_success(), "{reply:?}");
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        sorted_list(reply.header("access-control-allow-methods")),
        ["delete", "get", "put"]
    );
    assert_eq!(
        sorted_list(reply.header("access-control-allow-headers")),
        ["content-type", "grpc-metadata-foo", "x-request-id"]
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert!(
        sorted_list(reply.header("vary")).contains(&"origin".to_owned()),
        "{reply:?}"
    );
    // A custom method is allowed where the table has it.
    let reply = preflight(&served, "/v1/shelves/1/books", APP, "SEARCH", "").await;
    assert!(reply.status.is_success(), "{reply:?}");
    assert_eq!(reply.header("access-control-allow-methods"), Some("SEARCH"));
    // Preflights never reach the domain.
    assert!(served.domain.calls().is_empty());
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_not_allowed() {
    let served = serve_cors().await;
    let reply = preflight(
        &served,
        "/v1/everything/abc",
        "https://evil.example",
        "GET",
        "",
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "{reply:?}"
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        None,
        "{reply:?}"
    );
    // A preflight for an unknown path is routed like any request.
    let reply = preflight(&served, "/v1/nope", APP, "GET", "").await;
    reply.error(404, Code::NotFound, &[]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn responses_carry_the_allowed_origin_and_exposed_headers() {
    let served = serve_cors().await;
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("origin", APP);
    let reply = served.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    assert!(
        sorted_list(reply.header("access-control-expose-headers"))
            .contains(&"x-request-id".to_owned()),
        "{reply:?}"
    );
    // An error response exposes the `Grpc-Metadata-*` headers it carries.
    let request = served
        .rest
        .request("POST", "/v1/fail")
        .header("origin", APP)
        .json(&json!({"code": Code::NotFound as i32, "message": "gone"}));
    let reply = served.rest.send(request).await;
    reply.error(404, Code::NotFound, &["gone"]);
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    let metadata_header = format!("grpc-metadata-{}", FAILED_BY.0);
    assert_eq!(reply.header(&metadata_header), Some(FAILED_BY.1));
    assert!(
        sorted_list(reply.header("access-control-expose-headers")).contains(&metadata_header),
        "{reply:?}"
    );
    // A 404 from the router gets the headers too, so that the browser can read the error.
    let request = served.rest.request("GET", "/v1/nope").header("origin", APP);
    let reply = served.rest.send(request).await;
    reply.error(404, Code::NotFound, &[]);
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    // No origin, no CORS headers; another origin, no allowance.
    let reply = served.rest.get("/v1/everything/abc").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("origin", "https://evil.example");
    let reply = served.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn credentials_mirror_the_origin_and_methods_can_be_restricted() {
    let cors = Cors::new()
        .allow_any_origin()
        .allow_credentials(true)
        .allow_methods(["GET", "SEARCH"]);
    let served = serve_built(cors, DEFAULT_MAX_BODY_BYTES).await;
    let reply = preflight(&served, "/v1/everything/abc", APP, "GET", "authorization").await;
    assert!(reply.status.is_success(), "{reply:?}");
    // `*` is not allowed with credentials: the origin is mirrored.
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    // Only the configured methods the path really serves.
    assert_eq!(reply.header("access-control-allow-methods"), Some("GET"));
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("authorization")
    );
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let served = serve().await;
    // No preflight answer: OPTIONS is just a method the path does not serve.
    let reply = preflight(&served, "/v1/everything/abc", APP, "GET", "").await;
    reply.error(405, Code::Unimplemented, &["OPTIONS"]);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("origin", APP);
    let reply = served.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-expose-headers"), None);
}

#[tokio::test]
async fn what_a_browser_needs_of_an_error_is_exposed_even_through_an_error_handler() {
    // A custom error response still carries the CORS headers (else the browser reports a CORS
    // failure, not the error), and a 401's challenge is readable by the page.
    let served = crate::gateway_common::serve_with(|builder| {
        builder
            .cors(Cors::new().allow_origins([APP]))
            .error_handler(|status, response| {
                let (parts, _) = response.into_parts();
                let mut fresh =
                    http::Response::new(format!("problem: {}", status.message()).into());
                *fresh.status_mut() = parts.status;
                if let Some(challenge) = parts.headers.get("www-authenticate") {
                    fresh
                        .headers_mut()
                        .insert("www-authenticate", challenge.clone());
                }
                fresh
            })
    })
    .await;
    let request = served
        .rest
        .request("POST", "/v1/fail")
        .header("origin", APP)
        .json(&json!({"code": Code::Unauthenticated as i32, "message": "sign in"}));
    let reply = served.rest.send(request).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.text, "problem: sign in");
    assert_eq!(reply.header("access-control-allow-origin"), Some(APP));
    assert!(
        sorted_list(reply.header("access-control-expose-headers"))
            .contains(&"www-authenticate".to_owned()),
        "{reply:?}"
    );
}
