//! Failures of one kind summarised: the first call of a kind in a window gets its access line,
//! the rest of the window's are counted, and one line with the count closes the window. A
//! flood of refusals or errors (a dependency down, a port past its capacity) then writes a few
//! lines a second instead of one per call, and cannot fill a disk.
//!
//! A kind is one logger's (service, method, side, code). The windows live in one map for the
//! process, keyed by the logger too, so that loggers (and tests running side by side) do not
//! share counts; a logger's copies share them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A kind of failure of one logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Kind {
    pub(super) logger: u64,
    pub(super) service: &'static str,
    pub(super) method: &'static str,
    pub(super) side: &'static str,
    pub(super) code: &'static str,
}

/// The window a kind is in: when its logged line was, and how many calls were counted since.
#[derive(Debug)]
struct Window {
    started: Instant,
    suppressed: u64,
}

static WINDOWS: LazyLock<Mutex<HashMap<Kind, Window>>> = LazyLock::new(Mutex::default);

/// A number for each new logger.
static NEXT_LOGGER: AtomicU64 = AtomicU64::new(0);

/// A new logger's number.
pub(super) fn new_logger() -> u64 {
    NEXT_LOGGER.fetch_add(1, Ordering::Relaxed)
}

/// What to do with the access line of a failed call of `kind`, at `now`, with windows of
/// `length`: `Some(n)` logs it, after a summary of the `n` calls counted in the window that
/// ended (none when `n` is 0); `None` counts it in the current window instead. The first call
/// counted in a window arranges (through `close_later`) for the window to be closed after
/// `length` even if no call of the kind comes again.
pub(super) fn admit(
    kind: Kind,
    now: Instant,
    length: Duration,
    close_later: impl FnOnce(Instant),
) -> Option<u64> {
    let mut windows = WINDOWS.lock().unwrap_or_else(PoisonError::into_inner);
    match windows.get_mut(&kind) {
        Some(window) if now.duration_since(window.started) < length => {
            window.suppressed += 1;
            if window.suppressed == 1 {
                close_later(window.started);
            }
            None
        }
        Some(window) => {
            let ended = std::mem::take(&mut window.suppressed);
            window.started = now;
            Some(ended)
        }
        None => {
            windows.insert(
                kind,
                Window {
                    started: now,
                    suppressed: 0,
                },
            );
            Some(0)
        }
    }
}

/// Closes the window of `kind` that started at `started`, if no later call has: the count of
/// calls it suppressed, which the caller logs (0: nothing to say).
pub(super) fn close(kind: Kind, started: Instant) -> u64 {
    let mut windows = WINDOWS.lock().unwrap_or_else(PoisonError::into_inner);
    match windows.get_mut(&kind) {
        Some(window) if window.started == started => std::mem::take(&mut window.suppressed),
        _ => 0,
    }
}
