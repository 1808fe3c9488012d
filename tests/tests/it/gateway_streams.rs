//! The REST gateway end to end, streams: server streams as newline-delimited JSON
//! (`{"result": …}` lines, a final `{"error": …}`) and as Server-Sent Events, cut at the
//! `Grpc-Timeout` deadline; client streams and bidi streams from an NDJSON request body.

use rust_svc_runtime::Code;
use rust_svc_runtime::gateway::cors::Cors;
use serde_json::{Value, json};

use crate::gateway_common::{Reply, Rest, serve, serve_built};

const NDJSON: &str = "application/x-ndjson";

/// Each line of an NDJSON body as JSON; every line must end with `\n`.
fn ndjson_lines(text: &str) -> Vec<Value> {
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line:?}")))
        .collect()
}

/// The events of a Server-Sent Events body as (event type, JSON data).
fn sse_events(text: &str) -> Vec<(String, Value)> {
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            let mut kind = "message".to_owned();
            let mut data = String::new();
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    kind = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                } else {
                    panic!("unexpected line {line:?} in {text:?}");
                }
            }
            (kind, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

fn item(n: i32) -> Value {
    if n == 0 {
        json!({"label": "item 0"})
    } else {
        json!({"label": format!("item {n}"), "count": n})
    }
}

#[tokio::test]
async fn a_server_stream_is_ndjson_results() {
    let served = serve().await;
    let reply = served.rest.get("/v1/stream?count=3").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some(NDJSON));
    assert_eq!(
        ndjson_lines(&reply.text),
        [
            json!({"result": item(0)}),
            json!({"result": item(1)}),
            json!({"result": item(2)})
        ]
    );
}

#[tokio::test]
async fn a_failing_server_stream_ends_with_an_error_line() {
    let served = serve().await;
    let reply = served
        .rest
        .get("/v1/stream?count=2&fail_with_code=14")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some(NDJSON));
    assert_eq!(
        ndjson_lines(&reply.text),
        [
            json!({"result": item(0)}),
            json!({"result": item(1)}),
            json!({"error": {"code": 14, "message": "failed after 2 messages", "details": []}}),
        ]
    );
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_server_stream_failing_at_once_has_the_codes_http_status() {
    let served = serve().await;
    let reply = served.rest.get("/v1/stream?count=0&failWithCode=5").await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        ndjson_lines(&reply.text),
        [json!({"error": {"code": 5, "message": "failed after 0 messages", "details": []}})]
    );
}

#[tokio::test]
async fn an_empty_server_stream_is_an_empty_200() {
    let served = serve().await;
    let reply = served.rest.get("/v1/stream?count=0").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text, "");
}

#[tokio::test]
async fn server_sent_events_when_the_client_accepts_them() {
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/stream?count=2&fail_with_code=9")
        .header("accept", "text/event-stream");
    let reply = served.rest.send(request).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    let events = sse_events(&reply.text);
    assert_eq!(
        events,
        [
            ("message".to_owned(), item(0)),
            ("message".to_owned(), item(1)),
            (
                "error".to_owned(),
                json!({"code": 9, "message": "failed after 2 messages", "details": []})
            ),
        ]
    );
    // NDJSON is preferred when the client says so.
    let request = served
        .rest
        .request("GET", "/v1/stream?count=1")
        .header("accept", "text/event-stream;q=0.5, application/x-ndjson");
    let reply = served.rest.send(request).await;
    assert_eq!(reply.header("content-type"), Some(NDJSON), "{reply:?}");
    assert_eq!(ndjson_lines(&reply.text), [json!({"result": item(0)})]);
}

#[tokio::test]
async fn messages_are_sent_as_they_come() {
    let served = serve().await;
    // The second message would come a minute later: the first must arrive on its own before.
    let mut response = served
        .rest
        .request("GET", "/v1/stream?count=2&interval_ms=60000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    while !received.contains(&b'\n') {
        let chunk = response.chunk().await.unwrap().expect("the stream goes on");
        received.extend_from_slice(&chunk);
    }
    assert_eq!(
        ndjson_lines(std::str::from_utf8(&received).unwrap()),
        [json!({"result": item(0)})]
    );
    // Hanging up cancels the stream; the server goes on serving.
    drop(response);
    served.rest.assert_serving().await;
}

