//! End to end over REST/JSON, and what else the ports answer over plain HTTP: CORS
//! preflights, `/metrics`, and the web page on the orders port.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::common::{Logistics, http};
use crate::rest_common::Chunks;

fn order_body(sku: &str, quantity: i32) -> Value {
    json!({
        "customerId": "c_rest",
        "items": [{"sku": sku, "quantity": quantity, "unitPriceCents": "1250"}],
        "currency": "USD",
    })
}

async fn place(system: &Logistics, sku: &str) -> Value {
    let response = http()
        .post(format!("{}/v1/orders", system.url("orders")))
        .json(&order_body(sku, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_order_placed_over_rest_reports_its_hops_and_reads_back() {
    let system = Logistics::all(&[]);
    let response = http()
        .post(format!("{}/v1/orders", system.url("orders")))
        .header("x-request-id", "rest-test-1")
        .json(&order_body("SKU-10042", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Response metadata travels as Grpc-Metadata-* headers, one per hop.
    let hops: Vec<String> = response
        .headers()
        .get_all("grpc-metadata-x-hop")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let rpcs: Vec<&str> = hops
        .iter()
        .map(|hop| hop.split(';').next().unwrap())
        .collect();
    assert_eq!(
        rpcs,
        [
            "rpc=orders.v1.OrderService/CreateOrder",
            "rpc=inventory.v1.InventoryService/ReserveItems",
            "rpc=dispatch.v1.DispatchService/RequestCourier",
        ]
    );
    assert!(
        hops.iter()
            .all(|hop| hop.ends_with(";request-id=rest-test-1")),
        "{hops:?}"
    );
    let placed: Value = response.json().await.unwrap();
    assert_eq!(placed["status"], "ORDER_STATUS_PENDING");
    assert_eq!(placed["totalCents"], "2500");

    let id = placed["orderId"].as_str().unwrap();
    let read: Value = http()
        .get(format!("{}/v1/orders/{id}", system.url("orders")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, placed);

    let stock: Value = http()
        .get(format!(
            "{}/v1/items/SKU-10042/stock",
            system.url("inventory")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stock["available"], 148, "150 in the demo stock, 2 reserved");
}

#[tokio::test]
async fn order_updates_stream_as_ndjson_and_as_server_sent_events() {
    let system = Logistics::all(&[]);
    let placed = place(&system, "SKU-10042").await;
    let id = placed["orderId"].as_str().unwrap().to_owned();
    let stream_url = format!("{}/v1/orders:stream?orderIds={id}", system.url("orders"));

    let response = http().get(&stream_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/x-ndjson");
    let mut lines = Chunks::new(response, b"\n");
    let current: Value = serde_json::from_str(&lines.next().await.unwrap()).unwrap();
    assert_eq!(current["result"]["orderId"], id.as_str());
    assert_eq!(current["result"]["status"], "ORDER_STATUS_PENDING");

    let cancel = http()
        .post(format!("{}/v1/orders/{id}:cancel", system.url("orders")))
        .json(&json!({"reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    let cancelled: Value = serde_json::from_str(&lines.next().await.unwrap()).unwrap();
    assert_eq!(cancelled["result"]["status"], "ORDER_STATUS_CANCELLED");

    // The same rpc as Server-Sent Events when the client accepts them.
    let events = http()
        .get(&stream_url)
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()[CONTENT_TYPE], "text/event-stream");
    let mut events = Chunks::new(events, b"\n\n");
    let event = events.next().await.unwrap();
    let data: Value = serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["orderId"], id.as_str());
    assert_eq!(data["status"], "ORDER_STATUS_CANCELLED");
}

#[tokio::test]
async fn cors_preflights_are_answered_for_rest_and_grpc_web() {
    let system = Logistics::all(&["--cors-origin", "https://shop.example"]);
    let rest = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/orders", system.url("orders")),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(rest.status().is_success(), "{}", rest.status());
    let headers = rest.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"),
        "{headers:?}"
    );

    let grpc_web = http()
        .request(
            reqwest::Method::OPTIONS,
            format!(
                "{}/inventory.v1.InventoryService/CheckStock",
                system.url("inventory")
            ),
        )
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web")
        .send()
        .await
        .unwrap();
    assert!(grpc_web.status().is_success(), "{}", grpc_web.status());
    assert_eq!(
        grpc_web.headers()["access-control-allow-origin"],
        "https://shop.example"
    );

    // An origin not allowed gets no CORS headers: the browser refuses the response.
    let other = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/orders", system.url("orders")),
        )
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn metrics_count_the_calls_handled() {
    let system = Logistics::all(&[]);
    place(&system, "SKU-10042").await;
    let response = http()
        .get(format!("{}/metrics", system.url("orders")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let handled = text.lines().find(|line| {
        line.starts_with("grpc_server_handled_total{")
            && line.contains("grpc_method=\"CreateOrder\"")
            && line.contains("grpc_code=\"OK\"")
    });
    let handled = handled.unwrap_or_else(|| panic!("no CreateOrder count in:\n{text}"));
    assert!(handled.ends_with(" 1"), "{handled}");
}

#[tokio::test]
async fn the_orders_port_serves_the_web_page() {
    let system = Logistics::all(&[]);
    let response = http()
        .get(format!("{}/", system.url("orders")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html")).unwrap();
    assert_eq!(response.text().await.unwrap(), page);

    // Only there: on the other ports `/` is an unknown REST path.
    let elsewhere = http()
        .get(format!("{}/", system.url("inventory")))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
}
