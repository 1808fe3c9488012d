use std::time::Duration;

use futures_util::StreamExt;
use rust_svc_runtime::{Code, Context, Status};
use tonic_types::StatusExt;

use super::*;
use crate::inventory::v1::LineItem;

fn stocked() -> InventoryStore {
    let store = InventoryStore::new();
    store.set_on_hand("wh_a", "SKU-1", 3).unwrap();
    store.set_on_hand("wh_b", "SKU-1", 4).unwrap();
    store.set_on_hand("wh_a", "SKU-2", 10).unwrap();
    store
}

fn reserve(items: &[(&str, i32)], key: &str) -> ReserveItemsRequest {
    ReserveItemsRequest {
        order_id: "ord_1".into(),
        items: items
            .iter()
            .map(|&(sku, quantity)| LineItem {
                sku: sku.into(),
                quantity,
            })
            .collect(),
        idempotency_key: key.into(),
    }
}

async fn check(store: &InventoryStore, sku: &str, warehouse: &str) -> Result<(i32, i32), Status> {
    let request = CheckStockRequest {
        sku: sku.into(),
        warehouse_id: warehouse.into(),
    };
    let stock = store.check_stock(&Context::new(), request).await?;
    Ok((stock.available, stock.reserved))
}

async fn release(store: &InventoryStore, id: &str) -> Result<bool, Status> {
    let request = ReleaseReservationRequest {
        reservation_id: id.into(),
    };
    let released = store.release_reservation(&Context::new(), request).await?;
    Ok(released.released)
}

#[tokio::test]
async fn stock_is_summed_over_warehouses_or_read_from_one() {
    let store = stocked();
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (7, 0));
    assert_eq!(check(&store, "SKU-1", "wh_b").await.unwrap(), (4, 0));
    // A known warehouse that does not stock the SKU has none of it.
    assert_eq!(check(&store, "SKU-2", "wh_b").await.unwrap(), (0, 0));
    let state = store
        .check_stock(
            &Context::new(),
            CheckStockRequest {
                sku: "SKU-1".into(),
                warehouse_id: "wh_a".into(),
            },
        )
        .await
        .unwrap()
        .state();
    assert_eq!(state, StockState::Low);

    let unknown_sku = check(&store, "SKU-9", "").await.unwrap_err();
    let unknown_warehouse = check(&store, "SKU-1", "wh_z").await.unwrap_err();
    let no_sku = check(&store, "", "").await.unwrap_err();
    assert_eq!(unknown_sku.code(), Code::NotFound);
    assert_eq!(unknown_warehouse.message(), "warehouse wh_z not found");
    assert_eq!(no_sku.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_reservation_holds_units_across_warehouses_until_released() {
    let store = stocked();
    let ctx = Context::new();
    let held = store
        .reserve_items(&ctx, reserve(&[("SKU-1", 5), ("SKU-2", 1)], ""))
        .await
        .unwrap();
    assert!(held.expires_at.is_some());
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (2, 5));
    // Warehouses are drawn in name order: wh_a is emptied first.
    assert_eq!(check(&store, "SKU-1", "wh_a").await.unwrap(), (0, 3));
    assert_eq!(check(&store, "SKU-1", "wh_b").await.unwrap(), (2, 2));

    assert!(release(&store, &held.reservation_id).await.unwrap());
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (7, 0));
    assert_eq!(check(&store, "SKU-2", "").await.unwrap(), (10, 0));
    assert!(
        !release(&store, &held.reservation_id).await.unwrap(),
        "once"
    );

    let unknown = release(&store, "res_404").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        release(&store, "").await.unwrap_err().code(),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn a_shortage_reserves_nothing_and_names_the_sku() {
    let store = stocked();
    let refused = store
        .reserve_items(&Context::new(), reserve(&[("SKU-2", 2), ("SKU-1", 8)], ""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.message(), "SKU-1: 7 available, 8 requested");
    let details = refused.get_error_details();
    let violation = &details.precondition_failure().unwrap().violations[0];
    assert_eq!(
        (violation.r#type.as_str(), violation.subject.as_str()),
        ("STOCK", "SKU-1")
    );
    assert_eq!(
        check(&store, "SKU-2", "").await.unwrap(),
        (10, 0),
        "nothing held"
    );

    // An unknown SKU has no units to reserve.
    let unknown = store
        .reserve_items(&Context::new(), reserve(&[("SKU-9", 1)], ""))
        .await
        .unwrap_err();
    assert_eq!(unknown.message(), "SKU-9: 0 available, 1 requested");
}

#[tokio::test]
async fn bad_reservations_name_the_field() {
    let store = stocked();
    let cases = [
        (reserve(&[], ""), "items: reserve at least one item"),
        (reserve(&[("", 1)], ""), "items[0].sku: required"),
        (
            reserve(&[("SKU-1", 0)], ""),
            "items[0].quantity: must be at least 1, got 0",
        ),
        (
            reserve(&[("SKU-1", 1), ("SKU-1", 1)], ""),
            "items[1].sku: SKU-1 appears more than once",
        ),
        (
            ReserveItemsRequest {
                order_id: String::new(),
                ..reserve(&[("SKU-1", 1)], "")
            },
            "order_id: required",
        ),
    ];
    for (request, message) in cases {
        let status = store
            .reserve_items(&Context::new(), request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), message);
        let field = message.split(':').next().unwrap();
        let details = status.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            field
        );
    }
}

