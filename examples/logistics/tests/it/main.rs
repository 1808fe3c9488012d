//! The crate's integration tests, in one test binary (each file here was a binary of its own,
//! and each linked the whole dependency tree). Run one file's tests with
//! `cargo test -p logistics --test it faults::`.
//!
//! Most tests run the real `logistics` binary as child processes, each on ports of its own and
//! with a scratch directory named after the test, so the tests running at once in this process
//! share nothing but the machine.

// What the tests share.
mod common;
// The streamed-body reader of the example system's REST tests.
#[path = "../../../services/tests/it/rest_common/mod.rs"]
mod rest_common;

mod browser;
mod connections;
mod demo;
mod discovery;
mod external_tools;
mod faults;
mod grpc;
mod lifecycle;
mod node_client;
mod persistence;
mod python_client;
mod readme;
mod rest;
