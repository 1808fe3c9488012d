//! The order desk against the generated fakes: what it asks inventory and dispatch, with which
//! context, and what it does with their answers.

use std::sync::Arc;
use std::time::Duration;

use rust_svc_runtime::{Code, Context, MetadataMap, Status};

use super::{cancel, items};
use crate::dispatch::v1::{Assignment, FakeDispatchService};
use crate::inventory::v1::{
    FakeInventoryService, ReleaseReservationResponse, ReserveItemsResponse,
};
use crate::order_desk::{COMPENSATION_TIMEOUT, OrderDesk};
use crate::orders::v1::{
    CreateOrderRequest, GetOrderRequest, ListOrdersRequest, Order, OrderService, UpdateOrderRequest,
};

type Desk = OrderDesk<FakeInventoryService, FakeDispatchService>;

/// An inventory that reserves (`res_1`, `res_2`, … in call order) and releases.
fn inventory() -> FakeInventoryService {
    let inventory = FakeInventoryService::new();
    let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
    inventory
        .reserve_items
        .responds_with(move |_ctx, _request| {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            Ok(ReserveItemsResponse {
                reservation_id: format!("res_{n}"),
                ..Default::default()
            })
        });
    inventory
        .release_reservation
        .returns(ReleaseReservationResponse { released: true });
    inventory
}

/// A dispatch that assigns `asg_<order id>`.
fn dispatch() -> FakeDispatchService {
    let dispatch = FakeDispatchService::new();
    dispatch.request_courier.responds_with(|_ctx, request| {
        Ok(Assignment {
            assignment_id: format!("asg_{}", request.order_id),
            order_id: request.order_id,
            ..Default::default()
        })
    });
    dispatch
}

fn desk() -> (Desk, FakeInventoryService, FakeDispatchService) {
    let (inventory, dispatch) = (inventory(), dispatch());
    (
        OrderDesk::new(inventory.clone(), dispatch.clone()),
        inventory,
        dispatch,
    )
}

fn create(key: &str) -> CreateOrderRequest {
    let order = Order {
        customer_id: "c_1".into(),
        items: items(&[("SKU-1", 2, 100)]),
        ..Default::default()
    };
    CreateOrderRequest {
        order: Some(order),
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn the_assignment_lands_on_the_order() {
    let (desk, _, dispatch) = desk();
    let placed = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap();
    assert_eq!(placed.assignment_id, format!("asg_{}", placed.order_id));
    let requested = dispatch.request_courier.requests();
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].order_id, placed.order_id);
    let read = GetOrderRequest {
        order_id: placed.order_id.clone(),
        customer_id: String::new(),
    };
    let fetched = desk.get_order(&Context::new(), read).await.unwrap();
    assert_eq!(fetched.assignment_id, placed.assignment_id);
}

#[tokio::test]
async fn a_dispatch_failure_releases_the_reservation_and_places_nothing() {
    let (desk, inventory, dispatch) = desk();
    dispatch
        .request_courier
        .queue([Err(Status::resource_exhausted("every courier is busy"))]);
    let failed = desk
        .create_order(&Context::new(), create("k1"))
        .await
        .unwrap_err();
    assert_eq!(
        (failed.code(), failed.message()),
        (Code::ResourceExhausted, "every courier is busy"),
        "dispatch's status, unchanged"
    );
    let released: Vec<_> = inventory
        .release_reservation
        .requests()
        .into_iter()
        .map(|request| request.reservation_id)
        .collect();
    assert_eq!(released, ["res_1"]);
    let listed = desk
        .list_orders(&Context::new(), ListOrdersRequest::default())
        .await
        .unwrap();
    assert!(listed.orders.is_empty());

    // The key was not used up: a retry places the order, with a reservation of its own.
    let placed = desk
        .create_order(&Context::new(), create("k1"))
        .await
        .unwrap();
    assert_eq!(inventory.reserve_items.call_count(), 2);
    let again = desk
        .create_order(&Context::new(), create("k1"))
        .await
        .unwrap();
    assert_eq!(again, placed);
    assert_eq!(inventory.release_reservation.call_count(), 1);
}

#[tokio::test]
async fn an_inventory_failure_never_reaches_dispatch() {
    let (desk, inventory, dispatch) = desk();
    inventory
        .reserve_items
        .fails(Status::failed_precondition("SKU-1: 0 available"));
    let failed = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::FailedPrecondition);
    // Inventory decided: there is nothing to withdraw.
    assert_eq!(inventory.reserve_items.call_count(), 1);
    assert_eq!(dispatch.request_courier.call_count(), 0);
    assert_eq!(inventory.release_reservation.call_count(), 0);
}

