//! The runtime's `host`: TLS with HTTP/2 for gRPC and HTTP/1.1 for REST on one port (ALPN
//! offers both, unlike tonic's own TLS, which offers h2 only), errors naming a bad certificate
//! or key file, and several services on one port with reflection off. Shutdown and draining are
//! tested through the logistics binary (examples/logistics/tests/it/lifecycle.rs).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use example_services::courier_directory::CourierDirectory;
use example_services::dispatch::v1::DispatchService as _;
use example_services::dispatch::v1::{
    DISPATCH_SERVICE, DispatchServiceClient, DispatchServiceGrpc, GetCourierStatusRequest,
};
use example_services::inventory::v1::InventoryService as _;
use example_services::inventory::v1::{
    CheckStockRequest, INVENTORY_SERVICE, InventoryServiceClient, InventoryServiceGateway,
    InventoryServiceGrpc,
};
use example_services::inventory_store::InventoryStore;
use rcgen::{CertificateParams, KeyPair};
use rust_svc_runtime::host::tls::TlsFiles;
use rust_svc_runtime::host::{self, Host, HostError, Serving, Stop};
use rust_svc_runtime::{Code, Context};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::service::Routes;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::gateway_common::{EchoDomain, serve_on_host};
use rust_svc_tests::tests::gateway::{Echo as _, EchoClient, Everything};

/// An inventory with one SKU in stock.
fn inventory() -> Arc<InventoryStore> {
    let store = InventoryStore::new();
    store.set_on_hand("wh_1", "SKU-1", 7).unwrap();
    Arc::new(store)
}

/// The inventory (gRPC and REST) on a port of its own, configured by `configure`.
async fn serve(configure: impl FnOnce(Host) -> Host) -> Result<(Serving, Stop), HostError> {
    let domain = inventory();
    let host = Host::new("inventory").service(
        INVENTORY_SERVICE.name,
        Routes::new(InventoryServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        Some(InventoryServiceGateway::routes_from_arc(domain)),
    );
    let listener = host::bind("127.0.0.1:0".parse().unwrap()).await?;
    let stop = Stop::new();
    let serving = configure(host).start(listener, stop.wait()).await?;
    Ok((serving, stop))
}

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
fn certificate(dir: &Path) -> (TlsFiles, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let files = TlsFiles::new(dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    (files, cert.pem())
}

/// The whole response to `GET path` over TLS (trusting `ca`) from a client that offers HTTP/1.1
/// only.
async fn https_get_over_http1(addr: SocketAddr, ca: &str, path: &str) -> String {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let der = rustls_pki_types::CertificateDer::from_pem_slice(ca.as_bytes()).unwrap();
    roots.add(der).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn tls_serves_grpc_over_http2_and_rest_over_http1_on_one_port() {
    let dir = tempfile::tempdir().unwrap();
    let (files, ca) = certificate(dir.path());
    let (serving, _stop) = serve(|host| host.tls(files)).await.unwrap();
    let port = serving.addr.port();

    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&ca))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let stock = InventoryServiceClient::new(channel)
        .check_stock(
            &Context::new(),
            CheckStockRequest {
                sku: "SKU-1".to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stock.available, 7);

    // A client that offers HTTP/1.1 only, as many REST clients do.
    let response = https_get_over_http1(serving.addr, &ca, "/v1/items/SKU-1/stock").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"available\":7"), "{response}");
}

