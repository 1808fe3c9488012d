//! The server half of bench/gateway.sh: serves InventoryService's `CheckStock` and
//! `ReserveItems` routes over REST/JSON on 127.0.0.1, through the generated gateway or through a
//! hand-written axum + serde front, both in front of the same domain ([`Inventory`]) and both
//! served by `axum::serve`, so that an external load generator (wrk) can compare the two.
//!
//! ```text
//! rest_server --impl gateway --port N       InventoryServiceGateway::router(Inventory)
//! rest_server --impl gateway-service --port N
//!                                           the same gateway served as a tower service, without
//!                                           the axum `Router` that `router()` wraps it in
//! rest_server --impl host --port N          the gateway on a `Host` port beside the gRPC
//!                                           adapter, as the example system and scaffolded
//!                                           servers serve it
//! rest_server --impl handwritten --port N   rust_svc_bench::rest::handwritten_router
//! rest_server --impl grpc --port N          the generated tonic adapter (InventoryServiceGrpc),
//!                                           the backend of grpc-gateway and of `proxy`
//! rest_server --impl proxy --port N --backend M
//!                                           the generated gateway in front of the generated
//!                                           client to the gRPC server on port M
//! ```
//!
//! Every mode runs a multi-thread tokio runtime with exactly one worker thread: the script pins
//! the process to one core, and more workers would only contend for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use axum::ServiceExt;
use axum::extract::Request;
use axum::serve::{ListenerExt, TapIo};
use example_services::inventory::v1::{
    INVENTORY_SERVICE, InventoryServiceClient, InventoryServiceGateway, InventoryServiceGrpc,
};
use rust_svc_bench::rest::{Inventory, handwritten_router};
use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::host::Host;
use tokio::net::{TcpListener, TcpStream};

enum Front {
    Gateway,
    GatewayService,
    Host,
    Handwritten,
    Grpc,
    Proxy { backend: u16 },
}

fn parse_args() -> Result<(Front, u16), String> {
    let mut front = None;
    let mut port = None;
    let mut backend = None;
    let mut args = std::env::args().skip(1);
    let parse_port = |text: String| {
        text.parse::<u16>()
            .map_err(|_| format!("bad port `{text}`"))
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--impl" => front = Some(value("--impl")?),
            "--port" => port = Some(parse_port(value("--port")?)?),
            "--backend" => backend = Some(parse_port(value("--backend")?)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let front = match (front.as_deref(), backend) {
        (Some("gateway"), None) => Front::Gateway,
        (Some("gateway-service"), None) => Front::GatewayService,
        (Some("host"), None) => Front::Host,
        (Some("handwritten"), None) => Front::Handwritten,
        (Some("grpc"), None) => Front::Grpc,
        (Some("proxy"), Some(backend)) => Front::Proxy { backend },
        (Some("proxy"), None) => return Err("--impl proxy needs --backend".to_owned()),
        (Some(_), Some(_)) => return Err("--backend is for --impl proxy only".to_owned()),
        _ => {
            return Err(
                "--impl gateway|gateway-service|host|handwritten|grpc|proxy is required".to_owned(),
            );
        }
    };
    Ok((front, port))
}

async fn serve(front: Front, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let router = match front {
        Front::Gateway => InventoryServiceGateway::router(Inventory),
        Front::GatewayService => {
            // What `router()` costs over the gateway itself: axum's `Router` serves it as a
            // fallback, a catch-all route matched and a future wrapped on every request.
            let gateway = Gateway::from_service(InventoryServiceGateway::routes(Inventory));
            return axum::serve(
                listener(addr).await?,
                ServiceExt::<Request>::into_make_service(gateway),
            )
            .await
            .map_err(|e| format!("serving on {addr}: {e}"));
        }
        Front::Host => {
            // Reflection, health, CORS, connection bounds and the HTTP/1.1 body drain as the
            // example system has them; REST and gRPC on the one port.
            let host = Host::new("inventory").service(
                INVENTORY_SERVICE.name,
                tonic::service::Routes::new(InventoryServiceGrpc::new(Inventory).into_service()),
                Some(InventoryServiceGateway::routes(Inventory)),
            );
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("binding {addr}: {e}"))?;
            let serving = host
                .start(listener, std::future::pending())
                .await
                .map_err(|e| format!("serving on {addr}: {e}"))?;
            return match serving.task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("serving on {addr}: {e}")),
                Err(e) => Err(format!("serving on {addr}: {e}")),
            };
        }
        Front::Handwritten => handwritten_router(Arc::new(Inventory)),
        Front::Proxy { backend } => {
            let client =
                InventoryServiceClient::connect_lazy([format!("http://127.0.0.1:{backend}")])
                    .map_err(|e| format!("client to port {backend}: {e}"))?;
            InventoryServiceGateway::router(client)
        }
        Front::Grpc => {
            // tonic's defaults, as in adapter_server: the backend is not what is compared.
            return tonic::transport::Server::builder()
                .add_service(InventoryServiceGrpc::new(Inventory).into_service())
                .serve(addr)
                .await
                .map_err(|e| format!("serving gRPC on {addr}: {e}"));
        }
    };
    axum::serve(listener(addr).await?, router)
        .await
        .map_err(|e| format!("serving on {addr}: {e}"))
}

/// The same listener for every REST front. Nagle's algorithm off, as Go's net/http
/// (grpc-gateway) has it, so that no front waits on a delayed ACK.
async fn listener(addr: SocketAddr) -> Result<TapIo<TcpListener, fn(&mut TcpStream)>, String> {
    let no_delay: fn(&mut TcpStream) = |tcp| {
        // A socket that cannot take the option is still served, only slower.
        let _ = tcp.set_nodelay(true);
    };
    Ok(TcpListener::bind(addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?
        .tap_io(no_delay))
}

fn main() -> ExitCode {
    let outcome = parse_args().and_then(|(front, port)| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("building the tokio runtime: {e}"))?
            .block_on(serve(front, port))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rest_server: {message}");
            ExitCode::FAILURE
        }
    }
}
