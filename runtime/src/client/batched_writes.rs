//! Writes of many calls on one HTTP/2 connection sent in one system call.
//!
//! hyper's HTTP/2 connection task writes whatever frames it holds each time it runs, and a call
//! started on the connection wakes it at once: under tokio's scheduler the task then runs right
//! after the call's, so a hundred calls started together are a hundred `writev`s of one
//! request each, and as many wake-ups of the server reading them. grpc-go's writer flushes only
//! once nothing more is queued; this does the same with what a task can see. The first write
//! after a flush waits for one turn of the scheduler (the task wakes itself and yields), so the
//! calls that are ready to run meanwhile put their frames beside it, and the write that follows
//! carries them all. A lone call waits only for the tasks already queued.
//!
//! A connector of its own rather than a setting: neither hyper nor h2 has one (hyper's
//! `max_send_buf_size` bounds the buffer, it does not delay the write).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use tower_service::Service;

/// A connection whose first write after each flush yields once (see the module's docs).
#[derive(Debug)]
pub(crate) struct BatchedWrites<T> {
    io: T,
    /// Whether this write already waited its turn.
    yielded: bool,
}

impl<T> BatchedWrites<T> {
    pub(crate) fn new(io: T) -> Self {
        Self { io, yielded: false }
    }

    /// `Pending` once per batch, with the task woken to run again after the tasks queued.
    fn wait_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// `written` as the write's result, the next write waiting its turn again once this one is
    /// done.
    fn written<R>(&mut self, written: Poll<R>) -> Poll<R> {
        if written.is_ready() {
            self.yielded = false;
        }
        written
    }
}

impl<T: Write + Unpin> Write for BatchedWrites<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.wait_turn(cx));
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.written(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.wait_turn(cx));
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.written(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<T: Read + Unpin> Read for BatchedWrites<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: Connection> Connection for BatchedWrites<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

/// tonic's TCP connector (Nagle's algorithm off, any scheme: tonic's channel adds TLS for
/// `https`) with [`BatchedWrites`] around each connection.
#[derive(Clone, Debug)]
pub(crate) struct BatchingConnector(HttpConnector);

impl BatchingConnector {
    pub(crate) fn new() -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        Self(http)
    }
}

impl Service<Uri> for BatchingConnector {
    type Response = BatchedWrites<<HttpConnector as Service<Uri>>::Response>;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = futures_util::future::MapOk<
        <HttpConnector as Service<Uri>>::Future,
        fn(<HttpConnector as Service<Uri>>::Response) -> Self::Response,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        use futures_util::TryFutureExt;
        self.0.call(uri).map_ok(BatchedWrites::new)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use hyper_util::rt::TokioIo;
    use tokio::io::AsyncReadExt;

    use super::*;

    /// Counts the wake-ups of the task it stands for.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    type Near = BatchedWrites<TokioIo<tokio::io::DuplexStream>>;

    /// A connection to a pipe of `capacity` bytes, its far end, and a waker counting wake-ups.
    fn pipe(capacity: usize) -> (Near, tokio::io::DuplexStream, Arc<Wakes>, std::task::Waker) {
        let (near, far) = tokio::io::duplex(capacity);
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(wakes.clone());
        (BatchedWrites::new(TokioIo::new(near)), far, wakes, waker)
    }

    fn write(io: &mut Near, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(io).poll_write(cx, bytes)
    }

    #[tokio::test]
    async fn the_first_write_of_a_batch_waits_one_turn_and_the_next_goes_through() {
        let (mut io, mut far, wakes, waker) = pipe(64);
        let mut cx = Context::from_waker(&waker);

        // The first write yields: nothing is written, and the task is woken to run again.
        assert!(write(&mut io, &mut cx, b"ab").is_pending());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        // Run again, it writes, and so does the write after it within the same flush.
        assert!(matches!(write(&mut io, &mut cx, b"ab"), Poll::Ready(Ok(2))));
        // A write done, the next batch waits its turn again.
        assert!(write(&mut io, &mut cx, b"cd").is_pending());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        let bufs = [io::IoSlice::new(b"c"), io::IoSlice::new(b"d")];
        let Poll::Ready(Ok(written)) = Pin::new(&mut io).poll_write_vectored(&mut cx, &bufs) else {
            panic!("the second batch is written once it has had its turn");
        };
        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());

        drop(io);
        let mut received = Vec::new();
        far.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, [&b"ab"[..], &b"cd"[..written]].concat());
    }

    #[tokio::test]
    async fn a_write_the_connection_cannot_take_yet_does_not_yield_again() {
        // A pipe of 2 bytes: the second write finds it full.
        let (mut io, mut far, wakes, waker) = pipe(2);
        let mut cx = Context::from_waker(&waker);

        assert!(write(&mut io, &mut cx, b"ab").is_pending());
        assert!(matches!(write(&mut io, &mut cx, b"ab"), Poll::Ready(Ok(2))));
        assert!(write(&mut io, &mut cx, b"cd").is_pending());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        // Full: pending on the pipe, not on a turn (the task is not woken to run again), so
        // once there is room it is written at once.
        assert!(write(&mut io, &mut cx, b"cd").is_pending());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        let mut received = [0; 2];
        far.read_exact(&mut received).await.unwrap();
        assert!(matches!(write(&mut io, &mut cx, b"cd"), Poll::Ready(Ok(2))));
    }
}
