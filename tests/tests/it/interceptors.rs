//! One interceptor stack at the domain-trait boundary, observed over every way in: gRPC, REST
//! and in-process calls see the same spans, metrics and request ids; auth rejects before the
//! handler and before logging starts its clock; logging sees the final code, the adapter's
//! deadline cut and a stream failing half way included; a `traceparent` crosses two hops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use rust_svc_runtime::interceptors::logging::ACCESS_TARGET;
use rust_svc_runtime::interceptors::{
    Auth, CallInfo, Finish, Interceptor, Interceptors, Logging, Metrics, RequestIds, Tracing,
};
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use rust_svc_tests::tests::metadata::{Blob, MetadataEcho, MetadataEchoGateway};
use rust_svc_tests::tests::streaming::streaming_client::StreamingClient as TonicStreamingClient;
use rust_svc_tests::tests::streaming::{Ping, Pong, Streaming, StreamingClient, StreamingGrpc};

use crate::interceptors_common::{events, eventually, install, rpc_spans};

/// Echoes; knows nothing of interceptors.
#[derive(Clone, Default)]
struct Echo;

impl MetadataEcho for Echo {
    async fn echo(&self, _ctx: &Context, request: Blob) -> Result<Blob, Status> {
        tracing::info!(target: "handler", "echoing");
        Ok(request)
    }

    async fn repeat(&self, _ctx: &Context, _request: Blob) -> Result<BoxStream<Blob>, Status> {
        Err(Status::unimplemented("not used here"))
    }
}

fn with_request_id(id: &str) -> Context {
    let mut ctx = Context::new();
    ctx.outgoing_metadata_mut()
        .insert("x-request-id", id.parse().unwrap());
    ctx
}

fn render(handle: &metrics_exporter_prometheus::PrometheusHandle) -> String {
    handle.render()
}

/// A Prometheus registry of the test's own, recording while the returned guard lives.
///
/// It is the recorder of the test's thread only, not of the process: this binary runs every
/// test of the crate, and a global recorder would also count the other tests' clients (their
/// retries of the same methods, say) while they run beside this one. A `#[tokio::test]` runs on
/// one thread, with the servers, clients and connection tasks it spawns, so the test's own
/// calls all record here.
fn local_metrics(
    recorder: &metrics_exporter_prometheus::PrometheusRecorder,
) -> (
    metrics_exporter_prometheus::PrometheusHandle,
    metrics::LocalRecorderGuard<'_>,
) {
    (
        recorder.handle(),
        metrics::set_default_local_recorder(recorder),
    )
}

/// The value of the Prometheus series `line` starts with (labels in their rendered order).
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .find(|line| {
            let (series, _) = line.rsplit_once(' ').unwrap();
            series.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(key, value)| series.contains(&format!("{key}=\"{value}\"")))
        })
        .map(|line| line.rsplit_once(' ').unwrap().1.parse().unwrap())
}

