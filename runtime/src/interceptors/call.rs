//! Running one call through a stack: the four kinds of rpc, the deadline, the span, and telling
//! every interceptor how the call ended, however it ends (an answer, an error, the end of a
//! stream, or the future or stream being dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use futures_util::FutureExt;
use futures_util::future::Either;
use tokio::time::Instant;
use tracing::Instrument;

use super::{CallInfo, Finishes, Interceptors, MethodInfo, Outcome, finish_all};
use crate::call::recover::{recover_call, recover_stream};
use crate::call::{DomainMethod, normalize, within_deadline};
use crate::{BoxStream, Context, Status};

/// A service implementation (or client) wrapped in an [`Interceptors`] stack. The generated code
/// implements each service trait for `Intercepted<S>` wherever `S` implements it, each method
/// one call of [`intercept_unary`](Self::intercept_unary), [`intercept_server_streaming`](Self::intercept_server_streaming),
/// [`intercept_client_streaming`](Self::intercept_client_streaming) or
/// [`intercept_bidi_streaming`](Self::intercept_bidi_streaming): names no rpc method is likely to
/// have, as inherent methods shadow trait methods of the same name.
#[derive(Debug, Clone)]
pub struct Intercepted<S> {
    inner: S,
    stack: Arc<Interceptors>,
}

impl<S> Intercepted<S> {
    /// Wraps `inner` in `stack`.
    pub fn new(inner: S, stack: Interceptors) -> Self {
        Self {
            inner,
            stack: Arc::new(stack),
        }
    }

    /// The wrapped implementation.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the implementation.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Send + Sync> Intercepted<S> {
    /// Runs a unary call of `method` through the stack.
    // `impl Future + Send` spelled out: as an `async fn`, the compiler cannot see that the
    // future is `Send` through the higher-ranked `DomainMethod` bound.
    #[allow(clippy::manual_async_fn)]
    pub fn intercept_unary<Req, Resp, M>(
        &self,
        method: &'static MethodInfo,
        ctx: &Context,
        request: Req,
        call: M,
    ) -> impl Future<Output = Result<Resp, Status>> + Send
    where
        Req: Send,
        Resp: Send,
        M: for<'b> DomainMethod<'b, S, Req, Resp>,
    {
        async move {
            let mut pending = self.begin(method, ctx, Requests::One)?;
            let outcome = self.run(&pending, request, call).await;
            pending.responses = u64::from(outcome.is_ok());
            pending.finish(outcome.as_ref().err());
            outcome
        }
    }

    /// Runs a server-streaming call of `method` through the stack; the call ends with its stream.
    // `impl Future + Send` spelled out: as an `async fn`, the compiler cannot see that the
    // future is `Send` through the higher-ranked `DomainMethod` bound.
    #[allow(clippy::manual_async_fn)]
    pub fn intercept_server_streaming<Req, Item, M>(
        &self,
        method: &'static MethodInfo,
        ctx: &Context,
        request: Req,
        call: M,
    ) -> impl Future<Output = Result<BoxStream<Item>, Status>> + Send
    where
        Req: Send,
        Item: Send + 'static,
        M: for<'b> DomainMethod<'b, S, Req, BoxStream<Item>>,
    {
        async move {
            let pending = self.begin(method, ctx, Requests::One)?;
            self.run_streaming(pending, request, call).await
        }
    }

    /// Runs a client-streaming call of `method` through the stack, counting the requests the
    /// handler reads.
    // `impl Future + Send` spelled out: as an `async fn`, the compiler cannot see that the
    // future is `Send` through the higher-ranked `DomainMethod` bound.
    #[allow(clippy::manual_async_fn)]
    pub fn intercept_client_streaming<Req, Resp, M>(
        &self,
        method: &'static MethodInfo,
        ctx: &Context,
        requests: BoxStream<Req>,
        call: M,
    ) -> impl Future<Output = Result<Resp, Status>> + Send
    where
        Req: Send + 'static,
        Resp: Send,
        M: for<'b> DomainMethod<'b, S, BoxStream<Req>, Resp>,
    {
        async move {
            let counter = Arc::new(AtomicU64::new(0));
            let mut pending = self.begin(method, ctx, Requests::Counted(counter.clone()))?;
            let outcome = self.run(&pending, counted(requests, counter), call).await;
            pending.responses = u64::from(outcome.is_ok());
            pending.finish(outcome.as_ref().err());
            outcome
        }
    }

    /// Runs a bidi-streaming call of `method` through the stack.
    // `impl Future + Send` spelled out: as an `async fn`, the compiler cannot see that the
    // future is `Send` through the higher-ranked `DomainMethod` bound.
    #[allow(clippy::manual_async_fn)]
    pub fn intercept_bidi_streaming<Req, Item, M>(
        &self,
        method: &'static MethodInfo,
        ctx: &Context,
        requests: BoxStream<Req>,
        call: M,
    ) -> impl Future<Output = Result<BoxStream<Item>, Status>> + Send
    where
        Req: Send + 'static,
        Item: Send + 'static,
        M: for<'b> DomainMethod<'b, S, BoxStream<Req>, BoxStream<Item>>,
    {
        async move {
            let counter = Arc::new(AtomicU64::new(0));
            let pending = self.begin(method, ctx, Requests::Counted(counter.clone()))?;
            self.run_streaming(pending, counted(requests, counter), call)
                .await
        }
    }

