//! tonic's own client and server modules for inventory.proto, over the example crate's messages
//! (`extern_path`): the baseline the client and adapter benchmarks compare with. The example
//! crate does not carry them, as `tonic_client` and `tonic_server` are not default artifacts.
//! And the tests' HttpBody service (`http_body`), for the raw upload and download benchmark.

use protoc_gen_rust_svc::{Artifact, Builder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    Builder::new()
        .include("../proto")
        .file("../proto/inventory/v1/inventory.proto")
        .artifacts([Artifact::TonicClient, Artifact::TonicServer])
        .extern_path(".inventory.v1", "::example_services::inventory::v1")
        .compile()?;
    // The HttpBody service of the tests (raw uploads and downloads), for bench/http_body.sh.
    Builder::new()
        .include("../proto")
        .include("../tests/protos")
        .file("../tests/protos/http_body.proto")
        .artifacts([Artifact::Domain, Artifact::Gateway])
        .out_dir(std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("http_body"))
        .compile()?;
    println!("cargo:rerun-if-changed=../proto");
    println!("cargo:rerun-if-changed=../tests/protos/http_body.proto");
    Ok(())
}
