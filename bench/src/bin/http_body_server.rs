//! The HttpBody service of tests/protos/http_body.proto behind the generated gateway, for
//! bench/http_body.sh: a streamed upload counts what arrives and keeps none of it, a streamed
//! download makes its bytes as it sends them, so that the server's memory shows what the
//! gateway itself holds while many MiB pass.
//!
//! ```text
//! http_body_server --port N
//! ```
//!
//! `GET /v1/files/{MiB}:chunks?chunks=N` downloads `MiB` MiB in `N` messages;
//! `POST /v1/streams` uploads a body of any size and answers its size.

use std::process::ExitCode;

use futures_util::{StreamExt, stream};
use rust_svc_bench::http_body::google::api::HttpBody;
use rust_svc_bench::http_body::tests::http_body::{
    DownloadRequest, Files, FilesGateway, UploadRequest, UploadResponse,
};
use rust_svc_runtime::{BoxStream, Context, Status};

struct Counting;

impl Files for Counting {
    async fn upload(
        &self,
        _ctx: &Context,
        request: UploadRequest,
    ) -> Result<UploadResponse, Status> {
        let file = request.file.unwrap_or_default();
        Ok(UploadResponse {
            name: request.name,
            content_type: file.content_type,
            size: file.data.len() as u64,
        })
    }

    async fn echo(&self, _ctx: &Context, request: HttpBody) -> Result<HttpBody, Status> {
        Ok(request)
    }

    async fn download(
        &self,
        _ctx: &Context,
        _request: DownloadRequest,
    ) -> Result<HttpBody, Status> {
        Err(Status::unimplemented("use the streamed download"))
    }

    async fn upload_stream(
        &self,
        _ctx: &Context,
        mut requests: BoxStream<HttpBody>,
    ) -> Result<UploadResponse, Status> {
        let (mut content_type, mut size) = (String::new(), 0u64);
        while let Some(chunk) = requests.next().await {
            let chunk = chunk?;
            content_type = chunk.content_type;
            size += chunk.data.len() as u64;
        }
        Ok(UploadResponse {
            name: "upload".to_owned(),
            content_type,
            size,
        })
    }

    async fn download_chunks(
        &self,
        _ctx: &Context,
        request: DownloadRequest,
    ) -> Result<BoxStream<HttpBody>, Status> {
        let mib: usize = request
            .name
            .parse()
            .map_err(|_| Status::invalid_argument("the name is a size in MiB"))?;
        let chunks = request.chunks.max(1) as usize;
        let size = mib * 1024 * 1024;
        let chunk = size.div_ceil(chunks);
        let pieces = (0..chunks).map(move |index| {
            let length = chunk.min(size.saturating_sub(index * chunk));
            Ok(HttpBody {
                content_type: "application/octet-stream".to_owned(),
                data: vec![(index % 251) as u8; length],
                ..HttpBody::default()
            })
        });
        Ok(Box::pin(stream::iter(pieces)))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let port = match (args.next().as_deref(), args.next()) {
        (Some("--port"), Some(port)) => port,
        _ => {
            eprintln!("usage: http_body_server --port N");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://127.0.0.1:{port}");
    let router = FilesGateway::router(Counting);
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