    /// Starts the stack on a call. A rejection is reported to the interceptors that started
    /// and returned.
    fn begin(
        &self,
        method: &'static MethodInfo,
        ctx: &Context,
        requests: Requests,
    ) -> Result<Pending, Status> {
        let call = CallInfo {
            method,
            side: self.stack.side,
            started: Instant::now(),
        };
        let mut ctx = ctx.clone_inside();
        if call.side == super::Side::Server {
            // An in-process caller's per-call metadata is what a server stack receives, as it
            // would over the wire; it is not sent on again by the handler's own calls.
            ctx.receive_outgoing();
        }
        let (finishes, rejected) = self.stack.start(&call, &mut ctx);
        let mut pending = Pending {
            call,
            ctx,
            finishes,
            requests,
            responses: 0,
            done: false,
        };
        match rejected {
            None => Ok(pending),
            Some(status) => {
                // The handler never saw the request.
                pending.requests = Requests::Fixed(0);
                pending.finish(Some(&status));
                Err(status)
            }
        }
    }

    /// Calls the handler inside the call's span, within its deadline: the one a transport
    /// outside the stack enforces, else a timer of the stack's own.
    ///
    /// A plain function rather than an `async fn`, whose state would keep `input` beside the
    /// handler's future that holds it, and reserve room for the stack's own timer on every
    /// call. That timer is boxed instead: only a stack with no transport outside it (a
    /// client's, a fake's) needs it, while a server's boxed call future grows by all it holds
    /// and, past 1 KiB, leaves glibc's per-thread cache.
    fn run<'a, In, Out, M>(
        &'a self,
        pending: &'a Pending,
        input: In,
        call: M,
    ) -> impl Future<Output = Result<Out, Status>> + Send + 'a
    where
        S: 'a,
        Out: 'a,
        M: for<'b> DomainMethod<'b, S, In, Out>,
    {
        let ctx = &pending.ctx;
        let span = ctx.span().clone();
        // A panic inside is answered `INTERNAL` here, so that the interceptors record the call
        // as failed.
        let future = recover_call(|| call.call(&self.inner, ctx, input));
        if ctx.is_deadline_enforced_outside() {
            Either::Left(
                future
                    .instrument(span)
                    .map(move |outcome| outcome.map_err(|status| normalize(ctx, status))),
            )
        } else {
            Either::Right(Box::pin(within_deadline(ctx, future).instrument(span)))
        }
    }

    async fn run_streaming<In, Item, M>(
        &self,
        mut pending: Pending,
        input: In,
        call: M,
    ) -> Result<BoxStream<Item>, Status>
    where
        Item: Send + 'static,
        M: for<'b> DomainMethod<'b, S, In, BoxStream<Item>>,
    {
        match self.run(&pending, input, call).await {
            Ok(stream) => {
                // The transport cuts the stream it sends at the deadline it enforces.
                let ctx = &pending.ctx;
                let stream = if ctx.is_deadline_enforced_outside() {
                    recover_stream(stream)
                } else {
                    crate::deadline::cut_stream(ctx.deadline(), recover_stream(stream))
                };
                Ok(Box::pin(ObservedStream {
                    inner: stream,
                    pending,
                }))
            }
            Err(status) => {
                pending.finish(Some(&status));
                Err(status)
            }
        }
    }
}

/// How many requests a call had: known up front, or counted as the handler reads them.
enum Requests {
    One,
    Fixed(u64),
    Counted(Arc<AtomicU64>),
}

impl Requests {
    fn count(&self) -> u64 {
        match self {
            Requests::One => 1,
            Requests::Fixed(count) => *count,
            Requests::Counted(counter) => counter.load(Ordering::Relaxed),
        }
    }
}

/// A call that has started and not yet been reported: owns the call's context, so that it can
/// report even when dropped half way.
struct Pending {
    call: CallInfo,
    ctx: Context,
    finishes: Finishes,
    requests: Requests,
    responses: u64,
    done: bool,
}

impl Pending {
    /// Tells every interceptor that started how the call ended, once, inside the call's span.
    fn finish(&mut self, status: Option<&Status>) {
        if self.done {
            return;
        }
        self.done = true;
        let _entered = self.ctx.span().enter();
        let outcome = Outcome {
            call: &self.call,
            ctx: &self.ctx,
            status,
            elapsed: self.call.started.elapsed(),
            requests: self.requests.count(),
            responses: self.responses,
        };
        finish_all(std::mem::take(&mut self.finishes), &outcome);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let status = if self.ctx.is_expired() {
                crate::deadline::deadline_exceeded()
            } else {
                Status::cancelled("the call was dropped before it ended")
            };
            self.finish(Some(&status));
        }
    }
}

/// A response stream that reports the call's end: its end, its first error, or its drop.
struct ObservedStream<Item> {
    inner: BoxStream<Item>,
    pending: Pending,
}

impl<Item> Stream for ObservedStream<Item> {
    type Item = Result<Item, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = {
            let _entered = this.pending.ctx.span().enter();
            this.inner.as_mut().poll_next(cx)
        };
        match &next {
            Poll::Ready(Some(Ok(_))) => this.pending.responses += 1,
            Poll::Ready(Some(Err(status))) => this.pending.finish(Some(status)),
            Poll::Ready(None) => this.pending.finish(None),
            Poll::Pending => {}
        }
        next
    }
}

/// A request stream that counts the messages read from it.
fn counted<Req: Send + 'static>(
    requests: BoxStream<Req>,
    counter: Arc<AtomicU64>,
) -> BoxStream<Req> {
    use futures_util::StreamExt;
    Box::pin(requests.inspect(move |item| {
        if item.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }))
}
