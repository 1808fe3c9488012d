//! Where generated code goes: the file names of a package's messages and services, and which
//! packages get a services file.

use prost_build::Module;

use crate::model::Package;
use crate::params::{Artifact, Params};

/// Whether a package gets a services file.
pub fn emits_services(package: &Package, params: &Params) -> bool {
    // The OpenAPI document is JSON of its own: alone, it needs no services file.
    let rust_artifacts = params.artifacts.iter().any(|a| *a != Artifact::OpenApi);
    !package.services.is_empty() && rust_artifacts
}

/// `inventory.v1.rs` (prost-build's name, `_.rs` without a package).
pub fn messages_file_name(module: &Module) -> String {
    module.to_file_name_or("_")
}

/// `inventory.v1.svc.rs`.
pub fn services_file_name(module: &Module) -> String {
    let messages = messages_file_name(module);
    format!("{}.svc.rs", messages.trim_end_matches(".rs"))
}