#[tokio::test]
async fn one_stack_sees_grpc_rest_and_in_process_calls_alike() {
    install();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let (metrics, _recording) = local_metrics(&recorder);
    let service = Interceptors::server()
        .with(RequestIds)
        .with(Tracing)
        .with(Metrics::new())
        .with(Logging::new())
        .wrap(Echo);

    // gRPC and REST on one port, through a wrapped client whose own stack records the
    // client side.
    let harness = MetadataEchoGateway::serve_loopback(service.clone())
        .await
        .unwrap();
    let client = Interceptors::client()
        .with(Metrics::new())
        .wrap(harness.client().clone());
    let grpc = with_request_id("req-grpc");
    client
        .echo(
            &grpc,
            Blob {
                data: b"g".to_vec(),
                ..Blob::default()
            },
        )
        .await
        .unwrap();
    let rest = reqwest::Client::new()
        .post(format!("{}/v1/echo", harness.base_url().unwrap()))
        .header("x-request-id", "req-rest")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    // In-process: the same wrapped value, called directly.
    let local = with_request_id("req-local");
    service.echo(&local, Blob::default()).await.unwrap();

    assert_eq!(rest.status(), 200);
    assert_eq!(rest.headers()["grpc-metadata-x-request-id"], "req-rest");
    assert_eq!(
        grpc.response().headers().get("x-request-id").unwrap(),
        "req-grpc"
    );
    assert_eq!(
        local.response().headers().get("x-request-id").unwrap(),
        "req-local"
    );

    for id in ["req-grpc", "req-rest", "req-local"] {
        let spans = rpc_spans("request_id", id);
        assert_eq!(spans.len(), 1, "one span for {id}: {spans:?}");
        let span = &spans[0];
        if id == "req-rest" {
            // An HTTP call, named by its route (the protocols are checked one by one below).
            assert!(!span.contains_key("rpc.system"), "{span:?}");
            assert_eq!(span["http.route"], "/v1/echo");
            assert_eq!(span["otel.name"], "POST /v1/echo");
        } else {
            assert_eq!(span["rpc.system"], "grpc");
            assert_eq!(span["otel.name"], "tests.metadata.MetadataEcho/Echo");
        }
        assert_eq!(span["rpc.service"], "tests.metadata.MetadataEcho");
        assert_eq!(span["rpc.method"], "Echo");
        assert_eq!(span["rpc.grpc.status_code"], "0");
        assert_eq!(span["otel.kind"], "server");
        assert_eq!(span["trace_id"].len(), 32);
        // The handler's own event ran inside the call's span.
        let handler_events: Vec<_> = events("handler", "message", "echoing")
            .into_iter()
            .filter(|event| {
                event
                    .scope
                    .iter()
                    .any(|scope| scope.get("request_id").is_some_and(|v| v == id))
            })
            .collect();
        assert_eq!(handler_events.len(), 1, "{id}");
        let access = eventually(id, || {
            let found = events(ACCESS_TARGET, "request_id", id);
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(access.len(), 1);
        assert_eq!(access[0].fields["code"], "OK");
    }

    let text = render(&metrics);
    let echo = [
        ("grpc_service", "tests.metadata.MetadataEcho"),
        ("grpc_method", "Echo"),
        ("grpc_type", "unary"),
    ];
    let handled_ok: Vec<_> = echo.iter().copied().chain([("grpc_code", "OK")]).collect();
    assert_eq!(
        series(&text, "grpc_server_handled_total", &handled_ok),
        Some(3.0),
        "{text}"
    );
    assert_eq!(series(&text, "grpc_server_started_total", &echo), Some(3.0));
    assert_eq!(series(&text, "grpc_server_in_flight", &echo), Some(0.0));
    assert_eq!(
        series(&text, "grpc_client_handled_total", &handled_ok),
        Some(1.0),
        "the client stack saw its one call: {text}"
    );
    assert_eq!(
        series(&text, "grpc_server_handling_seconds_count", &echo),
        Some(3.0)
    );
}

const HANG: u64 = 7;

/// Counts the calls that reach it; hangs on [`HANG`]; its stream fails after one message.
#[derive(Clone, Default)]
struct Counted(Arc<AtomicUsize>);

impl Streaming for Counted {
    async fn unary(&self, _ctx: &Context, request: Ping) -> Result<Pong, Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if request.seq == HANG {
            std::future::pending::<()>().await;
        }
        Ok(Pong {
            seq: request.seq + 1,
        })
    }

    async fn server_stream(
        &self,
        _ctx: &Context,
        _request: Ping,
    ) -> Result<BoxStream<Pong>, Status> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let items = [
            Ok(Pong { seq: 0 }),
            Err(Status::aborted("the stream broke")),
            Ok(Pong { seq: 2 }),
        ];
        Ok(Box::pin(futures_util::stream::iter(items)))
    }

    async fn client_stream(
        &self,
        _ctx: &Context,
        _requests: BoxStream<Ping>,
    ) -> Result<Pong, Status> {
        Err(Status::unimplemented("not used here"))
    }

    async fn bidi(
        &self,
        _ctx: &Context,
        _requests: BoxStream<Ping>,
    ) -> Result<BoxStream<Pong>, Status> {
        Err(Status::unimplemented("not used here"))
    }
}

