//! A handler's panic, caught where the call runs it and answered `INTERNAL`.
//!
//! Unrecovered, a panic in a domain method ends the task that serves its stream: hyper resets
//! the stream, the caller reads `CANCELLED` (which says nothing of a broken dependency), and
//! whatever an interceptor was counting for the call is lost. Every protocol runs its handlers
//! through [`recover_call`] and their response streams through [`recover_stream`], so a panic ends
//! only its own call, with `INTERNAL` (HTTP 500 for REST), a log line and a count in
//! [`PANICS_COUNTER`], as go-zero's servers and tower-http's `CatchPanicLayer` answer one. The
//! connection and the other calls on it go on. The panic's message goes to the log, not to
//! the caller. `CatchPanicLayer` itself does not fit: it answers a plain HTTP 500 (not a gRPC
//! status), sits outside the interceptors, and does not see a response stream's panics (the
//! body is polled after its future has ended).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;

use crate::{BoxStream, Status};

/// The counter of handler panics answered `INTERNAL`.
pub const PANICS_COUNTER: &str = "server_handler_panics_total";

/// The status message of a call whose handler panicked.
pub const PANICKED: &str = "internal error: the handler panicked";

pin_project_lite::pin_project! {
    /// The future of [`recover`] and [`recover_call`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Recover<F> {
        // `None` once it answered, or when making it panicked.
        #[pin]
        inner: Option<F>,
        panicked: Option<Status>,
    }
}

/// Runs `future`, answering `INTERNAL` if polling it panics.
pub fn recover<T, F>(future: F) -> Recover<F>
where
    F: Future<Output = Result<T, Status>>,
{
    Recover {
        inner: Some(future),
        panicked: None,
    }
}

/// Makes a handler's future with `make` (the domain method's call, which runs the handler's
/// code before its first `await`) and runs it, answering `INTERNAL` if either panics.
pub fn recover_call<T, F>(make: impl FnOnce() -> F) -> Recover<F>
where
    F: Future<Output = Result<T, Status>>,
{
    match catch_unwind(AssertUnwindSafe(make)) {
        Ok(future) => recover(future),
        Err(payload) => Recover {
            inner: None,
            panicked: Some(panicked(payload.as_ref())),
        },
    }
}

impl<T, F> Future for Recover<F>
where
    F: Future<Output = Result<T, Status>>,
{
    type Output = Result<T, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            let status = this.panicked.take();
            return Poll::Ready(Err(status.expect("`Recover` polled after it answered")));
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(outcome)) => outcome,
            Err(payload) => Err(panicked(payload.as_ref())),
        };
        this.inner.set(None);
        Poll::Ready(outcome)
    }
}

/// `stream`, ending with one `INTERNAL` if polling it panics.
pub fn recover_stream<T: Send + 'static>(stream: BoxStream<T>) -> BoxStream<T> {
    Box::pin(RecoverStream {
        inner: Some(stream),
    })
}

struct RecoverStream<T> {
    /// `None` once it panicked.
    inner: Option<BoxStream<T>>,
}

impl<T> Stream for RecoverStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll_next(cx))) {
            Ok(polled) => polled,
            Err(payload) => {
                self.inner = None;
                Poll::Ready(Some(Err(panicked(payload.as_ref()))))
            }
        }
    }
}

/// Logs and counts a panic, and gives the status the caller gets.
#[cold]
fn panicked(payload: &(dyn Any + Send)) -> Status {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic with a payload that is not text)");
    tracing::error!(
        panic = message,
        "a handler panicked; its call is answered INTERNAL"
    );
    metrics::counter!(PANICS_COUNTER).increment(1);
    Status::internal(PANICKED)
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_future_is_answered_internal() {
        let status = recover(async {
            assert!(!std::hint::black_box(true), "the handler's bug");
            Ok::<(), Status>(())
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), PANICKED);
        // What does not panic passes through.
        assert_eq!(recover(async { Ok::<_, Status>(7) }).await.unwrap(), 7);
        // A handler that panics while making its future.
        let status = recover_call(|| -> std::future::Ready<Result<(), Status>> {
            panic!("the handler's bug, before any await")
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    }

    #[tokio::test]
    async fn a_panicking_stream_ends_with_internal() {
        let items = futures_util::stream::iter([1, 2, 3]).map(|item| {
            assert!(item < 2, "the stream's bug at {item}");
            Ok::<_, Status>(item)
        });
        let mut stream = recover_stream(Box::pin(items));
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(stream.next().await.is_none());
    }
}
