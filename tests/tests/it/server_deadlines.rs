//! A call that arrives without a deadline (curl, most REST clients, a gRPC client that sets
//! none) gets its rpc's default deadline from the proto on the server side, as go-zero's servers
//! apply their default timeout, over gRPC and the REST gateway alike; `default_deadlines(false)`
//! serves such calls without one. A deadline the caller sends is kept as it is.

use std::time::Duration;

use example_services::inventory::v1::{FakeInventoryService, InventoryServiceGateway};
use rust_svc_runtime::Code;
use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::harness::serve_in_memory;
use rust_svc_tests::tests::resilience::FlakyGrpc;
use rust_svc_tests::tests::resilience::flaky_client::FlakyClient as TonicFlakyClient;
use tokio::time::Instant;
use tonic::codegen::Service;

use crate::client_common::{Outcome, Scripted, call};

/// Quick's deadline in tests/protos/resilience.proto; Read has the service's 5 s.
const QUICK: Duration = Duration::from_millis(200);
const READ: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn a_grpc_call_without_a_deadline_gets_its_rpcs_default_from_the_proto() {
    let server = Scripted::default();
    server.script([Outcome::Hang, Outcome::Ok]);
    let (channel, _handle) = serve_in_memory(FlakyGrpc::new(server.clone()).into_service());
    // tonic's own client, which sends no grpc-timeout unless told.
    let mut client = TonicFlakyClient::new(channel);

    let started = Instant::now();
    let status = client.quick(call("hangs")).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let waited = started.elapsed();
    assert!(
        waited >= QUICK && waited < QUICK + Duration::from_millis(50),
        "{waited:?}"
    );
    client.read(call("answers")).await.unwrap();

    let budgets: Vec<_> = server.attempts().iter().map(|a| a.budget).collect();
    assert!(
        matches!(budgets[0], Some(left) if left <= QUICK && left > QUICK / 2),
        "{budgets:?}"
    );
    assert!(
        matches!(budgets[1], Some(left) if left <= READ && left > READ / 2),
        "{budgets:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_the_caller_sends_is_kept_and_the_default_can_be_turned_off() {
    let server = Scripted::default();
    server.script([Outcome::SlowOk(Duration::from_secs(1)), Outcome::Ok]);
    let service = FlakyGrpc::new(server.clone())
        .into_service()
        .default_deadlines(false);
    let (channel, _handle) = serve_in_memory(service);
    let mut client = TonicFlakyClient::new(channel);

    // Longer than Quick's 200 ms, and nothing bounds it.
    client.quick(call("slow")).await.unwrap();
    let mut request = tonic::Request::new(call("bounded"));
    request.set_timeout(Duration::from_secs(30));
    client.read(request).await.unwrap();

    let budgets: Vec<_> = server.attempts().iter().map(|a| a.budget).collect();
    assert_eq!(budgets[0], None);
    assert!(
        matches!(budgets[1], Some(left) if left > READ && left <= Duration::from_secs(30)),
        "{budgets:?}"
    );
}

/// `GET /v1/items/SKU-1/stock` (CheckStock, 300 ms in the example's inventory.proto) through
/// `gateway`, without a `Grpc-Timeout`: the status and what the fake recorded.
async fn check_stock(mut gateway: Gateway) -> http::StatusCode {
    let request = http::Request::get("/v1/items/SKU-1/stock")
        .body(axum::body::Body::empty())
        .unwrap();
    gateway.call(request).await.unwrap().status()
}

#[tokio::test(start_paused = true)]
async fn a_rest_call_without_a_grpc_timeout_gets_its_rpcs_default_too() {
    let fake = FakeInventoryService::new();
    fake.check_stock.hangs();
    let gateway = Gateway::from_service(InventoryServiceGateway::routes(fake.clone()));
    let started = Instant::now();
    assert_eq!(
        check_stock(gateway).await,
        http::StatusCode::GATEWAY_TIMEOUT
    );
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert!(fake.check_stock.calls()[0].deadline().is_some());

    let fake = FakeInventoryService::with_default_responses();
    let gateway = Gateway::builder()
        .service(InventoryServiceGateway::routes(fake.clone()))
        .default_deadlines(false)
        .build()
        .unwrap();
    assert_eq!(check_stock(gateway).await, http::StatusCode::OK);
    assert_eq!(fake.check_stock.calls()[0].deadline(), None);
}
