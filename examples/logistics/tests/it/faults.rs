//! Faults across processes: inventory, dispatch and orders each run as a `logistics` process of
//! their own, and the tests crash, stop and restart them under load.
//!
//! Orders runs with `--breaker-open-for 1s`, so that a breaker that opened lets probes through
//! after a second rather than the protos' 30: recovery is observable within a test. Nothing
//! here asserts how long anything takes; the time bounds are only guards against hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient,
};
use example_services::orders::v1::{
    CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest, Order, OrderService,
    OrderServiceClient,
};
use rust_svc_runtime::client::{BreakerPolicy, RetryPolicy};
use rust_svc_runtime::{Code, Context, Status};
use tokio::task::JoinSet;

use crate::common::{HANG_GUARD, Logistics, breaker_gauge, fresh_dir, metrics, sample};

/// The open duration orders' breakers get here.
const OPEN_FOR: [&str; 2] = ["--breaker-open-for", "1s"];

/// The concurrent callers of the load tests.
const TASKS: usize = 8;

/// Stock enough for every order of a test, whichever inventory it lands in.
const PLENTY: [&str; 2] = ["--seed-units", "1000000"];

/// The test's own client of orders: it neither retries nor has a breaker, so that every status
/// is the one orders answered (its breaker would otherwise fail calls fast after orders'
/// failures), and a `CreateOrder` may take up to `HANG_GUARD` on a loaded machine.
fn orders_client(system: &Logistics) -> OrderServiceClient {
    OrderServiceClient::builder()
        .retry_policy(RetryPolicy::NEVER)
        .circuit_breaker(BreakerPolicy::Disabled)
        .method_deadline("CreateOrder", HANG_GUARD)
        .connect_lazy([system.url("orders")])
        .expect("the announced URL is valid")
}

fn order(customer: &str, sku: &str, quantity: i32, key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        order: Some(Order {
            customer_id: customer.into(),
            items: vec![LineItem {
                sku: sku.into(),
                quantity,
                unit_price_cents: 100,
            }],
            currency: "USD".into(),
            ..Default::default()
        }),
        idempotency_key: key.into(),
    }
}

async fn get(orders: &OrderServiceClient, order_id: &str) -> Result<Order, Status> {
    let request = GetOrderRequest {
        order_id: order_id.into(),
        ..Default::default()
    };
    orders.get_order(&Context::new(), request).await
}

async fn available(inventory: &Logistics, sku: &str) -> i32 {
    let client = InventoryServiceClient::connect_lazy([inventory.url("inventory")]).unwrap();
    let request = CheckStockRequest {
        sku: sku.into(),
        ..Default::default()
    };
    let stock = client.check_stock(&Context::new(), request).await;
    stock.expect("the demo SKUs are known").available
}

/// Whether `status` is how a call ends when its server went away: `UNAVAILABLE`, whether the
/// port refused the connection, the server's GOAWAY turned the call away unprocessed, or the
/// connection closed under it (the runtime's client reports all three so, as gRPC does).
fn connection_lost(status: &Status) -> bool {
    status.code() == Code::Unavailable
}

