//! The client's own HTTP/2 connection to an `http://` endpoint, against a raw HTTP/2 server
//! (the h2 crate) that counts connections and reads every request whole: one connection for the
//! calls made before it exists, a new one after the server closes it, `UNAVAILABLE` naming an
//! endpoint nobody listens on, a unary request's end in its message's frame, connection headers
//! dropped, a client stream
//! far past the flow-control windows delivered whole, and one the server does not read taken
//! from its sender only as far as the windows allow.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use rust_svc_runtime::{BoxStream, Code, Context};
use rust_svc_tests::tests::resilience::{Call, Flaky, FlakyClient, Reply};

/// What the raw server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    streams: AtomicUsize,
    /// Request body bytes, over every stream.
    bytes: AtomicUsize,
    /// Some request's first DATA frame did not end its stream, though the body was one frame.
    split_unary: AtomicBool,
}

/// Serves HTTP/2 on loopback: each stream's body read whole, then one `Reply` and `OK`. With
/// `streams_per_connection`, a connection is closed (GOAWAY, then the socket) once it has
/// answered that many.
async fn raw_server(streams_per_connection: Option<usize>) -> (SocketAddr, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counted = seen.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            counted.connections.fetch_add(1, Ordering::SeqCst);
            let seen = counted.clone();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                let mut answered = 0;
                while let Some(Ok((request, respond))) = connection.accept().await {
                    seen.streams.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(read_and_answer(request.into_body(), respond, seen.clone()));
                    answered += 1;
                    if streams_per_connection == Some(answered) {
                        connection.graceful_shutdown();
                        // Drive the shutdown: the answer goes out, then the connection closes.
                        while connection.accept().await.is_some() {}
                        break;
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn read_and_answer(
    mut body: h2::RecvStream,
    mut respond: h2::server::SendResponse<Bytes>,
    seen: Arc<Seen>,
) {
    let mut frames = 0;
    let mut total = 0;
    let mut first_left_open = false;
    while let Some(Ok(data)) = body.data().await {
        frames += 1;
        total += data.len();
        let _ = body.flow_control().release_capacity(data.len());
        if frames == 1 {
            first_left_open = !body.is_end_stream();
        } else if frames == 2 && first_left_open && data.is_empty() {
            // One message, then an empty frame to end the stream.
            seen.split_unary.store(true, Ordering::SeqCst);
        }
    }
    seen.bytes.fetch_add(total, Ordering::SeqCst);
    let reply = Reply {
        attempt: 1,
        tag: "raw".to_owned(),
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(reply.len() + 5);
    frame.put_u8(0);
    frame.put_u32(reply.len() as u32);
    frame.put_slice(&reply);
    let headers = Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let mut sent = respond.send_response(headers, false).unwrap();
    sent.send_data(frame.freeze(), false).unwrap();
    sent.send_trailers(trailers).unwrap();
}

fn client(addr: SocketAddr) -> FlakyClient {
    FlakyClient::connect_lazy([format!("http://{addr}")]).unwrap()
}

fn read() -> Call {
    Call {
        tag: "read".to_owned(),
    }
}

#[tokio::test]
async fn calls_made_before_the_connection_exists_share_one() {
    let (addr, seen) = raw_server(None).await;
    let client = client(addr);
    let calls = (0..16).map(|_| {
        let client = client.clone();
        async move { client.read(&Context::new(), read()).await }
    });
    for reply in futures_util::future::join_all(calls).await {
        assert_eq!(reply.unwrap().tag, "raw");
    }
    assert_eq!(seen.streams.load(Ordering::SeqCst), 16);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_made_again_by_the_next_call() {
    let (addr, seen) = raw_server(Some(1)).await;
    let client = client(addr);
    for call in 1..=3 {
        let reply = client.read(&Context::new(), read()).await;
        assert_eq!(reply.unwrap().tag, "raw", "call {call}");
        // Time for the server's GOAWAY and close to reach the client; a call racing them is
        // refused unprocessed and sent again on a new connection, with the same count.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen.streams.load(Ordering::SeqCst), 3);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_unavailable_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let status = client(addr)
        .read(&Context::new(), read())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("cannot connect to http://{addr}/")),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_unary_request_ends_with_its_message() {
    let (addr, seen) = raw_server(None).await;
    let client = client(addr);
    for _ in 0..8 {
        client.read(&Context::new(), read()).await.unwrap();
    }
    assert!(
        !seen.split_unary.load(Ordering::SeqCst),
        "a request's message and the end of its stream went out as two frames"
    );
}

#[tokio::test]
async fn connection_headers_in_the_metadata_are_not_sent() {
    // HTTP/2 carries no connection-specific headers (RFC 9113 §8.2.2): h2 refuses a request
    // with them, so the call would fail if they were not dropped.
    let (addr, seen) = raw_server(None).await;
    let mut ctx = Context::new();
    for (name, value) in [("connection", "keep-alive"), ("keep-alive", "timeout=5")] {
        ctx.outgoing_metadata_mut()
            .insert(name, value.parse().unwrap());
    }
    let reply = client(addr).read(&ctx, read()).await.unwrap();
    assert_eq!(reply.tag, "raw");
    assert_eq!(seen.streams.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_stream_far_past_the_flow_control_windows_arrives_whole() {
    let (addr, seen) = raw_server(None).await;
    // 48 messages of 64 KiB: 3 MiB against the server's 64 KiB stream window.
    let message = Call {
        tag: "x".repeat(64 * 1024),
    };
    let expected = 48 * (5 + message.encoded_len());
    let messages: BoxStream<Call> = Box::pin(futures_util::stream::iter(
        std::iter::repeat_n(message, 48).map(Ok),
    ));
    let reply = client(addr)
        .upload(&Context::new(), messages)
        .await
        .unwrap();
    assert_eq!(reply.tag, "raw");
    assert_eq!(seen.bytes.load(Ordering::SeqCst), expected);
}

#[tokio::test]
async fn a_client_stream_the_server_does_not_read_is_taken_only_as_far_as_the_windows() {
    // A server that takes the stream and never reads it: the windows stay shut at 64 KiB.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        let mut held = Vec::new();
        while let Some(Ok(stream)) = connection.accept().await {
            held.push(stream);
        }
    });
    // 1,000 messages of 16 KiB, every one ready at once: 16 MiB if it were all taken.
    let pulled = Arc::new(AtomicUsize::new(0));
    let counted = pulled.clone();
    let messages: BoxStream<Call> =
        Box::pin(futures_util::stream::iter((0..1000).map(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Call {
                tag: "y".repeat(16 * 1024),
            })
        })));
    let context = Context::new().with_timeout(std::time::Duration::from_millis(300));
    let status = client(addr).upload(&context, messages).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let taken = pulled.load(Ordering::SeqCst);
    assert!(
        taken < 100,
        "{taken} of 1,000 messages taken from a stream nobody read"
    );
}
