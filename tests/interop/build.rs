//! Generates the gRPC interop protos (tests/data/grpc-interop, vendored unmodified) with the
//! default artifacts, as a user's build.rs would. Only test.proto is named: the generator
//! brings messages.proto and empty.proto, the other files of its package.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    protoc_gen_rust_svc::Builder::new()
        .include("../data/grpc-interop")
        .file("../data/grpc-interop/grpc/testing/test.proto")
        .compile()?;
    println!("cargo:rerun-if-changed=../data/grpc-interop");
    Ok(())
}