/// The time a breaker's rejection says is left before it lets calls through: `… retry in
/// 998.5ms` (a `Duration`'s `Debug`).
fn retry_in(message: &str) -> Duration {
    let (_, left) = message
        .rsplit_once("retry in ")
        .unwrap_or_else(|| panic!("no time left in {message:?}"));
    let (number, scale) = [("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| Some((left.strip_suffix(unit)?, scale)))
        .unwrap_or_else(|| panic!("not a duration: {left:?}"));
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("not a duration: {left:?}"));
    Duration::from_secs_f64(number * scale)
}

/// Polls until `done` holds, failing the test after [`HANG_GUARD`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + HANG_GUARD;
    while !done() {
        assert!(tokio::time::Instant::now() < give_up, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_dead_inventory_opens_orders_breaker_and_a_restarted_one_closes_it() {
    let dir = fresh_dir("faults-breaker");
    let db = dir.join("inventory.db");
    let db = db.to_str().unwrap();
    let inventory = Logistics::inventory(&["--db", db]);
    let (inventory_url, inventory_addr) = (inventory.url("inventory"), inventory.addr("inventory"));
    let dispatch = Logistics::dispatch();
    let system = Logistics::orders(
        std::slice::from_ref(&inventory_url),
        &dispatch.url("dispatch"),
        &OPEN_FOR,
    );
    let orders = orders_client(&system);
    let place = |n: usize| order("c_faults", "SKU-10042", 1, &format!("breaker-{n}"));
    orders
        .create_order(&Context::new(), place(0))
        .await
        .expect("the system works before the crash");
    let breaker = format!("inventory.v1.InventoryService/ReserveItems@{inventory_url}");
    let gauge = metrics(&system, "orders").await;
    assert_eq!(breaker_gauge(&gauge, &breaker), Some(0.0), "{gauge}");

    inventory.kill();
    // Each call fails as inventory's failure; once enough of them have (20 attempts, the
    // proto's minimum, retries included), the breaker opens and answers for inventory.
    let open = format!("circuit breaker {breaker} is open");
    let mut calls = 0;
    let rejection = loop {
        calls += 1;
        assert!(calls <= 100, "the breaker never opened after {calls} calls");
        let failed = orders
            .create_order(&Context::new(), place(calls))
            .await
            .expect_err("inventory is down");
        if failed.code() == Code::Unavailable && failed.message().contains(&open) {
            break failed;
        }
        // Inventory's failure as orders passes it on ("inventory ReserveItems failed with
        // …"), or, for a call that met the connection the crash closed, CANCELLED.
        assert!(connection_lost(&failed), "{failed:?}");
    };
    assert!(
        calls > 1,
        "the breaker opened before any failure: {rejection:?}"
    );
    assert!(
        rejection
            .message()
            .contains("failing fast without calling the service"),
        "{rejection:?}"
    );
    // It stays open for `--breaker-open-for`, not the proto's 30 s: the time it says is left
    // is at most that, by construction.
    let left = retry_in(rejection.message());
    assert!(
        !left.is_zero() && left <= Duration::from_secs(1),
        "{rejection:?}"
    );
    let gauge = metrics(&system, "orders").await;
    assert_eq!(breaker_gauge(&gauge, &breaker), Some(2.0), "{gauge}");

    // The same port, the same file. The breaker lets probes through once it has been open
    // for its second: the first that succeeds places an order again.
    let inventory = Logistics::spawn(
        &["inventory", "--listen", &inventory_addr, "--db", db],
        &["inventory"],
    );
    let mut attempts = 0;
    let placed = loop {
        attempts += 1;
        match orders.create_order(&Context::new(), place(1000)).await {
            Ok(placed) => break placed,
            Err(status) => {
                assert!(connection_lost(&status), "{status:?}");
                assert!(
                    attempts < 150,
                    "no order placed after {attempts} attempts: {status:?}; stderr:\n{}",
                    system.stderr()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // Five successful probes (the proto's half_open_max_calls) close it.
    for n in 1..5 {
        orders
            .create_order(&Context::new(), place(1000 + n))
            .await
            .expect("inventory is back");
    }
    let gauge = metrics(&system, "orders").await;
    assert_eq!(breaker_gauge(&gauge, &breaker), Some(0.0), "{gauge}");
    assert_eq!(get(&orders, &placed.order_id).await.unwrap(), placed);
    // The stock persisted in the file: the demo's 150, minus the order before the crash and
    // the five after, and nothing for the calls that failed.
    assert_eq!(available(&inventory, "SKU-10042").await, 150 - 6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_idempotency_key_places_one_order_however_often_and_concurrently_it_is_sent() {
    let inventory = Logistics::inventory(&[]);
    let dispatch = Logistics::dispatch();
    let system = Logistics::orders(
        &[inventory.url("inventory")],
        &dispatch.url("dispatch"),
        &[],
    );
    let orders = orders_client(&system);
    let before = available(&inventory, "SKU-10043").await;

    let request = order("c_idempotent", "SKU-10043", 2, "idem-sequential");
    let first = orders
        .create_order(&Context::new(), request.clone())
        .await
        .unwrap();
    let second = orders.create_order(&Context::new(), request).await.unwrap();
    assert_eq!(second, first);

    let mut callers = JoinSet::new();
    for _ in 0..TASKS {
        let orders = orders.clone();
        let request = order("c_idempotent", "SKU-10043", 2, "idem-concurrent");
        callers.spawn(async move { orders.create_order(&Context::new(), request).await });
    }
    let concurrent: Vec<Order> = callers
        .join_all()
        .await
        .into_iter()
        .map(|placed| placed.expect("each concurrent call succeeds"))
        .collect();
    let one = &concurrent[0];
    assert_ne!(one.order_id, first.order_id);
    for placed in &concurrent {
        assert_eq!(placed, one);
    }

    // Two keys, two orders, two reservations: nothing else was placed or held.
    let request = ListOrdersRequest {
        filter: r#"customer_id = "c_idempotent""#.into(),
        ..Default::default()
    };
    let listed = orders
        .list_orders(&Context::new(), request)
        .await
        .unwrap()
        .orders;
    assert_eq!(listed, [one.clone(), first.clone()], "newest first");
    assert_eq!(get(&orders, &one.order_id).await.unwrap(), *one);
    assert_eq!(available(&inventory, "SKU-10043").await, before - 2 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_order_it_confirmed() {
    let dir = fresh_dir("faults-sigterm");
    let db = dir.join("orders.db");
    let db = db.to_str().unwrap();
    let inventory = Logistics::inventory(&PLENTY);
    let dispatch = Logistics::dispatch();
    let (inventory_url, dispatch_url) = (inventory.url("inventory"), dispatch.url("dispatch"));
    let mut system = Logistics::orders(
        std::slice::from_ref(&inventory_url),
        &dispatch_url,
        &["--db", db],
    );
    let orders = orders_client(&system);
    let stop = Arc::new(AtomicBool::new(false));
    let placed = Arc::new(AtomicUsize::new(0));
    let mut callers = JoinSet::new();
    for task in 0..TASKS {
        let (orders, stop, placed) = (orders.clone(), Arc::clone(&stop), Arc::clone(&placed));
        callers.spawn(async move {
            let mut confirmed = Vec::new();
            let mut refused = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("sigterm-{task}-{n}");
                let request = order("c_sigterm", "SKU-10042", 1, &key);
                match orders.create_order(&Context::new(), request).await {
                    Ok(order) => {
                        placed.fetch_add(1, Ordering::Relaxed);
                        confirmed.push((key, order));
                    }
                    Err(status) => {
                        refused.push(status);
                        // Refused connections fail at once: no need to spin on them.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (confirmed, refused)
        });
    }
    until("orders placed before the signal", || {
        placed.load(Ordering::Relaxed) >= 5 * TASKS
    })
    .await;
    system.terminate();
    let status = system.exit().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", system.stderr());
    stop.store(true, Ordering::Relaxed);
    let mut confirmed = Vec::new();
    for (ok, refused) in callers.join_all().await {
        confirmed.extend(ok);
        // The drain lets calls in flight finish; the others find the port closed, or the
        // connection going away.
        for status in refused {
            assert!(connection_lost(&status), "not a clean refusal: {status:?}");
        }
    }
    assert!(confirmed.len() >= 5 * TASKS, "{}", confirmed.len());

    let system = Logistics::orders(&[inventory_url], &dispatch_url, &["--db", db]);
    let orders = orders_client(&system);
    for (key, placed) in &confirmed {
        let read = get(&orders, &placed.order_id).await;
        let read = read.unwrap_or_else(|status| panic!("{key}: lost: {status:?}"));
        assert_eq!(read, *placed, "{key}");
        // The key too outlived the restart: sending it again returns the same order.
        let again = order("c_sigterm", "SKU-10042", 1, key);
        let again = orders.create_order(&Context::new(), again).await;
        let again = again.unwrap_or_else(|status| panic!("{key}: {status:?}"));
        assert_eq!(again, *placed, "{key}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_keep_placing_when_one_of_two_inventories_dies() {
    let inventories = [Logistics::inventory(&PLENTY), Logistics::inventory(&PLENTY)];
    let dispatch = Logistics::dispatch();
    let urls = inventories
        .each_ref()
        .map(|inventory| inventory.url("inventory"));
    let system = Logistics::orders(&urls, &dispatch.url("dispatch"), &OPEN_FOR);
    let orders = orders_client(&system);
    const CALLS: usize = 30;
    let placed = Arc::new(AtomicUsize::new(0));
    let mut callers = JoinSet::new();
    for task in 0..TASKS {
        let (orders, placed) = (orders.clone(), Arc::clone(&placed));
        callers.spawn(async move {
            for n in 0..CALLS {
                let request = order("c_balance", "SKU-10042", 1, &format!("balance-{task}-{n}"));
                // Every call succeeds the first time: a reservation that met the dead
                // inventory (refused, or cut as it died) failed UNAVAILABLE and, carrying its
                // idempotency key, was retried by orders' client on the live inventory.
                let placed_order = orders.create_order(&Context::new(), request).await;
                placed_order.unwrap_or_else(|status| panic!("call {task}-{n}: {status:?}"));
                placed.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    until("orders placed over both inventories", || {
        placed.load(Ordering::Relaxed) >= TASKS * CALLS / 3
    })
    .await;
    let [dead, live] = inventories;
    let (dead_url, live_url) = (dead.url("inventory"), live.url("inventory"));
    dead.kill();
    // A caller's failed assertion is resumed here.
    callers.join_all().await;
    assert_eq!(placed.load(Ordering::Relaxed), TASKS * CALLS);

    let text = metrics(&system, "orders").await;
    let breaker = |url: &str| format!("inventory.v1.InventoryService/ReserveItems@{url}");
    // The live inventory's breaker never saw a failure. The dead one's depends on how many
    // calls it was sent before the load ended, so it is only known to exist.
    assert_eq!(
        breaker_gauge(&text, &breaker(&live_url)),
        Some(0.0),
        "{text}"
    );
    assert!(
        breaker_gauge(&text, &breaker(&dead_url)).is_some(),
        "{text}"
    );
    // Reservations were sent to the dead inventory and retried on the live one.
    let retries = sample(
        &text,
        "grpc_client_retries_total",
        r#"grpc_service="inventory.v1.InventoryService",grpc_method="ReserveItems""#,
    );
    assert!(retries.is_some_and(|count| count >= 1.0), "{text}");
}
