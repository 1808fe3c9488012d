//! The generated client's circuit breakers, against real tonic servers that fail on a script.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_svc_runtime::client::{
    Adaptive, BreakerControls, BreakerPolicy, BreakerState, CallOutcome, ClientError,
    SlidingWindow, default_classification,
};
use rust_svc_runtime::{Code, Context, Status};
use rust_svc_tests::tests::resilience::{DynFlaky, Flaky, FlakyClient, Reply};
use tokio::time::Instant;
use tonic_types::StatusExt;

use crate::client_common::*;

// ---------------------------------------------------------------------------------------------
// Circuit breaker (Flaky: opens at 50 % of the last 10 calls, at least 4; open 10 s; 2 probes)

#[tokio::test]
async fn the_breaker_opens_at_the_failure_rate_once_it_has_the_minimum_calls() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);

    server.script(vec![Outcome::Fail(Code::Unavailable); 3]);
    for _ in 0..3 {
        client.write(&ctx(), keyed("")).await.unwrap_err();
    }
    assert_eq!(
        client.breaker_state("Write"),
        Some(BreakerState::Closed),
        "3 < 4 calls"
    );

    server.script([Outcome::Fail(Code::Unavailable)]);
    client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));

    let status = client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("tests.resilience.Flaky/Write@"),
        "the message names the breaker: {}",
        status.message()
    );
    let retry_delay = status
        .get_details_retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(retry_delay > Duration::from_secs(9) && retry_delay <= Duration::from_secs(10));
    assert_eq!(server.count(), 4, "the open breaker made no network call");
}

#[tokio::test]
async fn caller_errors_never_open_the_breaker() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    let caller_errors = [
        Code::InvalidArgument,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::Unauthenticated,
        Code::FailedPrecondition,
        Code::OutOfRange,
    ];
    server.script(
        caller_errors
            .iter()
            .cycle()
            .take(21)
            .map(|code| Outcome::Fail(*code)),
    );
    for _ in 0..21 {
        client.write(&ctx(), keyed("")).await.unwrap_err();
    }
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Closed));
    assert_eq!(server.count(), 21);
}

#[tokio::test]
async fn a_method_classifier_wins_over_the_client_wide_one() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    // Client-wide, nothing counts; for Write, INTERNAL and NOT_FOUND (its "data lost") do.
    let client = FlakyClient::builder()
        .breaker_classifier(|_| CallOutcome::Ignored)
        .method_breaker_classifier("Write", |code| match code {
            Code::NotFound => CallOutcome::Failure,
            code => default_classification(code),
        })
        .build(channel)
        .unwrap();

    // INTERNAL is not retried: one call each.
    server.script(vec![Outcome::Fail(Code::Internal); 4]);
    for _ in 0..4 {
        client.read(&ctx(), call("")).await.unwrap_err();
    }
    assert_eq!(
        client.breaker_state("Read"),
        Some(BreakerState::Closed),
        "the client-wide classifier ignores every outcome"
    );

    server.script(vec![Outcome::Fail(Code::NotFound); 4]);
    for _ in 0..4 {
        client.write(&ctx(), keyed("")).await.unwrap_err();
    }
    assert_eq!(
        client.breaker_state("Write"),
        Some(BreakerState::Open),
        "Write's own classifier counts NOT_FOUND"
    );
    assert_eq!(server.count(), 8);
}

