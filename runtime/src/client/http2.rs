//! Calls over HTTP/2 (`http://` endpoints, and `https://` ones with TLS under the same code,
//! `connector.rs`), sent on an h2 connection directly.
//!
//! tonic's `Channel` puts three hops between a call and the connection: a buffer whose worker
//! task takes every request, hyper's dispatch channel into the connection's task, and two tasks
//! hyper spawns per call (one pipes the request body, which must wait for the stream to open,
//! one hands the response back). Here the caller's own task opens the stream, writes the
//! messages the body already holds (a unary request's only message, with the end of the stream
//! in the same frame) and awaits the response; only a body still being produced (a client
//! stream) gets a task of its own. A proxied GET through the gateway took 19 % fewer
//! instructions this way (bench/RESULTS.md).
//!
//! The connection is made on first use and shared by every call; made again on the next call
//! after it closes (a lost connection, the server's GOAWAY). A call that finds the connection
//! closed before its stream opened is sent once more on a new one: nothing of it was sent. The
//! connection's settings are hyper's client defaults, which tonic's channel used.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::future::{BoxFuture, Shared};
use futures_util::{FutureExt, TryFutureExt};
use h2::client::SendRequest;
use http_body::{Body as _, Frame};
use tonic::body::Body;

use super::connect::BoxError;
use super::connector::{Dial, dial};

/// What every call on one endpoint shares: its origin and its connection.
#[derive(Clone)]
pub(super) struct Http2 {
    shared: Arc<Endpoint>,
}

struct Endpoint {
    origin: http::Uri,
    dial: Dial,
    connection: Mutex<Connection>,
}

/// The connection's state. The number tells connections apart, so that a call or a closed
/// connection forgets only the connection it saw.
enum Connection {
    Idle { next: u64 },
    Connecting(Connecting),
    Open(u64, SendRequest<Bytes>),
}

/// A connection being made, which every call that wants it awaits.
type Connecting = Shared<BoxFuture<'static, Result<(u64, SendRequest<Bytes>), Arc<ConnectFailed>>>>;

impl fmt::Debug for Http2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2")
            .field("origin", &self.shared.origin)
            .finish_non_exhaustive()
    }
}

/// The connection could not be made; every call waiting on it fails `UNAVAILABLE` with this.
#[derive(Debug)]
struct ConnectFailed {
    origin: http::Uri,
    source: BoxError,
}

impl fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect to {}: {}", self.origin, self.source)
    }
}

impl std::error::Error for ConnectFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The request headers HTTP/2 does not carry (RFC 9113 §8.2.2), which h2 refuses to send;
/// names rather than strings, so that no call parses them.
const CONNECTION_HEADERS: [http::HeaderName; 5] = [
    http::header::CONNECTION,
    http::HeaderName::from_static("keep-alive"),
    http::HeaderName::from_static("proxy-connection"),
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
];

/// What the client says it is, when the caller did not say.
const USER_AGENT: &str = concat!("grpc-rust-svc/", env!("CARGO_PKG_VERSION"));

impl Http2 {
    /// Calls to `origin` (`http://host:port`, or `https://` with TLS in `dial`), connecting on
    /// first use.
    pub(super) fn new(origin: http::Uri, dial: Dial) -> Self {
        Self {
            shared: Arc::new(Endpoint {
                origin,
                dial,
                connection: Mutex::new(Connection::Idle { next: 0 }),
            }),
        }
    }

    /// Sends `request` (an absolute URI) and answers with the response's head and a body that
    /// streams the response's data and trailers.
    ///
    /// Combinators rather than one `async fn`: a coroutine keeps the slot of an argument it
    /// has moved into a future it awaits, so the request would be held twice, and the call's
    /// future, which the transport boxes, would outgrow what the allocator serves from its
    /// per-thread cache (2,248 bytes then, where glibc's cache stops at 1,032).
    pub(super) fn send(
        self,
        request: http::Request<Body>,
    ) -> impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static {
        self.ready_sender()
            .and_then(move |sender| std::future::ready(open(sender, request)))
            .and_then(|opened| opened)
    }

