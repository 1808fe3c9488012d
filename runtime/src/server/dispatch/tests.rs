//! The dispatch serves every call through `messages`; these tests serve the same calls through
//! tonic's own `server::Grpc` (with the same domain, deadline handling and cardinality rules)
//! and compare what comes back, header for header and byte for byte, on every shape.

use std::future::Future;
use std::task::{Context as TaskContext, Poll};

use super::*;
use crate::call::codec::MessageCodec;
use crate::rpc::WireSettings;
use crate::server::accept_streaming;
use crate::server::messages::WireConfig;
use crate::{BoxFuture, CompressionEncoding};

#[test]
fn an_unknown_method_is_named_as_grpc_go_names_it() {
    let status = unknown_method("/inventory.v1.InventoryService/Restock");
    assert_eq!(status.code(), crate::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "unknown method Restock for service inventory.v1.InventoryService"
    );
    assert_eq!(
        unknown_method("nonsense").message(),
        "unknown method nonsense for service "
    );
}

/// The domain of the tests: echoes, fails on `fail` (with a header and a trailer set), answers
/// `big` with more than the tests' write limit.
struct Echo;

impl Echo {
    async fn echo(&self, ctx: &Context, request: String) -> Result<String, Status> {
        match request.as_str() {
            "fail" => {
                ctx.response()
                    .headers()
                    .insert("x-set", "by handler".parse().unwrap());
                let mut status = Status::failed_precondition("no, because ünicode");
                status
                    .metadata_mut()
                    .insert("x-why", "because".parse().unwrap());
                Err(status)
            }
            "big" => Ok("b".repeat(64)),
            _ => {
                ctx.response()
                    .trailers()
                    .insert("x-after", "done".parse().unwrap());
                Ok(format!("echo: {request}"))
            }
        }
    }

    /// Each word of the request, then a failure if one of them is `fail`.
    async fn words(&self, _ctx: &Context, request: String) -> Result<BoxStream<String>, Status> {
        if request == "refuse" {
            return Err(Status::permission_denied("refused before any message"));
        }
        let words = request
            .split(' ')
            .map(|word| match word {
                "fail" => Err(Status::aborted("failed mid-stream")),
                "big" => Ok("b".repeat(64)),
                word => Ok(word.to_owned()),
            })
            .collect::<Vec<_>>();
        Ok(Box::pin(futures_util::stream::iter(words)))
    }

    /// The requests joined, or the first error among them.
    async fn join(&self, _ctx: &Context, requests: BoxStream<String>) -> Result<String, Status> {
        use futures_util::TryStreamExt;
        let words: Vec<String> = requests.try_collect().await?;
        Ok(words.join("+"))
    }

    /// Each request echoed as it comes, errors included.
    async fn each(
        &self,
        _ctx: &Context,
        requests: BoxStream<String>,
    ) -> Result<BoxStream<String>, Status> {
        use futures_util::StreamExt;
        Ok(Box::pin(
            requests.map(|request| request.map(|word| format!("<{word}>"))),
        ))
    }
}

/// One message in a gRPC envelope with these flags.
fn envelope(flags: u8, message: &[u8]) -> Vec<u8> {
    let mut framed = vec![flags];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

fn string(text: &str) -> Vec<u8> {
    prost::Message::encode_to_vec(&text.to_owned())
}

fn gzip(message: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    crate::call::compression::compress(CompressionEncoding::Gzip, message, &mut out).unwrap();
    out.to_vec()
}

/// What comes back of a call: its HTTP status, version, headers, body and trailers.
type Outcome = (
    http::StatusCode,
    http::Version,
    http::HeaderMap,
    bytes::Bytes,
    Option<http::HeaderMap>,
);

async fn outcome(response: http::Response<tonic::body::Body>) -> Outcome {
    use http_body_util::BodyExt;
    let (parts, mut body) = response.into_parts();
    // Read as hyper sends it: the trailers end the body (tonic's own encoder would go on
    // reading its source if polled past them).
    let mut data = bytes::BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        match frame.expect("the body ends").into_data() {
            Ok(bytes) => data.extend_from_slice(&bytes),
            Err(frame) => {
                trailers = frame.into_trailers().ok();
                break;
            }
        }
    }
    (
        parts.status,
        parts.version,
        parts.headers,
        data.freeze(),
        trailers,
    )
}

/// The four shapes of the tests' rpcs.
#[derive(Debug, Clone, Copy)]
enum Rpc {
    Echo,
    Words,
    Join,
    Each,
}

