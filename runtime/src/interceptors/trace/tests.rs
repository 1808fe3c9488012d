use std::net::SocketAddr;

use futures_util::StreamExt;

use super::*;
use crate::MetadataMap;
use crate::call::hex;
use crate::interceptors::Interceptors;
use crate::interceptors::request_id::RequestIds;
use crate::interceptors::testing::{COUNT, Capture, ECHO, Svc, broken, count, echo, not_found};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

fn with_metadata(pairs: &[(&'static str, &str)]) -> Context {
    let mut metadata = MetadataMap::new();
    for (key, value) in pairs {
        metadata.append(*key, value.parse().unwrap());
    }
    Context::new().with_metadata(metadata)
}

/// What a generated client called with `ctx` would send.
fn sent_traceparent(ctx: &Context) -> TraceParent {
    outgoing_traceparent(ctx).unwrap()
}

#[tokio::test]
async fn a_call_without_traceparent_starts_a_trace_and_names_its_span_downstream() {
    let service = Interceptors::server().with(Tracing).wrap(Svc::default());
    let ctx = with_metadata(&[(TRACESTATE, "vendor=orphan")]);
    service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();

    let seen = service.inner().last_context();
    let trace = *trace_context(&seen).unwrap();
    assert_ne!(trace.trace_id, [0; 16]);
    assert_ne!(trace.span_id, [0; 8]);
    assert_eq!(trace.parent_span_id, None);
    assert!(trace.is_sampled());
    assert_eq!(sent_traceparent(&seen), trace.traceparent());
    // A trace state without a trace parent is dropped, as the W3C spec says.
    assert!(seen.metadata().get(TRACESTATE).is_none());
}

#[tokio::test]
async fn a_valid_traceparent_is_joined_as_the_parent() {
    let service = Interceptors::server().with(Tracing).wrap(Svc::default());
    let ctx = with_metadata(&[(TRACEPARENT, PARENT), (TRACESTATE, "vendor=a")]);
    service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();

    let seen = service.inner().last_context();
    let trace = *trace_context(&seen).unwrap();
    let incoming = TraceParent::parse(PARENT).unwrap();
    assert_eq!(trace.trace_id, incoming.trace_id);
    assert_eq!(trace.parent_span_id, Some(incoming.parent_id));
    assert_ne!(trace.span_id, incoming.parent_id);
    assert_eq!(trace.flags, 0x00, "the caller's flags are kept");
    assert_eq!(
        sent_traceparent(&seen).to_string(),
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00",
            trace.span_id_hex()
        )
    );
    assert_eq!(seen.metadata().get(TRACESTATE).unwrap(), "vendor=a");
}

#[tokio::test]
async fn malformed_or_repeated_traceparents_start_a_new_trace() {
    let service = Interceptors::server().with(Tracing).wrap(Svc::default());
    let malformed = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
    let twice = [(TRACEPARENT, PARENT), (TRACEPARENT, PARENT)];
    for ctx in [
        with_metadata(&[(TRACEPARENT, malformed)]),
        with_metadata(&twice),
    ] {
        service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
        let seen = service.inner().last_context();
        let trace = trace_context(&seen).unwrap();
        assert_eq!(trace.parent_span_id, None);
        assert_ne!(hex(&trace.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(sent_traceparent(&seen), trace.traceparent());
    }
}

#[tokio::test]
async fn two_hops_share_one_trace_and_chain_their_parents() {
    let front = Interceptors::server().with(Tracing).wrap(Svc::default());
    let client = Interceptors::client().with(Tracing).wrap(Svc::default());
    let back = Interceptors::server().with(Tracing).wrap(Svc::default());

    front
        .intercept_unary(&ECHO, &Context::new(), 1, echo)
        .await
        .unwrap();
    // The front handler calls the back service through a client, with its own context.
    let handler_ctx = front.inner().last_context();
    client
        .intercept_unary(&ECHO, &handler_ctx, 1, echo)
        .await
        .unwrap();
    // What the client puts on the wire.
    let sent = sent_traceparent(&client.inner().last_context()).to_string();
    let wire = with_metadata(&[(TRACEPARENT, sent.as_str())]);
    back.intercept_unary(&ECHO, &wire, 1, echo).await.unwrap();

    let front = *trace_context(&handler_ctx).unwrap();
    let client = *trace_context(&client.inner().last_context()).unwrap();
    let back = *trace_context(&back.inner().last_context()).unwrap();
    assert_eq!(client.trace_id, front.trace_id);
    assert_eq!(back.trace_id, front.trace_id);
    assert_eq!(client.parent_span_id, Some(front.span_id));
    assert_eq!(back.parent_span_id, Some(client.span_id));
    // The handler's own context still names the front span: the client changed only its copy.
    assert_eq!(sent_traceparent(&handler_ctx), front.traceparent());
}

#[tokio::test]
async fn the_span_has_the_rpc_fields_and_the_final_status() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(RequestIds)
        .with(Tracing)
        .wrap(Svc::default());
    let peer: SocketAddr = "192.0.2.7:4711".parse().unwrap();
    let ctx =
        with_metadata(&[(TRACEPARENT, PARENT), ("x-request-id", "req-9")]).with_peer_addr(peer);
    service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();

    let spans = capture.spans("rpc");
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.level, tracing::Level::INFO);
    let trace = trace_context(&service.inner().last_context())
        .copied()
        .unwrap();
    let span_id = trace.span_id_hex();
    let expected = [
        ("rpc.system", "grpc"),
        ("rpc.service", "test.v1.Echo"),
        ("rpc.method", "Echo"),
        ("rpc.grpc.status_code", "0"),
        ("otel.name", "test.v1.Echo/Echo"),
        ("otel.kind", "server"),
        ("network.peer.address", "192.0.2.7"),
        ("network.peer.port", "4711"),
        ("net.peer.ip", "192.0.2.7"),
        ("request_id", "req-9"),
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("span_id", span_id.as_str()),
        ("parent_span_id", "00f067aa0ba902b7"),
    ];
    for (field, value) in expected {
        assert_eq!(span.get(field), Some(value), "{field}");
    }
    assert_eq!(span.get("otel.status_code"), None);
}

#[tokio::test]
async fn errors_mark_the_span_as_the_semantic_conventions_say() {
    let (capture, _guard) = Capture::install();
    let server = Interceptors::server().with(Tracing).wrap(Svc::default());
    let client = Interceptors::client().with(Tracing).wrap(Svc::default());
    server
        .intercept_unary(&ECHO, &Context::new(), 1, not_found)
        .await
        .unwrap_err();
    server
        .intercept_unary(&ECHO, &Context::new(), 1, broken)
        .await
        .unwrap_err();
    client
        .intercept_unary(&ECHO, &Context::new(), 1, not_found)
        .await
        .unwrap_err();

    let spans = capture.spans("rpc");
    let marks: Vec<_> = spans
        .iter()
        .map(|span| {
            (
                span.get("otel.kind").unwrap(),
                span.get("rpc.grpc.status_code").unwrap(),
                span.get("otel.status_code"),
            )
        })
        .collect();
    assert_eq!(
        marks,
        [
            ("server", "5", None),
            ("server", "13", Some("ERROR")),
            ("client", "5", Some("ERROR")),
        ]
    );
}

#[tokio::test]
async fn a_streamed_call_records_its_status_when_the_stream_ends() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server().with(Tracing).wrap(Svc::default());
    let stream = service
        .intercept_server_streaming(&COUNT, &Context::new(), 3, count)
        .await
        .unwrap();
    assert_eq!(capture.spans("rpc")[0].get("rpc.grpc.status_code"), None);
    let items: Vec<_> = stream.map(Result::unwrap).collect().await;
    assert_eq!(items, [0, 1, 2]);
    assert_eq!(
        capture.spans("rpc")[0].get("rpc.grpc.status_code"),
        Some("0")
    );
}

