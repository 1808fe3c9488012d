//! The client writes its calls and reads their answers itself (runtime/src/client/send.rs
//! and response.rs). Every answer a raw HTTP/2 server scripts here, well-formed or broken,
//! must end as it ends through tonic's own client (`tonic::client::Grpc` on a tonic
//! `Channel`): the same status (code, message, metadata, details) or the same response, and
//! the same headers and trailers, but where the client deliberately reads an answer as gRPC's
//! other clients do, each such case saying why ([`Scripted::unlike_tonic`]).

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use rust_svc_runtime::{Code, Context, Status};
use rust_svc_tests::tests::resilience::{Flaky, FlakyClient, KeyedCall, Reply};

/// How the server answers: response headers, the body's chunks, trailers (`None`: the body
/// ends without them).
#[derive(Clone)]
struct Scripted {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    chunks: Vec<Bytes>,
    trailers: Option<Vec<(&'static str, &'static str)>>,
    /// Where the client ends the call unlike tonic's client: why, and the outcome's first line.
    unlike_tonic: Option<(&'static str, &'static str)>,
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
                unlike_tonic: None,
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
                unlike_tonic: None,
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
                unlike_tonic: None,
            },
        ),
        (
            "trailers-only OK",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-status", "0")],
                chunks: vec![],
                trailers: None,
                unlike_tonic: None,
            },
        ),
        (
            "a status in the headers and a body after them",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-status", "7")],
                chunks: one(),
                trailers: ok(),
                // grpc-go's reading: a status in the headers ends a call only when nothing
                // follows them, where tonic ends any call there.
                unlike_tonic: Some((
                    "a status in headers followed by a body is not trailers-only",
                    "ok Reply { attempt: 1, tag: \"raw\" }",
                )),
            },
        ),
        (
            "HTTP 503 without a gRPC status",
            Scripted {
                status: 503,
                headers: vec![("content-type", "text/plain")],
                chunks: vec![],
                trailers: None,
                unlike_tonic: None,
            },
        ),
        (
            "HTTP 502 with a body that is not gRPC",
            Scripted {
                status: 502,
                headers: vec![("content-type", "text/html")],
                chunks: vec![Bytes::from_static(b"<html>bad gateway</html>")],
                trailers: None,
                unlike_tonic: None,
            },
        ),
        (
            "HTTP 404 with trailers-only UNAVAILABLE",
            Scripted {
                status: 404,
                headers: vec![GRPC, ("grpc-status", "14")],
                chunks: vec![],
                trailers: None,
                unlike_tonic: None,
            },
        ),
        (
            "a reply and no trailers",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: one(),
                trailers: None,
                unlike_tonic: None,
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
                unlike_tonic: None,
            },
        ),
        (
            "no reply",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "two replies",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(false, &reply()), message(false, &reply())],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "a reply compressed with gzip, which the client does not accept",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-encoding", "gzip")],
                chunks: vec![message(true, &reply())],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "an encoding named `identity`",
            Scripted {
                status: 200,
                headers: vec![GRPC, ("grpc-encoding", "identity")],
                chunks: one(),
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "the compressed flag without an encoding",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(true, &reply())],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "a prefix announcing 64 MiB",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![Bytes::from_static(&[0, 4, 0, 0, 0, 1, 2, 3])],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "a message cut short",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![Bytes::from_static(&[0, 0, 0, 0, 10, 8, 1])],
                trailers: ok(),
                // tonic drops a partial message and reports the trailers' status.
                unlike_tonic: Some((
                    "a message cut short fails the call",
                    "Internal \"the response ended inside a message: its length prefix promised more\" [] {}",
                )),
            },
        ),
        (
            "bytes that are not protobuf",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![message(false, &[0xff, 0xff, 0xff])],
                trailers: ok(),
                unlike_tonic: None,
            },
        ),
        (
            "an unknown status code",
            Scripted {
                status: 200,
                headers: vec![GRPC],
                chunks: vec![],
                trailers: Some(vec![("grpc-status", "42"), ("grpc-message", "odd")]),
                unlike_tonic: None,
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
                        ..
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
    let ended = match client.write(&ctx, write()).await {
        Ok(reply) => format!("ok {reply:?}"),
        Err(status) => ended_with(&status),
    };
    let response = ctx.response();
    format!(
        "{ended}\nheaders {:?}\ntrailers {:?}",
        response.take_headers().into_headers(),
        response.take_trailers().into_headers()
    )
}

fn write() -> KeyedCall {
    KeyedCall {
        tag: "write".to_owned(),
        request_key: String::new(),
    }
}

fn ended_with(status: &Status) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        status.code(),
        status.message(),
        status.details(),
        status.metadata().clone().into_headers()
    )
}

