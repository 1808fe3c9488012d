//! Generates the three example protos into `OUT_DIR` for the descriptors server reflection
//! serves: `OUT_DIR/descriptors.bin`, the encoded `FileDescriptorSet` of `inventory.proto`,
//! `orders.proto` and `dispatch.proto` with every import and their source info (comments), so
//! that grpcurl and Postman can describe the services and show their documentation.
//!
//! The Rust code generated beside it is not compiled: the services and their types come from
//! `example-services`, whose implementations are written against its committed generated code.
//! Compiling a second copy here would give two distinct `Order` types for one message.

use protoc_gen_rust_svc::Builder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    Builder::new()
        .include("../../proto")
        .file("../../proto/inventory/v1/inventory.proto")
        .file("../../proto/orders/v1/orders.proto")
        .file("../../proto/dispatch/v1/dispatch.proto")
        .file_descriptor_set_path(out_dir.join("descriptors.bin"))
        .compile()?;
    Ok(())
}
