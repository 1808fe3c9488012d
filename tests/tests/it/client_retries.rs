//! The generated client's retries (gRFC A6) and throttling, against real tonic servers that
//! fail on a script.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use rust_svc_runtime::client::{BreakerPolicy, RetryPolicy};
use rust_svc_runtime::{BoxStream, Code, Status};
use rust_svc_tests::tests::resilience::{Call, Flaky, FlakyClient, OptionalKeyedCall};
use tokio::time::Instant;

use crate::client_common::*;

// ---------------------------------------------------------------------------------------------
// Retries

#[tokio::test(start_paused = true)]
async fn an_idempotent_call_is_retried_until_it_succeeds() {
    let server = Scripted::default();
    server.script([
        Outcome::Fail(Code::Unavailable),
        Outcome::Fail(Code::Unavailable),
    ]);
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let reply = client.read(&ctx(), call("read")).await.unwrap();
    assert_eq!(reply.attempt, 3);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn only_retryable_codes_are_retried() {
    let server = Scripted::default();
    server.script([Outcome::Fail(Code::Internal)]);
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    let status = client.read(&ctx(), call("read")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_non_idempotent_call_without_a_key_is_never_retried() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let status = client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);

    for key in [None, Some(String::new())] {
        server.script([Outcome::Fail(Code::Unavailable)]);
        let request = OptionalKeyedCall {
            tag: "optional".to_owned(),
            request_key: key,
        };
        let status = client.write_optional(&ctx(), request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    }
    assert_eq!(server.count(), 3, "one attempt per call");
    assert!(server.attempts().iter().all(|a| a.key_header.is_none()));
}

#[tokio::test]
async fn a_keyed_call_is_retried_with_the_same_key_on_every_attempt() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);

    server.script([
        Outcome::Fail(Code::Unavailable),
        Outcome::Fail(Code::Unavailable),
    ]);
    let reply = client.write(&ctx(), keyed("order-77")).await.unwrap();
    assert_eq!(reply.attempt, 3);
    assert_eq!(reply.tag, "order-77", "the key travels in the message too");
    let keys: Vec<_> = server
        .attempts()
        .iter()
        .map(|a| a.key_header.clone())
        .collect();
    assert_eq!(keys, vec![Some("order-77".to_owned()); 3]);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let request = OptionalKeyedCall {
        tag: "optional".to_owned(),
        request_key: Some("k-1".to_owned()),
    };
    client.write_optional(&ctx(), request).await.unwrap();
    let optional: Vec<_> = server
        .attempts()
        .into_iter()
        .filter(|a| a.method == "WriteOptional")
        .map(|a| a.key_header)
        .collect();
    assert_eq!(optional, vec![Some("k-1".to_owned()); 2]);
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_after_the_deadline() {
    let server = Scripted::default();
    // Every attempt takes 40 ms to fail; the caller has 100 ms.
    server.script(vec![
        Outcome::SlowFail(
            Duration::from_millis(40),
            Code::Unavailable
        );
        5
    ]);
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .retry_policy(
            RetryPolicy::DEFAULT
                .max_attempts(5)
                .initial_backoff(Duration::from_millis(30))
                .max_backoff(Duration::from_millis(30))
                .backoff_multiplier(1.0),
        )
        .build(channel)
        .unwrap();
    let caller = ctx().with_timeout(Duration::from_millis(100));
    let deadline = caller.deadline().unwrap();
    let status = client.read(&caller, call("slow")).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "{status:?}"
    );
    let attempts = server.attempts();
    assert!((2..=3).contains(&attempts.len()), "{attempts:?}");
    assert!(attempts.iter().all(|a| a.at < deadline), "{attempts:?}");
    assert!(Instant::now() <= deadline);
}

