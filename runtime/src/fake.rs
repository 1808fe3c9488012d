//! Programmable fakes: the parts every generated `Fake…` service is made of.
//!
//! A generated fake has one public field per rpc, named like the rpc's trait method, holding
//! one of the four types here: [`Unary`], [`ServerStreaming`], [`ClientStreaming`] or
//! [`BidiStreaming`]. A test programs a method through that field
//! (`inventory.check_stock.returns(…)`), hands a clone of the fake to the code under test, and
//! reads back what it was called with (`inventory.check_stock.requests()`).
//!
//! # What a method answers
//!
//! Every method has a *standing answer*, used for every call, and a *queue* of one-off answers
//! that are used first, one per call, in order:
//!
//! - the standing answer starts as `UNIMPLEMENTED` (a status naming the method) and is replaced
//!   by [`returns`](Unary::returns), [`fails`](Unary::fails),
//!   [`responds_with`](Unary::responds_with) (a closure over the call's [`Context`] and request),
//!   [`hangs`](Unary::hangs) (never answers: for deadline tests) or
//!   [`returns_default`](Unary::returns_default);
//! - [`queue`](Unary::queue) appends answers. **When the queue runs dry, the standing answer
//!   applies again**; if none was programmed, the call fails with `UNIMPLEMENTED` and a message
//!   saying how many queued answers were used up, so an unexpected extra call is easy to spot.
//!
//! Server- and bidi-streaming methods answer with a [`Script`]: items, then the end of the
//! stream (success, a status, or staying open).
//!
//! # What is recorded
//!
//! Every call is recorded before it is answered, with its [`Context`] (metadata and deadline,
//! as the server saw them) and its request. Client- and bidi-streaming calls record each message
//! as the fake reads it, and how the client's stream ended ([`StreamEnd`]).
//!
//! All types are cheap to clone and thread-safe: clones share one program and one record, so a
//! test keeps a clone to program and inspect while the code under test owns another.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use crate::{BoxStream, Context, MetadataMap, Status};

/// A recorded call of a unary or server-streaming method.
#[derive(Debug, Clone)]
pub struct RecordedCall<Req> {
    context: Context,
    request: Req,
}

impl<Req> RecordedCall<Req> {
    /// The request message.
    pub fn request(&self) -> &Req {
        &self.request
    }

    /// The context the call was served with.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The request metadata.
    pub fn metadata(&self) -> &MetadataMap {
        self.context.metadata()
    }

    /// The call's deadline, if it had one.
    pub fn deadline(&self) -> Option<Instant> {
        self.context.deadline()
    }
}

/// How a client's request stream ended, as far as the fake has read it.
#[derive(Debug, Clone)]
pub enum StreamEnd {
    /// Not ended yet: the fake is still reading, or never read it (a call answered with
    /// [`BidiStreaming::fails`] or abandoned by the client).
    Open,
    /// The client finished sending (half-closed).
    Finished,
    /// Reading failed with this status: the client's stream yielded an error, or the
    /// connection broke.
    Failed(Status),
}

/// A recorded call of a client- or bidi-streaming method.
#[derive(Debug, Clone)]
pub struct RecordedStream<Req> {
    context: Context,
    requests: Vec<Req>,
    end: StreamEnd,
}

impl<Req> RecordedStream<Req> {
    /// Every message the fake has read from the client, in order.
    pub fn requests(&self) -> &[Req] {
        &self.requests
    }

    /// How the client's stream ended.
    pub fn end(&self) -> &StreamEnd {
        &self.end
    }

    /// The context the call was served with.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The request metadata.
    pub fn metadata(&self) -> &MetadataMap {
        self.context.metadata()
    }

    /// The call's deadline, if it had one.
    pub fn deadline(&self) -> Option<Instant> {
        self.context.deadline()
    }
}

