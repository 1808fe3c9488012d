//! Hosting services on a port, as a production binary does: the gRPC adapters and REST gateways
//! of one or more services with gRPC-Web, `grpc.health.v1` health, server reflection, `/metrics`
//! and CORS beside them, over HTTP/2 and HTTP/1.1 (TLS optional), until a stop signal, then
//! drained within a bound (feature `host`).
//!
//! ```text
//! /pkg.v1.FooService/*               gRPC, gRPC-Web and Connect            the domain
//!                                    (HTTP/1.1 or 2 but gRPC's HTTP/2)
//! /grpc.health.v1.Health/*           gRPC, gRPC-Web                       tonic-health
//! /grpc.reflection.v1{,alpha}.*/*    gRPC, gRPC-Web                       tonic-reflection
//! /metrics                           Prometheus text                      the global recorder
//! routes added with Host::route      as given
//! everything else                    REST/JSON (the gateways), with their CORS;
//!                                    WebSocket for client and bidi streams
//! ```
//!
//! hyper serves the connections (serve.rs), HTTP/1.1 or HTTP/2 by what the client sends first.
//!
//! A binary binds first ([`bind`], whose error names the address), builds a [`Host`] per port,
//! [`Host::start`]s each with the same [`Stop`], then hands them to [`shutdown::run`], which
//! waits for SIGINT or SIGTERM and winds down in the order load balancers expect (see there).
//! `examples/logistics` serves three ports this way; `protoc-gen-rust-svc new` scaffolds a
//! binary that serves one.

pub mod connections;
pub mod drain;
mod head_timer;
mod healthz;
mod port;
mod protocols;
mod router;
mod serve;
pub mod shutdown;
#[cfg(feature = "tls")]
pub mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::MethodRouter;
use http::HeaderName;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::call::admission::Admission;
#[cfg(feature = "gateway")]
use crate::gateway::{GatewayBuilder, GatewayError, ServiceRoutes};
use crate::rpc::LoadShedding;

pub use connections::ConnectionLimits;

/// The health service's name, listed by reflection beside the domain services.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The reflection services' names: grpcurl's `list` shows them, as it does for grpc-go servers.
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];
pub use shutdown::{DrainPolicy, Signals, Stop};

/// One port's services and what is served beside them.
pub struct Host {
    label: String,
    services: Vec<HostedService>,
    descriptors: Vec<&'static [u8]>,
    reflection: bool,
    cors_origins: Vec<String>,
    metrics: Option<PrometheusHandle>,
    routes: Vec<(String, MethodRouter)>,
    exposed_headers: Vec<HeaderName>,
    connections: ConnectionLimits,
    load_shedding: Option<LoadShedding>,
    health_endpoint: Option<String>,
    /// What the binary sets on the port's gateway ([`Host::gateway`]).
    #[cfg(feature = "gateway")]
    configure_gateway: Option<ConfigureGateway>,
    /// A gateway built already, served in place of one made of the services' routes: the test
    /// harness's, which its caller built.
    #[cfg(feature = "gateway")]
    prebuilt_gateway: Option<crate::gateway::Gateway>,
    #[cfg(feature = "tls")]
    tls: Option<tls::TlsFiles>,
}

/// A service on a port: its proto name, gRPC adapter and REST routes.
struct HostedService {
    name: &'static str,
    grpc: Routes,
    rest: Option<RestRoutes>,
}

/// The REST routes of a service, as [`Host::service`] takes them: its generated gateway's
/// (`FooServiceGateway::routes(domain)`).
#[cfg(feature = "gateway")]
pub type RestRoutes = ServiceRoutes;

/// The REST routes of a service, as [`Host::service`] takes them: without the `gateway`
/// feature there are none, and `None` is the only value.
#[cfg(not(feature = "gateway"))]
pub type RestRoutes = NoRestRoutes;

/// No value: the REST routes of a port built without the `gateway` feature.
#[cfg(not(feature = "gateway"))]
#[derive(Debug)]
pub enum NoRestRoutes {}

