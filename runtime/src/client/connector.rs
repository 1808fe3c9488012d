//! How a client dials an endpoint: TCP (Nagle's algorithm off), then TLS for an `https://` one
//! (feature `tls`, [`ClientTls`](super::ClientTls)), under the same connection code either way
//! (the client's own HTTP/2 connection, `http2.rs`, and hyper-util's HTTP/1.1 client). An HTTP/2
//! connection's writes are batched ([`BatchedWrites`]).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

use super::connect::BoxError;
#[cfg(feature = "tls")]
use super::tls::Tls;
use crate::rpc::BatchedWrites;

/// What an endpoint's connections are made with: TLS for `https://` endpoints, or, for the
/// test harness's in-memory servers, a pipe instead of TCP.
#[derive(Clone, Default)]
pub(crate) struct Dial {
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Arc<Tls>>,
    #[cfg(not(feature = "tls"))]
    pub(super) tls: Option<Arc<Never>>,
    pub(super) memory: Option<MemoryConnect>,
    /// The address to connect to, for an endpoint a resolver found: the origin's host still
    /// names the server in requests and to TLS (SNI, the certificate's name).
    pub(super) address: Option<SocketAddr>,
    /// Told when a connection cannot be made or ends, so that a resolved name is resolved
    /// again (an address that went away is often the first sign of a change).
    pub(super) on_failure: Option<Arc<tokio::sync::Notify>>,
}

/// Opens an in-memory connection: one end of a pipe whose other end a server takes.
pub(crate) type MemoryConnect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<DuplexStream>> + Send>> + Send + Sync>;

impl Dial {
    /// Connections made by `connect` (the harness's in-memory pipes).
    #[cfg_attr(
        not(feature = "host"),
        expect(dead_code, reason = "the harness needs `host`")
    )]
    pub(crate) fn memory(connect: MemoryConnect) -> Self {
        Self {
            memory: Some(connect),
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for Dial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dial")
            .field("tls", &self.tls)
            .field("memory", &self.memory.is_some())
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// No TLS without the feature.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
pub(super) enum Never {}

/// A connection made by [`dial`].
#[derive(Debug)]
pub(super) enum Io {
    Tcp(BatchedWrites<TcpStream>),
    Memory(BatchedWrites<DuplexStream>),
    #[cfg(feature = "tls")]
    Tls(Box<BatchedWrites<tokio_rustls::client::TlsStream<TcpStream>>>),
}

/// Connects to `origin`: TCP, then TLS with `dial`'s settings when it has some (an `https://`
/// endpoint). `batched`: an HTTP/2 connection, whose writes are batched.
pub(super) async fn dial(origin: &http::Uri, dial: &Dial, batched: bool) -> Result<Io, BoxError> {
    if let Some(connect) = &dial.memory {
        return Ok(Io::Memory(BatchedWrites::new(connect().await?)));
    }
    let tcp = match dial.address {
        Some(address) => TcpStream::connect(address).await.and_then(|tcp| {
            tcp.set_nodelay(true)?;
            Ok(tcp)
        }),
        None => {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http.call(origin.clone())
                .await
                .map(TokioIo::into_inner)
                .map_err(io::Error::other)
        }
    };
    let tcp = tcp.inspect_err(|_| dial.failed())?;
    let wrap = |io| {
        if batched {
            BatchedWrites::new(io)
        } else {
            BatchedWrites::unbatched(io)
        }
    };
    match &dial.tls {
        None => Ok(Io::Tcp(wrap(tcp))),
        #[cfg(feature = "tls")]
        Some(tls) => {
            let stream = tls.connect(origin, tcp).await?;
            Ok(Io::Tls(Box::new(if batched {
                BatchedWrites::new(stream)
            } else {
                BatchedWrites::unbatched(stream)
            })))
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match **never {},
    }
}

/// hyper-util's connector for the HTTP/1.1 transport: [`dial`], unbatched.
impl Dial {
    /// Reports a connection that could not be made or has ended.
    pub(super) fn failed(&self) {
        if let Some(notify) = &self.on_failure {
            notify.notify_one();
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Dialer(pub(super) Dial);

impl Service<http::Uri> for Dialer {
    type Response = TokioIo<Io>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Io>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let settings = self.0.clone();
        Box::pin(async move { Ok(TokioIo::new(dial(&uri, &settings, false).await?)) })
    }
}

impl Connection for Io {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            Self::Memory(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(io) => Pin::new(io).poll_write(cx, buf),
            Self::Memory(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Self::Memory(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Self::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(io) => io.is_write_vectored(),
            Self::Memory(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            Self::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io) => Pin::new(io).poll_flush(cx),
            Self::Memory(io) => Pin::new(io).poll_flush(cx),
            #[cfg(feature = "tls")]
            Self::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            Self::Memory(io) => Pin::new(io).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Self::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
