//! A port's connections, each served by hyper under the port's service until the port stops.
//!
//! tonic's `Server` served ports before. Two things it does made it the wrong server for a
//! port that is mostly REST and gRPC side by side:
//!
//! - per request it clones its whole service stack as a boxed trait object, boxes the request
//!   body (which the port then boxed again as axum's) and the response body, and runs a
//!   `grpc-timeout` layer whose work the adapter does itself. That was most of what a REST call
//!   on a port cost over the bare gateway (bench/RESULTS.md, "A port served by hyper");
//! - its connections do not hand over on an HTTP/1.1 upgrade, so the gateway's WebSocket routes
//!   for client and bidi streaming rpcs could not be reached on a port.
//!
//! Here hyper-util's auto builder serves each connection as tonic configured it: HTTP/1.1 or
//! HTTP/2 by what the client sends first, a timer for hyper's HTTP/1.1 header-read timeout
//! (slow-loris protection; one per connection, head_timer.rs) and HTTP/2 keep-alive, tonic's
//! keep-alive timeout; upgrades are handed over; an HTTP/2 connection's writes are batched
//! (`rpc::BatchedWrites`: the answers that finish together go out in one write). Each connection is served by the port's service made for it (port.rs), which
//! knows the connection's [`Connected::connect_info`]: the requests to tonic's routes carry it
//! in their extensions, as tonic puts it there, so `tonic::Request::remote_addr` and the peer
//! certificates of mTLS read what they read before, and the gateway knows the client's address
//! for its `x-forwarded-for`. On stop the accept loop ends (the listener closes),
//! every connection is asked to shut down gracefully (a GOAWAY on HTTP/2, a close once idle on
//! HTTP/1.1), and serving ends when the last has closed, as tonic's does.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::body::Body;
use futures_util::{Stream, StreamExt};
use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tonic::transport::server::Connected;
use tower_service::Service;

use super::head_timer::HeadTimer;
use super::router::{self, PortService};
use crate::rpc::BatchedWrites;

/// How long an HTTP/2 keep-alive ping may go unanswered (tonic's default; pings are sent only
/// when an interval is set, which a port does not).
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves the connections `incoming` yields with `app` until `stop` completes, then drains them
/// (see the module docs). Accept errors are `incoming`'s to handle: an `Err` it yields is
/// logged and skipped.
pub(super) async fn serve<I, IO>(
    app: PortService,
    incoming: I,
    stop: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error>
where
    I: Stream<Item = io::Result<IO>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let builder = builder();
    // Each connection holds a receiver; on stop the sender tells them all, then waits until
    // every one is dropped, that is every connection closed.
    let (closing, closed) = watch::channel(());
    {
        let mut stop = pin!(stop);
        let mut incoming = pin!(incoming);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = incoming.next() => match accepted {
                    Some(Ok(io)) => spawn_connection(io, &app, &builder, closed.clone()),
                    Some(Err(error)) => tracing::debug!("accepting a connection failed: {error}"),
                    None => break,
                },
            }
        }
        // `incoming` is dropped here: the listener closes before the wait below.
    }
    drop(closed);
    let _ = closing.send(());
    closing.closed().await;
    Ok(())
}

/// hyper's connection builder as tonic's `Server` sets it up for a port that accepts HTTP/1.1.
fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        // No bound on a connection's concurrent streams, as tonic and grpc-go have it: hyper's
        // own default (200) makes a client that multiplexes its calls over one connection (the
        // generated client does) queue the 201st behind the others under load, where it
        // misses its deadline and opens the caller's breaker (bench/overload.sh at 4,096
        // connections). Calls are bounded by the port's admission control instead. hyper's
        // bound on streams reset for a local error (1,024) stays: tonic lifts it too, but
        // it is what protects a port from a client that makes it reset streams in a loop.
        .max_concurrent_streams(None)
        // Streams the client resets before the server accepted them: hyper closes the
        // connection (ENHANCE_YOUR_CALM) past 20, its guard against the "rapid reset" attack.
        // A client whose calls outlived their deadlines while this process was stalled (a
        // pause, a stop, a long collection) cancels them in one burst, which that reads as an
        // attack, failing every other call on the connection. 1,024, as the bound on streams
        // reset for a local error: a burst of ordinary cancellations passes, an attacker is
        // still cut off, and each pending reset costs the server only its entry.
        .max_pending_accept_reset_streams(1024);
    // The HTTP/1.1 timer is each connection's own (`spawn_connection`).
    builder
}

/// Serves one connection on a task of its own, until it ends or the port stops.
fn spawn_connection<IO>(
    io: IO,
    app: &PortService,
    builder: &Builder<TokioExecutor>,
    mut closing: watch::Receiver<()>,
) where
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
{
    let mut info = http::Extensions::new();
    info.insert(io.connect_info());
    let service = Connection {
        app: router::for_connection(app, info),
    };
    let mut builder = builder.clone();
    // hyper enforces its HTTP/1.1 header-read timeout (30 s) only when it has a timer.
    builder.http1().timer(HeadTimer::default());
    tokio::spawn(async move {
        // An HTTP/2 connection's answers finished together go out in one write.
        let io = TokioIo::new(BatchedWrites::if_http2(io));
        let connection = builder.serve_connection_with_upgrades(io, service);
        let mut connection = pin!(connection);
        let ended = tokio::select! {
            // In this order, without drawing a random one on every wake-up (one per request).
            biased;
            ended = connection.as_mut() => ended,
            // The port stops (or, never before that, the sender is gone).
            _ = closing.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = ended {
            tracing::debug!("serving a connection failed: {error}");
        }
        drop(closing);
    });
}

/// The port's service as hyper calls it on one connection.
struct Connection {
    app: PortService,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <PortService as Service<Request<Body>>>::Future;

    fn call(&self, request: Request<hyper::body::Incoming>) -> Self::Future {
        // Every service of a port is always ready (the port, the drain and the rpc check
        // delegate to axum's `Router` and the gateway, which are), so `call` needs no
        // `poll_ready` first; the clone is reference counts, no allocation.
        self.app.clone().call(request.map(Body::new))
    }
}
