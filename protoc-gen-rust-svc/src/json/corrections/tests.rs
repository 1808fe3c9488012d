use std::collections::{BTreeMap, HashSet};

use prost::Message;
use prost_build::Module;
use prost_types::FileDescriptorSet;

use super::*;
use crate::params::Params;

/// A proto with a float and a `google.protobuf.Value` in every position pbjson-build writes
/// differently, and fields of other types beside them.
const PROTO: &str = r#"
syntax = "proto3";
package t.json;
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";

message Floats {
  double ratio = 1;
  float weight = 2;
  optional double maybe = 3;
  repeated float series = 4;
  map<string, double> by_name = 5;
  map<int32, float> by_number = 6;
  oneof choice {
    double choice_ratio = 7;
    string choice_text = 8;
    google.protobuf.Value choice_value = 9;
  }
  double renamed = 10 [json_name = "otherName"];
  google.protobuf.DoubleValue wrapped = 11;
  int64 count = 12;
  map<string, string> labels = 13;
  Nested nested = 14;
  message Nested {
    float deep = 1;
    google.protobuf.Value anything = 2;
  }
}

message Values {
  google.protobuf.Value anything = 1;
  repeated google.protobuf.Value many = 2;
  map<string, google.protobuf.Value> by_name = 3;
  google.protobuf.Struct object = 4;
}
"#;

fn descriptors() -> Vec<FileDescriptorProto> {
    struct InMemory;
    impl protox::file::FileResolver for InMemory {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match name {
                "t.proto" => protox::file::File::from_source(name, PROTO),
                _ => Err(protox::Error::file_not_found(name)),
            }
        }
    }
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(InMemory);
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    compiler
        .open_file("t.proto")
        .expect("the test proto compiles");
    FileDescriptorSet::decode(compiler.encode_file_descriptor_set().as_slice())
        .expect("protox's descriptors decode")
        .file
}

fn names(names: &[&str]) -> HashSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn the_descriptors_name_the_fields_to_correct() {
    let mut corrections = Corrections::of(&descriptors(), false);
    // The imported files' messages are there too (`google.protobuf.Value`'s `number_value`).
    assert!(corrections.floats["google.protobuf.Value"].contains("numberValue"));
    corrections
        .floats
        .retain(|message, _| message.starts_with("t.json."));
    // `Value`'s `null_value` is an enum field; the test proto has none.
    assert!(corrections.enums.contains("google.protobuf.Value"));
    corrections
        .enums
        .retain(|message| message.starts_with("t.json."));
    corrections
        .messages
        .retain(|message, _| message.starts_with("t.json."));
    let floats = [
        (
            "t.json.Floats",
            names(&[
                "ratio",
                "weight",
                "maybe",
                "series",
                "byName",
                "byNumber",
                "choiceRatio",
                "otherName",
            ]),
        ),
        ("t.json.Floats.Nested", names(&["deep"])),
    ];
    let values = [
        ("t.json.Floats", names(&["choiceValue"])),
        ("t.json.Floats.Nested", names(&["anything"])),
        ("t.json.Values", names(&["anything"])),
    ];
    assert_eq!(
        corrections,
        Corrections {
            floats: floats.map(|(m, f)| (m.to_owned(), f)).into(),
            values: values.map(|(m, f)| (m.to_owned(), f)).into(),
            enums: HashSet::new(),
            // `choice`, and struct.proto's `kind`; proto3 `optional`'s synthetic oneof
            // (`maybe`) is not one.
            oneofs: [
                "t.json.Floats".to_owned(),
                "google.protobuf.Value".to_owned()
            ]
            .into(),
            // Message fields outside oneofs, well-known types included.
            messages: [
                ("t.json.Floats".to_owned(), names(&["wrapped", "nested"])),
                ("t.json.Floats.Nested".to_owned(), names(&["anything"])),
                ("t.json.Values".to_owned(), names(&["anything", "object"])),
            ]
            .into(),
        }
    );
}

