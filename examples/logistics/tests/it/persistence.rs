//! `--db-dir`: orders and stock counts outlive a restart, and the demo stock is seeded once.

use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient,
};
use example_services::orders::v1::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderService, OrderServiceClient,
};
use rust_svc_runtime::Context;

use crate::common::{Logistics, fresh_dir};

async fn available(system: &Logistics, sku: &str) -> i32 {
    let inventory = InventoryServiceClient::connect_lazy([system.url("inventory")]).unwrap();
    let request = CheckStockRequest {
        sku: sku.into(),
        ..Default::default()
    };
    inventory
        .check_stock(&Context::new(), request)
        .await
        .unwrap()
        .available
}

async fn stop(mut system: Logistics) {
    system.terminate();
    let status = system.exit().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", system.stderr());
}

#[tokio::test]
async fn orders_and_stock_survive_a_restart() {
    let dir = fresh_dir("restart");
    let dir_arg = dir.to_str().unwrap();

    let system = Logistics::all(&["--db-dir", dir_arg]);
    let seeded = available(&system, "SKU-10043").await;
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    let request = CreateOrderRequest {
        order: Some(Order {
            customer_id: "c_persist".into(),
            items: vec![LineItem {
                sku: "SKU-10043".into(),
                quantity: 3,
                unit_price_cents: 100,
            }],
            currency: "USD".into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    let placed = orders.create_order(&Context::new(), request).await.unwrap();
    assert_eq!(available(&system, "SKU-10043").await, seeded - 3);
    stop(system).await;

    let system = Logistics::all(&["--db-dir", dir_arg]);
    assert_eq!(
        available(&system, "SKU-10043").await,
        seeded - 3,
        "not seeded again"
    );
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    let request = GetOrderRequest {
        order_id: placed.order_id.clone(),
        ..Default::default()
    };
    let read = orders.get_order(&Context::new(), request).await.unwrap();
    assert_eq!(read.order_id, placed.order_id);
    assert_eq!(read.items, placed.items);
    stop(system).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn seed_units_stock_a_new_database_and_leave_an_existing_one_alone() {
    let dir = fresh_dir("seed-units");
    let dir_arg = dir.to_str().unwrap();

    let system = Logistics::all(&["--db-dir", dir_arg, "--seed-units", "2000000"]);
    // Two warehouses stock each of these.
    assert_eq!(available(&system, "SKU-10042").await, 4_000_000);
    assert_eq!(available(&system, "SKU-10043").await, 4_000_000);
    assert_eq!(
        available(&system, "SKU-20001").await,
        0,
        "still the out-of-stock example"
    );
    stop(system).await;

    let system = Logistics::all(&["--db-dir", dir_arg, "--seed-units", "5"]);
    assert_eq!(available(&system, "SKU-10042").await, 4_000_000);
    stop(system).await;
    let _ = std::fs::remove_dir_all(&dir);
}
