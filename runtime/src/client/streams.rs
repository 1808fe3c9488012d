//! The streams of a call: requests encoded (and checked against the size limit) as they are
//! sent, responses decoded as they are read and their trailers recorded at the end, and the
//! plumbing that cancels a streaming call when the caller's request stream fails.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tonic::Status;

use super::codec;
use super::codec::check_encoded_size;
use super::response::Responses;
use crate::BoxStream;
use crate::context::ResponseMetadata;

/// A caller's request stream, encoded message by message as it is sent.
pub(super) fn encode_stream<Req: prost::Message + Send + 'static>(
    requests: BoxStream<Req>,
    limit: usize,
) -> BoxStream<Bytes> {
    Box::pin(requests.map(move |request| {
        request.and_then(|message| check_encoded_size(codec::encode(&message), limit))
    }))
}

/// A response stream that records its trailers (or its error's metadata) where the caller reads
/// them when it ends.
pub(super) fn with_trailers(
    stream: Responses,
    response: Option<ResponseMetadata>,
) -> BoxStream<Bytes> {
    let Some(response) = response else {
        return Box::pin(stream);
    };
    Box::pin(futures_util::stream::unfold(
        Some((stream, response)),
        |state| async move {
            let (mut stream, response) = state?;
            match stream.message().await {
                Ok(Some(message)) => Some((Ok(message), Some((stream, response)))),
                Ok(None) => {
                    if let Some(trailers) = stream.trailers() {
                        response.record_trailers(trailers);
                    }
                    None
                }
                Err(status) => {
                    response.record_trailers(status.metadata().clone());
                    Some((Err(status), None))
                }
            }
        },
    ))
}

/// A response stream, decoded message by message as it is read.
pub(super) fn decode_stream<Resp: prost::Message + Default + Send + 'static>(
    responses: BoxStream<Bytes>,
) -> BoxStream<Resp> {
    Box::pin(responses.map(|response| response.and_then(codec::decode)))
}

/// Resolves with the request stream's error; pending forever if it ends cleanly.
pub(super) type Aborted = Pin<Box<dyn Future<Output = Status> + Send>>;

/// Splits a caller's request stream into what goes on the wire (which stops, without ending,
/// at the first error) and a future that resolves with that error.
pub(super) fn abort_on_error<T: Send + 'static>(
    requests: BoxStream<T>,
) -> (OutboundStream<T>, Aborted) {
    let (sender, receiver) = oneshot::channel();
    let aborted = Box::pin(async move {
        match receiver.await {
            Ok(status) => status,
            // The stream ended cleanly (or the call is gone): nothing will abort it.
            Err(_) => std::future::pending().await,
        }
    });
    (
        OutboundStream {
            inner: requests,
            error: Some(sender),
        },
        aborted,
    )
}

/// The outbound half of a streaming call. After an error it stays pending forever: ending it
/// would tell the server the input is complete, when the call is about to be cancelled instead.
pub(super) struct OutboundStream<T> {
    inner: BoxStream<T>,
    error: Option<oneshot::Sender<Status>>,
}

impl<T> Stream for OutboundStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        if self.error.is_none() {
            return Poll::Pending;
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => Poll::Ready(Some(message)),
            Poll::Ready(Some(Err(status))) => {
                if let Some(sender) = self.error.take() {
                    let _ = sender.send(status);
                }
                Poll::Pending
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A bidi response stream that ends with the request stream's error, dropping the call.
pub(super) struct AbortableStream<T> {
    pub(super) inner: Option<BoxStream<T>>,
    pub(super) aborted: Aborted,
}

impl<T> Stream for AbortableStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(status) = this.aborted.as_mut().poll(cx) {
            this.inner = None;
            return Poll::Ready(Some(Err(status)));
        }
        inner.as_mut().poll_next(cx)
    }
}
