//! Golden output. Every test proto's generated files are an insta snapshot, reviewed like code;
//! the example system's committed output must equal a fresh generation.

use protoc_gen_rust_svc::Builder;

use crate::common::{self, EXAMPLE_INCLUDE, EXAMPLE_OUT, EXAMPLE_PROTOS, root, test_protos};

/// All files generated for one proto, under headers, as one snapshot.
fn snapshot_of(files: &[protoc_gen_rust_svc::GeneratedFile]) -> String {
    files
        .iter()
        .map(|file| format!("==== {} ====\n{}", file.name, file.content))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_test_proto_matches_its_snapshot() {
    let root = root();
    for proto in test_protos() {
        let files = Builder::new()
            .include(root.join("tests/protos"))
            .include(root.join("proto"))
            .file(&proto)
            .generate()
            .unwrap_or_else(|error| panic!("{}: {error}", proto.display()));
        let name = proto.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(name, snapshot_of(&files));
    }
}

/// The sub-package `killers.clash.outer` generated with its parent: the include file leaves the
/// module out and the parent's messages file includes it inside prost's `pub mod outer`.
#[test]
fn a_sub_package_merges_into_the_nested_module_of_its_namesake() {
    let root = root();
    let files = Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/module_clash.proto"))
        .file(root.join("tests/protos/module_clash_outer.proto"))
        .generate()
        .expect("the clashing packages generate");
    insta::assert_snapshot!("module_clash_merged", snapshot_of(&files));
}

#[test]
fn committed_example_output_is_current() {
    let root = root();
    let files = Builder::new()
        .include(root.join(EXAMPLE_INCLUDE))
        .files(EXAMPLE_PROTOS.iter().map(|proto| root.join(proto)))
        .generate()
        .expect("the example protos generate");
    let committed = common::read_dir_files(&root.join(EXAMPLE_OUT));
    let fresh: std::collections::BTreeMap<_, _> = files
        .into_iter()
        .map(|file| (file.name, file.content))
        .collect();
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "{EXAMPLE_OUT} has other files than the generator writes: run `cargo generate-examples`"
    );
    for (name, content) in &fresh {
        assert!(
            committed[name] == *content,
            "{EXAMPLE_OUT}/{name} is stale: run `cargo generate-examples`"
        );
    }
}
