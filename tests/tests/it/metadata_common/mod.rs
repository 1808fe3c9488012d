//! The metadata tests' shared domain: answers as the request asks, and describes the request
//! metadata it saw in its response metadata, so that any client can check both directions.

use futures_util::StreamExt;
use rust_svc_runtime::{BoxStream, Code, Context, MetadataMap, Status};
use rust_svc_tests::tests::metadata::{Blob, MetadataEcho};
use tonic::metadata::BinaryMetadataValue;

/// Answers as the request asks, and describes the metadata it saw in its response metadata.
#[derive(Clone, Default)]
pub struct Echo;

fn describe_request(ctx: &Context) {
    let mut headers = ctx.response().headers();
    if let Some(tenant) = ctx.metadata().get("x-tenant") {
        headers.insert("x-seen-tenant", tenant.clone());
    }
    if let Some(blob) = ctx.metadata().get_bin("x-blob-bin") {
        headers.insert_bin("x-seen-blob-bin", blob.clone());
    }
}

fn failure(request: &Blob) -> Option<Status> {
    (request.fail_with != 0).then(|| Status::new(Code::from(request.fail_with), "asked to fail"))
}

impl MetadataEcho for Echo {
    async fn echo(&self, ctx: &Context, request: Blob) -> Result<Blob, Status> {
        describe_request(ctx);
        let mut trailers = ctx.response().trailers();
        trailers.insert("x-received-bytes", request.data.len().into());
        trailers.insert_bin("x-trailer-bin", BinaryMetadataValue::from_bytes(&[1, 2, 3]));
        drop(trailers);
        if let Some(status) = failure(&request) {
            return Err(status);
        }
        let data = match request.reply_size {
            0 => request.data,
            size => vec![7; usize::try_from(size).unwrap()],
        };
        Ok(Blob {
            data,
            ..Blob::default()
        })
    }

    async fn repeat(&self, ctx: &Context, request: Blob) -> Result<BoxStream<Blob>, Status> {
        describe_request(ctx);
        let response = ctx.response().clone();
        let count = request.count;
        let fail_at_end = request.fail_at_end;
        let items = futures_util::stream::iter(0..count)
            .map(|n| {
                Some(Ok(Blob {
                    count: n,
                    ..Blob::default()
                }))
            })
            .chain(futures_util::stream::once(async move {
                // Set while the stream is being sent: trailers go out with the final status.
                response.trailers().insert("x-sent", count.into());
                fail_at_end.then(|| Err(Status::aborted("asked to fail at the end")))
            }))
            .filter_map(std::future::ready);
        Ok(Box::pin(items))
    }
}

pub fn tenant_context(tenant: &str, blob: &[u8]) -> Context {
    let mut ctx = Context::new();
    let outgoing = ctx.outgoing_metadata_mut();
    outgoing.insert("x-tenant", tenant.parse().unwrap());
    outgoing.insert_bin("x-blob-bin", BinaryMetadataValue::from_bytes(blob));
    ctx
}

pub fn text<'a>(map: &'a MetadataMap, key: &str) -> Option<&'a str> {
    map.get(key).map(|value| value.to_str().unwrap())
}

pub fn bytes(map: &MetadataMap, key: &str) -> Option<Vec<u8>> {
    map.get_bin(key)
        .map(|value| value.to_bytes().unwrap().to_vec())
}