/// What a streaming answer sends: some items, then an end.
///
/// ```
/// use rust_svc_runtime::{Status, fake::Script};
///
/// let finishes = Script::new(["a", "b"]);
/// let fails = Script::new(["a"]).then_fail(Status::aborted("moved"));
/// let never_ends = Script::<&str>::empty().then_stay_open();
/// # let _ = (finishes, fails, never_ends);
/// ```
#[derive(Debug, Clone)]
pub struct Script<Item> {
    items: Vec<Item>,
    end: ScriptEnd,
}

#[derive(Debug, Clone)]
enum ScriptEnd {
    Finish,
    Fail(Status),
    StayOpen,
}

impl<Item> Script<Item> {
    /// Sends `items`, then ends the stream successfully.
    pub fn new(items: impl IntoIterator<Item = Item>) -> Self {
        Self {
            items: items.into_iter().collect(),
            end: ScriptEnd::Finish,
        }
    }

    /// Sends nothing and ends successfully.
    pub fn empty() -> Self {
        Self::new([])
    }

    /// Ends the stream with `status` after the items instead of successfully.
    #[must_use]
    pub fn then_fail(mut self, status: Status) -> Self {
        self.end = ScriptEnd::Fail(status);
        self
    }

    /// Keeps the stream open after the items until the caller goes away or the deadline cuts
    /// it: for tests of what a client does with a stream that goes quiet.
    #[must_use]
    pub fn then_stay_open(mut self) -> Self {
        self.end = ScriptEnd::StayOpen;
        self
    }
}

impl<Item: Send + 'static> Script<Item> {
    fn into_stream(self) -> BoxStream<Item> {
        let end = self.end.into_stream();
        Box::pin(stream::iter(self.items.into_iter().map(Ok)).chain(end))
    }
}

impl ScriptEnd {
    fn into_stream<Item: Send + 'static>(self) -> BoxStream<Item> {
        match self {
            Self::Finish => Box::pin(stream::empty()),
            Self::Fail(status) => Box::pin(stream::iter([Err(status)])),
            Self::StayOpen => Box::pin(stream::pending()),
        }
    }
}

impl<Item> Default for Script<Item> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<Item> From<Vec<Item>> for Script<Item> {
    fn from(items: Vec<Item>) -> Self {
        Self::new(items)
    }
}

impl<Item, const N: usize> From<[Item; N]> for Script<Item> {
    fn from(items: [Item; N]) -> Self {
        Self::new(items)
    }
}

/// The standing answer of a method; `F` is the closure type of [`Standing::Compute`].
enum Standing<Out, F: ?Sized> {
    Unimplemented,
    Answer(Result<Out, Status>),
    Compute(Arc<F>),
    Hang,
}

/// What one call is to answer.
enum Next<Out, F: ?Sized> {
    Answer(Result<Out, Status>),
    Compute(Arc<F>),
    Hang,
}

/// Program and record of one method, behind one lock so that concurrent calls take queued
/// answers in the order they are recorded.
struct State<Out, F: ?Sized, Rec> {
    standing: Standing<Out, F>,
    queue: VecDeque<Result<Out, Status>>,
    dequeued: usize,
    calls: Vec<Rec>,
}

/// What the four method types share.
struct Method<Out, F: ?Sized, Rec> {
    name: &'static str,
    state: Arc<Mutex<State<Out, F, Rec>>>,
}

impl<Out, F: ?Sized, Rec> Clone for Method<Out, F, Rec> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            state: Arc::clone(&self.state),
        }
    }
}

