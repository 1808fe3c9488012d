use super::*;

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

/// The domain of the two paths' tests: echoes its request, fails on `fail` (with a header and
/// a trailer set), answers `big` with more than the tests' write limit.
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
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("the body ends");
    let trailers = collected.trailers().cloned();
    (
        parts.status,
        parts.version,
        parts.headers,
        collected.to_bytes(),
        trailers,
    )
}

/// The call of `chunks` (a body of that many frames) with `headers`, served on both paths.
async fn both_paths(chunks: Vec<Vec<u8>>, headers: &[(&'static str, &str)]) -> (Outcome, Outcome) {
    let settings = WireSettings {
        max_decoding_message_size: 32,
        max_encoding_message_size: 32,
        ..WireSettings::default()
    };
    let call = || {
        let frames = chunks
            .iter()
            .map(|chunk| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk.clone())))
            .collect::<Vec<_>>();
        let body = axum::body::Body::from_stream(futures_util::stream::iter(frames));
        let mut request = http::Request::post("/test.Echo/Echo")
            .header("content-type", "application/grpc")
            .body(body)
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        GrpcCall::new(request, WireConfig::new(&settings))
    };
    let domain = Arc::new(Echo);
    let plain = outcome(call().plain_unary(&domain, Echo::echo).await).await;
    let tonic = outcome(call().tonic_unary(&domain, Echo::echo).await).await;
    (plain, tonic)
}

#[tokio::test]
async fn a_plain_unary_call_is_answered_as_tonic_answers_it() {
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
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
        ("a message over the read limit", vec![envelope(0, &[0; 33])]),
        (
            "a prefix announcing too much",
            vec![vec![0, 255, 255, 255, 255]],
        ),
        ("not protobuf", vec![envelope(0, &[0x0a, 0x02, 0xff, 0xfe])]),
    ];
    for (case, chunks) in cases {
        let (plain, tonic) = both_paths(chunks, &[]).await;
        assert_eq!(plain, tonic, "{case}");
        if case == "a message" {
            assert_eq!(plain.3, envelope(0, &string("echo: hi")));
            assert_eq!(plain.4.unwrap()["grpc-status"], "0");
        }
    }
}

#[tokio::test]
async fn a_plain_unary_answer_over_the_limit_is_the_status_alone() {
    let (plain, tonic) = both_paths(vec![envelope(0, &string("big"))], &[]).await;
    // tonic sends the bytes of the message it refused after an empty prefix, then the status;
    // only the status is right.
    assert!(plain.3.is_empty(), "{plain:?}");
    assert_eq!(
        (plain.0, plain.1, &plain.2, &plain.4),
        (tonic.0, tonic.1, &tonic.2, &tonic.4)
    );
    assert_eq!(plain.4.unwrap()["grpc-status"], "11");
}

#[tokio::test]
async fn a_plain_unary_call_refuses_a_deadline_as_tonic_does() {
    for timeout in ["soon", "0n"] {
        let (plain, tonic) = both_paths(
            vec![envelope(0, &string("hi"))],
            &[("grpc-timeout", timeout)],
        )
        .await;
        assert_eq!(plain, tonic, "grpc-timeout {timeout}");
        assert!(plain.2.contains_key("grpc-status"), "{timeout}: {plain:?}");
    }
}

#[test]
fn only_calls_that_nothing_compresses_take_the_plain_path() {
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut headers = http::HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        headers
    };
    assert!(plain::serves(&headers(&[]), false));
    assert!(plain::serves(
        &headers(&[("grpc-encoding", "identity")]),
        true
    ));
    assert!(!plain::serves(
        &headers(&[("grpc-encoding", "gzip")]),
        false
    ));
    // The answer might be compressed only if the server sends compressed and the client
    // accepts something.
    assert!(plain::serves(
        &headers(&[("grpc-accept-encoding", "gzip")]),
        false
    ));
    assert!(!plain::serves(
        &headers(&[("grpc-accept-encoding", "gzip")]),
        true
    ));
    assert!(plain::serves(&headers(&[]), true));
}
