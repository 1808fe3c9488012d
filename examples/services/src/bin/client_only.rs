//! A binary that calls one rpc through the generated client and generates nothing else
//! (`artifacts=domain+client`, see build.rs): the other rpcs' trait methods and messages are
//! left unused, and must not warn. `#![deny(warnings)]` and CI's `cargo clippy --workspace
//! --all-targets -- -D warnings` make its build the test.

#![deny(warnings)]

use rust_svc_runtime::Context;

mod pb {
    include!(concat!(env!("OUT_DIR"), "/client_only/mod.rs"));
}
use pb::inventory::v1::{CheckStockRequest, InventoryService, InventoryServiceClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let inventory = InventoryServiceClient::connect_lazy([address])?;
    let request = CheckStockRequest {
        sku: "SKU-10042".into(),
        ..Default::default()
    };
    let stock = inventory.check_stock(&Context::new(), request).await?;
    println!("{} available", stock.available);
    Ok(())
}
