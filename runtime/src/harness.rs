//! Serving a tonic service over real HTTP/2 for tests, on the production server: a port of a
//! [`Host`] (feature `host`), in memory (a tokio duplex pipe per connection, so paused-time
//! tests stay deterministic) or on a loopback port. What a harness-based test exercises is the
//! code a production port runs: hyper's connections as the host serves them, its routing of
//! gRPC, gRPC-Web, Connect and REST, health, draining; and its client is the generated client
//! on its own connection, as production clients are.
//!
//! [`in_memory`] and [`loopback`] also build the service's generated client over that
//! connection, with its options.proto policies, and return both as a [`Harness`]. Generated
//! adapters wrap them in typed entry points, `…Grpc::serve_in_memory(domain)` and
//! `…Grpc::serve_loopback(domain)`, that take any implementation of the domain trait: a fake,
//! the real service, or a mix. [`serve_in_memory`] and [`serve_loopback`] serve and hand back
//! a tonic [`Channel`] to the server instead, for tonic's own client or a client built over it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};

use crate::client::connector::{Dial, MemoryConnect};
use crate::client::{ClientCore, GeneratedClient};
use crate::host::Host;

/// Buffer size of each in-memory connection, per direction.
const PIPE_CAPACITY: usize = 64 * 1024;

/// What the harness's servers accept: a tonic service, such as the one a generated adapter's
/// `into_service()` returns.
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

/// The port a harness serves `service` on: a [`Host`] as production binaries build one,
/// without reflection (a test may serve reflection itself).
fn port<S: GrpcService>(service: S) -> Host {
    Host::new("harness")
        .reflection(false)
        .service(S::NAME, Routes::new(service), None)
}

/// An in-memory port of `host` and how to connect to it: each connection a fresh duplex pipe,
/// so reconnects work as over TCP. Must be called inside a tokio runtime.
fn serve_host_in_memory(host: Host) -> (MemoryConnect, ServerHandle) {
    let (connections, accepted) = mpsc::unbounded_channel::<tokio::io::DuplexStream>();
    let incoming = futures_util::stream::unfold(accepted, |mut accepted| async move {
        let pipe = accepted.recv().await?;
        Some((Ok::<_, io::Error>(pipe), accepted))
    });
    let (signal, stop) = oneshot::channel::<()>();
    let task = host
        .start_on(incoming, async {
            let _ = stop.await;
        })
        .expect("a harness's port is built from one service and no options");
    let connect: MemoryConnect = Arc::new(move || {
        let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
        let accepted = connections.send(server);
        Box::pin(async move {
            accepted
                .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "server stopped"))?;
            Ok(client)
        })
    });
    let handle = ServerHandle {
        signal: Some(signal),
        task: Some(task),
        local_addr: None,
    };
    (connect, handle)
}

/// A loopback port of `host`.
async fn serve_host_on_loopback(host: Host) -> io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let (signal, stop) = oneshot::channel::<()>();
    let serving = host
        .start(listener, async {
            let _ = stop.await;
        })
        .await
        .map_err(io::Error::other)?;
    Ok(ServerHandle {
        signal: Some(signal),
        local_addr: Some(serving.addr),
        task: Some(serving.task),
    })
}

/// A tonic channel over the in-memory pipes `connect` opens.
fn memory_channel(connect: &MemoryConnect) -> Channel {
    let connect = Arc::clone(connect);
    let connector = tower_service_fn(move || {
        let opened = connect();
        async move { Ok::<_, io::Error>(TokioIo::new(opened.await?)) }
    });
    Endpoint::from_static("http://in-memory.invalid").connect_with_connector_lazy(connector)
}

/// A tonic channel to `addr` on loopback.
fn loopback_channel(addr: SocketAddr) -> io::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))
        .map_err(io::Error::other)?
        .tcp_nodelay(true)
        .connect_lazy())
}

/// Serves `service` over HTTP/2 in memory and returns a tonic channel to it. Every connection
/// the channel opens is a fresh duplex pipe, so reconnects work as over TCP. Must be called
/// inside a tokio runtime.
pub fn serve_in_memory<S: GrpcService>(service: S) -> (Channel, ServerHandle) {
    let (connect, server) = serve_host_in_memory(port(service));
    (memory_channel(&connect), server)
}

/// Serves `service` over HTTP/2 on an ephemeral loopback port and returns a tonic channel to
/// it.
pub async fn serve_loopback<S: GrpcService>(service: S) -> io::Result<(Channel, ServerHandle)> {
    let server = serve_host_on_loopback(port(service)).await?;
    let addr = server
        .local_addr
        .expect("a loopback server has its address");
    Ok((loopback_channel(addr)?, server))
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

impl<C> Harness<C> {
    /// The generated client, with the policies of options.proto, on its own connection to the
    /// server as production clients are. Clones share its breakers and retry budget.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// A tonic channel to the server, for a client with other policies
    /// (`…Client::builder().build(channel)`) or for tonic's own client.
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
    let (connect, server) = serve_host_in_memory(port(service));
    let client = C::from_core(ClientCore::dialled(
        C::SERVICE,
        http::Uri::from_static("http://in-memory.invalid"),
        Dial::memory(Arc::clone(&connect)),
        "in-memory".to_owned(),
    ));
    Harness {
        client,
        channel: memory_channel(&connect),
        server,
    }
}

/// Serves `service` over HTTP/2 on an ephemeral loopback port and returns it with its generated
/// client.
pub async fn loopback<C: GeneratedClient, S: GrpcService>(service: S) -> io::Result<Harness<C>> {
    on_loopback(port(service)).await
}

/// Serves `service` over gRPC and `gateway` over REST/JSON on one ephemeral loopback port
/// (HTTP/1.1 and HTTP/2), and returns them with the generated client; [`Harness::base_url`] is
/// where the gateway answers.
#[cfg(feature = "gateway")]
pub async fn loopback_with_gateway<C: GeneratedClient, S: GrpcService>(
    service: S,
    gateway: crate::gateway::Gateway,
) -> io::Result<Harness<C>> {
    on_loopback(port(service).prebuilt_gateway(gateway)).await
}

async fn on_loopback<C: GeneratedClient>(host: Host) -> io::Result<Harness<C>> {
    let server = serve_host_on_loopback(host).await?;
    let addr = server
        .local_addr
        .expect("a loopback server has its address");
    let url = format!("http://{addr}");
    let origin = url.parse::<http::Uri>().map_err(io::Error::other)?;
    let client = C::from_core(ClientCore::dialled(
        C::SERVICE,
        origin,
        Dial::default(),
        url,
    ));
    Ok(Harness {
        client,
        channel: loopback_channel(addr)?,
        server,
    })
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
