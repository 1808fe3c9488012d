//! `google.api.HttpBody` over the REST gateway (tests/protos/http_body.proto), as grpc-gateway
//! passes it: a raw upload of any type into the body field with the path filling the rest, a
//! raw body echoed as it came, a download as its bytes with its content type, and a stream of
//! them as one chunked download; all over real HTTP/1.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, stream};
use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::harness::{Harness, loopback_with_gateway};
use rust_svc_runtime::{BoxStream, Context, Status};
use rust_svc_tests::google::api::HttpBody;
use rust_svc_tests::tests::http_body::{
    DownloadRequest, Files, FilesClient, FilesGateway, FilesGrpc, UploadRequest, UploadResponse,
};

/// A stored file: its content type and bytes.
type File = (String, Vec<u8>);

/// Files in memory, by name.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<HashMap<String, File>>>);

impl Store {
    fn get(&self, name: &str) -> Result<File, Status> {
        self.0
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no file {name}")))
    }
}

impl Files for Store {
    async fn upload(
        &self,
        _ctx: &Context,
        request: UploadRequest,
    ) -> Result<UploadResponse, Status> {
        let file = request.file.unwrap_or_default();
        let response = UploadResponse {
            name: request.name.clone(),
            content_type: file.content_type.clone(),
            size: file.data.len() as u64,
        };
        self.0
            .lock()
            .unwrap()
            .insert(request.name, (file.content_type, file.data));
        Ok(response)
    }

    async fn echo(&self, _ctx: &Context, request: HttpBody) -> Result<HttpBody, Status> {
        Ok(request)
    }

    async fn download(&self, _ctx: &Context, request: DownloadRequest) -> Result<HttpBody, Status> {
        let (content_type, data) = self.get(&request.name)?;
        Ok(HttpBody {
            content_type,
            data,
            ..HttpBody::default()
        })
    }

    async fn upload_stream(
        &self,
        _ctx: &Context,
        mut requests: BoxStream<HttpBody>,
    ) -> Result<UploadResponse, Status> {
        let (mut content_type, mut size, mut messages) = (String::new(), 0, 0);
        while let Some(chunk) = requests.next().await {
            let chunk = chunk?;
            content_type = chunk.content_type;
            size += chunk.data.len() as u64;
            messages += 1;
        }
        // The name says how many messages the upload came in.
        Ok(UploadResponse {
            name: format!("{messages} messages"),
            content_type,
            size,
        })
    }

    async fn download_chunks(
        &self,
        _ctx: &Context,
        request: DownloadRequest,
    ) -> Result<BoxStream<HttpBody>, Status> {
        let (content_type, data) = self.get(&request.name)?;
        let size = data.len().div_ceil(request.chunks.max(1) as usize).max(1);
        let chunks: Vec<Result<HttpBody, Status>> = data
            .chunks(size)
            .map(|chunk| {
                Ok(HttpBody {
                    content_type: content_type.clone(),
                    data: chunk.to_vec(),
                    ..HttpBody::default()
                })
            })
            .collect();
        Ok(Box::pin(stream::iter(chunks)))
    }
}

/// The store behind its gateway and gRPC adapter on one loopback port; the base URL.
async fn serve() -> (String, Harness<FilesClient>) {
    let store = Store::default();
    let gateway = Gateway::from_service(FilesGateway::routes(store.clone()));
    let harness =
        loopback_with_gateway::<FilesClient, _>(FilesGrpc::new(store).into_service(), gateway)
            .await
            .unwrap();
    (harness.base_url().unwrap(), harness)
}

#[tokio::test]
async fn raw_bytes_go_up_and_come_back_as_they_were_sent() {
    let (base, _harness) = serve().await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    // Bytes that are no JSON and no UTF-8, with a type of their own.
    let png: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let uploaded: serde_json::Value = http
        .post(format!("{base}/v1/files/logo.png"))
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        uploaded,
        serde_json::json!({"name": "logo.png", "contentType": "image/png", "size": "3000"})
    );

    let download = http
        .get(format!("{base}/v1/files/logo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.bytes().await.unwrap().to_vec(), png);

    // A stream of HttpBody messages is one download of their bytes, with the first's type.
    let chunked = http
        .get(format!("{base}/v1/files/logo.png:chunks?chunks=4"))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), 200);
    assert_eq!(chunked.headers()["content-type"], "image/png");
    assert_eq!(chunked.bytes().await.unwrap().to_vec(), png);

    // The whole request as an HttpBody: the body and its type, echoed.
    let echoed = http
        .post(format!("{base}/v1/echo"))
        .header("content-type", "text/csv")
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["content-type"], "text/csv");
    assert_eq!(echoed.text().await.unwrap(), "a,b\n1,2\n");
    // No type at all: the download says octet-stream.
    let untyped = http
        .post(format!("{base}/v1/echo"))
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(
        untyped.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(untyped.bytes().await.unwrap().to_vec(), [1, 2, 3]);

    // An error before the first byte is the usual JSON status.
    let missing = http
        .get(format!("{base}/v1/files/nope:chunks"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let status: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(status["code"], 5);
}

#[tokio::test]
async fn a_streamed_upload_arrives_in_chunks_past_the_body_limit() {
    let (base, _harness) = serve().await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    // Over the 4 MiB body limit of a unary call: a client stream of HttpBody has none, as it
    // holds one chunk at a time.
    let size = 6 * 1024 * 1024;
    let uploaded: serde_json::Value = http
        .post(format!("{base}/v1/streams"))
        .header("content-type", "application/zip")
        .body(vec![7u8; size])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploaded["contentType"], "application/zip", "{uploaded}");
    assert_eq!(uploaded["size"], size.to_string(), "{uploaded}");
    let messages: usize = uploaded["name"]
        .as_str()
        .and_then(|name| name.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap();
    assert!(
        messages > 1,
        "one message per chunk, not one for the body: {uploaded}"
    );
}
