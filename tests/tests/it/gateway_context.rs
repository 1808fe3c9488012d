//! The REST gateway end to end, what reaches the domain besides the message: headers into the
//! `Context` (the same shape as over gRPC), `Grpc-Timeout` as the deadline, and gRPC and REST
//! (HTTP/1.1 and HTTP/2) served on one port.

use std::time::Duration;

use rust_svc_runtime::{Code, Context};
use rust_svc_tests::tests::gateway::{Echo, Everything};
use serde_json::json;

use rust_svc_runtime::gateway::HeaderRules;

use crate::gateway_common::{FAILED_BY, Rest, SLEEP, serve, serve_with};

#[tokio::test]
async fn request_headers_become_the_context_metadata() {
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("authorization", "Bearer t0ken")
        .header("x-request-id", "req-9")
        .header("grpc-metadata-foo", "bar")
        .header("Grpc-Metadata-Trace-Bin", "AAEC")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", "vendor=1")
        .header("cookie", "session=secret")
        .header("x-other", "not forwarded");
    let reply = served.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    let seen = served.domain.last("get_everything");
    assert_eq!(seen.get("authorization"), Some("Bearer t0ken"), "{seen:?}");
    assert_eq!(seen.get("x-request-id"), Some("req-9"), "{seen:?}");
    assert_eq!(seen.get("foo"), Some("bar"), "{seen:?}");
    assert_eq!(seen.get("trace-bin"), Some("AAEC"), "{seen:?}");
    assert_eq!(
        seen.get("traceparent"),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    assert_eq!(seen.get("tracestate"), Some("vendor=1"), "{seen:?}");
    for absent in [
        "cookie",
        "x-other",
        "grpc-metadata-foo",
        "user-agent",
        "host",
        "accept",
    ] {
        assert_eq!(seen.get(absent), None, "{absent} leaked into {seen:?}");
    }
    // grpc-gateway's default matcher: the permanent HTTP headers under `grpcgateway-`, and
    // where the request came from.
    assert_eq!(seen.get("grpcgateway-cookie"), Some("session=secret"));
    assert_eq!(seen.get("grpcgateway-accept"), Some("*/*"), "{seen:?}");
    assert_eq!(seen.get("x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
    assert!(seen.get("x-forwarded-host").is_some(), "{seen:?}");
    assert_eq!(
        seen.remaining, None,
        "no Grpc-Timeout, no deadline: {seen:?}"
    );
    assert!(seen.had_peer, "{seen:?}");
}

#[tokio::test]
async fn header_rules_of_the_gateway_replace_the_mapping_both_ways() {
    let rules = HeaderRules::new()
        .incoming(|name| match name {
            "x-tenant" => Some("tenant".to_owned()),
            _ => None,
        })
        .outgoing(|key| Some(format!("x-meta-{key}")));
    let served = serve_with(|builder| builder.header_rules(rules)).await;
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("x-tenant", "acme")
        .header("grpc-metadata-foo", "bar")
        .header("user-agent", "curl/8");
    served.rest.send(request).await.ok_json();
    let seen = served.domain.last("get_everything");
    assert_eq!(seen.get("tenant"), Some("acme"), "{seen:?}");
    for absent in ["foo", "grpcgateway-user-agent"] {
        assert_eq!(seen.get(absent), None, "{absent} in {seen:?}");
    }
    // An error's metadata goes out by the gateway's rules too.
    let failed = served
        .rest
        .json("POST", "/v1/fail", &json!({"code": 5, "message": "gone"}))
        .await;
    let (key, value) = FAILED_BY;
    assert_eq!(
        failed.header(&format!("x-meta-{key}")),
        Some(value),
        "{failed:?}"
    );
    assert_eq!(failed.header(&format!("grpc-metadata-{key}")), None);
}

#[tokio::test]
async fn the_context_has_the_same_shape_over_rest_and_grpc() {
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/everything/rest")
        .header("x-request-id", "same-id")
        .header("grpc-timeout", "20S");
    served.rest.send(request).await.ok_json();
    let over_rest = served.domain.last("get_everything");

    let ctx = Context::new()
        .with_timeout(Duration::from_secs(20))
        .with_metadata({
            let mut metadata = rust_svc_runtime::MetadataMap::new();
            metadata.insert("x-request-id", "same-id".parse().unwrap());
            metadata
        });
    let echoed = served
        .harness
        .client()
        .get_everything(
            &ctx,
            Everything {
                id: "grpc".to_owned(),
                ..Everything::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(echoed.id, "grpc");
    let over_grpc = served.domain.last("get_everything");

    assert_eq!(over_rest.get("x-request-id"), over_grpc.get("x-request-id"));
    assert!(over_rest.had_peer && over_grpc.had_peer);
    for seen in [&over_rest, &over_grpc] {
        let remaining = seen.remaining.expect("a deadline");
        assert!(remaining <= Duration::from_secs(20), "{seen:?}");
    }
}

#[tokio::test]
async fn grpc_timeout_is_the_deadline_and_a_slow_call_is_a_504() {
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/sleep")
        .header("grpc-timeout", "100m");
    let reply = served.rest.send(request).await;
    reply.error(504, Code::DeadlineExceeded, &[]);
    let seen = served.domain.last("sleep");
    let remaining = seen.remaining.expect("the domain saw the deadline");
    assert!(remaining <= Duration::from_millis(100), "{seen:?}");
    assert!(remaining < SLEEP);
    served.rest.assert_serving().await;
}

/// A client that sends its body slowly (a byte at a time, over HTTP/1.1) holds the call, which
/// was admitted before its body was read, only until the call's deadline: then a 504, the
/// domain never reached, and the server free for others. (Before, the read had no bound, and
/// twenty such clients kept a service's every slot.)
#[tokio::test]
async fn a_body_sent_too_slowly_for_the_deadline_is_a_504() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let served = serve().await;
    let addr = served.rest.addr();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/everything/slow:echo HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 200\r\nGrpc-Timeout: 200m\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    // A byte every 50 ms: the 200 bytes would take ten seconds.
    let trickle = async {
        for _ in 0..200 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut response = Vec::new();
    tokio::select! {
        () = trickle => panic!("the whole body went up: the read was not bounded"),
        read = reader.read_buf(&mut response) => assert!(read.unwrap() > 0),
    }
    // The rest of the answer, as it comes.
    let message = b"the deadline passed while the request body was being read";
    while !response
        .windows(message.len())
        .any(|window| window == message)
    {
        let read = tokio::time::timeout(Duration::from_secs(10), reader.read_buf(&mut response));
        if read.await.unwrap().unwrap() == 0 {
            break;
        }
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 504"), "{response}");
    assert!(
        response.contains("the deadline passed while the request body was being read"),
        "{response}"
    );
    assert!(
        served.domain.calls().is_empty(),
        "{:?}",
        served.domain.calls()
    );
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn an_expired_deadline_is_a_504_without_reaching_the_domain() {
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/everything/late")
        .header("grpc-timeout", "0n");
    let reply = served.rest.send(request).await;
    reply.error(504, Code::DeadlineExceeded, &[]);
    assert!(
        served.domain.calls().is_empty(),
        "{:?}",
        served.domain.calls()
    );
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_a_400_naming_the_header() {
    let served = serve().await;
    for value in ["soon", "10", "1.5S", "1_000m", "-1S", "5s"] {
        let request = served
            .rest
            .request("GET", "/v1/everything/abc")
            .header("grpc-timeout", value);
        let reply = served.rest.send(request).await;
        reply.error(400, Code::InvalidArgument, &["grpc-timeout"]);
        served.rest.assert_serving().await;
    }
    let calls = served.domain.calls();
    assert!(
        calls.iter().all(|seen| seen.remaining.is_none()),
        "{calls:?}"
    );
}

#[tokio::test]
async fn grpc_and_rest_share_one_port() {
    let served = serve().await;
    let port = served.harness.local_addr().unwrap().port();
    assert!(
        served
            .harness
            .base_url()
            .unwrap()
            .ends_with(&format!(":{port}"))
    );
    let reply = served.rest.get("/v1/everything/rest").await;
    assert_eq!(reply.ok_json(), json!({"id": "rest"}));
    let echoed = served
        .harness
        .client()
        .get_everything(
            &Context::new(),
            Everything {
                id: "grpc".to_owned(),
                ..Everything::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(echoed.id, "grpc");
    // The rpc without an http rule is served over gRPC only.
    let leaf = served
        .harness
        .client()
        .grpc_only(&Context::new(), Default::default())
        .await
        .unwrap();
    assert_eq!(leaf, Default::default());
    let rpcs: Vec<_> = served.domain.calls().iter().map(|seen| seen.rpc).collect();
    assert_eq!(rpcs, ["get_everything", "get_everything", "grpc_only"]);
}

#[tokio::test]
async fn rest_is_served_over_http2_too() {
    let served = serve().await;
    let h2 = Rest::with_client(
        &served.harness,
        reqwest::Client::builder().http2_prior_knowledge(),
    );
    let response = h2
        .request("GET", "/v1/everything/h2?small=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "h2", "small": 2}));
    let reply = h2.get("/v1/nope").await;
    reply.error(404, Code::NotFound, &[]);
    // HTTP/2 has no `Host` header, its `:authority` says the host (grpc-gateway reads Go's
    // `Request.Host`, which is either): the metadata is the same as over HTTP/1.1.
    let seen = served.domain.last("get_everything");
    let authority = served.harness.local_addr().unwrap().to_string();
    assert_eq!(
        seen.get("x-forwarded-host"),
        Some(authority.as_str()),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("grpcgateway-host"),
        Some(authority.as_str()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_request_in_absolute_form_is_for_the_host_it_names() {
    // RFC 9112 §3.2.2: the request target's host, not the `Host` header (Go's net/http sets
    // `Request.Host` from it, which grpc-gateway reads).
    let served = serve().await;
    let reply = served
        .rest
        .raw_request("GET http://example.test/v1/everything/abs HTTP/1.1\r\nHost: other.test\r\n")
        .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let seen = served.domain.last("get_everything");
    assert_eq!(
        seen.get("x-forwarded-host"),
        Some("example.test"),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("grpcgateway-host"),
        Some("example.test"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn every_x_forwarded_for_line_is_kept_in_order_before_the_peer() {
    // grpc-gateway's TestAnnotateContext_AppendsToExistingXForwardedHeaders: the client, then
    // two proxies on a second line, then the peer that connected.
    let served = serve().await;
    let request = served
        .rest
        .request("GET", "/v1/everything/xff")
        .header("x-forwarded-host", "qux.example.com")
        .header("x-forwarded-for", "192.0.2.100")
        .header("x-forwarded-for", "192.0.2.101, 192.0.2.102");
    let reply = served.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "xff"}));
    let seen = served.domain.last("get_everything");
    assert_eq!(seen.get("x-forwarded-host"), Some("qux.example.com"));
    assert_eq!(
        seen.get("x-forwarded-for"),
        Some("192.0.2.100, 192.0.2.101, 192.0.2.102, 127.0.0.1"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_its_call() {
    // grpc-gateway's TestExcessBody: a client gives up on a call in progress, with or without
    // a body the rule does not read; the server stops the call (here its future is dropped).
    use tokio::io::AsyncWriteExt;
    for (case, body) in [("no body", ""), ("a body the rule does not read", "{}")] {
        let served = serve().await;
        let addr = served.harness.local_addr().unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /v1/sleep HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        while served.domain.calls().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(stream);
        // The sleep lasts SLEEP; a call still running after half of it was not given up.
        tokio::time::timeout(SLEEP / 2, served.domain.abandoned_sleep())
            .await
            .unwrap_or_else(|_| panic!("{case}: the call went on after its client hung up"));
    }
}

#[tokio::test]
async fn the_handler_knows_the_rest_route_the_call_came_by() {
    // grpc-gateway's `runtime.HTTPPathPattern`: the template, not the path, for metrics.
    let served = serve().await;
    served.rest.get("/v1/everything/abc").await.ok_json();
    assert_eq!(
        served.domain.last("get_everything").route,
        Some(("GET", "/v1/everything/{id}"))
    );
    served
        .rest
        .get("/v1/nested/x/everything/abc")
        .await
        .ok_json();
    assert_eq!(
        served.domain.last("get_everything").route,
        Some(("GET", "/v1/nested/{inner.label}/everything/{id}"))
    );
    // A header rule of one's own makes the context another way; the route is still known.
    let ruled = serve_with(|builder| {
        builder.header_rules(HeaderRules::new().incoming(|name| Some(name.to_owned())))
    })
    .await;
    ruled.rest.get("/v1/everything/abc").await.ok_json();
    assert_eq!(
        ruled.domain.last("get_everything").route,
        Some(("GET", "/v1/everything/{id}"))
    );
    // Over gRPC there is none.
    served
        .harness
        .client()
        .get_everything(&Context::new(), Everything::default())
        .await
        .unwrap();
    assert_eq!(served.domain.last("get_everything").route, None);
}

#[tokio::test]
async fn a_handler_chooses_the_success_status_through_a_metadata_key() {
    // grpc-gateway's documented `x-http-code` recipe: with the rule on, the key sets the
    // status of a successful response and is not sent; without it, it is plain metadata.
    let ruled = serve_with(|builder| {
        builder.header_rules(HeaderRules::new().response_status("x-http-code"))
    })
    .await;
    let create = |rest: &Rest, code: &str| {
        rest.request("POST", "/v1/everything")
            .header("grpc-metadata-want-http-code", code)
            .json(&json!({"id": "n"}))
    };
    let reply = ruled.rest.send(create(&ruled.rest, "201")).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.json(), json!({"id": "n"}));
    assert_eq!(reply.header("grpc-metadata-x-http-code"), None, "{reply:?}");
    // A status without content has none, whatever the message.
    let reply = ruled.rest.send(create(&ruled.rest, "204")).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(reply.text, "");
    // Not a status: ignored, and still not sent.
    let reply = ruled.rest.send(create(&ruled.rest, "lots")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("grpc-metadata-x-http-code"), None, "{reply:?}");
    // Without the rule the key is metadata like any other.
    let served = serve().await;
    let reply = served.rest.send(create(&served.rest, "201")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("grpc-metadata-x-http-code"), Some("201"));
}

#[tokio::test]
async fn an_annotator_adds_metadata_from_the_request_head() {
    // grpc-gateway's WithMetadata: metadata made from the request, beside the header rules'.
    let served = serve_with(|builder| {
        builder.metadata(|head, metadata| {
            metadata.insert("x-http-method", head.method.as_str().parse().unwrap());
            if let Some(session) = head
                .headers
                .get("cookie")
                .and_then(|cookie| cookie.to_str().ok()?.strip_prefix("session="))
            {
                metadata.insert("session", session.parse().unwrap());
            }
        })
    })
    .await;
    let request = served
        .rest
        .request("GET", "/v1/everything/abc")
        .header("cookie", "session=s-42")
        .header("x-request-id", "req-1");
    served.rest.send(request).await.ok_json();
    let seen = served.domain.last("get_everything");
    assert_eq!(seen.get("x-http-method"), Some("GET"), "{seen:?}");
    assert_eq!(seen.get("session"), Some("s-42"), "{seen:?}");
    // The header rules' metadata is still there.
    assert_eq!(seen.get("x-request-id"), Some("req-1"), "{seen:?}");
    assert_eq!(
        seen.get("grpcgateway-cookie"),
        Some("session=s-42"),
        "{seen:?}"
    );
}
