//! Plugin parameters change the output as documented. Outputs are parsed with syn and their
//! items compared, not searched for substrings.

use protoc_gen_rust_svc::{Artifact, Builder, GeneratedFile};

use crate::common::root;

fn streaming(builder: Builder) -> Vec<GeneratedFile> {
    let root = root();
    builder
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/streaming.proto"))
        .generate()
        .expect("generates")
}

fn names(files: &[GeneratedFile]) -> Vec<&str> {
    files.iter().map(|file| file.name.as_str()).collect()
}

fn file<'a>(files: &'a [GeneratedFile], name: &str) -> &'a str {
    &files
        .iter()
        .find(|file| file.name == name)
        .unwrap_or_else(|| panic!("{name} in {:?}", names(files)))
        .content
}

/// Names of the top-level items of a Rust file (traits, structs, modules, impl targets).
fn items(source: &str) -> Vec<String> {
    let file = syn::parse_file(source).expect("generated code parses");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Trait(item) => Some(format!("trait {}", item.ident)),
            syn::Item::Struct(item) => Some(format!("struct {}", item.ident)),
            syn::Item::Mod(item) => Some(format!("mod {}", item.ident)),
            _ => None,
        })
        .collect()
}

/// The `include!`d file names, by module path, in an include file.
fn includes(source: &str) -> Vec<String> {
    fn walk(items: &[syn::Item], path: &str, out: &mut Vec<String>) {
        for item in items {
            match item {
                syn::Item::Mod(module) => {
                    let inner = format!("{path}{}::", module.ident);
                    if let Some((_, items)) = &module.content {
                        walk(items, &inner, out);
                    }
                }
                syn::Item::Macro(mac) if mac.mac.path.is_ident("include") => {
                    let file: syn::LitStr = mac.mac.parse_body().expect("a file name");
                    out.push(format!("{path}{}", file.value()));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &syn::parse_file(source).expect("parses").items,
        "",
        &mut out,
    );
    out
}

#[test]
fn defaults_emit_messages_services_and_an_include_file() {
    let files = streaming(Builder::new());
    assert_eq!(
        names(&files),
        ["mod.rs", "tests.streaming.rs", "tests.streaming.svc.rs"]
    );
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        [
            "trait Streaming",
            "trait DynStreaming",
            "struct UnimplementedStreaming",
            "struct FakeStreaming",
            "struct StreamingGrpc",
            "struct StreamingClient",
        ]
    );
    assert_eq!(
        includes(file(&files, "mod.rs")),
        [
            "tests::streaming::tests.streaming.rs",
            "tests::streaming::tests.streaming.svc.rs"
        ]
    );
}

#[test]
fn messages_off_leaves_them_to_protoc_gen_prost() {
    let with = streaming(Builder::new());
    let without = streaming(Builder::new().messages(false));
    assert_eq!(names(&without), ["mod.rs", "tests.streaming.svc.rs"]);
    // Service code is unchanged, and the include file still expects prost's file beside it.
    assert_eq!(
        file(&with, "tests.streaming.svc.rs"),
        file(&without, "tests.streaming.svc.rs")
    );
    assert_eq!(file(&with, "mod.rs"), file(&without, "mod.rs"));
}

/// With messages off, an rpc type from a package outside the files to generate would be a path
/// to nothing: an error naming the rpc's file:line, the type and the ways out. Mapped with
/// `extern_path`, it is fine; with messages on, the package is generated alongside.
#[test]
fn messages_off_and_a_type_from_an_unwritten_package_is_an_error_naming_the_fix() {
    let cross = |builder: Builder| {
        let root = root();
        builder
            .include(root.join("tests/protos"))
            .file(root.join("tests/protos/cross_package.proto"))
            .generate()
    };
    let error = cross(Builder::new().messages(false))
        .expect_err("tests.nested is neither written nor mapped")
        .to_string();
    assert!(
        error.starts_with(
            "cross_package.proto:22: rpc tests.cross.Cross.Unwrap: uses tests.nested.Outer from \
             package `tests.nested`, whose messages this run does not write (`messages=false`)"
        ),
        "{error}"
    );
    assert!(
        error.contains("extern_path=.tests.nested=::some_crate::tests::nested"),
        "{error}"
    );
    let mapped = cross(
        Builder::new()
            .messages(false)
            .extern_path(".tests.nested", "::nested_crate"),
    )
    .expect("a mapped package needs nothing");
    assert_eq!(names(&mapped), ["mod.rs", "tests.cross.svc.rs"]);
    let alongside = cross(Builder::new()).expect("generated alongside");
    assert_eq!(
        names(&alongside),
        [
            "mod.rs",
            "tests.cross.rs",
            "tests.cross.svc.rs",
            "tests.nested.rs"
        ]
    );
}

#[test]
fn artifacts_choose_what_is_emitted() {
    let files = streaming(Builder::new().artifacts([Artifact::Domain]));
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        ["trait Streaming", "trait DynStreaming"]
    );
    let files = streaming(Builder::new().artifacts([Artifact::Domain, Artifact::Client]));
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        [
            "trait Streaming",
            "trait DynStreaming",
            "struct StreamingClient"
        ]
    );
    // tonic's own client is asked for by name, and needs nothing else.
    let files = streaming(Builder::new().artifacts([Artifact::TonicClient]));
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        ["mod streaming_client"]
    );
    let files = streaming(Builder::new().artifacts([Artifact::TonicServer]));
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        ["mod streaming_server"]
    );
    let files = streaming(Builder::new().artifacts([Artifact::Domain, Artifact::Fake]));
    assert_eq!(
        items(file(&files, "tests.streaming.svc.rs")),
        [
            "trait Streaming",
            "trait DynStreaming",
            "struct FakeStreaming"
        ]
    );
    // The harness entry points return the generated client, so they need it.
    let server_only = streaming(Builder::new().artifacts([Artifact::Domain, Artifact::Server]));
    assert!(!file(&server_only, "tests.streaming.svc.rs").contains("serve_in_memory"));
    assert!(file(&streaming(Builder::new()), "tests.streaming.svc.rs").contains("serve_in_memory"));
    let files = streaming(Builder::new().artifacts([]));
    assert_eq!(names(&files), ["mod.rs", "tests.streaming.rs"]);
}

