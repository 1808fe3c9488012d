//! Writes of many calls on one HTTP/2 connection sent in one system call.
//!
//! hyper's HTTP/2 connection task writes whatever frames it holds each time it runs, and a call
//! started or finished on the connection wakes it at once: under tokio's scheduler the task then
//! runs right after the call's, so a hundred calls started together are a hundred `writev`s of
//! one request each (and a hundred answers a hundred more on the server), and as many wake-ups
//! of the peer reading them. grpc-go's writer flushes only once nothing more is queued; this
//! does the same with what a task can see. The first write after a flush waits for one turn of
//! the scheduler (the task wakes itself and yields), so the calls that are ready to run
//! meanwhile put their frames beside it, and the write that follows carries them all. A lone
//! call waits only for the tasks already queued.
//!
//! The client's connections (`client`) and a port's HTTP/2 connections (`host`) are made so.
//! Written here rather than set: neither hyper nor h2 has such a setting (hyper's
//! `max_send_buf_size` bounds the buffer, it does not delay the write).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface a client opens with (RFC 9113, 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether a connection's writes are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batching {
    On,
    Off,
    /// On if the connection turns out to speak HTTP/2, told by its first bytes: `matched` of
    /// the preface's have been read so far (a read may end inside it).
    IfHttp2 {
        matched: usize,
    },
}

/// A connection whose first write after each flush yields once (see the module's docs).
#[derive(Debug)]
pub(crate) struct BatchedWrites<T> {
    io: T,
    batching: Batching,
    /// Whether this write already waited its turn.
    yielded: bool,
}

impl<T> BatchedWrites<T> {
    /// Every write batched: a client's HTTP/2 connection.
    pub(crate) fn new(io: T) -> Self {
        Self {
            io,
            batching: Batching::On,
            yielded: false,
        }
    }

    /// No write batched: a client's HTTP/1.1 connection, one request at a time.
    pub(crate) fn unbatched(io: T) -> Self {
        Self {
            io,
            batching: Batching::Off,
            yielded: false,
        }
    }

    /// Writes batched once the peer has opened with HTTP/2's preface: a server's connection
    /// that may speak HTTP/1.1 instead, whose one answer at a time has nothing to wait for.
    #[cfg_attr(
        not(any(feature = "host", test)),
        expect(dead_code, reason = "only a port's connections (`host`) are made so")
    )]
    pub(crate) fn if_http2(io: T) -> Self {
        Self {
            io,
            batching: Batching::IfHttp2 { matched: 0 },
            yielded: false,
        }
    }

    /// `Pending` once per batch, with the task woken to run again after the tasks queued.
    fn wait_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded || self.batching != Batching::On {
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

    /// Decides on batching from the bytes read, `read`, that follow the `matched` first ones
    /// (all of the preface's): undecided until four bytes have come.
    fn early_read(&mut self, matched: usize, read: &[u8]) {
        let rest = &PREFACE[matched..];
        let common = read.len().min(rest.len());
        self.batching = if read[..common] != rest[..common] {
            Batching::Off
        } else if matched + common >= 4 {
            // `PRI ` begins no HTTP/1.1 request.
            Batching::On
        } else {
            Batching::IfHttp2 {
                matched: matched + common,
            }
        };
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BatchedWrites<T> {
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

impl<T: AsyncRead + Unpin> AsyncRead for BatchedWrites<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Batching::IfHttp2 { matched } = this.batching
            && buf.filled().len() > before
        {
            this.early_read(matched, &buf.filled()[before..]);
        }
        read
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

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

    type Near = BatchedWrites<tokio::io::DuplexStream>;

    /// A connection to a pipe of `capacity` bytes, its far end, and a waker counting wake-ups.
    fn pipe(capacity: usize) -> (Near, tokio::io::DuplexStream, Arc<Wakes>, std::task::Waker) {
        let (near, far) = tokio::io::duplex(capacity);
        let wakes = Arc::new(Wakes::default());
        let waker = std::task::Waker::from(wakes.clone());
        (BatchedWrites::new(near), far, wakes, waker)
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

    /// The preface read in pieces, as a read may end anywhere: decided on the whole, not on
    /// each piece from the preface's start.
    #[tokio::test]
    async fn a_preface_split_across_reads_is_still_told_apart() {
        for (pieces, batched) in [
            (&[&b"PR"[..], b"I * HTTP/2.0\r\n"][..], true),
            (&[&b"P"[..], b"R", b"I", b" * HTTP/2.0"][..], true),
            (&[&b"PR"[..], b"OPFIND / HTTP/1.1\r\n"][..], false),
            (&[&b"P"[..], b"OST /v1 HTTP/1.1\r\n"][..], false),
        ] {
            let (near, mut far) = tokio::io::duplex(64);
            let mut io = BatchedWrites::if_http2(near);
            for piece in pieces {
                tokio::io::AsyncWriteExt::write_all(&mut far, piece)
                    .await
                    .unwrap();
                let mut read = vec![0; piece.len()];
                io.read_exact(&mut read).await.unwrap();
            }
            let waker = std::task::Waker::from(Arc::new(Wakes::default()));
            let mut cx = Context::from_waker(&waker);
            let written = Pin::new(&mut io).poll_write(&mut cx, b"y");
            assert_eq!(written.is_pending(), batched, "{pieces:?}");
        }
    }

    #[tokio::test]
    async fn a_server_connection_batches_only_once_it_has_read_http2s_preface() {
        for (first_bytes, batched) in [
            (PREFACE, true),
            (&b"PRI * HT"[..], true),
            (&b"GET / HTTP/1.1\r\n\r\n"[..], false),
            (&b"POST /v1/orders HTTP/1.1\r\n"[..], false),
        ] {
            let (near, mut far) = tokio::io::duplex(64);
            let mut io = BatchedWrites::if_http2(near);
            let waker = std::task::Waker::from(Arc::new(Wakes::default()));
            let mut cx = Context::from_waker(&waker);
            // Nothing read yet: not batched.
            assert!(matches!(
                Pin::new(&mut io).poll_write(&mut cx, b"x"),
                Poll::Ready(Ok(1))
            ));
            tokio::io::AsyncWriteExt::write_all(&mut far, first_bytes)
                .await
                .unwrap();
            let mut read = [0; 64];
            tokio::io::AsyncReadExt::read(&mut io, &mut read)
                .await
                .unwrap();
            let written = Pin::new(&mut io).poll_write(&mut cx, b"y");
            assert_eq!(written.is_pending(), batched, "{first_bytes:?}");
        }
    }
}