/// A request of `chunks` (a body of that many frames) with `headers`, in `format`.
fn request(
    chunks: &[Vec<u8>],
    headers: &[(&'static str, &str)],
    format: Format,
) -> http::Request<axum::body::Body> {
    let frames = chunks
        .iter()
        .map(|chunk| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk.clone())))
        .collect::<Vec<_>>();
    let body = axum::body::Body::from_stream(futures_util::stream::iter(frames));
    let mut request = http::Request::post("/test.Echo/Call")
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    request.extensions_mut().insert(format);
    request
}

/// A domain method as tonic's `server::Grpc` calls it.
struct Tonic<F>(F);

impl<F, Fut, R> tower_service::Service<tonic::Request<tonic::Streaming<String>>> for Tonic<F>
where
    F: FnMut(tonic::Request<tonic::Streaming<String>>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>> + Send + 'static,
{
    type Response = tonic::Response<R>;
    type Error = Status;
    type Future = BoxFuture<'static, Result<tonic::Response<R>, Status>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<tonic::Streaming<String>>) -> Self::Future {
        Box::pin((self.0)(request))
    }
}

/// The one message of a request read through tonic, with the dispatch's cardinality rules.
async fn one_message(
    request: tonic::Request<tonic::Streaming<String>>,
) -> Result<(Context, String), Status> {
    let (ctx, mut messages) = accept(request)?;
    let Some(message) = messages.message().await? else {
        return Err(messages::no_message());
    };
    if messages.message().await?.is_some() {
        return Err(messages::second_message());
    }
    Ok((ctx, message))
}

/// The call served by tonic's `server::Grpc` with the same settings.
async fn through_tonic(
    rpc: Rpc,
    request: http::Request<axum::body::Body>,
    settings: &WireSettings,
) -> http::Response<tonic::body::Body> {
    let enabled = |list: &[CompressionEncoding]| {
        let mut enabled = tonic::codec::EnabledCompressionEncodings::default();
        for encoding in list {
            enabled.enable(*encoding);
        }
        enabled
    };
    let format = request.extensions().get::<Format>().copied().unwrap();
    let mut grpc = tonic::server::Grpc::new(MessageCodec::<String, String, WithJson>::new(format))
        .apply_compression_config(
            enabled(&settings.accept_compressed),
            enabled(&settings.send_compressed),
        )
        .apply_max_message_size_config(
            Some(settings.max_decoding_message_size),
            Some(settings.max_encoding_message_size),
        );
    let domain = Arc::new(Echo);
    match rpc {
        Rpc::Echo => {
            let handler = Tonic(move |request| {
                let domain = Arc::clone(&domain);
                async move {
                    let accepted = one_message(request).await;
                    run(domain, accepted, Echo::echo, |_, out| out).await
                }
            });
            grpc.client_streaming(handler, request).await
        }
        Rpc::Words => {
            let handler = Tonic(move |request| {
                let domain = Arc::clone(&domain);
                async move {
                    let accepted = one_message(request).await;
                    run(domain, accepted, Echo::words, stream_within_deadline).await
                }
            });
            grpc.streaming(handler, request).await
        }
        Rpc::Join => {
            let handler = Tonic(move |request| {
                run(
                    Arc::clone(&domain),
                    accept_streaming(request),
                    Echo::join,
                    |_, out| out,
                )
            });
            grpc.client_streaming(handler, request).await
        }
        Rpc::Each => {
            let handler = Tonic(move |request| {
                run(
                    Arc::clone(&domain),
                    accept_streaming(request),
                    Echo::each,
                    stream_within_deadline,
                )
            });
            grpc.streaming(handler, request).await
        }
    }
}

/// The call served by the dispatch.
async fn dispatched(
    rpc: Rpc,
    request: http::Request<axum::body::Body>,
    settings: &WireSettings,
) -> http::Response<tonic::body::Body> {
    let call = GrpcCall::new(request, WireConfig::new(settings)).json();
    let domain = Arc::new(Echo);
    match rpc {
        Rpc::Echo => call.unary(&domain, Echo::echo).await,
        Rpc::Words => call.server_streaming(&domain, Echo::words).await,
        Rpc::Join => call.client_streaming(&domain, Echo::join).await,
        Rpc::Each => call.bidi_streaming(&domain, Echo::each).await,
    }
}

/// Limits of 32 bytes both ways; compression as `send` and `accept` say.
fn settings(accept: &[CompressionEncoding], send: &[CompressionEncoding]) -> WireSettings {
    WireSettings {
        max_decoding_message_size: 32,
        max_encoding_message_size: 32,
        accept_compressed: accept.to_vec(),
        send_compressed: send.to_vec(),
    }
}

