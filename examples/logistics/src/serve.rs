//! One port's stack: a service's gRPC adapter and REST gateway, with gRPC-Web, health checks,
//! server reflection, `/metrics` and CORS beside them, served over HTTP/2 and HTTP/1.1 until a
//! stop signal, then drained.
//!
//! ```text
//! /inventory.v1.InventoryService/*   gRPC, and gRPC-Web (HTTP/1.1 or 2)   the domain, intercepted
//! /grpc.health.v1.Health/*           gRPC, gRPC-Web                       tonic-health
//! /grpc.reflection.v1{,alpha}.*/*    gRPC, gRPC-Web                       tonic-reflection
//! /metrics                           Prometheus text                      the global recorder
//! /                                  the web page (orders only)
//! everything else                    REST/JSON (the gateway), with its CORS
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use rust_svc_runtime::gateway::cors::Cors;
use rust_svc_runtime::gateway::{Gateway, GatewayError, Router, ServiceRoutes};
use rust_svc_runtime::interceptors::metrics::metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tonic_web::GrpcWebLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The encoded descriptors of the three protos and their imports (see build.rs).
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The health service's name, listed by reflection beside the domain service.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The reflection services' names: grpcurl's `list` shows them, as it does for grpc-go servers.
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The request headers a gRPC-Web client sends (grpc-web's and Connect's JavaScript clients).
const GRPC_WEB_REQUEST_HEADERS: [&str; 6] = [
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-request-id",
    "traceparent",
];

/// The response headers a gRPC-Web client must be able to read across origins: the status
/// travels in headers when a call fails before any message.
const GRPC_WEB_RESPONSE_HEADERS: [&str; 5] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "x-request-id",
    crate::hops::HOP_HEADER,
];

/// One service to serve on a port of its own.
pub struct Port {
    /// The service's short name (`inventory`), for the printed lines and errors.
    pub label: &'static str,
    /// Its fully qualified proto name (`inventory.v1.InventoryService`): the health service's
    /// and reflection's name for it.
    pub service: &'static str,
    /// Its gRPC adapter (`Routes::new(FooServiceGrpc::new(..).into_service())`).
    pub grpc: Routes,
    /// Its REST routes (`FooServiceGateway::routes(..)`).
    pub rest: ServiceRoutes,
    /// A page to answer `GET /` with.
    pub page: Option<&'static str>,
}

/// What every port shares: who may call across origins, and the metrics to render.
#[derive(Clone)]
pub struct Shared {
    /// The REST gateway's CORS policy.
    pub cors: Cors,
    /// The same policy for gRPC-Web, which the gateway does not see.
    pub grpc_web_cors: CorsLayer,
    /// Renders the global recorder's metrics.
    pub metrics: PrometheusHandle,
}

impl Shared {
    /// CORS for `origins` (`*` for any; empty for none) on REST and gRPC-Web alike, and
    /// `/metrics` from `metrics`. Fails naming an origin that is not a valid header value.
    pub fn new(origins: &[String], metrics: PrometheusHandle) -> Result<Self, String> {
        let allow_origin = if origins.iter().any(|origin| origin == "*") {
            AllowOrigin::any()
        } else {
            let parsed = origins
                .iter()
                .map(|origin| {
                    HeaderValue::from_str(origin)
                        .map_err(|_| format!("--cors-origin {origin:?} is not a valid origin"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(parsed)
        };
        let grpc_web_cors = CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([http::Method::POST])
            .allow_headers(GRPC_WEB_REQUEST_HEADERS.map(HeaderName::from_static))
            .expose_headers(GRPC_WEB_RESPONSE_HEADERS.map(HeaderName::from_static));
        Ok(Self {
            cors: Cors::new().allow_origins(origins.iter().cloned()),
            grpc_web_cors,
            metrics,
        })
    }
}

/// Installs the Prometheus recorder every `Metrics` interceptor records into (once per
/// process: `/metrics` on each port renders the same registry), and keeps its histograms from
/// piling up samples.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    let recorder = rust_svc_runtime::interceptors::metrics::prometheus_recorder();
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

/// Why a port could not be set up (all of them are bugs of this binary or its protos, as the
/// routes and descriptors are fixed at build time).
#[derive(Debug)]
pub enum SetupError {
    /// The gateway's routes do not fit together.
    Routes(GatewayError),
    /// The descriptors for reflection do not decode.
    Reflection(tonic_reflection::server::Error),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Routes(error) => write!(f, "the REST routes do not fit together: {error}"),
            Self::Reflection(error) => write!(f, "cannot serve reflection: {error}"),
        }
    }
}

impl std::error::Error for SetupError {}

/// Binds `addr`, with the error message a user can act on: `cannot listen on ADDR: address
/// already in use`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|error| {
        let reason = match error.kind() {
            io::ErrorKind::AddrInUse => "address already in use".to_owned(),
            io::ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
            io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => error.to_string(),
        };
        format!("cannot listen on {addr}: {reason}")
    })
}