/// An update that gives order `order_id` the one line item `line`.
fn new_items(order_id: &str, line: (&str, i32, i64)) -> UpdateOrderRequest {
    let changes = Order {
        order_id: order_id.to_owned(),
        items: items(&[line]),
        ..Default::default()
    };
    UpdateOrderRequest {
        order: Some(changes),
        update_mask: None,
    }
}

/// Lets the tasks the desk spawned run to their end: with the fakes they finish without
/// waiting, and paused time moves on only once every task waits.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// An inventory that reserves under the request's idempotency key (`res_<key>`), as the real
/// one does, but whose first answer never reaches the desk.
fn inventory_losing_its_first_answer(lost: Status) -> FakeInventoryService {
    let inventory = inventory();
    let lost = std::sync::Mutex::new(Some(lost));
    inventory
        .reserve_items
        .responds_with(move |_ctx, request| match lost.lock().unwrap().take() {
            Some(status) => Err(status),
            None => Ok(ReserveItemsResponse {
                reservation_id: format!("res_{}", request.idempotency_key),
                ..Default::default()
            }),
        });
    inventory
}

#[tokio::test(start_paused = true)]
async fn a_reservation_whose_answer_was_lost_is_withdrawn() {
    let inventory = inventory_losing_its_first_answer(Status::deadline_exceeded("no answer"));
    let dispatch = dispatch();
    let desk: Desk = OrderDesk::new(inventory.clone(), dispatch.clone());
    let ctx = Context::new().with_timeout(Duration::from_millis(300));
    let failed = desk.create_order(&ctx, create("")).await.unwrap_err();
    assert_eq!(failed.code(), Code::DeadlineExceeded);
    assert_eq!(dispatch.request_courier.call_count(), 0);
    // The caller was answered before the withdrawal, which runs in a task of its own.
    assert_eq!(inventory.reserve_items.call_count(), 1);
    let budget = Some(tokio::time::Instant::now() + COMPENSATION_TIMEOUT);
    settle().await;

    // Asked again under the same key, with a budget of its own, and what that names released.
    let reserves = inventory.reserve_items.calls();
    assert_eq!(reserves.len(), 2);
    let key = &reserves[0].request().idempotency_key;
    assert_eq!(&reserves[1].request().idempotency_key, key);
    assert_eq!(reserves[1].request().items, reserves[0].request().items);
    assert_eq!(reserves[1].deadline(), budget);
    let releases = inventory.release_reservation.calls();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].request().reservation_id, format!("res_{key}"));
    assert_eq!(releases[0].deadline(), budget);
}

#[tokio::test(start_paused = true)]
async fn an_update_whose_reservation_answer_was_lost_withdraws_it_and_keeps_the_old_one() {
    let inventory = inventory_losing_its_first_answer(Status::cancelled("connection reset"));
    let desk: Desk = OrderDesk::new(inventory.clone(), dispatch());
    // The order's own reservation is answered; the update's answer is the one lost.
    inventory.reserve_items.queue([Ok(ReserveItemsResponse {
        reservation_id: "res_order".into(),
        ..Default::default()
    })]);
    let placed = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap();
    let failed = desk
        .update_order(
            &Context::new(),
            new_items(&placed.order_id, ("SKU-1", 5, 100)),
        )
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Cancelled);
    settle().await;
    let releases: Vec<_> = inventory
        .release_reservation
        .requests()
        .into_iter()
        .map(|request| request.reservation_id)
        .collect();
    let key = &inventory.reserve_items.requests()[1].idempotency_key;
    assert_eq!(
        releases,
        [format!("res_{key}")],
        "the order keeps res_order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_reservation_is_not_withdrawn() {
    use rust_svc_runtime::call::admission::{DEADLINE_OUT_OF_REACH, ERROR_DOMAIN};
    use tonic_types::{ErrorDetails, StatusExt as _};
    // What inventory's admission answers when it sheds the call, and when the call's deadline
    // is out of reach at its current latency: both before any work.
    let out_of_reach = Status::with_error_details(
        Code::DeadlineExceeded,
        "inventory.v1.InventoryService cannot answer in time; nothing was done",
        ErrorDetails::with_error_info(DEADLINE_OUT_OF_REACH, ERROR_DOMAIN, []),
    );
    for refusal in [Status::unavailable("shedding load"), out_of_reach] {
        let (desk, inventory, _) = desk();
        let code = refusal.code();
        inventory.reserve_items.queue([Err(refusal)]);
        let failed = desk
            .create_order(&Context::new(), create(""))
            .await
            .unwrap_err();
        assert_eq!(failed.code(), code, "{failed:?}");
        settle().await;
        // Refused before inventory served it: asking again would only add to its load.
        assert_eq!(inventory.reserve_items.call_count(), 1, "{failed:?}");
        assert_eq!(inventory.release_reservation.call_count(), 0, "{failed:?}");
    }
}

