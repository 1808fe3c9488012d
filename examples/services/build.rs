//! Generates `inventory.proto` into `OUT_DIR` as a user's crate would, for binaries and doctests
//! that must see generated code the way users do (the library uses the committed code under
//! `src/generated/`):
//!
//! - `OUT_DIR/mod.rs`: default artifacts, as the guide's build.rs does, for the README's server
//!   example (`src/bin/readme_server.rs`) and the README's and guide's doctests (`src/lib.rs`), with
//!   `OUT_DIR/file_descriptor_set.bin` for its health and reflection example;
//! - `OUT_DIR/client_only/mod.rs`: `artifacts=domain+client`, for `src/bin/client_only.rs`.

use protoc_gen_rust_svc::{Artifact, Builder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let inventory = || {
        Builder::new()
            .include("../../proto")
            .file("../../proto/inventory/v1/inventory.proto")
    };
    // The descriptor set too, as the guide's health and reflection example reads it.
    inventory()
        .file_descriptor_set_path(out_dir.join("file_descriptor_set.bin"))
        .compile()?;
    inventory()
        .artifacts([Artifact::Domain, Artifact::Client])
        .out_dir(out_dir.join("client_only"))
        .compile()?;
    Ok(())
}
