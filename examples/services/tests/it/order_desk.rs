//! The order desk tested the two ways the seeds recommend: its domain logic against a fake
//! inventory and a fake dispatch (no network), and the whole chain through the harness over
//! real HTTP/2, where serialization, deadlines, retries and header propagation are real.
//!
//! Both run under paused tokio time, so deadlines are asserted exactly.

use std::time::Duration;

use example_services::dispatch::v1::{Assignment, DispatchServiceGrpc, FakeDispatchService};
use example_services::inventory::v1::{
    FakeInventoryService, InventoryServiceGrpc, ReleaseReservationResponse, ReserveItemsResponse,
};
use example_services::order_desk::OrderDesk;
use example_services::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest, Order,
    OrderService, OrderServiceGrpc, OrderStatus,
};
use rust_svc_runtime::{Code, Context, MetadataMap, Status};
use tokio::time::Instant;

fn order(customer: &str, items: &[(&str, i32, i64)]) -> Order {
    Order {
        customer_id: customer.into(),
        items: items
            .iter()
            .map(|&(sku, quantity, unit_price_cents)| LineItem {
                sku: sku.into(),
                quantity,
                unit_price_cents,
            })
            .collect(),
        currency: "USD".into(),
        ..Default::default()
    }
}

fn create(order: Order, key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        order: Some(order),
        idempotency_key: key.into(),
    }
}

fn reserved(id: &str) -> ReserveItemsResponse {
    ReserveItemsResponse {
        reservation_id: id.into(),
        ..Default::default()
    }
}

/// An inventory fake that reserves and releases successfully.
fn willing_inventory() -> FakeInventoryService {
    let inventory = FakeInventoryService::new();
    inventory.reserve_items.returns(reserved("res_1"));
    inventory
        .release_reservation
        .returns(ReleaseReservationResponse { released: true });
    inventory
}

