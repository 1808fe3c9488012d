//! The REST/JSON gateway: serves the rpcs of a domain trait that carry `google.api.http` rules
//! over HTTP/1.1 and HTTP/2 with proto3 JSON, beside (or on the same port as) the gRPC adapter.
//!
//! The generated part is data plus one dispatch per service: the HTTP bindings in the service's
//! [`ServiceInfo`](crate::rpc::ServiceInfo) and, per rpc, a call of one of this module's
//! functions with the domain method to run. Everything else is here, a module per concern, each
//! testable without HTTP:
//!
//! - [`schema`]: the static field tables generated per request message;
//! - [`query`], [`request`], [`headers`]: a request from path bindings, query and body, and its
//!   [`Context`](crate::Context) from the headers;
//! - [`status`], [`response`], [`stream`]: `google.rpc.Status` errors, JSON responses, NDJSON and
//!   Server-Sent-Events streams;
//! - [`cors`]: browser access, answered from the route table;
//! - [`wkt`]: the well-known types with their proto3 JSON forms (the crate's own [`crate::wkt`],
//!   named here too for code that named it here first);
//! - the path-template grammar and route table, from the `rust-svc-http-template` crate.

/// The media type of every JSON body the gateway writes.
pub const APPLICATION_JSON: &str = "application/json";

mod admitted;
mod builder;
mod calls;
mod form;
mod head;
pub mod headers;
mod http_body;
pub mod protobuf;
pub mod query;
pub mod request;
pub mod response;
mod routed;
pub mod schema;
mod serve;
mod service;
pub mod status;
pub mod stream;
mod trailers;
#[cfg(feature = "websocket")]
mod websocket;

/// Browser access: [`crate::cors`], which a port's gRPC-Web and Connect paths share.
pub use crate::cors;
/// The well-known types with their proto3 JSON forms: [`crate::wkt`].
pub use crate::wkt;
pub use builder::GatewayBuilder;
pub use calls::{bidi_streaming, client_streaming, server_streaming, unary, unknown_rpc};
pub use headers::HeaderRules;
pub use routed::{
    Call, DEFAULT_MAX_BODY_BYTES, ErrorHandler, Gateway, GatewayError, MetadataAnnotator,
    ResponseFuture, ServiceRoutes, StreamErrorHandler,
};
pub use rust_svc_http_template::*;
pub use serve::GatewayFuture;
#[cfg(feature = "host")]
pub(crate) use service::peer_addr;

/// The router type of [`Gateway::into_router`], for generated code and users that need not
/// depend on axum themselves.
pub use axum::Router;