#[tokio::test(start_paused = true)]
async fn a_retry_info_delay_is_honoured() {
    let server = Scripted::default();
    server.script([Outcome::FailWithRetryInfo(Duration::from_millis(300))]);
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let reply = client.read(&ctx(), call("pushback")).await.unwrap();
    assert_eq!(reply.attempt, 2);
    let attempts = server.attempts();
    // The policy's backoff is at most 40 ms: only the server's delay explains 300 ms.
    assert_eq!(attempts[1].at - attempts[0].at, Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_retry_info_delay_past_the_deadline_ends_the_call() {
    let server = Scripted::default();
    server.script([Outcome::FailWithRetryInfo(Duration::from_secs(60))]);
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let start = Instant::now();
    let status = client.read(&ctx(), call("pushback")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "it does not wait for nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_stops_retries_after_a_burst_and_lets_them_back_after_successes() {
    // Flaky's bucket: 10 tokens, 1 back per success; retries only above 5 tokens.
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Disabled)
        .build(channel)
        .unwrap();
    let attempts_of = |server: &Scripted, before: usize| server.count() - before;

    server.script(vec![Outcome::Fail(Code::Unavailable); 4]);
    let before = server.count();
    client.read(&ctx(), call("burst")).await.unwrap_err();
    assert_eq!(
        attempts_of(&server, before),
        4,
        "10 → 6 tokens, retries allowed"
    );

    server.script([Outcome::Fail(Code::Unavailable)]);
    let before = server.count();
    client.read(&ctx(), call("throttled")).await.unwrap_err();
    assert_eq!(attempts_of(&server, before), 1, "5 tokens: no retry");

    for _ in 0..3 {
        client.read(&ctx(), call("healthy")).await.unwrap();
    }
    server.script(vec![Outcome::Fail(Code::Unavailable); 2]);
    let before = server.count();
    let reply = client.read(&ctx(), call("recovered")).await.unwrap();
    assert_eq!(reply.attempt as usize, server.count());
    assert_eq!(
        attempts_of(&server, before),
        3,
        "8 tokens: retries are back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pushback_asking_not_to_retry_draws_on_the_bucket_whatever_the_code() {
    // gRFC A6 (and grpc-go) count "a pushback response indicating not to retry" as a failure
    // for throttling, even with a code the policy would not retry.
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Disabled)
        .build(channel)
        .unwrap();
    server.script(vec![Outcome::FailCodeWithPushback(Code::Internal, "-1"); 5]);
    for _ in 0..5 {
        client.read(&ctx(), call("stop")).await.unwrap_err();
    }
    // 10 → 5 tokens: a retryable failure is no longer retried.
    server.script(vec![Outcome::Fail(Code::Unavailable); 2]);
    let before = server.count();
    client.read(&ctx(), call("after")).await.unwrap_err();
    assert_eq!(server.count() - before, 1);
}

#[tokio::test(start_paused = true)]
async fn a_server_stream_is_retried_only_before_its_first_message() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let items: Vec<_> = client
        .watch(&ctx(), call("w"))
        .await
        .unwrap()
        .collect()
        .await;
    let tags: Vec<_> = items.into_iter().map(|item| item.unwrap().tag).collect();
    assert_eq!(tags, ["w-0", "w-1", "w-2"]);
    assert_eq!(server.count(), 2);

    server.script([Outcome::FailAfterFirst]);
    let mut stream = client.watch(&ctx(), call("x")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().tag, "x");
    let broken = stream.next().await.unwrap().unwrap_err();
    assert_eq!(broken.code(), Code::Unavailable);
    assert!(stream.next().await.is_none());
    assert_eq!(server.count(), 3, "no retry once a message has arrived");
}

#[tokio::test]
async fn client_and_bidi_streams_are_retried_with_what_they_sent() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);

    // The server read both messages, then failed before any response header: the second
    // attempt sends them again.
    server.script([Outcome::Fail(Code::Unavailable)]);
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    let reply = client.upload(&ctx(), uploads).await.unwrap();
    assert_eq!((reply.attempt, reply.tag.as_str()), (2, "a,b"));
    assert_eq!(server.count(), 2);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let chat: BoxStream<Call> = Box::pin(stream::iter([Ok(call("hi")), Ok(call("there"))]));
    let replies: Vec<_> = client
        .chat(&ctx(), chat)
        .await
        .unwrap()
        .map(|reply| reply.unwrap())
        .collect()
        .await;
    let tags: Vec<_> = replies.iter().map(|reply| reply.tag.as_str()).collect();
    assert_eq!(tags, ["hi", "there"]);
    assert!(replies.iter().all(|reply| reply.attempt == 2));

    // And when they succeed at once, everything arrives once.
    let before = server.count();
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    assert_eq!(client.upload(&ctx(), uploads).await.unwrap().tag, "a,b");
    assert_eq!(server.count(), before + 1);
}

#[tokio::test]
async fn a_stream_that_outgrew_the_retry_buffer_is_not_retried() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    // Four bytes a call: the second message does not fit, so the call is committed.
    let client = FlakyClient::builder()
        .retry_buffer(4, 1 << 20)
        .build(channel)
        .unwrap();
    server.script([Outcome::Fail(Code::Unavailable)]);
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    let status = client.upload(&ctx(), uploads).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn the_per_call_and_per_client_retry_buffers_are_limits_of_their_own() {
    // Each limit alone, at four bytes, commits a two-message upload: it is not retried.
    let small_call = FlakyClient::builder().retry_buffer_per_call(4);
    let small_client = FlakyClient::builder().retry_buffer_per_client(4);
    for (which, builder) in [("per call", small_call), ("per client", small_client)] {
        let server = Scripted::default();
        let (channel, _handle) = loopback(&server).await;
        let client = builder.build(channel).unwrap();
        server.script([Outcome::Fail(Code::Unavailable)]);
        let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
        let status = client.upload(&ctx(), uploads).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{which}");
        assert_eq!(server.count(), 1, "{which}: committed, not retried");
    }
    // Setting one leaves the other at its default: a large per-call buffer with the default
    // per-client one retries the same upload.
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::builder()
        .retry_buffer_per_call(1 << 20)
        .build(channel)
        .unwrap();
    server.script([Outcome::Fail(Code::Unavailable)]);
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    assert_eq!(client.upload(&ctx(), uploads).await.unwrap().tag, "a,b");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_failing_request_stream_cancels_the_call_instead_of_ending_it() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    let uploads: BoxStream<Call> = Box::pin(stream::iter([
        Ok(call("a")),
        Err(Status::aborted("the source broke")),
    ]));
    let status = client.upload(&ctx(), uploads).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "the source broke");
    // The call is reset, so the handler is dropped before it commits. (tonic's server reports a
    // reset request stream as a clean end, so the handler sees its input end; hyper drops it at
    // the reset.) Wait for the handler to be dropped.
    let ended = loop {
        if let Some(outcome) = server.uploads.lock().unwrap().first() {
            break *outcome;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(ended, "abandoned");

    // A clean upload commits.
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a"))]));
    client.upload(&ctx(), uploads).await.unwrap();
    assert_eq!(*server.uploads.lock().unwrap(), ["abandoned", "committed"]);
}

#[tokio::test]
async fn a_bidi_call_fails_with_its_request_error_even_before_the_server_answers() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    // The server waits for an opening message that never comes: the call must not wait with it.
    let chat: BoxStream<Call> = Box::pin(stream::iter([Err(Status::aborted("no input"))]));
    let status = match client.chat(&ctx(), chat).await {
        Err(status) => status,
        Ok(mut replies) => replies.next().await.unwrap().unwrap_err(),
    };
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(server.count(), 0);
}
