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

mod single_request;
mod streamed_requests;

pub use single_request::{FakeCall, ServerStreaming, Unary};
pub use streamed_requests::{BidiStreaming, ClientStreaming};

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{StreamExt, stream};
use tokio::time::Instant;

use crate::rpc::REQUEST_ID_NAME;
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

    /// The request metadata as a server receives it: the context's metadata and its outgoing
    /// metadata (what a generated client would have sent).
    pub fn metadata(&self) -> &MetadataMap {
        self.context.metadata()
    }

    /// The response headers and trailers the call was answered with.
    pub fn response(&self) -> &crate::ResponseMetadata {
        self.context.response()
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

    /// The request metadata as a server receives it: the context's metadata and its outgoing
    /// metadata (what a generated client would have sent).
    pub fn metadata(&self) -> &MetadataMap {
        self.context.metadata()
    }

    /// The response headers and trailers the call was answered with.
    pub fn response(&self) -> &crate::ResponseMetadata {
        self.context.response()
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
    /// Response headers and trailers every call sends.
    headers: MetadataMap,
    trailers: MetadataMap,
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
                headers: MetadataMap::new(),
                trailers: MetadataMap::new(),
            })),
        }
    }

    fn stand(&self, standing: Standing<Out, F>) {
        lock(&self.state).standing = standing;
    }

    fn enqueue(&self, answers: impl IntoIterator<Item = Result<Out, Status>>) {
        lock(&self.state).queue.extend(answers);
    }

    fn program_metadata(&self, headers: Option<MetadataMap>, trailers: Option<MetadataMap>) {
        let mut state = lock(&self.state);
        if let Some(headers) = headers {
            state.headers = headers;
        }
        if let Some(trailers) = trailers {
            state.trailers = trailers;
        }
    }

    /// Sets the programmed response headers and trailers on a call's context, as a handler would.
    fn send_metadata(&self, ctx: &Context) {
        let (headers, trailers) = {
            let state = lock(&self.state);
            (state.headers.clone(), state.trailers.clone())
        };
        if !headers.is_empty() {
            ctx.response().extend_headers(headers);
        }
        if !trailers.is_empty() {
            ctx.response().extend_trailers(trailers);
        }
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

impl<Out: Clone, F: ?Sized, Req: Clone> Method<Out, F, RecordedCall<Req>> {
    /// Serves a call of a method taking one request: records it, sets the programmed response
    /// metadata on its context and answers, `None` for a hang.
    fn answer_one(
        &self,
        ctx: &Context,
        request: Req,
        compute: impl FnOnce(&F, &Context, Req) -> Result<Out, Status>,
    ) -> Option<Result<Out, Status>> {
        let next = self.record_and_next(RecordedCall {
            context: recorded_context(ctx),
            request: request.clone(),
        });
        self.send_metadata(ctx);
        match next {
            Next::Answer(answer) => Some(answer),
            // The closure runs outside the lock.
            Next::Compute(closure) => Some(compute(&*closure, ctx, request)),
            Next::Hang => None,
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

/// Implements `Clone` and `Debug` for the method fakes, each a `method: Method<…>` field.
/// The context a fake records: the caller's, with its outgoing metadata added to the request
/// metadata, so that a test reads what a server would have received whether the fake is called
/// in-process or over the harness.
fn recorded_context(ctx: &Context) -> Context {
    let mut recorded = ctx.clone();
    // A request-id interceptor's id, as a generated client would send it.
    if let Some(id) = ctx.request_id_to_send() {
        let metadata = recorded.metadata_mut().as_mut();
        metadata.insert(&REQUEST_ID_NAME, id.to_header_value());
    }
    recorded.receive_outgoing();
    recorded
}

macro_rules! impl_clone_debug {
    ($($kind:ident),*) => {$(
        impl<A, B> $kind<A, B> {
            /// Sends `headers` as response headers on every call (beside what a
            /// `responds_with` closure sets through the context).
            pub fn sends_headers(&self, headers: $crate::MetadataMap) -> &Self {
                self.method.program_metadata(Some(headers), None);
                self
            }

            /// Sends `trailers` as response trailers on every call.
            pub fn sends_trailers(&self, trailers: $crate::MetadataMap) -> &Self {
                self.method.program_metadata(None, Some(trailers));
                self
            }
        }

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
use impl_clone_debug;

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
}
