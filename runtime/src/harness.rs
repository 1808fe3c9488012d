//! Serving a tonic service over real HTTP/2 for tests: in memory (a tokio duplex pipe per
//! connection, so paused-time tests stay deterministic) or on a loopback port.
//!
//! [`in_memory`] and [`loopback`] also build the service's generated client over that channel, with
//! its options.proto policies, and return both as a [`Harness`]. Generated adapters wrap them in
//! typed entry points, `…Grpc::serve_in_memory(domain)` and `…Grpc::serve_loopback(domain)`, that
//! take any implementation of the domain trait: a fake, the real service, or a mix.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint, Server};

use crate::client::{ClientCore, GeneratedClient};
use crate::server::StampDeadlines;

/// Buffer size of each in-memory connection, per direction.
const PIPE_CAPACITY: usize = 64 * 1024;

/// What [`serve_in_memory`] and [`serve_loopback`] accept: a tonic service, such as the one a
/// generated adapter's `into_service()` returns.
pub trait GrpcService:
    tower_service::Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: tower_service::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A running test server. Dropping it stops the server too; [`ServerHandle::shutdown`] also
/// waits for it to finish.
#[derive(Debug)]
pub struct ServerHandle {
    signal: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    local_addr: Option<SocketAddr>,
}

impl ServerHandle {
    /// The loopback address, for a server started by [`serve_loopback`].
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Stops accepting, lets in-flight calls finish, and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), tonic::transport::Error> {
        if let Some(signal) = self.signal.take() {
            let _ = signal.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(signal) = self.signal.take() {
            let _ = signal.send(());
        }
    }
}

/// Serves `service` over HTTP/2 in memory and returns a channel to it. Every connection the
/// channel opens is a fresh duplex pipe, so reconnects work as over TCP. Must be called inside a
/// tokio runtime.
pub fn serve_in_memory<S: GrpcService>(service: S) -> (Channel, ServerHandle) {
    let (connections, accepted) = mpsc::unbounded_channel::<tokio::io::DuplexStream>();
    let incoming = futures_util::stream::unfold(accepted, |mut accepted| async move {
        let pipe = accepted.recv().await?;
        Some((Ok::<_, io::Error>(pipe), accepted))
    });
    let (signal, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(
        Server::builder()
            .layer(StampDeadlines)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            }),
    );
    let connector = tower_service_fn(move || {
        let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
        let accepted = connections.send(server);
        async move {
            accepted
                .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "server stopped"))?;
            Ok::<_, io::Error>(TokioIo::new(client))
        }
    });
    let channel =
        Endpoint::from_static("http://in-memory.invalid").connect_with_connector_lazy(connector);
    (
        channel,
        ServerHandle {
            signal: Some(signal),
            task: Some(task),
            local_addr: None,
        },
    )
}

/// Serves `service` over HTTP/2 on an ephemeral loopback port and returns a channel to it.
pub async fn serve_loopback<S: GrpcService>(service: S) -> io::Result<(Channel, ServerHandle)> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let local_addr = listener.local_addr()?;
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _peer)| {
            // Small unary messages must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            stream
        });
        Some((accepted, listener))
    });
    let (signal, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(
        Server::builder()
            .layer(StampDeadlines)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            }),
    );
    let channel = Endpoint::from_shared(format!("http://{local_addr}"))
        .map_err(io::Error::other)?
        .tcp_nodelay(true)
        .connect_lazy();
    Ok((
        channel,
        ServerHandle {
            signal: Some(signal),
            task: Some(task),
            local_addr: Some(local_addr),
        },
    ))
}

/// A service served over real HTTP/2 for a test, and its generated client.
///
/// Dropping the harness stops the server; keep it alive for as long as the client is used.
#[derive(Debug)]
pub struct Harness<C> {
    client: C,
    channel: Channel,
    server: ServerHandle,
}

impl<C: GeneratedClient> Harness<C> {
    fn new(channel: Channel, server: ServerHandle) -> Self {
        Self {
            client: C::from_core(ClientCore::new(C::SERVICE, channel.clone())),
            channel,
            server,
        }
    }
}

impl<C> Harness<C> {
    /// The generated client, with the policies of options.proto. Clones share its breakers and
    /// retry budget.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The channel to the server, for a client with other policies (`…Client::builder()`) or for
    /// tonic's own client.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The loopback address, for a harness started by [`loopback`].
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }

    /// `http://127.0.0.1:PORT`, for a harness on loopback: where REST clients reach a
    /// harness started by [`loopback_with_gateway`].
    pub fn base_url(&self) -> Option<String> {
        self.local_addr().map(|addr| format!("http://{addr}"))
    }

    /// Stops accepting, lets in-flight calls finish, and waits for the server to end.
    pub async fn shutdown(self) -> Result<(), tonic::transport::Error> {
        self.server.shutdown().await
    }
}

/// Serves `service` over HTTP/2 in memory (see [`serve_in_memory`]) and returns it with its
/// generated client. Must be called inside a tokio runtime.
pub fn in_memory<C: GeneratedClient, S: GrpcService>(service: S) -> Harness<C> {
    let (channel, server) = serve_in_memory(service);
    Harness::new(channel, server)
}

/// Serves `service` over HTTP/2 on an ephemeral loopback port and returns it with its generated
/// client.
pub async fn loopback<C: GeneratedClient, S: GrpcService>(service: S) -> io::Result<Harness<C>> {
    let (channel, server) = serve_loopback(service).await?;
    Ok(Harness::new(channel, server))
}

/// Serves `service` over gRPC and `gateway` over REST/JSON on one ephemeral loopback port (HTTP/1.1
/// and HTTP/2), and returns them with the generated client; [`Harness::base_url`] is where the
/// gateway answers.
pub async fn loopback_with_gateway<C: GeneratedClient, S: GrpcService>(
    service: S,
    gateway: crate::gateway::Gateway,
) -> io::Result<Harness<C>> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let local_addr = listener.local_addr()?;
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _peer)| {
            let _ = stream.set_nodelay(true);
            stream
        });
        Some((accepted, listener))
    });
    let routes =
        tonic::service::Routes::from(gateway.with_grpc(tonic::service::Routes::new(service)));
    let (signal, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(
        Server::builder()
            .layer(StampDeadlines)
            .accept_http1(true)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            }),
    );
    let channel = Endpoint::from_shared(format!("http://{local_addr}"))
        .map_err(io::Error::other)?
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(Harness::new(
        channel,
        ServerHandle {
            signal: Some(signal),
            task: Some(task),
            local_addr: Some(local_addr),
        },
    ))
}

/// A connector made from a closure, ignoring the URI.
fn tower_service_fn<F, Fut>(make: F) -> ConnectFn<F>
where
    F: FnMut() -> Fut,
{
    ConnectFn(make)
}

#[derive(Clone)]
struct ConnectFn<F>(F);

impl<F, Fut, T> tower_service::Service<http::Uri> for ConnectFn<F>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    type Response = T;
    type Error = io::Error;
    type Future = Fut;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), io::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Fut {
        (self.0)()
    }
}