/// Records, per request id, the codes it is told at the end of calls it started.
#[derive(Clone, Default)]
struct Witness(Arc<std::sync::Mutex<Vec<(String, Code)>>>);

impl Interceptor for Witness {
    fn start(&self, _call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        let seen = self.0.clone();
        let id = ctx
            .metadata()
            .get("x-request-id")
            .map(|id| id.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Ok(Finish::with(move |outcome| {
            seen.lock().unwrap().push((id, outcome.code()));
        }))
    }
}

impl Witness {
    fn codes(&self, id: &str) -> Vec<Code> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(seen, _)| seen == id)
            .map(|(_, code)| *code)
            .collect()
    }
}

fn authorized(id: &str) -> Context {
    let mut ctx = with_request_id(id);
    ctx.outgoing_metadata_mut()
        .insert("authorization", "Bearer let-me-in".parse().unwrap());
    ctx
}

#[tokio::test]
async fn auth_rejects_first_and_logging_sees_every_final_code() {
    install();
    let handler_calls = Counted::default();
    let outside = Witness::default();
    let inside = Witness::default();
    let service = Interceptors::server()
        .with(RequestIds)
        .with(outside.clone())
        .with(Auth::bearer(|token: &str, _call: &CallInfo| {
            if token == "let-me-in" {
                Ok("tester".to_owned())
            } else {
                Err(Status::permission_denied("wrong token"))
            }
        }))
        .with(inside.clone())
        .with(Logging::new())
        .wrap(handler_calls.clone());
    let harness = StreamingGrpc::serve_loopback(service).await.unwrap();
    let client: &StreamingClient = harness.client();

    // No credentials: rejected before the handler, before everything inside auth.
    let status = client
        .unary(&with_request_id("order-anon"), Ping { seq: 1 })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(handler_calls.0.load(Ordering::SeqCst), 0);
    assert_eq!(outside.codes("order-anon"), [Code::Unauthenticated]);
    assert!(inside.codes("order-anon").is_empty());
    assert!(events(ACCESS_TARGET, "request_id", "order-anon").is_empty());

    // Accepted: the handler runs and logging sees OK.
    client
        .unary(&authorized("order-ok"), Ping { seq: 1 })
        .await
        .unwrap();
    let line = eventually("the OK line", || {
        events(ACCESS_TARGET, "request_id", "order-ok").pop()
    })
    .await;
    assert_eq!(line.fields["code"], "OK");
    assert_eq!(handler_calls.0.load(Ordering::SeqCst), 1);

    // The deadline cuts a hanging handler: DEADLINE_EXCEEDED everywhere, never CANCELLED. The
    // call goes through a plain HTTP/2 client: tonic's channel and the generated client give
    // up at the deadline themselves, and a client that leaves first makes the call CANCELLED
    // on the server, which is right but not what this checks.
    let http2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let origin = format!("http://{}", harness.local_addr().unwrap());
    let mut raw = TonicStreamingClient::with_origin(http2, origin.parse().unwrap());
    let mut request = tonic::Request::new(Ping { seq: HANG });
    let metadata = request.metadata_mut();
    metadata.insert("grpc-timeout", "200m".parse().unwrap());
    metadata.insert("x-request-id", "order-deadline".parse().unwrap());
    metadata.insert("authorization", "Bearer let-me-in".parse().unwrap());
    let status = raw.unary(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    let line = eventually("the deadline line", || {
        events(ACCESS_TARGET, "request_id", "order-deadline").pop()
    })
    .await;
    assert_eq!(line.fields["code"], "DEADLINE_EXCEEDED");
    assert_eq!(inside.codes("order-deadline"), [Code::DeadlineExceeded]);

    // A stream that fails after one message: the call's code is the error's.
    let items: Vec<_> = client
        .server_stream(&authorized("order-stream"), Ping { seq: 1 })
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2, "gRPC ends a stream at its first error");
    let line = eventually("the stream line", || {
        events(ACCESS_TARGET, "request_id", "order-stream").pop()
    })
    .await;
    assert_eq!(line.fields["code"], "ABORTED");
    assert_eq!(line.fields["responses"], "1");
    assert_eq!(outside.codes("order-stream"), [Code::Aborted]);
}

