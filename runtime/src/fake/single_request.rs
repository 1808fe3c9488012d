//! The fakes of methods taking one request: [`Unary`] and [`ServerStreaming`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::{Method, RecordedCall, Script, Standing, impl_clone_debug};
use crate::{BoxStream, Context, Status};

type UnaryFn<Req, Resp> = dyn Fn(&Context, Req) -> Result<Resp, Status> + Send + Sync;

/// The fake of a unary method.
///
/// ```
/// use rust_svc_runtime::{Context, Status, fake::Unary};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let lookup = Unary::<String, u32>::new("demo.Stock/Lookup");
///
/// // Unprogrammed: UNIMPLEMENTED.
/// let unprogrammed = lookup.call(&Context::new(), "SKU-1".into()).await;
/// assert_eq!(unprogrammed.unwrap_err().code(), rust_svc_runtime::Code::Unimplemented);
///
/// // Two one-off answers, then the standing answer.
/// lookup.returns(7).queue([Ok(1), Err(Status::unavailable("warming up"))]);
/// let mut answers = Vec::new();
/// for _ in 0..3 {
///     answers.push(lookup.call(&Context::new(), "SKU-1".into()).await.ok());
/// }
/// assert_eq!(answers, [Some(1), None, Some(7)]);
///
/// // Computed from the request.
/// lookup.responds_with(|_ctx, sku| Ok(sku.len() as u32));
/// assert_eq!(lookup.call(&Context::new(), "SKU-42".into()).await?, 6);
///
/// assert_eq!(lookup.call_count(), 5);
/// assert_eq!(lookup.requests()[4], "SKU-42");
/// # Ok::<(), Status>(())
/// # }).unwrap();
/// ```
pub struct Unary<Req, Resp> {
    method: Method<Resp, UnaryFn<Req, Resp>, RecordedCall<Req>>,
}

