//! The generated client against real tonic servers that fail on a script.
//!
//! Tests about time (backoff, deadlines, pushback, open breakers) run under paused tokio time
//! over the in-memory transport, where no real I/O can let the clock jump ahead, so they are
//! exact and fast. Tests that only count calls run on a loopback port.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use rust_svc_runtime::client::{
    Adaptive, BreakerPolicy, BreakerState, ClientError, RetryPolicy, SlidingWindow,
};
use rust_svc_runtime::harness::{ServerHandle, serve_in_memory, serve_loopback};
use rust_svc_runtime::{BoxStream, Code, Context, MetadataMap, Status};
use rust_svc_tests::tests::resilience::{
    Call, DynFlaky, Flaky, FlakyClient, FlakyGrpc, Hop, KeyedCall, Observed, OptionalKeyedCall,
    Relay, RelayClient, RelayGrpc, Reply,
};
use tokio::time::Instant;
use tonic_types::{ErrorDetails, StatusExt};

/// How the scripted server answers one attempt.
#[derive(Clone)]
enum Outcome {
    /// Answer `OK`.
    Ok,
    /// Fail with this code.
    Fail(Code),
    /// Fail with `UNAVAILABLE` and a `RetryInfo` asking for this delay.
    FailWithRetryInfo(Duration),
    /// Wait this long, then fail with this code.
    SlowFail(Duration, Code),
    /// Never answer.
    Hang,
    /// (Server streams) send one message, then fail with `UNAVAILABLE`.
    FailAfterFirst,
}

/// One attempt as the server saw it.
#[derive(Debug, Clone)]
struct Attempt {
    method: &'static str,
    at: Instant,
    budget: Option<Duration>,
    key_header: Option<String>,
}

/// The scripted server: answers from a queue (then `OK` once it is empty) and records attempts.
#[derive(Clone, Default)]
struct Scripted {
    outcomes: Arc<Mutex<VecDeque<Outcome>>>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    /// How each upload ended: `committed`, `input error`, or `abandoned` (dropped mid-way).
    uploads: Arc<Mutex<Vec<&'static str>>>,
}

impl Scripted {
    fn script(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.lock().unwrap().extend(outcomes);
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    /// Records the attempt and answers with the next scripted outcome.
    async fn answer(
        &self,
        method: &'static str,
        ctx: &Context,
        tag: String,
    ) -> Result<Reply, Status> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            attempts.push(Attempt {
                method,
                at: Instant::now(),
                budget: ctx.remaining(),
                key_header: ctx
                    .metadata()
                    .get("idempotency-key")
                    .map(|value| value.to_str().unwrap().to_owned()),
            });
            attempts.iter().filter(|a| a.method == method).count() as u32
        };
        let outcome = self
            .outcomes
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Outcome::Ok);
        match outcome {
            Outcome::Ok | Outcome::FailAfterFirst => Ok(Reply { attempt, tag }),
            Outcome::Fail(code) => Err(Status::new(code, format!("scripted {code:?}"))),
            Outcome::FailWithRetryInfo(delay) => Err(Status::with_error_details(
                Code::Unavailable,
                "busy, come back later",
                ErrorDetails::with_retry_info(Some(delay)),
            )),
            Outcome::SlowFail(delay, code) => {
                tokio::time::sleep(delay).await;
                Err(Status::new(code, "slow failure"))
            }
            Outcome::Hang => std::future::pending().await,
        }
    }
}

impl Flaky for Scripted {
    async fn read(&self, ctx: &Context, request: Call) -> Result<Reply, Status> {
        self.answer("Read", ctx, request.tag).await
    }

    async fn write(&self, ctx: &Context, request: KeyedCall) -> Result<Reply, Status> {
        let reply = self.answer("Write", ctx, request.tag).await?;
        Ok(Reply {
            tag: request.request_key,
            ..reply
        })
    }

    async fn write_optional(
        &self,
        ctx: &Context,
        request: OptionalKeyedCall,
    ) -> Result<Reply, Status> {
        self.answer("WriteOptional", ctx, request.tag).await
    }

    async fn quick(&self, ctx: &Context, request: Call) -> Result<Reply, Status> {
        self.answer("Quick", ctx, request.tag).await
    }

    async fn watch(&self, ctx: &Context, request: Call) -> Result<BoxStream<Reply>, Status> {
        let fail_after_first = matches!(
            self.outcomes.lock().unwrap().front(),
            Some(Outcome::FailAfterFirst)
        );
        let first = self.answer("Watch", ctx, request.tag).await?;
        if fail_after_first {
            let items = vec![Ok(first), Err(Status::unavailable("stream broke"))];
            return Ok(Box::pin(stream::iter(items)));
        }
        let items = (0..3).map(move |n| {
            Ok(Reply {
                attempt: first.attempt,
                tag: format!("{}-{n}", first.tag),
            })
        });
        Ok(Box::pin(stream::iter(items)))
    }

