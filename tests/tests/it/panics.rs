//! A handler that panics ends only its own call, `INTERNAL` on every protocol (500 for REST and
//! Connect), on a production port (`Host`): the connection and the calls beside it go on, and
//! the generated client's breaker counts the failures (go-zero's TestGoogleBreakerPanic: a
//! panicking dependency must trip it).

use futures_util::StreamExt;
use rust_svc_runtime::call::recover::PANICKED;
use rust_svc_runtime::client::BreakerState;
use rust_svc_runtime::{Code, Context};
use rust_svc_tests::tests::gateway::{Echo as _, EchoClient, FailRequest, Inner, StreamRequest};
use serde_json::{Value, json};

use crate::gateway_common::{EchoDomain, PANIC, PANIC_CODE, serve_on_host};

fn panicking() -> FailRequest {
    FailRequest {
        message: PANIC.to_owned(),
        ..FailRequest::default()
    }
}

#[tokio::test]
async fn grpc_answers_internal_and_the_connection_serves_on() {
    let domain = EchoDomain::default();
    let (serving, _stop) = serve_on_host(&domain, |host| host).await;
    let client = EchoClient::connect_lazy([format!("http://{}", serving.addr)]).unwrap();
    // A stream open on the connection before the panic, read after it.
    let slow = StreamRequest {
        count: 3,
        interval_ms: 100,
        fail_with_code: 0,
    };
    let mut open = client.stream(&Context::new(), slow).await.unwrap();
    assert_eq!(open.next().await.unwrap().unwrap().count, 0);

    let status = client.fail(&Context::new(), panicking()).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Internal, PANICKED)
    );
    let rest: Vec<_> = open.map(|item| item.unwrap().count).collect().await;
    assert_eq!(rest, [1, 2], "the stream beside the panic went on");

    // A response stream that panics after its messages ends with INTERNAL.
    let breaking = StreamRequest {
        count: 2,
        interval_ms: 0,
        fail_with_code: PANIC_CODE,
    };
    let items: Vec<_> = client
        .stream(&Context::new(), breaking)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    let status = items[2].as_ref().unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Internal, PANICKED)
    );

    // A client-streaming handler that panics mid-stream.
    let messages = ["a", PANIC].map(|label| {
        Ok(Inner {
            label: label.to_owned(),
            count: 1,
            leaf: None,
        })
    });
    let status = client
        .sum(
            &Context::new(),
            Box::pin(futures_util::stream::iter(messages)),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);

    // The breaker counts INTERNAL: a dependency that keeps panicking trips it.
    for _ in 0..10 {
        let _ = client.fail(&Context::new(), panicking()).await;
    }
    assert_eq!(client.breaker_state("Fail"), Some(BreakerState::Open));
}

#[tokio::test]
async fn rest_connect_and_grpc_web_answer_internal_over_http1() {
    let domain = EchoDomain::default();
    let (serving, _stop) = serve_on_host(&domain, |host| host).await;
    let base = format!("http://{}", serving.addr);
    // One kept connection for every request below.
    let http1 = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();

    let response = http1
        .post(format!("{base}/v1/fail"))
        .json(&json!({"message": PANIC}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["code"].as_i64(), body["message"].as_str()),
        (Some(13), Some(PANICKED))
    );

    let response = http1
        .post(format!("{base}/tests.gateway.Echo/Fail"))
        .header("content-type", "application/json")
        .header("connect-protocol-version", "1")
        .json(&json!({"message": PANIC}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "internal");

    let request = prost::Message::encode_to_vec(&panicking());
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(request.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&request);
    let response = http1
        .post(format!("{base}/tests.gateway.Echo/Fail"))
        .header("content-type", "application/grpc-web+proto")
        .body(framed)
        .send()
        .await
        .unwrap();
    let in_headers = response.headers().get("grpc-status").cloned();
    let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    assert!(
        in_headers.as_ref().is_some_and(|code| code == "13") || text.contains("grpc-status:13"),
        "{in_headers:?} {text}"
    );

    // A REST stream that panics after its messages ends with an error chunk.
    let response = http1
        .get(format!(
            "{base}/v1/stream?count=1&failWithCode={PANIC_CODE}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[1]["error"]["code"], 13, "{text}");

    // The same connection still serves.
    let response = http1
        .post(format!("{base}/v1/fail"))
        .json(&json!({"code": 5, "message": "gone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
