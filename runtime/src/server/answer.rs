//! The answer of a gRPC call served by a [`GrpcServer`](super::GrpcServer): the call raced
//! against its deadline ([`CallFuture`]), the handler's response headers added to the HTTP
//! response, its trailers to the final ones, and tonic's over-limit `OUT_OF_RANGE` reported as
//! `RESOURCE_EXHAUSTED`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::call::admission::Permit;
use crate::context::ResponseMetadata;
use crate::rpc::{GRPC_STATUS_NAME, REQUEST_ID_NAME, is_size_limit_message};
use crate::{Code, Status};

/// A call raced against its deadline: answers `DEADLINE_EXCEEDED` and drops the call (and the
/// domain future inside it) when the deadline passes first. Its response's body sends the
/// handler's trailers.
pub struct CallFuture<F> {
    inner: F,
    deadline: Option<Pin<Box<Sleep>>>,
    response: Option<ResponseMetadata>,
    /// The call's slot, given back when the answer is ready (or the call is dropped).
    permit: Option<Permit>,
}

impl<F> CallFuture<F> {
    /// `inner` raced against `deadline`, with the call's response cell and admission slot.
    pub(super) fn new(
        inner: F,
        deadline: Option<Instant>,
        response: ResponseMetadata,
        permit: Permit,
    ) -> Self {
        Self {
            inner,
            deadline: deadline.map(|deadline| Box::pin(tokio::time::sleep_until(deadline))),
            response: Some(response),
            permit: Some(permit),
        }
    }
}

impl<F> Future for CallFuture<F>
where
    F: Future<Output = http::Response<tonic::body::Body>> + Unpin,
{
    type Output = Result<http::Response<tonic::body::Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(response) = Pin::new(&mut self.inner).poll(cx) {
            self.permit = None;
            let cell = self.response.take().unwrap_or_default();
            return Poll::Ready(Ok(finish_response(response, cell)));
        }
        let expired = self
            .deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
        if expired {
            self.permit = None;
            Poll::Ready(Ok(crate::deadline::deadline_exceeded().into_http()))
        } else {
            Poll::Pending
        }
    }
}

/// A trailers-only response (an error before any message) has its status in the headers; any
/// other gets a body that adds the handler's trailers to the final ones.
fn finish_response(
    mut response: http::Response<tonic::body::Body>,
    cell: ResponseMetadata,
) -> http::Response<tonic::body::Body> {
    if response.headers().contains_key(&GRPC_STATUS_NAME) {
        normalize_status_headers(response.headers_mut());
        return response;
    }
    // The handler's headers (see `ResponseMetadata::for_wire`): what tonic would have let
    // through of them had they come in its response's metadata.
    let (headers, request_id) = cell.headers_to_send();
    crate::context::append_entries(response.headers_mut(), headers, |name| {
        crate::context::is_application_key(name) && name != "user-agent"
    });
    if let Some(id) = request_id {
        response.headers_mut().insert(&REQUEST_ID_NAME, id);
    }
    response.map(|body| tonic::body::Body::new(TrailersBody { inner: body, cell }))
}

/// A response body whose trailers get the handler's trailers added, and an over-limit
/// `OUT_OF_RANGE` turned into `RESOURCE_EXHAUSTED`.
struct TrailersBody {
    inner: tonic::body::Body,
    cell: ResponseMetadata,
}

impl HttpBody for TrailersBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        Poll::Ready(Some(Ok(match frame.into_trailers() {
            Ok(mut trailers) => {
                normalize_status_headers(&mut trailers);
                super::append_sendable(&mut trailers, self.cell.trailers().clone());
                Frame::trailers(trailers)
            }
            Err(frame) => frame,
        })))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// tonic reports a message over the encoding or decoding limit as `OUT_OF_RANGE`; gRPC's
/// status-code document says `RESOURCE_EXHAUSTED`. Only tonic's own limit messages are changed:
/// a handler's `OUT_OF_RANGE` stays what it is.
fn normalize_status_headers(headers: &mut HeaderMap) {
    let out_of_range = headers
        .get(&GRPC_STATUS_NAME)
        .is_some_and(|code| code.as_bytes() == b"11");
    if !out_of_range {
        return;
    }
    let message = Status::from_header_map(headers)
        .map(|status| status.message().to_owned())
        .unwrap_or_default();
    if is_size_limit_message(&message) {
        headers.insert(
            &GRPC_STATUS_NAME,
            http::HeaderValue::from(Code::ResourceExhausted as i32),
        );
    }
}
