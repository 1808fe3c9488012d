//! Random but valid proto files through every artifact. See `protoc-gen-rust-svc/tests/fuzzing`.
#![no_main]

#[path = "../../protoc-gen-rust-svc/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::check_random_protos(data));