    async fn upload(&self, ctx: &Context, mut requests: BoxStream<Call>) -> Result<Reply, Status> {
        let mut outcome = UploadOutcome(self.uploads.clone(), "abandoned");
        let mut tags = Vec::new();
        while let Some(call) = requests.next().await {
            match call {
                Ok(call) => tags.push(call.tag),
                Err(status) => {
                    outcome.1 = "input error";
                    return Err(status);
                }
            }
        }
        let reply = self.answer("Upload", ctx, tags.join(",")).await?;
        // Committing takes a moment, as a database write would.
        tokio::time::sleep(Duration::from_millis(20)).await;
        outcome.1 = "committed";
        Ok(reply)
    }

    async fn chat(
        &self,
        ctx: &Context,
        mut requests: BoxStream<Call>,
    ) -> Result<BoxStream<Reply>, Status> {
        // Like many bidi servers, it reads the first message before it answers.
        let Some(opening) = requests.next().await else {
            return Err(Status::invalid_argument("a chat needs an opening message"));
        };
        let first = self.answer("Chat", ctx, String::new()).await?;
        let attempt = first.attempt;
        let requests = stream::iter([opening]).chain(requests);
        Ok(Box::pin(requests.map(move |call| {
            call.map(|call| Reply {
                attempt,
                tag: call.tag,
            })
        })))
    }
}

/// Records how an upload ended when the handler's future finishes or is dropped.
struct UploadOutcome(Arc<Mutex<Vec<&'static str>>>, &'static str);

impl Drop for UploadOutcome {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(self.1);
    }
}

fn in_memory(server: &Scripted) -> (tonic::transport::Channel, ServerHandle) {
    serve_in_memory(FlakyGrpc::new(server.clone()).into_service())
}

async fn loopback(server: &Scripted) -> (tonic::transport::Channel, ServerHandle) {
    serve_loopback(FlakyGrpc::new(server.clone()).into_service())
        .await
        .unwrap()
}

fn call(tag: &str) -> Call {
    Call {
        tag: tag.to_owned(),
    }
}

fn keyed(key: &str) -> KeyedCall {
    KeyedCall {
        tag: "write".to_owned(),
        request_key: key.to_owned(),
    }
}

fn ctx() -> Context {
    Context::new()
}

// ---------------------------------------------------------------------------------------------
// Deadlines

#[tokio::test(start_paused = true)]
async fn the_deadline_is_the_minimum_of_context_method_and_client() {
    let server = Scripted::default();
    let (channel, _handle) = in_memory(&server);
    let plain = FlakyClient::new(channel.clone());
    let capped = FlakyClient::builder()
        .deadline(Duration::from_millis(100))
        .build(channel.clone())
        .unwrap();

    // `Quick` has 200 ms of its own; `Read` inherits the service's 5 s.
    plain.quick(&ctx(), call("method")).await.unwrap();
    let tight_caller = ctx().with_timeout(Duration::from_millis(50));
    plain.quick(&tight_caller, call("caller")).await.unwrap();
    capped.quick(&ctx(), call("client")).await.unwrap();
    let loose_caller = ctx().with_timeout(Duration::from_secs(60));
    plain
        .read(&loose_caller, call("service default"))
        .await
        .unwrap();
    capped.read(&ctx(), call("client cap")).await.unwrap();
    let overridden = FlakyClient::builder()
        .method_deadline("Read", Duration::from_millis(700))
        .build(channel)
        .unwrap();
    overridden.read(&ctx(), call("override")).await.unwrap();

    let budgets: Vec<_> = server
        .attempts()
        .iter()
        .map(|a| a.budget.unwrap())
        .collect();
    let expected = [200, 50, 100, 5000, 100, 700].map(Duration::from_millis);
    assert_eq!(budgets, expected, "time does not move while paused");
}

#[tokio::test(start_paused = true)]
async fn without_any_deadline_the_built_in_default_applies() {
    // Relay sets no options at all.
    let (channel, _handle) = serve_in_memory(RelayGrpc::new(RelayHop::last()).into_service());
    let client = RelayClient::new(channel);
    let observed = client
        .forward(&ctx(), Hop { remaining_hops: 0 })
        .await
        .unwrap();
    let built_in = rust_svc_runtime::client::DEFAULT_DEADLINE;
    assert_eq!(observed.budget_micros, built_in.as_micros() as u64);
}

/// One hop of a chain: does some work, then calls the next hop with its own context.
#[derive(Clone)]
struct RelayHop {
    next: Option<RelayClient>,
    work: Duration,
}

impl RelayHop {
    fn last() -> Self {
        Self {
            next: None,
            work: Duration::ZERO,
        }
    }
}