/// The call served both ways: (the dispatch's outcome, tonic's).
async fn both(
    rpc: Rpc,
    chunks: &[Vec<u8>],
    headers: &[(&'static str, &str)],
    format: Format,
    settings: &WireSettings,
) -> (Outcome, Outcome) {
    let ours = outcome(dispatched(rpc, request(chunks, headers, format), settings).await).await;
    let tonic = outcome(through_tonic(rpc, request(chunks, headers, format), settings).await).await;
    (ours, tonic)
}

/// Bodies every shape is served, with what each is about.
fn bodies() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    vec![
        ("a message", vec![envelope(0, &string("hi"))]),
        ("an empty message", vec![envelope(0, b"")]),
        ("the handler's error", vec![envelope(0, &string("fail"))]),
        ("no message", vec![]),
        ("an empty body frame", vec![vec![]]),
        (
            "two messages",
            vec![[envelope(0, &string("a")), envelope(0, &string("b"))].concat()],
        ),
        (
            "two messages in two frames",
            vec![envelope(0, &string("a")), envelope(0, &string("b c"))],
        ),
        (
            "a message over frames, byte by byte",
            envelope(0, &string("split"))
                .into_iter()
                .map(|byte| vec![byte])
                .collect(),
        ),
        ("a body that ends in the prefix", vec![vec![0, 0, 0]]),
        (
            "a body that ends in the message",
            vec![envelope(0, &string("cut"))[..7].to_vec()],
        ),
        (
            "a second message cut short",
            vec![[envelope(0, &string("a")), vec![0, 0, 0, 0, 9, 1]].concat()],
        ),
        ("a compressed flag", vec![envelope(1, &string("hi"))]),
        ("an unknown flag", vec![envelope(2, &string("hi"))]),
        (
            "an unknown flag after a message",
            vec![envelope(0, &string("a")), envelope(2, &string("hi"))],
        ),
        ("a message over the read limit", vec![envelope(0, &[0; 33])]),
        (
            "a prefix announcing too much",
            vec![vec![0, 255, 255, 255, 255]],
        ),
        ("not protobuf", vec![envelope(0, &[0x0a, 0x02, 0xff, 0xfe])]),
        (
            "a stream that fails after a message",
            vec![envelope(0, &string("one fail two"))],
        ),
        (
            "a refusal before any message",
            vec![envelope(0, &string("refuse"))],
        ),
    ]
}

const SHAPES: [Rpc; 4] = [Rpc::Echo, Rpc::Words, Rpc::Join, Rpc::Each];

#[tokio::test]
async fn every_shape_is_answered_as_tonic_answers_it() {
    let settings = settings(&[], &[]);
    for rpc in SHAPES {
        for (case, chunks) in bodies() {
            let (ours, tonic) = both(rpc, &chunks, &[], Format::Proto, &settings).await;
            assert_eq!(ours, tonic, "{rpc:?}: {case}");
        }
    }
    let (ours, _) = both(
        Rpc::Echo,
        &[envelope(0, &string("hi"))],
        &[],
        Format::Proto,
        &settings,
    )
    .await;
    assert_eq!(ours.3, envelope(0, &string("echo: hi")));
    assert_eq!(ours.4.unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn compressed_calls_are_answered_as_tonic_answers_them() {
    let gzip_both = settings(&[CompressionEncoding::Gzip], &[CompressionEncoding::Gzip]);
    let zstd_both = settings(&[CompressionEncoding::Zstd], &[CompressionEncoding::Zstd]);
    let long = "many words ".repeat(3);
    let compressed_bodies = vec![
        ("a gzip message", vec![envelope(1, &gzip(&string("hi")))]),
        (
            "a gzip message and a plain one",
            vec![envelope(1, &gzip(&string("a"))), envelope(0, &string("b"))],
        ),
        (
            "a message over the limit once decompressed",
            vec![envelope(1, &gzip(&string(&"z".repeat(40))))],
        ),
        ("not gzip", vec![envelope(1, b"plain bytes")]),
        ("a long answer", vec![envelope(0, &string(long.trim()))]),
    ];
    let header_sets: [&[(&'static str, &str)]; 5] = [
        &[("grpc-encoding", "gzip")],
        &[("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip")],
        &[("grpc-accept-encoding", "zstd, gzip")],
        &[("grpc-encoding", "snappy")],
        &[
            ("grpc-encoding", "identity"),
            ("grpc-accept-encoding", "deflate"),
        ],
    ];
    for settings in [&gzip_both, &zstd_both, &settings(&[], &[])] {
        for rpc in SHAPES {
            for (case, chunks) in &compressed_bodies {
                for headers in header_sets {
                    let (ours, tonic) = both(rpc, chunks, headers, Format::Proto, settings).await;
                    assert_eq!(ours, tonic, "{rpc:?}: {case} with {headers:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn json_calls_are_answered_as_tonic_answers_them() {
    let settings = settings(&[CompressionEncoding::Gzip], &[CompressionEncoding::Gzip]);
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("a message", vec![envelope(0, br#""hi""#)]),
        ("words", vec![envelope(0, br#""one two""#)]),
        ("not JSON", vec![envelope(0, b"{")]),
        ("an empty message", vec![envelope(0, b"")]),
        ("gzip", vec![envelope(1, &gzip(br#""zipped""#))]),
    ];
    for rpc in SHAPES {
        for (case, chunks) in &cases {
            for headers in [
                &[][..],
                &[("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip")],
            ] {
                let (ours, tonic) = both(rpc, chunks, headers, Format::Json, &settings).await;
                assert_eq!(ours, tonic, "{rpc:?}: {case} with {headers:?}");
            }
        }
    }
}

#[tokio::test]
async fn an_answer_over_the_limit_is_the_status_alone() {
    let settings = settings(&[], &[]);
    for (rpc, words) in [
        (Rpc::Echo, "big"),
        (Rpc::Words, "big"),
        (Rpc::Words, "a big c"),
    ] {
        let (ours, tonic) = both(
            rpc,
            &[envelope(0, &string(words))],
            &[],
            Format::Proto,
            &settings,
        )
        .await;
        // tonic sends the bytes of the message it refused after an empty prefix, then the
        // status; only the status is right.
        let sent_before = if words == "big" {
            Vec::new()
        } else {
            envelope(0, &string("a"))
        };
        assert_eq!(ours.3, sent_before, "{rpc:?} {words}");
        assert_eq!(
            (ours.0, ours.1, &ours.2, &ours.4),
            (tonic.0, tonic.1, &tonic.2, &tonic.4),
            "{rpc:?} {words}"
        );
        assert_eq!(ours.4.unwrap()["grpc-status"], "11");
    }
}

#[tokio::test]
async fn a_deadline_is_refused_as_tonic_refuses_it() {
    let settings = settings(&[], &[]);
    for rpc in SHAPES {
        for timeout in ["soon", "0n"] {
            let (ours, tonic) = both(
                rpc,
                &[envelope(0, &string("hi"))],
                &[("grpc-timeout", timeout)],
                Format::Proto,
                &settings,
            )
            .await;
            assert_eq!(ours, tonic, "{rpc:?}: grpc-timeout {timeout}");
            assert!(ours.2.contains_key("grpc-status"), "{timeout}: {ours:?}");
        }
    }
}

#[tokio::test]
async fn a_stream_of_ready_messages_goes_out_in_one_frame() {
    use http_body_util::BodyExt;
    let settings = settings(&[], &[]);
    let request = request(&[envelope(0, &string("a b c"))], &[], Format::Proto);
    let mut body = dispatched(Rpc::Words, request, &settings).await.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(
        first,
        [
            envelope(0, &string("a")),
            envelope(0, &string("b")),
            envelope(0, &string("c"))
        ]
        .concat()
    );
    let trailers = body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_trailers()
        .unwrap();
    assert_eq!(trailers["grpc-status"], "0");
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn a_body_that_ends_right_after_a_prefix_is_cut_short_where_tonic_sees_its_end() {
    // tonic has taken the prefix off its buffer by then, finds nothing left over and ends the
    // stream, dropping the message the prefix announced; here it is the body cut short.
    let settings = settings(&[], &[]);
    for rpc in SHAPES {
        let chunks = [envelope(0, &string("a")), vec![0, 0, 0, 0, 4]];
        let (ours, tonic) = both(rpc, &chunks, &[], Format::Proto, &settings).await;
        let status = |outcome: &Outcome| {
            let (_, _, headers, _, trailers) = outcome;
            let source = trailers.as_ref().unwrap_or(headers);
            (
                source["grpc-status"].clone(),
                source.get("grpc-message").cloned(),
            )
        };
        assert_eq!(
            status(&ours),
            (
                "13".parse().unwrap(),
                Some("Unexpected%20EOF%20decoding%20stream.".parse().unwrap())
            ),
            "{rpc:?}: {ours:?}"
        );
        assert_ne!(status(&ours), status(&tonic), "{rpc:?}: {tonic:?}");
    }
}
