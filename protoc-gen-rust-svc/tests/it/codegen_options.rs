//! The code-shaping parameters off by default: `default_stubs`, `type_attribute` /
//! `field_attribute` and `file_descriptor_set` (with the Builder's `file_descriptor_set_path`).
//! Snapshots show the output; syn checks the parts that matter.

use prost::Message;
use protoc_gen_rust_svc::{Builder, GeneratedFile};

use crate::common::root;

fn builder(proto: &str) -> Builder {
    let root = root();
    Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos").join(proto))
}

fn generate(proto: &str, parameter: &str) -> Vec<GeneratedFile> {
    builder(proto)
        .parameter(parameter)
        .expect("the parameters parse")
        .generate()
        .expect("generates")
}

fn content<'a>(files: &'a [GeneratedFile], name: &str) -> &'a str {
    &files
        .iter()
        .find(|file| file.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .content
}

/// The methods of `trait_name` in `source`, each with whether it has a default body.
fn trait_methods(source: &str, trait_name: &str) -> Vec<(String, bool)> {
    let file = syn::parse_file(source).expect("parses");
    let item = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Trait(item) if item.ident == trait_name => Some(item),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no trait {trait_name}"));
    item.items
        .iter()
        .filter_map(|item| match item {
            syn::TraitItem::Fn(method) => {
                Some((method.sig.ident.to_string(), method.default.is_some()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn default_stubs_give_every_domain_method_a_body_and_only_then() {
    let with = generate("streaming.proto", "artifacts=domain,default_stubs=true");
    let services = content(&with, "tests.streaming.svc.rs");
    insta::assert_snapshot!("default_stubs", services);
    let methods = trait_methods(services, "Streaming");
    assert_eq!(methods.len(), 4);
    assert!(methods.iter().all(|(_, body)| *body), "{methods:?}");
    // The object-safe companion stays without defaults: the blanket impl fills it.
    let companion = trait_methods(services, "DynStreaming");
    assert!(companion.iter().all(|(_, body)| !*body), "{companion:?}");

    let without = generate("streaming.proto", "artifacts=domain");
    let methods = trait_methods(content(&without, "tests.streaming.svc.rs"), "Streaming");
    assert!(methods.iter().all(|(_, body)| !*body), "{methods:?}");
}

/// The outer attributes of the struct `name` in `source`, and those of its field `field`.
fn struct_attributes(source: &str, name: &str, field: &str) -> (Vec<String>, Vec<String>) {
    let file = syn::parse_file(source).expect("parses");
    let item = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Struct(item) if item.ident == name => Some(item),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no struct {name}"));
    let text = |attrs: &[syn::Attribute]| {
        attrs
            .iter()
            .map(|attr| quote::quote!(#attr).to_string())
            .collect::<Vec<_>>()
    };
    let field = item
        .fields
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|ident| ident == field))
        .unwrap_or_else(|| panic!("no field {field}"));
    (text(&item.attrs), text(&field.attrs))
}

#[test]
fn attributes_land_on_the_types_and_fields_their_paths_match() {
    // The parameter string form, with a comma escaped inside the attribute.
    let files = generate(
        "streaming.proto",
        "artifacts=domain,type_attribute=.tests.streaming.Ping=#[derive(PartialOrd\\, Ord)],\
         type_attribute=Pong=#[derive(PartialOrd)],\
         field_attribute=.tests.streaming.Pong.seq=#[doc = \"Set by field_attribute.\"]",
    );
    let messages = content(&files, "tests.streaming.rs");
    insta::assert_snapshot!("type_and_field_attributes", messages);
    let (ping, ping_seq) = struct_attributes(messages, "Ping", "seq");
    assert!(
        ping.contains(&"# [derive (PartialOrd , Ord)]".to_owned()),
        "{ping:?}"
    );
    assert!(!ping_seq.iter().any(|attr| attr.contains("field_attribute")));
    let (pong, pong_seq) = struct_attributes(messages, "Pong", "seq");
    assert!(
        pong.contains(&"# [derive (PartialOrd)]".to_owned()),
        "{pong:?}"
    );
    assert!(
        pong_seq.contains(&"# [doc = \"Set by field_attribute.\"]".to_owned()),
        "{pong_seq:?}"
    );

    // The Builder's setters take the attribute as it is, commas included.
    let files = builder("streaming.proto")
        .type_attribute(".tests.streaming.Ping", "#[derive(PartialOrd, Ord)]")
        .field_attribute(
            ".tests.streaming.Pong.seq",
            "#[doc = \"Set by field_attribute.\"]",
        )
        .type_attribute("Pong", "#[derive(PartialOrd)]")
        .artifacts([protoc_gen_rust_svc::Artifact::Domain])
        .generate()
        .unwrap();
    assert_eq!(content(&files, "tests.streaming.rs"), messages);
}

#[test]
fn attributes_from_the_builder_are_checked_as_parameters_are() {
    let cases = [
        (
            builder("streaming.proto").type_attribute(".tests", "derive(Hash)"),
            "type_attribute=.tests=derive(Hash)",
        ),
        (
            builder("streaming.proto").field_attribute("", "#[doc = \"x\"]"),
            "`field_attribute==#[doc = \"x\"]` must be `PATH=#[attribute]`",
        ),
    ];
    for (builder, expected) in cases {
        let error = builder.generate().unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

/// The value of `FILE_DESCRIPTOR_SET` in an include file.
fn descriptor_set_const(include_file: &str) -> Vec<u8> {
    let file = syn::parse_file(include_file).expect("parses");
    file.items
        .iter()
        .find_map(|item| match item {
            syn::Item::Const(item) if item.ident == "FILE_DESCRIPTOR_SET" => match &*item.expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::ByteStr(bytes),
                    ..
                }) => Some(bytes.value()),
                _ => None,
            },
            _ => None,
        })
        .expect("a FILE_DESCRIPTOR_SET byte string")
}

/// The set the compiler produced for `proto`: every file and import, source info included.
fn compiled_set(proto: &str) -> prost_types::FileDescriptorSet {
    let input = builder(proto).input().unwrap();
    prost_types::FileDescriptorSet {
        file: input
            .proto_files
            .iter()
            .map(|file| prost_types::FileDescriptorProto::decode(file.as_slice()).unwrap())
            .collect(),
    }
}

#[test]
fn the_include_file_carries_the_descriptor_set_when_asked() {
    let files = generate(
        "streaming.proto",
        "artifacts=domain,file_descriptor_set=true",
    );
    let include = content(&files, "mod.rs");
    insta::assert_snapshot!("file_descriptor_set", include);
    let set = prost_types::FileDescriptorSet::decode(descriptor_set_const(include).as_slice())
        .expect("a FileDescriptorSet");
    assert_eq!(set, compiled_set("streaming.proto"));
    assert!(
        set.file[0].source_code_info.is_some(),
        "comments for reflection"
    );

    // Imports come along, each before the files that import it.
    let files = generate("service_only.proto", "file_descriptor_set=true");
    let set = prost_types::FileDescriptorSet::decode(
        descriptor_set_const(content(&files, "mod.rs")).as_slice(),
    )
    .unwrap();
    let names: Vec<&str> = set.file.iter().map(|file| file.name()).collect();
    for (index, file) in set.file.iter().enumerate() {
        for dependency in &file.dependency {
            let position = names.iter().position(|name| name == dependency);
            assert!(
                position.is_some_and(|position| position < index),
                "{dependency} before {} in {names:?}",
                file.name()
            );
        }
    }
    assert!(
        names.contains(&"google/protobuf/timestamp.proto"),
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"service_only.proto"));

    let default = generate("streaming.proto", "artifacts=domain");
    assert!(!content(&default, "mod.rs").contains("FILE_DESCRIPTOR_SET"));
}

#[test]
fn file_descriptor_set_path_writes_the_set_of_the_constant() {
    let out = tempfile::tempdir().unwrap();
    let bin = out.path().join("file_descriptor_set.bin");
    let written = builder("service_only.proto")
        .file_descriptor_set(true)
        .file_descriptor_set_path(&bin)
        .out_dir(out.path().join("src"))
        .compile()
        .unwrap();
    assert!(written.contains(&bin), "{written:?}");
    let include = std::fs::read_to_string(out.path().join("src/mod.rs")).unwrap();
    assert_eq!(std::fs::read(&bin).unwrap(), descriptor_set_const(&include));
}

#[test]
fn the_plugin_emits_the_constant_through_protoc() {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(protoc)
        .current_dir(root())
        .arg(format!(
            "--plugin=protoc-gen-rust-svc={}",
            env!("CARGO_BIN_EXE_protoc-gen-rust-svc")
        ))
        .args(["-Itests/protos", "-Iproto"])
        .arg(format!("--rust-svc_out={}", out.path().display()))
        .arg("--rust-svc_opt=file_descriptor_set=true,default_stubs=true")
        .arg("tests/protos/streaming.proto")
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let include = std::fs::read_to_string(out.path().join("mod.rs")).unwrap();
    let set =
        prost_types::FileDescriptorSet::decode(descriptor_set_const(&include).as_slice()).unwrap();
    // The descriptors are protox's; protoc lists the source locations in another order (so
    // the three ways in differ with this parameter, and it is off by default).
    let without_locations = |mut set: prost_types::FileDescriptorSet| {
        for file in &mut set.file {
            assert!(file.source_code_info.take().is_some());
        }
        set
    };
    assert_eq!(
        without_locations(set),
        without_locations(compiled_set("streaming.proto"))
    );
}
