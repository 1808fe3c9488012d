//! End to end over gRPC and gRPC-Web: `logistics all` on three loopback ports, called through
//! the generated clients as another service would.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryServiceClient,
};
use example_services::orders::v1::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderService, OrderServiceClient,
    OrderStatus,
};
use prost::Message;
use rust_svc_runtime::{Code, Context};

use crate::common::{Logistics, available, http};

fn order(sku: &str, quantity: i32) -> CreateOrderRequest {
    CreateOrderRequest {
        order: Some(Order {
            customer_id: "c_grpc".into(),
            items: vec![LineItem {
                sku: sku.into(),
                quantity,
                unit_price_cents: 499,
            }],
            currency: "USD".into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

#[tokio::test]
async fn an_order_reserves_stock_in_the_inventory_process_and_gets_a_courier() {
    let system = Logistics::all(&[]);
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    let inventory = InventoryServiceClient::connect_lazy([system.url("inventory")]).unwrap();
    let before = available(&inventory, "SKU-10043").await;

    let placed = orders
        .create_order(&Context::new(), order("SKU-10043", 2))
        .await
        .unwrap();
    assert_eq!(placed.status, OrderStatus::Pending as i32);
    assert_eq!(placed.total_cents, 998);
    assert!(
        !placed.assignment_id.is_empty(),
        "dispatch was asked for a courier: {placed:?}"
    );
    assert_eq!(available(&inventory, "SKU-10043").await, before - 2);

    let request = GetOrderRequest {
        order_id: placed.order_id.clone(),
        ..Default::default()
    };
    let read = orders.get_order(&Context::new(), request).await.unwrap();
    assert_eq!(read, placed);
}

#[tokio::test]
async fn inventory_refusing_the_order_is_the_callers_answer() {
    let system = Logistics::all(&[]);
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    // The demo stock has none of SKU-20001.
    let refused = orders
        .create_order(&Context::new(), order("SKU-20001", 1))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
}

#[tokio::test]
async fn orders_balance_their_calls_over_several_inventories() {
    let inventories = [
        Logistics::spawn(&["inventory", "--listen", "127.0.0.1:0"], &["inventory"]),
        Logistics::spawn(&["inventory", "--listen", "127.0.0.1:0"], &["inventory"]),
    ];
    let dispatch = Logistics::spawn(&["dispatch", "--listen", "127.0.0.1:0"], &["dispatch"]);
    let urls = inventories
        .each_ref()
        .map(|inventory| inventory.url("inventory"));
    let system = Logistics::spawn(
        &[
            "orders",
            "--listen",
            "127.0.0.1:0",
            "--inventory",
            &urls.join(","),
            "--dispatch",
            &dispatch.url("dispatch"),
        ],
        &["orders"],
    );
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    for _ in 0..2 {
        orders
            .create_order(&Context::new(), order("SKU-10043", 1))
            .await
            .unwrap();
    }
    // Round robin: one reservation in each inventory (they do not share stock).
    for url in urls {
        let inventory = InventoryServiceClient::connect_lazy([&url]).unwrap();
        assert_eq!(available(&inventory, "SKU-10043").await, 43, "{url}");
    }
}

#[tokio::test]
async fn every_hop_reports_the_callers_request_id_and_a_shrinking_deadline() {
    let system = Logistics::all(&[]);
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    let mut ctx = Context::new().with_timeout(Duration::from_secs(5));
    ctx.outgoing_metadata_mut()
        .insert("x-request-id", "grpc-test-1".parse().unwrap());
    orders
        .create_order(&ctx, order("SKU-10042", 1))
        .await
        .unwrap();

    let hops: Vec<String> = ctx
        .response()
        .headers()
        .get_all("x-hop")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let hops: Vec<(&str, u128, &str)> = hops.iter().map(|hop| parse_hop(hop)).collect();
    let services: Vec<&str> = hops.iter().map(|(rpc, _, _)| *rpc).collect();
    assert_eq!(
        services,
        [
            "orders.v1.OrderService/CreateOrder",
            "inventory.v1.InventoryService/ReserveItems",
            "dispatch.v1.DispatchService/RequestCourier",
        ]
    );
    for (rpc, _, request_id) in &hops {
        assert_eq!(*request_id, "grpc-test-1", "{rpc}");
    }
    // Each dependency is called with what is left of the order's budget (or less, its own
    // method deadline), never more.
    let (_, orders_left, _) = hops[0];
    assert!(orders_left <= 5000);
    for (rpc, left, _) in &hops[1..] {
        assert!(*left <= orders_left, "{rpc}: {left} ms > {orders_left} ms");
    }
    assert_eq!(
        ctx.response().headers().get("x-request-id").unwrap(),
        "grpc-test-1"
    );
}

/// `(rpc, deadline left in ms, request id)` of an `x-hop` value.
fn parse_hop(value: &str) -> (&str, u128, &str) {
    let mut parts = value.splitn(3, ';');
    let rpc = parts.next().unwrap().strip_prefix("rpc=").unwrap();
    let left = parts.next().unwrap().strip_prefix("deadline-left-ms=");
    let request_id = parts.next().unwrap().strip_prefix("request-id=").unwrap();
    (rpc, left.unwrap().parse().unwrap(), request_id)
}

#[tokio::test]
async fn grpc_web_over_http1_reaches_the_same_service() {
    let system = Logistics::all(&[]);
    let request = CheckStockRequest {
        sku: "SKU-10042".into(),
        ..Default::default()
    };
    // reqwest speaks HTTP/1.1 to a plain http:// URL, as browsers do without TLS.
    let response = http()
        .post(format!(
            "{}/inventory.v1.InventoryService/CheckStock",
            system.url("inventory")
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame(0, &request.encode_to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let mut body = response.bytes().await.unwrap();
    let (flags, message) = unframe(&mut body);
    assert_eq!(flags, 0, "a message first");
    let stock = CheckStockResponse::decode(message).unwrap();
    assert_eq!(stock.sku, "SKU-10042");
    assert_eq!(stock.available, 150, "120 + 30 in the demo stock");
    let (flags, trailers) = unframe(&mut body);
    assert_eq!(flags, 0x80, "then the trailers");
    let trailers = String::from_utf8(trailers.to_vec()).unwrap();
    assert!(
        trailers.lines().any(|line| line.trim() == "grpc-status:0"),
        "{trailers}"
    );
}

/// A gRPC(-Web) frame: a flags byte, the length, the payload.
fn frame(flags: u8, payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(5 + payload.len());
    frame.put_u8(flags);
    frame.put_u32(u32::try_from(payload.len()).unwrap());
    frame.put_slice(payload);
    frame.freeze()
}

fn unframe(body: &mut Bytes) -> (u8, Bytes) {
    let flags = body.get_u8();
    let len = usize::try_from(body.get_u32()).unwrap();
    (flags, body.split_to(len))
}
