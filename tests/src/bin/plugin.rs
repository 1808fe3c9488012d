//! The plugin, built from the library this crate's tests already compiled: what the buf scaffold
//! test (tests/tests/it/scaffold.rs) puts on PATH as `protoc-gen-rust-svc`. Building the real
//! binary there (`cargo build -p protoc-gen-rust-svc`) resolved the generator's dependencies
//! with other features than the workspace test build and compiled its whole tree again, the
//! longest step of the scaffold tests on a fresh clone (105 s of 432 on 2 cores).

fn main() -> std::process::ExitCode {
    protoc_gen_rust_svc::run_plugin()
}
