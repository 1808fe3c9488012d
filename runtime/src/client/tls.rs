//! TLS under a client's connections to `https://` endpoints (feature `tls`): rustls, a layer
//! under the same connection code as `http://` (`connector.rs`), with what tonic's
//! `ClientTlsConfig` offers: the CAs to trust (given, or the system's or webpki's with their
//! features), a client certificate (mTLS), and the name to verify instead of the URL's host.
//! HTTP/2 is agreed by ALPN (`h2`), HTTP/1.1 for gRPC-Web and Connect over it (`http/1.1`).

use std::fmt;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::connect::BoxError;

/// The TLS settings of a client's `https://` endpoints
/// ([`ClientBuilder::tls`](super::ClientBuilder::tls)). Nothing is trusted until a CA is given
/// ([`ca_certificate`](Self::ca_certificate)) or, with their features, the system's or
/// webpki's roots are asked for.
///
/// ```
/// use rust_svc_runtime::client::ClientTls;
///
/// # let ca_pem = "";
/// let tls = ClientTls::new()
///     .ca_certificate(ca_pem)
///     .domain_name("inventory.internal");
/// # let _ = tls;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ClientTls {
    cas: Vec<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    domain: Option<String>,
    #[cfg(feature = "tls-webpki-roots")]
    webpki_roots: bool,
    #[cfg(feature = "tls-native-roots")]
    native_roots: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("cas", &self.cas.len())
            .field("identity", &self.identity.is_some())
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// No CA trusted, no client certificate, the URL's host verified.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the CA certificates of `pem` (one or more PEM blocks) for the servers' chains.
    #[must_use]
    pub fn ca_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.cas.push(pem.as_ref().to_vec());
        self
    }

    /// Presents the certificate chain `cert_pem` (leaf first) with its private key `key_pem`
    /// (PKCS#8, PKCS#1 or SEC1), for servers that authenticate their clients (mTLS).
    #[must_use]
    pub fn identity(mut self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        self.identity = Some((cert_pem.as_ref().to_vec(), key_pem.as_ref().to_vec()));
        self
    }

    /// Sends `name` as the server name (SNI) and verifies the server's certificate for it,
    /// instead of the endpoint URL's host (an endpoint given by address, say).
    #[must_use]
    pub fn domain_name(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    /// Trusts the CAs of Mozilla's root program, as webpki-roots carries them (feature
    /// `tls-webpki-roots`).
    #[cfg(feature = "tls-webpki-roots")]
    #[must_use]
    pub fn with_webpki_roots(mut self) -> Self {
        self.webpki_roots = true;
        self
    }

    /// Trusts the operating system's CAs (feature `tls-native-roots`).
    #[cfg(feature = "tls-native-roots")]
    #[must_use]
    pub fn with_native_roots(mut self) -> Self {
        self.native_roots = true;
        self
    }

    /// These settings with the roots of the `tls-native-roots` and `tls-webpki-roots` features,
    /// where compiled in, trusted too: what an `https://` endpoint gets by default.
    pub(super) fn enabled_roots(self) -> Self {
        #[cfg_attr(
            not(any(feature = "tls-webpki-roots", feature = "tls-native-roots")),
            allow(unused_mut)
        )]
        let mut this = self;
        #[cfg(feature = "tls-webpki-roots")]
        {
            this.webpki_roots = true;
        }
        #[cfg(feature = "tls-native-roots")]
        {
            this.native_roots = true;
        }
        this
    }

    /// The connector these settings make, offering `alpn`; the error says what is wrong.
    pub(super) fn build(&self, alpn: &[u8]) -> Result<Tls, String> {
        let mut roots = RootCertStore::empty();
        for pem in &self.cas {
            let certificates = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("TLS: ca_certificate: {error}"))?;
            if certificates.is_empty() {
                return Err("TLS: ca_certificate: no PEM certificate in it".to_owned());
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| format!("TLS: ca_certificate: {error}"))?;
            }
        }
        #[cfg(feature = "tls-webpki-roots")]
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        #[cfg(feature = "tls-native-roots")]
        if self.native_roots {
            let found = rustls_native_certs::load_native_certs();
            for certificate in found.certs {
                // One the system store holds but rustls cannot read is skipped, as tonic does.
                let _ = roots.add(certificate);
            }
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS: {error}"))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| format!("TLS: identity certificate: {error}"))?;
                if chain.is_empty() {
                    return Err("TLS: identity certificate: no PEM certificate in it".to_owned());
                }
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|error| format!("TLS: identity key: {error}"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|error| format!("TLS: identity: {error}"))?
            }
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        let domain = self
            .domain
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone())
                    .map_err(|error| format!("TLS: domain_name {name:?}: {error}"))
            })
            .transpose()?;
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
            alpn: alpn.to_vec(),
            domain,
        })
    }
}

/// A built [`ClientTls`] for one HTTP version.
pub(crate) struct Tls {
    connector: TlsConnector,
    alpn: Vec<u8>,
    domain: Option<ServerName<'static>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("alpn", &String::from_utf8_lossy(&self.alpn))
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The handshake over `tcp` to `origin`, which must agree to the protocol offered.
    pub(super) async fn connect(
        &self,
        origin: &http::Uri,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, BoxError> {
        let name = match &self.domain {
            Some(name) => name.clone(),
            None => {
                let host = origin.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                ServerName::try_from(host.to_owned())
                    .map_err(|error| format!("TLS: the host {host:?}: {error}"))?
            }
        };
        let stream = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|error| format!("TLS handshake with {origin}: {error}"))?;
        let agreed = stream.get_ref().1.alpn_protocol();
        if agreed != Some(self.alpn.as_slice()) {
            return Err(format!(
                "TLS: {origin} did not agree to {} by ALPN (it chose {})",
                String::from_utf8_lossy(&self.alpn),
                agreed.map_or("nothing".into(), String::from_utf8_lossy)
            )
            .into());
        }
        Ok(stream)
    }
}
