//! mTLS: over a TLS connection with a client certificate, the gRPC adapter hands the client's
//! chain to interceptors (runtime feature `tls`), and `Auth::peer` admits or refuses the call
//! by it. The CA and certificates are made for the test with rcgen.

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rust_svc_runtime::interceptors::auth::PeerCertificates;
use rust_svc_runtime::interceptors::{Auth, CallInfo, Interceptors};
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use rust_svc_tests::tests::metadata::{Blob, MetadataEcho, MetadataEchoClient, MetadataEchoGrpc};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server, ServerTlsConfig};

/// A throwaway CA, a server certificate for `localhost`, and a client certificate.
struct Pki {
    ca: String,
    server: Identity,
    client: Identity,
    client_der: Vec<u8>,
    /// The client's certificate and key, PEM.
    client_pem: (String, String),
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["orders.internal".to_owned()]).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "orders-service");
    let client = client_params.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca,
        server: Identity::from_pem(server.pem(), server_key.serialize_pem()),
        client_der: client.der().to_vec(),
        client: Identity::from_pem(client.pem(), client_key.serialize_pem()),
        client_pem: (client.pem(), client_key.serialize_pem()),
    }
}

/// Echoes, and remembers the chain its calls arrived with.
#[derive(Clone, Default)]
struct Witness(Arc<Mutex<Vec<Option<Vec<u8>>>>>);

impl MetadataEcho for Witness {
    async fn echo(&self, ctx: &Context, request: Blob) -> Result<Blob, Status> {
        let leaf = ctx
            .extensions()
            .get::<PeerCertificates>()
            .and_then(|chain| chain.leaf().map(<[u8]>::to_vec));
        self.0.lock().unwrap().push(leaf);
        Ok(request)
    }

    async fn repeat(&self, _ctx: &Context, _request: Blob) -> Result<BoxStream<Blob>, Status> {
        Err(Status::unimplemented("not used here"))
    }
}

async fn channel(pki: &Pki, port: u16, identity: Option<Identity>) -> Channel {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `domain` served over TLS on a loopback port with the server certificate of `pki`, client
/// certificates of its CA accepted but not required; the port.
async fn serve_mtls(pki: &Pki, domain: impl MetadataEcho) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = ServerTlsConfig::new()
        .identity(pki.server.clone())
        .client_ca_root(Certificate::from_pem(&pki.ca))
        .client_auth_optional(true);
    tokio::spawn(
        Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(MetadataEchoGrpc::new(domain).into_service())
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    port
}

#[tokio::test]
async fn the_client_certificate_reaches_interceptors_and_the_handler() {
    let pki = pki();
    let witness = Witness::default();
    let expected = pki.client_der.clone();
    let service = Interceptors::server()
        .with(Auth::peer(
            move |chain: Option<&PeerCertificates>, _call: &CallInfo| match chain
                .and_then(PeerCertificates::leaf)
            {
                Some(leaf) if leaf == expected.as_slice() => Ok(()),
                Some(_) => Err(Status::permission_denied("unknown client certificate")),
                None => Err(Status::unauthenticated("a client certificate is required")),
            },
        ))
        .wrap(witness.clone());

    let port = serve_mtls(&pki, service).await;

    let with_certificate =
        MetadataEchoClient::new(channel(&pki, port, Some(pki.client.clone())).await);
    let reply = with_certificate
        .echo(
            &Context::new(),
            Blob {
                data: b"hi".to_vec(),
                ..Blob::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reply.data, b"hi");
    assert_eq!(*witness.0.lock().unwrap(), [Some(pki.client_der.clone())]);

    // TLS without a client certificate: the connection is made, the call is refused.
    let anonymous = MetadataEchoClient::new(channel(&pki, port, None).await);
    let status = anonymous
        .echo(&Context::new(), Blob::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        witness.0.lock().unwrap().len(),
        1,
        "the handler did not run"
    );
}

#[tokio::test]
async fn the_generated_client_presents_its_certificate_over_its_own_connection() {
    // The client's `ClientTls::identity` on `connect_lazy("https://…")`: the same chain reaches
    // the handler as through tonic's channel above.
    use rust_svc_runtime::client::ClientTls;
    let pki = pki();
    let witness = Witness::default();
    let port = serve_mtls(&pki, witness.clone()).await;
    let client = MetadataEchoClient::builder()
        .tls(
            ClientTls::new()
                .ca_certificate(&pki.ca)
                .identity(&pki.client_pem.0, &pki.client_pem.1)
                .domain_name("localhost"),
        )
        .connect_lazy([format!("https://127.0.0.1:{port}")])
        .unwrap();
    client.echo(&Context::new(), Blob::default()).await.unwrap();
    assert_eq!(*witness.0.lock().unwrap(), [Some(pki.client_der.clone())]);
}

/// Resolves any target to one address.
struct At(std::net::SocketAddr);

impl rust_svc_runtime::client::Resolve for At {
    fn resolve(
        &self,
        _target: &rust_svc_runtime::client::Target,
    ) -> rust_svc_runtime::client::Resolution {
        let address = self.0;
        Box::pin(async move { Ok(vec![address]) })
    }
}

#[tokio::test]
async fn a_resolved_address_is_dialled_with_the_targets_name() {
    // The server's certificate names `localhost`, not 127.0.0.1: the handshake succeeds only
    // when the resolved address is dialled with the target's name in SNI and the certificate
    // check, and no `domain_name` is set to stand in for it.
    use rust_svc_runtime::client::ClientTls;
    let pki = pki();
    let witness = Witness::default();
    let port = serve_mtls(&pki, witness.clone()).await;
    let client = MetadataEchoClient::builder()
        .tls(ClientTls::new().ca_certificate(&pki.ca))
        .resolver(At(([127, 0, 0, 1], port).into()))
        .connect_lazy([format!("static:///localhost:{port}")])
        .unwrap();
    client.echo(&Context::new(), Blob::default()).await.unwrap();
    assert_eq!(client.endpoints(), [format!("127.0.0.1:{port}")]);

    // The same address under another name fails the certificate check.
    let misnamed = MetadataEchoClient::builder()
        .tls(ClientTls::new().ca_certificate(&pki.ca))
        .resolver(At(([127, 0, 0, 1], port).into()))
        .connect_lazy([format!("static:///inventory.internal:{port}")])
        .unwrap();
    let status = misnamed
        .echo(&Context::new(), Blob::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