#[tokio::test]
async fn an_inventory_failure_keeps_its_details() {
    // Inventory shedding load (or its breaker open) says when to come back: the orders caller
    // gets the same RetryInfo, as it does from dispatch.
    use tonic_types::{ErrorDetails, StatusExt};

    let (desk, inventory, _dispatch) = desk();
    let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(3)));
    inventory.reserve_items.fails(Status::with_error_details(
        Code::ResourceExhausted,
        "overloaded",
        details,
    ));
    let failed = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::Unavailable, "{failed:?}");
    let retry = failed.get_error_details().retry_info().cloned();
    assert_eq!(
        retry.and_then(|info| info.retry_delay),
        Some(Duration::from_secs(3))
    );
}

#[tokio::test]
async fn every_reservation_carries_a_key_of_its_own() {
    let (desk, inventory, _) = desk();
    let first = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap();
    let second = desk
        .create_order(&Context::new(), create("client-key"))
        .await
        .unwrap();
    let update = new_items(&first.order_id, ("SKU-2", 1, 5));
    desk.update_order(&Context::new(), update).await.unwrap();

    let requests = inventory.reserve_items.requests();
    let keyed: Vec<_> = requests
        .iter()
        .map(|request| (request.order_id.as_str(), request.idempotency_key.as_str()))
        .collect();
    assert_eq!(keyed.len(), 3);
    for (order_id, key) in &keyed {
        let (prefix, _) = key.split_once('/').expect("`<order id>/<desk>-<n>`");
        assert_eq!(prefix, *order_id, "the key is derived from the order id");
    }
    assert_eq!(keyed[0].0, first.order_id);
    assert_eq!(keyed[1].0, second.order_id);
    assert_eq!(keyed[2].0, first.order_id, "the update's reservation");
    let distinct: std::collections::HashSet<_> = keyed.iter().map(|(_, key)| *key).collect();
    assert_eq!(
        distinct.len(),
        3,
        "no two reservations share a key: {keyed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn both_calls_get_the_callers_context_and_the_release_a_budget_of_its_own() {
    let (desk, inventory, dispatch) = desk();
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", "req-9".parse().unwrap());
    let ctx = Context::new()
        .with_metadata(metadata)
        .with_timeout(Duration::from_millis(800));
    desk.create_order(&ctx, create("")).await.unwrap();
    let reserve = &inventory.reserve_items.calls()[0];
    let request = &dispatch.request_courier.calls()[0];
    for (deadline, metadata) in [
        (reserve.deadline(), reserve.metadata()),
        (request.deadline(), request.metadata()),
    ] {
        assert_eq!(deadline, ctx.deadline());
        assert_eq!(metadata.get("x-request-id").unwrap(), "req-9");
    }

    // Dispatch used up the deadline: the release still gets its own second.
    dispatch
        .request_courier
        .queue([Err(Status::deadline_exceeded("no answer"))]);
    tokio::time::advance(Duration::from_millis(800)).await;
    let failed = desk.create_order(&ctx, create("")).await.unwrap_err();
    assert_eq!(failed.code(), Code::DeadlineExceeded);
    let release = &inventory.release_reservation.calls()[0];
    assert_eq!(
        release.deadline(),
        Some(tokio::time::Instant::now() + COMPENSATION_TIMEOUT)
    );
    assert_eq!(release.metadata().get("x-request-id").unwrap(), "req-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_key_place_one_order() {
    let (desk, inventory, dispatch) = desk();
    let desk = Arc::new(desk);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let desk = Arc::clone(&desk);
            tokio::spawn(async move { desk.create_order(&Context::new(), create("k1")).await })
        })
        .collect();
    let mut placed = Vec::new();
    for attempt in attempts {
        placed.push(attempt.await.unwrap().unwrap());
    }
    assert!(placed.iter().all(|order| *order == placed[0]), "{placed:?}");
    // The calls ran one after the other: only the first reserved and requested a courier.
    assert_eq!(inventory.reserve_items.call_count(), 1);
    assert_eq!(dispatch.request_courier.call_count(), 1);
}

#[tokio::test]
async fn cancelling_releases_the_orders_reservation() {
    let (desk, inventory, _) = desk();
    let placed = desk
        .create_order(&Context::new(), create(""))
        .await
        .unwrap();
    desk.cancel_order(&Context::new(), cancel(&placed.order_id))
        .await
        .unwrap();
    assert_eq!(
        inventory.release_reservation.requests()[0].reservation_id,
        "res_1"
    );
}
