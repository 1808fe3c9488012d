//! `logistics demo`: places an order end to end through the orders service, then reads it
//! back, printing each hop of each call as the servers saw it.
//!
//! ```text
//! CreateOrder request-id=0199… idempotency-key=demo-0199…
//! orders     request-id=0199… deadline-left=1998ms rpc=orders.v1.OrderService/CreateOrder
//! inventory  request-id=0199… deadline-left=1990ms rpc=inventory.v1.InventoryService/ReserveItems
//! dispatch   request-id=0199… deadline-left=1987ms rpc=dispatch.v1.DispatchService/RequestCourier
//! placed ord_00000001: 1 x SKU-10042, 12.50 USD, ORDER_STATUS_PENDING, assignment asg_…
//! GetOrder request-id=0199…
//! orders     request-id=0199… deadline-left=499ms rpc=orders.v1.OrderService/GetOrder
//! read ord_00000001: 1 x SKU-10042, 12.50 USD, ORDER_STATUS_PENDING, assignment asg_…
//! ```
//!
//! The deadlines are the generated client's, from orders.proto (2 s to place, 500 ms to read);
//! each server reports what was left of it when the call reached it, so the lines show the
//! budget shrinking along the path. The request id is the demo's own, sent as `x-request-id`,
//! so every hop quoting it shows that the id followed the call.

use example_services::orders::v1::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderService, OrderServiceClient,
    OrderStatus,
};
use rust_svc_runtime::interceptors::RequestId;
use rust_svc_runtime::interceptors::request_id::REQUEST_ID_HEADER;
use rust_svc_runtime::{Context, Status};
use tonic::metadata::AsciiMetadataValue;

use crate::hops::Hop;

/// What to order.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The orders service, `http://host:port`.
    pub orders: String,
    /// The customer placing the order.
    pub customer: String,
    /// The SKU to order (`SKU-20001` is out of stock: the inventory hop refuses it).
    pub sku: String,
    /// How many units.
    pub quantity: i32,
}

/// Runs the demo, printing to stdout; the error names the call that failed.
pub async fn run(demo: &Demo) -> Result<(), String> {
    let client = OrderServiceClient::connect_lazy([&demo.orders])
        .map_err(|error| format!("--orders {}: {error}", demo.orders))?;

    // A new key per run: the same key twice would return the first run's order.
    let idempotency_key = format!("demo-{}", RequestId::generate());
    let order = Order {
        customer_id: demo.customer.clone(),
        items: vec![LineItem {
            sku: demo.sku.clone(),
            quantity: demo.quantity,
            unit_price_cents: 1250,
        }],
        currency: "USD".to_owned(),
        ..Default::default()
    };
    let request = CreateOrderRequest {
        order: Some(order),
        idempotency_key: idempotency_key.clone(),
    };
    let (ctx, request_id) = call_context();
    println!("CreateOrder request-id={request_id} idempotency-key={idempotency_key}");
    let placed = client.create_order(&ctx, request).await;
    print_hops(&ctx);
    let placed = placed.map_err(|status| failed("CreateOrder", &demo.orders, &status))?;
    println!("placed {}", summary(&placed));

    let (ctx, request_id) = call_context();
    println!("GetOrder request-id={request_id}");
    let request = GetOrderRequest {
        order_id: placed.order_id.clone(),
        ..Default::default()
    };
    let read = client.get_order(&ctx, request).await;
    print_hops(&ctx);
    let read = read.map_err(|status| failed("GetOrder", &demo.orders, &status))?;
    println!("read {}", summary(&read));
    Ok(())
}

/// A context carrying a new request id, and the id.
fn call_context() -> (Context, RequestId) {
    let id = RequestId::generate();
    let mut ctx = Context::new();
    // A UUID is printable ASCII, so always a valid value.
    if let Ok(value) = AsciiMetadataValue::try_from(id.as_str()) {
        ctx.outgoing_metadata_mut().insert(REQUEST_ID_HEADER, value);
    }
    (ctx, id)
}

/// The hops the servers reported for the call made with `ctx`, a line each.
fn print_hops(ctx: &Context) {
    let hops = Hop::all_in(&ctx.response().headers());
    if hops.is_empty() {
        println!("(the server reported no hops: is it a logistics server?)");
    }
    for hop in hops {
        println!("{hop}");
    }
}

fn failed(rpc: &str, orders: &str, status: &Status) -> String {
    format!(
        "{rpc} at {orders} failed: {:?}: {}",
        status.code(),
        status.message()
    )
}

/// `ord_…: 1 x SKU-10042, 12.50 USD, ORDER_STATUS_PENDING, assignment asg_…`.
fn summary(order: &Order) -> String {
    let items: Vec<String> = order
        .items
        .iter()
        .map(|item| format!("{} x {}", item.quantity, item.sku))
        .collect();
    let status = OrderStatus::try_from(order.status)
        .map_or_else(|_| order.status.to_string(), |s| s.as_str_name().to_owned());
    let assignment = match order.assignment_id.as_str() {
        "" => "none",
        id => id,
    };
    format!(
        "{}: {}, {}.{:02} {}, {status}, assignment {assignment}",
        order.order_id,
        items.join(" + "),
        order.total_cents / 100,
        order.total_cents % 100,
        order.currency,
    )
}