#[tokio::test]
async fn a_method_classifier_for_an_unknown_rpc_is_a_builder_error() {
    let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    let error = FlakyClient::builder()
        .method_breaker_classifier("Wirte", |_| CallOutcome::Failure)
        .build(channel)
        .unwrap_err();
    assert!(error.to_string().contains("Wirte"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn half_open_probes_close_it_on_success_and_reopen_it_on_their_failure_rate() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let seen = transitions.clone();
    let client = FlakyClient::builder()
        .on_breaker_transition(move |t| seen.lock().unwrap().push((t.from, t.to)))
        .build(channel)
        .unwrap();
    let open = |client: &FlakyClient, server: &Scripted| {
        server.script(vec![Outcome::Fail(Code::Unavailable); 4]);
        let client = client.clone();
        async move {
            for _ in 0..4 {
                client.write(&ctx(), keyed("")).await.unwrap_err();
            }
        }
    };

    open(&client, &server).await;
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));
    tokio::time::advance(Duration::from_secs(10)).await;
    client.write(&ctx(), keyed("")).await.unwrap();
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::HalfOpen));
    client.write(&ctx(), keyed("")).await.unwrap();
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Closed));

    // One of the two probes failing is the 50 % threshold: open again, once both answered
    // (resilience4j's rule, not the first failed probe's).
    open(&client, &server).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    server.script([Outcome::Fail(Code::Unavailable)]);
    client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::HalfOpen));
    client.write(&ctx(), keyed("")).await.unwrap();
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));
    let calls = server.count();
    client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(server.count(), calls, "open again: no network call");

    use BreakerState::*;
    assert_eq!(
        *transitions.lock().unwrap(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_turned_away_by_the_breaker_is_not_retried() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .method_circuit_breaker(
            "Read",
            BreakerPolicy::SlidingWindow(
                SlidingWindow::DEFAULT
                    .failure_rate_threshold(0.5)
                    .window_size(2)
                    .minimum_calls(2)
                    .open_duration(Duration::from_secs(1))
                    .half_open_max_calls(1),
            ),
        )
        .build(channel)
        .unwrap();

    // The second failed attempt opens the breaker; the third attempt is turned away locally.
    server.script(vec![Outcome::Fail(Code::Unavailable); 2]);
    let status = client.read(&ctx(), call("opens")).await.unwrap_err();
    assert!(status.message().contains("circuit breaker"), "{status:?}");
    assert_eq!(server.count(), 2);

    // Half-open with its one probe out (hanging): another call is turned away at once, rather
    // than sleeping for the breaker's RetryInfo and trying again.
    tokio::time::advance(Duration::from_secs(1)).await;
    server.script([Outcome::Hang]);
    let probe = tokio::spawn({
        let client = client.clone();
        async move { client.read(&ctx(), call("probe")).await }
    });
    while server.count() < 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let start = Instant::now();
    let status = client.read(&ctx(), call("turned away")).await.unwrap_err();
    assert!(status.message().contains("circuit breaker"), "{status:?}");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(server.count(), 3);
    probe.abort();
}

#[tokio::test]
async fn breakers_are_per_method() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    server.script(vec![Outcome::Fail(Code::Unavailable); 4]);
    for _ in 0..4 {
        client.write(&ctx(), keyed("")).await.unwrap_err();
    }
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));
    assert_eq!(client.breaker_state("Read"), Some(BreakerState::Closed));
    client.read(&ctx(), call("fine")).await.unwrap();
    assert_eq!(server.count(), 5);
    // Clones share the breakers; a separately built client does not.
    assert_eq!(
        client.clone().breaker_state("Write"),
        Some(BreakerState::Open)
    );
}

#[tokio::test(start_paused = true)]
async fn the_adaptive_model_rejects_locally_in_proportion_to_failures() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Adaptive(Adaptive::DEFAULT))
        .build(channel)
        .unwrap();
    server.script(vec![Outcome::Fail(Code::Unavailable); 200]);
    let mut rejected = 0;
    for _ in 0..200 {
        let status = client.write(&ctx(), keyed("")).await.unwrap_err();
        if status.message().contains("circuit breaker") {
            rejected += 1;
        }
    }
    assert_eq!(server.count() + rejected, 200);
    assert!(rejected > 150, "only {rejected} of 200 rejected locally");
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));
}

// ---------------------------------------------------------------------------------------------
// The client as the domain trait; construction

/// Code written against the trait, unaware it holds a remote client.
async fn read_through(service: &impl Flaky) -> Result<Reply, Status> {
    service.read(&Context::new(), call("via trait")).await
}

#[tokio::test]
async fn the_client_stands_wherever_the_trait_is_expected() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    assert_eq!(read_through(&client).await.unwrap().tag, "via trait");
    let shared: Arc<dyn DynFlaky> = Arc::new(client.clone());
    assert_eq!(read_through(&shared).await.unwrap().tag, "via trait");
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move { client.read(&Context::new(), call(&n.to_string())).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.count(), 10);
}

