//! The generator's integration tests, in one test binary (each file here was a binary of its
//! own, and each linked the generator and everything it depends on). Run one file's tests with
//! `cargo test -p protoc-gen-rust-svc --test it golden::`.
//!
//! The insta snapshots of the golden, openapi, scaffold and codegen_options modules are in
//! snapshots/, named after the module: `it__golden__<name>.snap`.

// What several test modules share.
mod common;
// The oracle of the fuzz targets under fuzz/ (they include it by path), which
// fuzz_regressions replays.
mod fuzzing;

mod cli;
mod codegen_options;
mod diagnostics;
mod docs;
mod fuzz_regressions;
mod golden;
mod http_rules;
mod openapi;
mod params;
mod plugin;
mod retry_policies;
mod scaffold;
