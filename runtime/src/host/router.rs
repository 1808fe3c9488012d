//! A port's routes (see the module docs of `host`).

use axum::routing::get;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tonic::service::Routes;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower_layer::Layer;

use super::drain::{Drain, DrainLayer};
use super::port::{Fallback, Port, RouterPaths};
use super::protocols::{ProtocolsLayer, UnknownRpc, UnknownRpcLayer};
use super::{HEALTH_SERVICE, Host, HostError, REFLECTION_SERVICES};
use crate::cors::{Cors, CorsLayer};
#[cfg(feature = "gateway")]
use crate::gateway::Gateway;
use crate::rpc::{GRPC_TIMEOUT, REQUEST_ID_HEADER, TRACEPARENT};

/// The request headers a gRPC-Web or Connect client sends (grpc-web's and Connect's JavaScript
/// clients).
const GRPC_WEB_REQUEST_HEADERS: [&str; 12] = [
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    GRPC_TIMEOUT,
    REQUEST_ID_HEADER,
    TRACEPARENT,
    "authorization",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "content-encoding",
];

/// The response headers a gRPC-Web client must be able to read across origins: the status
/// travels in headers when a call fails before any message.
const GRPC_WEB_RESPONSE_HEADERS: [&str; 4] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    REQUEST_ID_HEADER,
];

/// What a port serves, as its connections call it (serve.rs).
pub(super) type PortService = Drain<UnknownRpc<Port>>;

/// `app` for the requests of one connection, whose info `connection` holds (port.rs).
pub(super) fn for_connection(app: &PortService, connection: http::Extensions) -> PortService {
    let mut app = app.clone();
    let port = app.inner_mut().inner_mut();
    *port = port.for_connection(connection);
    app
}

/// The routes of `host`, with `health` beside its services.
pub(super) fn build(
    host: Host,
    health: HealthServer<impl Health>,
    reporter: &tonic_health::server::HealthReporter,
) -> Result<PortService, HostError> {
    let names: Vec<&'static str> = host.services.iter().map(|s| s.name).collect();
    let mut services = host.services.into_iter();
    let Some(first) = services.next() else {
        return Err(HostError::NoServices);
    };
    let mut grpc = first.grpc;
    #[cfg(feature = "gateway")]
    let mut rests = vec![first.rest];
    for service in services {
        // Each `Routes` has tonic's UNIMPLEMENTED fallback, so two cannot be merged; the later
        // ones are routed to by their service's path prefix, as tonic routes a service.
        grpc = Routes::from(
            grpc.into_axum_router()
                .route_service(&service_path(service.name), service.grpc),
        );
        #[cfg(feature = "gateway")]
        rests.push(service.rest);
    }
    grpc = grpc.add_service(health);
    if host.reflection {
        // Only this port's services are listed (and described), not every service of the
        // descriptors: a client listing the services of one port must not be told it serves
        // another's. Both reflection versions are listed by each, so each must describe both:
        // by default a builder adds its own version's descriptors only, and a client listing
        // every method (`buf curl --list-methods`) fails on the other.
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .include_reflection_service(false)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
                .with_service_name(HEALTH_SERVICE);
            for set in &host.descriptors {
                builder = builder.register_encoded_file_descriptor_set(set);
            }
            for name in names.iter().copied().chain(REFLECTION_SERVICES) {
                builder = builder.with_service_name(name);
            }
            builder
        };
        let v1 = reflection().build_v1().map_err(HostError::Reflection)?;
        // grpcurl and many other tools still ask v1alpha.
        let v1alpha = reflection()
            .build_v1alpha()
            .map_err(HostError::Reflection)?;
        grpc = grpc.add_service(v1).add_service(v1alpha);
    }
    let (cors, grpc_web_cors) = cors(&host.cors_origins, &host.exposed_headers)?;
    #[cfg(feature = "gateway")]
    let gateway = match host.prebuilt_gateway {
        Some(gateway) => gateway,
        None => {
            let mut gateway = Gateway::builder().cors(cors);
            for rest in rests.into_iter().flatten() {
                gateway = gateway.service(rest);
            }
            if let Some(configure) = host.configure_gateway {
                gateway = configure(gateway);
            }
            gateway.build().map_err(HostError::Routes)?
        }
    };
    #[cfg(not(feature = "gateway"))]
    let gateway = super::port::NotFound;
    // The paths the `Router` below has routes for: each gRPC service's, `/metrics` and the
    // binary's own.
    let mut hosted: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    hosted.push(HEALTH_SERVICE.to_owned());
    if host.reflection {
        hosted.extend(REFLECTION_SERVICES.map(str::to_owned));
    }
    let mut paths = RouterPaths::new();
    for name in &hosted {
        paths.add(&service_path(name));
    }
    // The port sends REST requests on a shared path to the gateway itself (port.rs), so the
    // router's routes there need not tell them from rpc calls.
    let mut app = beside_grpc(&gateway, grpc)
        // On the gRPC paths only (`route_layer` leaves the gateway, the fallback, alone):
        // tonic-web answers 400 to any HTTP/1.1 request that is not gRPC-Web, REST included,
        // so Connect over HTTP/1.1 goes around it (protocols.rs).
        .route_layer(ProtocolsLayer);
    // Browser access to the gRPC paths only where some origin is allowed: the layer answers
    // preflights and adds `vary` and `access-control-expose-headers` to every response, 150
    // bytes and about 1.3 µs a call that no non-browser caller needs (bench/RESULTS.md,
    // "Connect unary against gRPC and connect-go").
    if !host.cors_origins.is_empty() {
        app = app.route_layer(grpc_web_cors);
    }
    if let Some(metrics) = host.metrics {
        paths.add("/metrics");
        app = app.route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        );
    }
    if let Some(path) = &host.health_endpoint {
        let statuses = std::sync::Arc::new(
            tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
        );
        paths.add(path);
        app = app.route(
            path,
            get(move |query| super::healthz::answer(std::sync::Arc::clone(&statuses), query)),
        );
    }
    for (path, method_router) in host.routes {
        paths.add(&path);
        app = app.route(&path, method_router);
    }
    // The `Router` for its own paths, the gateway straight for the rest (port.rs).
    let port = Port::new(app, gateway, paths);
    // An rpc call to a service not hosted here is answered in its own protocol, not by the
    // gateway's 404. Every HTTP/1.1 request, whatever answered it: a body left unread is
    // drained, or the connection closed (drain.rs). Both go around the port once, not on the
    // router's routes with `Router::layer`: that boxes each route again per layer, and axum
    // clones a route's service, every box of it, for each request at each level it passes
    // (bench/RESULTS.md, "After the host stopped cloning each route ten times").
    Ok(DrainLayer.layer(UnknownRpcLayer::new(hosted).layer(port)))
}

