//! The order desk against the real in-memory inventory and courier directory; `with_fakes`
//! and tests/it/order_desk.rs use the generated fakes.

use std::sync::Arc;

use futures_util::{StreamExt, stream};
use rust_svc_runtime::wkt::FieldMask;
use rust_svc_runtime::{Code, Context, Status};

use super::*;
use crate::courier_directory::CourierDirectory;
use crate::inventory::v1::CheckStockRequest;
use crate::inventory_store::InventoryStore;

mod storage;
mod with_fakes;

type Desk = OrderDesk<InventoryStore, CourierDirectory>;

fn desk() -> (Desk, InventoryStore) {
    let inventory = InventoryStore::new();
    inventory.set_on_hand("wh_a", "SKU-1", 10).unwrap();
    inventory.set_on_hand("wh_a", "SKU-2", 10).unwrap();
    let desk = OrderDesk::new(inventory.clone(), CourierDirectory::new());
    (desk, inventory)
}

fn items(lines: &[(&str, i32, i64)]) -> Vec<LineItem> {
    lines
        .iter()
        .map(|&(sku, quantity, unit_price_cents)| LineItem {
            sku: sku.into(),
            quantity,
            unit_price_cents,
        })
        .collect()
}

async fn place(desk: &Desk, customer: &str, lines: &[(&str, i32, i64)]) -> Order {
    let order = Order {
        customer_id: customer.into(),
        items: items(lines),
        currency: "EUR".into(),
        ..Default::default()
    };
    let request = CreateOrderRequest {
        order: Some(order),
        idempotency_key: String::new(),
    };
    desk.create_order(&Context::new(), request).await.unwrap()
}

async fn available(inventory: &InventoryStore, sku: &str) -> i32 {
    let request = CheckStockRequest {
        sku: sku.into(),
        warehouse_id: String::new(),
    };
    let stock = inventory
        .check_stock(&Context::new(), request)
        .await
        .unwrap();
    stock.available
}

fn update(order: Order, paths: &[&str]) -> UpdateOrderRequest {
    UpdateOrderRequest {
        order: Some(order),
        update_mask: (!paths.is_empty()).then(|| FieldMask::new(paths.iter().copied())),
    }
}

fn cancel(order_id: &str) -> CancelOrderRequest {
    CancelOrderRequest {
        order_id: order_id.into(),
        reason: String::new(),
    }
}

