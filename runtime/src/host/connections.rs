//! What one listener's connections may take (feature `host`): a bound on how many are open, a
//! deadline for a connection that sends nothing, an optional idle timeout, and accept errors
//! backed off instead of retried in a busy loop.
//!
//! Calls are shed by the interceptors; this is the layer under them. A connection costs a file
//! descriptor and some memory before it sends a byte, so without a bound a flood of connections
//! that never send a request (or a slow leak of clients that never close) fills the process's
//! descriptor limit, and from then on every `accept` fails and no call is served. Here:
//!
//! - at most [`ConnectionLimits::max_open`] connections are open per listener; one accepted over
//!   the bound is closed at once (before TLS, before a byte is read) and counted, so the
//!   descriptors kept free serve the calls that matter;
//! - a connection that has not sent its first request line (HTTP/1.1) or the HTTP/2 preface
//!   within [`ConnectionLimits::preface_timeout`] is closed. Once a connection has shown which
//!   protocol it speaks, hyper's own HTTP/1.1 header timeout (30 s) bounds a request line
//!   sent slowly, or never sent on a kept-alive connection;
//! - with [`ConnectionLimits::idle_timeout`] set, a connection on which no byte has moved either
//!   way for that long is closed (off by default: a quiet stream is indistinguishable from an
//!   idle connection at this layer, see there);
//! - an `accept` that fails for want of descriptors or memory is retried after 5 ms, doubling
//!   to 1 s, as Go's `net/http` does; the failure is logged once per burst, not per error.
//!
//! Metrics (through the `metrics` facade, labelled with the port's `port` label):
//! `server_connections_open` (gauge), `server_connections_refused_total` (closed over the
//! bound) and `server_connections_timed_out_total` (with `reason` `preface` or `idle`).
//!
//! Hand-written rather than taken from a crate: tower's `ConcurrencyLimit` bounds requests, not
//! connections, and tonic's and hyper's servers have no connection bound, no timeout before the
//! protocol is known, and no back-off on accept errors; the wrapper is a listener stream and an
//! I/O type that the port's server (serve.rs) takes as they are.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// The gauge of open connections per port.
pub const OPEN_GAUGE: &str = "server_connections_open";
/// The counter of connections closed at once because the port had its bound open.
pub const REFUSED_COUNTER: &str = "server_connections_refused_total";
/// The counter of connections closed by a timeout, by `reason` (`preface` or `idle`).
pub const TIMED_OUT_COUNTER: &str = "server_connections_timed_out_total";

/// The bound when the descriptor limit cannot be read.
#[cfg(not(unix))]
const FALLBACK_MAX_OPEN: usize = 768;
/// The highest default bound, however many descriptors the process may open.
const MAX_DEFAULT_OPEN: usize = 10_000;
/// The first wait after a failed `accept`.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest wait after failed `accept`s.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The HTTP/2 connection preface (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Limits on the connections of one listener; see the [module docs](self). Built from
/// [`ConnectionLimits::default`] and its setters:
///
/// ```
/// # use std::time::Duration;
/// # use rust_svc_runtime::host::ConnectionLimits;
/// let limits = ConnectionLimits::default()
///     .max_open(2_000)
///     .preface_timeout(Duration::from_secs(5))
///     .idle_timeout(Some(Duration::from_secs(600)));
/// assert_eq!(limits.max_open_connections(), 2_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    max_open: usize,
    preface_timeout: Duration,
    idle_timeout: Option<Duration>,
    accepts_while_shedding: u32,
}

impl Default for ConnectionLimits {
    /// At most three quarters of the process's open-file limit (leaving room for the database,
    /// the logs and the connections the service makes itself), and never more than 10,000; 10 s
    /// for the first request line or preface; no idle timeout; 500 new connections a second
    /// while a service of the port sheds load.
    fn default() -> Self {
        Self {
            max_open: default_max_open(),
            preface_timeout: Duration::from_secs(10),
            idle_timeout: None,
            accepts_while_shedding: 500,
        }
    }
}

impl ConnectionLimits {
    /// At most `max` connections open at once (at least 1); the ones accepted over it are
    /// closed at once. Keep it under the process's descriptor limit (`ulimit -n`).
    #[must_use]
    pub fn max_open(mut self, max: usize) -> Self {
        self.max_open = max.max(1);
        self
    }

    /// How long a new connection may take to send its first request line (HTTP/1.1) or the
    /// HTTP/2 preface before it is closed.
    #[must_use]
    pub fn preface_timeout(mut self, timeout: Duration) -> Self {
        self.preface_timeout = timeout;
        self
    }

