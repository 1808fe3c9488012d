//! The shape shared by the examples' watch streams (`WatchStockLevels`, `StreamOrderUpdates`):
//! the current state first, then changes from a broadcast channel.
//!
//! Starting with the current state closes the gap between reading it and subscribing (the
//! caller subscribes and snapshots under one lock), and it means a watch answers at once: over
//! REST the gateway waits for a stream's first message before it sends the status line, so a
//! watch that had nothing to say would hang until its deadline and then be a 504.

use std::collections::VecDeque;

use futures_util::stream;
use rust_svc_runtime::BoxStream;
use tokio::sync::broadcast::{self, error::RecvError};

/// What one watch stream watches.
pub(crate) trait Watcher: Send + 'static {
    /// What the channel carries.
    type Change: Clone + Send + 'static;
    /// What the stream sends.
    type Item: Send + 'static;

    /// What to send for one change, if it is about what is watched.
    fn on_change(&mut self, change: Self::Change) -> Option<Self::Item>;

    /// The current state again, for a watcher that fell so far behind that the channel dropped
    /// changes: what it watches is state, so the latest value replaces the missed ones.
    fn on_lag(&mut self) -> Vec<Self::Item>;

    /// Whether nothing watched can change any more; the stream then ends after what it has
    /// queued.
    fn is_done(&self) -> bool {
        false
    }
}

/// A stream of `initial`, then of what `watcher` makes of each change.
pub(crate) fn watch<W: Watcher>(
    initial: Vec<W::Item>,
    changes: broadcast::Receiver<W::Change>,
    watcher: W,
) -> BoxStream<W::Item> {
    let state = Watching {
        queue: initial.into(),
        changes: (!watcher.is_done()).then_some(changes),
        watcher,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.queue.pop_front() {
                return Some((Ok(item), state));
            }
            let changes = state.changes.as_mut()?;
            match changes.recv().await {
                Ok(change) => state.queue.extend(state.watcher.on_change(change)),
                Err(RecvError::Lagged(_)) => {
                    // The backlog left in the channel is older than the state read next: skip
                    // it by subscribing afresh first. A change between the two steps is sent
                    // twice, never lost.
                    *changes = changes.resubscribe();
                    state.queue.extend(state.watcher.on_lag());
                }
                Err(RecvError::Closed) => return None,
            }
            if state.watcher.is_done() {
                state.changes = None;
            }
        }
    }))
}

struct Watching<W: Watcher> {
    queue: VecDeque<W::Item>,
    /// `None` once the stream is to end after the queue.
    changes: Option<broadcast::Receiver<W::Change>>,
    watcher: W,
}
