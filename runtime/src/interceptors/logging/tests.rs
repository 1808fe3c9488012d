use std::net::SocketAddr;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

use super::*;
use crate::MetadataMap;
use crate::interceptors::request_id::RequestIds;
use crate::interceptors::testing::{Capture, ECHO, Svc, broken, echo, not_found, slow};
use crate::interceptors::{Interceptors, from_fn};

fn served_ctx() -> Context {
    let mut metadata = MetadataMap::new();
    metadata.insert("x-request-id", "req-5".parse().unwrap());
    let peer: SocketAddr = "[2001:db8::1]:50051".parse().unwrap();
    Context::new().with_metadata(metadata).with_peer_addr(peer)
}

#[tokio::test(start_paused = true)]
async fn one_line_per_call_with_its_fields() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(RequestIds)
        .with(Logging::new())
        .wrap(Svc::default());
    service
        .intercept_unary(&ECHO, &served_ctx(), 1, slow)
        .await
        .unwrap();

    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 1);
    let line = &events[0];
    assert_eq!(line.level, Level::INFO);
    let expected = [
        ("message", "rpc finished"),
        ("rpc.service", "test.v1.Echo"),
        ("rpc.method", "Echo"),
        ("side", "server"),
        ("code", "OK"),
        // The handler slept 250 ms of paused time.
        ("duration_ms", "250"),
        ("peer", "[2001:db8::1]:50051"),
        ("request_id", "req-5"),
        ("requests", "1"),
        ("responses", "1"),
    ];
    for (field, value) in expected {
        assert_eq!(line.get(field), Some(value), "{field}");
    }
    assert_eq!(line.get("error"), None);
}

#[tokio::test]
async fn server_faults_are_warnings_and_failures_carry_their_message() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(Logging::new())
        .wrap(Svc::default());
    service
        .intercept_unary(&ECHO, &Context::new(), 7, not_found)
        .await
        .unwrap_err();
    service
        .intercept_unary(&ECHO, &Context::new(), 7, broken)
        .await
        .unwrap_err();

    let events = capture.events(ACCESS_TARGET);
    let lines: Vec<_> = events
        .iter()
        .map(|line| {
            (
                line.level,
                line.get("code").unwrap(),
                line.get("error").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (Level::INFO, "NOT_FOUND", "no item 7"),
            (Level::WARN, "INTERNAL", "the database is gone"),
        ]
    );
    assert_eq!(events[0].get("peer"), None);
    assert_eq!(events[0].get("responses"), Some("0"));
}

#[tokio::test(start_paused = true)]
async fn json_lines_hold_the_same_fields_in_the_message() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(RequestIds)
        .with(Logging::json())
        .wrap(Svc::default());
    service
        .intercept_unary(&ECHO, &served_ctx(), 1, slow)
        .await
        .unwrap();
    service
        .intercept_unary(&ECHO, &Context::new(), 2, broken)
        .await
        .unwrap_err();

    let events = capture.events(ACCESS_TARGET);
    let message = |n: usize| -> serde_json::Value {
        serde_json::from_str(events[n].get("message").unwrap()).unwrap()
    };
    assert_eq!(
        message(0),
        serde_json::json!({
            "rpc.system": "grpc",
            "rpc.service": "test.v1.Echo",
            "rpc.method": "Echo",
            "side": "server",
            "code": "OK",
            "duration_ms": 250.0,
            "peer": "[2001:db8::1]:50051",
            "request_id": "req-5",
            "requests": 1,
            "responses": 1,
        })
    );
    assert_eq!(events[1].level, Level::WARN);
    let failed = message(1);
    assert_eq!(failed["code"], "INTERNAL");
    assert_eq!(failed["error"], "the database is gone");
    assert_eq!(failed["responses"], 0);
    assert!(failed["request_id"].as_str().is_some());
    // Only the message: a JSON line has no separate fields to drift from it.
    assert_eq!(events[0].fields.len(), 1);
}

#[tokio::test]
async fn a_call_rejected_before_logging_is_not_logged_one_rejected_after_it_is() {
    let (capture, _guard) = Capture::install();
    let deny = || from_fn(|_, _| Err(Status::unauthenticated("who are you")));
    let rejected_first = Interceptors::server()
        .with(deny())
        .with(Logging::new())
        .wrap(Svc::default());
    rejected_first
        .intercept_unary(&ECHO, &Context::new(), 1, echo)
        .await
        .unwrap_err();
    assert!(capture.events(ACCESS_TARGET).is_empty());

    let rejected_inside = Interceptors::server()
        .with(Logging::new())
        .with(deny())
        .wrap(Svc::default());
    rejected_inside
        .intercept_unary(&ECHO, &Context::new(), 1, echo)
        .await
        .unwrap_err();
    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get("code"), Some("UNAUTHENTICATED"));
    assert_eq!(events[0].get("requests"), Some("0"));
}

