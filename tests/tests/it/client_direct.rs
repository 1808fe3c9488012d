//! The client sends a call of one request message itself (runtime/src/client/direct.rs) where
//! it compresses nothing, and through tonic's client otherwise. Every answer a raw HTTP/2
//! server scripts here, well-formed or broken, must end the same way both ways: the same
//! status (code, message, metadata, details) or the same response, and the same headers and
//! trailers recorded in the caller's context. A client that compresses its requests takes
//! tonic's path; the server ignores what it is sent, so only the path differs.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use rust_svc_runtime::{CompressionEncoding, Context};
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient, KeyedCall, Reply};

/// How the server answers: response headers, the body's chunks, trailers (`None`: the body
/// ends without them).
#[derive(Clone)]
struct Scripted {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    chunks: Vec<Bytes>,
    trailers: Option<Vec<(&'static str, &'static str)>>,
}

fn message(compressed: bool, payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(payload.len() + 5);
    frame.put_u8(u8::from(compressed));
    frame.put_u32(payload.len() as u32);
    frame.put_slice(payload);
    frame.freeze()
}

fn reply() -> Vec<u8> {
    Reply {
        attempt: 1,
        tag: "raw".to_owned(),
    }
    .encode_to_vec()
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

/// Each case by name.
fn cases() -> Vec<(&'static str, Scripted)> {
    let ok = || Some(vec![("grpc-status", "0")]);
    let one = || vec![message(false, &reply())];
    vec![
        (
            "a reply",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("x-answer", "yes")],
                chunks: one(),
                trailers: Some(vec![("grpc-status", "0"), ("x-trailer", "t")]),
            },
        ),
        (
            "a reply in one-byte chunks",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: message(false, &reply())
                    .iter()
                    .map(|byte| Bytes::copy_from_slice(&[*byte]))
                    .collect(),
                trailers: ok(),
            },
        ),
        (
            "trailers-only NOT_FOUND with a message and metadata",
            Scripted {
                status: 200,
                headers: vec![
                    GRPC,
                    ("grpc-status", "5"),
                    ("grpc-message", "no%20such%20thing"),
                    ("x-why", "gone"),
                ],
                chunks: vec![],
                trailers: None,
            },
        ),
        (
            "trailers-only OK",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-status", "0")],
                chunks: vec![],
                trailers: None,
            },
        ),
        (
            "a status in the headers and a body after them",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-status", "7")],
                chunks: one(),
                trailers: ok(),
            },
        ),
        (
            "HTTP 503 without a gRPC status",
            Scripted {
                status: 503,
                headers: vec![("content-type", "text/plain")],
                chunks: vec![],
                trailers: None,
            },
        ),
        (
            "HTTP 502 with a body that is not gRPC",
            Scripted {
                status: 502,
                headers: vec![("content-type", "text/html")],
                chunks: vec![Bytes::from_static(b"<html>bad gateway</html>")],
                trailers: None,
            },
        ),
        (
            "HTTP 404 with trailers-only UNAVAILABLE",
            Scripted {
                status: 404,
                headers: vec![GRPC, ("grpc-status", "14")],
                chunks: vec![],
                trailers: None,
            },
        ),
        (
            "a reply and no trailers",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: one(),
                trailers: None,
            },
        ),
        (
            "a reply, then ABORTED with details",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: one(),
                trailers: Some(vec![
                    ("grpc-status", "10"),
                    ("grpc-message", "try%20again"),
                    ("grpc-status-details-bin", "CAoSCXRyeSBhZ2Fpbg"),
                ]),
            },
        ),
        (
            "no reply",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![],
                trailers: ok(),
            },
        ),
        (
            "two replies",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(false, &reply()), message(false, &reply())],
                trailers: ok(),
            },
        ),
        (
            "a reply compressed with gzip, which the client does not accept",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-encoding", "gzip")],
                chunks: vec![message(true, &reply())],
                trailers: ok(),
            },
        ),
        (
            "an encoding named `identity`",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-encoding", "identity")],
                chunks: one(),
                trailers: ok(),
            },
        ),
        (
            "the compressed flag without an encoding",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(true, &reply())],
                trailers: ok(),
            },
        ),
        (
            "a prefix announcing 64 MiB",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![Bytes::from_static(&[0, 4, 0, 0, 0, 1, 2, 3])],
                trailers: ok(),
            },
        ),
        (
            "a message cut short",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![Bytes::from_static(&[0, 0, 0, 0, 10, 8, 1])],
                trailers: ok(),
            },
        ),
        (
            "bytes that are not protobuf",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(false, &[0xff, 0xff, 0xff])],
                trailers: ok(),
            },
        ),
        (
            "an unknown status code",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![],
                trailers: Some(vec![("grpc-status", "42"), ("grpc-message", "odd")]),
            },
        ),
    ]
}

/// Serves HTTP/2 on loopback, answering every stream with `script`.
async fn raw_server(script: Scripted) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let script = script.clone();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    let Scripted {
                        status,
                        headers,
                        chunks,
                        trailers,
                    } = script.clone();
                    let mut response = Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    let response = response.body(()).unwrap();
                    let only_headers = chunks.is_empty() && trailers.is_none();
                    let mut body = respond.send_response(response, only_headers).unwrap();
                    let last = chunks.len();
                    for (i, chunk) in chunks.into_iter().enumerate() {
                        let end = i + 1 == last && trailers.is_none();
                        body.send_data(chunk, end).unwrap();
                    }
                    if let Some(trailers) = trailers {
                        let mut map = HeaderMap::new();
                        for (name, value) in trailers {
                            map.append(name, HeaderValue::from_static(value));
                        }
                        body.send_trailers(map).unwrap();
                    }
                }
            });
        }
    });
    addr
}

/// How a call ended, everything the caller can see of it, as text to compare.
async fn outcome(client: &FlakyClient) -> String {
    let ctx = Context::new();
    let write = KeyedCall {
        tag: "write".to_owned(),
        request_key: String::new(),
    };
    let ended = match client.write(&ctx, write).await {
        Ok(reply) => format!("ok {reply:?}"),
        Err(status) => format!(
            "{:?} {:?} {:?} {:?}",
            status.code(),
            status.message(),
            status.details(),
            status.metadata().clone().into_headers()
        ),
    };
    let response = ctx.response();
    format!(
        "{ended}\nheaders {:?}\ntrailers {:?}",
        response.take_headers().into_headers(),
        response.take_trailers().into_headers()
    )
}

#[tokio::test]
async fn every_answer_ends_the_same_as_through_tonics_client() {
    let mut replies = 0;
    for (name, script) in cases() {
        let addr = raw_server(script).await;
        let direct = FlakyClient::connect_lazy([format!("http://{addr}")]).unwrap();
        let through_tonic = FlakyClient::builder()
            .send_compressed(CompressionEncoding::Gzip)
            .connect_lazy([format!("http://{addr}")])
            .unwrap();
        let direct = outcome(&direct).await;
        let tonic = outcome(&through_tonic).await;
        assert_eq!(direct, tonic, "{name}");
        replies += usize::from(direct.starts_with("ok"));
    }
    // The cases answer some calls and fail the others.
    assert_eq!(replies, 4);
}
