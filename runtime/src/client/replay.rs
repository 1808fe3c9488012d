//! The messages a client or bidi stream has sent, kept so that a retry (or a hedge) can send
//! them again (gRFC A6). Kept up to a limit per call and a limit shared by the client's calls;
//! past either, or once the response headers arrive, the call is committed and the messages
//! are let go.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::BoxStream;

/// How much a client keeps for replays: per call, and for all its calls together.
#[derive(Debug)]
pub(super) struct RetryBuffer {
    pub(super) per_call: usize,
    pub(super) per_client: usize,
    /// Bytes kept by the client's calls now.
    pub(super) used: AtomicUsize,
}

impl RetryBuffer {
    /// Keeps nothing: a call over it is committed by its first message.
    pub(super) fn none() -> Self {
        Self {
            per_call: 0,
            per_client: 0,
            used: AtomicUsize::new(0),
        }
    }
}

/// One call's sent messages, shared by its attempts' readers.
pub(super) struct Replay {
    state: Mutex<State>,
    buffer: Arc<RetryBuffer>,
}

struct State {
    source: BoxStream<Bytes>,
    sent: Vec<Bytes>,
    bytes: usize,
    committed: bool,
}

impl Replay {
    /// Keeps what `source` yields, within `buffer`'s limits.
    pub(super) fn new(source: BoxStream<Bytes>, buffer: Arc<RetryBuffer>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                source,
                sent: Vec::new(),
                bytes: 0,
                committed: false,
            }),
            buffer,
        })
    }

    /// The messages for one attempt: those sent so far, then the rest as they come.
    pub(super) fn reader(self: &Arc<Self>) -> BoxStream<Bytes> {
        Box::pin(Reader {
            replay: Arc::clone(self),
            position: 0,
        })
    }

    /// Whether the call can no longer be sent again.
    pub(super) fn is_committed(&self) -> bool {
        self.lock().committed
    }

    /// Commits the call: nothing more is kept, and what was kept is let go.
    pub(super) fn commit(&self) {
        let mut state = self.lock();
        self.release(&mut state);
    }

    fn release(&self, state: &mut State) {
        state.committed = true;
        state.sent = Vec::new();
        self.buffer.used.fetch_sub(state.bytes, Ordering::Relaxed);
        state.bytes = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let bytes = self.lock().bytes;
        self.buffer.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

struct Reader {
    replay: Arc<Replay>,
    position: usize,
}

impl Stream for Reader {
    type Item = Result<Bytes, tonic::Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let replay = &this.replay;
        let mut state = replay.lock();
        if !state.committed && this.position < state.sent.len() {
            this.position += 1;
            return Poll::Ready(Some(Ok(state.sent[this.position - 1].clone())));
        }
        let polled = state.source.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(message))) = &polled
            && !state.committed
        {
            let len = message.len();
            let fits_call = state.bytes + len <= replay.buffer.per_call;
            let used = replay.buffer.used.fetch_add(len, Ordering::Relaxed) + len;
            if fits_call && used <= replay.buffer.per_client {
                state.sent.push(message.clone());
                state.bytes += len;
                this.position += 1;
            } else {
                replay.buffer.used.fetch_sub(len, Ordering::Relaxed);
                replay.release(&mut state);
            }
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    fn buffer(per_call: usize, per_client: usize) -> Arc<RetryBuffer> {
        Arc::new(RetryBuffer {
            per_call,
            per_client,
            used: AtomicUsize::new(0),
        })
    }

    fn messages(texts: &[&'static str]) -> BoxStream<Bytes> {
        let items: Vec<_> = texts
            .iter()
            .map(|text| Ok(Bytes::from_static(text.as_bytes())))
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    async fn read(stream: BoxStream<Bytes>) -> Vec<Bytes> {
        stream.map(Result::unwrap).collect().await
    }

    #[tokio::test]
    async fn a_second_reader_replays_what_the_first_sent_then_reads_on() {
        let replay = Replay::new(messages(&["a", "b", "c"]), buffer(100, 100));
        let mut first = replay.reader();
        assert_eq!(first.next().await.unwrap().unwrap(), "a");
        assert_eq!(first.next().await.unwrap().unwrap(), "b");
        drop(first);
        assert_eq!(read(replay.reader()).await, ["a", "b", "c"]);
        assert!(!replay.is_committed());
    }

    #[tokio::test]
    async fn past_the_call_limit_the_call_is_committed_and_nothing_is_kept() {
        let shared = buffer(2, 100);
        let replay = Replay::new(messages(&["a", "b", "c"]), Arc::clone(&shared));
        assert_eq!(read(replay.reader()).await, ["a", "b", "c"]);
        assert!(replay.is_committed());
        assert_eq!(shared.used.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn the_client_limit_is_shared_and_given_back() {
        let shared = buffer(100, 3);
        let first = Replay::new(messages(&["aa"]), Arc::clone(&shared));
        assert_eq!(read(first.reader()).await, ["aa"]);
        assert_eq!(shared.used.load(Ordering::Relaxed), 2);
        let second = Replay::new(messages(&["bb"]), Arc::clone(&shared));
        assert_eq!(read(second.reader()).await, ["bb"]);
        assert!(second.is_committed(), "2 + 2 bytes is over the client's 3");
        drop(first);
        assert_eq!(shared.used.load(Ordering::Relaxed), 0);
        let third = Replay::new(messages(&["cc"]), Arc::clone(&shared));
        assert_eq!(read(third.reader()).await, ["cc"]);
        assert!(!third.is_committed());
        third.commit();
        assert_eq!(shared.used.load(Ordering::Relaxed), 0);
    }
}