#[tokio::test]
async fn a_disabled_level_logs_nothing_but_faults_still_log_at_theirs() {
    let capture = Capture::default();
    let subscriber =
        tracing_subscriber::registry().with(capture.clone().with_filter(LevelFilter::INFO));
    let _guard = crate::interceptors::testing::scoped(subscriber);
    let service = Interceptors::server()
        .with(Logging::new().level(Level::DEBUG))
        .wrap(Svc::default());
    service
        .intercept_unary(&ECHO, &Context::new(), 1, echo)
        .await
        .unwrap();
    assert!(capture.events(ACCESS_TARGET).is_empty());

    service
        .intercept_unary(&ECHO, &Context::new(), 1, broken)
        .await
        .unwrap_err();
    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].level, Level::WARN);

    let quiet = Interceptors::server()
        .with(Logging::new().level(Level::DEBUG).fault_level(Level::TRACE))
        .wrap(Svc::default());
    quiet
        .intercept_unary(&ECHO, &Context::new(), 1, broken)
        .await
        .unwrap_err();
    assert_eq!(capture.events(ACCESS_TARGET).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn failures_of_one_kind_are_summarised_once_a_second_and_successes_each_get_a_line() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(Logging::new())
        .wrap(Svc::default());
    for _ in 0..100 {
        service
            .intercept_unary(&ECHO, &Context::new(), 7, broken)
            .await
            .unwrap_err();
    }
    // Another kind (code) has a window of its own; successes are never summarised.
    for _ in 0..3 {
        service
            .intercept_unary(&ECHO, &Context::new(), 7, not_found)
            .await
            .unwrap_err();
        service
            .intercept_unary(&ECHO, &Context::new(), 7, echo)
            .await
            .unwrap();
    }
    let lines = |events: &[crate::interceptors::testing::Captured]| -> Vec<(String, String)> {
        events
            .iter()
            .map(|line| {
                (
                    line.get("message").unwrap().to_owned(),
                    line.get("code").unwrap().to_owned(),
                )
            })
            .collect()
    };
    let finished = |code: &str| ("rpc finished".to_owned(), code.to_owned());
    let summarised = |code: &str| ("rpc failures summarised".to_owned(), code.to_owned());
    assert_eq!(
        lines(&capture.events(ACCESS_TARGET)),
        [
            finished("INTERNAL"),
            finished("NOT_FOUND"),
            finished("OK"),
            finished("OK"),
            finished("OK"),
        ]
    );

    // The windows end a second after their first line, with the count of the rest.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 7);
    let closing: Vec<_> = events[5..]
        .iter()
        .map(|line| (line.get("code").unwrap(), line.get("suppressed").unwrap()))
        .collect();
    assert!(closing.contains(&("INTERNAL", "99")), "{closing:?}");
    assert!(closing.contains(&("NOT_FOUND", "2")), "{closing:?}");
    for line in &events[5..] {
        let code = line.get("code").unwrap();
        assert_eq!(lines(std::slice::from_ref(line)), [summarised(code)]);
        // At the level its calls' lines had.
        let level = if code == "INTERNAL" {
            Level::WARN
        } else {
            Level::INFO
        };
        assert_eq!(line.level, level, "{code}");
    }

    // A failure after the window: a line of its own again.
    service
        .intercept_unary(&ECHO, &Context::new(), 7, broken)
        .await
        .unwrap_err();
    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 8);
    assert_eq!(lines(&events[7..]), [finished("INTERNAL")]);
}

#[tokio::test(start_paused = true)]
async fn without_summaries_every_failure_gets_a_line() {
    let (capture, _guard) = Capture::install();
    let service = Interceptors::server()
        .with(Logging::new().summarize_failures(None))
        .wrap(Svc::default());
    for _ in 0..20 {
        service
            .intercept_unary(&ECHO, &Context::new(), 7, broken)
            .await
            .unwrap_err();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = capture.events(ACCESS_TARGET);
    assert_eq!(events.len(), 20);
    assert!(
        events
            .iter()
            .all(|line| line.get("message") == Some("rpc finished"))
    );
}
