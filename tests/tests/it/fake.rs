//! The generated fake, for all four rpc kinds: every way of programming it, what it records,
//! what happens when its queue runs dry, and many tasks calling it at once.
//!
//! Each scenario is written once against `impl Flaky` and run twice: calling the fake in
//! process, and calling it through the harness over real HTTP/2 with the generated client, so
//! the fake behaves the same on both sides of the wire.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};
use rust_svc_runtime::fake::{Script, StreamEnd};
use rust_svc_runtime::{BoxStream, Code, Context, MetadataMap, Status};
use rust_svc_tests::tests::resilience::{Call, FakeFlaky, Flaky, FlakyClient, FlakyGrpc, Reply};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn call(tag: &str) -> Call {
    Call { tag: tag.into() }
}

fn reply(tag: &str) -> Reply {
    Reply {
        attempt: 0,
        tag: tag.into(),
    }
}

fn calls(tags: &[&str]) -> BoxStream<Call> {
    let calls: Vec<_> = tags.iter().map(|tag| Ok(call(tag))).collect();
    Box::pin(stream::iter(calls))
}

fn tags(calls: &[Call]) -> Vec<&str> {
    calls.iter().map(|call| call.tag.as_str()).collect()
}

/// A context with a request id (which the generated client propagates) and a deadline.
fn traced(request_id: &'static str) -> Context {
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", request_id.parse().unwrap());
    Context::new()
        .with_metadata(metadata)
        .with_timeout(Duration::from_secs(3))
}

/// The code and message of a failed call.
fn failure<T>(result: Result<T, Status>) -> (Code, String) {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

async fn collect(stream: Result<BoxStream<Reply>, Status>) -> (Vec<String>, Option<Status>) {
    let mut stream = stream.expect("the stream starts");
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(reply) => items.push(reply.tag),
            Err(status) => return (items, Some(status)),
        }
    }
    (items, None)
}

