//! Client-side health checking (gRFC A17): two loopback servers of the `Flaky` service, each
//! with tonic-health beside it; the client watches the service's health on each endpoint's
//! connection. One turned `NOT_SERVING` (as a draining pod does) gets no new calls, and gets
//! them again once `SERVING`; a server without the health service is called as if serving.
//! Counts, not clocks: each change is waited for by the calls it stops or lets through.

use std::time::Duration;

use rust_svc_runtime::harness::ServerHandle;
use rust_svc_tests::tests::resilience::{FLAKY, Flaky, FlakyClient, FlakyGrpc};
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::client_common::{Scripted, call, ctx, loopback};

/// `server` and a health service on one loopback port; its URL and its health reporter.
async fn with_health(server: &Scripted) -> (String, HealthReporter) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(FLAKY.name, ServingStatus::Serving)
        .await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(FlakyGrpc::new(server.clone()).into_service())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (url, reporter)
}

/// Calls until `server` takes none of 20 in a row (`takes: false`) or some (`takes: true`).
async fn until(client: &FlakyClient, server: &Scripted, takes: bool) {
    let reached = tokio::time::timeout(Duration::from_secs(30), async {
        let mut n = 0;
        loop {
            let before = server.count();
            for _ in 0..20 {
                client.read(&ctx(), call(&n.to_string())).await.unwrap();
                n += 1;
            }
            if (server.count() > before) == takes {
                return;
            }
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the server never {} calls",
        if takes { "took" } else { "stopped taking" }
    );
}

#[tokio::test]
async fn an_endpoint_not_serving_gets_no_calls_until_it_serves_again() {
    let (first, second) = (Scripted::default(), Scripted::default());
    let (first_url, _first_health) = with_health(&first).await;
    let (second_url, second_health) = with_health(&second).await;
    let client = FlakyClient::builder()
        .health_check(FLAKY.name)
        .connect_lazy([first_url, second_url])
        .unwrap();
    until(&client, &second, true).await;

    second_health
        .set_service_status(FLAKY.name, ServingStatus::NotServing)
        .await;
    until(&client, &second, false).await;
    let before = second.count();
    for n in 0..30 {
        client
            .read(&ctx(), call(&format!("down-{n}")))
            .await
            .unwrap();
    }
    assert_eq!(second.count(), before, "a server not serving took calls");

    second_health
        .set_service_status(FLAKY.name, ServingStatus::Serving)
        .await;
    until(&client, &second, true).await;
}

#[tokio::test]
async fn a_server_without_the_health_service_is_called_as_serving() {
    let server = Scripted::default();
    let (_channel, handle): (_, ServerHandle) = loopback(&server).await;
    let client = FlakyClient::builder()
        .health_check(FLAKY.name)
        .connect_lazy([format!("http://{}", handle.local_addr().unwrap())])
        .unwrap();
    for n in 0..10 {
        client.read(&ctx(), call(&n.to_string())).await.unwrap();
    }
    // Still called once the watch has been refused as UNIMPLEMENTED.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for n in 0..10 {
        client
            .read(&ctx(), call(&format!("later-{n}")))
            .await
            .unwrap();
    }
    assert_eq!(server.count(), 20);
}