#[cfg(feature = "opentelemetry")]
mod opentelemetry {
    use std::sync::{Arc, Mutex};

    use ::opentelemetry::trace::{SpanKind, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
    use tracing_subscriber::prelude::*;

    use super::*;

    /// Keeps every span the SDK ends.
    #[derive(Debug, Clone, Default)]
    struct Exported(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Exported {
        fn on_start(
            &self,
            _span: &mut opentelemetry_sdk::trace::Span,
            _cx: &::opentelemetry::Context,
        ) {
        }

        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    #[tokio::test]
    async fn exported_spans_join_the_callers_trace_and_chain_across_hops() {
        let exported = Exported::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(exported.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let _guard =
            crate::interceptors::testing::scoped(tracing_subscriber::registry().with(layer));

        let front = Interceptors::server().with(Tracing).wrap(Svc::default());
        let client = Interceptors::client().with(Tracing).wrap(Svc::default());
        // Sampled, for the SDK's default parent-based sampler to record the spans.
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        front
            .intercept_unary(&ECHO, &with_metadata(&[(TRACEPARENT, parent)]), 1, echo)
            .await
            .unwrap();
        let handler_ctx = front.inner().last_context();
        client
            .intercept_unary(&ECHO, &handler_ctx, 1, echo)
            .await
            .unwrap();
        let front_trace = *trace_context(&handler_ctx).unwrap();
        let client_trace = *trace_context(&client.inner().last_context()).unwrap();
        drop((handler_ctx, front, client));

        let spans = exported.0.lock().unwrap();
        let find = |kind: SpanKind| spans.iter().find(|span| span.span_kind == kind).unwrap();
        let (server, client) = (find(SpanKind::Server), find(SpanKind::Client));
        let incoming = TraceParent::parse(parent).unwrap();
        // The server span is the caller's child, and its ids are the ones propagated.
        assert_eq!(server.span_context.trace_id().to_bytes(), incoming.trace_id);
        assert_eq!(server.parent_span_id.to_bytes(), incoming.parent_id);
        assert!(server.parent_span_is_remote);
        assert_eq!(
            server.span_context.span_id().to_bytes(),
            front_trace.span_id
        );
        // The client span is the server span's child, in the same trace.
        assert_eq!(client.span_context.trace_id().to_bytes(), incoming.trace_id);
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        assert_eq!(
            client.span_context.span_id().to_bytes(),
            client_trace.span_id
        );
        assert_eq!(client_trace.parent_span_id, Some(front_trace.span_id));
        assert_eq!(server.name, "test.v1.Echo/Echo");
    }
}
