//! The Connect protocol, served by the generated adapter on a `Host` port beside gRPC and the
//! gateway: unary POST in JSON and binary over HTTP/1.1 and HTTP/2, unary GET for a
//! `NO_SIDE_EFFECTS` rpc, errors as Connect's JSON with the code's HTTP status and the
//! `google.rpc` details, timeouts, the media types and methods refused, and a server stream in
//! enveloped JSON that ends with its status.

use std::sync::Arc;

use bytes::{Buf, Bytes};
use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, INVENTORY_SERVICE, InventoryServiceGateway,
    InventoryServiceGrpc,
};
use example_services::inventory_store::InventoryStore;
use prost::Message as _;
use rust_svc_runtime::host::{self, Host, Serving, Stop};
use serde_json::{Value, json};
use tonic::service::Routes;

const CHECK_STOCK: &str = "/inventory.v1.InventoryService/CheckStock";
const WATCH: &str = "/inventory.v1.InventoryService/WatchStockLevels";

/// The inventory, with SKU-1 in stock, on a port of its own; its base URL, and what keeps it
/// serving.
async fn serve() -> (String, (Serving, Stop)) {
    let store = InventoryStore::new();
    store.set_on_hand("wh_1", "SKU-1", 7).unwrap();
    let domain = Arc::new(store);
    let host = Host::new("inventory").service(
        INVENTORY_SERVICE.name,
        Routes::new(InventoryServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        Some(InventoryServiceGateway::routes_from_arc(domain)),
    );
    let listener = host::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Stop::new();
    let serving = host.start(listener, stop.wait()).await.unwrap();
    (format!("http://{addr}"), (serving, stop))
}

fn http1() -> reqwest::Client {
    reqwest::Client::builder().http1_only().build().unwrap()
}

fn http2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

#[tokio::test]
async fn unary_json_over_http1_and_proto_over_http2() {
    let (base, _stop) = serve().await;
    let response = http1()
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .body(r#"{"sku": "SKU-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sku"], "SKU-1");
    assert_eq!(body["available"], 7);
    assert_eq!(body["state"], "STOCK_STATE_IN_STOCK");

    let request = CheckStockRequest {
        sku: "SKU-1".into(),
        ..Default::default()
    };
    let response = http2()
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/proto")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.headers()["content-type"], "application/proto");
    let answer = CheckStockResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.available, 7);
}

#[tokio::test]
async fn a_no_side_effects_rpc_answers_a_get() {
    let (base, _stop) = serve().await;
    let url = reqwest::Url::parse_with_params(
        &format!("{base}{CHECK_STOCK}"),
        [
            ("connect", "v1"),
            ("encoding", "json"),
            ("message", r#"{"sku":"SKU-1"}"#),
        ],
    )
    .unwrap();
    let response = http1().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["available"], 7);

    // Binary, base64 (URL-safe, unpadded) as connect-go sends it.
    use base64::Engine as _;
    let message = CheckStockRequest {
        sku: "SKU-1".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(message);
    let url = format!("{base}{CHECK_STOCK}?encoding=proto&base64=1&message={encoded}");
    let response = http2().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer = CheckStockResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.sku, "SKU-1");

    // A GET of an rpc with side effects is refused with the methods it takes.
    let url =
        format!("{base}/inventory.v1.InventoryService/ReserveItems?encoding=json&message=%7B%7D");
    let response = http1().get(url).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn errors_are_connect_json_with_the_codes_http_status_and_details() {
    let (base, _stop) = serve().await;
    let post = |body: &'static str| {
        http1()
            .post(format!("{base}{CHECK_STOCK}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = post(r#"{"sku": "SKU-404"}"#).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": "not_found", "message": "SKU SKU-404 not found"})
    );

    // A field violation: its google.rpc.BadRequest detail travels as Connect's detail.
    let response = post("{}").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_argument");
    assert_eq!(body["details"][0]["type"], "google.rpc.BadRequest");
    assert!(body["details"][0]["value"].is_string(), "{body}");

    // Not JSON at all.
    let response = post("{").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_argument");
}

#[tokio::test]
async fn timeouts_versions_media_types_and_methods_are_checked() {
    let (base, _stop) = serve().await;
    let client = http1();
    let request = || {
        client
            .post(format!("{base}{CHECK_STOCK}"))
            .header("content-type", "application/json")
            .body(r#"{"sku": "SKU-1"}"#)
    };
    let response = request()
        .header("connect-timeout-ms", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_argument");

    let response = request()
        .header("connect-timeout-ms", "5000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = request()
        .header("connect-protocol-version", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response = client
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "text/plain")
        .body("SKU-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.headers()["accept-post"],
        "application/proto, application/json"
    );

    // gRPC's own content type over HTTP/1.1 is still tonic-web's 400, not a Connect call.
    let response = client
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/grpc")
        .body(Bytes::new())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// The envelopes of a Connect stream: (flags, payload).
fn envelopes(mut body: Bytes) -> Vec<(u8, Bytes)> {
    let mut out = Vec::new();
    while body.remaining() >= 5 {
        let flags = body.get_u8();
        let length = body.get_u32() as usize;
        out.push((flags, body.split_to(length)));
    }
    assert!(body.is_empty(), "a partial envelope");
    out
}

#[tokio::test]
async fn a_server_stream_is_enveloped_json_that_ends_with_its_status() {
    let (base, _stop) = serve().await;
    let message = br#"{"skus": ["SKU-1"]}"#;
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    for client in [http1(), http2()] {
        let response = client
            .post(format!("{base}{WATCH}"))
            .header("content-type", "application/connect+json")
            // The watch never ends by itself: its deadline ends it.
            .header("connect-timeout-ms", "300")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/connect+json"
        );
        let envelopes = envelopes(response.bytes().await.unwrap());
        let (last, messages) = envelopes.split_last().unwrap();
        assert!(!messages.is_empty(), "the current stock comes first");
        let first: Value = serde_json::from_slice(&messages[0].1).unwrap();
        assert_eq!(messages[0].0, 0);
        assert_eq!(first["sku"], "SKU-1");
        assert_eq!(last.0, 0b10, "the end of the stream is flagged");
        let end: Value = serde_json::from_slice(&last.1).unwrap();
        assert_eq!(end["error"]["code"], "deadline_exceeded", "{end}");
    }

    // A stream whose request fails ends at once, with HTTP 200 and the error in its end.
    let message = br#"{"skus": []}"#;
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    let response = http1()
        .post(format!("{base}{WATCH}"))
        .header("content-type", "application/connect+json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let envelopes = envelopes(response.bytes().await.unwrap());
    assert_eq!(envelopes.len(), 1);
    let end: Value = serde_json::from_slice(&envelopes[0].1).unwrap();
    assert_eq!(end["error"]["code"], "invalid_argument");

    // A unary media type on a streaming rpc is refused.
    let response = http1()
        .post(format!("{base}{WATCH}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

/// A gRPC request on HTTP/2 with `content_type` and `body`, as `method`.
async fn raw_grpc(
    base: &str,
    method: http::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    http2()
        .request(method, format!("{base}{path}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn enveloped(messages: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for message in messages {
        body.push(0);
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(message);
    }
    body
}

#[tokio::test]
async fn a_unary_request_of_no_message_or_two_is_unimplemented() {
    let (base, _serving) = serve().await;
    let request = CheckStockRequest {
        sku: "SKU-1".into(),
        ..Default::default()
    }
    .encode_to_vec();
    for body in [enveloped(&[]), enveloped(&[&request, &request])] {
        let response = raw_grpc(
            &base,
            http::Method::POST,
            CHECK_STOCK,
            "application/grpc",
            body,
        )
        .await;
        assert_eq!(response.headers()["grpc-status"], "12");
    }
    // And over Connect: a stream of two requests to a server-streaming rpc.
    let message = br#"{"skus": ["SKU-1"]}"#;
    let response = http1()
        .post(format!("{base}{WATCH}"))
        .header("content-type", "application/connect+json")
        .body(enveloped(&[message, message]))
        .send()
        .await
        .unwrap();
    let envelopes = envelopes(response.bytes().await.unwrap());
    let end: Value = serde_json::from_slice(&envelopes.last().unwrap().1).unwrap();
    assert_eq!(end["error"]["code"], "unimplemented");
}

#[tokio::test]
async fn grpc_refuses_other_verbs_and_codecs_and_serves_json() {
    let (base, _serving) = serve().await;
    let json = enveloped(&[br#"{"sku":"SKU-1"}"#]);
    let response = raw_grpc(
        &base,
        http::Method::DELETE,
        CHECK_STOCK,
        "application/grpc",
        json.clone(),
    )
    .await;
    assert_eq!(response.status(), 405);
    let response = raw_grpc(
        &base,
        http::Method::POST,
        CHECK_STOCK,
        "application/grpc+foo",
        json.clone(),
    )
    .await;
    assert_eq!(response.status(), 415);
    let response = raw_grpc(
        &base,
        http::Method::POST,
        CHECK_STOCK,
        "application/grpc+json",
        json,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc+json");
    let body = response.bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&envelopes(body)[0].1).unwrap();
    assert_eq!(answer["available"], 7);
}

#[tokio::test]
async fn a_call_to_a_service_not_hosted_is_unimplemented_in_its_own_protocol() {
    let (base, _serving) = serve().await;
    let path = "/nowhere.v1.Nothing/Call";
    let response = raw_grpc(
        &base,
        http::Method::POST,
        path,
        "application/grpc",
        enveloped(&[b""]),
    )
    .await;
    assert_eq!(response.headers()["grpc-status"], "12");
    let response = http1()
        .post(format!("{base}{path}"))
        .header("content-type", "application/grpc-web+proto")
        .body(enveloped(&[b""]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "12");
    let response = http1()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unimplemented");
    // A REST request to an unknown path is still the gateway's.
    let response = http1()
        .get(format!("{base}/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 5);
}

#[tokio::test]
async fn an_oversized_http1_request_gets_its_status_and_the_connection_serves_on() {
    let (base, _serving) = serve().await;
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    // A gRPC-Web message over the 4 MiB limit: answered before the body is read.
    let huge = vec![b'x'; 5 * 1024 * 1024];
    let response = client
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/grpc-web+proto")
        .body(enveloped(&[&huge]))
        .send()
        .await
        .expect("the status, not a broken pipe");
    assert!(
        !response.headers().contains_key("connection"),
        "drained, kept"
    );
    // The status is in the headers (an error before any message) or in the body's trailers.
    let in_headers = response.headers().get("grpc-status").cloned();
    let body = response.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        in_headers.as_ref().is_some_and(|code| code == "8") || text.contains("grpc-status:8"),
        "{in_headers:?} {text}"
    );
    // Connect, the same way, then an ordinary call on the kept connection.
    let response = client
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/proto")
        .body(huge)
        .send()
        .await
        .expect("the status, not a broken pipe");
    assert_eq!(response.status(), 429);
    let response = client
        .post(format!("{base}{CHECK_STOCK}"))
        .header("content-type", "application/json")
        .body(r#"{"sku": "SKU-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