#[tokio::test]
async fn the_generated_client_dials_https_with_the_same_connection_code_as_http() {
    // `connect_lazy("https://…")` with the builder's TLS settings: TLS under the client's own
    // HTTP/2 connection (gRPC, gRPC-Web, Connect), and under its HTTP/1.1 client (Connect),
    // not tonic's channel beside them.
    use rust_svc_runtime::client::{ClientTls, HttpVersion, Protocol};
    let dir = tempfile::tempdir().unwrap();
    let (files, ca) = certificate(dir.path());
    let (serving, _stop) = serve(|host| host.tls(files)).await.unwrap();
    let port = serving.addr.port();
    let request = || CheckStockRequest {
        sku: "SKU-1".to_owned(),
        ..Default::default()
    };
    let tls = || ClientTls::new().ca_certificate(&ca);
    let ways = [
        (Protocol::Grpc, HttpVersion::Http2),
        (Protocol::GrpcWeb, HttpVersion::Http2),
        (Protocol::Connect, HttpVersion::Http2),
        (Protocol::Connect, HttpVersion::Http1),
        (Protocol::GrpcWeb, HttpVersion::Http1),
    ];
    for (protocol, version) in ways {
        let client = InventoryServiceClient::builder()
            .protocol(protocol)
            .http_version(version)
            .tls(tls())
            .connect_lazy([format!("https://localhost:{port}")])
            .unwrap();
        let stock = client.check_stock(&Context::new(), request()).await;
        assert_eq!(
            stock.map(|stock| stock.available).ok(),
            Some(7),
            "{protocol:?} over {version:?}"
        );
    }
    // By address, with the certificate's name given.
    let by_address = InventoryServiceClient::builder()
        .tls(tls().domain_name("localhost"))
        .connect_lazy([format!("https://127.0.0.1:{port}")])
        .unwrap();
    assert!(
        by_address
            .check_stock(&Context::new(), request())
            .await
            .is_ok()
    );
    // A server whose CA is not trusted: UNAVAILABLE, saying why.
    let untrusting = InventoryServiceClient::builder()
        .tls(ClientTls::new())
        .connect_lazy([format!("https://localhost:{port}")])
        .unwrap();
    let status = untrusting
        .check_stock(&Context::new(), request())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("TLS"), "{}", status.message());
    // A CA that is not PEM: the client is not built, the error names the setting.
    let error = InventoryServiceClient::builder()
        .tls(ClientTls::new().ca_certificate("not a certificate"))
        .connect_lazy([format!("https://localhost:{port}")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("ca_certificate"), "{error}");
}

#[tokio::test]
async fn bad_tls_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = certificate(dir.path());
    let missing = TlsFiles::new(dir.path().join("nope.pem"), files.key.clone());
    let error = serve(|host| host.tls(missing))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("nope.pem"), "{error}");

    let other_key = dir.path().join("other-key.pem");
    let mut file = std::fs::File::create(&other_key).unwrap();
    file.write_all(KeyPair::generate().unwrap().serialize_pem().as_bytes())
        .unwrap();
    let mismatched = TlsFiles::new(files.cert.clone(), other_key);
    let error = serve(|host| host.tls(mismatched))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("other-key.pem") && error.contains("does not match"),
        "{error}"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let no_certificate = TlsFiles::new(empty, files.key);
    let error = serve(|host| host.tls(no_certificate))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("empty.pem: no PEM certificate"), "{error}");
}

#[tokio::test]
async fn a_port_serves_several_services_with_reflection_off() {
    let directory = Arc::new(CourierDirectory::new());
    directory.add_courier("courier_1").unwrap();
    let (serving, _stop) = serve(|host| {
        host.service(
            DISPATCH_SERVICE.name,
            Routes::new(DispatchServiceGrpc::from_arc(directory).into_service()),
            None,
        )
        .reflection(false)
    })
    .await
    .unwrap();
    let url = format!("http://{}", serving.addr);
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();

    for service in [
        "",
        "inventory.v1.InventoryService",
        "dispatch.v1.DispatchService",
    ] {
        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(health.status, 1, "{service:?} is SERVING");
    }
    let stock = InventoryServiceClient::connect_lazy([url.as_str()])
        .unwrap()
        .check_stock(
            &Context::new(),
            CheckStockRequest {
                sku: "SKU-1".to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stock.available, 7);
    let courier = DispatchServiceClient::connect_lazy([url.as_str()])
        .unwrap()
        .get_courier_status(
            &Context::new(),
            GetCourierStatusRequest {
                courier_id: "courier_1".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(courier.courier_id, "courier_1");

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let reflection = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::once(request))
        .await;
    assert_eq!(reflection.unwrap_err().code(), Code::Unimplemented);
}

#[tokio::test]
async fn without_cors_origins_rest_answers_carry_no_cors_headers() {
    let (serving, _stop) = serve(|host| host).await.unwrap();
    let stock = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/items/SKU-1/stock?warehouseId=wh_1",
            serving.addr
        ))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(stock.status(), 200);
    for name in ["vary", "access-control-allow-origin"] {
        assert!(stock.headers().get(name).is_none(), "{name}: {stock:?}");
    }
    let body: serde_json::Value = stock.json().await.unwrap();
    assert_eq!(body["available"], 7);
}