const WRITE: &str = "/tests.resilience.Flaky/Write";

/// The same call through tonic's own client, read as the generated client reads an answer:
/// one message, its headers and its trailers (a failed call's metadata) without the
/// protocol's own entries; a missing or second message breaks the rpc's cardinality (`UNIMPLEMENTED`, as
/// grpc-go and connect-go say), and tonic's codes for an over-long message and an unknown
/// encoding are said as gRPC's other clients say them.
async fn through_tonic(addr: SocketAddr) -> String {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<KeyedCall, Reply>::default();
    let answer = grpc
        .server_streaming(
            tonic::Request::new(write()),
            PathAndQuery::from_static(WRITE),
            codec,
        )
        .await;
    let application = |map: HeaderMap| -> HeaderMap {
        map.into_iter()
            .filter_map(|(name, value)| Some((name?, value)))
            .filter(|(name, _)| {
                !name.as_str().starts_with("grpc-") && name.as_str() != "content-type"
            })
            .collect()
    };
    let mut headers = HeaderMap::new();
    let mut trailers = HeaderMap::new();
    let read = async {
        let mut stream = answer?;
        headers = application(stream.metadata().clone().into_headers());
        let stream = stream.get_mut();
        let reply = stream.message().await?.ok_or_else(|| {
            Status::unimplemented("the server ended the call without a response message")
        })?;
        if stream.message().await?.is_some() {
            return Err(Status::unimplemented(
                "the server answered a single-response call with more than one message",
            ));
        }
        if let Some(read) = stream.trailers().await? {
            trailers = application(read.into_headers());
        }
        Ok(reply)
    };
    let read = read.await;
    if let Err(status) = &read {
        // A failed call's metadata is what the caller reads as its trailers.
        trailers = application(status.metadata().clone().into_headers());
    }
    let ended = match read {
        Ok(reply) => format!("ok {reply:?}"),
        Err(status) if status.code() == Code::OutOfRange => ended_with(
            &Status::resource_exhausted(format!("{WRITE}: {}", status.message())),
        ),
        Err(status)
            if status.code() == Code::Unimplemented
                && status.message().starts_with("Content is compressed with") =>
        {
            ended_with(&Status::internal(format!(
                "{WRITE}: the response {}",
                status.message()
            )))
        }
        Err(status) => ended_with(&status),
    };
    format!("{ended}\nheaders {headers:?}\ntrailers {trailers:?}")
}

#[tokio::test]
async fn every_answer_ends_as_through_tonics_client() {
    let mut replies = 0;
    for (name, script) in cases() {
        let unlike_tonic = script.unlike_tonic;
        let addr = raw_server(script).await;
        let client = FlakyClient::connect_lazy([format!("http://{addr}")]).unwrap();
        let ours = outcome(&client).await;
        let tonics = through_tonic(addr).await;
        match unlike_tonic {
            None => assert_eq!(ours, tonics, "{name}"),
            Some((why, first_line)) => {
                assert_ne!(ours, tonics, "{name}: no longer unlike tonic ({why})");
                assert_eq!(ours.lines().next(), Some(first_line), "{name}: {why}");
            }
        }
        replies += usize::from(ours.starts_with("ok"));
    }
    // The cases answer some calls and fail the others.
    assert_eq!(replies, 4);
}

/// An endpoint URL with a path of its own (a gateway that routes by prefix): the path goes
/// before each rpc's, with or without its last `/`, as tonic's client put it; compressed
/// requests (tonic's path before, and the same path now) carry it too.
#[tokio::test]
async fn an_origin_path_is_put_before_the_rpc_path() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (paths, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let paths = paths.clone();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let _ = paths.send((
                        request.uri().path().to_owned(),
                        request.headers().get("grpc-encoding").cloned(),
                    ));
                    let response = Response::builder()
                        .header("content-type", "application/grpc")
                        .header("grpc-status", "12")
                        .body(())
                        .unwrap();
                    respond.send_response(response, true).unwrap();
                }
            });
        }
    });
    for (url, compressed) in [
        (format!("http://{addr}/edge/v2"), false),
        (format!("http://{addr}/edge/v2/"), false),
        (format!("http://{addr}/edge/v2"), true),
    ] {
        let mut builder = FlakyClient::builder();
        if compressed {
            builder = builder.send_compressed(rust_svc_runtime::CompressionEncoding::Gzip);
        }
        let client = builder.connect_lazy([url.clone()]).unwrap();
        let status = client.write(&Context::new(), write()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{url}");
        let (path, encoding) = seen.recv().await.unwrap();
        assert_eq!(path, format!("/edge/v2{WRITE}"), "{url}");
        assert_eq!(encoding.is_some(), compressed, "{url}");
    }
}