/// A front service that calls the back one with the context it was handed.
struct Front {
    back: Arc<dyn rust_svc_tests::tests::streaming::DynStreaming>,
}

impl Streaming for Front {
    async fn unary(&self, ctx: &Context, request: Ping) -> Result<Pong, Status> {
        self.back.unary(ctx, request).await
    }

    async fn server_stream(
        &self,
        _ctx: &Context,
        _request: Ping,
    ) -> Result<BoxStream<Pong>, Status> {
        Err(Status::unimplemented("not used here"))
    }

    async fn client_stream(
        &self,
        _ctx: &Context,
        _requests: BoxStream<Ping>,
    ) -> Result<Pong, Status> {
        Err(Status::unimplemented("not used here"))
    }

    async fn bidi(
        &self,
        _ctx: &Context,
        _requests: BoxStream<Ping>,
    ) -> Result<BoxStream<Pong>, Status> {
        Err(Status::unimplemented("not used here"))
    }
}

#[tokio::test]
async fn a_traceparent_continues_through_two_hops() {
    install();
    let traced = || Interceptors::server().with(RequestIds).with(Tracing);
    let back = StreamingGrpc::serve_loopback(traced().wrap(Counted::default()))
        .await
        .unwrap();
    let front = Front {
        back: Arc::new(back.client().clone()),
    };
    let front = StreamingGrpc::serve_loopback(traced().wrap(front))
        .await
        .unwrap();

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut ctx = with_request_id("trace-two-hops");
    ctx.outgoing_metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{caller_span}-01").parse().unwrap(),
    );
    front.client().unary(&ctx, Ping { seq: 1 }).await.unwrap();

    let spans = rpc_spans("trace_id", trace_id);
    assert_eq!(spans.len(), 2, "{spans:?}");
    let front_span = spans
        .iter()
        .find(|span| span.get("parent_span_id").is_some_and(|p| p == caller_span))
        .expect("the front span is the caller's child");
    let back_span = spans
        .iter()
        .find(|span| span.get("parent_span_id") == front_span.get("span_id"))
        .expect("the back span is the front span's child");
    assert_ne!(front_span["span_id"], back_span["span_id"]);
    // The request id travelled too.
    assert_eq!(back_span["request_id"], "trace-two-hops");
}