#[tokio::test]
async fn several_endpoints_are_balanced() {
    let (first, second) = (Scripted::default(), Scripted::default());
    let (_, first_handle) = loopback(&first).await;
    let (_, second_handle) = loopback(&second).await;
    let urls = [first_handle.local_addr(), second_handle.local_addr()]
        .map(|addr| format!("http://{}", addr.unwrap()));
    let client = FlakyClient::connect_lazy(&urls).unwrap();
    for n in 0..40 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    assert_eq!(first.count() + second.count(), 40);
    assert!(
        first.count() > 0 && second.count() > 0,
        "{} / {}",
        first.count(),
        second.count()
    );
}

#[test]
fn builder_mistakes_are_reported_by_name() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let error = FlakyClient::builder()
        .method_deadline("Reed", Duration::from_secs(1))
        .connect_lazy(["http://127.0.0.1:1"])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "tests.resilience.Flaky has no method `Reed`; its methods are Read, Write, WriteOptional, \
         Quick, Hedged, Watch, Upload, Chat"
    );
    let error = FlakyClient::builder()
        .propagate_headers(["x-request-id", "bad header"])
        .connect_lazy(["http://127.0.0.1:1"])
        .unwrap_err();
    assert_eq!(error, ClientError::InvalidHeader("bad header".to_owned()));
    assert_eq!(
        FlakyClient::connect_lazy(Vec::<String>::new()).unwrap_err(),
        ClientError::NoEndpoints
    );
    assert!(matches!(
        FlakyClient::connect_lazy(["not a url"]).unwrap_err(),
        ClientError::InvalidEndpoint { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Run-time controls and the fallback

#[tokio::test(start_paused = true)]
async fn controls_force_the_breakers_of_a_client_and_a_fallback_answers_for_them() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let controls = BreakerControls::new();
    let client = FlakyClient::builder()
        .breaker_controls(&controls)
        .method_fallback("Read", |status: &Status| {
            assert!(
                status.message().contains("forced open"),
                "{}",
                status.message()
            );
            Some(Reply {
                attempt: 0,
                tag: "cached".to_owned(),
            })
        })
        .build(channel)
        .unwrap();

    assert_eq!(controls.force_open("Read"), 1);
    assert_eq!(client.breaker_state("Read"), Some(BreakerState::ForcedOpen));
    let reply = client.read(&ctx(), call("read")).await.unwrap();
    assert_eq!(reply.tag, "cached", "answered by the fallback");
    assert_eq!(server.count(), 0, "nothing was sent");
    // Another method forced open has no fallback: the rejection is the call's.
    controls.force_open("Quick");
    let status = client.quick(&ctx(), call("quick")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);

    controls.disable("Read");
    assert_eq!(client.breaker_state("Read"), Some(BreakerState::Disabled));
    server.script(vec![Outcome::Fail(Code::Internal); 20]);
    for _ in 0..20 {
        // Internal is not retried; a disabled breaker lets every failure through uncounted.
        client.read(&ctx(), call("read")).await.unwrap_err();
    }
    assert_eq!(server.count(), 20);
    controls.reset_all();
    assert_eq!(client.breaker_state("Read"), Some(BreakerState::Closed));
    assert_eq!(client.breaker_state("Quick"), Some(BreakerState::Closed));
    assert_eq!(client.read(&ctx(), call("read")).await.unwrap().tag, "read");
}

#[tokio::test(start_paused = true)]
async fn a_fallback_answers_only_calls_the_breaker_turned_away() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::builder()
        .retry_throttling(None)
        .method_fallback("Write", |_: &Status| -> Option<Reply> { None })
        .method_fallback("Read", |_: &Status| {
            Some(Reply {
                attempt: 0,
                tag: "default".to_owned(),
            })
        })
        .build(channel)
        .unwrap();
    // Failures that reached the service are the caller's to see, until the breaker opens.
    server.script(vec![Outcome::Fail(Code::Internal); 4]);
    for _ in 0..4 {
        let status = client.read(&ctx(), call("read")).await.unwrap_err();
        assert_eq!(status.code(), Code::Internal);
    }
    assert_eq!(client.breaker_state("Read"), Some(BreakerState::Open));
    assert_eq!(
        client.read(&ctx(), call("read")).await.unwrap().tag,
        "default"
    );
    assert_eq!(server.count(), 4);

    // A fallback that has nothing lets the rejection through.
    server.script(vec![Outcome::Fail(Code::Internal); 4]);
    for _ in 0..4 {
        client.write(&ctx(), keyed("")).await.unwrap_err();
    }
    let status = client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status.message().contains("circuit breaker"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_fallback_is_for_unary_rpcs() {
    let error = FlakyClient::builder()
        .method_fallback("Watch", |_: &Status| -> Option<Reply> { None })
        .connect_lazy(["http://127.0.0.1:1"])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "tests.resilience.Flaky/Watch is a streaming rpc; a fallback answers unary calls only"
    );
}

#[tokio::test(start_paused = true)]
async fn load_refusals_and_a_callers_short_budget_do_not_open_the_breaker() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let write = |ctx: Context| {
        let client = client.clone();
        async move { client.write(&ctx, keyed("")).await.unwrap_err().code() }
    };

    // A server shedding load: UNAVAILABLE with a pushback (the client pauses as asked in
    // between), and RESOURCE_EXHAUSTED.
    server.script(vec![Outcome::FailWithPushbackHeader(&["100"]); 6]);
    for _ in 0..6 {
        assert_eq!(write(ctx()).await, Code::Unavailable);
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    server.script(vec![Outcome::Fail(Code::ResourceExhausted); 6]);
    for _ in 0..6 {
        assert_eq!(write(ctx()).await, Code::ResourceExhausted);
    }
    // A caller with 100 ms left, where Write's own deadline is 5 s.
    server.script(vec![Outcome::Hang; 6]);
    for _ in 0..6 {
        let hurried = Context::new().with_deadline(Instant::now() + Duration::from_millis(100));
        assert_eq!(write(hurried).await, Code::DeadlineExceeded);
    }
    assert_eq!(server.count(), 18);
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Closed));

    // Write's own deadline running out is the dependency being slow: it counts.
    server.script(vec![Outcome::Hang; 4]);
    for _ in 0..4 {
        assert_eq!(write(ctx()).await, Code::DeadlineExceeded);
    }
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Open));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_asks_for_a_pause_gets_no_call_until_it_is_over() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let backoff = client.backoff();
    assert_eq!(backoff.remaining(), None);

    server.script([Outcome::FailWithPushbackHeader(&["250"])]);
    let refused = client.write(&ctx(), keyed("")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);
    assert_eq!(backoff.remaining(), Some(Duration::from_millis(250)));

    // Meanwhile calls fail at once, locally, with what is left of the pause as their own
    // pushback; the breaker counts none of it.
    tokio::time::advance(Duration::from_millis(100)).await;
    for _ in 0..20 {
        let status = client.write(&ctx(), keyed("")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("asked for a pause"), "{status:?}");
        assert_eq!(
            status.metadata().get("grpc-retry-pushback-ms").unwrap(),
            "150"
        );
    }
    assert_eq!(server.count(), 1, "nothing was sent during the pause");
    assert_eq!(client.breaker_state("Write"), Some(BreakerState::Closed));

    tokio::time::advance(Duration::from_millis(150)).await;
    assert_eq!(backoff.remaining(), None);
    client.write(&ctx(), keyed("")).await.unwrap();
    assert_eq!(server.count(), 2);
}

