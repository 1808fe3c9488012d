//! The order desk over SQLite files: what a reopened file holds, and what idempotency keys and
//! revisions guarantee at the storage level.

use std::path::Path;
use std::sync::Arc;

use rust_svc_runtime::Context;

use super::{available, cancel, items, update};
use crate::courier_directory::CourierDirectory;
use crate::db::{self, Location, TempDir};
use crate::inventory_store::InventoryStore;
use crate::order_desk::storage::{self, Book, Inserted};
use crate::order_desk::{OrderDesk, Placed};
use crate::orders::v1::{
    CreateOrderRequest, GetOrderRequest, ListOrdersRequest, Order, OrderService, OrderStatus,
};

type Desk = OrderDesk<InventoryStore, CourierDirectory>;

/// The desk and the inventory it reserves with, both kept in the one file at `path`.
fn open(path: &Path) -> (Desk, InventoryStore) {
    let inventory = InventoryStore::open(path).unwrap();
    let desk = OrderDesk::open(path, inventory.clone(), CourierDirectory::new()).unwrap();
    (desk, inventory)
}

fn create(customer: &str, sku: &str, key: &str) -> CreateOrderRequest {
    let order = Order {
        customer_id: customer.into(),
        items: items(&[(sku, 2, 150)]),
        currency: "EUR".into(),
        ..Default::default()
    };
    CreateOrderRequest {
        order: Some(order),
        idempotency_key: key.into(),
    }
}

async fn all_orders(desk: &Desk) -> Vec<Order> {
    let request = ListOrdersRequest {
        page_size: 100,
        ..Default::default()
    };
    let listed = desk.list_orders(&Context::new(), request).await.unwrap();
    assert_eq!(listed.next_page_token, "");
    listed.orders
}

#[tokio::test]
async fn a_reopened_file_has_every_order_and_gives_out_the_next_ids() {
    let dir = TempDir::new("orders");
    let path = dir.join("system.sqlite");
    let ctx = Context::new();
    let before = {
        let (desk, inventory) = open(&path);
        inventory.set_on_hand("wh_a", "SKU-1", 10).unwrap();
        inventory.set_on_hand("wh_a", "SKU-2", 10).unwrap();
        let first = desk.create_order(&ctx, create("c_1", "SKU-1", "k1")).await;
        let second = desk.create_order(&ctx, create("c_2", "SKU-1", "")).await;
        let third = desk.create_order(&ctx, create("c_1", "SKU-2", "")).await;
        let (first, second, third) = (first.unwrap(), second.unwrap(), third.unwrap());
        assert_eq!(third.order_id, "ord_00000003");
        desk.cancel_order(&ctx, cancel(&second.order_id))
            .await
            .unwrap();
        let changes = Order {
            order_id: first.order_id.clone(),
            items: items(&[("SKU-2", 1, 700), ("SKU-1", 1, 150)]),
            ..Default::default()
        };
        desk.update_order(&ctx, update(changes, &["items"]))
            .await
            .unwrap();
        all_orders(&desk).await
    };
    assert_eq!(before.len(), 3);

    let (desk, inventory) = open(&path);
    assert_eq!(
        all_orders(&desk).await,
        before,
        "every field, items in order"
    );
    // The first order holds one of each, the third two of SKU-2.
    assert_eq!(available(&inventory, "SKU-1").await, 9);
    assert_eq!(available(&inventory, "SKU-2").await, 7);

    // The key still names its order: nothing is reserved again.
    let again = desk
        .create_order(&ctx, create("c_1", "SKU-1", "k1"))
        .await
        .unwrap();
    assert_eq!(again, before[2]);
    assert_eq!(available(&inventory, "SKU-1").await, 9);

    let next = desk
        .create_order(&ctx, create("c_3", "SKU-1", ""))
        .await
        .unwrap();
    assert_eq!(next.order_id, "ord_00000004");
    // The stored reservation ids still mean something to the reopened inventory.
    desk.cancel_order(&ctx, cancel(&before[2].order_id))
        .await
        .unwrap();
    assert_eq!(available(&inventory, "SKU-1").await, 8);
    assert_eq!(available(&inventory, "SKU-2").await, 8);
    let read = GetOrderRequest {
        order_id: before[2].order_id.clone(),
        customer_id: String::new(),
    };
    let cancelled = desk.get_order(&ctx, read).await.unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_key_place_one_order() {
    let dir = TempDir::new("orders");
    let (desk, inventory) = open(&dir.join("system.sqlite"));
    inventory.set_on_hand("wh_a", "SKU-1", 100).unwrap();
    let desk = Arc::new(desk);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let desk = Arc::clone(&desk);
            tokio::spawn(async move {
                let request = create("c_1", "SKU-1", "once");
                desk.create_order(&Context::new(), request).await
            })
        })
        .collect();
    let mut placed = Vec::new();
    for attempt in attempts {
        placed.push(attempt.await.unwrap().unwrap());
    }
    assert!(placed.iter().all(|order| *order == placed[0]));
    assert_eq!(all_orders(&desk).await, [placed[0].clone()]);
    assert_eq!(available(&inventory, "SKU-1").await, 98, "reserved once");
}