/// `GET /v1/stream` of two messages a minute apart with a deadline of 2 s, in the format
/// `accept` asks for: the deadline comes first.
async fn stream_past_deadline(rest: &Rest, accept: &str) -> Reply {
    let request = rest
        .request("GET", "/v1/stream?count=2&interval_ms=60000")
        .header("grpc-timeout", "2S")
        .header("accept", accept);
    rest.send(request).await
}

#[tokio::test]
async fn a_server_stream_is_cut_at_the_deadline() {
    let served = serve().await;
    let (ndjson, sse) = tokio::join!(
        stream_past_deadline(&served.rest, NDJSON),
        stream_past_deadline(&served.rest, "text/event-stream"),
    );
    assert_eq!(ndjson.status, 200, "{ndjson:?}");
    let lines = ndjson_lines(&ndjson.text);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], json!({"result": item(0)}));
    assert_eq!(
        lines[1]["error"]["code"],
        Code::DeadlineExceeded as i32,
        "{lines:?}"
    );

    assert_eq!(sse.status, 200, "{sse:?}");
    let events = sse_events(&sse.text);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], ("message".to_owned(), item(0)));
    assert_eq!(events[1].0, "error");
    assert_eq!(
        events[1].1["code"],
        Code::DeadlineExceeded as i32,
        "{events:?}"
    );

    for seen in served.domain.calls() {
        let remaining = seen.remaining.expect("the domain saw the deadline");
        assert!(remaining <= std::time::Duration::from_secs(2), "{seen:?}");
    }
}

async fn post_ndjson(rest: &Rest, path: &str, body: &str) -> Reply {
    rest.raw("POST", path, NDJSON, body.as_bytes().to_vec())
        .await
}

#[tokio::test]
async fn a_client_stream_is_an_ndjson_body() {
    let served = serve().await;
    let body = "{\"label\":\"a\",\"count\":1}\n\n{\"count\":2}\r\n{\"count\":3}";
    let reply = post_ndjson(&served.rest, "/v1/sum", body).await;
    assert_eq!(reply.ok_json(), json!({"sum": 6, "messages": 3}));
    // `application/json` is accepted for the stream too.
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/sum",
            "application/json",
            b"{\"count\":4}\n".to_vec(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"sum": 4, "messages": 1}));
    // An empty body is an empty stream.
    let reply = post_ndjson(&served.rest, "/v1/sum", "").await;
    assert_eq!(reply.ok_json(), json!({}));
}

