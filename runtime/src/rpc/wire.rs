//! Message size limits and compression, as a server or a client applies them.

use super::DEFAULT_MAX_MESSAGE_SIZE;

/// Message size limits and compression of one end of a gRPC call: a generated adapter (its
/// `max_…_message_size`, `accept_compressed` and `send_compressed` methods set them) or a
/// generated client (its builder's methods of the same names).
///
/// By default ([`Default`], a server's) messages are limited to 4 MiB both ways, as in every
/// gRPC implementation; requests compressed with gzip or zstd are accepted; responses are not
/// compressed. A client's ([`WireSettings::client`]) compresses nothing and accepts no
/// compressed responses until told to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WireSettings {
    /// The largest message received; a larger one is answered `RESOURCE_EXHAUSTED`.
    pub max_decoding_message_size: usize,
    /// The largest message sent; a larger one ends the call with `RESOURCE_EXHAUSTED`.
    pub max_encoding_message_size: usize,
    /// Encodings accepted on received messages.
    pub accept_compressed: Vec<crate::CompressionEncoding>,
    /// Encodings sent messages are compressed with: a server uses the first one its client
    /// accepts, a client the first one.
    pub send_compressed: Vec<crate::CompressionEncoding>,
}

impl WireSettings {
    /// A client's defaults: 4 MiB both ways, no compression either way.
    pub fn client() -> Self {
        Self {
            accept_compressed: Vec::new(),
            ..Self::default()
        }
    }
}

impl Default for WireSettings {
    fn default() -> Self {
        Self {
            max_decoding_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_encoding_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            // Every encoding this crate was built with (the `gzip` and `zstd` features).
            accept_compressed: vec![
                #[cfg(feature = "gzip")]
                crate::CompressionEncoding::Gzip,
                #[cfg(feature = "zstd")]
                crate::CompressionEncoding::Zstd,
            ],
            send_compressed: Vec::new(),
        }
    }
}

/// The protocol a served call came in by: what a server's [`Context`](crate::Context) says
/// ([`Context::protocol`](crate::Context::protocol)), and what the tracing and logging
/// interceptors name as OpenTelemetry's semantic conventions do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireProtocol {
    /// gRPC over HTTP/2.
    Grpc,
    /// gRPC-Web, over HTTP/1.1 or HTTP/2.
    GrpcWeb,
    /// The Connect protocol, over HTTP/1.1 or HTTP/2.
    Connect,
    /// REST/JSON, through the gateway's `google.api.http` routes.
    Rest,
}

impl WireProtocol {
    /// OpenTelemetry's `rpc.system` of the protocol: `grpc` (gRPC-Web too), `connect_rpc`;
    /// `None` for REST, which is an HTTP call described by its route (`http.route`).
    pub const fn rpc_system(self) -> Option<&'static str> {
        match self {
            Self::Grpc | Self::GrpcWeb => Some("grpc"),
            Self::Connect => Some("connect_rpc"),
            Self::Rest => None,
        }
    }
}
