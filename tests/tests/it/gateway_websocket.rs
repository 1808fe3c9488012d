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
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use rust_svc_runtime::fake::{Script, StreamEnd};
use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::gateway::cors::Cors;
use rust_svc_runtime::{Code, Context};
use rust_svc_tests::tests::gateway::Echo as _;
use rust_svc_tests::tests::gateway::{EchoClient, EchoGateway, FakeEcho, Leaf, Total};

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
    let gateway = configure(Gateway::builder().service(EchoGateway::routes(domain.clone())));
    let addr = serve_gateway(gateway).await;
    (format!("ws://{addr}"), domain)
}

/// The gateway `builder` builds, alone on `axum::serve`; its `host:port`.
async fn serve_gateway(builder: rust_svc_runtime::gateway::GatewayBuilder) -> String {
    let router = builder.build().unwrap().into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr.to_string()
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
    // A client stream, and a bidi stream failing at its first frame (its error is the
    // stream's `{"error": …}` line then, read as the status it is).
    for path in ["/v1/sum", "/v1/chat"] {
        let (frames, close) = after_a_bad_first_frame(&format!("{url}{path}")).await;
        assert!(frames.is_empty(), "{path}: {frames:?}");
        let (code, reason) = close.unwrap();
        assert_eq!(code, 4003, "{path}: INVALID_ARGUMENT: {reason}");
        assert!(reason.contains("count"), "{path}: {reason}");
    }
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

/// The fake's gateway alone on `axum::serve` with `cors`; its `host:port`.
async fn serve_fake_ws(fake: &FakeEcho, cors: Cors) -> String {
    serve_gateway(
        Gateway::builder()
            .service(EchoGateway::routes(fake.clone()))
            .cors(cors),
    )
    .await
}

/// How the fake's first `sum` call's requests ended, once they have (waited for, as the
/// gateway learns of a client gone only when it reads the socket).
async fn sum_end(fake: &FakeEcho) -> StreamEnd {
    for _ in 0..500 {
        if let Some(call) = fake.sum.calls().first()
            && !matches!(call.end(), StreamEnd::Open)
        {
            return call.end().clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the call's requests never ended");
}

/// A `sum` call over a socket that sends one message, then `leave`s; the fake's recorded call.
async fn sum_left<F, Fut>(leave: F) -> (StreamEnd, usize)
where
    F: FnOnce(WsStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fake = FakeEcho::new();
    fake.sum.returns(Total::default());
    let addr = serve_fake_ws(&fake, Cors::new()).await;
    let (mut socket, _) = connect_async(format!("ws://{addr}/v1/sum")).await.unwrap();
    socket
        .send(Message::text(json!({"count": 5}).to_string()))
        .await
        .unwrap();
    leave(socket).await;
    let end = sum_end(&fake).await;
    (end, fake.sum.calls()[0].requests().len())
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test]
async fn a_client_that_closes_or_goes_away_mid_stream_cancels_the_call() {
    let cancelled = |end: &StreamEnd| matches!(end, StreamEnd::Failed(status) if status.code() == Code::Cancelled);
    // A close frame before the empty one: the call is cancelled, not run on what arrived,
    // and the close is answered (RFC 6455, 5.5.1).
    let (end, requests) = sum_left(|mut socket| async move {
        socket.send(Message::Close(None)).await.unwrap();
        let answer = socket.next().await;
        assert!(matches!(answer, Some(Ok(Message::Close(_)))), "{answer:?}");
    })
    .await;
    assert!(cancelled(&end), "{end:?}");
    assert_eq!(requests, 1);
    // A connection dropped without a close frame.
    let (end, _) = sum_left(|socket| async move { drop(socket) }).await;
    assert!(cancelled(&end), "{end:?}");
}

#[tokio::test]
async fn each_frame_is_one_message_never_part_of_one_or_several() {
    let (url, _domain) = serve_ws().await;
    for frame in [r#"{"label": "a""#, r#"{"label": "b"}{"label": "c"}"#, "  "] {
        let (mut socket, _) = connect_async(format!("{url}/v1/chat")).await.unwrap();
        socket
            .send(Message::text(json!({"label": "first"}).to_string()))
            .await
            .unwrap();
        socket.send(Message::text(frame)).await.unwrap();
        let (frames, close) = rest_of(&mut socket).await;
        assert_eq!(frames, [json!({"label": "echo: first"})], "{frame}");
        let (code, reason) = close.unwrap();
        assert_eq!(code, 4003, "{frame}: {reason}");
        assert!(reason.starts_with("WebSocket frame 2: "), "{reason}");
    }
}

#[tokio::test]
async fn a_page_of_another_origin_may_not_open_a_stream_unless_cors_allows_it() {
    let fake = FakeEcho::new();
    fake.chat.streams(Script::empty());
    let addr = serve_fake_ws(&fake, Cors::new().allow_origins(["https://app.example"])).await;
    let upgrade = |origin: Option<String>| {
        let mut request = format!("ws://{addr}/v1/chat")
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        connect_async(request)
    };
    // Another page's: refused before the upgrade, as a browser cannot be trusted to.
    match upgrade(Some("https://evil.example".to_owned())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("{:?}", other.map(|(_, response)| response)),
    }
    // Not from a browser, from the server's own origin, or from an origin CORS allows.
    for origin in [
        None,
        Some(format!("http://{addr}")),
        Some("https://app.example".to_owned()),
    ] {
        let (_, response) = upgrade(origin.clone())
            .await
            .unwrap_or_else(|error| panic!("{origin:?}: {error}"));
        assert_eq!(response.status(), 101, "{origin:?}");
    }
}

#[tokio::test]
async fn an_unsupported_websocket_version_gets_426_naming_13() {
    let (url, _domain) = serve_ws().await;
    let url = url.replacen("ws://", "http://", 1);
    let response = reqwest::Client::new()
        .get(format!("{url}/v1/chat"))
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
}
