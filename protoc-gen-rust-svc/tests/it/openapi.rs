//! The `openapi` artifact: each document is an insta snapshot, reviewed like code, and every
//! `$ref` in it resolves. Validation against the OpenAPI 3.1 schema itself is
//! `tests/openapi/validate.sh` (openapi-spec-validator, from PyPI).

use std::collections::BTreeSet;
use std::path::PathBuf;

use protoc_gen_rust_svc::{Artifact, Builder, GeneratedFile};

use crate::common::{EXAMPLE_PROTOS, root};

fn generate(protos: &[PathBuf], artifacts: &[Artifact]) -> Vec<GeneratedFile> {
    let root = root();
    Builder::new()
        .include(root.join("proto"))
        .include(root.join("tests/protos"))
        .include(root.join("tests/protos/openapi"))
        .files(protos.iter().cloned())
        .artifacts(artifacts.iter().copied())
        .generate()
        .unwrap_or_else(|error| panic!("{protos:?}: {error}"))
}

fn documents(files: Vec<GeneratedFile>) -> Vec<GeneratedFile> {
    files
        .into_iter()
        .filter(|file| file.name.ends_with(".openapi.json"))
        .collect()
}

fn example_protos() -> Vec<PathBuf> {
    EXAMPLE_PROTOS
        .iter()
        .map(|proto| root().join(proto))
        .collect()
}

fn edge_case_protos() -> Vec<PathBuf> {
    ["library.proto", "unpackaged.proto"]
        .iter()
        .map(|name| root().join("tests/protos/openapi").join(name))
        .collect()
}

#[test]
fn example_documents_match_their_snapshots() {
    let files = documents(generate(
        &example_protos(),
        &[Artifact::Domain, Artifact::OpenApi],
    ));
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dispatch.v1.openapi.json",
            "inventory.v1.openapi.json",
            "orders.v1.openapi.json"
        ]
    );
    for file in &files {
        insta::assert_snapshot!(file.name.clone(), file.content);
    }
}

#[test]
fn edge_case_documents_match_their_snapshots() {
    let files = documents(generate(&edge_case_protos(), &[Artifact::OpenApi]));
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    // A file without a package gets `_`, as its messages file does.
    assert_eq!(names, ["_.openapi.json", "tests.openapi.v1.openapi.json"]);
    for file in &files {
        insta::assert_snapshot!(file.name.clone(), file.content);
    }
}

#[test]
fn documents_are_only_written_when_asked_for() {
    let default = Builder::new()
        .include(root().join("proto"))
        .files(example_protos())
        .generate()
        .expect("the example protos generate");
    assert!(documents(default).is_empty());

    // Alone, the artifact writes messages and documents, and no services file.
    let alone = generate(&example_protos(), &[Artifact::OpenApi]);
    let names: Vec<&str> = alone.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dispatch.v1.openapi.json",
            "dispatch.v1.rs",
            "inventory.v1.openapi.json",
            "inventory.v1.rs",
            "mod.rs",
            "orders.v1.openapi.json",
            "orders.v1.rs",
        ]
    );
    let include = &alone[4].content;
    assert!(!include.contains(".json"), "{include}");
}

#[test]
fn packages_without_http_rules_get_no_document() {
    let files = generate(
        &[root().join("tests/protos/streaming.proto")],
        &[Artifact::Domain, Artifact::OpenApi],
    );
    assert!(documents(files).is_empty());
}

/// Every `$ref` of every document names a schema or response the document defines: the
/// validator would report a dangling one, but this runs without Python, on every document the
/// tests generate, the gateway's test service included.
#[test]
fn every_reference_resolves() {
    // Apart: routes must be unique among the packages generated together, and the edge
    // cases bind some of the gateway service's.
    let groups = [
        example_protos(),
        edge_case_protos(),
        vec![root().join("tests/protos/gateway.proto")],
    ];
    let files: Vec<GeneratedFile> = groups
        .iter()
        .flat_map(|protos| documents(generate(protos, &[Artifact::Domain, Artifact::OpenApi])))
        .collect();
    assert_eq!(files.len(), 6);
    for file in files {
        let document: serde_json::Value =
            serde_json::from_str(&file.content).expect("the document is JSON");
        let mut references = BTreeSet::new();
        collect_references(&document, &mut references);
        assert!(!references.is_empty(), "{}", file.name);
        for reference in references {
            let pointer = reference.trim_start_matches('#');
            assert!(
                document.pointer(pointer).is_some(),
                "{}: `{reference}` resolves to nothing",
                file.name
            );
        }
    }
}

fn collect_references(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::String(reference)) = object.get("$ref") {
                out.insert(reference.clone());
            }
            object
                .values()
                .for_each(|value| collect_references(value, out));
        }
        serde_json::Value::Array(items) => {
            items
                .iter()
                .for_each(|value| collect_references(value, out));
        }
        _ => {}
    }
}

#[test]
fn http_body_routes_are_described_as_binary() {
    let files = documents(generate(
        &[root().join("tests/protos/http_body.proto")],
        &[Artifact::Domain, Artifact::OpenApi],
    ));
    let document: serde_json::Value = serde_json::from_str(&files[0].content).unwrap();
    let paths = &document["paths"];
    let binary = serde_json::json!({ "type": "string", "format": "binary" });
    // An upload into the body field, the whole request as a raw body, a download, a stream.
    let upload = &paths["/v1/files/{name}"]["post"];
    assert_eq!(upload["requestBody"]["content"]["*/*"]["schema"], binary);
    let echo = &paths["/v1/echo"]["post"];
    assert_eq!(echo["requestBody"]["content"]["*/*"]["schema"], binary);
    assert_eq!(echo["responses"]["200"]["content"]["*/*"]["schema"], binary);
    let download = &paths["/v1/files/{name}"]["get"];
    assert_eq!(
        download["responses"]["200"]["content"]["*/*"]["schema"],
        binary
    );
    // The upload answers JSON: only the HttpBody side is raw.
    assert!(upload["responses"]["200"]["content"]["application/json"].is_object());
    let chunks = paths
        .as_object()
        .unwrap()
        .iter()
        .find(|(path, _)| path.contains(":chunks"))
        .map(|(_, item)| &item["get"])
        .expect("the stream's route");
    assert_eq!(
        chunks["responses"]["200"]["content"]["*/*"]["schema"],
        binary
    );
}

mod annotations;
