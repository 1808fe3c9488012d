//! The generated client for one `ClientCompatRequest`: its protocol (gRPC, gRPC-Web, Connect),
//! HTTP version, TLS and wire settings mapped onto the client's builder, and the connections to
//! the request's server shared with the other requests, as a client application shares them:
//! hundreds of calls at once, each opening a connection of its own, would make the timeout
//! cases measure handshakes.
//!
//! Over HTTP/2 the connection is a tonic `Channel` per server and TLS setting, which every
//! protocol runs over (`ClientBuilder::build`). Over HTTP/1.1 the runtime makes its own pool of
//! connections in `connect_lazy`, so the built client itself is kept, one per server, protocol
//! and wire settings. TLS over HTTP/1.1 the client does not do (client-config.yaml leaves it
//! out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rust_svc_runtime::CompressionEncoding;
use rust_svc_runtime::client::{BreakerPolicy, ClientBuilder, HttpVersion, Protocol, RetryPolicy};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::pb::{self, ConformanceServiceClient};

/// The connections to the servers of the requests.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// HTTP/2 channels.
    channels: Arc<Mutex<HashMap<ChannelKey, Channel>>>,
    /// HTTP/1.1 clients, each with its own pool.
    http1: Arc<Mutex<HashMap<Http1Key, ConformanceServiceClient>>>,
}

/// What tells the connections of two requests apart: URL, server certificate, client identity.
type ChannelKey = (String, Vec<u8>, Option<(Vec<u8>, Vec<u8>)>);

/// What tells two HTTP/1.1 clients apart: URL and the request's wire settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Http1Key {
    url: String,
    wire: Wire,
}

/// What a request asks of the wire, beside where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Wire {
    /// The runtime's `Protocol` is not `Hash`: the suite's stands for it.
    protocol: pb::Protocol,
    gzip: bool,
    receive_limit: u32,
}

impl Wire {
    fn of(request: &pb::ClientCompatRequest) -> Result<Self, String> {
        let protocol = request.protocol();
        Self::protocol_of(protocol)?;
        if request.codec() != pb::Codec::Proto {
            // The runtime's client speaks binary protobuf only (client-config.yaml).
            return Err(format!("{:?} is not supported", request.codec()));
        }
        let gzip = match request.compression() {
            pb::Compression::Identity | pb::Compression::Unspecified => false,
            pb::Compression::Gzip => true,
            other => return Err(format!("{other:?} is not supported")),
        };
        Ok(Self {
            protocol,
            gzip,
            receive_limit: request.message_receive_limit,
        })
    }

    /// The runtime's protocol for the suite's.
    fn protocol_of(protocol: pb::Protocol) -> Result<Protocol, String> {
        match protocol {
            pb::Protocol::Grpc => Ok(Protocol::Grpc),
            pb::Protocol::GrpcWeb => Ok(Protocol::GrpcWeb),
            pb::Protocol::Connect => Ok(Protocol::Connect),
            other => Err(format!("{other:?} is not supported")),
        }
    }

    /// A builder with these settings and nothing between the test and the wire: no retries, no
    /// throttling, no breaker, no deadline but the request's.
    fn builder(self) -> Result<ClientBuilder<ConformanceServiceClient>, String> {
        let mut builder = ConformanceServiceClient::builder()
            .protocol(Self::protocol_of(self.protocol)?)
            .retry_policy(RetryPolicy::NEVER)
            .retry_throttling(None)
            .circuit_breaker(BreakerPolicy::Disabled)
            // A call without timeout_ms goes without a deadline, as the reference client's.
            .default_deadline(None)
            .accept_compressed(CompressionEncoding::Gzip);
        if self.gzip {
            builder = builder.send_compressed(CompressionEncoding::Gzip);
        }
        if self.receive_limit > 0 {
            builder = builder.max_decoding_message_size(self.receive_limit as usize);
        }
        Ok(builder)
    }
}

impl Connections {
    /// The client of `request`'s server, with the protocol and wire settings it asks for.
    pub fn client(
        &self,
        request: &pb::ClientCompatRequest,
    ) -> Result<ConformanceServiceClient, String> {
        let wire = Wire::of(request)?;
        let tls = !request.server_tls_cert.is_empty();
        match request.http_version() {
            pb::HttpVersion::HttpVersion2 => wire
                .builder()?
                .build(self.channel(request)?)
                .map_err(|error| error.to_string()),
            pb::HttpVersion::HttpVersion1 if tls => {
                Err("TLS over HTTP/1.1 is not supported".to_owned())
            }
            pb::HttpVersion::HttpVersion1 if wire.protocol == pb::Protocol::Grpc => {
                Err("gRPC needs HTTP/2".to_owned())
            }
            pb::HttpVersion::HttpVersion1 => self.http1(request, wire),
            other => Err(format!("{other:?} is not supported")),
        }
    }

    /// The HTTP/1.1 client of `request`'s server with `wire`'s settings, made on first use.
    fn http1(
        &self,
        request: &pb::ClientCompatRequest,
        wire: Wire,
    ) -> Result<ConformanceServiceClient, String> {
        let key = Http1Key {
            url: format!("http://{}:{}", request.host, request.port),
            wire,
        };
        let mut clients = self
            .http1
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = wire
            .builder()?
            .http_version(HttpVersion::Http1)
            .connect_lazy([key.url.as_str()])
            .map_err(|error| error.to_string())?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The HTTP/2 channel for `request`'s server, made on first use.
    fn channel(&self, request: &pb::ClientCompatRequest) -> Result<Channel, String> {
        let tls = !request.server_tls_cert.is_empty();
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}:{}", request.host, request.port);
        let identity = request
            .client_tls_creds
            .as_ref()
            .map(|creds| (creds.cert.clone(), creds.key.clone()));
        let key = (url, request.server_tls_cert.clone(), identity);
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(channel) = channels.get(&key) {
            return Ok(channel.clone());
        }
        let mut endpoint =
            Endpoint::from_shared(key.0.clone()).map_err(|error| error.to_string())?;
        if tls {
            let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&key.1));
            if let Some((cert, key)) = &key.2 {
                config = config.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|error| error.to_string())?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(key, channel.clone());
        Ok(channel)
    }
}