async fn unary_modes(svc: &impl Flaky, fake: &FakeFlaky) {
    let ctx = Context::new();
    let (code, message) = failure(svc.read(&ctx, call("first")).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(
        message.contains("tests.resilience.Flaky/Read") && message.contains("no answer"),
        "{message}"
    );

    fake.read.returns(reply("fixed"));
    assert_eq!(svc.read(&ctx, call("a")).await.unwrap().tag, "fixed");
    assert_eq!(svc.read(&ctx, call("b")).await.unwrap().tag, "fixed");

    fake.read.fails(Status::not_found("no such row"));
    assert_eq!(
        failure(svc.read(&ctx, call("c")).await),
        (Code::NotFound, "no such row".into())
    );

    fake.read.responds_with(|ctx, call| {
        let id = ctx
            .metadata()
            .get("x-request-id")
            .map(|id| id.to_str().unwrap());
        match id {
            Some(id) => Ok(reply(&format!("{}@{id}", call.tag))),
            None => Err(Status::permission_denied("no request id")),
        }
    });
    assert_eq!(
        svc.read(&traced("req-7"), call("d")).await.unwrap().tag,
        "d@req-7"
    );
    assert_eq!(
        failure(svc.read(&ctx, call("e")).await).0,
        Code::PermissionDenied
    );

    fake.read.returns(reply("standing")).queue([
        Ok(reply("one")),
        Err(Status::aborted("two")),
        Ok(reply("three")),
    ]);
    assert_eq!(svc.read(&ctx, call("f")).await.unwrap().tag, "one");
    assert_eq!(
        failure(svc.read(&ctx, call("g")).await),
        (Code::Aborted, "two".into())
    );
    assert_eq!(svc.read(&ctx, call("h")).await.unwrap().tag, "three");
    assert_eq!(svc.read(&ctx, call("i")).await.unwrap().tag, "standing");

    assert_eq!(
        tags(&fake.read.requests()),
        ["first", "a", "b", "c", "d", "e", "f", "g", "h", "i"]
    );
}

async fn server_streaming_modes(svc: &impl Flaky, fake: &FakeFlaky) {
    let ctx = Context::new();
    let (code, message) = failure(svc.watch(&ctx, call("first")).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(
        message.contains("tests.resilience.Flaky/Watch"),
        "{message}"
    );

    fake.watch.streams([reply("a"), reply("b")]);
    let (items, end) = collect(svc.watch(&ctx, call("x")).await).await;
    assert_eq!((items, end.is_none()), (vec!["a".into(), "b".into()], true));

    fake.watch
        .streams(Script::new([reply("a")]).then_fail(Status::aborted("shard moved")));
    let (items, end) = collect(svc.watch(&ctx, call("x")).await).await;
    assert_eq!(items, ["a"]);
    let end = end.expect("the stream fails after its item");
    assert_eq!((end.code(), end.message()), (Code::Aborted, "shard moved"));

    fake.watch.fails(Status::not_found("no such feed"));
    assert_eq!(
        failure(svc.watch(&ctx, call("x")).await),
        (Code::NotFound, "no such feed".into())
    );

    fake.watch.responds_with(|_ctx, call| {
        let items = (0..call.tag.len()).map(|i| reply(&format!("{}{i}", call.tag)));
        Ok(Script::new(items))
    });
    let (items, end) = collect(svc.watch(&ctx, call("ab")).await).await;
    assert_eq!(
        (items, end.is_none()),
        (vec!["ab0".into(), "ab1".into()], true)
    );

    fake.watch.queue([
        Ok(Script::new([reply("queued")])),
        Err(Status::failed_precondition("not yet")),
    ]);
    let (items, _) = collect(svc.watch(&ctx, call("q1")).await).await;
    assert_eq!(items, ["queued"]);
    assert_eq!(
        failure(svc.watch(&ctx, call("q2")).await).0,
        Code::FailedPrecondition
    );
    let (items, _) = collect(svc.watch(&ctx, call("zz")).await).await;
    assert_eq!(items, ["zz0", "zz1"], "the standing answer is back");

    assert_eq!(
        tags(&fake.watch.requests()),
        ["first", "x", "x", "x", "ab", "q1", "q2", "zz"]
    );
}

async fn client_streaming_modes(svc: &impl Flaky, fake: &FakeFlaky) {
    let ctx = Context::new();
    let (code, message) = failure(svc.upload(&ctx, calls(&["a"])).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(
        message.contains("tests.resilience.Flaky/Upload"),
        "{message}"
    );

    fake.upload.returns(reply("stored"));
    assert_eq!(
        svc.upload(&ctx, calls(&["b", "c"])).await.unwrap().tag,
        "stored"
    );

    fake.upload.fails(Status::invalid_argument("bad batch"));
    assert_eq!(
        failure(svc.upload(&ctx, calls(&["d"])).await),
        (Code::InvalidArgument, "bad batch".into())
    );

    fake.upload.responds_with(|_ctx, calls| {
        Ok(reply(
            &calls
                .iter()
                .map(|call| call.tag.as_str())
                .collect::<String>(),
        ))
    });
    assert_eq!(
        svc.upload(&ctx, calls(&["e", "f", "g"])).await.unwrap().tag,
        "efg"
    );
    assert_eq!(svc.upload(&ctx, calls(&[])).await.unwrap().tag, "");

    fake.upload
        .queue([Err(Status::aborted("conflict")), Ok(reply("retried"))]);
    assert_eq!(
        failure(svc.upload(&ctx, calls(&["h"])).await).0,
        Code::Aborted
    );
    assert_eq!(
        svc.upload(&ctx, calls(&["i"])).await.unwrap().tag,
        "retried"
    );
    assert_eq!(
        svc.upload(&ctx, calls(&["j", "k"])).await.unwrap().tag,
        "jk"
    );

    // Everything the client sent, per call, and that each stream was finished.
    let recorded = fake.upload.calls();
    let sent: Vec<_> = recorded.iter().map(|call| tags(call.requests())).collect();
    assert_eq!(
        sent,
        [
            vec!["a"],
            vec!["b", "c"],
            vec!["d"],
            vec!["e", "f", "g"],
            vec![],
            vec!["h"],
            vec!["i"],
            vec!["j", "k"]
        ]
    );
    assert!(
        recorded
            .iter()
            .all(|call| matches!(call.end(), StreamEnd::Finished))
    );
}

async fn bidi_streaming_modes(svc: &impl Flaky, fake: &FakeFlaky) {
    let ctx = Context::new();
    let (code, message) = failure(svc.chat(&ctx, calls(&["a"])).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(message.contains("tests.resilience.Flaky/Chat"), "{message}");

    fake.chat
        .streams(Script::new([reply("hello"), reply("bye")]).then_fail(Status::aborted("done")));
    let (items, end) = collect(svc.chat(&ctx, calls(&["b", "c"])).await).await;
    assert_eq!(items, ["hello", "bye"]);
    assert_eq!(end.expect("the script's status").message(), "done");

    fake.chat.fails(Status::unauthenticated("who are you"));
    assert_eq!(
        failure(svc.chat(&ctx, calls(&["d"])).await),
        (Code::Unauthenticated, "who are you".into())
    );

    fake.chat
        .responds_with(|_ctx, call| match call.tag.as_str() {
            "stop" => Err(Status::cancelled("asked to stop")),
            tag => Ok(vec![reply(&tag.to_uppercase()); 2]),
        });
    let (items, end) = collect(svc.chat(&ctx, calls(&["e", "f"])).await).await;
    assert_eq!(
        (items, end.is_none()),
        (vec!["E".into(), "E".into(), "F".into(), "F".into()], true)
    );
    let (items, end) = collect(svc.chat(&ctx, calls(&["g", "stop", "never"])).await).await;
    assert_eq!(items, ["G", "G"]);
    assert_eq!(
        end.expect("the closure's error ends it").code(),
        Code::Cancelled
    );

    fake.chat.queue([Ok(Script::new([reply("queued")]))]);
    let (items, _) = collect(svc.chat(&ctx, calls(&["h"])).await).await;
    assert_eq!(items, ["queued"]);
    let (items, _) = collect(svc.chat(&ctx, calls(&["i"])).await).await;
    assert_eq!(items, ["I", "I"], "the standing answer is back");

    let recorded = fake.chat.calls();
    let sent: Vec<_> = recorded.iter().map(|call| tags(call.requests())).collect();
    assert_eq!(sent[1], ["b", "c"], "a script still reads the whole stream");
    assert!(sent[2].is_empty(), "a rejected call reads nothing");
    assert!(matches!(recorded[2].end(), StreamEnd::Open));
    assert_eq!(sent[3], ["e", "f"]);
    assert_eq!(sent[4], ["g", "stop"], "reading stops at the error");
    assert_eq!(sent[6], ["i"]);
}

/// A conversation: the client waits for each reply before it sends the next message, which
/// only works because the fake answers each message as it arrives.
async fn bidi_conversation(svc: &impl Flaky, fake: &FakeFlaky) {
    fake.chat
        .responds_with(|_ctx, call| Ok(vec![reply(&format!("re: {}", call.tag))]));
    let (sender, receiver) = mpsc::channel::<Call>(1);
    let requests = Box::pin(stream::unfold(receiver, |mut receiver| async move {
        let call = receiver.recv().await?;
        Some((Ok(call), receiver))
    }));
    let mut replies = svc.chat(&Context::new(), requests).await.unwrap();
    for tag in ["one", "two", "three"] {
        sender.send(call(tag)).await.unwrap();
        let answer = replies
            .try_next()
            .await
            .unwrap()
            .expect("a reply per message");
        assert_eq!(answer.tag, format!("re: {tag}"));
    }
    drop(sender);
    assert!(replies.try_next().await.unwrap().is_none());
    let recorded = &fake.chat.calls()[0];
    assert_eq!(tags(recorded.requests()), ["one", "two", "three"]);
    assert!(matches!(recorded.end(), StreamEnd::Finished));
}

/// Metadata and deadline are recorded as the server saw them.
async fn recording(svc: &impl Flaky, fake: &FakeFlaky) {
    fake.read.returns_default();
    fake.upload.returns_default();
    let sent_at = Instant::now();
    svc.read(&traced("req-1"), call("r")).await.unwrap();
    svc.upload(&traced("req-2"), calls(&["u1", "u2"]))
        .await
        .unwrap();

    let read = &fake.read.calls()[0];
    assert_eq!(read.request().tag, "r");
    assert_eq!(read.metadata().get("x-request-id").unwrap(), "req-1");
    let deadline = read.deadline().expect("the context's deadline arrives");
    assert_eq!(deadline - sent_at, Duration::from_secs(3));

    let upload = &fake.upload.calls()[0];
    assert_eq!(tags(upload.requests()), ["u1", "u2"]);
    assert_eq!(upload.metadata().get("x-request-id").unwrap(), "req-2");
    assert_eq!(upload.deadline().unwrap() - sent_at, Duration::from_secs(3));
}

/// When the queue runs dry and nothing else was programmed, calls fail with UNIMPLEMENTED,
/// saying the queue is used up.
async fn queue_exhaustion(svc: &impl Flaky, fake: &FakeFlaky) {
    let ctx = Context::new();
    fake.read.queue([Ok(reply("1")), Ok(reply("2"))]);
    assert_eq!(svc.read(&ctx, call("a")).await.unwrap().tag, "1");
    assert_eq!(svc.read(&ctx, call("b")).await.unwrap().tag, "2");
    let (code, message) = failure(svc.read(&ctx, call("c")).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(
        message.contains("2 queued answer(s) are used up"),
        "{message}"
    );

    fake.watch.queue([Ok(Script::new([reply("only")]))]);
    let (items, _) = collect(svc.watch(&ctx, call("a")).await).await;
    assert_eq!(items, ["only"]);
    let (code, message) = failure(svc.watch(&ctx, call("b")).await);
    assert_eq!(code, Code::Unimplemented);
    assert!(message.contains("1 queued answer(s)"), "{message}");

    fake.upload.queue([Ok(reply("only"))]);
    svc.upload(&ctx, calls(&["a"])).await.unwrap();
    assert_eq!(
        failure(svc.upload(&ctx, calls(&["b"])).await).0,
        Code::Unimplemented
    );

    fake.chat.queue([Ok(Script::empty())]);
    let (_, end) = collect(svc.chat(&ctx, calls(&["a"])).await).await;
    assert!(end.is_none());
    assert_eq!(
        failure(svc.chat(&ctx, calls(&["b"])).await).0,
        Code::Unimplemented
    );
}

/// `with_default_responses` answers empty messages and empty streams.
async fn default_responses(svc: &impl Flaky, _: &FakeFlaky) {
    let ctx = Context::new();
    assert_eq!(svc.read(&ctx, call("a")).await.unwrap(), Reply::default());
    assert_eq!(
        svc.upload(&ctx, calls(&["a"])).await.unwrap(),
        Reply::default()
    );
    assert_eq!(collect(svc.watch(&ctx, call("a")).await).await.0.len(), 0);
    assert_eq!(
        collect(svc.chat(&ctx, calls(&["a"])).await).await.0.len(),
        0
    );
}

/// Many tasks calling one fake: every queued answer is used exactly once, and every call is
/// recorded.
async fn concurrent_calls<S: Flaky + Clone + Send + 'static>(svc: &S, fake: &FakeFlaky) {
    const TASKS: usize = 16;
    const CALLS: usize = 25;
    fake.read.returns(reply("standing"));
    fake.read
        .queue((0..200).map(|n| Ok(reply(&format!("q{n}")))));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let svc = svc.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..CALLS {
                    let answer = svc
                        .read(&Context::new(), call(&format!("{task}-{n}")))
                        .await;
                    answers.push(answer.unwrap().tag);
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    let queued: BTreeSet<_> = answers.iter().filter(|tag| *tag != "standing").collect();
    assert_eq!(queued.len(), 200, "each queued answer once");
    assert_eq!(answers.len() - queued.len(), TASKS * CALLS - 200);
    let requests: BTreeSet<_> = fake
        .read
        .requests()
        .into_iter()
        .map(|call| call.tag)
        .collect();
    assert_eq!(requests.len(), TASKS * CALLS, "every call recorded once");
}

macro_rules! in_process_and_over_http2 {
    ($($scenario:ident => $fake:expr),* $(,)?) => {
        mod in_process {
            use super::*;
            $(
                #[tokio::test(start_paused = true)]
                async fn $scenario() {
                    let fake: FakeFlaky = $fake;
                    super::$scenario(&fake, &fake).await;
                }
            )*
        }

        mod over_http2 {
            use super::*;
            $(
                #[tokio::test(start_paused = true)]
                async fn $scenario() {
                    let fake: FakeFlaky = $fake;
                    let harness = FlakyGrpc::serve_in_memory(fake.clone());
                    super::$scenario(harness.client(), &fake).await;
                    harness.shutdown().await.unwrap();
                }
            )*
        }
    };
}

in_process_and_over_http2! {
    unary_modes => FakeFlaky::new(),
    server_streaming_modes => FakeFlaky::new(),
    client_streaming_modes => FakeFlaky::new(),
    bidi_streaming_modes => FakeFlaky::new(),
    bidi_conversation => FakeFlaky::new(),
    recording => FakeFlaky::new(),
    queue_exhaustion => FakeFlaky::new(),
    default_responses => FakeFlaky::with_default_responses(),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_call_one_fake_in_process() {
    let fake = FakeFlaky::new();
    concurrent_calls(&fake, &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_call_one_fake_over_loopback() {
    let fake = FakeFlaky::new();
    let harness = FlakyGrpc::serve_loopback(fake.clone()).await.unwrap();
    assert!(harness.local_addr().unwrap().ip().is_loopback());
    concurrent_calls(harness.client(), &fake).await;
}

/// A hanging fake lets a test watch the client give up at its deadline: `Quick` has 200 ms.
#[tokio::test(start_paused = true)]
async fn a_hanging_method_meets_the_callers_deadline() {
    let fake = FakeFlaky::new();
    fake.quick.hangs();
    let harness = FlakyGrpc::serve_in_memory(fake.clone());
    let started = Instant::now();
    let status = harness
        .client()
        .quick(&Context::new(), call("slow"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    let recorded = fake.quick.calls();
    assert_eq!(
        recorded.len(),
        1,
        "an idempotent call cut by its deadline is not retried"
    );
    assert_eq!(
        recorded[0].deadline().unwrap() - started,
        Duration::from_millis(200)
    );
}

/// A stream that goes quiet is cut by the deadline, after the items it did send.
#[tokio::test(start_paused = true)]
async fn a_stream_that_stays_open_is_cut_at_the_deadline() {
    let fake = FakeFlaky::new();
    fake.watch
        .streams(Script::new([reply("only")]).then_stay_open());
    let harness = FlakyGrpc::serve_in_memory(fake.clone());
    let ctx = Context::new().with_timeout(Duration::from_millis(300));
    let (items, end) = collect(harness.client().watch(&ctx, call("w")).await).await;
    assert_eq!(items, ["only"]);
    assert_eq!(end.unwrap().code(), Code::DeadlineExceeded);
}

/// The harness hands back a client with the service's policies: an UNAVAILABLE read is
/// retried (4 attempts in resilience.proto), and each attempt reaches the fake.
#[tokio::test(start_paused = true)]
async fn the_harness_client_carries_the_policies() {
    let fake = FakeFlaky::new();
    fake.read
        .returns(reply("finally"))
        .queue([Err(Status::unavailable("1")), Err(Status::unavailable("2"))]);
    let harness = FlakyGrpc::serve_in_memory(fake.clone());
    let answer = harness
        .client()
        .read(&Context::new(), call("r"))
        .await
        .unwrap();
    assert_eq!(answer.tag, "finally");
    assert_eq!(fake.read.call_count(), 3);

    // The channel serves a client with other policies too.
    let impatient = FlakyClient::builder()
        .retry_policy(rust_svc_runtime::client::RetryPolicy::NEVER)
        .build(harness.channel())
        .unwrap();
    fake.read.queue([Err(Status::unavailable("once"))]);
    assert_eq!(
        impatient
            .read(&Context::new(), call("r"))
            .await
            .unwrap_err()
            .code(),
        Code::Unavailable
    );
}

/// Every kind can be told never to answer; the call is still recorded.
#[tokio::test(start_paused = true)]
async fn every_kind_can_hang() {
    let fake = FakeFlaky::new();
    fake.read.hangs();
    fake.watch.hangs();
    fake.upload.hangs();
    fake.chat.hangs();
    let ctx = Context::new();
    let patience = Duration::from_secs(60);
    let read = tokio::time::timeout(patience, fake.read(&ctx, call("r"))).await;
    let watch = tokio::time::timeout(patience, fake.watch(&ctx, call("w"))).await;
    let upload = tokio::time::timeout(patience, fake.upload(&ctx, calls(&["u"]))).await;
    let chat = tokio::time::timeout(patience, fake.chat(&ctx, calls(&["c"]))).await;
    assert!(read.is_err() && watch.is_err() && upload.is_err() && chat.is_err());
    assert_eq!(
        [
            fake.read.call_count(),
            fake.watch.call_count(),
            fake.upload.call_count(),
            fake.chat.call_count()
        ],
        [1; 4]
    );
    assert_eq!(
        tags(fake.upload.calls()[0].requests()),
        ["u"],
        "a hanging client-stream fake reads first"
    );
}
