//! tonic's own client and server modules for inventory.proto, over the example crate's messages
//! (`extern_path`): the baseline the client and adapter benchmarks compare with. The example
//! crate does not carry them, as `tonic_client` and `tonic_server` are not default artifacts.

use protoc_gen_rust_svc::{Artifact, Builder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    Builder::new()
        .include("../proto")
        .file("../proto/inventory/v1/inventory.proto")
        .artifacts([Artifact::TonicClient, Artifact::TonicServer])
        .extern_path(".inventory.v1", "::example_services::inventory::v1")
        .compile()?;
    println!("cargo:rerun-if-changed=../proto");
    Ok(())
}