    /// A sender on the connection, ready for a new stream.
    async fn ready_sender(self) -> Result<SendRequest<Bytes>, BoxError> {
        let mut fresh = false;
        loop {
            let (number, sender) = self.connection().await?;
            match sender.ready().await {
                Ok(sender) => return Ok(sender),
                // Closed before the stream opened: nothing was sent, so once more on a new one.
                Err(error) => {
                    self.shared.forget(number);
                    if fresh {
                        return Err(error.into());
                    }
                    fresh = true;
                }
            }
        }
    }

    /// The open connection, or the one being made, or a new one.
    async fn connection(&self) -> Result<(u64, SendRequest<Bytes>), BoxError> {
        let connecting = {
            let mut connection = self.shared.lock();
            match &*connection {
                Connection::Open(number, sender) => return Ok((*number, sender.clone())),
                Connection::Connecting(connecting) => connecting.clone(),
                Connection::Idle { next } => {
                    let connecting = connect(&self.shared, *next);
                    *connection = Connection::Connecting(connecting.clone());
                    connecting
                }
            }
        };
        connecting.await.map_err(|failed| {
            let mut status = tonic::Status::unavailable(failed.to_string());
            status.set_source(failed);
            status.into()
        })
    }
}

impl Endpoint {
    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // The state is replaced whole under the lock: a panic elsewhere leaves it consistent.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets connection `number` if it is still the one calls get.
    fn forget(&self, number: u64) {
        let mut connection = self.lock();
        if matches!(&*connection, Connection::Open(open, _) if *open == number) {
            *connection = Connection::Idle { next: number + 1 };
        }
    }
}

/// Makes connection `number` in a task of its own, so that a caller whose deadline passes
/// while it waits does not abandon it for the others; the calls waiting share its outcome.
fn connect(endpoint: &Arc<Endpoint>, number: u64) -> Connecting {
    let origin = endpoint.origin.clone();
    let settings = endpoint.dial.clone();
    // Weak: a client dropped while it connects lets the connection go with it.
    let endpoint: Weak<Endpoint> = Arc::downgrade(endpoint);
    let failed_origin = origin.clone();
    let task = tokio::spawn(async move {
        let made = handshake(origin.clone(), &settings)
            .await
            .map_err(|source| Arc::new(ConnectFailed { origin, source }));
        if let Some(endpoint) = endpoint.upgrade() {
            let mut connection = endpoint.lock();
            *connection = match &made {
                Ok(sender) => Connection::Open(number, sender.clone()),
                Err(_) => Connection::Idle { next: number + 1 },
            };
        }
        made.map(|sender| (number, sender))
    });
    async move {
        task.await.unwrap_or_else(|joined| {
            Err(Arc::new(ConnectFailed {
                origin: failed_origin,
                source: joined.into(),
            }))
        })
    }
    .boxed()
    .shared()
}

/// A connection (TCP, TLS for `https://`; writes batched, Nagle off) and HTTP/2's handshake on
/// it, with hyper's client settings; the connection's own task drives it until it closes.
async fn handshake(origin: http::Uri, settings: &Dial) -> Result<SendRequest<Bytes>, BoxError> {
    let io = dial(&origin, settings, true).await?;
    let (sender, connection) = h2::client::Builder::new()
        .initial_max_send_streams(100)
        .initial_window_size(2 * 1024 * 1024)
        .initial_connection_window_size(5 * 1024 * 1024)
        .max_frame_size(16 * 1024)
        .max_header_list_size(16 * 1024)
        .max_send_buffer_size(1024 * 1024)
        .max_local_error_reset_streams(Some(1024))
        .enable_push(false)
        .handshake::<_, Bytes>(io)
        .await?;
    let ended = settings.clone();
    tokio::spawn(async move {
        // How it ended reaches the calls on it; the next call sees a closed sender and
        // connects again.
        let _ = connection.await;
        ended.failed();
    });
    Ok(sender)
}

