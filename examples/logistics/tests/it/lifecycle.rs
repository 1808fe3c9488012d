//! The process around the services: health checks through a graceful shutdown, server
//! reflection, and failing to start on a port in use.

use std::collections::BTreeSet;
use std::time::Duration;

use example_services::orders::v1::{
    CreateOrderRequest, LineItem, Order, OrderService, OrderServiceClient, OrderStatus,
    StreamOrderUpdatesRequest,
};
use futures_util::StreamExt;
use rust_svc_runtime::Context;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha;

use crate::common::{Logistics, run};

const SERVICES: [(&str, &str); 3] = [
    ("inventory", "inventory.v1.InventoryService"),
    ("orders", "orders.v1.OrderService"),
    ("dispatch", "dispatch.v1.DispatchService"),
];

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

#[tokio::test]
async fn each_port_reports_its_service_serving() {
    let system = Logistics::all(&[]);
    for (label, service) in SERVICES {
        let mut health = HealthClient::new(system.channel(label));
        for name in [service, ""] {
            let status = health.check(check(name)).await.unwrap().into_inner().status;
            assert_eq!(status, ServingStatus::Serving as i32, "{label}: {name:?}");
        }
        // Another port's service is not served here.
        let other = if label == "orders" {
            "inventory.v1.InventoryService"
        } else {
            "orders.v1.OrderService"
        };
        let unknown = health.check(check(other)).await.unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound, "{label}: {other}");
    }
}

#[tokio::test]
async fn a_watcher_sees_not_serving_when_the_drain_starts_and_the_process_exits_0() {
    let mut system = Logistics::all(&[]);
    let mut health = HealthClient::new(system.channel("orders"));
    let mut watch = health
        .watch(check("orders.v1.OrderService"))
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    system.terminate();
    let next = watch.next().await.unwrap().unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    // The watch is a call in flight: closing it lets the drain end.
    drop(watch);
    let status = system.exit().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", system.stderr());
}

#[tokio::test]
async fn with_a_shutdown_delay_new_checks_see_not_serving_until_a_second_signal() {
    let mut system = Logistics::all(&["--shutdown-delay", "1h"]);
    system.terminate();
    // New connections are still accepted during the delay; poll until the status turns.
    let mut health = HealthClient::new(system.channel("inventory"));
    loop {
        let status = health.check(check("")).await.unwrap().into_inner().status;
        if status == ServingStatus::NotServing as i32 {
            break;
        }
        assert_eq!(status, ServingStatus::Serving as i32);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(health);
    system.terminate();
    let status = system.exit().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", system.stderr());
}

#[tokio::test]
async fn an_open_stream_is_cut_at_the_drain_timeout() {
    let mut system = Logistics::all(&["--drain-timeout", "200ms"]);
    let orders = OrderServiceClient::connect_lazy([system.url("orders")]).unwrap();
    let request = CreateOrderRequest {
        order: Some(Order {
            customer_id: "c_stream".into(),
            items: vec![LineItem {
                sku: "SKU-10042".into(),
                quantity: 1,
                unit_price_cents: 1,
            }],
            ..Default::default()
        }),
        idempotency_key: String::new(),
    };
    orders.create_order(&Context::new(), request).await.unwrap();
    // Follows every order of the customer: it stays open for its hour-long deadline, as the
    // customer may place more.
    let request = StreamOrderUpdatesRequest {
        customer_id: "c_stream".into(),
        ..Default::default()
    };
    let mut updates = orders
        .stream_order_updates(&Context::new(), request)
        .await
        .unwrap();
    let current = updates.next().await.unwrap().unwrap();
    assert_eq!(current.status, OrderStatus::Pending as i32);

    system.terminate();
    let status = system.exit().await;
    assert!(status.success(), "{status:?}; stderr:\n{}", system.stderr());
    match updates.next().await {
        Some(Err(_)) => {}
        other => panic!("the stream should fail once cut, got {other:?}"),
    }
    assert!(
        system
            .stderr()
            .contains("calls still open after 200ms: cut"),
        "{}",
        system.stderr()
    );
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_service_of_each_port() {
    let system = Logistics::all(&[]);
    let mut listed = BTreeSet::new();
    for (label, service) in SERVICES {
        let v1 = list_services_v1(&system, label).await;
        let v1alpha = list_services_v1alpha(&system, label).await;
        assert_eq!(v1, v1alpha, "{label}");
        let expected: BTreeSet<String> = [
            service,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(v1, expected, "{label}");
        listed.extend(v1);
    }
    for (_, service) in SERVICES {
        assert!(listed.contains(service), "{service}");
    }
}

async fn list_services_v1(system: &Logistics, label: &str) -> BTreeSet<String> {
    let mut client = ServerReflectionClient::new(system.channel(label));
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("not a service list: {other:?}"),
    }
}

async fn list_services_v1alpha(system: &Logistics, label: &str) -> BTreeSet<String> {
    use v1alpha::server_reflection_client::ServerReflectionClient;
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(system.channel(label));
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("not a service list: {other:?}"),
    }
}

#[tokio::test]
async fn reflection_describes_a_service_with_its_imports() {
    let system = Logistics::all(&[]);
    let mut client = ServerReflectionClient::new(system.channel("orders"));
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "orders.v1.OrderService".into(),
        )),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("not a file descriptor response");
    };
    use prost::Message;
    let names: Vec<String> = files
        .file_descriptor_proto
        .iter()
        .map(|file| {
            prost_types::FileDescriptorProto::decode(file.as_slice())
                .unwrap()
                .name()
                .to_owned()
        })
        .collect();
    assert!(
        names.iter().any(|name| name == "orders/v1/orders.proto"),
        "{names:?}"
    );
}

#[test]
fn a_port_in_use_fails_the_start_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for args in [
        vec!["inventory", "--listen", addr.as_str()],
        vec![
            "all",
            "--inventory-listen",
            "127.0.0.1:0",
            "--orders-listen",
            addr.as_str(),
            "--dispatch-listen",
            "127.0.0.1:0",
        ],
    ] {
        let output = run(&args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("cannot listen on {addr}: address already in use")),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "nothing announced: {args:?}");
    }
}
