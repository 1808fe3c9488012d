//! gRFC A6 hedging in the generated client, under paused time against scripted tonic servers:
//! the policy from options.proto (`Flaky.Hedged`: 3 attempts, one every 50 ms, UNAVAILABLE
//! non-fatal) and from the builder.

use std::time::Duration;

use futures_util::StreamExt;
use rust_svc_runtime::Code;
use rust_svc_runtime::client::{BreakerPolicy, HedgingPolicy, RetryThrottling};
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient};
use tokio::time::Instant;

use crate::client_common::*;

fn hedged_client(server: &Scripted) -> (FlakyClient, rust_svc_runtime::harness::ServerHandle) {
    let (channel, handle) = in_memory(server);
    (FlakyClient::new(channel), handle)
}

/// A client hedging every method the builder may (`max_attempts`, one every 10 ms, UNAVAILABLE
/// non-fatal), without breakers.
fn builder_hedged_client(
    server: &Scripted,
    max_attempts: u32,
) -> (FlakyClient, rust_svc_runtime::harness::ServerHandle) {
    let policy = HedgingPolicy::new(max_attempts, Duration::from_millis(10))
        .non_fatal_codes(vec![Code::Unavailable]);
    let (channel, handle) = in_memory(server);
    let client = FlakyClient::builder()
        .hedging_policy(policy)
        .circuit_breaker(BreakerPolicy::Disabled)
        .build(channel)
        .unwrap();
    (client, handle)
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_is_overtaken_by_a_hedge() {
    let server = Scripted::default();
    server.script([Outcome::SlowOk(Duration::from_secs(1))]);
    let (client, _handle) = hedged_client(&server);
    let start = Instant::now();
    let reply = client.hedged(&ctx(), call("tail")).await.unwrap();
    assert_eq!(reply.attempt, 2, "the hedge answered");
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    let attempts = server.attempts();
    assert_eq!(attempts[1].at - attempts[0].at, Duration::from_millis(50));
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.previous_attempts)
            .collect::<Vec<_>>(),
        [0, 1]
    );
}

#[tokio::test(start_paused = true)]
async fn a_non_fatal_failure_sends_the_next_attempt_at_once() {
    let server = Scripted::default();
    server.script([Outcome::Fail(Code::Unavailable)]);
    let (client, _handle) = hedged_client(&server);
    let start = Instant::now();
    let reply = client.hedged(&ctx(), call("retry")).await.unwrap();
    assert_eq!(reply.attempt, 2);
    assert_eq!(start.elapsed(), Duration::ZERO, "no hedging delay");
}

#[tokio::test(start_paused = true)]
async fn a_fatal_failure_ends_the_call_while_others_are_out() {
    let server = Scripted::default();
    server.script([Outcome::Hang, Outcome::Fail(Code::Internal)]);
    let (client, _handle) = hedged_client(&server);
    let start = Instant::now();
    let status = client.hedged(&ctx(), call("fatal")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    assert_eq!(server.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn hedges_stop_at_max_attempts_and_the_deadline_ends_the_call() {
    let server = Scripted::default();
    server.script(vec![Outcome::Hang; 5]);
    let (client, _handle) = hedged_client(&server);
    let status = client.hedged(&ctx(), call("hang")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(server.count(), 3, "max_attempts");
}

#[tokio::test(start_paused = true)]
async fn a_pushback_asking_to_stop_sends_no_further_hedge() {
    let server = Scripted::default();
    server.script([Outcome::FailWithPushbackHeader(&["-1"])]);
    let (client, _handle) = hedged_client(&server);
    let status = client.hedged(&ctx(), call("stop")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_pushback_delay_with_nothing_else_in_flight_sends_the_next_hedge_after_it() {
    // gRFC A6: the next hedge goes after the server's pushback, even when no other attempt is
    // out to wait on (the call once ended there with the pushback's status).
    let server = Scripted::default();
    server.script([Outcome::FailWithPushbackHeader(&["20"])]);
    let (client, _handle) = hedged_client(&server);
    let start = Instant::now();
    let reply = client.hedged(&ctx(), call("later")).await.unwrap();
    assert_eq!(reply.attempt, 2);
    assert_eq!(start.elapsed(), Duration::from_millis(20));
}

#[tokio::test(start_paused = true)]
async fn hedges_draw_on_the_throttling_bucket() {
    for (tokens, attempts) in [(2, 1), (10, 2)] {
        let server = Scripted::default();
        server.script([Outcome::Fail(Code::Unavailable)]);
        let (channel, _handle) = in_memory(&server);
        let client = FlakyClient::builder()
            .retry_throttling(Some(RetryThrottling::new(tokens, 0.1)))
            .build(channel)
            .unwrap();
        let _ = client.hedged(&ctx(), call("bucket")).await;
        assert_eq!(server.count(), attempts, "{tokens} tokens");
    }
}

#[tokio::test(start_paused = true)]
async fn the_builder_hedges_safe_calls_only() {
    let server = Scripted::default();
    let (client, _handle) = builder_hedged_client(&server, 4);
    // Read is safe: hedged every 10 ms while the first attempt is slow.
    server.script([Outcome::SlowOk(Duration::from_millis(25))]);
    let reply = client.read(&ctx(), call("read")).await.unwrap();
    assert_eq!(reply.attempt, 2);
    // Write without a key is not: one attempt, however slow.
    let before = server.count();
    server.script([Outcome::SlowOk(Duration::from_millis(25))]);
    client.write(&ctx(), keyed("")).await.unwrap();
    assert_eq!(server.count() - before, 1);
}

#[tokio::test(start_paused = true)]
async fn a_server_stream_is_decided_by_its_response_headers_not_its_first_message() {
    // gRFC A6: the first attempt whose response headers arrive is committed and the hedges
    // stop, however long its first message then takes.
    let server = Scripted::default();
    let (client, _handle) = builder_hedged_client(&server, 3);
    server.script([Outcome::SlowFirstMessage(Duration::from_millis(100))]);
    let start = Instant::now();
    let mut replies = client.watch(&ctx(), call("watch")).await.unwrap();
    let first = replies.next().await.unwrap().unwrap();
    assert_eq!(first.attempt, 1, "the first attempt's headers won");
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(server.count(), 1, "no hedge once the headers were in");

    // A stream that fails after its headers fails the call, and is not hedged again.
    server.script([Outcome::FailAfterFirst]);
    let before = server.count();
    let replies: Vec<_> = client
        .watch(&ctx(), call("broken"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[1].as_ref().unwrap_err().code(), Code::Unavailable);
    assert_eq!(server.count() - before, 1);
}