/// Locks, ignoring poison: a test that panicked elsewhere must not hide its own failure behind
/// a poisoned fake.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<Out, F: ?Sized, Rec> Method<Out, F, Rec> {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            state: Arc::new(Mutex::new(State {
                standing: Standing::Unimplemented,
                queue: VecDeque::new(),
                dequeued: 0,
                calls: Vec::new(),
            })),
        }
    }

    fn stand(&self, standing: Standing<Out, F>) {
        lock(&self.state).standing = standing;
    }

    fn enqueue(&self, answers: impl IntoIterator<Item = Result<Out, Status>>) {
        lock(&self.state).queue.extend(answers);
    }

    fn record(&self, call: Rec) {
        lock(&self.state).calls.push(call);
    }

    fn call_count(&self) -> usize {
        lock(&self.state).calls.len()
    }

    fn map_calls<T>(&self, each: impl FnMut(&Rec) -> T) -> Vec<T> {
        lock(&self.state).calls.iter().map(each).collect()
    }

    fn fmt(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(kind)
            .field("method", &self.name)
            .field("calls", &self.call_count())
            .finish_non_exhaustive()
    }
}

impl<Out: Clone, F: ?Sized, Rec> Method<Out, F, Rec> {
    /// Records a call, then picks its answer.
    fn record_and_next(&self, call: Rec) -> Next<Out, F> {
        let mut state = lock(&self.state);
        state.calls.push(call);
        self.next_locked(&mut state)
    }

    fn next(&self) -> Next<Out, F> {
        self.next_locked(&mut lock(&self.state))
    }

    fn next_locked(&self, state: &mut State<Out, F, Rec>) -> Next<Out, F> {
        if let Some(answer) = state.queue.pop_front() {
            state.dequeued += 1;
            return Next::Answer(answer);
        }
        match &state.standing {
            Standing::Unimplemented => Next::Answer(Err(self.unprogrammed(state.dequeued))),
            Standing::Answer(answer) => Next::Answer(answer.clone()),
            Standing::Compute(compute) => Next::Compute(Arc::clone(compute)),
            Standing::Hang => Next::Hang,
        }
    }

    fn unprogrammed(&self, dequeued: usize) -> Status {
        let name = self.name;
        match dequeued {
            0 => Status::unimplemented(format!("{name}: the fake has no answer programmed")),
            used => Status::unimplemented(format!(
                "{name}: the fake's {used} queued answer(s) are used up and no standing answer is programmed"
            )),
        }
    }
}

/// Resolves a call's answer: the closure runs outside the lock, and a hang waits forever.
async fn resolve<Out, F: ?Sized>(
    next: Next<Out, F>,
    compute: impl FnOnce(&F) -> Result<Out, Status>,
) -> Result<Out, Status> {
    match next {
        Next::Answer(answer) => answer,
        Next::Compute(closure) => compute(&*closure),
        Next::Hang => std::future::pending().await,
    }
}

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
            context: ctx.clone(),
            request: request.clone(),
        });
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
            context: ctx.clone(),
            request: request.clone(),
        });
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

/// The live record of a streaming call, updated as the fake reads.
type LiveStream<Req> = Arc<Mutex<RecordedStream<Req>>>;

fn live_stream<Req>(ctx: &Context) -> LiveStream<Req> {
    Arc::new(Mutex::new(RecordedStream {
        context: ctx.clone(),
        requests: Vec::new(),
        end: StreamEnd::Open,
    }))
}

/// Reads the client's whole stream into the record; an error ends reading and is returned.
async fn read_all<Req: Clone>(
    record: &LiveStream<Req>,
    mut requests: BoxStream<Req>,
) -> Result<Vec<Req>, Status> {
    let mut received = Vec::new();
    while let Some(next) = requests.next().await {
        received.push(read_one(record, next)?);
    }
    lock(record).end = StreamEnd::Finished;
    Ok(received)
}

/// Records one read from the client's stream.
fn read_one<Req: Clone>(
    record: &LiveStream<Req>,
    next: Result<Req, Status>,
) -> Result<Req, Status> {
    let mut record = lock(record);
    match next {
        Ok(request) => {
            record.requests.push(request.clone());
            Ok(request)
        }
        Err(status) => {
            record.end = StreamEnd::Failed(status.clone());
            Err(status)
        }
    }
}

fn snapshot<Req: Clone>(record: &LiveStream<Req>) -> RecordedStream<Req> {
    lock(record).clone()
}

