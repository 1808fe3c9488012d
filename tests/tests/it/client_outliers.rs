//! Outlier detection (gRFC A50) in a generated client of three loopback servers, one of which
//! fails half its calls with UNAVAILABLE: it is ejected at the first evaluation after it has
//! enough calls, gets no calls while ejected, and comes back once the base ejection time has
//! passed; reads, which the retry policy allows, all succeed meanwhile. Counts, not clocks: the
//! test waits for what it expects (bounded generously) and counts the calls each server took.

use std::time::Duration;

use rust_svc_runtime::Code;
use rust_svc_runtime::client::{BreakerPolicy, FailurePercentage, OutlierDetection};
use rust_svc_runtime::harness::ServerHandle;
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient};

use crate::client_common::{Outcome, Scripted, call, ctx, loopback};

fn url(handle: &ServerHandle) -> String {
    format!("http://{}", handle.local_addr().expect("a loopback server"))
}

#[tokio::test]
async fn an_endpoint_failing_half_its_calls_is_ejected_then_let_back_in() {
    let servers = [
        Scripted::default(),
        Scripted::default(),
        Scripted::default(),
    ];
    // The third fails every other call, for as long as the test runs.
    servers[2].script((0..10_000).map(|n| {
        if n % 2 == 0 {
            Outcome::Fail(Code::Unavailable)
        } else {
            Outcome::Ok
        }
    }));
    let mut handles = Vec::new();
    for server in &servers {
        handles.push(loopback(server).await.1);
    }
    let base_ejection = Duration::from_secs(2);
    // The breakers off: on their own they would open on this endpoint too (50 % failures of
    // a few calls, as resilience.proto sets them), and the endpoint would get no calls for
    // their reason, not this one's.
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Disabled)
        .outlier_detection(
            OutlierDetection::new()
                .interval(Duration::from_millis(200))
                .base_ejection_time(base_ejection)
                .max_ejection_percent(50)
                .failure_percentage(
                    FailurePercentage::DEFAULT
                        .threshold(40)
                        .minimum_hosts(3)
                        .request_volume(10),
                ),
        )
        .connect_lazy(handles.iter().map(url))
        .unwrap();
    let read = |n: usize| {
        let client = client.clone();
        async move {
            client
                .read(&ctx(), call(&n.to_string()))
                .await
                .unwrap_or_else(|status| panic!("read {n}: {status:?}"))
        }
    };

    // Until it is ejected: 30 reads in a row that it takes none of (round robin would give it
    // ten).
    let mut n = 0;
    let ejected = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let before = servers[2].count();
            for _ in 0..30 {
                read(n).await;
                n += 1;
            }
            if servers[2].count() == before {
                return;
            }
        }
    })
    .await;
    assert!(
        ejected.is_ok(),
        "never ejected: {} calls",
        servers[2].count()
    );

    // Ejected: none of the next 30 reads reaches it.
    let before = servers[2].count();
    for _ in 0..30 {
        read(n).await;
        n += 1;
    }
    assert_eq!(servers[2].count(), before, "an ejected endpoint took calls");

    // After the base ejection time, an evaluation lets it back in.
    tokio::time::sleep(base_ejection).await;
    let back = tokio::time::timeout(Duration::from_secs(30), async {
        while servers[2].count() == before {
            read(n).await;
            n += 1;
        }
    })
    .await;
    assert!(back.is_ok(), "never let back in");
}
