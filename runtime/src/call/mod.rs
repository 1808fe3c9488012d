//! What a call does on either side of the wire, above the [`Context`] it carries: running a
//! domain method within the call's deadline, the deadline stamped when a request arrived, the
//! certificates a TLS client presented, the W3C trace context, the message formats ([`codec`])
//! and the Connect protocol's wire pieces ([`connect`]). The server adapters, the
//! gateway, the interceptors and the clients all build on these, so none of them has to reach
//! into another.

pub mod admission;
pub mod codec;
pub(crate) mod compression;
pub mod connect;
pub(crate) mod protocol;
pub mod recover;
mod trace;
pub(crate) mod unread;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use tokio::time::Instant;

#[cfg(test)]
pub(crate) use crate::context::hex;
pub use crate::context::{Hex, SAMPLED, TraceContext, TraceParent};
use crate::deadline::deadline_exceeded;
use crate::{BoxStream, Context, Status};
pub(crate) use trace::incoming_parent;
pub use trace::{outgoing_traceparent, trace_context};

/// Runs a domain future, dropping it and answering `DEADLINE_EXCEEDED` if the deadline passes
/// first. A `CANCELLED` from the domain after the deadline is reported as `DEADLINE_EXCEEDED` too.
pub fn within_deadline<T, F>(ctx: &Context, future: F) -> WithinDeadline<'_, F>
where
    F: Future<Output = Result<T, Status>>,
{
    // A named future rather than an `async fn`: that would hold `future` once as its argument
    // and once in the timer it builds when first polled, and every move of it (into the timer,
    // into the caller's state) copies the whole domain future, a kilobyte or more under an
    // interceptor stack.
    let inner = match ctx.deadline() {
        None => Deadlined::Free { future },
        Some(deadline) => Deadlined::Timed {
            future: crate::deadline::timeout_at(deadline, future),
        },
    };
    WithinDeadline { ctx, inner }
}

pin_project_lite::pin_project! {
    /// The future of [`within_deadline`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithinDeadline<'c, F> {
        ctx: &'c Context,
        #[pin]
        inner: Deadlined<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = DeadlinedProj]
    enum Deadlined<F> {
        Free { #[pin] future: F },
        Timed { #[pin] future: crate::deadline::Timeout<F> },
    }
}

impl<T, F> Future for WithinDeadline<'_, F>
where
    F: Future<Output = Result<T, Status>>,
{
    type Output = Result<T, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = match this.inner.project() {
            DeadlinedProj::Free { future } => ready!(future.poll(cx)),
            DeadlinedProj::Timed { future } => {
                ready!(future.poll(cx)).unwrap_or_else(|_elapsed| Err(deadline_exceeded()))
            }
        };
        Poll::Ready(outcome.map_err(|status| normalize(this.ctx, status)))
    }
}

/// Cuts a response stream at the context's deadline: the stream then yields one
/// `DEADLINE_EXCEEDED` and ends. A panic while polling it ends it with `INTERNAL`
/// ([`recover`]).
pub fn stream_within_deadline<T: Send + 'static>(
    ctx: &Context,
    stream: BoxStream<T>,
) -> BoxStream<T> {
    crate::deadline::cut_stream(ctx.deadline(), recover::recover_stream(stream))
}

/// A method of a domain trait as the adapter calls it, e.g. `<T as InventoryService>::check_stock`:
/// given the domain, the call's context and the request, a future borrowing the first two.
/// Implemented for every function of that shape; a trait rather than an `Fn` bound because the
/// future's type depends on the borrow's lifetime.
pub trait DomainMethod<'a, T: ?Sized + 'a, Request, Response>: Send + Sync + 'static {
    /// The future the method returns.
    type Future: Future<Output = Result<Response, Status>> + Send + 'a;

    /// Calls the method.
    fn call(&self, domain: &'a T, ctx: &'a Context, request: Request) -> Self::Future;
}

impl<'a, T, Request, Response, F, Fut> DomainMethod<'a, T, Request, Response> for F
where
    T: ?Sized + 'a,
    F: Fn(&'a T, &'a Context, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Status>> + Send + 'a,
{
    type Future = Fut;

    fn call(&self, domain: &'a T, ctx: &'a Context, request: Request) -> Fut {
        self(domain, ctx, request)
    }
}

/// A `CANCELLED` the domain answered after the deadline, as `DEADLINE_EXCEEDED`.
pub(crate) fn normalize(ctx: &Context, status: Status) -> Status {
    if status.code() == tonic::Code::Cancelled && ctx.is_expired() {
        Status::deadline_exceeded(status.message().to_owned())
    } else {
        status
    }
}

/// The absolute deadline of a request, stamped when it arrived.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArrivalDeadline(pub(crate) Instant);

/// The deadline `server::StampDeadlines` (or a `server::GrpcServer`) stamped on a request, if any.
pub(crate) fn arrival_deadline(extensions: &http::Extensions) -> Option<Instant> {
    extensions
        .get::<ArrivalDeadline>()
        .map(|ArrivalDeadline(deadline)| *deadline)
}

/// The deadline a call of `method` that arrived without one at `now` gets on the server side:
/// its default from the proto, counted from then; `None` when the proto sets none.
pub(crate) fn default_deadline(method: &crate::rpc::MethodInfo, now: Instant) -> Option<Instant> {
    method
        .deadline
        .and_then(|deadline| now.checked_add(deadline))
}

/// The certificate chain a TLS client presented, leaf first, each DER-encoded: an extension of
/// the [`Context`]. With the runtime's `tls` feature the gRPC adapter fills it in (from tonic's
/// `peer_certs`) for connections made over TLS with client certificates; [`Auth::peer`](crate::interceptors::Auth::peer) checks
/// it. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificates(Arc<Vec<Vec<u8>>>);

impl PeerCertificates {
    /// The chain `certificates`, leaf first.
    pub fn new(certificates: Vec<Vec<u8>>) -> Self {
        Self(Arc::new(certificates))
    }

    /// The client's own certificate, the first of the chain.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.0.first().map(Vec::as_slice)
    }

    /// The chain, leaf first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(Vec::as_slice)
    }

    /// How many certificates the chain has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_future_is_cut_at_the_deadline() {
        let ctx = Context::new().with_timeout(Duration::from_millis(100));
        let slow = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, Status>(())
        };
        let status = within_deadline(&ctx, slow).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_after_the_deadline_becomes_deadline_exceeded() {
        let ctx = Context::new().with_timeout(Duration::from_millis(10));
        tokio::time::advance(Duration::from_millis(20)).await;
        let status = within_deadline(&ctx, async { Err::<(), _>(Status::cancelled("gone")) })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);

        let live = Context::new();
        let status = within_deadline(&live, async { Err::<(), _>(Status::cancelled("gone")) })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Cancelled);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_with_deadline_exceeded() {
        let ctx = Context::new().with_timeout(Duration::from_millis(250));
        let ticks: BoxStream<u32> = Box::pin(futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok(n), n + 1))
        }));
        let items: Vec<_> = stream_within_deadline(&ctx, ticks).collect().await;
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap(), &0);
        assert_eq!(items[1].as_ref().unwrap(), &1);
        assert_eq!(
            items[2].as_ref().unwrap_err().code(),
            tonic::Code::DeadlineExceeded
        );
    }
}