/// Opens the stream of `request` on `sender`: its headers sent (without those HTTP/2 does not
/// carry), its body and response left to [`Opened`].
fn open(mut sender: SendRequest<Bytes>, request: http::Request<Body>) -> Result<Opened, BoxError> {
    let (mut head, body) = request.into_parts();
    // Rare in a request: looked for in one pass over the names, where removing each by name
    // hashes it every time.
    if head
        .headers
        .keys()
        .any(|name| CONNECTION_HEADERS.contains(name))
    {
        for name in &CONNECTION_HEADERS {
            head.headers.remove(name);
        }
    }
    if head
        .headers
        .get(http::header::TE)
        .is_some_and(|te| te != "trailers")
    {
        head.headers.remove(http::header::TE);
    }
    if !head.headers.contains_key(http::header::USER_AGENT) {
        head.headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(USER_AGENT),
        );
    }
    // As hyper does: a body's known length (gRPC's bodies have none), but no zero length
    // where a method's payload has no meaning.
    if let Some(length) = body.size_hint().exact()
        && (length > 0
            || ![
                http::Method::GET,
                http::Method::HEAD,
                http::Method::DELETE,
                http::Method::CONNECT,
            ]
            .contains(&head.method))
    {
        head.headers
            .entry(http::header::CONTENT_LENGTH)
            .or_insert_with(|| length.into());
    }
    let end_of_stream = body.is_end_stream();
    let (response, stream) =
        sender.send_request(http::Request::from_parts(head, ()), end_of_stream)?;
    Ok(Opened {
        response,
        body: (!end_of_stream).then_some((body, stream)),
    })
}

/// A request whose stream is open: on its first poll the body is written as far as it is
/// ready ([`write_ready`], the rest to [`pipe`]), then the response is awaited.
struct Opened {
    response: h2::client::ResponseFuture,
    body: Option<(Body, h2::SendStream<Bytes>)>,
}

impl Future for Opened {
    type Output = Result<http::Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if let Some((mut body, mut stream)) = self.body.take() {
            match write_ready(&mut body, &mut stream, cx) {
                Ok(true) => {}
                Ok(false) => {
                    tokio::spawn(pipe(body, stream));
                }
                // The stream takes no more: the server answered and closed it before the body
                // was written (grpc-go answers an unknown service at once, trailers-only, and
                // resets the stream), or the connection is gone. The response says which; the
                // write's own error ("inactive stream") would hide the answer.
                Err(Unwritten::Wire) => {}
                Err(Unwritten::Body(error)) => return Poll::Ready(Err(error)),
            }
        }
        let response = std::task::ready!(Pin::new(&mut self.response).poll(cx))?;
        Poll::Ready(Ok(response.map(|recv| {
            Body::new(Received {
                recv,
                data_done: false,
            })
        })))
    }
}

/// What [`write_ready`] writes before it leaves the rest of a body to [`pipe`], which waits on
/// the stream's send window: a client stream whose messages are all ready at once must not be
/// buffered whole. HTTP/2's initial stream window.
const WRITTEN_AT_ONCE: usize = 64 * 1024;

/// Why [`write_ready`] stopped short.
enum Unwritten {
    /// The request body failed: the stream is reset and the call fails with this.
    Body(BoxError),
    /// The stream would take no more frames: what ended it is the response's to say.
    Wire,
}

impl From<h2::Error> for Unwritten {
    fn from(_: h2::Error) -> Self {
        Self::Wire
    }
}

