//! Any bytes as the plugin's standard input. See `protoc-gen-rust-svc/tests/fuzzing`.
#![no_main]

#[path = "../../protoc-gen-rust-svc/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::check_request_bytes(data));