#[tokio::test]
async fn clients_count_retries_and_show_breaker_state_as_metrics() {
    use example_services::inventory::v1::{
        CheckStockRequest, FakeInventoryService, InventoryService, InventoryServiceClient,
        InventoryServiceGrpc,
    };
    use rust_svc_runtime::client::{BreakerPolicy, RetryPolicy, SlidingWindow};

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let (metrics, _recording) = local_metrics(&recorder);
    let inventory = FakeInventoryService::new();
    inventory
        .check_stock
        .fails(Status::unavailable("the warehouse is down"));
    let harness = InventoryServiceGrpc::serve_loopback(inventory.clone())
        .await
        .unwrap();
    let client = InventoryServiceClient::builder()
        .retry_policy(
            RetryPolicy::DEFAULT
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2)),
        )
        .retry_throttling(None)
        .circuit_breaker(BreakerPolicy::SlidingWindow(
            SlidingWindow::DEFAULT
                .failure_rate_threshold(0.5)
                .window_size(4)
                .minimum_calls(4)
                .open_duration(Duration::from_secs(3600))
                .half_open_max_calls(1),
        ))
        // Not the proto's 300 ms: three attempts on a machine busy with the other tests of this
        // binary can take longer, and a call cut by its deadline would not end UNAVAILABLE.
        .method_deadline("CheckStock", Duration::from_secs(30))
        .target("metrics-test")
        .build(harness.channel())
        .unwrap();
    let breaker = "inventory.v1.InventoryService/CheckStock@metrics-test";
    assert_eq!(
        series(
            &render(&metrics),
            "grpc_client_breaker_state",
            &[("breaker", breaker)]
        ),
        Some(0.0),
        "a closed breaker shows as 0 before any call"
    );

    // CheckStock has no side effects, so each call makes 3 attempts: 2 retries. The fourth
    // failed attempt fills the window and opens the breaker, which turns the next ones away.
    let ctx = Context::new();
    let first = client
        .check_stock(&ctx, CheckStockRequest::default())
        .await
        .unwrap_err();
    assert_eq!(first.code(), Code::Unavailable);
    let second = client
        .check_stock(&ctx, CheckStockRequest::default())
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::Unavailable);

    let text = render(&metrics);
    let check_stock = [
        ("grpc_service", "inventory.v1.InventoryService"),
        ("grpc_method", "CheckStock"),
    ];
    assert_eq!(
        series(&text, "grpc_client_retries_total", &check_stock),
        Some(inventory.check_stock.call_count() as f64 - 2.0),
        "every attempt after a call's first is a retry: {text}"
    );
    assert_eq!(
        series(&text, "grpc_client_breaker_state", &[("breaker", breaker)]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "grpc_client_breaker_transitions_total",
            &[("breaker", breaker), ("to", "open")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn spans_and_access_lines_name_the_protocol_as_opentelemetry_does() {
    // gRPC, gRPC-Web, Connect and REST to one stack on a production port: rpc.system `grpc`
    // for gRPC and gRPC-Web, `connect_rpc` for Connect, and a REST call named by its route.
    install();
    let service = Interceptors::server()
        .with(RequestIds)
        .with(Tracing)
        .with(Logging::new())
        .wrap(Echo);
    let host = rust_svc_runtime::host::Host::new("echo").service(
        rust_svc_tests::tests::metadata::METADATA_ECHO.name,
        tonic::service::Routes::new(
            rust_svc_tests::tests::metadata::MetadataEchoGrpc::new(service.clone()).into_service(),
        ),
        Some(MetadataEchoGateway::routes(service)),
    );
    let listener = rust_svc_runtime::host::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let stop = rust_svc_runtime::host::Stop::new();
    let serving = host.start(listener, stop.wait()).await.unwrap();
    let base = format!("http://{}", serving.addr);

    let client =
        rust_svc_tests::tests::metadata::MetadataEchoClient::connect_lazy([base.clone()]).unwrap();
    client
        .echo(&with_request_id("proto-grpc"), Blob::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let path = "/tests.metadata.MetadataEcho/Echo";
    let grpc_web = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-request-id", "proto-grpc-web")
        .body(vec![0, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(grpc_web.status(), 200);
    let connect = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .header("x-request-id", "proto-connect")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(connect.status(), 200);
    let rest = http
        .post(format!("{base}/v1/echo"))
        .header("x-request-id", "proto-rest")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 200);

    let expected = [
        ("proto-grpc", Some("grpc"), None),
        ("proto-grpc-web", Some("grpc"), None),
        ("proto-connect", Some("connect_rpc"), None),
        ("proto-rest", None, Some(("POST", "/v1/echo"))),
    ];
    for (id, system, route) in expected {
        let spans = rpc_spans("request_id", id);
        assert_eq!(spans.len(), 1, "one span for {id}: {spans:?}");
        let span = &spans[0];
        let access = eventually(id, || {
            let found = events(ACCESS_TARGET, "request_id", id);
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(access.len(), 1, "{id}");
        let line = &access[0].fields;
        for fields in [span, line] {
            assert_eq!(
                fields.get("rpc.system").map(String::as_str),
                system,
                "{id}: {fields:?}"
            );
            assert_eq!(
                fields.get("http.request.method").map(String::as_str),
                route.map(|(method, _)| method),
                "{id}: {fields:?}"
            );
            assert_eq!(
                fields.get("http.route").map(String::as_str),
                route.map(|(_, template)| template),
                "{id}: {fields:?}"
            );
        }
        let name = match route {
            Some((method, template)) => format!("{method} {template}"),
            None => "tests.metadata.MetadataEcho/Echo".to_owned(),
        };
        assert_eq!(span["otel.name"], name, "{id}");
    }
    stop.now();
}