    /// Closes a connection on which no byte has moved either way for `timeout` (`None`, the
    /// default: never). At this layer a stream that is quiet for that long (server-sent events
    /// with nothing to say, a watch with no change) looks the same as an idle connection and
    /// is closed too: set it above the longest quiet spell of your streams.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// While a service of the port is refusing calls for load (see
    /// [`Admission`](crate::call::admission::Admission)), accept at most `per_second` new
    /// connections a second (0: as many as come), as Envoy's overload manager stops accepting.
    /// An HTTP/1.1 client refused for load has its connection closed; this makes it wait its
    /// turn in the kernel's accept queue to come back, rather than keep the server busy
    /// refusing it. Connections already open are served as ever.
    #[must_use]
    pub fn accepts_while_shedding(mut self, per_second: u32) -> Self {
        self.accepts_while_shedding = per_second;
        self
    }

    /// The bound on open connections.
    pub fn max_open_connections(&self) -> usize {
        self.max_open
    }
}

/// Three quarters of the soft open-file limit, at most [`MAX_DEFAULT_OPEN`].
fn default_max_open() -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        match limit.current.and_then(|soft| usize::try_from(soft).ok()) {
            Some(soft) => (soft / 4 * 3).clamp(1, MAX_DEFAULT_OPEN),
            None => MAX_DEFAULT_OPEN, // unlimited
        }
    }
    #[cfg(not(unix))]
    {
        FALLBACK_MAX_OPEN
    }
}

/// The wait after each failed `accept` of a burst: 5 ms, doubling to 1 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Records a failure; the wait before the next `accept`.
    fn fail(&mut self) -> Duration {
        let delay = FIRST_BACKOFF
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_BACKOFF);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Records a success; how many failures the burst it ends had.
    fn succeed(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }
}

/// Whether an `accept` error is about one connection (the peer gave up before it was
/// accepted), not about the process: those are skipped without backing off.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// The connections of one listener, bounded: a stream of [`Guarded`] connections for the
/// port's server (serve.rs), or of admitted sockets with [`Incoming::poll_admit`] for a
/// loop that wraps them first (TLS).
pub(super) struct Incoming {
    listener: TcpListener,
    limits: ConnectionLimits,
    label: Arc<str>,
    open: Arc<AtomicUsize>,
    backoff: Backoff,
    waiting: Option<Pin<Box<Sleep>>>,
    /// Whether a service of the port is shedding load now.
    shedding: Shedding,
    last_accept: Option<Instant>,
}

/// Asks whether a service of the port is shedding load.
pub(super) type Shedding = Box<dyn Fn() -> bool + Send + Sync>;

impl Incoming {
    pub(super) fn new(
        listener: TcpListener,
        limits: ConnectionLimits,
        label: &str,
        shedding: Shedding,
    ) -> Self {
        let label: Arc<str> = label.into();
        metrics::gauge!(OPEN_GAUGE, "port" => label.to_string()).set(0.0);
        Self {
            listener,
            limits,
            label,
            open: Arc::new(AtomicUsize::new(0)),
            backoff: Backoff::default(),
            waiting: None,
            shedding,
            last_accept: None,
        }
    }

    /// When the next connection may be accepted while the port sheds load, if not now.
    fn paced_until(&self) -> Option<Instant> {
        let per_second = self.limits.accepts_while_shedding;
        let last = self.last_accept?;
        if per_second == 0 || !(self.shedding)() {
            return None;
        }
        let next = last + Duration::from_secs(1) / per_second;
        (next > Instant::now()).then_some(next)
    }