#[tokio::test]
async fn an_update_reserves_the_new_items_and_releases_the_old() {
    let (desk, inventory) = desk();
    let placed = place(&desk, "c_1", &[("SKU-1", 4, 100)]).await;
    assert_eq!(available(&inventory, "SKU-1").await, 6);

    let changes = Order {
        order_id: placed.order_id.clone(),
        items: items(&[("SKU-2", 3, 50)]),
        currency: "USD".into(),
        ..Default::default()
    };
    // Only the masked field changes: the currency stays.
    let updated = desk
        .update_order(&Context::new(), update(changes.clone(), &["items"]))
        .await
        .unwrap();
    assert_eq!(updated.items, changes.items);
    assert_eq!(
        (updated.total_cents, updated.currency.as_str()),
        (150, "EUR")
    );
    assert_eq!(available(&inventory, "SKU-1").await, 10);
    assert_eq!(available(&inventory, "SKU-2").await, 7);

    // Without a mask, the fields set in the body change.
    let recurrency = Order {
        order_id: placed.order_id.clone(),
        currency: "USD".into(),
        ..Default::default()
    };
    let updated = desk
        .update_order(&Context::new(), update(recurrency, &[]))
        .await
        .unwrap();
    assert_eq!((updated.currency.as_str(), updated.items.len()), ("USD", 1));
    let fetched = desk
        .get_order(
            &Context::new(),
            GetOrderRequest {
                order_id: placed.order_id.clone(),
                customer_id: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fetched, updated);

    // Cancelling releases the reservation the update made.
    desk.cancel_order(&Context::new(), cancel(&placed.order_id))
        .await
        .unwrap();
    assert_eq!(available(&inventory, "SKU-2").await, 10);
}

#[tokio::test]
async fn bad_updates_are_refused_without_touching_stock() {
    let (desk, inventory) = desk();
    let placed = place(&desk, "c_1", &[("SKU-1", 1, 100)]).await;
    let id = placed.order_id.clone();
    let with = |changes: Order| Order {
        order_id: id.clone(),
        ..changes
    };
    let cases = [
        (
            update(with(Order::default()), &["status"]),
            Code::InvalidArgument,
        ),
        (
            update(with(Order::default()), &["total_cents"]),
            Code::InvalidArgument,
        ),
        (
            update(with(Order::default()), &["items.sku"]),
            Code::InvalidArgument,
        ),
        (
            update(with(Order::default()), &["items"]),
            Code::InvalidArgument,
        ),
        (
            update(with(Order::default()), &["customer_id"]),
            Code::InvalidArgument,
        ),
        (
            update(
                with(Order {
                    currency: "usd".into(),
                    ..Default::default()
                }),
                &[],
            ),
            Code::InvalidArgument,
        ),
        (
            update(
                with(Order {
                    items: items(&[("SKU-1", 11, 1)]),
                    ..Default::default()
                }),
                &[],
            ),
            Code::FailedPrecondition,
        ),
        (update(Order::default(), &[]), Code::InvalidArgument),
        (
            update(
                Order {
                    order_id: "ord_404".into(),
                    ..Default::default()
                },
                &[],
            ),
            Code::NotFound,
        ),
        (UpdateOrderRequest::default(), Code::InvalidArgument),
    ];
    for (request, code) in cases {
        let status = desk
            .update_order(&Context::new(), request.clone())
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{request:?}: {status:?}");
    }
    assert_eq!(available(&inventory, "SKU-1").await, 9);

    // An empty update changes nothing; a cancelled order cannot be updated.
    let same = desk
        .update_order(&Context::new(), update(with(Order::default()), &[]))
        .await
        .unwrap();
    assert_eq!(same, placed);
    desk.cancel_order(&Context::new(), cancel(&id))
        .await
        .unwrap();
    let refused = desk
        .update_order(
            &Context::new(),
            update(
                with(Order {
                    currency: "USD".into(),
                    ..Default::default()
                }),
                &[],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn orders_are_listed_by_filter_page_by_page() {
    let (desk, _) = desk();
    let mut placed = Vec::new();
    for customer in ["c_1", "c_2", "c_1", "c_1"] {
        placed.push(place(&desk, customer, &[("SKU-1", 1, 1)]).await.order_id);
    }
    desk.cancel_order(&Context::new(), cancel(&placed[2]))
        .await
        .unwrap();
    let ctx = Context::new();
    let list = |filter: &str, status_filter: OrderStatus, page_token: &str| {
        #[allow(deprecated)]
        let request = ListOrdersRequest {
            page_size: 1,
            page_token: page_token.into(),
            filter: filter.into(),
            status_filter: status_filter.into(),
        };
        desk.list_orders(&ctx, request)
    };
    let first = list(r#"customer_id = "c_1""#, OrderStatus::Unspecified, "")
        .await
        .unwrap();
    assert_eq!(first.orders[0].order_id, placed[3]);
    let second = list(
        r#"customer_id = "c_1""#,
        OrderStatus::Unspecified,
        &first.next_page_token,
    )
    .await
    .unwrap();
    assert_eq!(second.orders[0].order_id, placed[2]);
    let third = list(
        r#"customer_id = "c_1""#,
        OrderStatus::Unspecified,
        &second.next_page_token,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            third.orders[0].order_id.as_str(),
            third.next_page_token.as_str()
        ),
        (placed[0].as_str(), "")
    );

    let cancelled = list("status = CANCELLED", OrderStatus::Unspecified, "")
        .await
        .unwrap();
    assert_eq!(cancelled.orders[0].order_id, placed[2]);
    let deprecated = list("customer_id = c_2", OrderStatus::Pending, "")
        .await
        .unwrap();
    assert_eq!(deprecated.orders[0].order_id, placed[1]);

    let bad = list("total = 1", OrderStatus::Unspecified, "")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn following_orders_starts_with_their_status_and_ends_when_all_are_final() {
    let (desk, _) = desk();
    let first = place(&desk, "c_1", &[("SKU-1", 1, 1)]).await;
    let second = place(&desk, "c_1", &[("SKU-2", 1, 1)]).await;
    let request = StreamOrderUpdatesRequest {
        customer_id: String::new(),
        order_ids: vec![first.order_id.clone(), second.order_id.clone()],
    };
    let updates = desk
        .stream_order_updates(&Context::new(), request)
        .await
        .unwrap();
    for order in [&first, &second] {
        desk.cancel_order(&Context::new(), cancel(&order.order_id))
            .await
            .unwrap();
    }
    let seen: Vec<_> = updates
        .map(|update| {
            let update = update.unwrap();
            let statuses = (update.previous_status(), update.status());
            (update.order_id, statuses.0, statuses.1)
        })
        .collect()
        .await;
    let pending = OrderStatus::Pending;
    let cancelled = OrderStatus::Cancelled;
    assert_eq!(
        seen,
        [
            (first.order_id.clone(), pending, pending),
            (second.order_id.clone(), pending, pending),
            (first.order_id.clone(), pending, cancelled),
            (second.order_id.clone(), pending, cancelled),
        ],
        "the stream ended after the last order became final"
    );
}

#[tokio::test]
async fn following_a_customer_includes_their_new_orders() {
    let (desk, _) = desk();
    let first = place(&desk, "c_1", &[("SKU-1", 1, 1)]).await;
    let request = StreamOrderUpdatesRequest {
        customer_id: "c_1".into(),
        order_ids: vec![],
    };
    let mut updates = desk
        .stream_order_updates(&Context::new(), request)
        .await
        .unwrap();
    assert_eq!(
        updates.next().await.unwrap().unwrap().order_id,
        first.order_id
    );
    place(&desk, "c_2", &[("SKU-1", 1, 1)]).await;
    let second = place(&desk, "c_1", &[("SKU-1", 1, 1)]).await;
    let placed = updates.next().await.unwrap().unwrap();
    assert_eq!(
        placed.order_id, second.order_id,
        "c_2's order is not followed"
    );
    assert_eq!(
        (placed.previous_status(), placed.status()),
        (OrderStatus::Unspecified, OrderStatus::Pending)
    );
}

#[tokio::test]
async fn a_follow_must_name_something_that_exists() {
    let (desk, _) = desk();
    place(&desk, "c_1", &[("SKU-1", 1, 1)]).await;
    let follow = |customer_id: &str, order_ids: &[&str]| StreamOrderUpdatesRequest {
        customer_id: customer_id.into(),
        order_ids: order_ids.iter().map(|&id| id.into()).collect(),
    };
    let cases = [
        (follow("", &[]), Code::InvalidArgument),
        (follow("c_9", &[]), Code::NotFound),
        (follow("", &["ord_404"]), Code::NotFound),
        (follow("", &[""]), Code::InvalidArgument),
        (
            follow("", &["x"; streams::MAX_FOLLOWED_ORDERS + 1]),
            Code::InvalidArgument,
        ),
    ];
    for (request, code) in cases {
        let status = desk
            .stream_order_updates(&Context::new(), request.clone())
            .await
            .err()
            .unwrap();
        assert_eq!(status.code(), code, "{request:?}");
    }
}

fn upload(lines: Vec<Result<LineItem, Status>>) -> BoxStream<LineItem> {
    Box::pin(stream::iter(lines))
}

#[tokio::test]
async fn an_upload_keeps_the_valid_items_in_a_draft() {
    let (desk, _) = desk();
    let lines = items(&[
        ("SKU-1", 2, 10),
        ("", 1, 1),
        ("SKU-2", 0, 1),
        ("SKU-1", 1, 1),
    ]);
    let summary = desk
        .upload_order_items(
            &Context::new(),
            upload(lines.clone().into_iter().map(Ok).collect()),
        )
        .await
        .unwrap();
    assert_eq!((summary.accepted_count, summary.rejected_count), (1, 3));
    assert_eq!(
        summary.errors,
        [
            "item 2.sku: required",
            "item 3.quantity: must be at least 1, got 0",
            "item 4: SKU-1 is already in the draft",
        ]
    );
    assert_eq!(desk.draft(&summary.order_id).unwrap(), lines[..1]);

    let nothing_valid = desk
        .upload_order_items(&Context::new(), upload(vec![Ok(lines[1].clone())]))
        .await
        .unwrap();
    assert_eq!(
        (
            nothing_valid.order_id.as_str(),
            nothing_valid.rejected_count
        ),
        ("", 1)
    );

    let empty = desk
        .upload_order_items(&Context::new(), upload(vec![]))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    let broken = vec![
        Ok(lines[0].clone()),
        Err(Status::invalid_argument("line 2: bad JSON")),
    ];
    let failed = desk
        .upload_order_items(&Context::new(), upload(broken))
        .await
        .unwrap_err();
    assert_eq!(failed.message(), "line 2: bad JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_orders_never_oversell() {
    let (desk, inventory) = desk();
    let desk = Arc::new(desk);
    let attempts = (0..40).map(|index| {
        let desk = Arc::clone(&desk);
        tokio::spawn(async move {
            let order = Order {
                customer_id: format!("c_{index}"),
                items: items(&[("SKU-1", 1, 1)]),
                ..Default::default()
            };
            let request = CreateOrderRequest {
                order: Some(order),
                idempotency_key: String::new(),
            };
            desk.create_order(&Context::new(), request).await
        })
    });
    let mut placed = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Ok(_) => placed += 1,
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition),
        }
    }
    assert_eq!(placed, 10, "exactly the stock on hand");
    assert_eq!(available(&inventory, "SKU-1").await, 0);
}
