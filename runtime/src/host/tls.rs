//! TLS for a [`Host`](super::Host) (feature `tls`): rustls, with HTTP/2 and HTTP/1.1 offered by
//! ALPN.
//!
//! tonic's own `ServerTlsConfig` offers `h2` only, so a REST client that speaks only HTTP/1.1
//! (Python's `requests`, many HTTP libraries) fails the handshake. Here the handshakes are done
//! with tokio-rustls, each in a task of its own so that a slow or silent client does not hold up
//! the others, and the finished streams are served as plain ones are (serve.rs), each request
//! carrying the client's certificate chain as tonic's own TLS would (mTLS,
//! `interceptors::auth::PeerCertificates`).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::HostError;
use super::connections::Incoming;

/// How long a client may take to complete its handshake before its connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the server to take them.
const ACCEPTED_BACKLOG: usize = 128;

/// The PEM files of a server certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The certificate chain at `cert` (leaf first) and its private key at `key`.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// Reads the files into an acceptor; the error names the file that is missing or wrong.
    pub fn acceptor(&self) -> Result<TlsAcceptor, HostError> {
        let named = |path: &PathBuf, problem: String| {
            HostError::Tls(format!("TLS: {}: {problem}", path.display()))
        };
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|error| named(&self.cert, error.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| named(&self.cert, error.to_string()))?;
        if chain.is_empty() {
            return Err(named(&self.cert, "no PEM certificate in it".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|error| named(&self.key, error.to_string()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| HostError::Tls(format!("TLS: {error}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| {
                named(
                    &self.key,
                    format!("does not match the certificate: {error}"),
                )
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Serves `app` over TLS on the connections of `incoming` until `stop`, as
/// [`super::Host::start`] does in the clear. A connection holds its place under the bound from
/// its accept, through the handshake, to its close.
pub(super) fn serve(
    app: super::router::PortService,
    mut incoming: Incoming,
    acceptor: TlsAcceptor,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<Result<(), tonic::transport::Error>> {
    let (sender, receiver) = mpsc::channel(ACCEPTED_BACKLOG);
    let accepting = tokio::spawn(async move {
        loop {
            // Failed accepts are backed off, and connections over the bound closed, in there.
            let (stream, guard) = std::future::poll_fn(|cx| incoming.poll_admit(cx)).await;
            let peer = stream.peer_addr().ok();
            let acceptor = acceptor.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = sender.send(Ok::<_, std::io::Error>(guard.wrap(tls))).await;
                    }
                    Ok(Err(error)) => tracing::debug!(?peer, "TLS handshake failed: {error}"),
                    Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                }
            });
        }
    });
    let incoming = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|accepted| (accepted, receiver))
    });
    tokio::spawn(async move {
        let stop = async move {
            stop.await;
            // The listener closes with its loop.
            accepting.abort();
        };
        super::serve::serve(app, incoming, stop).await
    })
}
