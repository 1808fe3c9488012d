//! HTTP/1.1 requests answered before their body was read.
//!
//! A server may answer early: a message over the size limit, a refusal for load, a bad media
//! type. Over HTTP/2 the rest of the request stream is reset on its own. Over HTTP/1.1 the
//! unread body is still on the connection, and hyper closes the connection after the answer
//! without saying so, with the client still writing: the client sees `EPIPE` instead of the
//! status, and the next call on what it took for a kept-alive connection fails (what
//! connect-node met with an oversized gRPC-Web request). So for every HTTP/1.1 request, whatever
//! protocol (gRPC-Web, Connect, the REST gateway), a body the handler dropped unread is read to
//! its end and thrown away before the answer goes out, up to [`DRAIN_LIMIT`] bytes and
//! [`DRAIN_TIME`]; past either, the answer says `Connection: close`, as Go's net/http does past
//! its own bound. A body that is not on the wire yet is not asked for: one whose client waits
//! for `100 Continue` (`Expect: 100-continue`, curl's habit for large uploads) gets its answer
//! in place of the `100`, and one declared longer than the bound is not read either; both
//! answers close the connection.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::Either;
use http::Request;
use http::header::{CONNECTION, EXPECT, HeaderValue};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::BoxFuture;

/// The most of an unread body read and thrown away to keep its connection (Go's net/http reads
/// 256 KiB; a message over the 4 MiB limit needs more to be answered cleanly).
pub const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// The longest an unread body is read for.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The layer of [`Drain`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DrainLayer;

impl<S> Layer<S> for DrainLayer {
    type Service = Drain<S>;

    fn layer(&self, inner: S) -> Drain<S> {
        Drain { inner }
    }
}

/// Drains what a handler left of an HTTP/1.1 request body (see the module docs).
#[derive(Debug, Clone)]
pub(super) struct Drain<S> {
    inner: S,
}

