//! Metadata both ways and message size limits, over real HTTP/2 (and HTTP/1.1 for the gateway):
//! request metadata a caller attaches to one call reaches the handler and the fake; response
//! headers and trailers a handler sets reach tonic's client, the generated client and a REST
//! client; a 64 MiB message is RESOURCE_EXHAUSTED both ways unless the limit is raised.

use futures_util::StreamExt;
use rust_svc_runtime::harness::loopback;
use rust_svc_runtime::{BoxStream, Code, Context, MetadataMap, Status};
use rust_svc_tests::tests::metadata::metadata_echo_client::MetadataEchoClient;
use rust_svc_tests::tests::metadata::{
    Blob, FakeMetadataEcho, MetadataEcho, MetadataEchoClient as GeneratedClient,
    MetadataEchoGateway, MetadataEchoGrpc,
};
use tonic::metadata::{BinaryMetadataValue, MetadataValue};

use crate::metadata_common::{Echo, bytes, tenant_context, text};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn the_generated_client_reads_headers_and_trailers_and_sends_per_call_metadata() {
    let harness = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    let client = harness.client();

    let ctx = tenant_context("acme", &[0, 255, 10]);
    let reply = client
        .echo(
            &ctx,
            Blob {
                data: b"abcd".to_vec(),
                ..Blob::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reply.data, b"abcd");
    let headers = ctx.response().headers().clone();
    assert_eq!(text(&headers, "x-seen-tenant"), Some("acme"));
    assert_eq!(bytes(&headers, "x-seen-blob-bin").unwrap(), [0, 255, 10]);
    assert!(
        headers.get("content-type").is_none(),
        "protocol headers are not the caller's"
    );
    let trailers = ctx.response().trailers().clone();
    assert_eq!(text(&trailers, "x-received-bytes"), Some("4"));
    assert_eq!(bytes(&trailers, "x-trailer-bin").unwrap(), [1, 2, 3]);
    assert!(trailers.get("grpc-status").is_none());

    // A failed call: the handler's metadata travels with the error, as trailers.
    let ctx = tenant_context("umbrella", b"x");
    let status = client
        .echo(
            &ctx,
            Blob {
                fail_with: Code::NotFound as i32,
                ..Blob::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let trailers = ctx.response().trailers().clone();
    assert_eq!(text(&trailers, "x-seen-tenant"), Some("umbrella"));
    assert_eq!(text(&trailers, "x-received-bytes"), Some("0"));
    assert_eq!(text(status.metadata(), "x-seen-tenant"), Some("umbrella"));
}

#[tokio::test]
async fn a_stream_sends_headers_first_and_trailers_set_late_at_its_end() {
    let harness = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    let ctx = tenant_context("acme", b"");
    let stream = harness
        .client()
        .repeat(
            &ctx,
            Blob {
                count: 3,
                ..Blob::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        text(&ctx.response().headers(), "x-seen-tenant"),
        Some("acme")
    );
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(text(&ctx.response().trailers(), "x-sent"), Some("3"));

    // An error at the end of a stream carries the trailers too.
    let ctx = Context::new();
    let items: Vec<_> = harness
        .client()
        .repeat(
            &ctx,
            Blob {
                count: 2,
                fail_at_end: true,
                ..Blob::default()
            },
        )
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[2].as_ref().unwrap_err().code(), Code::Aborted);
    assert_eq!(text(&ctx.response().trailers(), "x-sent"), Some("2"));
}

#[tokio::test]
async fn tonic_clients_see_the_headers_and_trailers_a_handler_set() {
    let harness = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    let mut client = MetadataEchoClient::new(harness.channel());
    let mut request = tonic::Request::new(Blob {
        count: 2,
        ..Blob::default()
    });
    request
        .metadata_mut()
        .insert("x-tenant", MetadataValue::from_static("initech"));
    let response = client.repeat(request).await.unwrap();
    assert_eq!(text(response.metadata(), "x-seen-tenant"), Some("initech"));
    let mut stream = response.into_inner();
    while stream.message().await.unwrap().is_some() {}
    let trailers = stream.trailers().await.unwrap().unwrap();
    assert_eq!(text(&trailers, "x-sent"), Some("2"));

    // tonic's unary call merges trailers into the response metadata.
    let response = client.echo(Blob::default()).await.unwrap();
    assert_eq!(text(response.metadata(), "x-received-bytes"), Some("0"));
    assert_eq!(
        bytes(response.metadata(), "x-trailer-bin").unwrap(),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn a_rest_client_sees_response_metadata_as_prefixed_headers() {
    let harness = MetadataEchoGateway::serve_loopback(Echo).await.unwrap();
    let base = harness.base_url().unwrap();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/echo"))
        .header("Grpc-Metadata-X-Tenant", "acme")
        .json(&serde_json::json!({"data": "AAEC"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["grpc-metadata-x-seen-tenant"], "acme");
    assert_eq!(headers["grpc-trailer-x-received-bytes"], "3");
    assert_eq!(headers["grpc-trailer-x-trailer-bin"], "AQID");

    let failed = reqwest::Client::new()
        .post(format!("{base}/v1/echo"))
        .header("Grpc-Metadata-X-Tenant", "acme")
        .json(&serde_json::json!({"failWith": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 404);
    assert_eq!(failed.headers()["grpc-metadata-x-seen-tenant"], "acme");
}

#[tokio::test]
async fn a_rest_client_that_reads_trailers_gets_them_as_http_trailers() {
    // grpc-gateway's TestOutgoingTrailerMatcher: with `TE: trailers`, the trailers follow a
    // chunked body, each announced in `Trailer`, and are not headers.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let harness = MetadataEchoGateway::serve_loopback(Echo).await.unwrap();
    let addr = harness.local_addr().unwrap();
    let body = r#"{"data":"AAEC"}"#;
    let request = format!(
        "POST /v1/echo HTTP/1.1\r\nHost: {addr}\r\nTE: trailers\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap().to_ascii_lowercase();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{head}");
    assert!(
        head.contains("\r\ntrailer: grpc-trailer-x-received-bytes, grpc-trailer-x-trailer-bin"),
        "{head}"
    );
    assert!(!head.contains("\r\ngrpc-trailer-"), "{head}");
    // The last chunk, then the trailers.
    let (_, trailers) = rest.split_once("\r\n0\r\n").unwrap();
    assert!(
        trailers.contains("grpc-trailer-x-received-bytes: 3\r\n"),
        "{trailers}"
    );
    assert!(
        trailers.contains("grpc-trailer-x-trailer-bin: aqid\r\n"),
        "{trailers}"
    );
}

/// A service that calls [`Echo`] through the generated client while serving, with its own
/// context or a child of it.
struct Relay {
    downstream: GeneratedClient,
    child: bool,
}

impl MetadataEcho for Relay {
    async fn echo(&self, ctx: &Context, request: Blob) -> Result<Blob, Status> {
        ctx.response()
            .headers()
            .insert("x-relay", "yes".parse().unwrap());
        if self.child {
            let call = ctx.child();
            let reply = self.downstream.echo(&call, request).await?;
            let seen = call.response().trailers().get("x-received-bytes").cloned();
            if let Some(seen) = seen {
                ctx.response()
                    .headers()
                    .insert("x-downstream-received", seen);
            }
            Ok(reply)
        } else {
            self.downstream.echo(ctx, request).await
        }
    }

    async fn repeat(&self, _ctx: &Context, _request: Blob) -> Result<BoxStream<Blob>, Status> {
        Err(Status::unimplemented("not relayed"))
    }
}

#[tokio::test]
async fn a_handler_does_not_answer_with_its_dependencys_metadata_unless_it_asks() {
    let downstream = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    for child in [false, true] {
        let relay = Relay {
            downstream: downstream.client().clone(),
            child,
        };
        let harness = MetadataEchoGrpc::serve_loopback(relay).await.unwrap();
        let ctx = Context::new();
        harness
            .client()
            .echo(
                &ctx,
                Blob {
                    data: vec![1; 5],
                    ..Blob::default()
                },
            )
            .await
            .unwrap();
        let headers = ctx.response().headers().clone();
        let trailers = ctx.response().trailers().clone();
        assert_eq!(text(&headers, "x-relay"), Some("yes"));
        assert!(
            trailers.get("x-received-bytes").is_none(),
            "the downstream's trailers stay downstream (child: {child})"
        );
        assert_eq!(
            text(&headers, "x-downstream-received"),
            child.then_some("5"),
            "read through a child context"
        );
    }
}

#[tokio::test]
async fn the_fake_records_per_call_metadata_and_sends_what_it_is_programmed_to() {
    let fake = FakeMetadataEcho::new();
    fake.echo.returns(Blob::default());
    let mut headers = MetadataMap::new();
    headers.insert("x-fake", "1".parse().unwrap());
    let mut trailers = MetadataMap::new();
    trailers.insert_bin("x-fake-bin", BinaryMetadataValue::from_bytes(b"\x00\x01"));
    fake.echo.sends_headers(headers).sends_trailers(trailers);

    // In-process: the recorded metadata is what a server would have received.
    let ctx = tenant_context("acme", &[9, 9]);
    fake.echo.call(&ctx, Blob::default()).await.unwrap();
    assert_eq!(text(&ctx.response().headers(), "x-fake"), Some("1"));
    // Over HTTP/2 through the harness.
    let harness = MetadataEchoGrpc::serve_in_memory(fake.clone());
    let remote = tenant_context("globex", &[7]);
    harness
        .client()
        .echo(&remote, Blob::default())
        .await
        .unwrap();
    assert_eq!(text(&remote.response().headers(), "x-fake"), Some("1"));
    assert_eq!(
        bytes(&remote.response().trailers(), "x-fake-bin").unwrap(),
        [0, 1]
    );

    let calls = fake.echo.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(text(calls[0].metadata(), "x-tenant"), Some("acme"));
    assert_eq!(bytes(calls[0].metadata(), "x-blob-bin").unwrap(), [9, 9]);
    assert_eq!(text(calls[1].metadata(), "x-tenant"), Some("globex"));
    assert_eq!(bytes(calls[1].metadata(), "x-blob-bin").unwrap(), [7]);
    assert_eq!(text(&calls[1].response().headers(), "x-fake"), Some("1"));
}

fn big(size: usize) -> Blob {
    Blob {
        data: vec![1; size],
        ..Blob::default()
    }
}

#[tokio::test]
async fn a_64_mib_message_is_resource_exhausted_both_ways_and_fits_once_the_limits_are_raised() {
    let default_server = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    let raised_client = GeneratedClient::builder()
        .max_encoding_message_size(65 * MIB)
        .max_decoding_message_size(65 * MIB)
        .build(default_server.channel())
        .unwrap();
    let ctx = Context::new();

    // Request over the client's own limit: refused before anything is sent.
    let status = default_server
        .client()
        .echo(&ctx, big(64 * MIB))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Request over the server's limit.
    let status = raised_client.echo(&ctx, big(64 * MIB)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Response over the server's sending limit.
    let asks_for_64_mib = Blob {
        reply_size: 64 * MIB as u64,
        ..Blob::default()
    };
    let status = raised_client
        .echo(&ctx, asks_for_64_mib.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // tonic's own client sees the server's RESOURCE_EXHAUSTED too.
    let mut tonic_client =
        MetadataEchoClient::new(default_server.channel()).max_encoding_message_size(65 * MIB);
    let status = tonic_client.echo(big(64 * MIB)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // The server serves on.
    let reply = default_server.client().echo(&ctx, big(10)).await.unwrap();
    assert_eq!(reply.data.len(), 10);

    let raised_server = loopback::<GeneratedClient, _>(
        MetadataEchoGrpc::new(Echo)
            .max_decoding_message_size(65 * MIB)
            .max_encoding_message_size(65 * MIB)
            .into_service(),
    )
    .await
    .unwrap();
    // Response over the client's receiving limit.
    let status = raised_server
        .client()
        .echo(&ctx, asks_for_64_mib.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Both raised: through, both ways.
    let raised_client = GeneratedClient::builder()
        .max_encoding_message_size(65 * MIB)
        .max_decoding_message_size(65 * MIB)
        .build(raised_server.channel())
        .unwrap();
    let reply = raised_client.echo(&ctx, big(64 * MIB)).await.unwrap();
    assert_eq!(reply.data.len(), 64 * MIB);
    let reply = raised_client.echo(&ctx, asks_for_64_mib).await.unwrap();
    assert_eq!(reply.data.len(), 64 * MIB);
}

#[tokio::test]
async fn compressed_calls_round_trip() {
    use rust_svc_runtime::CompressionEncoding;
    let server = loopback::<GeneratedClient, _>(
        MetadataEchoGrpc::new(Echo)
            .send_compressed(CompressionEncoding::Zstd)
            .into_service(),
    )
    .await
    .unwrap();
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let client = GeneratedClient::builder()
            .send_compressed(encoding)
            .accept_compressed(CompressionEncoding::Zstd)
            .build(server.channel())
            .unwrap();
        let ctx = Context::new();
        let reply = client.echo(&ctx, big(MIB)).await.unwrap();
        assert_eq!(reply.data, vec![1; MIB]);
        assert_eq!(
            text(&ctx.response().headers(), "grpc-encoding"),
            None,
            "the encoding is the protocol's business"
        );
    }
}
