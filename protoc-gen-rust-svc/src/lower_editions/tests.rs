//! The lowering on hand-encoded descriptors: what is left alone, what changes, what survives.

use super::*;
use prost::encoding::{bytes, int32, string};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

/// An encoded file of `syntax` (and `edition`, if any) with one message `p.A { int32 n = 1; }`
/// and one service whose method carries an extension prost-types does not know.
fn file(syntax: &str, edition: Option<i32>, method_options: &[u8]) -> Vec<u8> {
    let message = DescriptorProto {
        name: Some("A".into()),
        field: vec![FieldDescriptorProto {
            name: Some("n".into()),
            number: Some(1),
            label: Some(LABEL_OPTIONAL),
            r#type: Some(5),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut method = Vec::new();
    string::encode(1, &"M".to_owned(), &mut method);
    string::encode(2, &".p.A".to_owned(), &mut method);
    string::encode(3, &".p.A".to_owned(), &mut method);
    bytes::encode(4, &method_options.to_vec(), &mut method);
    let mut service = Vec::new();
    string::encode(1, &"S".to_owned(), &mut service);
    bytes::encode(2, &method, &mut service);
    let mut encoded = FileDescriptorProto {
        name: Some("f.proto".into()),
        package: Some("p".into()),
        message_type: vec![message],
        syntax: Some(syntax.into()),
        ..Default::default()
    }
    .encode_to_vec();
    bytes::encode(6, &service, &mut encoded);
    if let Some(edition) = edition {
        int32::encode(14, &edition, &mut encoded);
    }
    encoded
}

/// `google.api.http` (72295728) with a few bytes of payload, as MethodOptions bytes.
fn http_option() -> Vec<u8> {
    let mut options = Vec::new();
    bytes::encode(72_295_728, &b"\x12\x07/v1/a/b".to_vec(), &mut options);
    options
}

#[test]
fn proto2_and_proto3_files_are_left_alone() {
    for syntax in ["proto2", "proto3"] {
        assert_eq!(lower(&file(syntax, None, &[]), None).unwrap(), None);
    }
}

#[test]
fn an_edition_2023_file_becomes_proto2_and_keeps_unknown_options_byte_for_byte() {
    let options = http_option();
    let lowered = lower(&file("editions", Some(EDITION_2023), &options), None)
        .unwrap()
        .expect("lowered");
    let decoded = FileDescriptorProto::decode(lowered.as_slice()).unwrap();
    assert_eq!(decoded.syntax(), "proto2");
    // Explicit presence, 2023's default: proto2's optional.
    assert_eq!(decoded.message_type[0].field[0].label, Some(LABEL_OPTIONAL));
    let found = lowered
        .windows(options.len())
        .any(|window| window == options.as_slice());
    assert!(found, "the method's google.api.http bytes survive");
    // prost-reflect accepts the result.
    let mut set = Vec::new();
    bytes::encode(1, &lowered, &mut set);
    DescriptorPool::decode(set.as_slice()).unwrap();
}

#[test]
fn an_unknown_edition_is_an_error_naming_the_supported_ones() {
    let error = lower(&file("editions", Some(9_999), &[]), None)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("f.proto: edition 9999 is not supported"),
        "{error}"
    );
    assert!(error.contains("2023 and 2024"), "{error}");
}

#[test]
fn synthetic_oneofs_are_named_as_protoc_names_them() {
    // Fields `a`, `b`, `_c` and a oneof `_b` (protoc's parser: `_b` is taken, so `X_b`; a name
    // that starts with `_` is kept, then prefixed since the field has it).
    let mut taken: HashSet<String> = ["a", "b", "_c", "_b"].map(str::to_owned).into();
    assert_eq!(synthetic_oneof_name("a", &mut taken), "_a");
    assert_eq!(synthetic_oneof_name("b", &mut taken), "X_b");
    assert_eq!(synthetic_oneof_name("_c", &mut taken), "X_c");
    // Each name given is taken for the next.
    taken.insert("d".to_owned());
    assert_eq!(synthetic_oneof_name("d", &mut taken), "_d");
    assert!(taken.contains("_d"));
}
