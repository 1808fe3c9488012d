//! The REST gateway end to end, errors: every gRPC code as its HTTP status (grpc-gateway's
//! table) with a `google.rpc.Status` body, error details as `Any` JSON, and each kind of bad
//! input as a 4xx that names what is wrong, after which the server goes on serving.

use rust_svc_runtime::Code;
use rust_svc_runtime::gateway::cors::Cors;
use serde_json::json;

use crate::gateway_common::{FAILED_BY, serve, serve_built};

/// Every non-OK gRPC code and the HTTP status grpc-gateway's `HTTPStatusFromCode` gives it.
const STATUS_TABLE: [(Code, u16); 16] = [
    (Code::Cancelled, 499),
    (Code::Unknown, 500),
    (Code::InvalidArgument, 400),
    (Code::DeadlineExceeded, 504),
    (Code::NotFound, 404),
    (Code::AlreadyExists, 409),
    (Code::PermissionDenied, 403),
    (Code::ResourceExhausted, 429),
    (Code::FailedPrecondition, 400),
    (Code::Aborted, 409),
    (Code::OutOfRange, 400),
    (Code::Unimplemented, 501),
    (Code::Internal, 500),
    (Code::Unavailable, 503),
    (Code::DataLoss, 500),
    (Code::Unauthenticated, 401),
];

#[tokio::test]
async fn every_grpc_code_has_its_http_status_and_a_status_body() {
    let served = serve().await;
    for (code, http) in STATUS_TABLE {
        let message = format!("failing with {code:?}");
        let reply = served
            .rest
            .json(
                "POST",
                "/v1/fail",
                &json!({"code": code as i32, "message": message}),
            )
            .await;
        let body = reply.error(http, code, &[&message]);
        assert_eq!(
            body,
            json!({"code": code as i32, "message": message, "details": []}),
            "{code:?}"
        );
        // The status's metadata comes back as a `Grpc-Metadata-*` header.
        let header = format!("grpc-metadata-{}", FAILED_BY.0);
        assert_eq!(
            reply.header(&header),
            Some(FAILED_BY.1),
            "{code:?}: {reply:?}"
        );
    }
    assert_eq!(served.domain.calls().len(), STATUS_TABLE.len());
}

#[tokio::test]
async fn unauthenticated_carries_a_challenge() {
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "POST",
            "/v1/fail",
            &json!({"code": Code::Unauthenticated as i32, "message": "Bearer realm=\"echo\""}),
        )
        .await;
    reply.error(401, Code::Unauthenticated, &["realm"]);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"echo\"")
    );
}

#[tokio::test]
async fn error_details_are_rendered_as_any_json_with_their_type() {
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "POST",
            "/v1/fail",
            &json!({"code": 3, "message": "bad label", "withDetails": true}),
        )
        .await;
    let body = reply.error(400, Code::InvalidArgument, &["bad label"]);
    assert_eq!(
        body["details"],
        json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "inner.label", "description": "must not be empty"}],
        }])
    );
}