type ClientStreamingFn<Req, Resp> =
    dyn Fn(&Context, Vec<Req>) -> Result<Resp, Status> + Send + Sync;

/// The fake of a client-streaming method.
///
/// It reads the client's whole stream, recording each message, and answers once the client has
/// finished sending; queued answers are taken in that order. If the client's stream fails, the
/// call fails with that status and no answer is used.
///
/// ```
/// use futures_util::stream;
/// use rust_svc_runtime::{BoxStream, Context, Status, fake::ClientStreaming};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let upload = ClientStreaming::<u32, u32>::new("demo.Stock/Upload");
/// upload.responds_with(|_ctx, counts| Ok(counts.iter().sum()));
///
/// let counts: BoxStream<u32> = Box::pin(stream::iter([Ok(2), Ok(5)]));
/// assert_eq!(upload.call(&Context::new(), counts).await?, 7);
/// assert_eq!(upload.calls()[0].requests(), [2, 5]);
/// # Ok::<(), Status>(())
/// # }).unwrap();
/// ```
pub struct ClientStreaming<Req, Resp> {
    method: Method<Resp, ClientStreamingFn<Req, Resp>, LiveStream<Req>>,
}

impl<Req, Resp> ClientStreaming<Req, Resp>
where
    Req: Clone + Send + 'static,
    Resp: Clone + Send + 'static,
{
    /// A fake of the method `full_name` that answers `UNIMPLEMENTED` until programmed.
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

    /// Fails every call with `status`, after reading the client's stream.
    pub fn fails(&self, status: Status) -> &Self {
        self.method.stand(Standing::Answer(Err(status)));
        self
    }

    /// Answers every call with what `respond` returns for its context and everything the
    /// client sent.
    pub fn responds_with<F>(&self, respond: F) -> &Self
    where
        F: Fn(&Context, Vec<Req>) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.method.stand(Standing::Compute(Arc::new(respond)));
        self
    }

    /// Reads the client's stream, then never answers.
    pub fn hangs(&self) -> &Self {
        self.method.stand(Standing::Hang);
        self
    }

    /// Appends one-off answers, used one per call before the standing answer.
    pub fn queue(&self, answers: impl IntoIterator<Item = Result<Resp, Status>>) -> &Self {
        self.method.enqueue(answers);
        self
    }

    /// Serves one call: records it, reads the client's stream, then answers.
    pub async fn call(&self, ctx: &Context, requests: BoxStream<Req>) -> Result<Resp, Status> {
        let record = live_stream(ctx);
        self.method.record(Arc::clone(&record));
        let received = read_all(&record, requests).await?;
        let next = self.method.next();
        resolve(next, |respond| respond(ctx, received)).await
    }

    /// Every call so far, in order, with what the client has sent so far.
    pub fn calls(&self) -> Vec<RecordedStream<Req>> {
        self.method.map_calls(snapshot)
    }

    /// How many calls were made.
    pub fn call_count(&self) -> usize {
        self.method.call_count()
    }
}

type BidiFn<Req, Item> = dyn Fn(&Context, Req) -> Result<Vec<Item>, Status> + Send + Sync;

/// The fake of a bidi-streaming method.
///
/// The answer is chosen when the call starts:
///
/// - a [`Script`] ([`streams`](Self::streams), [`queue`](Self::queue)): its items are sent at
///   once, while the fake reads the client's stream; the call ends as the script says once the
///   client has finished sending (or with the client's error, if its stream fails);
/// - [`responds_with`](Self::responds_with): a conversation. Each message the client sends is
///   answered with the items the closure returns; an error from the closure ends the call; the
///   call ends successfully when the client finishes;
/// - [`fails`](Self::fails): the call is rejected at once and the client's stream is never read.
///
/// ```
/// use futures_util::{TryStreamExt, stream};
/// use rust_svc_runtime::{BoxStream, Context, Status, fake::BidiStreaming};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let chat = BidiStreaming::<String, String>::new("demo.Chat/Talk");
/// chat.responds_with(|_ctx, line| Ok(vec![line.to_uppercase()]));
///
/// let lines: BoxStream<String> = Box::pin(stream::iter([Ok("hi".into()), Ok("bye".into())]));
/// let replies: Vec<String> = chat.call(&Context::new(), lines).await?.try_collect().await?;
/// assert_eq!(replies, ["HI", "BYE"]);
/// assert_eq!(chat.calls()[0].requests(), ["hi", "bye"]);
/// # Ok::<(), Status>(())
/// # }).unwrap();
/// ```
pub struct BidiStreaming<Req, Item> {
    method: Method<Script<Item>, BidiFn<Req, Item>, LiveStream<Req>>,
}

