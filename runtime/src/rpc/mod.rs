//! The ground floor: what every other module of the runtime may name, and which names none of
//! them. The protocol's header names and limits, the status code names, and the description of
//! an rpc ([`MethodInfo`]) that generated code emits once per rpc; and the connection wrapper
//! that the client's and a port's HTTP/2 connections share (`BatchedWrites`).
//!
//! # Floors
//!
//! The runtime is built in floors; a module imports only from the floors below its own, never
//! sideways or up, so that each floor can be read, tested and changed knowing only what is under
//! it (`floors.rs` checks this on every `cargo test`):
//!
//! 0. `rpc` (this module), `version`, `require` (the features generated code needs) and `json`
//!    (what the generated proto3 JSON impls are made of);
//! 1. `context` (the [`Context`](crate::Context) a call carries), `deadline` (the
//!    `grpc-timeout` wire format) and `wkt` (the well-known types with their proto3 JSON);
//! 2. `call`: what a call does on any side of the wire (running a domain method within its
//!    deadline, the arrival deadline, peer certificates, trace context), and `cors` (browser
//!    access, for the gateway and a port's gRPC-Web and Connect paths);
//! 3. `server`, `client`, `gateway`, `interceptors`, `fake`: one concern each, none importing
//!    another;
//! 4. `host`, which puts the concerns together on a production port;
//! 5. `harness`, which serves on a port of the host for tests.

mod batched_writes;
mod breaker;
mod codes;
mod method;
mod policy;
mod shedding;
mod wire;

pub(crate) use batched_writes::BatchedWrites;
pub use breaker::{Adaptive, BreakerPolicy, SlidingWindow};
pub use codes::{
    code_from_connect_name, code_from_http_status, code_name, connect_code_name, go_code_name,
    http_status,
};
pub use method::{HttpBinding, Idempotency, MethodInfo, MethodKind, ServiceInfo};
pub use policy::{HedgingPolicy, RetryPolicy, RetryThrottling};
pub use shedding::LoadShedding;
pub use wire::{WireProtocol, WireSettings};

/// The gRPC status codes (tonic's), which policies name.
pub use tonic::Code;

/// The prefix under which gRPC metadata travels in HTTP headers, both ways (grpc-gateway's
/// `MetadataHeaderPrefix`).
pub const METADATA_HEADER_PREFIX: &str = "grpc-metadata-";

/// The prefix under which response trailers travel in HTTP headers (grpc-gateway's
/// `MetadataTrailerPrefix`): HTTP/1.1 clients rarely read real trailers.
pub const TRAILER_HEADER_PREFIX: &str = "grpc-trailer-";

/// The header carrying a call's timeout (`grpc-timeout`, e.g. `250m`).
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The trailer a server sends to ask a client to wait before retrying, in milliseconds (gRFC A6).
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The header carrying a call's request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The metadata key of the W3C trace parent.
pub const TRACEPARENT: &str = "traceparent";

/// The metadata key of the W3C vendor trace state, forwarded untouched beside `traceparent`.
pub const TRACESTATE: &str = "tracestate";

/// [`REQUEST_ID_HEADER`], [`TRACEPARENT`] and [`TRACESTATE`] as parsed names, for the lookups
/// every call makes: a name given as a string is parsed again on each one.
pub(crate) static REQUEST_ID_NAME: http::HeaderName =
    http::HeaderName::from_static(REQUEST_ID_HEADER);
pub(crate) static TRACEPARENT_NAME: http::HeaderName = http::HeaderName::from_static(TRACEPARENT);
pub(crate) static TRACESTATE_NAME: http::HeaderName = http::HeaderName::from_static(TRACESTATE);
pub(crate) static GRPC_TIMEOUT_NAME: http::HeaderName = http::HeaderName::from_static(GRPC_TIMEOUT);
/// `grpc-status` and `grpc-encoding` as parsed names, for the checks every response makes.
pub(crate) static GRPC_STATUS_NAME: http::HeaderName = http::HeaderName::from_static("grpc-status");
pub(crate) static GRPC_ENCODING_NAME: http::HeaderName =
    http::HeaderName::from_static("grpc-encoding");

/// The header a retry carries: how many attempts of the call came before it (gRFC A6).
pub const PREVIOUS_ATTEMPTS_HEADER: &str = "grpc-previous-rpc-attempts";

/// The headers a generated client forwards from the caller's context unless its builder says
/// otherwise: the request id and the trace context. (A REST gateway's call to the rpc its
/// route is for, in proxy mode, forwards all the metadata the gateway made: see
/// `ClientBuilder::forward_gateway_metadata`.)
pub const DEFAULT_PROPAGATED_HEADERS: &[&str] = &[REQUEST_ID_HEADER, TRACEPARENT, TRACESTATE];

/// Whether the values of `key` are new on every call (the request id, the trace parent), so
/// that they go out in HPACK's never-indexed form: see [`never_indexed`].
pub(crate) fn is_unique_per_call(key: &str) -> bool {
    key == REQUEST_ID_HEADER || key == TRACEPARENT
}

/// `value` marked for HPACK's never-indexed representation (RFC 7541, 6.2.3). For a value that
/// is new on every call, indexing only costs: each one is added to the connection's dynamic
/// table on both ends and evicts the entries that do repeat (`content-type`, `grpc-status`),
/// which then go out in full again. With many calls in flight on a connection that churn cost
/// more per call than the rest of the interceptor stack (bench/RESULTS.md). h2 reads the mark
/// from the value's `sensitive` flag; nothing else changes (`Debug` prints it as `Sensitive`).
pub(crate) fn never_indexed(
    mut value: tonic::metadata::AsciiMetadataValue,
) -> tonic::metadata::AsciiMetadataValue {
    value.set_sensitive(true);
    value
}

/// The default limit on an encoded message, both ways and on both sides: gRPC's 4 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Whether `message` is tonic's report of a message over a size limit.
pub(crate) fn is_size_limit_message(message: &str) -> bool {
    message.contains("message length too large")
}