#[tokio::test]
async fn an_unknown_path_is_a_404() {
    let served = serve().await;
    for path in [
        "/v1/nope",
        "/v2/everything/x",
        "/v1/everything/x/y",
        "//v1/everything/x",
        "/v1//everything",
    ] {
        let reply = served.rest.get(path).await;
        reply.error(404, Code::NotFound, &[]);
        served.rest.assert_serving().await;
    }
    let calls = served.domain.calls();
    assert!(
        calls.iter().all(|seen| seen.rpc == "get_everything"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_a_405_with_allow() {
    let served = serve().await;
    let reply = served
        .rest
        .send(served.rest.request("PATCH", "/v1/everything/abc"))
        .await;
    reply.error(405, Code::Unimplemented, &["PATCH"]);
    let mut allowed: Vec<_> = reply.header("allow").unwrap().split(", ").collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["DELETE", "GET", "PUT"]);
    served.rest.assert_serving().await;

    let reply = served.rest.json("POST", "/v1/sleep", &json!({})).await;
    reply.error(405, Code::Unimplemented, &["POST"]);
    assert_eq!(reply.header("allow"), Some("GET"));
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let served = serve_built(Cors::new(), 64).await;
    let big = json!({"id": "x".repeat(100)});
    let reply = served.rest.json("POST", "/v1/everything", &big).await;
    reply.error(413, Code::ResourceExhausted, &["64"]);
    served.rest.assert_serving().await;
    // At the limit is fine.
    let fits = json!({"id": "x".repeat(64 - r#"{"id":""}"#.len())});
    let reply = served.rest.json("POST", "/v1/everything", &fits).await;
    assert_eq!(reply.ok_json(), fits);
    assert_eq!(
        served.domain.calls().len(),
        2,
        "{:?}",
        served.domain.calls()
    );
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_is_sent() {
    // With `Expect: 100-continue` (curl adds it to large uploads) the client waits: the 413
    // comes in place of the 100, and not a byte of the gigabyte is asked for.
    let served = serve_built(Cors::new(), 64).await;
    let response = served
        .rest
        .raw_request_line(
            "POST /v1/everything HTTP/1.1\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000000\r\nExpect: 100-continue",
        )
        .await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
    assert!(served.domain.calls().is_empty());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413_too() {
    let served = serve_built(Cors::new(), 64).await;
    // No Content-Length: the limit must hold while the body is read.
    let chunks = ["{\"id\":\"", &"x".repeat(40), &"y".repeat(40), "\"}"]
        .map(|chunk| Ok::<_, std::io::Error>(chunk.to_owned()));
    let request = served
        .rest
        .request("POST", "/v1/everything")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )));
    let reply = served.rest.send(request).await;
    reply.error(413, Code::ResourceExhausted, &["64"]);
    served.rest.assert_serving().await;
    assert_eq!(
        served.domain.calls().len(),
        1,
        "{:?}",
        served.domain.calls()
    );
}

#[tokio::test]
async fn the_default_body_limit_is_four_mebibytes() {
    let served = serve().await;
    let big = json!({"id": "x".repeat(4 * 1024 * 1024)});
    let reply = served.rest.json("POST", "/v1/everything", &big).await;
    reply.error(413, Code::ResourceExhausted, &[]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_body_of_any_content_type_is_read_as_json() {
    // grpc-gateway's default marshaler reads every body it has no other codec for as JSON:
    // curl's `-d` sends `application/x-www-form-urlencoded`.
    let served = serve().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let reply = served
            .rest
            .raw(
                "POST",
                "/v1/everything",
                content_type,
                br#"{"id":"x"}"#.to_vec(),
            )
            .await;
        assert_eq!(reply.ok_json(), json!({"id": "x"}), "{content_type}");
    }
    let untyped = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/everything")
                .body(r#"{"id":"y"}"#),
        )
        .await;
    assert_eq!(untyped.ok_json(), json!({"id": "y"}));
    // A form body is then malformed JSON, a 400 naming where serde_json stopped.
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/everything",
            "application/x-www-form-urlencoded",
            b"id=x".to_vec(),
        )
        .await;
    reply.error(400, Code::InvalidArgument, &["body", "line 1 column 1"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_body_of_only_whitespace_is_a_400_and_no_body_an_empty_message() {
    // The Envoy transcoder's answers: bytes that hold no JSON value are not an empty message.
    let served = serve().await;
    for blank in ["  ", "\r  \t\n"] {
        let reply = served
            .rest
            .raw(
                "POST",
                "/v1/everything",
                "application/json",
                blank.as_bytes().to_vec(),
            )
            .await;
        reply.error(400, Code::InvalidArgument, &["only whitespace"]);
    }
    let reply = served
        .rest
        .raw("POST", "/v1/everything", "application/json", Vec::new())
        .await;
    assert_eq!(reply.ok_json(), json!({}));
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn a_request_target_that_is_not_a_path_is_a_400() {
    // `GET foo HTTP/1.1`: hyper reads `foo` as the authority form, whose path is empty.
    // grpc-gateway answers 400 for a path without its leading `/`, not 404.
    let served = serve().await;
    let reply = served.rest.raw_request_line("GET foo HTTP/1.1").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("\"code\":3"), "{reply}");
    // `OPTIONS *` is about the server, not a path (RFC 9110 §9.3.7): an empty 200, as Go's
    // net/http answers it; any other method with `*` stays malformed.
    let reply = served.rest.raw_request_line("OPTIONS * HTTP/1.1").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("content-length: 0"),
        "{reply}"
    );
    let reply = served.rest.raw_request_line("GET * HTTP/1.1").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn an_http_1_1_request_without_one_valid_host_is_a_400() {
    // RFC 9112 §3.2, as Go's net/http answers before grpc-gateway sees the request.
    let served = serve().await;
    for (case, head) in [
        ("no Host", "GET /v1/everything/h HTTP/1.1\r\n"),
        (
            "two Hosts",
            "GET /v1/everything/h HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n",
        ),
        (
            "a Host that is no host",
            "GET /v1/everything/h HTTP/1.1\r\nHost: a b\r\n",
        ),
    ] {
        let reply = served.rest.raw_request(head).await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{case}: {reply}");
        assert!(reply.contains("\"code\":3"), "{case}: {reply}");
        assert!(reply.contains("Host"), "{case}: {reply}");
    }
    // HTTP/1.0 may leave it out; a request in absolute form names its host itself.
    for (case, head) in [
        ("HTTP/1.0", "GET /v1/everything/h HTTP/1.0\r\n"),
        (
            "absolute form",
            "GET http://example.test/v1/everything/h HTTP/1.1\r\n",
        ),
        (
            "an empty Host",
            "GET /v1/everything/h HTTP/1.1\r\nHost:\r\n",
        ),
    ] {
        let reply = served.rest.raw_request(head).await;
        let status_line = reply.lines().next().unwrap_or_default();
        assert!(status_line.contains(" 200 "), "{case}: {reply}");
    }
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let served = serve().await;
    for body in [
        &br#"{"id": "#[..],
        b"{id: 1}",
        b"nonsense",
        br#"{"id":"x"} trailing"#,
    ] {
        let reply = served
            .rest
            .raw("POST", "/v1/everything", "application/json", body.to_vec())
            .await;
        reply.error(400, Code::InvalidArgument, &["body"]);
        served.rest.assert_serving().await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_a_400() {
    let served = serve().await;
    for body in [json!([1]), json!("text"), json!(5)] {
        let reply = served.rest.json("POST", "/v1/everything", &body).await;
        reply.error(400, Code::InvalidArgument, &["body"]);
        served.rest.assert_serving().await;
    }
}

#[tokio::test]
async fn a_wrong_type_in_the_body_is_a_400_naming_the_field() {
    let served = serve().await;
    let cases = [
        (json!({"small": "abc"}), "small"),
        (json!({"small": 1.5}), "small"),
        // Past a float's range: protojson refuses it, pbjson read it as infinity.
        (json!({"weight": 3.5e38}), "out of range for a float"),
        (json!({"colour": 3e9}), "colour"),
        (json!({"flag": "yes"}), "flag"),
        (json!({"tags": "one"}), "tags"),
        (json!({"colour": true}), "colour"),
        (json!({"wait": "315576000001s"}), "out of range"),
        (json!({"at": "2024-01-02t03:04:05z"}), "at"),
        // A field mask's paths in a body are lowerCamelCase, as protojson reads them.
        (
            json!({"mask": "inner.leaf.note,maybe_big"}),
            "lowerCamelCase",
        ),
        (json!({"inner": {"count": true}}), "count"),
        (json!({"at": "yesterday"}), "at"),
        (json!({"wait": "soon"}), "wait"),
        (json!({"blob": "!!"}), "blob"),
    ];
    for (body, field) in cases {
        let reply = served.rest.json("POST", "/v1/everything", &body).await;
        reply.error(400, Code::InvalidArgument, &[field]);
        served.rest.assert_serving().await;
    }
    // Through a body field and a path variable as well.
    let reply = served
        .rest
        .json("PUT", "/v1/everything/abc", &json!({"big": "x"}))
        .await;
    reply.error(400, Code::InvalidArgument, &["big"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn an_unknown_body_field_is_skipped() {
    // grpc-gateway's and the Envoy transcoder's default: a client newer than the server may
    // send fields it does not know (`reject_unknown_fields` refuses them instead; see
    // codegen_options.rs and the runtime's request tests).
    let served = serve().await;
    for body in [
        json!({"id": "x", "nope": 1}),
        json!({"id": "x", "inner": {"bogus": [1, {"deep": true}]}}),
        // So is a name the enum does not have (a newer server's value), as protojson's
        // `DiscardUnknown` drops it, and `null` for any field.
        json!({"id": "x", "colour": "COLOUR_BLUE", "colours": ["COLOUR_RED", "COLOUR_BLUE"]}),
        json!({"id": "x", "small": null, "tags": null, "labels": null, "colour": null}),
    ] {
        let reply = served.rest.json("POST", "/v1/everything", &body).await;
        let echoed = reply.ok_json();
        assert_eq!(echoed["id"], "x", "{body}");
        assert!(echoed.get("nope").is_none(), "{echoed}");
        assert!(echoed.get("colour").is_none(), "{echoed}");
        assert!(
            echoed
                .get("colours")
                .is_none_or(|colours| *colours == json!(["COLOUR_RED"])),
            "{echoed}"
        );
    }
}

#[tokio::test]
async fn an_unparsable_query_value_is_a_400_naming_the_parameter() {
    let served = serve().await;
    let cases = [
        "small=abc",
        "small=99999999999",
        "big=1.5",
        "unsigned_big=-1",
        "flag=maybe",
        "colour=COLOUR_BLUE",
        "colour=7x",
        // Special floats by their proto3 JSON names only, as grpc-gateway's parser takes them.
        "ratio=inf",
        "at=2024-01-02t03:04:05z",
        // A number the enum has no value for: grpc-gateway refuses it in the query, though a
        // JSON body's enum numbers are open.
        "colour=9",
        "colours=1&colours=40",
        "at=yesterday",
        "at=2024-01-02T03:04:05+01:00",
        "wait=soon",
        "blob=!!",
        "counters[x]=1",
        "counters[1]=y",
        "inner.count=1e999",
        "maybe_big=x",
        "maybe_flag=2",
        "extra=%5B1%5D",
        "anything=not-json",
    ];
    for query in cases {
        let reply = served.rest.get(&format!("/v1/everything/n?{query}")).await;
        let (key, _) = query.split_once('=').unwrap();
        let key = key.split('[').next().unwrap();
        reply.error(400, Code::InvalidArgument, &[key]);
        served.rest.assert_serving().await;
    }
    // An enum number the enum does not name, in our words rather than pbjson's.
    let reply = served.rest.get("/v1/everything/n?colour=9").await;
    reply.error(400, Code::InvalidArgument, &["9 is not a value of enum"]);
    // A singular field given twice.
    let reply = served.rest.get("/v1/everything/n?small=1&small=2").await;
    reply.error(400, Code::InvalidArgument, &["small"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn bad_percent_encoding_is_a_400_naming_the_parameter_or_variable() {
    let served = serve().await;
    for (path, name) in [
        ("/v1/everything/n?inner.label=%zz", "inner.label"),
        ("/v1/everything/n?inner.label=50%", "inner.label"),
        ("/v1/everything/n?small%zz=1", "small"),
        // A parameter the request would ignore is read first, as grpc-gateway's Go parses it.
        ("/v1/everything/n?no_such_field=%zz", "no_such_field"),
        ("/v1/everything/%zz", "id"),
        ("/v1/files/a%2/b:read", "path"),
    ] {
        let reply = served.rest.get(path).await;
        reply.error(400, Code::InvalidArgument, &[name]);
        served.rest.assert_serving().await;
    }
}

#[tokio::test]
async fn invalid_utf8_is_a_400_naming_where() {
    let served = serve().await;
    for (path, name) in [
        ("/v1/everything/n?inner.label=%FF", "inner.label"),
        ("/v1/everything/n?tags=ok&tags=%C3", "tags"),
        ("/v1/everything/%C3%28", "id"),
        ("/v1/shelves/%FF/books/1", "name"),
    ] {
        let reply = served.rest.get(path).await;
        reply.error(400, Code::InvalidArgument, &[name]);
        served.rest.assert_serving().await;
    }
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/everything",
            "application/json",
            b"{\"id\":\"\xff\"}".to_vec(),
        )
        .await;
    reply.error(400, Code::InvalidArgument, &["body"]);
    served.rest.assert_serving().await;
    assert!(
        served
            .domain
            .calls()
            .iter()
            .all(|seen| seen.rpc == "get_everything")
    );
}

#[tokio::test]
async fn an_error_handler_writes_every_error_response_its_own_way() {
    // grpc-gateway's WithErrorHandler: here an RFC 9457 problem document, keeping the HTTP
    // status and the headers the gateway chose.
    let served = crate::gateway_common::serve_with(|builder| {
        builder.error_handler(|status, response| {
            let (mut parts, _) = response.into_parts();
            parts.headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/problem+json"),
            );
            let problem = json!({
                "title": status.message(),
                "status": parts.status.as_u16(),
                "grpcCode": status.code() as i32,
                "failedBy": status.metadata().get(FAILED_BY.0).and_then(|v| v.to_str().ok()),
            });
            http::Response::from_parts(parts, problem.to_string().into())
        })
    })
    .await;
    let problem = |reply: &crate::gateway_common::Reply| {
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{reply:?}"
        );
        reply.json()
    };
    // An rpc's error, its metadata header kept.
    let reply = served
        .rest
        .json("POST", "/v1/fail", &json!({"code": 5, "message": "gone"}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        problem(&reply),
        json!({"title": "gone", "status": 404, "grpcCode": 5, "failedBy": FAILED_BY.1})
    );
    let header = format!("grpc-metadata-{}", FAILED_BY.0);
    assert_eq!(reply.header(&header), Some(FAILED_BY.1), "{reply:?}");
    // The gateway's own: no route, a wrong method (with its Allow), a body it cannot read.
    let reply = served.rest.get("/v1/nowhere").await;
    assert_eq!(problem(&reply)["status"], 404);
    let reply = served
        .rest
        .request("PATCH", "/v1/fail")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);
    assert_eq!(reply.headers()["content-type"], "application/problem+json");
    assert!(reply.headers().contains_key("allow"), "{reply:?}");
    let reply = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/fail")
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(problem(&reply)["grpcCode"], Code::InvalidArgument as i32);
    // A success is untouched.
    let reply = served.rest.get("/v1/everything/ok").await;
    assert_eq!(reply.ok_json(), json!({"id": "ok"}));
}