/// Sets options of a port's gateway ([`Host::gateway`]).
#[cfg(feature = "gateway")]
type ConfigureGateway = Box<dyn FnOnce(GatewayBuilder) -> GatewayBuilder + Send + Sync>;

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("label", &self.label)
            .field(
                "services",
                &self.services.iter().map(|s| s.name).collect::<Vec<_>>(),
            )
            .field("reflection", &self.reflection)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A port called `label` in logs and errors (`inventory`), serving nothing yet. Reflection
    /// is on (it serves the descriptors given with [`Host::descriptors`]), CORS allows no
    /// origin, and `/metrics` is off until [`Host::metrics`].
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            services: Vec::new(),
            descriptors: Vec::new(),
            reflection: true,
            cors_origins: Vec::new(),
            metrics: None,
            routes: Vec::new(),
            exposed_headers: Vec::new(),
            connections: ConnectionLimits::default(),
            load_shedding: None,
            health_endpoint: None,
            #[cfg(feature = "gateway")]
            configure_gateway: None,
            #[cfg(feature = "gateway")]
            prebuilt_gateway: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves `gateway` (built already) for REST, in place of the one the port would make of
    /// its services' routes: the test harness's.
    #[cfg(feature = "gateway")]
    pub(crate) fn prebuilt_gateway(mut self, gateway: crate::gateway::Gateway) -> Self {
        self.prebuilt_gateway = Some(gateway);
        self
    }

    /// The port's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Serves the service `name` (its fully qualified proto name, the generated
    /// `FOO_SERVICE.name`): its gRPC adapter
    /// (`Routes::new(FooServiceGrpc::new(domain).into_service())`) and, if it has `google.api.http`
    /// rules, its gateway's routes (`FooServiceGateway::routes(domain)`). Health reports it, and
    /// reflection lists it.
    #[must_use]
    pub fn service(mut self, name: &'static str, grpc: Routes, rest: Option<RestRoutes>) -> Self {
        self.services.push(HostedService { name, grpc, rest });
        self
    }

    /// Adds an encoded `FileDescriptorSet` describing the services, for reflection: the
    /// generator's `file_descriptor_set_path` output, with imports and source info (comments).
    #[must_use]
    pub fn descriptors(mut self, encoded: &'static [u8]) -> Self {
        self.descriptors.push(encoded);
        self
    }

    /// Whether to serve server reflection (v1 and v1alpha); on by default. Production
    /// deployments that do not want their API listed turn it off.
    #[must_use]
    pub fn reflection(mut self, enabled: bool) -> Self {
        self.reflection = enabled;
        self
    }

    /// The origins browsers may call REST and gRPC-Web from (`*` for any); none by default.
    #[must_use]
    pub fn cors_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cors_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Serves `GET /metrics`, rendered by `handle` (see [`install_metrics`]).
    #[must_use]
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Adds a route of the binary's own (a page at `/`, say), ahead of the REST fallback.
    #[must_use]
    pub fn route(mut self, path: impl Into<String>, method_router: MethodRouter) -> Self {
        self.routes.push((path.into(), method_router));
        self
    }

    /// Sets options of the port's REST gateway, which the port builds from its services'
    /// routes: header rules ([`HeaderRules`](crate::gateway::HeaderRules), its
    /// `response_status` too), an error handler, a metadata annotator, the body limit, the
    /// form fallbacks. Applied after the port's own CORS ([`Host::cors_origins`]), which it may
    /// replace.
    ///
    /// ```
    /// use rust_svc_runtime::gateway::HeaderRules;
    /// use rust_svc_runtime::host::Host;
    ///
    /// let host = Host::new("orders").gateway(|gateway| {
    ///     gateway
    ///         .header_rules(HeaderRules::new().response_status("x-http-code"))
    ///         .max_body_bytes(1 << 20)
    /// });
    /// # let _ = host;
    /// ```
    #[cfg(feature = "gateway")]
    #[must_use]
    pub fn gateway(
        mut self,
        configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure_gateway = Some(Box::new(configure));
        self
    }

    /// Serves the port's `grpc.health.v1` statuses over plain HTTP at `path` (`/healthz`), for
    /// probes and load balancers that speak no gRPC, as grpc-gateway's `WithHealthzEndpoint`
    /// does: `GET /healthz` for the server, `GET /healthz?service=pkg.v1.Service` for one
    /// service; 200 with `{"status": "SERVING"}`, 503 for any other status (`NOT_SERVING` once
    /// shutdown has begun) and 404 for a service the port does not serve, these two with the
    /// `google.rpc.Status` JSON grpc-gateway writes (`"message": "status:NOT_SERVING"`).
    #[must_use]
    pub fn health_endpoint(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        // A route's path starts with `/` (axum refuses one that does not, at start).
        self.health_endpoint = Some(if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        });
        self
    }

    /// Lets gRPC-Web clients of other origins read the response header `name` (beside the
    /// status headers and `x-request-id`, always readable).
    #[must_use]
    pub fn expose_header(mut self, name: HeaderName) -> Self {
        self.exposed_headers.push(name);
        self
    }

    /// Bounds the port's connections: how many may be open, how long a new one may stay silent,
    /// how long one may idle ([`ConnectionLimits`]; its defaults apply otherwise).
    #[must_use]
    pub fn connections(mut self, limits: ConnectionLimits) -> Self {
        self.connections = limits;
        self
    }

    /// Sheds the load of every service on the port as `policy` says, in place of what their
    /// protos say ([`LoadShedding::OFF`] admits every call): see
    /// [`Admission`].
    #[must_use]
    pub fn load_shedding(mut self, policy: LoadShedding) -> Self {
        self.load_shedding = Some(policy);
        self
    }

    /// Serves TLS (rustls) with the certificate chain and key of `files`, offering HTTP/2 and
    /// HTTP/1.1 by ALPN, so that REST clients that speak only HTTP/1.1 are served too.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls(mut self, files: tls::TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Starts serving on `listener` until `stop` completes, then drains: the listener closes,
    /// connections get a GOAWAY (HTTP/2) or close when idle (HTTP/1.1), and the calls in flight
    /// run to their end. Bounding that wait is [`shutdown::run`]'s. Every service reports
    /// SERVING once this returns.
    pub async fn start(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Serving, HostError> {
        let addr = listener.local_addr().map_err(HostError::Listener)?;
        let label = self.label.clone();
        let services: Vec<&'static str> = self.services.iter().map(|s| s.name).collect();
        let admissions = self.admissions();
        let shedding = Box::new(move || admissions.iter().any(Admission::is_shedding));
        let incoming =
            connections::Incoming::new(listener, self.connections.clone(), &label, shedding);
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        let (health, health_service) = tonic_health::server::health_reporter();
        let app = router::build(self, health_service, &health)?;
        #[cfg(feature = "tls")]
        let task = match tls {
            Some(files) => tls::serve(app, incoming, files.acceptor()?, stop),
            None => serve_plain(app, incoming, stop),
        };
        #[cfg(not(feature = "tls"))]
        let task = serve_plain(app, incoming, stop);
        let serving = Serving {
            label,
            services,
            addr,
            health,
            task,
        };
        serving.set_health(ServingStatus::Serving).await;
        Ok(serving)
    }
}