#[tokio::test]
async fn rest_over_tls_tells_the_handler_where_the_call_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (files, ca) = certificate(dir.path());
    let domain = EchoDomain::default();
    let (serving, _stop) = serve_on_host(&domain, |host| host.tls(files)).await;
    let response = https_get_over_http1(serving.addr, &ca, "/v1/everything/abc").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // grpc-gateway's `X-Forwarded-For`, from the TLS connection's peer.
    let seen = domain.last("get_everything");
    assert_eq!(seen.get("x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
    assert!(seen.had_peer, "{seen:?}");
}

#[tokio::test]
async fn rest_and_grpc_on_a_plain_port_know_where_the_call_came_from() {
    // The gateway is told a connection's peer once; tonic's routes find it in each request's
    // extensions. Both, on one connection each, over HTTP/1.1 and HTTP/2.
    let domain = EchoDomain::default();
    let (serving, _stop) = serve_on_host(&domain, |host| host).await;

    let mut tcp = tokio::net::TcpStream::connect(serving.addr).await.unwrap();
    for id in ["first", "second"] {
        // Two requests on one kept-alive connection: the second is served by the same
        // connection's port.
        let request = format!("GET /v1/everything/{id} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = vec![0; 4096];
        let read = tcp.read(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response[..read]);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let seen = domain.last("get_everything");
        assert_eq!(seen.get("x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
        assert!(seen.had_peer, "{seen:?}");
    }

    let channel = Channel::from_shared(format!("http://{}", serving.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = EchoClient::builder().build(channel).unwrap();
    let echoed = client
        .get_everything(
            &Context::new(),
            Everything {
                id: "grpc".to_owned(),
                ..Everything::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(echoed.id, "grpc");
    let seen = domain.last("get_everything");
    assert!(seen.had_peer, "{seen:?}");
    assert_eq!(seen.get("x-forwarded-for"), None, "{seen:?}");
}

#[tokio::test]
async fn an_http_rule_on_its_rpcs_own_grpc_path_is_transcoded_there() {
    let domain = EchoDomain::default();
    let (serving, _stop) = serve_on_host(&domain, |host| host).await;
    rest_and_rpcs_share_the_path(serving.addr).await;
}

#[tokio::test]
async fn with_grpc_transcodes_an_http_rule_on_its_rpcs_own_grpc_path_too() {
    // The harness puts the gateway and the gRPC routes on one port with `Gateway::with_grpc`.
    let served = crate::gateway_common::serve().await;
    rest_and_rpcs_share_the_path(served.harness.local_addr().unwrap()).await;
}

/// `post: "/tests.gateway.Echo/PutEverything"` with `body: "item"` on the server at `addr`: a
/// JSON POST there is REST (the body is the item), as the Envoy transcoder serves it; the same
/// POST naming a Connect protocol version is a Connect call (the body is the whole request),
/// and gRPC calls of the rpc are gRPC's.
async fn rest_and_rpcs_share_the_path(addr: SocketAddr) {
    let url = format!("http://{addr}/tests.gateway.Echo/PutEverything");
    let http = reqwest::Client::new();
    let rest: serde_json::Value = http
        .post(&url)
        .json(&serde_json::json!({"id": "inside"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest, serde_json::json!({"item": {"id": "inside"}}));
    let connect: serde_json::Value = http
        .post(&url)
        .header("connect-protocol-version", "1")
        .json(&serde_json::json!({"id": "whole"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(connect, serde_json::json!({"id": "whole"}));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = EchoClient::builder().build(channel).unwrap();
    let request = rust_svc_tests::tests::gateway::PutRequest {
        id: "grpc".to_owned(),
        ..Default::default()
    };
    let echoed = client
        .put_everything(&Context::new(), request)
        .await
        .unwrap();
    assert_eq!(echoed.id, "grpc");
}

#[tokio::test]
async fn a_port_sets_no_bound_on_concurrent_http2_streams() {
    // As tonic's and grpc-go's servers: a client multiplexing every call over one connection
    // must not queue the 201st behind the others (hyper's own default is 200).
    let (serving, _stop) = serve(|host| host).await.unwrap();
    let tcp = tokio::net::TcpStream::connect(serving.addr).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let request = http::Request::get(format!("http://{}/nothing", serving.addr))
        .body(())
        .unwrap();
    let (response, _) = client
        .ready()
        .await
        .unwrap()
        .send_request(request, true)
        .unwrap();
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 404);
    // The server's SETTINGS came before its answer.
    assert_eq!(connection.max_concurrent_send_streams(), usize::MAX);
}

#[tokio::test]
async fn streams_a_client_cancelled_in_a_burst_do_not_close_its_connection() {
    // A client whose calls ran past their deadlines while the server was stalled (a pause, a
    // stop) cancels them all at once: the server then reads a burst of streams reset before
    // it accepted them. hyper's guard against the "rapid reset" attack closes the connection
    // after 20 (ENHANCE_YOUR_CALM), failing every other call on it; a port allows 1,024.
    let (serving, _stop) = serve(|host| host).await.unwrap();
    let tcp = tokio::net::TcpStream::connect(serving.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let mut client = client.ready().await.unwrap();
    let request = || {
        http::Request::post(format!("http://{}/nothing", serving.addr))
            .body(())
            .unwrap()
    };
    // Opened and reset before the connection is polled: they go out as one burst.
    for _ in 0..100 {
        let (_, mut stream) = client.send_request(request(), false).unwrap();
        stream.send_reset(h2::Reason::CANCEL);
    }
    let mut connection = tokio::spawn(connection);
    let (response, _) = client
        .ready()
        .await
        .unwrap()
        .send_request(request(), true)
        .unwrap();
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_health_endpoint_answers_plain_http_probes() {
    // grpc-gateway's WithHealthzEndpoint: the gRPC health statuses over plain HTTP.
    let (serving, _stop) = serve(|host| host.health_endpoint("/healthz"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let get = |query: &str| {
        let url = format!("http://{}/healthz{query}", serving.addr);
        let http = http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            assert_eq!(response.headers()["cache-control"], "no-store");
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let serving_json = serde_json::json!({"status": "SERVING"});
    assert_eq!(get("").await, (200, serving_json.clone()));
    assert_eq!(
        get("?service=inventory.v1.InventoryService").await,
        (200, serving_json)
    );
    // Otherwise grpc-gateway's errors: a google.rpc.Status with the code's HTTP status.
    let (status, body) = get("?service=no.such.Service").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        (&body["code"], &body["details"]),
        (&serde_json::json!(5), &serde_json::json!([]))
    );
    serving
        .set_health(tonic_health::ServingStatus::NotServing)
        .await;
    assert_eq!(
        get("").await,
        (
            503,
            serde_json::json!({"code": 14, "message": "status:NOT_SERVING", "details": []})
        )
    );
}

#[tokio::test]
async fn a_port_s_gateway_takes_the_binary_s_options() {
    // What a binary sets on the gateway a port builds: here an error handler.
    let (serving, _stop) = serve(|host| {
        host.gateway(|gateway| {
            gateway.error_handler(|status, response| {
                let (parts, _) = response.into_parts();
                let body = format!("problem: {}", status.message());
                http::Response::from_parts(parts, body.into())
            })
        })
    })
    .await
    .unwrap();
    let response = reqwest::get(format!("http://{}/v1/nowhere", serving.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response.text().await.unwrap().starts_with("problem: "),
        "the binary's handler wrote the error"
    );
}

#[tokio::test]
async fn health_and_reflection_tell_a_connect_call_they_speak_grpc() {
    // tonic's health and reflection answer gRPC and gRPC-Web only: a Connect call (buf curl's
    // default, or curl with JSON) is told so in Connect's form, not a gRPC INTERNAL. (Over
    // gRPC they answer as before: `a_port_serves_several_services_with_reflection_off`.)
    let (serving, _stop) = serve(|host| host.reflection(true)).await.unwrap();
    let http = reqwest::Client::new();
    for (path, content_type) in [
        ("/grpc.health.v1.Health/Check", "application/json"),
        (
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "application/connect+json",
        ),
    ] {
        let response = http
            .post(format!("http://{}{path}", serving.addr))
            .header("content-type", content_type)
            .header("connect-protocol-version", "1")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "unimplemented", "{path}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.ends_with("is served over gRPC and gRPC-Web, not Connect"),
            "{message}"
        );
    }
}
