//! Where a built client's endpoints come from: the servers of a URL list, or the addresses of a
//! name (`client::resolve`), each with the transport the builder's protocol, HTTP
//! version and TLS settings call for.

use std::sync::Arc;

use super::ClientBuilder;
use crate::client::GeneratedClient;
use crate::client::connector::Dial;
use crate::client::error::ClientError;
use crate::client::resolve::{DEFAULT_REFRESH, Dns, Resolve, Target};
use crate::client::settings::Endpointing;
use crate::client::transport::{HttpVersion, Protocol, Transport};

impl<C: GeneratedClient> ClientBuilder<C> {
    /// Builds the client over endpoints it connects to on first use. Must be called inside a
    /// tokio runtime.
    ///
    /// Several endpoints are balanced: each attempt goes to the next endpoint, round robin,
    /// whose breaker admits it, and a retry to one the call has not tried yet. Each endpoint
    /// has its own breakers (named `service/Method@url`), so one dead server does not stop the
    /// calls to the others.
    ///
    /// Instead of URLs, one name: `dns:///inventory-headless:50051` is every address the name
    /// resolves to, followed while the client runs (see [`resolver`](Self::resolver) and
    /// [`resolve_every`](Self::resolve_every)); each address is an endpoint as a URL's server
    /// is (breakers named `service/Method@ip:port`), dialled with TLS when
    /// `tls` (feature `tls`) is set, the name in its SNI and certificate check.
    pub fn connect_lazy<I, S>(self, endpoints: I) -> Result<C, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let urls: Vec<String> = endpoints
            .into_iter()
            .map(|url| url.as_ref().to_owned())
            .collect();
        if let Some(target) = urls.iter().find_map(|url| Target::parse(url)) {
            return self.connect_resolved(target, urls.len());
        }
        let (protocol, version) = (self.settings.protocol, self.settings.http_version);
        let http1 = protocol != Protocol::Grpc && version == HttpVersion::Http1;
        // TLS settings built once, for every `https://` endpoint.
        let mut tls = None;
        let channels = urls
            .iter()
            .map(|url| {
                let invalid = |reason: String| ClientError::InvalidEndpoint {
                    endpoint: url.clone(),
                    reason,
                };
                let origin: http::Uri = url.parse().map_err(|error| invalid(format!("{error}")))?;
                let https = match origin.scheme_str() {
                    Some("http") => false,
                    Some("https") => true,
                    _ => return Err(invalid("the URL must be http:// or https://".to_owned())),
                };
                if origin.authority().is_none() {
                    return Err(invalid("the URL has no host".to_owned()));
                }
                let dial = if https {
                    if tls.is_none() {
                        tls = Some(self.tls_dial(http1).map_err(&invalid)?);
                    }
                    tls.clone().unwrap_or_default()
                } else {
                    Dial::default()
                };
                // One endpoint is named by the client's target, as a channel is; several by
                // their URLs, so their breakers can be told apart.
                let label = (urls.len() > 1).then(|| url.clone());
                let transport = if http1 {
                    Transport::http1(origin, protocol, self.spec, dial)
                } else {
                    Transport::http2(origin, protocol, self.spec, dial)
                };
                Ok((label, transport))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if channels.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        self.finish(Endpointing::Fixed(channels), urls.join(","))
    }

    /// The client of a named target: its addresses, resolved while it runs.
    fn connect_resolved(mut self, target: Target, given: usize) -> Result<C, ClientError> {
        let invalid = |reason: String| ClientError::InvalidEndpoint {
            endpoint: target.to_string(),
            reason,
        };
        if given > 1 {
            return Err(invalid(
                "a named target stands alone: its addresses are the endpoints".to_owned(),
            ));
        }
        let resolver: Arc<dyn Resolve> = match self.settings.resolver.take() {
            Some(resolver) => resolver,
            None if target.scheme() == "dns" => Arc::new(Dns),
            None => {
                return Err(invalid(format!(
                    "no resolver for `{}:` targets: give one with ClientBuilder::resolver, or \
                     write an http:// URL or a dns:/// name",
                    target.scheme()
                )));
            }
        };
        let (protocol, version) = (self.settings.protocol, self.settings.http_version);
        let http1 = protocol != Protocol::Grpc && version == HttpVersion::Http1;
        let tls = self.tls_requested();
        let dial = if tls {
            self.tls_dial(http1).map_err(&invalid)?
        } else {
            Dial::default()
        };
        let failures = Arc::new(tokio::sync::Notify::new());
        let host = match target.host() {
            v6 if v6.contains(':') => format!("[{v6}]"),
            name => name.to_owned(),
        };
        let scheme = if tls { "https" } else { "http" };
        let port = target.port_or_default();
        let origin: http::Uri = format!("{scheme}://{host}:{port}")
            .parse()
            .map_err(|error| invalid(format!("{error}")))?;
        let spec = self.spec;
        let on_failure = Arc::clone(&failures);
        let transport = Box::new(move |address| {
            let dial = Dial {
                address: Some(address),
                on_failure: Some(Arc::clone(&on_failure)),
                ..dial.clone()
            };
            if http1 {
                Transport::http1(origin.clone(), protocol, spec, dial)
            } else {
                Transport::http2(origin.clone(), protocol, spec, dial)
            }
        });
        let endpointing = Endpointing::Resolved {
            refresh: self.settings.resolve_every.unwrap_or(DEFAULT_REFRESH),
            target: target.clone(),
            resolver,
            transport,
            failures,
        };
        self.finish(endpointing, target.to_string())
    }

    /// Whether TLS was asked for with [`tls`](Self::tls).
    fn tls_requested(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.settings.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }

    /// How `https://` endpoints are dialled: TLS with the builder's settings, offering HTTP/1.1
    /// or HTTP/2 by ALPN.
    #[cfg(feature = "tls")]
    fn tls_dial(&self, http1: bool) -> Result<Dial, String> {
        let settings = self.settings.tls.clone().unwrap_or_default();
        let alpn: &[u8] = if http1 { b"http/1.1" } else { b"h2" };
        Ok(Dial {
            tls: Some(Arc::new(settings.enabled_roots().build(alpn)?)),
            ..Dial::default()
        })
    }

    #[cfg(not(feature = "tls"))]
    fn tls_dial(&self, _http1: bool) -> Result<Dial, String> {
        Err("an https:// endpoint needs TLS: build rust-svc-runtime with its `tls` feature".into())
    }
}