/// A dispatch fake that assigns `asg_<order id>`.
fn willing_dispatch() -> FakeDispatchService {
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

fn traced(request_id: &'static str) -> Context {
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", request_id.parse().unwrap());
    Context::new().with_metadata(metadata)
}

mod against_a_fake_inventory {
    use super::*;

    #[tokio::test]
    async fn placing_an_order_reserves_its_items() {
        let inventory = willing_inventory();
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let placed = desk
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 2, 250), ("SKU-2", 1, 1000)]), "k1"),
            )
            .await
            .unwrap();
        assert_eq!(placed.status(), OrderStatus::Pending);
        assert_eq!(placed.total_cents, 1500);
        assert!(placed.created_at.is_some());

        let reservations = inventory.reserve_items.requests();
        assert_eq!(reservations.len(), 1);
        let reservation = &reservations[0];
        assert_eq!(reservation.order_id, placed.order_id);
        // A key of the desk's own, derived from the order id, not the client's.
        let (prefix, _) = reservation.idempotency_key.split_once('/').unwrap();
        assert_eq!(prefix, placed.order_id);
        assert_eq!(placed.assignment_id, format!("asg_{}", placed.order_id));
        let items: Vec<_> = reservation
            .items
            .iter()
            .map(|item| (item.sku.as_str(), item.quantity))
            .collect();
        assert_eq!(items, [("SKU-1", 2), ("SKU-2", 1)]);
    }

    #[tokio::test(start_paused = true)]
    async fn inventory_gets_the_callers_context() {
        let inventory = willing_inventory();
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let ctx = traced("req-9").with_timeout(Duration::from_millis(800));
        desk.create_order(&ctx, create(order("c_1", &[("SKU-1", 1, 1)]), ""))
            .await
            .unwrap();
        let call = &inventory.reserve_items.calls()[0];
        assert_eq!(call.deadline(), ctx.deadline());
        assert_eq!(call.metadata().get("x-request-id").unwrap(), "req-9");
    }

    #[tokio::test]
    async fn the_same_key_places_one_order() {
        let inventory = willing_inventory();
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let request = create(order("c_1", &[("SKU-1", 1, 100)]), "k1");
        let first = desk
            .create_order(&Context::new(), request.clone())
            .await
            .unwrap();
        let again = desk.create_order(&Context::new(), request).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(inventory.reserve_items.call_count(), 1);
        let other = desk
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 100)]), "k2"),
            )
            .await
            .unwrap();
        assert_ne!(other.order_id, first.order_id);
    }

    #[tokio::test]
    async fn invalid_orders_name_the_field_and_never_reach_inventory() {
        let inventory = willing_inventory();
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let cases = [
            (CreateOrderRequest::default(), "order: required".to_owned()),
            (
                create(order("", &[("SKU-1", 1, 1)]), ""),
                "order.customer_id: required".to_owned(),
            ),
            (
                create(order("c_1", &[]), ""),
                "order.items: an order needs at least one item".to_owned(),
            ),
            (
                create(order("c_1", &[("SKU-1", 1, 1), ("SKU-2", 0, 1)]), ""),
                "order.items[1].quantity: must be at least 1, got 0".to_owned(),
            ),
            (
                create(order("c_1", &[("", 1, 1)]), ""),
                "order.items[0].sku: required".to_owned(),
            ),
            (
                create(order("c_1", &[("SKU-1", 2, i64::MAX)]), ""),
                "order.items[0]: the order total does not fit in 64 bits".to_owned(),
            ),
        ];
        for (request, expected) in cases {
            let status = desk
                .create_order(&Context::new(), request)
                .await
                .unwrap_err();
            assert_eq!(
                (status.code(), status.message()),
                (Code::InvalidArgument, expected.as_str())
            );
        }
        assert_eq!(inventory.reserve_items.call_count(), 0);
    }

    #[tokio::test]
    async fn inventory_failures_become_statuses_an_orders_caller_understands() {
        let inventory = FakeInventoryService::new();
        inventory.reserve_items.queue([
            Err(Status::failed_precondition("SKU-1: 0 available")),
            Err(Status::not_found("warehouse wh_9")),
            Err(Status::deadline_exceeded("slow")),
        ]);
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let status = desk
                .create_order(
                    &Context::new(),
                    create(order("c_1", &[("SKU-1", 1, 1)]), ""),
                )
                .await
                .unwrap_err();
            outcomes.push((status.code(), status.message().to_owned()));
        }
        assert_eq!(
            outcomes,
            [
                (
                    Code::FailedPrecondition,
                    "not enough stock: SKU-1: 0 available".to_owned()
                ),
                (
                    Code::Unavailable,
                    "inventory ReserveItems failed with NotFound: warehouse wh_9".to_owned()
                ),
                (
                    Code::DeadlineExceeded,
                    "inventory ReserveItems did not answer within the order's deadline".to_owned()
                ),
            ]
        );
        let listed = desk
            .list_orders(&Context::new(), ListOrdersRequest::default())
            .await
            .unwrap();
        assert!(listed.orders.is_empty(), "a refused order is not kept");
    }

    #[tokio::test]
    async fn orders_are_found_by_id_and_only_by_their_customer() {
        let desk = OrderDesk::new(willing_inventory(), willing_dispatch());
        let placed = desk
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 1)]), ""),
            )
            .await
            .unwrap();
        let get = |order_id: &str, customer_id: &str| GetOrderRequest {
            order_id: order_id.into(),
            customer_id: customer_id.into(),
        };
        let ctx = Context::new();
        assert_eq!(
            desk.get_order(&ctx, get(&placed.order_id, ""))
                .await
                .unwrap(),
            placed
        );
        assert_eq!(
            desk.get_order(&ctx, get(&placed.order_id, "c_1"))
                .await
                .unwrap(),
            placed
        );
        let other_customer = desk.get_order(&ctx, get(&placed.order_id, "c_2")).await;
        let missing = desk.get_order(&ctx, get("ord_missing", "")).await;
        assert_eq!(other_customer.unwrap_err().code(), Code::NotFound);
        assert_eq!(
            missing.unwrap_err().message(),
            "order ord_missing not found"
        );
    }

    #[tokio::test]
    async fn orders_are_listed_newest_first_page_by_page() {
        let desk = OrderDesk::new(willing_inventory(), willing_dispatch());
        let mut ids = Vec::new();
        for customer in ["c_1", "c_2", "c_3"] {
            let placed = desk
                .create_order(&Context::new(), create(order(customer, &[("S", 1, 1)]), ""))
                .await
                .unwrap();
            ids.push(placed.order_id);
        }
        let page = |page_size: i32, page_token: &str| ListOrdersRequest {
            page_size,
            page_token: page_token.into(),
            ..Default::default()
        };
        let ctx = Context::new();
        let first = desk.list_orders(&ctx, page(2, "")).await.unwrap();
        let listed: Vec<_> = first.orders.iter().map(|o| o.order_id.clone()).collect();
        assert_eq!(listed, [ids[2].clone(), ids[1].clone()]);
        let second = desk
            .list_orders(&ctx, page(2, &first.next_page_token))
            .await
            .unwrap();
        assert_eq!(second.orders[0].order_id, ids[0]);
        assert_eq!(second.next_page_token, "");

        let bad_token = desk.list_orders(&ctx, page(2, "abc")).await.unwrap_err();
        assert_eq!(bad_token.code(), Code::InvalidArgument);
        assert!(bad_token.message().starts_with("page_token:"));
        let negative = desk.list_orders(&ctx, page(-1, "")).await.unwrap_err();
        assert!(negative.message().starts_with("page_size:"));
    }

    #[tokio::test]
    async fn cancelling_releases_the_reservation_once() {
        let inventory = willing_inventory();
        inventory.reserve_items.returns(reserved("res_77"));
        let desk = OrderDesk::new(inventory.clone(), willing_dispatch());
        let placed = desk
            .create_order(&Context::new(), create(order("c_1", &[("S", 1, 1)]), ""))
            .await
            .unwrap();
        let cancel = CancelOrderRequest {
            order_id: placed.order_id.clone(),
            reason: "changed my mind".into(),
        };

        // Inventory is down: the order stays pending.
        inventory
            .release_reservation
            .queue([Err(Status::unavailable("restarting"))]);
        let failed = desk
            .cancel_order(&Context::new(), cancel.clone())
            .await
            .unwrap_err();
        assert_eq!(failed.code(), Code::Unavailable);

        let cancelled = desk
            .cancel_order(&Context::new(), cancel.clone())
            .await
            .unwrap();
        assert_eq!(cancelled.status(), OrderStatus::Cancelled);
        let again = desk.cancel_order(&Context::new(), cancel).await.unwrap();
        assert_eq!(again, cancelled);
        let released: Vec<_> = inventory
            .release_reservation
            .requests()
            .into_iter()
            .map(|request| request.reservation_id)
            .collect();
        assert_eq!(released, ["res_77", "res_77"], "one failed, one released");
    }
}