/// The serde impls pbjson-build writes for the test proto, corrected, one entry per impl.
fn generated() -> BTreeMap<String, String> {
    let files = descriptors();
    let wanted = [Module::from_protobuf_package_name("t.json")].into();
    let code = crate::json::generate(
        files,
        &wanted,
        None,
        &Params::default(),
        &Default::default(),
    )
    .expect("the test proto generates");
    let code = &code[&Module::from_protobuf_package_name("t.json")];
    let file = syn::parse_file(code).expect("the output parses");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(item) => {
                let name = quote::quote!(#item).to_string();
                let (_, trait_path, _) = item.trait_.as_ref()?;
                let trait_name = trait_path.segments.last()?.ident.to_string();
                let self_ty = &item.self_ty;
                Some((
                    format!("{trait_name} for {}", quote::quote!(#self_ty)),
                    name,
                ))
            }
            _ => None,
        })
        .collect()
}

/// `text` with all whitespace and trailing commas removed, to compare code whatever its layout.
fn squeezed(text: &str) -> String {
    text.split_whitespace()
        .collect::<String>()
        .replace(",)", ")")
}

#[test]
fn float_fields_are_written_through_the_runtime_in_every_position() {
    let code = generated();
    let serialize = squeezed(&code["Serialize for Floats"]);
    let through = "&::rust_svc_runtime::codegen::JsonFloats";
    for (name, value) in [
        ("ratio", "(&self.ratio)"),
        ("weight", "(&self.weight)"),
        ("maybe", "(v)"),
        ("series", "(&self.series)"),
        ("byName", "(&self.by_name)"),
        ("byNumber", "(&self.by_number)"),
        ("choiceRatio", "(v)"),
        ("otherName", "(&self.renamed)"),
    ] {
        let expected = format!("serialize_field(\"{name}\",{through}{value})");
        assert!(serialize.contains(&expected), "{expected} in {serialize}");
    }
    // Other types, the wrapper (whose own impl is right) included, are left alone.
    for untouched in [
        "serialize_field(\"choiceText\",v)",
        "serialize_field(\"choiceValue\",v)",
        "serialize_field(\"wrapped\",v)",
        "serialize_field(\"labels\",&self.labels)",
    ] {
        assert!(serialize.contains(untouched), "{untouched} in {serialize}");
    }
    assert_eq!(serialize.matches("JsonFloats").count(), 8);
    let nested = squeezed(&code["Serialize for floats :: Nested"]);
    assert!(nested.contains(&format!("serialize_field(\"deep\",{through}(&self.deep))")));
    assert!(!code["Serialize for Values"].contains("JsonFloats"));
}

#[test]
fn value_fields_read_null_as_the_null_value() {
    let code = generated();
    let values = squeezed(&code["Deserialize for Values"]);
    assert!(
        values.contains("anything__=::core::option::Option::Some(map_.next_value()?);"),
        "{values}"
    );
    // Repeated and map fields (`null` elements are Values already; `null` for the field is
    // no elements, see `nulls`) and Struct are left alone.
    assert!(values.contains("many__=map_.next_value()?;"), "{values}");
    assert!(values.contains("object__=map_.next_value()?;"), "{values}");
    assert_eq!(values.matches("::core::option::Option::Some").count(), 1);

    let floats = squeezed(&code["Deserialize for Floats"]);
    let member =
        "choice__=::core::option::Option::Some(floats::Choice::ChoiceValue(map_.next_value()?));";
    assert!(floats.contains(member), "{floats}");
    assert!(floats.contains("wrapped__=map_.next_value()?;"), "{floats}");
    let nested = squeezed(&code["Deserialize for floats :: Nested"]);
    assert!(nested.contains("anything__=::core::option::Option::Some(map_.next_value()?);"));
}

#[test]
fn an_impl_in_another_shape_is_an_internal_error() {
    let runtime: syn::Path = syn::parse_quote!(::rt);
    let corrections = Corrections {
        floats: [("p.M".to_owned(), names(&["ratio"]))].into(),
        values: [("p.M".to_owned(), names(&["anything"]))].into(),
        enums: HashSet::new(),
        oneofs: HashSet::new(),
        messages: HashMap::new(),
    };
    let mut serialize: syn::File = syn::parse_quote! {
        impl serde::Serialize for M {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut struct_ser = serializer.serialize_struct("p.M", 1)?;
                struct_ser.serialize_field("ratio", &self.ratio, 3)?;
                struct_ser.end()
            }
        }
    };
    let error = corrections.apply(&mut serialize, &runtime).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("serde impl of `p.M` does not have field `ratio`"),
        "{error}"
    );
    let mut deserialize: syn::File = syn::parse_quote! {
        impl<'de> serde::Deserialize<'de> for M {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error> {
                match k {
                    GeneratedField::Anything => {
                        if anything__.is_some() {
                            return Err(serde::de::Error::duplicate_field("anything"));
                        }
                        anything__ = map_.next_value::<Value>()?;
                    }
                }
                deserializer.deserialize_struct("p.M", FIELDS, GeneratedVisitor)
            }
        }
    };
    let error = corrections.apply(&mut deserialize, &runtime).unwrap_err();
    assert!(error.to_string().contains("field `anything`"), "{error}");
    // Impls of other messages are not looked at.
    let mut other: syn::File = syn::parse_quote! {
        impl serde::Serialize for N {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_struct("p.N", 0)?.end()
            }
        }
    };
    corrections.apply(&mut other, &runtime).unwrap();
}

#[test]
fn only_the_deserialize_impl_of_a_message_with_a_oneof_reads_members() {
    let corrections = Corrections {
        oneofs: ["google.type.DateTime".to_owned(), "a.b.M".to_owned()].into(),
        ..Corrections::default()
    };
    let deserialize = |name: &str| {
        format!(
            "impl D {{ deserializer.deserialize_struct(\"{name}\", FIELDS, GeneratedVisitor) }}"
        )
    };
    for name in ["google.type.DateTime", "a.b.M"] {
        assert!(corrections.concern(&deserialize(name)).oneofs, "{name}");
    }
    assert!(!corrections.concern(&deserialize("a.b.N")).oneofs);
    // A `Serialize` impl reads no member.
    let serialize = "impl S { serializer.serialize_struct(\"a.b.M\", 1) }";
    assert!(!corrections.concern(serialize).oneofs);
}