impl Host {
    /// The admissions of the port's services, with the port's load-shedding policy set.
    fn admissions(&self) -> Vec<Admission> {
        let admissions: Vec<Admission> = self
            .services
            .iter()
            .flat_map(|service| Admission::registered(service.name))
            .collect();
        if let Some(policy) = self.load_shedding {
            for admission in &admissions {
                admission.set_policy(policy);
            }
        }
        admissions
    }

    /// Serves the connections `incoming` yields (the test harness's in-memory pipes) as
    /// [`Host::start`] serves a listener's, until `stop`; every service reports SERVING before
    /// the first connection is served.
    pub(crate) fn start_on<I, IO>(
        self,
        incoming: I,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<JoinHandle<Result<(), tonic::transport::Error>>, HostError>
    where
        I: futures_util::Stream<Item = io::Result<IO>> + Send + 'static,
        IO: tokio::io::AsyncRead
            + tokio::io::AsyncWrite
            + tonic::transport::server::Connected
            + Unpin
            + Send
            + 'static,
    {
        let services: Vec<&'static str> = self.services.iter().map(|s| s.name).collect();
        // Sets the port's load-shedding policy on them, as `start` does.
        let _admissions = self.admissions();
        let (health, health_service) = tonic_health::server::health_reporter();
        let app = router::build(self, health_service, &health)?;
        Ok(tokio::spawn(async move {
            for service in services.iter().copied().chain([""]) {
                health
                    .set_service_status(service, ServingStatus::Serving)
                    .await;
            }
            serve::serve(app, incoming, stop).await
        }))
    }
}

/// The server behind a port, without TLS.
fn serve_plain(
    app: router::PortService,
    incoming: connections::Incoming,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<Result<(), tonic::transport::Error>> {
    tokio::spawn(serve::serve(app, incoming, stop))
}

/// A port being served.
#[derive(Debug)]
#[non_exhaustive]
pub struct Serving {
    /// The port's label.
    pub label: String,
    /// The proto names of its services.
    pub services: Vec<&'static str>,
    /// The address bound (the port chosen when 0 was asked).
    pub addr: SocketAddr,
    /// Its health statuses, to turn to NOT_SERVING on shutdown.
    pub health: HealthReporter,
    /// The server; it ends once `stop` has completed and the connections have closed.
    pub task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Serving {
    /// Reports every service and the server as a whole (`""`) as `status`.
    pub async fn set_health(&self, status: ServingStatus) {
        for service in &self.services {
            self.health.set_service_status(*service, status).await;
        }
        self.health.set_service_status("", status).await;
    }
}

/// Why a port could not be set up or served.
#[derive(Debug)]
pub enum HostError {
    /// The address could not be bound: the message names it and says why.
    Bind(String),
    /// The bound listener has no address (the OS lost it).
    Listener(io::Error),
    /// The port was given no service to serve.
    NoServices,
    /// The gateways' routes do not fit together.
    #[cfg(feature = "gateway")]
    Routes(GatewayError),
    /// The descriptors for reflection do not decode.
    Reflection(tonic_reflection::server::Error),
    /// A CORS origin is not a valid header value; the message names it.
    Cors(String),
    /// The TLS certificate or key could not be read or used; the message names the file.
    Tls(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bind(message) | Self::Cors(message) | Self::Tls(message) => f.write_str(message),
            Self::NoServices => write!(f, "a port serves at least one service"),
            Self::Listener(error) => write!(f, "the listener has no address: {error}"),
            #[cfg(feature = "gateway")]
            Self::Routes(error) => write!(f, "the REST routes do not fit together: {error}"),
            Self::Reflection(error) => write!(f, "cannot serve reflection: {error}"),
        }
    }
}

impl std::error::Error for HostError {}

/// Binds `addr`, with the error message a user can act on: `cannot listen on ADDR: address
/// already in use`.
///
/// The queue of connections the kernel has completed but the server not yet accepted is as long
/// as the system allows (`net.core.somaxconn`, 4,096 on current Linux), as Go's `net.Listen`
/// makes it, not the 128 that `TcpListener::bind` asks for. When more clients connect at once
/// than a short queue holds, the kernel drops the handshakes over it, and those clients wait
/// for a retransmission, 1 s and then 3 s later, before their first request is even read.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, HostError> {
    listen(addr).map_err(|error| {
        let reason = match error.kind() {
            io::ErrorKind::AddrInUse => "address already in use".to_owned(),
            io::ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
            io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => error.to_string(),
        };
        HostError::Bind(format!("cannot listen on {addr}: {reason}"))
    })
}

/// A listener on `addr` with the longest accept queue the system allows (the kernel caps the
/// backlog asked for at `net.core.somaxconn`).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::MAX)
}