/// Serves HTTP/2 on loopback and resets every stream with `reason` after reading its
/// headers: what a server whose handler task panicked does (hyper drops the stream).
async fn resetting_server(reason: h2::Reason) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    respond.send_reset(reason);
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_stream_reset_the_caller_did_not_ask_for_is_a_failure_of_the_dependency() {
    // go-zero's TestGoogleBreakerPanic: a dependency whose handler panics must trip the
    // breaker. A reset the caller did not ask for (CANCEL, as hyper resets the stream of a
    // task that panicked; INTERNAL_ERROR) is the dependency's failure, not the caller's
    // cancellation.
    for reason in [h2::Reason::CANCEL, h2::Reason::INTERNAL_ERROR] {
        for compressed in [false, true] {
            let addr = resetting_server(reason).await;
            let mut builder = FlakyClient::builder();
            if compressed {
                builder = builder.send_compressed(rust_svc_runtime::CompressionEncoding::Gzip);
            }
            let client = builder.connect_lazy([format!("http://{addr}")]).unwrap();
            let mut codes = Vec::new();
            for _ in 0..4 {
                let status = client.write(&ctx(), keyed("")).await.unwrap_err();
                codes.push((status.code(), status.message().to_owned()));
            }
            assert_eq!(
                client.breaker_state("Write"),
                Some(BreakerState::Open),
                "{reason:?}: {codes:?}"
            );
        }
    }
}
