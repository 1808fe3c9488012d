//! Client- and bidi-streaming rpcs over WebSocket, with a real client (tokio-tungstenite): a
//! `GET` upgrade on the rule's template, one JSON message per text frame each way, the close
//! code carrying the status (1000 for OK, 4000 + the gRPC code for an error), an empty frame
//! ending the requests. The gateway is served by `axum::serve`, and once on a `host` port beside
//! the service's gRPC, as the example system and scaffolded servers serve it: both hand a
//! connection over on upgrade (tonic's server, under the harness, does not).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use rust_svc_runtime::Context;
use rust_svc_runtime::gateway::Gateway;
use rust_svc_tests::tests::gateway::Echo as _;
use rust_svc_tests::tests::gateway::{EchoClient, EchoGateway, Leaf};

use crate::gateway_common::{EchoDomain, serve_on_host};

/// The echo domain's gateway alone on `axum::serve`; its `ws://` base URL.
async fn serve_ws() -> (String, EchoDomain) {
    serve_ws_with(|builder| builder).await
}

/// [`serve_ws`] of the gateway `configure` makes of its builder.
async fn serve_ws_with(
    configure: impl FnOnce(
        rust_svc_runtime::gateway::GatewayBuilder,
    ) -> rust_svc_runtime::gateway::GatewayBuilder,
) -> (String, EchoDomain) {
    let domain = EchoDomain::default();
    let router = configure(Gateway::builder().service(EchoGateway::routes(domain.clone())))
        .build()
        .unwrap()
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("ws://{addr}"), domain)
}

/// The frames and the close of a socket to `url` that sends a frame its rpc cannot read (a
/// count of `"many"`) as its first.
async fn after_a_bad_first_frame(url: &str) -> (Vec<Value>, Option<(u16, String)>) {
    let (mut socket, _) = connect_async(url).await.unwrap();
    socket
        .send(Message::text(r#"{"count": "many"}"#))
        .await
        .unwrap();
    socket.send(Message::text("")).await.unwrap();
    rest_of(&mut socket).await
}

/// The frames a socket receives until it closes, and its close code and reason.
async fn rest_of<S>(socket: &mut S) -> (Vec<Value>, Option<(u16, String)>)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut frames = Vec::new();
    while let Some(message) = socket.next().await {
        match message.unwrap() {
            Message::Text(text) => frames.push(serde_json::from_str(text.as_str()).unwrap()),
            Message::Close(frame) => {
                let close = frame.map(|frame| (u16::from(frame.code), frame.reason.to_string()));
                return (frames, close);
            }
            _ => {}
        }
    }
    (frames, None)
}

#[tokio::test]
async fn a_bidi_stream_answers_frame_by_frame_and_closes_normally() {
    let (url, domain) = serve_ws().await;
    let (socket, response) = connect_async(format!("{url}/v1/chat")).await.unwrap();
    assert_eq!(response.status(), 101);
    let (mut sink, mut stream) = socket.split();
    sink.send(Message::text(json!({"label": "one"}).to_string()))
        .await
        .unwrap();
    // The answer comes before the client is done: a real bidi stream.
    let first = stream.next().await.unwrap().unwrap();
    let first: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(first["label"], "echo: one");
    sink.send(Message::text(
        json!({"label": "two", "count": 2}).to_string(),
    ))
    .await
    .unwrap();
    sink.send(Message::text("")).await.unwrap();
    let (frames, close) = rest_of(&mut stream).await;
    assert_eq!(frames, [json!({"label": "echo: two", "count": 2})]);
    assert_eq!(close.map(|(code, _)| code), Some(1000));
    domain.last("chat");
}

#[tokio::test]
async fn a_client_stream_answers_once_when_the_client_is_done() {
    let (url, _domain) = serve_ws().await;
    let (mut socket, _) = connect_async(format!("{url}/v1/sum")).await.unwrap();
    for count in [1, 2, 3] {
        socket
            .send(Message::text(json!({"count": count}).to_string()))
            .await
            .unwrap();
    }
    socket.send(Message::text("")).await.unwrap();
    let (frames, close) = rest_of(&mut socket).await;
    assert_eq!(frames, [json!({"sum": 6, "messages": 3})]);
    assert_eq!(close.map(|(code, _)| code), Some(1000));
}

#[tokio::test]
async fn a_bad_frame_closes_with_4000_plus_the_code_and_the_message() {
    let (url, _domain) = serve_ws().await;
    let (frames, close) = after_a_bad_first_frame(&format!("{url}/v1/sum")).await;
    assert!(frames.is_empty(), "{frames:?}");
    let (code, reason) = close.unwrap();
    assert_eq!(code, 4003, "INVALID_ARGUMENT: {reason}");
    assert!(reason.contains("count"), "{reason}");
    // The gateway goes on serving.
    let (mut again, _) = connect_async(format!("{url}/v1/sum")).await.unwrap();
    again.send(Message::text("")).await.unwrap();
    let (frames, _) = rest_of(&mut again).await;
    assert_eq!(frames, [json!({})]);
}

#[tokio::test]
async fn only_streaming_routes_upgrade() {
    let (url, _domain) = serve_ws().await;
    // A unary route: no upgrade, the route's own answer to a GET.
    let refused = connect_async(format!("{url}/v1/fail")).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn a_host_port_upgrades_beside_grpc() {
    let domain = EchoDomain::default();
    let (serving, stop) = serve_on_host(&domain, |host| host).await;
    let addr = serving.addr;

    let (socket, response) = connect_async(format!("ws://{addr}/v1/chat")).await.unwrap();
    assert_eq!(response.status(), 101);
    let (mut sink, mut stream) = socket.split();
    sink.send(Message::text(json!({"label": "one"}).to_string()))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    let first: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(first["label"], "echo: one");
    sink.send(Message::text("")).await.unwrap();
    let (frames, close) = rest_of(&mut stream).await;
    assert_eq!(frames, Vec::<Value>::new());
    assert_eq!(close.map(|(code, _)| code), Some(1000));
    domain.last("chat");

    // gRPC on the same port, over HTTP/2: the rpc without an HTTP rule is served there only.
    let client = EchoClient::connect_lazy([format!("http://{addr}").as_str()]).unwrap();
    let leaf = client
        .grpc_only(
            &Context::new(),
            Leaf {
                note: "over grpc".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(leaf.note, "over grpc");
    // The port stops: the upgraded socket is closed, the connections drain, serving ends.
    stop.now();
    serving.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_bidi_stream_failing_at_its_first_frame_closes_with_its_status() {
    let (url, _domain) = serve_ws().await;
    let (frames, close) = after_a_bad_first_frame(&format!("{url}/v1/chat")).await;
    assert!(frames.is_empty(), "{frames:?}");
    let (code, reason) = close.unwrap();
    assert_eq!(code, 4003, "INVALID_ARGUMENT: {reason}");
    assert!(reason.contains("count"), "{reason}");
}

#[tokio::test]
async fn a_stream_error_handler_gives_a_bidi_streams_close_its_status() {
    let (url, _domain) = serve_ws_with(|builder| {
        builder.stream_error_handler(|status| {
            rust_svc_runtime::Status::internal(format!("masked {}", status.code() as i32))
        })
    })
    .await;
    let (frames, close) = after_a_bad_first_frame(&format!("{url}/v1/chat")).await;
    assert!(frames.is_empty(), "{frames:?}");
    // INTERNAL (4013), the handler's, where the bad frame's INVALID_ARGUMENT would be.
    assert_eq!(close, Some((4013, "masked 3".to_owned())));
}
