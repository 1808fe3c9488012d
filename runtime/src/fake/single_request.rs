//! The fakes of methods taking one request: [`Unary`] and [`ServerStreaming`].

use std::fmt;
use std::sync::Arc;

use super::{Method, RecordedCall, Script, Standing, impl_clone_debug, recorded_context, resolve};
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

    /// Serves one call: records it, then answers. The generated fake's trait method calls this.
    pub async fn call(&self, ctx: &Context, request: Req) -> Result<Resp, Status> {
        let next = self.method.record_and_next(RecordedCall {
            context: recorded_context(ctx),
            request: request.clone(),
        });
        self.method.send_metadata(ctx);
        resolve(next, |respond| respond(ctx, request)).await
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

    /// Serves one call: records it, then answers.
    pub async fn call(&self, ctx: &Context, request: Req) -> Result<BoxStream<Item>, Status> {
        let next = self.method.record_and_next(RecordedCall {
            context: recorded_context(ctx),
            request: request.clone(),
        });
        self.method.send_metadata(ctx);
        let script = resolve(next, |respond| respond(ctx, request)).await?;
        Ok(script.into_stream())
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