/// A `Router` of tonic's `grpc` routes with `gateway` as its fallback (see port.rs for when it
/// is reached).
fn beside_grpc(gateway: &Fallback, grpc: Routes) -> axum::Router {
    #[cfg(feature = "gateway")]
    let router = gateway.clone().beside_grpc(grpc, false);
    #[cfg(not(feature = "gateway"))]
    let router = grpc.into_axum_router().fallback_service(*gateway);
    router
}

/// The path of the routes of the gRPC service `name`, as tonic's `Routes::add_service` makes it.
fn service_path(name: &str) -> String {
    format!("/{name}/{{*rest}}")
}

/// The CORS policy of the gateway, and the same origins for the gRPC paths (gRPC-Web and
/// Connect from browsers), which the gateway does not see; `*` allows any origin, none allows
/// none. One policy type for both (the gateway's `Cors`).
fn cors(
    origins: &[String],
    exposed_headers: &[HeaderName],
) -> Result<(Cors, CorsLayer), HostError> {
    if let Some(origin) = origins
        .iter()
        .find(|origin| *origin != "*" && HeaderValue::from_str(origin).is_err())
    {
        return Err(HostError::Cors(format!(
            "the CORS origin {origin:?} is not a valid origin"
        )));
    }
    // With no origin allowed CORS is off on both: a browser is refused either way, and no
    // response needs `Vary: Origin` or the wait for it.
    let allowed = || {
        if origins.is_empty() {
            Cors::new()
        } else {
            Cors::new().allow_origins(origins.iter().cloned())
        }
    };
    let grpc_web = allowed()
        // GET: Connect's unary calls to `NO_SIDE_EFFECTS` rpcs.
        .allow_methods(GRPC_PATH_METHODS.iter().copied())
        .allow_headers(GRPC_WEB_REQUEST_HEADERS)
        .expose_headers(
            GRPC_WEB_RESPONSE_HEADERS
                .map(HeaderName::from_static)
                .into_iter()
                .chain(exposed_headers.iter().cloned()),
        );
    Ok((allowed(), CorsLayer::new(grpc_web, GRPC_PATH_METHODS)))
}

/// The methods the gRPC paths serve: `POST`, and `GET` for Connect's unary calls to
/// `NO_SIDE_EFFECTS` rpcs.
const GRPC_PATH_METHODS: &[&str] = &["POST", "GET"];