#[tokio::test]
async fn a_client_stream_body_is_read_as_grpc_gateway_and_the_envoy_transcoder_read_it() {
    let served = serve().await;
    // grpc-gateway's `json.Decoder`: pretty-printed messages, and messages with nothing
    // between them.
    let body = "{\n  \"label\": \"a\",\n  \"count\": 1\n}\n{\"count\":2}{\"count\":3}";
    let reply = post_ndjson(&served.rest, "/v1/sum", body).await;
    assert_eq!(reply.ok_json(), json!({"sum": 6, "messages": 3}));
    // The Envoy transcoder's form: one JSON array of the messages.
    let body = "[\n  {\"count\": 4},\n  {\"count\": 5}\n]";
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/sum",
            "application/json",
            body.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"sum": 9, "messages": 2}));
    let reply = post_ndjson(&served.rest, "/v1/sum", "[{\"count\": 4} {\"count\": 5}]").await;
    reply.error(400, Code::InvalidArgument, &["line 1", "JSON array"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_bad_line_of_a_client_stream_is_a_400_naming_the_line_and_field() {
    let served = serve().await;
    for (body, needles) in [
        ("{\"count\":1}\n{\"count\":\"x\"}\n", ["line 2", "count"]),
        ("{\"count\":[1]}\n", ["line 1", "count"]),
        ("{\"count\":1}\n\n{nope\n", ["line 3", "body"]),
    ] {
        let reply = post_ndjson(&served.rest, "/v1/sum", body).await;
        reply.error(400, Code::InvalidArgument, &needles);
        served.rest.assert_serving().await;
    }
    // Any Content-Type is read as JSON lines (grpc-gateway's default marshaler), so CSV is a
    // bad first line, not a 415.
    let reply = served
        .rest
        .raw("POST", "/v1/sum", "text/csv", b"count\n1\n".to_vec())
        .await;
    reply.error(400, Code::InvalidArgument, &["line 1"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_client_stream_line_over_the_limit_is_a_400() {
    let served = serve_built(Cors::new(), 32).await;
    let long = format!("{{\"label\":\"{}\"}}\n", "x".repeat(40));
    let reply = post_ndjson(&served.rest, "/v1/sum", &format!("{{\"count\":1}}\n{long}")).await;
    reply.error(400, Code::InvalidArgument, &["line 2", "32"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn each_message_of_a_stream_may_be_the_value_of_a_body_field() {
    // The Envoy transcoder's `BulkCreateShelf` (`body: "shelf"` on a stream): each message of
    // the body is the field's value, the rest of the request from the path and the query.
    let served = serve().await;
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/sum:counts",
            "application/json",
            b"[1, 2, 3]".to_vec(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"sum": 6, "messages": 3}));
    let reply = post_ndjson(&served.rest, "/v1/sum:counts", "4\n5\n").await;
    assert_eq!(reply.ok_json(), json!({"sum": 9, "messages": 2}));
    let body = "[{\"note\": \"first\"}, {\"note\": \"second\"}]";
    let reply = post_ndjson(&served.rest, "/v1/chat/from-path?count=7", body).await;
    assert_eq!(
        ndjson_lines(&reply.text),
        [
            json!({"result": {"label": "echo: from-path", "count": 7, "leaf": {"note": "first"}}}),
            json!({"result": {"label": "echo: from-path", "count": 7, "leaf": {"note": "second"}}}),
        ]
    );
    // A message that is not the field's type names its line.
    let reply = post_ndjson(&served.rest, "/v1/sum:counts", "1\n\"x\"\n").await;
    reply.error(400, Code::InvalidArgument, &["line 2"]);
}

#[tokio::test]
async fn a_bidi_stream_answers_each_line() {
    let served = serve().await;
    let body = "{\"label\":\"a\",\"count\":1}\n{\"label\":\"b\"}\n";
    let reply = post_ndjson(&served.rest, "/v1/chat", body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some(NDJSON));
    assert_eq!(
        ndjson_lines(&reply.text),
        [
            json!({"result": {"label": "echo: a", "count": 1}}),
            json!({"result": {"label": "echo: b"}}),
        ]
    );
    let request = served
        .rest
        .request("POST", "/v1/chat")
        .header("content-type", NDJSON)
        .header("accept", "text/event-stream")
        .body(body);
    let reply = served.rest.send(request).await;
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        sse_events(&reply.text),
        [
            (
                "message".to_owned(),
                json!({"label": "echo: a", "count": 1})
            ),
            ("message".to_owned(), json!({"label": "echo: b"})),
        ]
    );
}

#[tokio::test]
async fn a_bad_line_of_a_bidi_stream_ends_it_with_an_error_line() {
    let served = serve().await;
    let body = "{\"label\":\"a\"}\n{\"count\":\"many\"}\n{\"label\":\"never\"}\n";
    let reply = post_ndjson(&served.rest, "/v1/chat", body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let lines = ndjson_lines(&reply.text);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], json!({"result": {"label": "echo: a"}}));
    let error = &lines[1]["error"];
    assert_eq!(error["code"], Code::InvalidArgument as i32, "{lines:?}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("count"),
        "{message}"
    );
    served.rest.assert_serving().await;
}

/// A request body fed line by line from the test, kept open until the sender is dropped.
fn body_channel() -> (
    tokio::sync::mpsc::Sender<Result<String, std::io::Error>>,
    reqwest::Body,
) {
    let (lines, receiver) = tokio::sync::mpsc::channel(4);
    let body = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    (lines, body)
}

/// Reads `response` until it holds a whole line, and returns that line as JSON.
async fn next_line(response: &mut reqwest::Response, pending: &mut Vec<u8>) -> Value {
    loop {
        if let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            return serde_json::from_slice(&line).unwrap();
        }
        let chunk = response.chunk().await.unwrap().expect("the stream goes on");
        pending.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn a_bidi_stream_is_full_duplex_over_http2() {
    let served = serve().await;
    let h2 = Rest::with_client(
        &served.harness,
        reqwest::Client::builder().http2_prior_knowledge(),
    );
    let (lines, body) = body_channel();
    lines
        .send(Ok("{\"label\":\"one\"}\n".to_owned()))
        .await
        .unwrap();
    // The answer to the first line comes while the request is still open.
    let mut response = h2
        .request("POST", "/v1/chat")
        .header("content-type", NDJSON)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut pending = Vec::new();
    assert_eq!(
        next_line(&mut response, &mut pending).await,
        json!({"result": {"label": "echo: one"}})
    );
    lines
        .send(Ok("{\"label\":\"two\",\"count\":2}\n".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        next_line(&mut response, &mut pending).await,
        json!({"result": {"label": "echo: two", "count": 2}})
    );
    // Closing the request ends the response, with nothing more in it.
    drop(lines);
    let rest = response.bytes().await.unwrap();
    assert!(
        rest.is_empty() && pending.is_empty(),
        "{rest:?} {pending:?}"
    );
}

#[tokio::test]
async fn a_client_stream_still_open_at_the_deadline_is_a_504() {
    let served = serve().await;
    let (lines, body) = body_channel();
    lines.send(Ok("{\"count\":1}\n".to_owned())).await.unwrap();
    // The body never ends: the deadline must end the call.
    let request = served
        .rest
        .request("POST", "/v1/sum")
        .header("content-type", NDJSON)
        .header("grpc-timeout", "200m")
        .body(body);
    let reply = served.rest.send(request).await;
    reply.error(504, Code::DeadlineExceeded, &[]);
    drop(lines);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_stream_error_handler_rewrites_every_error_that_ends_a_stream() {
    // grpc-gateway's WithStreamErrorHandler: here every stream's error is masked as INTERNAL.
    let served = crate::gateway_common::serve_with(|builder| {
        builder.stream_error_handler(|status| {
            rust_svc_runtime::Status::internal(format!("masked {}", status.code() as i32))
        })
    })
    .await;
    let masked = |code: Code| json!({"code": 13, "message": format!("masked {}", code as i32), "details": []});
    // After the first message: the error line.
    let reply = served
        .rest
        .get("/v1/stream?count=1&fail_with_code=14")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        ndjson_lines(&reply.text),
        [
            json!({"result": item(0)}),
            json!({"error": masked(Code::Unavailable)})
        ]
    );
    // Before it: the error response, with the handler's code's HTTP status.
    let reply = served.rest.get("/v1/stream?count=0&fail_with_code=5").await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(
        ndjson_lines(&reply.text),
        [json!({"error": masked(Code::NotFound)})]
    );
    // Server-Sent Events, and a stream cut at its deadline.
    let request = served
        .rest
        .request("GET", "/v1/stream?count=1&fail_with_code=9")
        .header("accept", "text/event-stream");
    let reply = served.rest.send(request).await;
    assert_eq!(
        sse_events(&reply.text),
        [
            ("message".to_owned(), item(0)),
            ("error".to_owned(), masked(Code::FailedPrecondition))
        ]
    );
    let reply = stream_past_deadline(&served.rest, NDJSON).await;
    let lines = ndjson_lines(&reply.text);
    assert_eq!(lines[1], json!({"error": masked(Code::DeadlineExceeded)}));
    // A unary rpc's error is not a stream's.
    let reply = served
        .rest
        .json("POST", "/v1/fail", &json!({"code": 5, "message": "gone"}))
        .await;
    reply.error(404, Code::NotFound, &["gone"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_stream_refused_before_it_starts_is_written_as_one_failing_at_once() {
    // grpc-gateway sees a server stream's error at its first receive, whether the handler
    // refused the call or failed its first message: the `{"error": …}` line with the code's
    // HTTP status. So here for a domain method that returns its error, in process and through
    // the generated client to a remote server (a proxy).
    use rust_svc_runtime::Status;
    use rust_svc_runtime::fake::Script;
    use rust_svc_tests::tests::gateway::{EchoGateway, EchoGrpc, FakeEcho};

    let refusing = FakeEcho::new();
    refusing.stream.fails(Status::out_of_range("no such page"));
    let failing_first = FakeEcho::new();
    failing_first
        .stream
        .streams(Script::empty().then_fail(Status::out_of_range("no such page")));
    let in_process = EchoGateway::serve_loopback(refusing.clone()).await.unwrap();
    let remote = EchoGrpc::serve_loopback(failing_first).await.unwrap();
    let proxy = EchoGateway::serve_loopback(remote.client().clone())
        .await
        .unwrap();
    let expected = json!({"error": {"code": 11, "message": "no such page", "details": []}});
    for harness in [&in_process, &proxy] {
        let rest = Rest::new(harness);
        let reply = rest.get("/v1/stream?count=1").await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(ndjson_lines(&reply.text), std::slice::from_ref(&expected));
        let request = rest
            .request("GET", "/v1/stream?count=1")
            .header("accept", "text/event-stream");
        let reply = rest.send(request).await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(
            sse_events(&reply.text),
            [("error".to_owned(), expected["error"].clone())]
        );
    }
}
