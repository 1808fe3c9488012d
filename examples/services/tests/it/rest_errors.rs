//! Errors of the example system over REST: each a `google.rpc.Status` JSON body with the HTTP
//! status grpc-gateway gives its code, bad input naming its field, and the server serving on.

use reqwest::header::ALLOW;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::rest_common::{order_body, start};

/// A request (method, path, JSON body) and what it gets: HTTP status, gRPC code, message.
type Case = (
    Method,
    &'static str,
    Option<Value>,
    StatusCode,
    i64,
    &'static str,
);

#[tokio::test]
async fn errors_are_google_rpc_status_json_with_the_http_status_of_their_code() {
    let system = start().await;
    let no_customer = order_body("", &[("SKU-1", 1, 1)]);
    let too_many = order_body("c_1", &[("SKU-1", 8, 1)]);
    let short = json!({"orderId": "o", "items": [{"sku": "SKU-1", "quantity": 8}]});
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/v1/orders",
            Some(no_customer),
            StatusCode::BAD_REQUEST,
            3,
            "order.customer_id: required",
        ),
        (
            Method::POST,
            "/v1/orders",
            Some(too_many),
            StatusCode::BAD_REQUEST,
            9,
            "not enough stock: SKU-1: 7 available, 8 requested",
        ),
        (
            Method::POST,
            "/v1/reservations",
            Some(short),
            StatusCode::BAD_REQUEST,
            9,
            "SKU-1: 7 available, 8 requested",
        ),
        (
            Method::GET,
            "/v1/orders/ord_404",
            None,
            StatusCode::NOT_FOUND,
            5,
            "order ord_404 not found",
        ),
        (
            Method::GET,
            "/v1/orders?filter=total%3D1",
            None,
            StatusCode::BAD_REQUEST,
            3,
            "filter: at byte 0: cannot filter on `total`; use customer_id or status",
        ),
        (
            Method::GET,
            "/v1/orders?pageSize=-1",
            None,
            StatusCode::BAD_REQUEST,
            3,
            "page_size: must not be negative, got -1",
        ),
        (
            Method::PATCH,
            "/v1/orders/ord_404?updateMask=status",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            3,
            "update_mask: `status` is output only; cancel an order with CancelOrder",
        ),
        (
            Method::POST,
            "/v1/orders/ord_404:cancel",
            Some(json!({})),
            StatusCode::NOT_FOUND,
            5,
            "order ord_404 not found",
        ),
        (
            Method::GET,
            "/v1/items/SKU-9/stock",
            None,
            StatusCode::NOT_FOUND,
            5,
            "SKU SKU-9 not found",
        ),
        (
            Method::GET,
            "/v1/items/SKU-1/stock?warehouseId=wh_z",
            None,
            StatusCode::NOT_FOUND,
            5,
            "warehouse wh_z not found",
        ),
        (
            Method::DELETE,
            "/v1/reservations/res_404",
            None,
            StatusCode::NOT_FOUND,
            5,
            "reservation res_404 not found",
        ),
        (
            Method::GET,
            "/v1/items:watch",
            None,
            StatusCode::BAD_REQUEST,
            3,
            "skus: name at least one SKU to watch",
        ),
        (
            Method::GET,
            "/v1/orders:stream",
            None,
            StatusCode::BAD_REQUEST,
            3,
            "customer_id: name a customer to follow, or set order_ids",
        ),
        (
            Method::GET,
            "/v1/orders:stream?customerId=c_9",
            None,
            StatusCode::NOT_FOUND,
            5,
            "customer c_9 has no orders to follow",
        ),
        (
            Method::GET,
            "/v1/couriers/cour_9/status",
            None,
            StatusCode::NOT_FOUND,
            5,
            "courier cour_9 not found",
        ),
        (
            Method::GET,
            "/v1/nowhere",
            None,
            StatusCode::NOT_FOUND,
            5,
            "no route for GET /v1/nowhere",
        ),
    ];
    for (method, path, body, http, code, message) in cases {
        let (status, error) = system.call(method.clone(), path, body).await;
        // A server stream's error is its `{"error": …}` line, even before its first message,
        // as grpc-gateway writes it.
        let error = match error.get("error") {
            Some(inner) if path.contains(":watch") || path.contains(":stream") => inner.clone(),
            _ => error,
        };
        assert_eq!(
            (status, error["code"].as_i64()),
            (http, Some(code)),
            "{method} {path}: {error}"
        );
        assert_eq!(error["message"], message, "{method} {path}");
        assert!(error["details"].is_array(), "{method} {path}: {error}");
    }

    // Bad input names its field in a google.rpc.BadRequest, a shortage its SKU in a
    // google.rpc.PreconditionFailure.
    let (_, error) = system
        .call(Method::GET, "/v1/orders?pageSize=-1", None)
        .await;
    let detail = &error["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(detail["fieldViolations"][0]["field"], "page_size");
    let short = json!({"orderId": "o", "items": [{"sku": "SKU-2", "quantity": 11}]});
    let (_, error) = system
        .call(Method::POST, "/v1/reservations", Some(short))
        .await;
    let detail = &error["details"][0];
    assert_eq!(
        detail["@type"],
        "type.googleapis.com/google.rpc.PreconditionFailure"
    );
    assert_eq!(detail["violations"][0]["subject"], "SKU-2");

    let response = system
        .request(Method::PUT, "/v1/orders")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[ALLOW], "GET, POST");
    // The server kept serving through all of it.
    assert_eq!(system.get("/v1/items/SKU-1/stock").await["available"], 7);
}