#[test]
fn include_file_and_runtime_crate_are_configurable() {
    let files = streaming(
        Builder::new()
            .parameter("include_file=generated.rs,runtime_crate=crate::runtime")
            .unwrap(),
    );
    assert_eq!(
        names(&files),
        [
            "generated.rs",
            "tests.streaming.rs",
            "tests.streaming.svc.rs"
        ]
    );
    let services = syn::parse_file(file(&files, "tests.streaming.svc.rs")).unwrap();
    let syn::Item::Const(version_check) = &services.items[0] else {
        panic!("the version check comes first");
    };
    let call = quote::ToTokens::to_token_stream(&version_check.expr).to_string();
    assert!(
        call.starts_with("crate :: runtime :: version :: require"),
        "{call}"
    );
    let none = streaming(Builder::new().parameter("include_file=").unwrap());
    assert_eq!(
        names(&none),
        ["tests.streaming.rs", "tests.streaming.svc.rs"]
    );
}

#[test]
fn extern_path_reaches_prost_and_our_type_paths() {
    let root = root();
    let files = Builder::new()
        .include(root.join("tests/protos"))
        .extern_path(".tests.nested", "::nested_crate")
        .file(root.join("tests/protos/cross_package.proto"))
        .generate()
        .unwrap();
    let services = file(&files, "tests.cross.svc.rs");
    let domain = syn::parse_file(services).unwrap();
    let Some(domain_trait) = domain.items.iter().find_map(|item| match item {
        syn::Item::Trait(item) => Some(item),
        _ => None,
    }) else {
        panic!("no domain trait in {services}");
    };
    let signature = quote::ToTokens::to_token_stream(&domain_trait.items[0]).to_string();
    assert!(signature.contains(":: nested_crate ::"), "{signature}");
    assert!(!file(&files, "tests.cross.rs").contains("super::nested"));
}