/// orders client → HTTP/2 → order desk → inventory client → HTTP/2 → inventory fake.
mod through_the_harness {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_order_deadline_and_request_id_reach_inventory_and_dispatch() {
        let inventory = willing_inventory();
        let inventory_server = InventoryServiceGrpc::serve_in_memory(inventory.clone());
        let dispatch = willing_dispatch();
        let dispatch_server = DispatchServiceGrpc::serve_in_memory(dispatch.clone());
        let desk = OrderDesk::new(
            inventory_server.client().clone(),
            dispatch_server.client().clone(),
        );
        let orders = OrderServiceGrpc::serve_in_memory(desk);

        let started = Instant::now();
        let placed = orders
            .client()
            .create_order(
                &traced("req-42"),
                create(order("c_1", &[("SKU-1", 3, 100)]), "k1"),
            )
            .await
            .unwrap();
        assert_eq!(placed.total_cents, 300);

        let call = &inventory.reserve_items.calls()[0];
        assert_eq!(call.request().order_id, placed.order_id);
        assert_eq!(call.metadata().get("x-request-id").unwrap(), "req-42");
        // CreateOrder has 2 s (orders' default); ReserveItems 1 s (inventory's): the tighter wins.
        assert_eq!(call.deadline().unwrap() - started, Duration::from_secs(1));
        let call = &dispatch.request_courier.calls()[0];
        assert_eq!(call.request().order_id, placed.order_id);
        assert_eq!(call.metadata().get("x-request-id").unwrap(), "req-42");
        // RequestCourier has its own 500 ms, tighter than what is left of the 2 s.
        assert_eq!(
            call.deadline().unwrap() - started,
            Duration::from_millis(500)
        );
        assert_eq!(placed.assignment_id, format!("asg_{}", placed.order_id));

