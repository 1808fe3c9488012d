//! The crate's integration tests, in one test binary: each file here was a binary of its own,
//! and every one of them linked the whole dependency tree (tonic, hyper, rustls, reqwest, the
//! generated code), which made the link, not the tests, most of `cargo test`'s time and disk.
//! Run one file's tests with `cargo test -p rust-svc-tests --test it adapter::`.
//!
//! The tests now share a process, so what one of them sets for the process is seen by the
//! others: the interceptor tests' tracing subscriber is the global one (interceptors_common
//! says why that is harmless) and their metrics go to a recorder of the test's own thread, not
//! to a global one.

// What several test modules share.
mod client_common;
mod gateway_common;
mod interceptors_common;
mod metadata_common;

mod adapter;
mod call_metadata;
mod client_answers;
mod client_balancing;
mod client_breakers;
mod client_deadlines;
mod client_health;
mod client_hedging;
mod client_http2;
mod client_outliers;
mod client_protocols;
mod client_resolve;
mod client_retries;
mod client_retry_spec;
mod client_wire;
mod codegen_options;
mod connect;
mod fake;
mod gateway_bodies;
mod gateway_context;
mod gateway_cors;
mod gateway_errors;
mod gateway_forms;
mod gateway_http_body;
mod gateway_mapping;
mod gateway_proxy;
mod gateway_reference;
mod gateway_streams;
mod gateway_websocket;
mod host;
mod interceptors;
mod json_mapping;
mod killers;
mod load_shedding;
mod mtls;
mod panics;
mod python_interop;
mod reflection;
mod scaffold;
mod server_deadlines;