impl<Req, Item> BidiStreaming<Req, Item>
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

    /// Answers every call with `script`: its items at once, its end once the client finishes.
    pub fn streams(&self, script: impl Into<Script<Item>>) -> &Self {
        self.method.stand(Standing::Answer(Ok(script.into())));
        self
    }

    /// Sends nothing and ends successfully once the client finishes.
    pub fn returns_default(&self) -> &Self {
        self.streams(Script::empty())
    }

    /// Rejects every call with `status` at once, without reading the client's stream.
    pub fn fails(&self, status: Status) -> &Self {
        self.method.stand(Standing::Answer(Err(status)));
        self
    }

    /// Answers each message of every call with the items `respond` returns for it.
    pub fn responds_with<F>(&self, respond: F) -> &Self
    where
        F: Fn(&Context, Req) -> Result<Vec<Item>, Status> + Send + Sync + 'static,
    {
        self.method.stand(Standing::Compute(Arc::new(respond)));
        self
    }

    /// Never answers, and never reads the client's stream.
    pub fn hangs(&self) -> &Self {
        self.method.stand(Standing::Hang);
        self
    }

    /// Appends one-off answers, used one per call before the standing answer.
    pub fn queue(&self, answers: impl IntoIterator<Item = Result<Script<Item>, Status>>) -> &Self {
        self.method.enqueue(answers);
        self
    }

    /// Serves one call: records it and answers as programmed.
    pub async fn call(
        &self,
        ctx: &Context,
        requests: BoxStream<Req>,
    ) -> Result<BoxStream<Item>, Status> {
        let record = live_stream(ctx);
        match self.method.record_and_next(Arc::clone(&record)) {
            Next::Answer(answer) => Ok(scripted(answer?, record, requests)),
            Next::Compute(respond) => Ok(conversation(ctx.clone(), respond, record, requests)),
            Next::Hang => std::future::pending().await,
        }
    }

    /// Every call so far, in order, with what the client has sent so far.
    pub fn calls(&self) -> Vec<RecordedStream<Req>> {
        self.method.map_calls(snapshot)
    }

    /// How many calls were made.
    pub fn call_count(&self) -> usize {
        self.method.call_count()
    }
}

/// The script's items, then (once the client has finished sending) the script's end.
fn scripted<Req, Item>(
    script: Script<Item>,
    record: LiveStream<Req>,
    requests: BoxStream<Req>,
) -> BoxStream<Item>
where
    Req: Clone + Send + 'static,
    Item: Send + 'static,
{
    let end = stream::once(async move {
        match read_all(&record, requests).await {
            Ok(_) => script.end.into_stream(),
            Err(status) => ScriptEnd::Fail(status).into_stream(),
        }
    })
    .flatten();
    Box::pin(stream::iter(script.items.into_iter().map(Ok)).chain(end))
}

