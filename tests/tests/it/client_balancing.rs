//! A generated client of several endpoints: round robin, retries sent to another endpoint, and
//! one breaker per endpoint, over real loopback HTTP/2 (the `Flaky` service of
//! tests/protos/resilience.proto: 4 attempts, a breaker opening at 50% failures of at least 4
//! calls).

use rust_svc_runtime::Code;
use rust_svc_runtime::client::BreakerState;
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
