//! The example system over REST/JSON, as a browser or curl sees it: the three services served
//! by `ExampleSystem` on a loopback port, called with reqwest. gRPC shares the port and the
//! state (`grpc_shares_the_port_and_the_state`). Errors are in rest_errors.rs.

use std::time::Duration;

use example_services::dispatch::v1::assignment_update::Event;
use example_services::dispatch::v1::{
    AssignmentUpdate, DispatchService, DispatchServiceClient, GeoPoint, GetCourierStatusRequest,
};
use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient, LineItem, ReserveItemsRequest,
};
use example_services::orders::v1::{GetOrderRequest, OrderService, OrderStatus};
use example_services::system::ExampleSystem;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use rust_svc_runtime::{BoxStream, Context};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::rest_common::{Chunks, order_body, start};

#[tokio::test]
async fn an_order_is_placed_read_listed_updated_and_cancelled() {
    let system = start().await;
    let body = order_body("c_42", &[("SKU-1", 2, 250)]);
    let (status, placed) = system
        .call(
            Method::POST,
            "/v1/orders?idempotencyKey=k1",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{placed}");
    let id = placed["orderId"].as_str().unwrap().to_owned();
    assert_eq!(placed["status"], "ORDER_STATUS_PENDING");
    assert_eq!(placed["totalCents"], "500", "int64 is a JSON string");
    assert!(placed["createdAt"].as_str().unwrap().ends_with('Z'));
    // The same key places no second order.
    let (_, again) = system
        .call(Method::POST, "/v1/orders?idempotencyKey=k1", Some(body))
        .await;
    assert_eq!(again, placed);
    assert_eq!(system.get("/v1/items/SKU-1/stock").await["reserved"], 2);

    assert_eq!(system.get(&format!("/v1/orders/{id}")).await, placed);
    assert_eq!(
        system.get(&format!("/v1/customers/c_42/orders/{id}")).await,
        placed
    );
    let (status, _) = system
        .call(Method::GET, &format!("/v1/customers/c_7/orders/{id}"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer's order is not theirs to see"
    );

    system
        .call(
            Method::POST,
            "/v1/orders",
            Some(order_body("c_7", &[("SKU-2", 1, 100)])),
        )
        .await;
    let listed = system.get("/v1/orders?pageSize=1").await;
    assert_eq!(listed["orders"][0]["customerId"], "c_7", "newest first");
    let token = listed["nextPageToken"].as_str().unwrap();
    let next = system
        .get(&format!("/v1/orders?pageSize=1&pageToken={token}"))
        .await;
    assert_eq!(next["orders"][0]["orderId"], id.as_str());
    assert_eq!(
        next.get("nextPageToken"),
        None,
        "the last page has no token"
    );
    let filtered = system
        .get("/v1/orders?filter=customer_id%20%3D%20%22c_42%22%20AND%20status%20%3D%20PENDING")
        .await;
    assert_eq!(filtered["orders"].as_array().unwrap().len(), 1);

    let changes = json!({"items": [{"sku": "SKU-2", "quantity": 3, "unitPriceCents": "100"}], "currency": "EUR"});
    let (status, updated) = system
        .call(
            Method::PATCH,
            &format!("/v1/orders/{id}?updateMask=items"),
            Some(changes),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (updated["totalCents"].as_str(), updated["currency"].as_str()),
        (Some("300"), Some("USD"))
    );
    assert_eq!(
        system.get("/v1/items/SKU-1/stock").await.get("reserved"),
        None,
        "released"
    );
    assert_eq!(system.get("/v1/items/SKU-2/stock").await["reserved"], 4);

    let (status, cancelled) = system
        .call(
            Method::POST,
            &format!("/v1/orders/{id}:cancel"),
            Some(json!({"reason": "changed my mind"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "ORDER_STATUS_CANCELLED");
    assert_eq!(
        system.get("/v1/items/SKU-2/stock").await["reserved"],
        1,
        "c_7's unit only"
    );
}

#[tokio::test]
async fn stock_is_checked_reserved_and_released() {
    let system = start().await;
    let stock = system.get("/v1/items/SKU-1/stock").await;
    assert_eq!(
        (stock["available"].as_i64(), stock["state"].as_str()),
        (Some(7), Some("STOCK_STATE_IN_STOCK"))
    );
    assert_eq!(
        system.get("/v1/items/SKU-1/stock?warehouseId=wh_b").await["available"],
        4
    );

    let reservation = json!({"orderId": "ord_x", "items": [{"sku": "SKU-1", "quantity": 5}], "idempotencyKey": "r1"});
    let (status, reserved) = system
        .call(Method::POST, "/v1/reservations", Some(reservation))
        .await;
    assert_eq!(status, StatusCode::OK, "{reserved}");
    let id = reserved["reservationId"].as_str().unwrap();
    assert!(reserved["expiresAt"].is_string());
    let stock = system.get("/v1/items/SKU-1/stock").await;
    assert_eq!(
        (stock["available"].as_i64(), stock["state"].as_str()),
        (Some(2), Some("STOCK_STATE_LOW"))
    );

    let (status, released) = system
        .call(Method::DELETE, &format!("/v1/reservations/{id}"), None)
        .await;
    assert_eq!(
        (status, released),
        (StatusCode::OK, json!({"released": true}))
    );
    // A second release succeeds and says so; `released: false` is the default, left out.
    let (status, again) = system
        .call(Method::DELETE, &format!("/v1/reservations/{id}"), None)
        .await;
    assert_eq!((status, again), (StatusCode::OK, json!({})));
    assert_eq!(system.get("/v1/items/SKU-1/stock").await["available"], 7);
}

#[tokio::test]
async fn stock_levels_stream_as_ndjson_and_as_server_sent_events() {
    let system = start().await;
    let response = system
        .request(Method::GET, "/v1/items:watch?skus=SKU-1&skus=SKU-2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/x-ndjson");
    let mut lines = Chunks::new(response, b"\n");
    // The current levels first, in the order asked.
    assert_eq!(lines.next_json().await.unwrap()["result"]["sku"], "SKU-1");
    assert_eq!(lines.next_json().await.unwrap()["result"]["available"], 10);

    let events = system
        .request(Method::GET, "/v1/items:watch?skus=SKU-2")
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()[CONTENT_TYPE], "text/event-stream");
    let mut events = Chunks::new(events, b"\n\n");
    assert!(
        events
            .next()
            .await
            .unwrap()
            .starts_with("data: {\"sku\":\"SKU-2\"")
    );

    let reservation = json!({"orderId": "ord_x", "items": [{"sku": "SKU-2", "quantity": 4}]});
    system
        .call(Method::POST, "/v1/reservations", Some(reservation))
        .await;
    let change = lines.next_json().await.unwrap();
    assert_eq!(
        (
            change["result"]["sku"].as_str(),
            change["result"]["available"].as_i64()
        ),
        (Some("SKU-2"), Some(6))
    );
    let event = events.next().await.unwrap();
    let data: Value = serde_json::from_str(event.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["available"], 6);
}

#[tokio::test]
async fn order_updates_stream_until_the_deadline() {
    let system = start().await;
    let (_, placed) = system
        .call(
            Method::POST,
            "/v1/orders",
            Some(order_body("c_1", &[("SKU-1", 1, 1)])),
        )
        .await;
    let id = placed["orderId"].as_str().unwrap().to_owned();
    let response = system
        .request(Method::GET, "/v1/orders:stream?customerId=c_1")
        .header("Grpc-Timeout", "300m")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut lines = Chunks::new(response, b"\n");
    let current = lines.next_json().await.unwrap();
    assert_eq!(current["result"]["status"], "ORDER_STATUS_PENDING");
    system
        .call(
            Method::POST,
            &format!("/v1/orders/{id}:cancel"),
            Some(json!({})),
        )
        .await;
    let cancelled = lines.next_json().await.unwrap();
    assert_eq!(
        cancelled["result"]["previousStatus"],
        "ORDER_STATUS_PENDING"
    );
    assert_eq!(cancelled["result"]["status"], "ORDER_STATUS_CANCELLED");
    // A customer may place more orders, so the stream stays open until the deadline cuts it.
    let end = lines.next_json().await.unwrap();
    assert_eq!(end["error"]["code"], 4, "DEADLINE_EXCEEDED: {end}");
    assert_eq!(lines.next().await, None);

    // Following that one order ends at once: it can no longer change.
    let response = system
        .request(Method::GET, &format!("/v1/orders:stream?orderIds={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{body}");
    assert_eq!(lines[0]["result"]["status"], "ORDER_STATUS_CANCELLED");
}

#[tokio::test]
async fn line_items_upload_as_ndjson() {
    let system = start().await;
    let body = "{\"sku\":\"SKU-1\",\"quantity\":2,\"unitPriceCents\":\"5\"}\n{\"sku\":\"SKU-2\",\"quantity\":0}\n";
    let response = system
        .request(Method::POST, "/v1/orders:uploadItems")
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["acceptedCount"], 1);
    assert_eq!(
        summary["errors"],
        json!(["item 2.quantity: must be at least 1, got 0"])
    );
    assert!(summary["orderId"].as_str().unwrap().starts_with("drf_"));

    let broken = system
        .request(Method::POST, "/v1/orders:uploadItems")
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body("{\"sku\":\"SKU-1\",\"quantity\":1}\n{\"sku\":\n")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn grpc_shares_the_port_and_the_state() {
    let system = start().await;
    let inventory = InventoryServiceClient::new(system.channel());
    let request = ReserveItemsRequest {
        order_id: "ord_grpc".into(),
        items: vec![LineItem {
            sku: "SKU-2".into(),
            quantity: 3,
        }],
        idempotency_key: String::new(),
    };
    inventory
        .reserve_items(&Context::new(), request)
        .await
        .unwrap();
    assert_eq!(system.get("/v1/items/SKU-2/stock").await["available"], 7);

    // A courier goes on shift over gRPC; REST sees it.
    let dispatch = DispatchServiceClient::new(system.channel());
    let (app, updates) = mpsc::unbounded_channel::<AssignmentUpdate>();
    let requests: BoxStream<AssignmentUpdate> = Box::pin(futures_util::stream::unfold(
        updates,
        |mut updates| async move {
            let update = updates.recv().await?;
            Some((Ok(update), updates))
        },
    ));
    let here = GeoPoint {
        latitude: 48.85,
        longitude: 2.35,
    };
    app.send(AssignmentUpdate {
        courier_id: "cour_1".into(),
        sent_at: None,
        event: Some(Event::Location(here)),
    })
    .unwrap();
    let _results = dispatch
        .stream_assignments(&Context::new(), requests)
        .await
        .unwrap();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = system.get("/v1/couriers/cour_1/status").await;
        if status["state"] == "COURIER_STATE_IDLE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status["state"], "COURIER_STATE_IDLE", "{status}");
    assert_eq!(
        status["location"],
        json!({"latitude": 48.85, "longitude": 2.35})
    );
    drop(app);
}

/// tests/openapi/schemathesis.toml names the demo system's ids to get past NOT_FOUND: they must
/// stay what it says.
#[tokio::test]
async fn the_demo_system_has_the_ids_schemathesis_is_given() {
    let demo = ExampleSystem::demo().await;
    let ctx = Context::new();
    let expected = [
        ("ord_00000001", "c_42", OrderStatus::Pending),
        ("ord_00000002", "c_42", OrderStatus::Cancelled),
        ("ord_00000003", "c_7", OrderStatus::Pending),
    ];
    for (order_id, customer_id, status) in expected {
        let request = GetOrderRequest {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
        };
        let order = demo.orders.get_order(&ctx, request).await.unwrap();
        assert_eq!(order.status(), status, "{order_id}");
    }
    for sku in ["SKU-10042", "SKU-10043", "SKU-20001"] {
        for warehouse in ["", "wh_eu_west", "wh_us_east"] {
            let request = CheckStockRequest {
                sku: sku.into(),
                warehouse_id: warehouse.into(),
            };
            demo.inventory.check_stock(&ctx, request).await.unwrap();
        }
    }
    for courier_id in ["cour_1", "cour_2", "cour_3"] {
        let request = GetCourierStatusRequest {
            courier_id: courier_id.into(),
        };
        demo.dispatch
            .get_courier_status(&ctx, request)
            .await
            .unwrap();
    }
}
