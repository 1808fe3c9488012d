//! A generated client of several endpoints: round robin, retries sent to another endpoint, and
//! one breaker per endpoint, over real loopback HTTP/2 (the `Flaky` service of
//! tests/protos/resilience.proto: 4 attempts, a breaker opening at 50% failures of at least 4
//! calls).

use std::time::Duration;

use rust_svc_runtime::Code;
use rust_svc_runtime::client::{BreakerState, LoadBalancing};
use rust_svc_runtime::harness::ServerHandle;
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient};

use crate::client_common::{Outcome, Scripted, call, ctx, keyed, loopback};

fn url(handle: &ServerHandle) -> String {
    format!("http://{}", handle.local_addr().expect("a loopback server"))
}

/// A loopback URL where nothing listens: connections are refused.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn calls_take_turns_between_the_endpoints() {
    let (first, second) = (Scripted::default(), Scripted::default());
    let (_channel, first_handle) = loopback(&first).await;
    let (_channel, second_handle) = loopback(&second).await;
    let client = FlakyClient::connect_lazy([url(&first_handle), url(&second_handle)]).unwrap();

    for n in 0..10 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }

    assert_eq!((first.count(), second.count()), (5, 5));
}

#[tokio::test]
async fn a_retry_goes_to_the_endpoint_the_call_has_not_tried() {
    let (first, second) = (Scripted::default(), Scripted::default());
    let (_channel, first_handle) = loopback(&first).await;
    let (_channel, second_handle) = loopback(&second).await;
    let client = FlakyClient::connect_lazy([url(&first_handle), url(&second_handle)]).unwrap();
    // The first call starts at the first endpoint, which fails it once.
    first.script([Outcome::Fail(Code::Unavailable)]);

    client.read(&ctx(), call("once")).await.unwrap();

    assert_eq!((first.count(), second.count()), (1, 1));
}

#[tokio::test]
async fn a_dead_endpoint_opens_its_own_breaker_and_the_calls_flow_to_the_live_one() {
    let live = Scripted::default();
    let (_channel, live_handle) = loopback(&live).await;
    let dead = dead_url();
    let client = FlakyClient::connect_lazy([dead.clone(), url(&live_handle)]).unwrap();

    // Safe to retry (a read, and a write with its idempotency key): every one succeeds, the
    // attempts that hit the dead endpoint retried on the live one.
    for n in 0..20 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
        client
            .write(&ctx(), keyed(&format!("key-{n}")))
            .await
            .unwrap();
    }

    for method in ["Read", "Write"] {
        assert_eq!(
            client.breaker_states(method),
            [
                (dead.clone(), BreakerState::Open),
                (url(&live_handle), BreakerState::Closed),
            ],
            "{method}"
        );
        assert_eq!(client.breaker_state(method), Some(BreakerState::Closed));
    }

    // With the dead endpoint's breaker open, every call goes straight to the live one.
    let before = live.count();
    for n in 0..6 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    assert_eq!(live.count() - before, 6);
}

#[tokio::test]
async fn a_call_that_is_not_safe_to_retry_fails_on_the_dead_endpoint() {
    let live = Scripted::default();
    let (_channel, live_handle) = loopback(&live).await;
    let client = FlakyClient::connect_lazy([dead_url(), url(&live_handle)]).unwrap();

    // A write without an idempotency key is sent once: the first call starts at the dead
    // endpoint and fails there rather than risk a second write.
    let failed = client.write(&ctx(), keyed("")).await.unwrap_err();

    assert_eq!(failed.code(), Code::Unavailable);
    assert_eq!(live.count(), 0);
}