/// Installs the Prometheus recorder every `Metrics` interceptor records into (once per
/// process: `/metrics` on each port renders the same registry), and keeps its histograms from
/// piling up samples. Must be called inside a tokio runtime, before the clients whose breaker
/// gauges should be recorded are made.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    let recorder = crate::interceptors::metrics::prometheus_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|error| format!("cannot install the metrics recorder: {error}"))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bind` asks for the longest accept queue the kernel allows. Read back with `ss`, which
    /// shows a listening socket's backlog as its Send-Q (Linux; skipped where `ss` is missing).
    #[tokio::test]
    async fn the_accept_queue_is_as_long_as_the_system_allows() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let Ok(output) = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
        else {
            eprintln!("skipped: `ss` (iproute2) is not on PATH");
            return;
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let backlog: u32 = text
            .split_whitespace()
            .nth(2)
            .and_then(|field| field.parse().ok())
            .unwrap_or_else(|| panic!("no listening socket on port {port} in `ss`: {text:?}"));
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(backlog, somaxconn);
    }

    #[tokio::test]
    async fn a_port_in_use_is_named_in_the_error() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let error = bind(addr).await.unwrap_err().to_string();
        assert_eq!(
            error,
            format!("cannot listen on {addr}: address already in use")
        );
    }
}