/// A port being served.
pub struct Serving {
    /// The service's short name.
    pub label: &'static str,
    /// The service's proto name.
    pub service: &'static str,
    /// The address bound (the port chosen when 0 was asked).
    pub addr: SocketAddr,
    /// Its health statuses, to turn to NOT_SERVING on shutdown.
    pub health: HealthReporter,
    /// The server; it ends once `stop` has completed and the connections have closed.
    pub task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Serving {
    /// Reports the service and the server as a whole (`""`) as `status`.
    pub async fn set_health(&self, status: ServingStatus) {
        self.health.set_service_status(self.service, status).await;
        self.health.set_service_status("", status).await;
    }
}

/// Starts serving `port` on `listener` until `stop` completes, then drains: the listener
/// closes, connections get a GOAWAY (HTTP/2) or close when idle (HTTP/1.1), and the calls in
/// flight run to their end. Bounding that wait is the caller's (see `shutdown.rs`).
pub async fn start(
    port: Port,
    listener: TcpListener,
    shared: &Shared,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Serving, SetupError> {
    let addr = listener
        .local_addr()
        .expect("a bound TCP listener has an address");
    let (health, health_service) = tonic_health::server::health_reporter();
    let (label, service) = (port.label, port.service);
    let app = router(port, health_service, shared)?;
    let serving = Serving {
        label,
        service,
        addr,
        health,
        task: tokio::spawn(async move {
            // Small unary messages must not wait for Nagle's algorithm.
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                // The deadline counts from when the call arrived, not from when the router
                // got to it, so expiry is DEADLINE_EXCEEDED rather than tonic's CANCELLED.
                .layer(rust_svc_runtime::server::StampDeadlines)
                // REST and gRPC-Web clients may speak HTTP/1.1.
                .accept_http1(true)
                .add_routes(Routes::from(app))
                .serve_with_incoming_shutdown(incoming, stop)
                .await
        }),
    };
    serving.set_health(ServingStatus::Serving).await;
    Ok(serving)
}

/// The port's routes (see the module docs).
fn router(
    port: Port,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    shared: &Shared,
) -> Result<Router, SetupError> {
    // Only this port's service is listed (and described), not the three of the descriptors:
    // a client that lists the services of the inventory port must not be told it serves orders.
    // Both reflection versions are listed by each, so each must describe both: by default a
    // builder adds its own version's descriptors only, and a client listing every method
    // (`buf curl --list-methods`) fails on the other.
    let reflection = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(DESCRIPTORS)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .with_service_name(port.service)
            .with_service_name(HEALTH_SERVICE);
        REFLECTION_SERVICES
            .into_iter()
            .fold(builder, |builder, name| builder.with_service_name(name))
    };
    let reflection_v1 = reflection().build_v1().map_err(SetupError::Reflection)?;
    // grpcurl and many other tools still ask v1alpha.
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(SetupError::Reflection)?;
    let grpc = port
        .grpc
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    let gateway = Gateway::builder()
        .service(port.rest)
        .cors(shared.cors.clone())
        .build()
        .map_err(SetupError::Routes)?;
    let metrics = shared.metrics.clone();
    let mut app = gateway
        .with_grpc(grpc)
        // On the gRPC paths only (`route_layer` leaves the gateway, the fallback, alone):
        // tonic-web answers 400 to any HTTP/1.1 request that is not gRPC-Web, REST included.
        .route_layer(GrpcWebLayer::new())
        .route_layer(shared.grpc_web_cors.clone())
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        );
    if let Some(page) = port.page {
        app = app.route("/", get(move || async move { Html(page) }));
    }
    Ok(app)
}
