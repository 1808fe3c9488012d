//! Any text as path templates and request paths, one per line. See
//! `http-template/tests/it/fuzzing/mod.rs` for the oracle.
#![no_main]

#[path = "../../http-template/tests/it/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzzing::check(data);
});
