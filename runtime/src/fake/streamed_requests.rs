//! The fakes of methods taking a stream of requests: [`ClientStreaming`] and
//! [`BidiStreaming`], and the live record they keep of what the client sends.

use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::{StreamExt, stream};

use super::{
    Method, Next, RecordedStream, Script, ScriptEnd, Standing, StreamEnd, impl_clone_debug, lock,
    recorded_context, resolve,
};
use crate::{BoxStream, Context, Status};

/// The live record of a streaming call, updated as the fake reads.
type LiveStream<Req> = Arc<Mutex<RecordedStream<Req>>>;

fn live_stream<Req>(ctx: &Context) -> LiveStream<Req> {
    Arc::new(Mutex::new(RecordedStream {
        context: recorded_context(ctx),
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
        self.method.send_metadata(ctx);
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
        self.method.send_metadata(ctx);
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

impl_clone_debug!(ClientStreaming, BidiStreaming);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

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