#[tokio::test]
async fn the_same_key_returns_the_first_reservation() {
    let store = stocked();
    let ctx = Context::new();
    let first = store
        .reserve_items(&ctx, reserve(&[("SKU-2", 4)], "k1"))
        .await
        .unwrap();
    let again = store
        .reserve_items(&ctx, reserve(&[("SKU-2", 4)], "k1"))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        check(&store, "SKU-2", "").await.unwrap(),
        (6, 4),
        "held once"
    );
    let unkeyed = store
        .reserve_items(&ctx, reserve(&[("SKU-2", 4)], ""))
        .await
        .unwrap();
    assert_ne!(unkeyed.reservation_id, first.reservation_id);
}

#[tokio::test(start_paused = true)]
async fn a_reservation_lapses_after_its_time_to_live() {
    let store = InventoryStore::with_reservation_ttl(Duration::from_secs(60));
    store.set_on_hand("wh_a", "SKU-1", 2).unwrap();
    let held = store
        .reserve_items(&Context::new(), reserve(&[("SKU-1", 2)], ""))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (0, 2));
    tokio::time::advance(Duration::from_secs(1)).await;
    // Releasing sweeps first: the lapsed reservation has already given its units back.
    assert!(!release(&store, &held.reservation_id).await.unwrap());
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (2, 0));
}

#[tokio::test]
async fn counts_are_checked() {
    let store = stocked();
    store
        .reserve_items(&Context::new(), reserve(&[("SKU-2", 8)], ""))
        .await
        .unwrap();
    let below_reserved = store.set_on_hand("wh_a", "SKU-2", 7).unwrap_err();
    assert_eq!(below_reserved.code(), Code::FailedPrecondition);
    let negative = store.set_on_hand("wh_a", "SKU-2", -1).unwrap_err();
    assert_eq!(negative.code(), Code::InvalidArgument);
    store.set_on_hand("wh_a", "SKU-2", 8).unwrap();
    assert_eq!(check(&store, "SKU-2", "").await.unwrap(), (0, 8));
}

#[tokio::test]
async fn a_watch_starts_with_the_levels_then_follows_changes() {
    let store = stocked();
    let request = WatchStockLevelsRequest {
        skus: vec!["SKU-1".into(), "SKU-1".into()],
    };
    let mut updates = store
        .watch_stock_levels(&Context::new(), request)
        .await
        .unwrap();
    let first = updates.next().await.unwrap().unwrap();
    assert_eq!((first.sku.as_str(), first.available), ("SKU-1", 7));

    // SKU-2 is not watched; the reservation's SKU-1 change is.
    store.set_on_hand("wh_a", "SKU-2", 1).unwrap();
    let held = store
        .reserve_items(&Context::new(), reserve(&[("SKU-1", 2)], ""))
        .await
        .unwrap();
    release(&store, &held.reservation_id).await.unwrap();
    let next: Vec<_> = updates
        .by_ref()
        .take(2)
        .map(|update| update.unwrap().available)
        .collect()
        .await;
    assert_eq!(next, [5, 7]);
}

