//! The generated client's deadlines and propagation, against real tonic servers.

use std::time::Duration;

use rust_svc_runtime::harness::{serve_in_memory, serve_loopback};
use rust_svc_runtime::interceptors::{Interceptors, RequestIds};
use rust_svc_runtime::{Code, Context, MetadataMap, Status};
use rust_svc_tests::tests::resilience::{
    Flaky, FlakyClient, Hop, Observed, Relay, RelayClient, RelayGrpc,
};
use tokio::time::Instant;

use crate::client_common::*;

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

#[tokio::test(start_paused = true)]
async fn a_client_may_send_calls_nothing_bounds_with_no_deadline() {
    let (channel, _handle) = serve_in_memory(RelayGrpc::new(RelayHop::last()).into_service());
    let client = RelayClient::builder()
        .default_deadline(None)
        .build(channel)
        .unwrap();
    let observed = client
        .forward(&ctx(), Hop { remaining_hops: 0 })
        .await
        .unwrap();
    assert_eq!(observed.budget_micros, 0, "the server saw no deadline");
    // A caller's deadline still goes out.
    let bounded = ctx().with_timeout(Duration::from_millis(300));
    let observed = client
        .forward(&bounded, Hop { remaining_hops: 0 })
        .await
        .unwrap();
    assert_eq!(observed.budget_micros, 300_000);
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

/// The id a server stack gave a call (none came, or a malformed one) is the one the next hop
/// receives and the one the first hop answered with; a sane one the caller sent goes on as it
/// is.
#[tokio::test]
async fn a_request_id_given_by_a_server_stack_travels_on() {
    let (to_b, _b) = serve_loopback(RelayGrpc::new(RelayHop::last()).into_service())
        .await
        .unwrap();
    let hop_a = Interceptors::server().with(RequestIds).wrap(RelayHop {
        next: Some(RelayClient::new(to_b)),
        work: Duration::ZERO,
    });
    let (to_a, _a) = serve_loopback(RelayGrpc::new(hop_a).into_service())
        .await
        .unwrap();
    let client = RelayClient::new(to_a);
    for sent in [None, Some("bad\tid"), Some("req-kept")] {
        let mut metadata = MetadataMap::new();
        if let Some(id) = sent {
            metadata.insert("x-request-id", id.parse().unwrap());
        }
        let ctx = Context::new().with_metadata(metadata);
        let observed = client
            .forward(&ctx, Hop { remaining_hops: 1 })
            .await
            .unwrap();
        let answered = ctx.response().headers().get("x-request-id").cloned();
        let answered = answered.expect("hop A answers its request id");
        assert_eq!(observed.request_id, answered.to_str().unwrap(), "{sent:?}");
        if sent == Some("req-kept") {
            assert_eq!(observed.request_id, "req-kept");
        } else {
            // A new UUID v7: 36 characters, the version digit after the second dash.
            let id = observed.request_id.as_bytes();
            assert!(
                id.len() == 36 && id[14] == b'7',
                "{sent:?}: {}",
                observed.request_id
            );
        }
    }
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
