//! The REST gateway end to end in proxy mode: the gateway serves the generated *client*, which
//! forwards each REST call over gRPC to a remote server (grpc-gateway's setup), with the
//! client's deadlines. The remote domain records what reached it.

use std::time::Duration;

use rust_svc_runtime::Code;
use rust_svc_runtime::client::DEFAULT_DEADLINE;
use rust_svc_runtime::harness::Harness;
use rust_svc_tests::tests::gateway::{EchoClient, EchoGateway, EchoGrpc};
use serde_json::json;

use crate::gateway_common::{EchoDomain, FAILED_BY, Rest};

/// The remote gRPC server (with its domain) and the proxy in front of it.
struct Proxied {
    remote_domain: EchoDomain,
    /// The remote server: dropping it stops it.
    remote: Harness<EchoClient>,
    proxy: Harness<EchoClient>,
    rest: Rest,
}

async fn proxied() -> Proxied {
    let remote_domain = EchoDomain::default();
    let remote = EchoGrpc::serve_loopback(remote_domain.clone())
        .await
        .unwrap();
    // The gateway over the client: every REST call becomes a gRPC call to `remote`.
    let proxy = EchoGateway::serve_loopback(remote.client().clone())
        .await
        .unwrap();
    let rest = Rest::new(&proxy);
    Proxied {
        remote_domain,
        remote,
        proxy,
        rest,
    }
}

#[tokio::test]
async fn a_rest_call_reaches_the_remote_domain() {
    let proxied = proxied().await;
    assert_ne!(proxied.proxy.local_addr(), proxied.remote.local_addr());
    let request = proxied
        .rest
        .request(
            "GET",
            "/v1/nested/lbl/everything/abc?big=9007199254740993&labels[k]=v&wait=1.5s",
        )
        .header("x-request-id", "through-the-proxy");
    let reply = proxied.rest.send(request).await;
    assert_eq!(
        reply.ok_json(),
        json!({
            "id": "abc",
            "inner": {"label": "lbl"},
            "big": "9007199254740993",
            "labels": {"k": "v"},
            "wait": "1.500s",
        })
    );
    let seen = proxied.remote_domain.last("get_everything");
    // The client propagates the request id, and always sends a deadline (its default).
    assert_eq!(
        seen.get("x-request-id"),
        Some("through-the-proxy"),
        "{seen:?}"
    );
    let remaining = seen.remaining.expect("the client sends a deadline");
    assert!(remaining <= DEFAULT_DEADLINE, "{seen:?}");
    assert!(seen.had_peer, "{seen:?}");
    // Bodies, `response_body` and `Empty` go through as well.
    let reply = proxied
        .rest
        .json(
            "PUT",
            "/v1/everything/p?validateOnly=true",
            &json!({"small": 5}),
        )
        .await;
    assert_eq!(
        reply.ok_json(),
        json!({"id": "p", "item": {"small": 5}, "validateOnly": true})
    );
    let reply = proxied.rest.get("/v1/everything?small=1").await;
    assert_eq!(reply.ok_json(), json!([{"small": 1}, {"id": "second"}]));
    let reply = proxied
        .rest
        .send(proxied.rest.request("DELETE", "/v1/everything/x"))
        .await;
    assert_eq!(reply.text, "{}");
    let rpcs: Vec<_> = proxied
        .remote_domain
        .calls()
        .iter()
        .map(|seen| seen.rpc)
        .collect();
    assert_eq!(
        rpcs,
        [
            "get_everything",
            "put_everything",
            "list_everything",
            "delete_everything"
        ]
    );
}