#[tokio::test]
async fn a_watch_names_what_it_cannot_watch() {
    let store = stocked();
    let watch = |skus: Vec<String>| {
        let store = store.clone();
        async move {
            store
                .watch_stock_levels(&Context::new(), WatchStockLevelsRequest { skus })
                .await
                .err()
                .unwrap()
        }
    };
    assert_eq!(watch(vec![]).await.code(), Code::InvalidArgument);
    assert_eq!(
        watch(vec!["".into()]).await.message(),
        "skus[0]: must not be empty"
    );
    assert_eq!(watch(vec!["SKU-9".into()]).await.code(), Code::NotFound);
    let many = vec!["SKU-1".to_owned(); MAX_WATCHED_SKUS + 1];
    assert_eq!(watch(many).await.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_watcher_that_falls_behind_gets_the_levels_again() {
    let store = stocked();
    let request = WatchStockLevelsRequest {
        skus: vec!["SKU-2".into()],
    };
    let mut updates = store
        .watch_stock_levels(&Context::new(), request)
        .await
        .unwrap();
    updates.next().await.unwrap().unwrap();
    for count in 0..(WATCH_BUFFER as i64 + 10) {
        store.set_on_hand("wh_a", "SKU-2", count).unwrap();
    }
    let caught_up = updates.next().await.unwrap().unwrap();
    assert_eq!(
        caught_up.available,
        WATCH_BUFFER as i32 + 9,
        "the latest level"
    );
    // The stale backlog is skipped: the next update is the next change.
    store.set_on_hand("wh_a", "SKU-2", 3).unwrap();
    assert_eq!(updates.next().await.unwrap().unwrap().available, 3);
}

#[tokio::test]
async fn a_reopened_file_has_the_stock_and_reservations_it_was_left_with() {
    let dir = crate::db::TempDir::new("inventory");
    let path = dir.join("inventory.sqlite");
    let ctx = Context::new();
    let (kept, first_level) = {
        let store = InventoryStore::open(&path).unwrap();
        store.set_on_hand("wh_a", "SKU-1", 3).unwrap();
        store.set_on_hand("wh_b", "SKU-1", 4).unwrap();
        store.set_on_hand("wh_a", "SKU-2", 10).unwrap();
        let kept = store
            .reserve_items(&ctx, reserve(&[("SKU-1", 5)], "k1"))
            .await
            .unwrap();
        let released = store
            .reserve_items(&ctx, reserve(&[("SKU-2", 2)], "k2"))
            .await
            .unwrap();
        assert!(release(&store, &released.reservation_id).await.unwrap());
        let level = store
            .check_stock(
                &ctx,
                CheckStockRequest {
                    sku: "SKU-1".into(),
                    warehouse_id: String::new(),
                },
            )
            .await
            .unwrap();
        (kept, level)
    };

    let store = InventoryStore::open(&path).unwrap();
    let level = store
        .check_stock(
            &ctx,
            CheckStockRequest {
                sku: "SKU-1".into(),
                warehouse_id: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(level, first_level, "levels and when they last changed");
    assert_eq!(check(&store, "SKU-1", "wh_a").await.unwrap(), (0, 3));
    assert_eq!(check(&store, "SKU-2", "").await.unwrap(), (10, 0));

    // The keys still find their reservations, without holding anything again.
    let again = store
        .reserve_items(&ctx, reserve(&[("SKU-1", 5)], "k1"))
        .await
        .unwrap();
    assert_eq!(again, kept);
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (2, 5));
    // The store kept its tag: its ids read as before, and so do those of the days before tags.
    let tagged = |seq: &str| kept.reservation_id.replace("00000001", seq);
    assert!(kept.reservation_id.ends_with("_00000001"), "{kept:?}");
    assert!(
        !release(&store, &tagged("00000002")).await.unwrap(),
        "released before"
    );
    assert!(!release(&store, "res_00000002").await.unwrap());
    // New reservations are numbered after the stored ones.
    let next = store
        .reserve_items(&ctx, reserve(&[("SKU-2", 1)], ""))
        .await
        .unwrap();
    assert_eq!(next.reservation_id, tagged("00000003"));
    assert!(release(&store, &kept.reservation_id).await.unwrap());
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (7, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reserves_with_one_key_hold_the_units_once() {
    let dir = crate::db::TempDir::new("inventory");
    let store = InventoryStore::open(dir.join("inventory.sqlite")).unwrap();
    store.set_on_hand("wh_a", "SKU-1", 10).unwrap();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_items(&Context::new(), reserve(&[("SKU-1", 3)], "retried"))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap().unwrap());
    }
    assert!(answers.iter().all(|answer| *answer == answers[0]));
    assert_eq!(check(&store, "SKU-1", "").await.unwrap(), (7, 3));
}

#[tokio::test]
async fn ids_that_are_not_the_stores_are_not_found() {
    let store = stocked();
    // Another inventory's reservation, numbered as this one's are: its tag tells them apart.
    let other = stocked();
    let theirs = other
        .reserve_items(&Context::new(), reserve(&[("SKU-1", 1)], ""))
        .await
        .unwrap();
    let ours = store
        .reserve_items(&Context::new(), reserve(&[("SKU-1", 1)], ""))
        .await
        .unwrap();
    assert_ne!(theirs.reservation_id, ours.reservation_id);
    assert_eq!(
        release(&store, &theirs.reservation_id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    for id in ["res_1", "res_0000000G", "ord_00000001"] {
        assert_eq!(
            release(&store, id).await.unwrap_err().code(),
            Code::NotFound,
            "{id}"
        );
    }
}
