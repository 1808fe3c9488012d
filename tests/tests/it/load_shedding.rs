//! Load shedding seen from outside, over real HTTP/1.1 (REST) and HTTP/2 (gRPC) on one port: a
//! call over the service's limit is refused before its body is read or its handler runs, with
//! `UNAVAILABLE` and a pushback (`Retry-After` over REST), and the gRPC adapter and the gateway
//! of one domain share one limit. The limit's arithmetic is unit-tested in
//! `runtime/src/call/admission`.

use std::sync::Arc;
use std::time::Duration;

use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::harness::loopback_with_gateway;
use rust_svc_runtime::rpc::LoadShedding;
use rust_svc_runtime::{Code, Context};
use rust_svc_tests::tests::gateway::{Echo as _, EchoClient, EchoGateway, EchoGrpc, Leaf};
use serde_json::json;

use crate::gateway_common::{EchoDomain, Rest};

/// One call at a time, and a short wait in line: the second call is refused.
const ONE_AT_A_TIME: LoadShedding = LoadShedding::DEFAULT
    .initial_limit(1)
    .min_limit(1)
    .max_limit(1)
    .max_queue_wait(Duration::from_millis(50));

#[tokio::test]
async fn a_call_over_the_limit_is_refused_unread_with_a_pushback_on_both_protocols() {
    let domain = Arc::new(EchoDomain::default());
    let routes = EchoGateway::routes_from_arc(Arc::clone(&domain));
    routes.admission().set_policy(ONE_AT_A_TIME);
    let grpc = EchoGrpc::from_arc(Arc::clone(&domain)).into_service();
    assert_eq!(
        grpc.admission().limit(),
        1,
        "the adapter of the same domain shares the gateway's admission"
    );
    let gateway = Gateway::builder().service(routes).build().unwrap();
    let harness = loopback_with_gateway::<EchoClient, _>(grpc, gateway)
        .await
        .unwrap();
    let rest = Rest::new(&harness);

    // The one slot, held by a call that sleeps until its 5 s deadline.
    let sleeper = {
        let request = rest
            .request("GET", "/v1/sleep")
            .header("grpc-timeout", "5S");
        tokio::spawn(request.send())
    };
    for _ in 0..200 {
        if !domain.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(domain.calls().len(), 1, "the sleeper reached its handler");

    // Over REST, with a body that is not JSON: refused before the body is read (a 400 would
    // say it was).
    let refused = rest
        .raw(
            "POST",
            "/v1/everything",
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    let body = refused.error(503, Code::Unavailable, &["overloaded", "nothing was done"]);
    assert!(
        body["message"].as_str().unwrap().contains("retry in"),
        "{body}"
    );
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(
        refused.header("connection"),
        Some("close"),
        "an HTTP/1.1 client refused for load connects again rather than asking again at once"
    );

    // Over gRPC, through the generated client.
    let status = harness
        .client()
        .grpc_only(&Context::new(), Leaf::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("overloaded"), "{status:?}");
    let pushback: u64 = status
        .metadata()
        .get("grpc-retry-pushback-ms")
        .expect("a pushback")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pushback >= 50, "{pushback}");

    assert_eq!(
        domain.calls().len(),
        1,
        "no refused call reached a handler: {:?}",
        domain.calls()
    );

    // The sleeper's caller goes away: its slot comes back, and calls are served again.
    sleeper.abort();
    let mut served = None;
    for _ in 0..100 {
        let reply = rest
            .json("POST", "/v1/everything", &json!({"id": "after"}))
            .await;
        if reply.status.is_success() {
            served = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = served.expect("a call served once the slot came back");
    assert_eq!(served.ok_json()["id"], "after");
}

#[tokio::test]
async fn shedding_off_admits_every_call() {
    let domain = Arc::new(EchoDomain::default());
    let routes = EchoGateway::routes_from_arc(Arc::clone(&domain));
    let grpc = EchoGrpc::from_arc(Arc::clone(&domain))
        .into_service()
        .load_shedding(LoadShedding::OFF.max_limit(1).initial_limit(1).min_limit(1));
    let gateway = Gateway::builder().service(routes).build().unwrap();
    let harness = loopback_with_gateway::<EchoClient, _>(grpc, gateway)
        .await
        .unwrap();
    let rest = Rest::new(&harness);
    let sleepers: Vec<_> = (0..3)
        .map(|_| {
            let request = rest
                .request("GET", "/v1/sleep")
                .header("grpc-timeout", "5S");
            tokio::spawn(request.send())
        })
        .collect();
    let reply = rest
        .json("POST", "/v1/everything", &json!({"id": "in"}))
        .await;
    assert_eq!(reply.ok_json()["id"], "in");
    for sleeper in sleepers {
        sleeper.abort();
    }
}