/// grpc-gateway sends its backend the metadata its header rules make of a request's headers;
/// the generated client, as the gateway's domain for the same rpc, sends the same.
#[tokio::test]
async fn the_proxy_sends_on_what_the_header_rules_make_as_grpc_gateway_does() {
    let proxied = proxied().await;
    let base = proxied
        .proxy
        .base_url()
        .expect("a loopback proxy has a URL");
    let host = base.trim_start_matches("http://");
    let request = proxied
        .rest
        .request("GET", "/v1/everything/abc")
        .header("authorization", "Bearer t0ken")
        .header("x-request-id", "r-1")
        .header("grpc-metadata-tenant", "acme")
        .header("grpc-metadata-trace-bin", "AAEC")
        .header("user-agent", "curl/8.5")
        .header("x-not-a-rule-of-theirs", "dropped");
    let reply = proxied.rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    let seen = proxied.remote_domain.last("get_everything");
    assert_eq!(seen.get("authorization"), Some("Bearer t0ken"), "{seen:?}");
    assert_eq!(seen.get("x-request-id"), Some("r-1"), "{seen:?}");
    assert_eq!(seen.get("tenant"), Some("acme"), "{seen:?}");
    assert_eq!(seen.get("trace-bin"), Some("AAEC"), "{seen:?}");
    assert_eq!(
        seen.get("grpcgateway-user-agent"),
        Some("curl/8.5"),
        "{seen:?}"
    );
    assert_eq!(
        seen.get("grpcgateway-authorization"),
        Some("Bearer t0ken"),
        "{seen:?}"
    );
    assert_eq!(seen.get("x-forwarded-host"), Some(host), "{seen:?}");
    assert_eq!(seen.get("x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
    assert_eq!(seen.get("x-not-a-rule-of-theirs"), None, "{seen:?}");
    assert_eq!(seen.get("grpc-metadata-tenant"), None, "{seen:?}");
}

#[tokio::test]
async fn a_proxy_told_not_to_forward_the_gateways_metadata_sends_its_allow_list() {
    let remote_domain = EchoDomain::default();
    let remote = EchoGrpc::serve_loopback(remote_domain.clone())
        .await
        .unwrap();
    // The client's allow-list alone, as for a call made while serving another: credentials
    // and metadata only where the list names them.
    let client = EchoClient::builder()
        .forward_gateway_metadata(false)
        .propagate_headers(["authorization", "x-request-id", "tenant"])
        .build(remote.channel())
        .unwrap();
    let proxy = EchoGateway::serve_loopback(client).await.unwrap();
    let rest = Rest::new(&proxy);
    let request = rest
        .request("GET", "/v1/everything/abc")
        .header("authorization", "Bearer t0ken")
        .header("x-request-id", "r-1")
        .header("grpc-metadata-tenant", "acme")
        .header("grpc-metadata-other", "not forwarded");
    let reply = rest.send(request).await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
    let seen = remote_domain.last("get_everything");
    assert_eq!(seen.get("authorization"), Some("Bearer t0ken"), "{seen:?}");
    assert_eq!(seen.get("x-request-id"), Some("r-1"), "{seen:?}");
    assert_eq!(seen.get("tenant"), Some("acme"), "{seen:?}");
    assert_eq!(seen.get("other"), None, "{seen:?}");
    assert_eq!(seen.get("x-forwarded-for"), None, "{seen:?}");
}

#[tokio::test]
async fn grpc_timeout_propagates_through_the_client() {
    let proxied = proxied().await;
    let request = proxied
        .rest
        .request("GET", "/v1/sleep")
        .header("grpc-timeout", "200m");
    let reply = proxied.rest.send(request).await;
    reply.error(504, Code::DeadlineExceeded, &[]);
    let seen = proxied.remote_domain.last("sleep");
    let remaining = seen.remaining.expect("the remote saw a deadline");
    assert!(remaining <= Duration::from_millis(200), "{seen:?}");
    proxied.rest.assert_serving().await;
}

#[tokio::test]
async fn remote_errors_keep_their_code_details_and_metadata() {
    let proxied = proxied().await;
    let reply = proxied
        .rest
        .json(
            "POST",
            "/v1/fail",
            &json!({"code": Code::FailedPrecondition as i32, "message": "remote says no", "withDetails": true}),
        )
        .await;
    let body = reply.error(400, Code::FailedPrecondition, &["remote says no"]);
    assert_eq!(
        body["details"],
        json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "inner.label", "description": "must not be empty"}],
        }])
    );
    let header = format!("grpc-metadata-{}", FAILED_BY.0);
    assert_eq!(reply.header(&header), Some(FAILED_BY.1), "{reply:?}");
    // Once: the client also records the remote's trailers-only answer as trailers to forward.
    let trailer = format!("grpc-trailer-{}", FAILED_BY.0);
    assert_eq!(reply.header(&trailer), None, "{reply:?}");
    let reply = proxied
        .rest
        .json(
            "POST",
            "/v1/fail",
            &json!({"code": Code::NotFound as i32, "message": "gone"}),
        )
        .await;
    reply.error(404, Code::NotFound, &["gone"]);
    // Bad input is refused by the proxy itself, before any gRPC call.
    let reply = proxied.rest.get("/v1/everything/n?small=abc").await;
    reply.error(400, Code::InvalidArgument, &["small"]);
    assert_eq!(proxied.remote_domain.calls().len(), 2);
}

#[tokio::test]
async fn streams_go_through_the_proxy() {
    let proxied = proxied().await;
    let reply = proxied
        .rest
        .get("/v1/stream?count=2&fail_with_code=14")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let lines: Vec<serde_json::Value> = reply
        .text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], json!({"result": {"label": "item 0"}}));
    assert_eq!(lines[1], json!({"result": {"label": "item 1", "count": 1}}));
    assert_eq!(
        lines[2]["error"]["code"],
        Code::Unavailable as i32,
        "{lines:?}"
    );
    assert_eq!(lines[2]["error"]["message"], "failed after 2 messages");

    let reply = proxied
        .rest
        .raw(
            "POST",
            "/v1/sum",
            "application/x-ndjson",
            b"{\"count\":2}\n{\"count\":5}\n".to_vec(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"sum": 7, "messages": 2}));

    let reply = proxied
        .rest
        .raw(
            "POST",
            "/v1/chat",
            "application/x-ndjson",
            b"{\"label\":\"x\"}\n".to_vec(),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text, "{\"result\":{\"label\":\"echo: x\"}}\n");
    let rpcs: Vec<_> = proxied
        .remote_domain
        .calls()
        .iter()
        .map(|seen| seen.rpc)
        .collect();
    assert_eq!(rpcs, ["stream", "sum", "chat"]);
}

#[tokio::test]
async fn an_unreachableremote_is_a_503() {
    let proxied = proxied().await;
    let reply = proxied.rest.get("/v1/everything/before").await;
    assert_eq!(reply.ok_json(), json!({"id": "before"}));
    proxied.remote.shutdown().await.unwrap();
    let reply = proxied.rest.get("/v1/everything/after").await;
    reply.error(503, Code::Unavailable, &[]);
    let rpcs: Vec<_> = proxied
        .remote_domain
        .calls()
        .iter()
        .map(|seen| seen.rpc)
        .collect();
    assert_eq!(rpcs, ["get_everything"]);
}