/// One reply per message, from `respond`.
fn conversation<Req, Item>(
    ctx: Context,
    respond: Arc<BidiFn<Req, Item>>,
    record: LiveStream<Req>,
    requests: BoxStream<Req>,
) -> BoxStream<Item>
where
    Req: Clone + Send + 'static,
    Item: Send + 'static,
{
    let replies = stream::unfold(Some(requests), move |requests| {
        let (ctx, respond, record) = (ctx.clone(), Arc::clone(&respond), Arc::clone(&record));
        async move {
            let mut requests = requests?;
            let Some(next) = requests.next().await else {
                lock(&record).end = StreamEnd::Finished;
                return None;
            };
            let replies = read_one(&record, next).and_then(|request| respond(&ctx, request));
            Some(match replies {
                Ok(items) => (
                    stream::iter(items.into_iter().map(Ok)).left_stream(),
                    Some(requests),
                ),
                // An error ends the call: nothing more is read.
                Err(status) => (stream::iter(vec![Err(status)]).right_stream(), None),
            })
        }
    });
    Box::pin(replies.flatten())
}

macro_rules! impl_clone_debug {
    ($($kind:ident),*) => {$(
        impl<A, B> Clone for $kind<A, B> {
            fn clone(&self) -> Self {
                Self { method: self.method.clone() }
            }
        }

        impl<A, B> fmt::Debug for $kind<A, B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.method.fmt(stringify!($kind), f)
            }
        }
    )*};
}

impl_clone_debug!(Unary, ServerStreaming, ClientStreaming, BidiStreaming);

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;
    use crate::Code;

    #[tokio::test]
    async fn an_unprogrammed_method_names_itself_and_says_whether_a_queue_ran_dry() {
        let fake = Unary::<u8, u8>::new("pkg.Svc/Get");
        let first = fake.call(&Context::new(), 1).await.unwrap_err();
        assert_eq!(first.code(), Code::Unimplemented);
        assert_eq!(
            first.message(),
            "pkg.Svc/Get: the fake has no answer programmed"
        );

        fake.queue([Ok(7)]);
        assert_eq!(fake.call(&Context::new(), 2).await.unwrap(), 7);
        let dry = fake.call(&Context::new(), 3).await.unwrap_err();
        assert_eq!(
            dry.message(),
            "pkg.Svc/Get: the fake's 1 queued answer(s) are used up and no standing answer is programmed"
        );
        assert_eq!(fake.requests(), [1, 2, 3]);
    }

    #[tokio::test]
    async fn clones_share_program_and_record() {
        let fake = Unary::<u8, u8>::new("pkg.Svc/Get");
        let handed_out = fake.clone();
        fake.returns(9);
        assert_eq!(handed_out.call(&Context::new(), 1).await.unwrap(), 9);
        assert_eq!(fake.call_count(), 1);
        assert_eq!(
            format!("{fake:?}"),
            r#"Unary { method: "pkg.Svc/Get", calls: 1, .. }"#
        );
    }

    #[tokio::test]
    async fn a_script_sends_its_items_then_its_end() {
        let finished: Vec<u8> = Script::new([1, 2])
            .into_stream()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(finished, [1, 2]);
        let mut failing = Script::new([1])
            .then_fail(Status::aborted("x"))
            .into_stream();
        assert_eq!(failing.try_next().await.unwrap(), Some(1));
        assert_eq!(failing.try_next().await.unwrap_err().code(), Code::Aborted);
        assert!(failing.try_next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_client_stream_error_is_recorded_and_uses_no_answer() {
        let fake = ClientStreaming::<u8, u8>::new("pkg.Svc/Upload");
        fake.queue([Ok(1)]);
        let broken: BoxStream<u8> = Box::pin(stream::iter([Ok(4), Err(Status::data_loss("cut"))]));
        assert_eq!(
            fake.call(&Context::new(), broken).await.unwrap_err().code(),
            Code::DataLoss
        );
        let recorded = &fake.calls()[0];
        assert_eq!(recorded.requests(), [4]);
        assert!(matches!(recorded.end(), StreamEnd::Failed(_)));
        let whole: BoxStream<u8> = Box::pin(stream::iter([Ok(5)]));
        assert_eq!(fake.call(&Context::new(), whole).await.unwrap(), 1);
    }
}