fn placed(order_id: &str, customer_id: &str) -> Placed {
    Placed {
        order: Order {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
            items: items(&[("SKU-1", 1, 1)]),
            status: OrderStatus::Pending.into(),
            created_at: Some(rust_svc_runtime::wkt::timestamp(
                std::time::SystemTime::now(),
            )),
            ..Default::default()
        },
        reservation_id: "res_00000001".into(),
        revision: 0,
        cancel_reason: String::new(),
    }
}

/// Two books on one file stand for two processes, which share nothing but the file: the
/// guarantees below come from SQLite, not from the desk's locks.
#[test]
fn the_file_itself_keeps_one_order_per_key_and_one_change_per_revision() {
    let dir = TempDir::new("orders");
    let path = dir.join("orders.sqlite");
    let book = || Book::over(db::open(Location::File(&path), storage::SCHEMA).unwrap()).unwrap();
    let (mut first, mut second) = (book(), book());

    let mine = placed(&first.next_id("ord"), "c_1");
    let theirs = placed("ord_00000002", "c_2");
    assert!(matches!(
        first.insert(&mine, Some("k")).unwrap(),
        Inserted::New
    ));
    match second.insert(&theirs, Some("k")).unwrap() {
        Inserted::Existing(existing) => assert_eq!(existing, mine.order),
        Inserted::New => panic!("one key placed two orders"),
    }
    assert!(second.find("ord_00000002").unwrap().is_none());

    let mut changed = second.find(&mine.order.order_id).unwrap().unwrap();
    changed.order.customer_id = "c_9".into();
    changed.revision = 1;
    assert!(second.save(&changed, 0).unwrap());
    let mut stale = mine.clone();
    stale.order.status = OrderStatus::Cancelled.into();
    stale.revision = 1;
    assert!(!first.save(&stale, 0).unwrap(), "revision 0 is gone");
    let stored = first.find(&mine.order.order_id).unwrap().unwrap();
    assert_eq!(
        (stored.order.customer_id.as_str(), stored.order.status()),
        ("c_9", OrderStatus::Pending)
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_is_an_error_not_a_panic() {
    let dir = TempDir::new("orders");
    // A directory where the file should be.
    let path = dir.join("taken");
    std::fs::create_dir(&path).unwrap();
    let inventory = InventoryStore::new();
    let error = OrderDesk::open(&path, inventory.clone(), CourierDirectory::new()).unwrap_err();
    assert_eq!(error.path(), path);
    let error = InventoryStore::open(&path).unwrap_err();
    assert_eq!(error.path(), path);
}