impl<S> Drain<S> {
    /// The service it drains the requests of.
    pub(super) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

/// What a tracked body hands back when dropped before its end.
type Leftover = Arc<Mutex<Option<Body>>>;

impl<S> Service<Request<Body>> for Drain<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // Nothing can be left on the connection by an HTTP/2 stream, nor by a body that has
        // already ended (a GET without one): those pass untouched, with nothing allocated.
        if request.version() >= http::Version::HTTP_2 || request.body().is_end_stream() {
            return Either::Left(self.inner.call(request));
        }
        // Reading what the client has not sent yet would ask for it: hyper sends `100
        // Continue` when such a body is first read.
        let unsent = request
            .headers()
            .get(EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
            || request.body().size_hint().lower() > DRAIN_LIMIT;
        let leftover = Leftover::default();
        let tracked = request.map(|body| {
            Body::new(Tracked {
                inner: Some(body),
                leftover: Arc::clone(&leftover),
            })
        });
        let answer = self.inner.call(tracked);
        Either::Right(Box::pin(async move {
            let mut response = answer.await?;
            let unread = leftover.lock().map(|mut body| body.take()).unwrap_or(None);
            if let Some(body) = unread
                && (unsent || !drain(body).await)
            {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        }))
    }
}

/// Reads `body` to its end within the bounds; whether it got there.
async fn drain(mut body: Body) -> bool {
    let read = async {
        let mut read = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
                if read > DRAIN_LIMIT {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

/// A request body that hands itself back through `leftover` when dropped before its end.
struct Tracked {
    inner: Option<Body>,
    leftover: Leftover,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(body) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // Read to its end: nothing is left to hand back.
            self.inner = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take()
            && !body.is_end_stream()
            && let Ok(mut leftover) = self.leftover.lock()
        {
            *leftover = Some(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler that reads `read` bytes of the body, then answers.
    #[derive(Clone)]
    struct Early {
        read: usize,
    }

    impl Service<Request<Body>> for Early {
        type Response = Response;
        type Error = Infallible;
        type Future = BoxFuture<'static, Result<Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Body>) -> Self::Future {
            let wanted = self.read;
            Box::pin(async move {
                let mut body = request.into_body();
                let mut read = 0;
                while read < wanted {
                    match body.frame().await {
                        Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                        _ => break,
                    }
                }
                Ok(Response::new(Body::empty()))
            })
        }
    }

    fn chunked(chunks: usize, version: http::Version) -> (Request<Body>, Arc<Mutex<usize>>) {
        let pulled = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&pulled);
        let stream = futures_util::stream::iter(0..chunks).map(move |_| {
            *counter.lock().unwrap() += 1;
            Ok::<_, Infallible>(Bytes::from(vec![0u8; 1024 * 1024]))
        });
        let mut request = Request::new(Body::from_stream(stream));
        *request.version_mut() = version;
        (request, pulled)
    }

    use futures_util::StreamExt as _;

    #[tokio::test]
    async fn an_unread_http1_body_is_drained_and_the_connection_kept() {
        let mut drain = DrainLayer.layer(Early { read: 1 });
        let (request, pulled) = chunked(5, http::Version::HTTP_11);
        let response = drain.call(request).await.unwrap();
        assert_eq!(*pulled.lock().unwrap(), 5, "every chunk was read");
        assert!(!response.headers().contains_key(CONNECTION));
    }

    #[tokio::test]
    async fn past_the_limit_the_answer_closes_the_connection() {
        let mut drain = DrainLayer.layer(Early { read: 0 });
        let (request, pulled) = chunked(20, http::Version::HTTP_11);
        let response = drain.call(request).await.unwrap();
        assert_eq!(response.headers()[CONNECTION], "close");
        assert!(*pulled.lock().unwrap() < 20, "reading stopped at the limit");
    }

    #[tokio::test]
    async fn a_body_the_client_has_not_sent_is_not_asked_for() {
        // `Expect: 100-continue`: reading would send the `100`; the answer closes instead.
        let mut drain = DrainLayer.layer(Early { read: 0 });
        let (mut request, pulled) = chunked(2, http::Version::HTTP_11);
        request
            .headers_mut()
            .insert(EXPECT, HeaderValue::from_static("100-continue"));
        let response = drain.call(request).await.unwrap();
        assert_eq!(*pulled.lock().unwrap(), 0, "nothing was read");
        assert_eq!(response.headers()[CONNECTION], "close");
        // Declared longer than the bound: not read either.
        let mut request = Request::new(Body::new(
            http_body_util::Full::new(Bytes::from(vec![0u8; 9 * 1024 * 1024]))
                .map_err(|never| match never {}),
        ));
        *request.version_mut() = http::Version::HTTP_11;
        let response = drain.call(request).await.unwrap();
        assert_eq!(response.headers()[CONNECTION], "close");
    }

    #[tokio::test]
    async fn http2_and_fully_read_bodies_are_left_alone() {
        let mut drain = DrainLayer.layer(Early { read: 0 });
        let (request, pulled) = chunked(5, http::Version::HTTP_2);
        let response = drain.call(request).await.unwrap();
        assert_eq!(*pulled.lock().unwrap(), 0);
        assert!(!response.headers().contains_key(CONNECTION));

        let mut drain = DrainLayer.layer(Early { read: usize::MAX });
        let (request, _) = chunked(3, http::Version::HTTP_11);
        let response = drain.call(request).await.unwrap();
        assert!(!response.headers().contains_key(CONNECTION));
    }

    #[tokio::test]
    async fn a_request_without_a_body_passes_untracked() {
        let mut drain = DrainLayer.layer(Early { read: 0 });
        let mut request = Request::new(Body::empty());
        *request.version_mut() = http::Version::HTTP_11;
        let answer = drain.call(request);
        assert!(matches!(answer, Either::Left(_)), "no tracking, no box");
        let response = answer.await.unwrap();
        assert!(!response.headers().contains_key(CONNECTION));

        let (request, _) = chunked(1, http::Version::HTTP_11);
        assert!(matches!(drain.call(request), Either::Right(_)));
    }
}
