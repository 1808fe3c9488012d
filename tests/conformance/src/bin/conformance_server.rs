//! The server under test of `connectconformance --mode server`: reads a `ServerCompatRequest`
//! from stdin, serves `ConformanceService` (the generated adapter over
//! [`rust_svc_conformance::service::Conformance`]) on a `Host` on 127.0.0.1 with an ephemeral
//! port (gRPC and gRPC-Web, HTTP/1.1 and HTTP/2, TLS with a fresh self-signed certificate when
//! asked), writes the `ServerCompatResponse` to stdout, and serves until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;

use rust_svc_conformance::pb::{self, ConformanceServiceGrpc};
use rust_svc_conformance::service::Conformance;
use rust_svc_conformance::{read_message, write_message};
use rust_svc_runtime::host::tls::TlsFiles;
use rust_svc_runtime::host::{Host, Signals, Stop};
use rust_svc_runtime::rpc::LoadShedding;
use tonic::service::Routes;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let request: pb::ServerCompatRequest = read_message(&mut tokio::io::stdin())
        .await?
        .ok_or("no ServerCompatRequest on stdin")?;
    if !request.client_tls_cert.is_empty() {
        // The host authenticates no clients: the config says supports_tls_client_certs: false.
        return Err("client certificates are not supported".into());
    }
    rust_svc_conformance::register_any_types();
    let mut adapter = ConformanceServiceGrpc::new(Conformance);
    if request.message_receive_limit > 0 {
        adapter = adapter.max_decoding_message_size(request.message_receive_limit as usize);
    }
    let mut host = Host::new("conformance")
        .service(
            pb::CONFORMANCE_SERVICE.name,
            Routes::new(adapter.into_service()),
            None,
        )
        .reflection(false)
        // The suite runs many calls at once on 2 cores; none of them is to be refused.
        .load_shedding(LoadShedding::OFF);
    let mut pem_cert = Vec::new();
    let mut files = None;
    if request.use_tls {
        let (tls, cert) = self_signed()?;
        host = host.tls(tls.clone());
        pem_cert = cert.into_bytes();
        files = Some(tls);
    }
    // Before the port is announced: the runner may send SIGTERM as soon as it has it.
    let mut signals = Signals::listen()?;
    let listener = rust_svc_runtime::host::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let stop = Stop::new();
    let serving = host.start(listener, stop.wait()).await?;
    let response = pb::ServerCompatResponse {
        host: "127.0.0.1".to_owned(),
        port: u32::from(serving.addr.port()),
        pem_cert,
    };
    write_message(&mut tokio::io::stdout(), &response).await?;
    signals.recv().await;
    stop.now();
    if let Some(files) = files {
        let _ = std::fs::remove_file(&files.cert);
        let _ = std::fs::remove_file(&files.key);
    }
    // The calls in flight are the runner's, which is going away: no drain.
    Ok(())
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written where the host reads it,
/// and its PEM text.
fn self_signed() -> Result<(TlsFiles, String), Error> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let dir = std::env::temp_dir();
    let stem = format!("rust-svc-conformance-{}", std::process::id());
    let cert: PathBuf = dir.join(format!("{stem}.crt"));
    let key: PathBuf = dir.join(format!("{stem}.key"));
    let pem = certified.cert.pem();
    std::fs::write(&cert, &pem)?;
    std::fs::write(&key, certified.signing_key.serialize_pem())?;
    Ok((TlsFiles::new(cert, key), pem))
}
