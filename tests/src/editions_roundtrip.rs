//! Messages of files written with editions encode the bytes their proto2 / proto3 equivalents
//! encode, and each decodes the other's: the generator's lowering of editions features (field
//! presence, packed and expanded repeated fields, required fields, delimited groups) is the
//! one protoc's own encoding follows. The same literals build both, so a lowering that changed
//! a field's Rust shape (`Option<i32>` for `i32`) would not compile.

use prost::Message;

use crate::editions::tests::editions::{explicit, explicit_proto2, implicit, implicit_proto3};

/// `a` and `b` encode the same bytes, and each decodes from the other's.
fn assert_same_wire<
    A: Message + Default + PartialEq + std::fmt::Debug,
    B: Message + Default + PartialEq + std::fmt::Debug,
>(
    a: &A,
    b: &B,
) {
    let (bytes_a, bytes_b) = (a.encode_to_vec(), b.encode_to_vec());
    assert_eq!(bytes_a, bytes_b, "{a:?}\n{b:?}");
    assert_eq!(&B::decode(bytes_a.as_slice()).unwrap(), b);
    assert_eq!(&A::decode(bytes_b.as_slice()).unwrap(), a);
}

macro_rules! reading {
    ($module:ident, $detail:ident) => {
        $module::Reading {
            count: Some(0),
            label: None,
            color: Some($module::Color::Green as i32),
            samples: vec![1, 2, 300],
            marks: vec![7, 8],
            id: "r-1".to_owned(),
            detail: Some($module::reading::$detail {
                at: Some(-5),
                raw: Some(vec![0, 1, 2]),
            }),
            totals: [("a".to_owned(), 3)].into(),
            source: Some($module::reading::Source::Manual(0)),
            ratio: None,
            entry: vec![
                $module::reading::Entry { value: Some(1) },
                $module::reading::Entry { value: None },
            ],
            details: [("d".to_owned(), $module::reading::$detail::default())].into(),
        }
    };
}

#[test]
fn explicit_presence_required_groups_and_expanded_fields_encode_as_proto2() {
    let editions = reading!(explicit, Detail);
    let proto2 = reading!(explicit_proto2, Detail);
    assert_same_wire(&editions, &proto2);
    // Explicit presence: a zero that is set is sent, one that is not is not.
    assert!(!editions.encode_to_vec().is_empty());
    let unset = explicit::Reading {
        id: "r".to_owned(),
        ..Default::default()
    };
    assert_eq!(unset.encode_to_vec(), [0x32, 1, b'r']);
    // The default the proto declares, as proto2 gives it.
    assert_eq!(unset.ratio(), 0.5);
    // Expanded: one tag per value (field 5, varint); packed: one length-delimited run (field 4).
    let marks = explicit::Reading {
        marks: vec![1, 2],
        samples: vec![1, 2],
        ..Default::default()
    };
    assert_eq!(
        marks.encode_to_vec(),
        [0x22, 2, 1, 2, 0x28, 1, 0x28, 2, 0x32, 0]
    );
    // A delimited list: each element between a start-group and an end-group tag (field 12);
    // a map's entries stay length-prefixed (field 13).
    let delimited = explicit::Reading {
        entry: vec![explicit::reading::Entry { value: Some(1) }],
        details: [(
            "d".to_owned(),
            explicit::reading::Detail {
                at: Some(1),
                raw: None,
            },
        )]
        .into(),
        ..Default::default()
    };
    assert_eq!(
        delimited.encode_to_vec(),
        [
            0x32, 0, 0x63, 0x08, 1, 0x64, 0x6a, 7, 0x0a, 1, b'd', 0x12, 2, 0x08, 1
        ]
    );
}

macro_rules! sample {
    ($module:ident) => {
        $module::Sample {
            count: 0,
            name: "s".to_owned(),
            level: $module::Level::High as i32,
            deltas: vec![-1, 1],
            limit: Some(0),
            nested: Some($module::sample::Nested {
                on: true,
                note: Some(String::new()),
            }),
            choice: Some($module::sample::Choice::Number(0)),
            history: vec![$module::sample::Nested::default()],
        }
    };
}

#[test]
fn implicit_presence_with_an_explicit_field_encodes_as_proto3() {
    assert_same_wire(&sample!(implicit), &sample!(implicit_proto3));
    // Implicit presence: zeros are not sent; the explicit field's zero is.
    let zeros = implicit::Sample {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(zeros.encode_to_vec(), [0x28, 0]);
}

#[test]
fn lowered_messages_keep_proto3_json() {
    // The gateway's JSON impls are generated from the lowered descriptors too.
    let json = serde_json::to_value(sample!(implicit)).unwrap();
    let expected = serde_json::to_value(sample!(implicit_proto3)).unwrap();
    assert_eq!(json, expected);
    assert_eq!(json["limit"], 0);
}
