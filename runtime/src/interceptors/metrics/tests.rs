use std::future::Future;

use futures_util::StreamExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use super::*;
use crate::interceptors::testing::{
    COUNT, ECHO, Svc, count, count_then_panic, echo, not_found, panics,
};
use crate::interceptors::{Interceptors, from_fn};

/// Runs `calls` on a current-thread runtime with paused time, recording into a recorder of this
/// thread only (tests run in parallel), and returns what the recorder renders.
fn record<F: Future<Output = ()>>(recorder: PrometheusRecorder, calls: F) -> String {
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    ::metrics::with_local_recorder(&recorder, || runtime.block_on(calls));
    handle.render()
}

/// The series lines of `text` for metrics named `prefix…`, sorted, without the summary
/// quantiles and sums (their values depend on the sampling, not on the calls).
fn series(text: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<_> = text
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter(|line| !line.contains("quantile=") && !line.contains("_sum{"))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

const UNARY: &str = r#"grpc_type="unary",grpc_service="test.v1.Echo",grpc_method="Echo""#;

#[test]
fn server_calls_are_counted_like_go_grpc_prometheus() {
    let text = record(PrometheusBuilder::new().build_recorder(), async {
        let service = Interceptors::server()
            .with(Metrics::new())
            .wrap(Svc::default());
        let ctx = Context::new();
        service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
        service.intercept_unary(&ECHO, &ctx, 2, echo).await.unwrap();
        service
            .intercept_unary(&ECHO, &ctx, 3, not_found)
            .await
            .unwrap_err();
        let guarded = Interceptors::server()
            .with(Metrics::new())
            .with(from_fn(|_, _| Err(Status::permission_denied("no"))))
            .wrap(Svc::default());
        guarded
            .intercept_unary(&ECHO, &ctx, 4, echo)
            .await
            .unwrap_err();
    });

    let expected = [
        format!(r#"grpc_server_handled_total{{{UNARY},grpc_code="NotFound"}} 1"#),
        format!(r#"grpc_server_handled_total{{{UNARY},grpc_code="OK"}} 2"#),
        format!(r#"grpc_server_handled_total{{{UNARY},grpc_code="PermissionDenied"}} 1"#),
        format!("grpc_server_handling_seconds_count{{{UNARY}}} 4"),
        format!("grpc_server_in_flight{{{UNARY}}} 0"),
        // The rejected call never reached the handler: no request read, no response sent.
        format!("grpc_server_msg_received_total{{{UNARY}}} 3"),
        format!("grpc_server_msg_sent_total{{{UNARY}}} 2"),
        format!("grpc_server_started_total{{{UNARY}}} 4"),
    ];
    assert_eq!(series(&text, "grpc_server_"), expected, "{text}");
    assert!(series(&text, "grpc_client_").is_empty());
}

#[test]
fn a_handler_that_panics_is_counted_as_internal_and_as_a_panic() {
    let stream_labels =
        r#"grpc_type="server_stream",grpc_service="test.v1.Echo",grpc_method="Count""#;
    let text = record(PrometheusBuilder::new().build_recorder(), async {
        let service = Interceptors::server()
            .with(Metrics::new())
            .wrap(Svc::default());
        let ctx = Context::new();
        let status = service
            .intercept_unary(&ECHO, &ctx, 1, panics)
            .await
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::Internal);
        assert_eq!(status.message(), crate::call::recover::PANICKED);
        let mut stream = service
            .intercept_server_streaming(&COUNT, &ctx, 3, count_then_panic)
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), 0);
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), crate::Code::Internal);
        assert!(stream.next().await.is_none());
    });
    let expected = [
        format!(r#"grpc_server_handled_total{{{stream_labels},grpc_code="Internal"}} 1"#),
        format!(r#"grpc_server_handled_total{{{UNARY},grpc_code="Internal"}} 1"#),
    ];
    assert_eq!(
        series(&text, "grpc_server_handled_total"),
        expected,
        "{text}"
    );
    assert_eq!(
        series(&text, crate::call::recover::PANICS_COUNTER),
        [format!("{} 2", crate::call::recover::PANICS_COUNTER)],
        "{text}"
    );
}

#[test]
fn a_client_stack_records_client_metrics_and_a_stream_stays_in_flight_until_it_ends() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let stream_labels =
        r#"grpc_type="server_stream",grpc_service="test.v1.Echo",grpc_method="Count""#;
    let text = record(recorder, async {
        let client = Interceptors::client()
            .with(Metrics::new())
            .wrap(Svc::default());
        let mut stream = client
            .intercept_server_streaming(&COUNT, &Context::new(), 3, count)
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), 0);
        let open = handle.render();
        assert!(
            open.contains(&format!("grpc_client_in_flight{{{stream_labels}}} 1\n")),
            "{open}"
        );
        assert_eq!(stream.count().await, 2);
    });

    let expected = [
        format!(r#"grpc_client_handled_total{{{stream_labels},grpc_code="OK"}} 1"#),
        format!("grpc_client_handling_seconds_count{{{stream_labels}}} 1"),
        format!("grpc_client_in_flight{{{stream_labels}}} 0"),
        // A client receives the responses and sends the request.
        format!("grpc_client_msg_received_total{{{stream_labels}}} 3"),
        format!("grpc_client_msg_sent_total{{{stream_labels}}} 1"),
        format!("grpc_client_started_total{{{stream_labels}}} 1"),
    ];
    assert_eq!(series(&text, "grpc_client_"), expected, "{text}");
}

#[cfg(feature = "prometheus")]
#[test]
fn the_prometheus_recorder_renders_histograms_with_grpc_buckets() {
    let text = record(prometheus_recorder(), async {
        let service = Interceptors::server()
            .with(Metrics::new())
            .wrap(Svc::default());
        service
            .intercept_unary(&ECHO, &Context::new(), 1, echo)
            .await
            .unwrap();
    });
    let buckets: Vec<_> = series(&text, "grpc_server_handling_seconds_bucket")
        .into_iter()
        .filter(|line| line.contains(r#"le="0.005""#) || line.contains(r#"le="+Inf""#))
        .collect();
    assert_eq!(
        buckets,
        [
            format!(r#"grpc_server_handling_seconds_bucket{{{UNARY},le="+Inf"}} 1"#),
            format!(r#"grpc_server_handling_seconds_bucket{{{UNARY},le="0.005"}} 1"#),
        ],
        "{text}"
    );
}