/// Writes the frames `body` has ready (up to [`WRITTEN_AT_ONCE`]), holding the last data back
/// until the next poll says whether the body ends with it (a unary request then takes one DATA
/// frame). `Ok(true)` when the whole body was written.
fn write_ready(
    body: &mut Body,
    stream: &mut h2::SendStream<Bytes>,
    cx: &mut TaskContext<'_>,
) -> Result<bool, Unwritten> {
    let mut held: Option<Bytes> = None;
    let mut written = 0;
    loop {
        if written >= WRITTEN_AT_ONCE {
            if let Some(earlier) = held.take() {
                stream.send_data(earlier, false)?;
            }
            return Ok(false);
        }
        match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    if body.is_end_stream() {
                        if let Some(earlier) = held.take() {
                            stream.send_data(earlier, false)?;
                        }
                        stream.send_data(data, true)?;
                        return Ok(true);
                    }
                    written += data.len();
                    if let Some(earlier) = held.replace(data) {
                        stream.send_data(earlier, false)?;
                    }
                }
                // Trailers end the body; a frame of any other kind is not for the wire.
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        if let Some(earlier) = held.take() {
                            stream.send_data(earlier, false)?;
                        }
                        stream.send_trailers(trailers)?;
                        return Ok(true);
                    }
                }
            },
            Poll::Ready(Some(Err(error))) => {
                stream.send_reset(h2::Reason::CANCEL);
                return Err(Unwritten::Body(error.into()));
            }
            Poll::Ready(None) => {
                stream.send_data(held.take().unwrap_or_default(), true)?;
                return Ok(true);
            }
            Poll::Pending => {
                if let Some(earlier) = held.take() {
                    stream.send_data(earlier, false)?;
                }
                return Ok(false);
            }
        }
    }
}

/// Writes the rest of a body still being produced (a client stream), as the stream's send
/// window allows: a slow server slows the sender rather than filling memory. Stops when the
/// server resets the stream.
async fn pipe(mut body: Body, mut stream: h2::SendStream<Bytes>) {
    loop {
        stream.reserve_capacity(1);
        while stream.capacity() == 0 {
            match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
        let frame = std::future::poll_fn(|cx| {
            if let Poll::Ready(reset) = stream.poll_reset(cx) {
                return Poll::Ready(Err(reset));
            }
            Pin::new(&mut body).poll_frame(cx).map(Ok)
        })
        .await;
        let written = match frame {
            Err(_reset) => return,
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    stream.send_data(data, end).map(|()| !end)
                }
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => stream.send_trailers(trailers).map(|()| false),
                    Err(_) => Ok(true),
                },
            },
            Ok(Some(Err(_))) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            Ok(None) => stream.send_data(Bytes::new(), true).map(|()| false),
        };
        if !matches!(written, Ok(true)) {
            return;
        }
    }
}

/// A response body: the stream's data (its flow-control window given back as it is read),
/// then its trailers.
struct Received {
    recv: h2::RecvStream,
    data_done: bool,
}

impl http_body::Body for Received {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match std::task::ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Only fails for a stream already closed, whose window no longer matters.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => self.data_done = true,
            }
        }
        Poll::Ready(match std::task::ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Some(Ok(Frame::trailers(trailers))),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use http_body_util::Full;

    use super::*;

    /// A server that answers a call at once, trailers-only, and resets the stream before the
    /// request's body arrives, as grpc-go does for a service it does not have: the call gets
    /// that answer, not the error of writing a body to a closed stream.
    #[tokio::test]
    async fn an_answer_that_closed_the_stream_before_the_body_is_the_calls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(socket).await.unwrap();
            while let Some(Ok((_request, mut respond))) = connection.accept().await {
                let mut answer = http::Response::new(());
                answer
                    .headers_mut()
                    .insert("grpc-status", HeaderValue::from_static("12"));
                respond.send_response(answer, true).unwrap();
                // Once the answer is on the wire: a reset with the answer still queued would
                // take it off.
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    respond.send_reset(h2::Reason::NO_ERROR);
                });
            }
        });
        let origin: http::Uri = format!("http://{addr}").parse().unwrap();
        let sender = handshake(origin, &Dial::default())
            .await
            .unwrap()
            .ready()
            .await
            .unwrap();
        let mut request = http::Request::new(Body::new(Full::new(Bytes::from_static(
            b"\x00\x00\x00\x00\x00",
        ))));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = format!("http://{addr}/a.B/C").parse().unwrap();
        let opened = open(sender, request).unwrap();
        // The headers are out; the answer and the reset arrive before the body is written.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let response = opened.await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "12");
    }
}
