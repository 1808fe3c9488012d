//! Orders following its inventories by name (issue 77): inventory processes on 127.0.0.1 to
//! 127.0.0.5, all on one port, behind a name a DNS server run by the test answers; `logistics
//! orders --inventory dns://<that server>/inventory.test:<port>` resolves it every 100 ms. The
//! name goes from 1 to 3 to 5 to 2 addresses while orders are placed: once orders reports the
//! new set (its log line), the next 100 placements spread evenly over the live addresses,
//! none reaches a removed one, and every acknowledged order is stored. Counts, not clocks.

use std::net::Ipv4Addr;
use std::time::Duration;

use example_services::inventory::v1::InventoryServiceClient;
use example_services::orders::v1::{
    CreateOrderRequest, GetOrderRequest, LineItem, Order, OrderService, OrderServiceClient,
};
use rust_svc_runtime::Context;

use crate::common::dns::DnsServer;
use crate::common::{HANG_GUARD, Logistics, available};

const SKU: &str = "SKU-10043";

fn order(n: usize) -> CreateOrderRequest {
    CreateOrderRequest {
        order: Some(Order {
            customer_id: format!("c_discovery_{n}"),
            items: vec![LineItem {
                sku: SKU.into(),
                quantity: 1,
                unit_price_cents: 499,
            }],
            currency: "USD".into(),
            ..Default::default()
        }),
        idempotency_key: String::new(),
    }
}

/// The addresses of orders' last report of what its inventory name resolved to.
fn reported(orders: &Logistics) -> Option<Vec<String>> {
    let stderr = orders.stderr();
    let line = stderr
        .lines()
        .rev()
        .find(|line| line.contains("the client calls the addresses its target resolved to"))?;
    let list = line.split("addresses=[").nth(1)?.split(']').next()?;
    let mut addresses: Vec<String> = list.split(", ").map(str::to_owned).collect();
    addresses.sort();
    Some(addresses)
}

#[tokio::test]
async fn orders_follow_the_inventory_name_as_its_addresses_change() {
    // One port for every inventory, as a headless Service's pods have.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let hosts: Vec<Ipv4Addr> = (1..=5).map(|last| Ipv4Addr::new(127, 0, 0, last)).collect();
    let inventories: Vec<Logistics> = hosts
        .iter()
        .map(|host| {
            let listen = format!("{host}:{port}");
            Logistics::spawn(
                &["inventory", "--listen", &listen, "--seed-units", "1000"],
                &["inventory"],
            )
        })
        .collect();
    let direct: Vec<InventoryServiceClient> = hosts
        .iter()
        .map(|host| {
            InventoryServiceClient::connect_lazy([format!("http://{host}:{port}")]).unwrap()
        })
        .collect();
    let dns = DnsServer::start().await;
    dns.set("inventory.test", &hosts[..1]);
    let dispatch = Logistics::dispatch();
    let target = format!("dns://{}/inventory.test:{port}", dns.addr);
    let system = Logistics::orders(
        &[target],
        &dispatch.url("dispatch"),
        &["--resolve-every", "100ms"],
    );
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();

    let mut placed = Vec::new();
    for live in [&[0][..], &[0, 1, 2], &[0, 1, 2, 3, 4], &[3, 4]] {
        let addresses: Vec<Ipv4Addr> = live.iter().map(|&index| hosts[index]).collect();
        dns.set("inventory.test", &addresses);
        let mut expected: Vec<String> = addresses
            .iter()
            .map(|host| format!("{host}:{port}"))
            .collect();
        expected.sort();
        let reached = tokio::time::timeout(HANG_GUARD, async {
            while reported(&system).as_ref() != Some(&expected) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            reached.is_ok(),
            "orders never reported {expected:?}; its log:\n{}",
            system.stderr()
        );

        let mut before = Vec::new();
        for inventory in &direct {
            before.push(available(inventory, SKU).await);
        }
        for n in 0..100 {
            let order = orders
                .create_order(&Context::new(), order(placed.len() + n))
                .await
                .unwrap_or_else(|status| panic!("order {n} over {live:?}: {status:?}"));
            placed.push(order.order_id);
        }
        let share = 100.0 / live.len() as f64;
        for (index, inventory) in direct.iter().enumerate() {
            let reserved = (before[index] - available(inventory, SKU).await) as f64;
            if live.contains(&index) {
                assert!(
                    (reserved - share).abs() <= share * 0.2,
                    "inventory {index} got {reserved} of 100 orders over {live:?}"
                );
            } else {
                assert_eq!(reserved, 0.0, "inventory {index} is not among {live:?}");
            }
        }
    }

    // Every acknowledged order is stored.
    for order_id in &placed {
        orders
            .get_order(
                &Context::new(),
                GetOrderRequest {
                    order_id: order_id.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|status| panic!("{order_id}: {status:?}"));
    }
    drop(inventories);
}