    /// Admits an accepted connection, or closes it when the bound is reached.
    fn admit(&self, stream: TcpStream) -> Option<(TcpStream, Guard)> {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        let slot = Slot {
            open: self.open.clone(),
            label: self.label.clone(),
        };
        if open > self.limits.max_open {
            drop(slot);
            drop(stream);
            metrics::counter!(REFUSED_COUNTER, "port" => self.label.to_string()).increment(1);
            tracing::debug!(port = %self.label, "closed a connection over the bound of {}", self.limits.max_open);
            return None;
        }
        metrics::gauge!(OPEN_GAUGE, "port" => self.label.to_string()).set(open as f64);
        // Small unary messages must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let guard = Guard {
            slot,
            preface_deadline: Instant::now() + self.limits.preface_timeout,
            idle_timeout: self.limits.idle_timeout,
        };
        Some((stream, guard))
    }

    /// The next connection admitted under the bound, with the guard to wrap it in once it is
    /// ready to serve. Failed accepts are backed off here.
    pub(super) fn poll_admit(&mut self, cx: &mut Context<'_>) -> Poll<(TcpStream, Guard)> {
        loop {
            if let Some(waiting) = &mut self.waiting {
                if waiting.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.waiting = None;
            }
            if let Some(next) = self.paced_until() {
                self.waiting = Some(Box::pin(tokio::time::sleep_until(next)));
                continue;
            }
            match self.listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((stream, _peer))) => {
                    self.last_accept = Some(Instant::now());
                    let failures = self.backoff.succeed();
                    if failures > 0 {
                        tracing::warn!(port = %self.label, "accepting connections again after {failures} failed accepts");
                    }
                    if let Some(admitted) = self.admit(stream) {
                        return Poll::Ready(admitted);
                    }
                }
                Poll::Ready(Err(error)) if is_connection_error(&error) => {}
                Poll::Ready(Err(error)) => {
                    // Out of descriptors or memory: wait for some to be freed rather than spin.
                    if self.backoff.failures == 0 {
                        tracing::warn!(port = %self.label, "accepting a connection failed: {error}; backing off (logged once until an accept succeeds)");
                    }
                    let delay = self.backoff.fail();
                    self.waiting = Some(Box::pin(tokio::time::sleep(delay)));
                }
            }
        }
    }
}

impl Stream for Incoming {
    type Item = io::Result<Guarded<TcpStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_admit(cx)
            .map(|(stream, guard)| Some(Ok(guard.wrap(stream))))
    }
}

/// What an admitted connection carries until it closes: its place under the bound and its
/// deadlines.
pub(super) struct Guard {
    slot: Slot,
    preface_deadline: Instant,
    idle_timeout: Option<Duration>,
}

impl Guard {
    /// `io` (the accepted socket, or the TLS stream over it) under the guard.
    pub(super) fn wrap<IO>(self, io: IO) -> Guarded<IO> {
        Guarded {
            io,
            timer: Box::pin(tokio::time::sleep_until(self.preface_deadline)),
            preface: Preface::Reading(0),
            last_active: Instant::now(),
            guard: self,
        }
    }
}

/// One open connection's place under the bound, given back when the connection closes.
struct Slot {
    open: Arc<AtomicUsize>,
    label: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let open = self.open.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!(OPEN_GAUGE, "port" => self.label.to_string()).set(open as f64);
    }
}

/// Where a connection is in showing its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preface {
    /// This many bytes of the HTTP/2 preface have been read, and nothing else (0: no byte yet).
    Reading(usize),
    /// The protocol is known: the whole preface arrived, or a byte that is not in it (HTTP/1.1,
    /// whose request line hyper's own header timeout then bounds).
    Known,
}

/// A connection under its listener's [`ConnectionLimits`]: closed with `TimedOut` when it
/// takes too long to show its protocol or stays idle too long, and counted until dropped.
pub struct Guarded<IO> {
    io: IO,
    guard: Guard,
    preface: Preface,
    last_active: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<IO> Guarded<IO> {
    /// Notes the bytes read: activity, and progress towards the HTTP/2 preface.
    fn note_read(&mut self, bytes: &[u8]) {
        if self.guard.idle_timeout.is_some() {
            self.last_active = Instant::now();
        }
        if let Preface::Reading(matched) = self.preface {
            let wanted = &H2_PREFACE[matched..];
            let common = wanted.len().min(bytes.len());
            self.preface = if bytes[..common] != wanted[..common] || common == wanted.len() {
                Preface::Known
            } else {
                Preface::Reading(matched + common)
            };
        }
    }

    /// When the connection times out as things stand, and why; `None`: never.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        match self.preface {
            Preface::Reading(_) => Some((self.guard.preface_deadline, "preface")),
            Preface::Known => self
                .guard
                .idle_timeout
                .map(|idle| (self.last_active + idle, "idle")),
        }
    }

    /// Polls the timer: `Ready` with the reason once the connection has timed out. Activity
    /// moves the deadline later without touching the timer, which is re-armed when it fires
    /// early.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<&'static str> {
        loop {
            let Some((deadline, reason)) = self.deadline() else {
                return Poll::Pending;
            };
            if self.timer.deadline() > deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(reason);
            }
            self.timer.as_mut().reset(deadline);
        }
    }

    fn wrote(&mut self, written: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = written
            && *n > 0
            && self.guard.idle_timeout.is_some()
        {
            self.last_active = Instant::now();
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.note_read(read);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.poll_timeout(cx) {
                Poll::Ready(reason) => {
                    metrics::counter!(TIMED_OUT_COUNTER, "port" => this.guard.slot.label.to_string(), "reason" => reason)
                        .increment(1);
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connection closed: {reason} timeout"),
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO: Connected> Connected for Guarded<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests;
