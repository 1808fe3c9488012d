//! Generates every proto under `protos/` (except the deliberately invalid ones) through the
//! build.rs API, so the crate's compilation is the compile test of the generated code.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut protos: Vec<_> = std::fs::read_dir("protos")?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();
    // Every artifact, tonic's own client included: the adapter tests drive the server with it.
    protoc_gen_rust_svc::Builder::new()
        .artifacts(protoc_gen_rust_svc::Artifact::ALL)
        .include("protos")
        .include("../proto")
        .files(protos)
        .compile()?;
    println!("cargo:rerun-if-changed=protos");
    println!("cargo:rerun-if-changed=../proto");
    Ok(())
}
