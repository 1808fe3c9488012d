//! The generated client's retries to the letter of gRFC A6 as amended: jittered backoff of
//! ±20 %, server pushback replacing the backoff and restarting it, a pushback header that is
//! malformed or sent twice meaning "do not retry", `grpc-previous-rpc-attempts` on every retry,
//! the attempt cap (5 by default, as grpc-go) that a builder can raise, and `grpc-timeout`
//! rounded down. Under paused time, against scripted tonic servers.

use std::time::Duration;

use rust_svc_runtime::Code;
use rust_svc_runtime::client::{BreakerPolicy, RetryPolicy};
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient};

use crate::client_common::*;

/// The gaps between consecutive attempts the server saw.
fn gaps(server: &Scripted) -> Vec<Duration> {
    let attempts = server.attempts();
    attempts
        .windows(2)
        .map(|pair| pair[1].at - pair[0].at)
        .collect()
}

/// Whether `gap` is `backoff` jittered by ±20 %.
fn jittered_from(gap: Duration, backoff: Duration) -> bool {
    gap >= backoff.mul_f64(0.8) && gap <= backoff.mul_f64(1.2)
}

#[tokio::test(start_paused = true)]
async fn backoff_is_jittered_within_twenty_percent_and_grows() {
    // Flaky: 4 attempts, backoff 10 ms doubling to at most 40 ms.
    for _ in 0..20 {
        let server = Scripted::default();
        server.script(vec![Outcome::Fail(Code::Unavailable); 3]);
        let (channel, _handle) = in_memory(&server);
        let reply = FlakyClient::new(channel)
            .read(&ctx(), call("backoff"))
            .await
            .unwrap();
        assert_eq!(reply.attempt, 4);
        let gaps = gaps(&server);
        for (gap, backoff) in gaps.iter().zip([10, 20, 40]) {
            assert!(
                jittered_from(*gap, Duration::from_millis(backoff)),
                "{gaps:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_pushback_is_waited_exactly_and_the_backoff_starts_over() {
    let server = Scripted::default();
    server.script([
        Outcome::Fail(Code::Unavailable),
        Outcome::FailWithPushbackHeader(&["300"]),
        Outcome::Fail(Code::Unavailable),
    ]);
    let (channel, _handle) = in_memory(&server);
    let reply = FlakyClient::new(channel)
        .read(&ctx(), call("pushback"))
        .await
        .unwrap();
    assert_eq!(reply.attempt, 4);
    let gaps = gaps(&server);
    assert!(
        jittered_from(gaps[0], Duration::from_millis(10)),
        "{gaps:?}"
    );
    assert_eq!(gaps[1], Duration::from_millis(300), "the pushback, exactly");
    // The first backoff again (10 ms), not the third (40 ms).
    assert!(
        jittered_from(gaps[2], Duration::from_millis(10)),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_negative_or_repeated_pushback_stops_the_retries() {
    for values in [
        &["-1"][..],
        &["soon"],
        &["1.5"],
        &["40", "40"],
        &["40", "80"],
    ] {
        let server = Scripted::default();
        server.script([Outcome::FailWithPushbackHeader(values)]);
        let (channel, _handle) = in_memory(&server);
        let status = FlakyClient::new(channel)
            .read(&ctx(), call("pushback"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{values:?}");
        assert_eq!(server.count(), 1, "{values:?}: no retry");
    }
}

#[tokio::test(start_paused = true)]
async fn every_retry_says_how_many_attempts_came_before() {
    let server = Scripted::default();
    server.script(vec![Outcome::Fail(Code::Unavailable); 3]);
    let (channel, _handle) = in_memory(&server);
    FlakyClient::new(channel)
        .read(&ctx(), call("count"))
        .await
        .unwrap();
    let previous: Vec<u32> = server
        .attempts()
        .iter()
        .map(|attempt| attempt.previous_attempts)
        .collect();
    assert_eq!(previous, [0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_capped_at_five_unless_the_builder_raises_the_cap() {
    let greedy = RetryPolicy::DEFAULT
        .max_attempts(8)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(1));
    for (cap, attempts) in [(None, 5), (Some(8), 8), (Some(20), 8), (Some(2), 2)] {
        let server = Scripted::default();
        server.script(vec![Outcome::Fail(Code::Unavailable); 20]);
        let (channel, _handle) = in_memory(&server);
        // Without a breaker or a bucket, which would stop the attempts before the cap does.
        let mut builder = FlakyClient::builder()
            .retry_policy(greedy.clone())
            .retry_throttling(None)
            .circuit_breaker(BreakerPolicy::Disabled);
        if let Some(cap) = cap {
            builder = builder.max_attempts(cap);
        }
        let status = builder
            .build(channel)
            .unwrap()
            .read(&ctx(), call("cap"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(server.count(), attempts, "cap {cap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_time_sent_downstream_is_rounded_down() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let ctx = rust_svc_runtime::Context::new().with_timeout(Duration::from_nanos(1_000_000_999));
    FlakyClient::new(channel)
        .read(&ctx, call("budget"))
        .await
        .unwrap();
    let budget = server.attempts()[0].budget.unwrap();
    assert!(
        budget <= Duration::from_nanos(1_000_000_999),
        "the server was given {budget:?}, more than the caller had"
    );
}