        let fetched = orders
            .client()
            .get_order(
                &Context::new(),
                GetOrderRequest {
                    order_id: placed.order_id.clone(),
                    customer_id: String::new(),
                },
            )
            .await
            .unwrap();
        assert_eq!(fetched, placed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reservation_is_retried_under_its_own_key() {
        let inventory = willing_inventory();
        inventory.reserve_items.queue([
            Err(Status::unavailable("leader election")),
            Err(Status::unavailable("leader election")),
        ]);
        let inventory_server = InventoryServiceGrpc::serve_in_memory(inventory.clone());
        let orders = OrderServiceGrpc::serve_in_memory(OrderDesk::new(
            inventory_server.client().clone(),
            willing_dispatch(),
        ));

        orders
            .client()
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 1)]), "k-7"),
            )
            .await
            .unwrap();
        let calls = inventory.reserve_items.calls();
        assert_eq!(calls.len(), 3, "inventory's retry policy allows 3 attempts");
        let key = &calls[0].request().idempotency_key;
        assert!(!key.is_empty());
        for call in &calls {
            assert_eq!(&call.request().idempotency_key, key);
            assert_eq!(call.metadata().get("idempotency-key").unwrap(), key);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_without_a_key_still_reserves_under_one() {
        let inventory = FakeInventoryService::new();
        inventory
            .reserve_items
            .fails(Status::unavailable("leader election"));
        let inventory_server = InventoryServiceGrpc::serve_in_memory(inventory.clone());
        let orders = OrderServiceGrpc::serve_in_memory(OrderDesk::new(
            inventory_server.client().clone(),
            willing_dispatch(),
        ));
        let status = orders
            .client()
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 1)]), ""),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("inventory ReserveItems failed"));
        // The client did not key CreateOrder, but the desk keyed the reservation, so inventory's
        // client could retry it safely.
        let calls = inventory.reserve_items.calls();
        assert_eq!(calls.len(), 3);
        assert!(
            calls
                .iter()
                .all(|call| call.request().idempotency_key == calls[0].request().idempotency_key)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_inventory_costs_one_second_not_the_whole_order_budget() {
        let inventory = FakeInventoryService::new();
        inventory.reserve_items.hangs();
        let inventory_server = InventoryServiceGrpc::serve_in_memory(inventory.clone());
        let orders = OrderServiceGrpc::serve_in_memory(OrderDesk::new(
            inventory_server.client().clone(),
            willing_dispatch(),
        ));
        let started = Instant::now();
        let status = orders
            .client()
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 1)]), ""),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert!(
            status.message().contains("inventory ReserveItems"),
            "{status:?}"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn cancelling_over_loopback_releases_the_reservation() {
        let inventory = willing_inventory();
        let inventory_server = InventoryServiceGrpc::serve_loopback(inventory.clone())
            .await
            .unwrap();
        let orders = OrderServiceGrpc::serve_loopback(OrderDesk::new(
            inventory_server.client().clone(),
            willing_dispatch(),
        ))
        .await
        .unwrap();
        let placed = orders
            .client()
            .create_order(
                &Context::new(),
                create(order("c_1", &[("SKU-1", 1, 1)]), ""),
            )
            .await
            .unwrap();
        let cancelled = orders
            .client()
            .cancel_order(
                &Context::new(),
                CancelOrderRequest {
                    order_id: placed.order_id,
                    reason: String::new(),
                },
            )
            .await
            .unwrap();
        assert_eq!(cancelled.status(), OrderStatus::Cancelled);
        assert_eq!(
            inventory.release_reservation.requests()[0].reservation_id,
            "res_1"
        );
        orders.shutdown().await.unwrap();
        inventory_server.shutdown().await.unwrap();
    }
}
