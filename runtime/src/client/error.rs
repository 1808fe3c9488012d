//! Why a client could not be built: what the builder and the settings it assembles report.

use std::fmt;

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// A builder setting named a method the service does not have.
    UnknownMethod {
        /// The service's full name.
        service: &'static str,
        /// The name given.
        method: String,
        /// The methods the service has.
        known: Vec<&'static str>,
    },
    /// A propagated header name is not a valid ASCII metadata key.
    InvalidHeader(String),
    /// An endpoint URL could not be parsed.
    InvalidEndpoint {
        /// The URL given.
        endpoint: String,
        /// The parser's complaint.
        reason: String,
    },
    /// [`ClientBuilder::method_fallback`](super::ClientBuilder::method_fallback) named a method that is not unary.
    FallbackNotUnary {
        /// The service's full name.
        service: &'static str,
        /// The method named.
        method: &'static str,
    },
    /// [`ClientBuilder::connect_lazy`](super::ClientBuilder::connect_lazy) was given no endpoints.
    NoEndpoints,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMethod {
                service,
                method,
                known,
            } => write!(
                f,
                "{service} has no method `{method}`; its methods are {}",
                known.join(", ")
            ),
            Self::InvalidHeader(name) => {
                write!(f, "`{name}` is not a valid header name to propagate")
            }
            Self::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid endpoint `{endpoint}`: {reason}")
            }
            Self::FallbackNotUnary { service, method } => write!(
                f,
                "{service}/{method} is a streaming rpc; a fallback answers unary calls only"
            ),
            Self::NoEndpoints => f.write_str("no endpoint given to connect to"),
        }
    }
}

impl std::error::Error for ClientError {}
