//! Paths and helpers shared by the generator's integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the generator crate sits in the workspace")
        .to_path_buf()
}

/// The include directory of the example system's protos, as `cargo generate-examples` names it.
pub const EXAMPLE_INCLUDE: &str = "proto";

/// Where the example system's generated code is committed, as `cargo generate-examples` names it.
pub const EXAMPLE_OUT: &str = "examples/services/src/generated";

/// The example system's protos, as `cargo generate-examples` names them.
pub const EXAMPLE_PROTOS: [&str; 3] = [
    "proto/inventory/v1/inventory.proto",
    "proto/orders/v1/orders.proto",
    "proto/dispatch/v1/dispatch.proto",
];

/// Every valid proto under `tests/protos`, sorted.
pub fn test_protos() -> Vec<PathBuf> {
    let mut protos: Vec<PathBuf> = std::fs::read_dir(root().join("tests/protos"))
        .expect("tests/protos exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();
    protos
}

/// Every file under `dir` (not recursive) by name.
pub fn read_dir_files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("output directory exists")
        .map(|entry| {
            let path = entry.expect("readable entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).expect("UTF-8 output"))
        })
        .collect()
}