impl Relay for RelayHop {
    async fn forward(&self, ctx: &Context, request: Hop) -> Result<Observed, Status> {
        tokio::time::sleep(self.work).await;
        if let Some(next) = &self.next
            && request.remaining_hops > 0
        {
            let hop = Hop {
                remaining_hops: request.remaining_hops - 1,
            };
            return next.forward(ctx, hop).await;
        }
        let header = |name: &str| {
            ctx.metadata()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        Ok(Observed {
            budget_micros: ctx.remaining().map_or(0, |left| left.as_micros() as u64),
            request_id: header("x-request-id"),
            traceparent: header("traceparent"),
            tracestate: header("tracestate"),
            private_header: header("x-private"),
        })
    }
}

#[tokio::test]
async fn budget_and_trace_context_propagate_over_three_hops() {
    let work = Duration::from_millis(50);
    let serve = |hop: RelayHop| async move {
        serve_loopback(RelayGrpc::new(hop).into_service())
            .await
            .unwrap()
    };
    let (to_c, _c) = serve(RelayHop::last()).await;
    let (to_b, _b) = serve(RelayHop {
        next: Some(RelayClient::new(to_c)),
        work,
    })
    .await;
    let (to_a, _a) = serve(RelayHop {
        next: Some(RelayClient::new(to_b)),
        work,
    })
    .await;

    let budget = Duration::from_secs(2);
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", "req-3hops".parse().unwrap());
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    metadata.insert("traceparent", traceparent.parse().unwrap());
    metadata.insert("tracestate", "vendor=opaque".parse().unwrap());
    metadata.insert("x-private", "not for downstream".parse().unwrap());
    let caller = Context::new().with_timeout(budget).with_metadata(metadata);

    let observed = RelayClient::new(to_a)
        .forward(&caller, Hop { remaining_hops: 2 })
        .await
        .unwrap();
    // A and B each spent at least `work` before passing the context on.
    let most = (budget - 2 * work).as_micros() as u64;
    assert!(
        observed.budget_micros > 0 && observed.budget_micros <= most,
        "C saw {} µs, A had {} µs",
        observed.budget_micros,
        budget.as_micros()
    );
    assert_eq!(observed.request_id, "req-3hops");
    assert_eq!(observed.traceparent, traceparent);
    assert_eq!(observed.tracestate, "vendor=opaque");
    assert_eq!(observed.private_header, "", "only the allow-list travels");
}

#[tokio::test]
async fn the_propagation_allow_list_is_configurable() {
    let (channel, _handle) = serve_loopback(RelayGrpc::new(RelayHop::last()).into_service())
        .await
        .unwrap();
    let client = RelayClient::builder()
        .propagate_headers(["x-private"])
        .build(channel)
        .unwrap();
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", "dropped".parse().unwrap());
    metadata.insert("x-private", "kept".parse().unwrap());
    let observed = client
        .forward(
            &Context::new().with_metadata(metadata),
            Hop { remaining_hops: 0 },
        )
        .await
        .unwrap();
    assert_eq!(observed.private_header, "kept");
    assert_eq!(observed.request_id, "");
}

#[tokio::test]
async fn an_expired_context_fails_locally_without_a_call() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);
    let spent = ctx().with_deadline(Instant::now());
    let status = client.read(&spent, call("late")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(
        status.message().contains("budget is spent"),
        "{}",
        status.message()
    );
    assert_eq!(server.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn expiry_is_deadline_exceeded_never_cancelled() {
    let server = Scripted::default();
    server.script([Outcome::Hang]);
    let (channel, _handle) = in_memory(&server);
    let client = FlakyClient::new(channel);
    let start = Instant::now();
    let status = client.quick(&ctx(), call("hang")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(server.count(), 1, "DEADLINE_EXCEEDED is not retried");
}

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
        .retry_policy(RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_millis(30),
            backoff_multiplier: 1.0,
            ..RetryPolicy::DEFAULT
        })
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
async fn client_and_bidi_streams_are_never_retried() {
    let server = Scripted::default();
    let (channel, _handle) = loopback(&server).await;
    let client = FlakyClient::new(channel);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    let status = client.upload(&ctx(), uploads).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 1);

    server.script([Outcome::Fail(Code::Unavailable)]);
    let chat: BoxStream<Call> = Box::pin(stream::iter([Ok(call("hi"))]));
    let status = match client.chat(&ctx(), chat).await {
        Err(status) => status,
        Ok(mut replies) => replies.next().await.unwrap().unwrap_err(),
    };
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.count(), 2);

    // And when they succeed, everything arrives.
    let uploads: BoxStream<Call> = Box::pin(stream::iter([Ok(call("a")), Ok(call("b"))]));
    assert_eq!(client.upload(&ctx(), uploads).await.unwrap().tag, "a,b");
    let chat: BoxStream<Call> = Box::pin(stream::iter([Ok(call("x")), Ok(call("y"))]));
    let echoed: Vec<_> = client
        .chat(&ctx(), chat)
        .await
        .unwrap()
        .map(|reply| reply.unwrap().tag)
        .collect()
        .await;
    assert_eq!(echoed, ["x", "y"]);
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

#[tokio::test(start_paused = true)]
async fn half_open_probes_close_it_on_success_and_reopen_it_on_failure() {
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

    open(&client, &server).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    server.script([Outcome::Fail(Code::Unavailable)]);
    client.write(&ctx(), keyed("")).await.unwrap_err();
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
            BreakerPolicy::SlidingWindow(SlidingWindow {
                failure_rate_threshold: 0.5,
                window_size: 2,
                minimum_calls: 2,
                open_duration: Duration::from_secs(1),
                half_open_max_calls: 1,
            }),
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
         Quick, Watch, Upload, Chat"
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