#[tokio::test]
async fn when_every_endpoint_is_dead_the_breakers_open_and_calls_fail_fast() {
    let client = FlakyClient::connect_lazy([dead_url(), dead_url()]).unwrap();

    // Each endpoint's breaker opens after 4 failed attempts (fewer calls, as calls retry, until
    // the throttle stops the retries).
    let mut calls = 0;
    while client.breaker_state("Read") != Some(BreakerState::Open) {
        assert!(
            calls < 20,
            "the breakers never opened: {:?}",
            client.breaker_states("Read")
        );
        let failed = client
            .read(&ctx(), call(&calls.to_string()))
            .await
            .unwrap_err();
        assert_eq!(failed.code(), Code::Unavailable);
        calls += 1;
    }

    let failed = client.read(&ctx(), call("fast")).await.unwrap_err();
    assert_eq!(failed.code(), Code::Unavailable);
    assert!(
        failed.message().contains("Flaky/Read@"),
        "the rejection names a breaker: {}",
        failed.message()
    );
}

/// Three endpoints, the last ten times slower than the others; `calls` reads from 30 tasks at
/// once under `policy`; how many each endpoint answered.
async fn spread_with_one_slow(policy: LoadBalancing, calls: usize) -> [usize; 3] {
    let servers = [
        Scripted::default(),
        Scripted::default(),
        Scripted::default(),
    ];
    for (index, server) in servers.iter().enumerate() {
        let delay = if index == 2 { 100 } else { 10 };
        server.script((0..calls).map(|_| Outcome::SlowOk(Duration::from_millis(delay))));
    }
    let mut handles = Vec::new();
    for server in &servers {
        handles.push(loopback(server).await.1);
    }
    let client = FlakyClient::builder()
        .load_balancing(policy)
        .connect_lazy(handles.iter().map(url))
        .unwrap();
    let tasks = 30;
    let mut running = Vec::new();
    for task in 0..tasks {
        let client = client.clone();
        running.push(tokio::spawn(async move {
            for n in 0..calls / tasks {
                client
                    .read(&ctx(), call(&format!("{task}-{n}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in running {
        task.await.unwrap();
    }
    servers.each_ref().map(Scripted::count)
}

#[tokio::test]
async fn least_request_sends_a_slow_endpoint_fewer_calls_than_round_robin() {
    let round_robin = spread_with_one_slow(LoadBalancing::round_robin(), 300).await;
    let least_request = spread_with_one_slow(LoadBalancing::least_request(), 300).await;
    eprintln!(
        "calls per endpoint, the last slow: round_robin {round_robin:?}, least_request {least_request:?}"
    );
    assert_eq!(round_robin.iter().sum::<usize>(), 300);
    assert_eq!(least_request.iter().sum::<usize>(), 300);
    // Round robin: an even share whatever the endpoint costs.
    assert_eq!(round_robin, [100, 100, 100], "{round_robin:?}");
    // Least request: the slow endpoint's calls pile up, so it is drawn and passed over.
    assert!(
        least_request[2] < 75,
        "the slow endpoint got {} of 300 calls under least_request ({least_request:?})",
        least_request[2]
    );
}

#[tokio::test]
async fn pick_first_sends_every_call_to_the_first_endpoint_that_takes_it() {
    let (first, second) = (Scripted::default(), Scripted::default());
    let (_channel, first_handle) = loopback(&first).await;
    let (_channel, second_handle) = loopback(&second).await;
    let client = FlakyClient::builder()
        .load_balancing(LoadBalancing::pick_first())
        .connect_lazy([url(&first_handle), url(&second_handle)])
        .unwrap();
    for n in 0..10 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    assert_eq!((first.count(), second.count()), (10, 0));

    // A failure retried goes to the second; the next call to the first again.
    first.script([Outcome::Fail(Code::Unavailable)]);
    client.read(&ctx(), call("retried")).await.unwrap();
    client.read(&ctx(), call("after")).await.unwrap();
    assert_eq!((first.count(), second.count()), (12, 1));

    // The first gone: every call goes to the second, once the first's breaker has opened.
    first_handle.shutdown().await.unwrap();
    for n in 0..10 {
        client
            .read(&ctx(), call(&format!("gone-{n}")))
            .await
            .unwrap();
    }
    assert_eq!(second.count(), 11);
}
