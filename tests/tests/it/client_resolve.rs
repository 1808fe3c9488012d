//! A generated client of a named target (issue 77): the addresses a resolver answers become
//! its endpoints, and follow the resolver's answers while the client runs: new addresses get
//! calls, removed ones get none and finish what they have, a failed connection asks for a new
//! resolution. Real loopback servers (the `Flaky` service of tests/protos/resilience.proto);
//! the resolver is the test's, so that it decides the answers; the system's resolver is
//! checked with `localhost`. Counts, not clocks: a change is waited for by the client's own
//! report of its endpoints, with a generous bound.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_svc_runtime::client::{ClientError, Resolution, Resolve, Target};
use rust_svc_runtime::harness::ServerHandle;
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient};

use crate::client_common::{Outcome, Scripted, call, ctx, loopback};

/// Discovery the test controls: it answers the addresses it was last told, and counts how
/// often it was asked.
#[derive(Clone, Default)]
struct Addresses {
    now: Arc<Mutex<Vec<SocketAddr>>>,
    asked: Arc<AtomicUsize>,
}

impl Addresses {
    fn set(&self, addresses: &[SocketAddr]) {
        *self.now.lock().unwrap() = addresses.to_vec();
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

impl Resolve for Addresses {
    fn resolve(&self, target: &Target) -> Resolution {
        assert_eq!(target.scheme(), "test");
        self.asked.fetch_add(1, Ordering::SeqCst);
        let now = self.now.lock().unwrap().clone();
        Box::pin(async move { Ok(now) })
    }
}

fn addr(handle: &ServerHandle) -> SocketAddr {
    handle.local_addr().expect("a loopback server")
}

/// Waits until the client reports `expected` as its endpoints (in any order).
async fn until_endpoints(client: &FlakyClient, expected: &[SocketAddr]) {
    let mut expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
    expected.sort();
    let reached = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut now = client.endpoints();
            now.sort();
            if now == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the client never reported {expected:?}; it has {:?}",
        client.endpoints()
    );
}

/// Five servers, and the calls each has answered.
async fn servers(count: usize) -> (Vec<Scripted>, Vec<ServerHandle>, Vec<SocketAddr>) {
    let mut scripted = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..count {
        let server = Scripted::default();
        let (_channel, handle) = loopback(&server).await;
        scripted.push(server);
        handles.push(handle);
    }
    let addresses = handles.iter().map(addr).collect();
    (scripted, handles, addresses)
}

#[tokio::test]
async fn the_calls_follow_the_addresses_as_they_change() {
    let (servers, _handles, all) = servers(5).await;
    let discovery = Addresses::default();
    discovery.set(&all[..1]);
    let client = FlakyClient::builder()
        .resolver(discovery.clone())
        .resolve_every(Duration::from_millis(20))
        .connect_lazy(["test:///flaky:50051"])
        .unwrap();

    // 1 → 3 → 5 → 2 addresses, 100 calls after each change has been put in force.
    for live in [&[0][..], &[0, 1, 2], &[0, 1, 2, 3, 4], &[3, 4]] {
        let addresses: Vec<SocketAddr> = live.iter().map(|&i| all[i]).collect();
        discovery.set(&addresses);
        until_endpoints(&client, &addresses).await;
        let before: Vec<usize> = servers.iter().map(Scripted::count).collect();
        for n in 0..100 {
            client.read(&ctx(), call(&n.to_string())).await.unwrap();
        }
        let share = 100.0 / live.len() as f64;
        for (index, server) in servers.iter().enumerate() {
            let got = server.count() - before[index];
            if live.contains(&index) {
                assert!(
                    (got as f64 - share).abs() <= share * 0.2,
                    "server {index} got {got} of 100 calls over {live:?}"
                );
            } else {
                assert_eq!(got, 0, "server {index} is not among {live:?} but got calls");
            }
        }
    }
}

#[tokio::test]
async fn an_address_that_goes_away_finishes_its_calls_and_gets_no_more() {
    let (servers, _handles, all) = servers(2).await;
    let discovery = Addresses::default();
    discovery.set(&all[..1]);
    let client = FlakyClient::builder()
        .resolver(discovery.clone())
        .resolve_every(Duration::from_millis(20))
        .connect_lazy(["test:///flaky"])
        .unwrap();
    until_endpoints(&client, &all[..1]).await;

    // A slow call in flight on the first server when the name moves to the second.
    servers[0].script([Outcome::SlowOk(Duration::from_millis(300))]);
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.read(&ctx(), call("slow")).await })
    };
    while servers[0].count() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    discovery.set(&all[1..]);
    until_endpoints(&client, &all[1..]).await;

    let reply = slow
        .await
        .unwrap()
        .expect("the call in flight finishes on its server");
    assert_eq!(reply.tag, "slow");
    for n in 0..10 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    assert_eq!((servers[0].count(), servers[1].count()), (1, 10));
}

