//! Random but valid proto files through every artifact. See `protoc-gen-rust-svc/tests/fuzzing`.
#![no_main]

#[path = "../../protoc-gen-rust-svc/tests/it/fuzzing/mod.rs"]
mod fuzzing;

/// libFuzzer's hook aborts on every panic, even one the generator catches and turns into an
/// error; the default hook lets the oracle judge that error instead.
static DEFAULT_PANIC_HOOK: std::sync::Once = std::sync::Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    DEFAULT_PANIC_HOOK.call_once(|| drop(std::panic::take_hook()));
    fuzzing::check_random_protos(data);
});