impl<Req, Resp> Unary<Req, Resp>
where
    Req: Clone + Send + 'static,
    Resp: Clone + Send + 'static,
{
    /// A fake of the method `full_name` (`package.Service/Method`, used in error messages) that
    /// answers `UNIMPLEMENTED` until programmed.
    pub fn new(full_name: &'static str) -> Self {
        Self {
            method: Method::new(full_name),
        }
    }

    /// Answers every call with `response`.
    pub fn returns(&self, response: Resp) -> &Self {
        self.method.stand(Standing::Answer(Ok(response)));
        self
    }

    /// Answers every call with the default (empty) message.
    pub fn returns_default(&self) -> &Self
    where
        Resp: Default,
    {
        self.returns(Resp::default())
    }

    /// Fails every call with `status`.
    pub fn fails(&self, status: Status) -> &Self {
        self.method.stand(Standing::Answer(Err(status)));
        self
    }

    /// Answers every call with what `respond` returns for its context and request.
    pub fn responds_with<F>(&self, respond: F) -> &Self
    where
        F: Fn(&Context, Req) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.method.stand(Standing::Compute(Arc::new(respond)));
        self
    }

    /// Never answers: the call waits until its caller gives up or its deadline cuts it.
    pub fn hangs(&self) -> &Self {
        self.method.stand(Standing::Hang);
        self
    }

    /// Appends one-off answers, used one per call before the standing answer.
    pub fn queue(&self, answers: impl IntoIterator<Item = Result<Resp, Status>>) -> &Self {
        self.method.enqueue(answers);
        self
    }

    /// Serves one call: records it, then answers (both when the future is first polled). The
    /// generated fake's trait method calls this.
    pub fn call<'f, 'c>(&'f self, ctx: &'c Context, request: Req) -> FakeCall<'f, 'c, Req, Resp> {
        FakeCall {
            fake: &self.method,
            name: self.method.name,
            ctx,
            request: Some(request),
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall<Req>> {
        self.method.map_calls(Clone::clone)
    }

    /// The request of every call so far, in order.
    pub fn requests(&self) -> Vec<Req> {
        self.method.map_calls(|call| call.request.clone())
    }

    /// How many calls were made.
    pub fn call_count(&self) -> usize {
        self.method.call_count()
    }
}

type ServerStreamingFn<Req, Item> =
    dyn Fn(&Context, Req) -> Result<Script<Item>, Status> + Send + Sync;

/// The fake of a server-streaming method: answers with a [`Script`] of items.
///
/// ```
/// use futures_util::TryStreamExt;
/// use rust_svc_runtime::{Context, Status, fake::{Script, ServerStreaming}};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let watch = ServerStreaming::<String, u32>::new("demo.Stock/Watch");
/// watch.streams(Script::new([3, 2]).then_fail(Status::aborted("shard moved")));
///
/// let mut stream = watch.call(&Context::new(), "SKU-1".into()).await?;
/// assert_eq!(stream.try_next().await?, Some(3));
/// assert_eq!(stream.try_next().await?, Some(2));
/// assert_eq!(stream.try_next().await.unwrap_err().message(), "shard moved");
///
/// // Computed from the request.
/// watch.responds_with(|_ctx, sku| Ok(Script::new([sku.len() as u32])));
/// let items: Vec<u32> = watch.call(&Context::new(), "SKU-42".into()).await?.try_collect().await?;
/// assert_eq!(items, [6]);
/// # Ok::<(), Status>(())
/// # }).unwrap();
/// ```
pub struct ServerStreaming<Req, Item> {
    method: Method<Script<Item>, ServerStreamingFn<Req, Item>, RecordedCall<Req>>,
}

impl<Req, Item> ServerStreaming<Req, Item>
where
    Req: Clone + Send + 'static,
    Item: Clone + Send + 'static,
{
    /// A fake of the method `full_name` that answers `UNIMPLEMENTED` until programmed.
    pub fn new(full_name: &'static str) -> Self {
        Self {
            method: Method::new(full_name),
        }
    }

    /// Answers every call with a stream that follows `script`.
    pub fn streams(&self, script: impl Into<Script<Item>>) -> &Self {
        self.method.stand(Standing::Answer(Ok(script.into())));
        self
    }

    /// Answers every call with an empty stream that ends successfully.
    pub fn returns_default(&self) -> &Self {
        self.streams(Script::empty())
    }

    /// Fails every call with `status` before any item is sent.
    pub fn fails(&self, status: Status) -> &Self {
        self.method.stand(Standing::Answer(Err(status)));
        self
    }

    /// Answers every call with the script `respond` returns for its context and request.
    pub fn responds_with<F>(&self, respond: F) -> &Self
    where
        F: Fn(&Context, Req) -> Result<Script<Item>, Status> + Send + Sync + 'static,
    {
        self.method.stand(Standing::Compute(Arc::new(respond)));
        self
    }

    /// Never answers, not even with the start of a stream.
    pub fn hangs(&self) -> &Self {
        self.method.stand(Standing::Hang);
        self
    }

    /// Appends one-off answers, used one per call before the standing answer.
    pub fn queue(&self, answers: impl IntoIterator<Item = Result<Script<Item>, Status>>) -> &Self {
        self.method.enqueue(answers);
        self
    }

    /// Serves one call: records it, then answers (both when the future is first polled).
    pub fn call<'f, 'c>(
        &'f self,
        ctx: &'c Context,
        request: Req,
    ) -> FakeCall<'f, 'c, Req, BoxStream<Item>> {
        FakeCall {
            fake: &self.method,
            name: self.method.name,
            ctx,
            request: Some(request),
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall<Req>> {
        self.method.map_calls(Clone::clone)
    }

    /// The request of every call so far, in order.
    pub fn requests(&self) -> Vec<Req> {
        self.method.map_calls(|call| call.request.clone())
    }

    /// How many calls were made.
    pub fn call_count(&self) -> usize {
        self.method.call_count()
    }
}

impl_clone_debug!(Unary, ServerStreaming);

// The future of both `call`s is a named type rather than an `async fn`'s for the build time of
// generated code: a generated fake returns it from every trait method, and the compiler of the
// user's crate proves it `Send` once per method. For a coroutine that means walking its whole
// body and every type it holds; here it is a reference to a `Sync` trait object, the context
// and the request. Two lifetimes, not one, so that a trait method taking `&self` and
// `&Context` can return it as its `impl Reply`.

/// A fake of a method taking one request, as its calls' futures see it.
trait AnswerOne<Req, Out>: Sync {
    /// Records a call and answers it; `None` for a hang.
    fn answer(&self, ctx: &Context, request: Req) -> Option<Result<Out, Status>>;
}

impl<Req, Resp> AnswerOne<Req, Resp> for Method<Resp, UnaryFn<Req, Resp>, RecordedCall<Req>>
where
    Req: Clone + Send + 'static,
    Resp: Clone + Send + 'static,
{
    fn answer(&self, ctx: &Context, request: Req) -> Option<Result<Resp, Status>> {
        self.answer_one(ctx, request, |respond, ctx, request| respond(ctx, request))
    }
}

impl<Req, Item> AnswerOne<Req, BoxStream<Item>>
    for Method<Script<Item>, ServerStreamingFn<Req, Item>, RecordedCall<Req>>
where
    Req: Clone + Send + 'static,
    Item: Clone + Send + 'static,
{
    fn answer(&self, ctx: &Context, request: Req) -> Option<Result<BoxStream<Item>, Status>> {
        let answer = self.answer_one(ctx, request, |respond, ctx, request| respond(ctx, request));
        answer.map(|answer| answer.map(Script::into_stream))
    }
}

/// The future [`Unary::call`] and [`ServerStreaming::call`] return: records the call and
/// answers when first polled.
#[must_use = "futures do nothing unless polled"]
pub struct FakeCall<'f, 'c, Req, Out> {
    fake: &'f dyn AnswerOne<Req, Out>,
    name: &'static str,
    ctx: &'c Context,
    /// `None` once the call has been recorded: it then answers nothing more (a hang, or a
    /// future polled after it answered).
    request: Option<Req>,
}

// The future pins nothing it holds.
impl<Req, Out> Unpin for FakeCall<'_, '_, Req, Out> {}

impl<Req, Out> Future for FakeCall<'_, '_, Req, Out> {
    type Output = Result<Out, Status>;

    fn poll(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.request.take() {
            Some(request) => match this.fake.answer(this.ctx, request) {
                Some(answer) => Poll::Ready(answer),
                // A hang: nothing wakes the task again.
                None => Poll::Pending,
            },
            None => Poll::Pending,
        }
    }
}

impl<Req, Out> fmt::Debug for FakeCall<'_, '_, Req, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCall")
            .field("method", &self.name)
            .finish_non_exhaustive()
    }
}