#[tokio::test]
async fn a_connection_that_fails_asks_for_a_new_resolution() {
    let (servers, mut handles, all) = servers(2).await;
    let discovery = Addresses::default();
    discovery.set(&all);
    // No refresh to speak of: only the failure can make it resolve again.
    let client = FlakyClient::builder()
        .resolver(discovery.clone())
        .resolve_every(Duration::from_secs(3600))
        .connect_lazy(["test:///flaky"])
        .unwrap();
    until_endpoints(&client, &all).await;
    for n in 0..4 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    let asked = discovery.asked();

    // The first server goes away, and so does its address.
    handles.remove(0).shutdown().await.unwrap();
    discovery.set(&all[1..]);
    // Reads are safe to retry: each succeeds on the live server meanwhile.
    for n in 0..4 {
        client
            .read(&ctx(), call(&format!("after-{n}")))
            .await
            .unwrap();
    }
    until_endpoints(&client, &all[1..]).await;
    assert!(
        discovery.asked() > asked,
        "the failed connection asked for a resolution"
    );
    assert_eq!(servers[0].count(), 2);
}

#[tokio::test]
async fn calls_made_before_the_first_answer_wait_for_it() {
    let (servers, _handles, all) = servers(1).await;
    let discovery = Addresses::default();
    discovery.set(&all);
    let client = FlakyClient::builder()
        .resolver(discovery)
        .connect_lazy(["test:///flaky"])
        .unwrap();
    // At once, before the resolution task has run.
    client.read(&ctx(), call("first")).await.unwrap();
    assert_eq!(servers[0].count(), 1);
}

#[tokio::test]
async fn a_name_that_resolves_to_nothing_fails_calls_as_unavailable() {
    let client = FlakyClient::builder()
        .resolver(Addresses::default())
        .connect_lazy(["test:///nowhere"])
        .unwrap();
    let status = client.read(&ctx(), call("x")).await.unwrap_err();
    assert_eq!(status.code(), rust_svc_runtime::Code::Unavailable);
    assert!(status.message().contains("no address"), "{status:?}");
}

#[tokio::test]
async fn dns_names_resolve_with_the_system_resolver() {
    let server = Scripted::default();
    let (_channel, handle) = loopback(&server).await;
    let port = addr(&handle).port();
    let client = FlakyClient::connect_lazy([format!("dns:///localhost:{port}")]).unwrap();
    // `localhost` may be ::1 as well as 127.0.0.1, where nothing listens: reads are retried
    // on the other address, so each succeeds.
    for n in 0..6 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    assert_eq!(server.count(), 6);
    assert!(
        client.endpoints().contains(&format!("127.0.0.1:{port}")),
        "{:?}",
        client.endpoints()
    );
}

#[tokio::test]
async fn named_targets_are_checked_when_the_client_is_built() {
    let unknown = FlakyClient::connect_lazy(["consul:///orders"]).unwrap_err();
    assert!(
        matches!(&unknown, ClientError::InvalidEndpoint { reason, .. } if reason.contains("ClientBuilder::resolver")),
        "{unknown}"
    );
    let mixed = FlakyClient::connect_lazy(["dns:///a:1", "http://b:2"]).unwrap_err();
    assert!(mixed.to_string().contains("stands alone"), "{mixed}");
}
