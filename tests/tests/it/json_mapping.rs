//! proto3 JSON of generated messages, in the positions where serde's own forms are not proto3's:
//! every scalar type in every position (64-bit integers as strings, bytes as base64), non-finite floats are the strings `"NaN"`, `"Infinity"`, `"-Infinity"` in every
//! position a float can be, `null` for a `google.protobuf.Value` is the null value and for any
//! other field the default, and an enum field keeps a number its enum has no value for and
//! leaves out a name it does not have.

use std::collections::HashMap;

use rust_svc_runtime::wkt::{self, value::Kind};
use rust_svc_tests::tests::json_mapping::{
    Floats, Scalars, Shade, Shades, Values, floats, scalars, shades,
};
use serde_json::json;

/// The message of type `$type` that JSON `$sent` decodes to, and its JSON.
macro_rules! round_trip {
    ($type:ty, $sent:expr) => {{
        let message: $type = serde_json::from_value($sent).expect("the JSON decodes");
        let written = serde_json::to_value(&message).expect("the message encodes");
        (message, written)
    }};
}

#[test]
fn non_finite_floats_are_strings_in_every_position() {
    let sent = json!({
        "ratio": "NaN",
        "weight": "-Infinity",
        "maybe": "Infinity",
        "series": [1.5, "NaN", "-Infinity"],
        "byName": {"a": "Infinity", "b": 0.25},
        "byNumber": {"7": "NaN"},
        "choiceRatio": "-Infinity",
        "wrapped": "NaN",
        "wrappedSingle": "Infinity",
        "nested": {"deep": "NaN"},
    });
    let (message, written) = round_trip!(Floats, sent.clone());
    assert!(message.ratio.is_nan());
    assert_eq!(message.series[2], f32::NEG_INFINITY);
    assert_eq!(message.by_name["a"], f64::INFINITY);
    assert_eq!(
        message.choice,
        Some(floats::Choice::ChoiceRatio(f64::NEG_INFINITY))
    );
    assert_eq!(written, sent);
}

#[test]
fn finite_floats_stay_numbers() {
    let sent = json!({
        "ratio": 0.1,
        "weight": 0.25,
        "maybe": 0.0,
        "series": [2.5],
        "byNumber": {"1": -3.5},
        "wrapped": 0.0,
    });
    let (_, written) = round_trip!(Floats, sent.clone());
    assert_eq!(written, sent);
    let written = serde_json::to_string(&Floats {
        weight: 0.1,
        by_name: HashMap::from([("x".to_owned(), 1e300)]),
        ..Floats::default()
    })
    .unwrap();
    assert_eq!(written, r#"{"weight":0.1,"byName":{"x":1e+300}}"#);
}

#[test]
fn floats_beyond_single_precision_are_refused_in_every_position() {
    // The conformance suite's `FloatFieldTooLarge`: pbjson's reader takes it as infinity.
    for sent in [
        json!({"weight": 3.5e38}),
        json!({"series": [1.0, -3.5e38]}),
        json!({"byNumber": {"1": 3.5e38}}),
        json!({"wrappedSingle": 3.5e38}),
        json!({"weight": "3.5e38"}),
        json!({"weight": "inf"}),
    ] {
        assert!(
            serde_json::from_value::<Floats>(sent.clone()).is_err(),
            "{sent}"
        );
    }
    let (message, _) = round_trip!(Floats, json!({"weight": 3.4e38, "ratio": 1e300}));
    assert_eq!(message.weight, 3.4e38);
    // Integer map keys are read as integers are in text, a whole number written as a float
    // included (protojson is stricter with keys than with values, which share our reader).
    let (message, _) = round_trip!(Floats, json!({"byNumber": {"1e0": 1.0}}));
    assert_eq!(message.by_number, HashMap::from([(1, 1.0)]));
    assert!(serde_json::from_value::<Floats>(json!({"byNumber": {"1.5": 1.0}})).is_err());
}

#[test]
fn null_for_a_value_is_the_null_value_in_every_position() {
    let null = wkt::Value {
        kind: Some(Kind::NullValue(0)),
    };
    let sent = json!({"anything": null, "many": [null, 1.5], "byName": {"k": null}});
    let (message, written) = round_trip!(Values, sent.clone());
    assert_eq!(message.anything, Some(null.clone()));
    assert_eq!(message.many[0], null);
    assert_eq!(message.by_name["k"], null);
    assert_eq!(written, sent);

    // In a oneof, and in a nested message.
    let sent = json!({"choiceValue": null, "nested": {"anything": null}});
    let (message, written) = round_trip!(Floats, sent.clone());
    assert_eq!(message.choice, Some(floats::Choice::ChoiceValue(null)));
    assert_eq!(written, sent);
}

#[test]
fn null_for_other_messages_is_the_default() {
    let (message, written) = round_trip!(Values, json!({"object": null}));
    assert_eq!(message.object, None);
    assert_eq!(written, json!({}));
    let (message, _) = round_trip!(Floats, json!({"wrapped": null, "nested": null}));
    assert_eq!(message, Floats::default());
}

#[test]
fn enum_numbers_without_a_value_are_kept_in_every_position() {
    // proto3 enums are open (the conformance suite's `EnumFieldUnknownValue`): a newer peer's
    // value is read from its number and written back as one (pbjson-build's impls refused it
    // and could not write the message at all).
    let sent = json!({
        "shade": 7,
        "maybe": -3,
        "many": ["SHADE_DARK", 12],
        "byName": {"a": 99, "b": "SHADE_LIGHT"},
        "choiceShade": 2147483647,
    });
    let (message, written) = round_trip!(Shades, sent.clone());
    assert_eq!(message.shade, 7);
    assert_eq!(message.maybe, Some(-3));
    assert_eq!(message.many, [Shade::Dark as i32, 12]);
    assert_eq!(message.by_name["a"], 99);
    assert_eq!(message.choice, Some(shades::Choice::ChoiceShade(i32::MAX)));
    assert_eq!(written, sent);
    // Known numbers are written by name, and names are read as before.
    let (message, written) = round_trip!(Shades, json!({"shade": 2, "many": [1, "SHADE_DARK"]}));
    assert_eq!(message.shade, Shade::Dark as i32);
    assert_eq!(
        written,
        json!({"shade": "SHADE_DARK", "many": ["SHADE_LIGHT", "SHADE_DARK"]})
    );
    // A number past 32 bits, or a number in a string (not a name), is still refused.
    for sent in [
        json!({"many": [2147483648_u64]}),
        json!({"byName": {"a": 1.5}}),
    ] {
        assert!(
            serde_json::from_value::<Shades>(sent.clone()).is_err(),
            "{sent}"
        );
    }
}

#[test]
fn names_the_enum_lacks_are_left_out_as_protojson_discards_them() {
    // With unknown fields skipped (the default), a name the enum does not have is no value,
    // as protojson's `DiscardUnknown` reads it (grpc-gateway's and connect-go's setting): the
    // field stays unset, a list loses the element and a map the entry (conformance:
    // `IgnoreUnknownEnumStringValueInOptionalField`, `...InRepeatedField`, `...InMapValue`).
    let sent = json!({
        "shade": "SHADE_GREY",
        "maybe": "SHADE_GREY",
        "many": ["SHADE_DARK", "SHADE_GREY", 7, "1"],
        "byName": {"a": "SHADE_GREY", "b": "SHADE_LIGHT"},
        "choiceShade": "SHADE_GREY",
    });
    let (message, written) = round_trip!(Shades, sent);
    assert_eq!(message.shade, 0);
    assert_eq!(message.maybe, None);
    assert_eq!(message.many, [Shade::Dark as i32, 7]);
    assert_eq!(message.by_name, HashMap::from([("b".into(), 1)]));
    assert_eq!(message.choice, None);
    assert_eq!(
        written,
        json!({"many": ["SHADE_DARK", 7], "byName": {"b": "SHADE_LIGHT"}})
    );
    // ... but not a `null` in a list or a map, which protojson refuses too.
    for sent in [json!({"many": [null]}), json!({"byName": {"a": null}})] {
        assert!(
            serde_json::from_value::<Shades>(sent.clone()).is_err(),
            "{sent}"
        );
    }
}

#[test]
fn null_leaves_every_field_unset() {
    // proto3 JSON: `null` is the default for every field but a `google.protobuf.Value`
    // (conformance: `AllFieldAcceptNull`; pbjson-build's impls refused it for fields without
    // presence).
    let (message, written) = round_trip!(
        Floats,
        json!({"ratio": null, "weight": null, "maybe": null, "series": null, "byName": null,
               "byNumber": null, "wrapped": null})
    );
    assert_eq!(message, Floats::default());
    assert_eq!(written, json!({}));
    let (message, _) = round_trip!(
        Shades,
        json!({"shade": null, "maybe": null, "many": null, "byName": null, "choiceShade": null})
    );
    assert_eq!(message, Shades::default());
    // A oneof member given as `null` leaves the oneof as another member set it, in either
    // order (`OneofFieldNullFirst`, `OneofFieldNullSecond`); two members with values are
    // still refused.
    for sent in [
        json!({"choiceShade": null, "choiceText": "t"}),
        json!({"choiceText": "t", "choiceShade": null}),
    ] {
        let (message, _) = round_trip!(Shades, sent);
        assert_eq!(message.choice, Some(shades::Choice::ChoiceText("t".into())));
    }
    assert!(
        serde_json::from_value::<Shades>(json!({"choiceText": "t", "choiceShade": 1})).is_err()
    );
}

#[test]
fn a_package_named_by_a_keyword_is_corrected_like_any_other() {
    // `killers.type` is the module `killers::r#type`, as googleapis' `google.type` is
    // `google::r#type` (its `LatLng`, `Color`, `DayOfWeek`); the messages keep the proto
    // package's name (pbjson-build named them by the escaped module).
    use rust_svc_tests::killers::r#type::{Bearing, Heading, LatLng, bearing::Toward};
    let sent = json!({"from": {"latitude": "NaN", "longitude": "-Infinity"}, "heading": "NORTH"});
    let (message, written) = round_trip!(Bearing, sent.clone());
    let from = message.from.expect("from is set");
    assert!(from.latitude.is_nan());
    assert_eq!(from.longitude, f64::NEG_INFINITY);
    assert_eq!(message.toward, Some(Toward::Heading(Heading::North as i32)));
    assert_eq!(written, sent);
    // A number the enum has no value for is kept; a name it lacks is dropped.
    let (message, written) = round_trip!(Bearing, json!({"heading": 9}));
    assert_eq!(message.toward, Some(Toward::Heading(9)));
    assert_eq!(written, json!({"heading": 9}));
    let (message, _) = round_trip!(Bearing, json!({"heading": "SOUTH"}));
    assert_eq!(message.toward, None);
    // `null` for a oneof member leaves the member another field set.
    let (message, _) = round_trip!(Bearing, json!({"degrees": 90.0, "heading": null}));
    assert_eq!(message.toward, Some(Toward::Degrees(90.0)));
    // serde's errors name the message by its proto name.
    let error = serde_json::from_value::<LatLng>(json!([])).unwrap_err();
    assert!(
        error.to_string().contains("struct killers.type.LatLng"),
        "{error}"
    );
}

#[test]
fn every_scalar_has_its_proto3_json_form_in_every_position() {
    // Read from either form: numbers as numbers or strings, bytes standard or URL-safe.
    let sent = json!({
        "int32Value": "-5",
        "int64Value": -9007199254740993i64,
        "uint32Value": 4294967295u32,
        "uint64Value": "18446744073709551615",
        "sint32Value": -1,
        "sint64Value": "-2",
        "fixed32Value": 3,
        "fixed64Value": 4,
        "sfixed32Value": -6,
        "sfixed64Value": "-7",
        "boolValue": true,
        "stringValue": "s",
        "bytesValue": "-_8",
        "maybeInt64": 0,
        "maybeBytes": "",
        "maybeUint64": "1",
        "manyInt64": [1, "-2"],
        "manyUint64": ["3"],
        "manyBytes": ["YWI=", "YQ"],
        "manySfixed32": [-1, "2"],
        "manyBools": [true, false],
        "byInt64": {"-1": "a"},
        "byUint32": {"4": "5"},
        "byBool": {"true": "YQ==", "false": ""},
        "byString": {"k": 6},
        "bySint64": {"-3": "SHADE_DARK", "4": 7},
        "byFixed64": {"8": {"deep": 1.5}},
        "choiceInt64": "9",
    });
    let message: Scalars = serde_json::from_value(sent).expect("the JSON decodes");
    assert_eq!(message.int64_value, -9_007_199_254_740_993);
    assert_eq!(message.uint64_value, u64::MAX);
    assert_eq!(message.bytes_value, [0xfb, 0xff]);
    assert_eq!(message.maybe_int64, Some(0));
    assert_eq!(message.maybe_bytes, Some(Vec::new()));
    assert_eq!(message.many_bytes, [b"ab".to_vec(), b"a".to_vec()]);
    assert_eq!(message.by_bool[&true], b"a");
    assert_eq!(message.choice, Some(scalars::Choice::ChoiceInt64(9)));
    // Written as protojson writes them: 64-bit integers and map keys as strings, bytes as
    // padded standard base64, set `optional` fields even at their default.
    let written = serde_json::to_value(&message).expect("the message encodes");
    assert_eq!(
        written,
        json!({
            "int32Value": -5,
            "int64Value": "-9007199254740993",
            "uint32Value": 4294967295u32,
            "uint64Value": "18446744073709551615",
            "sint32Value": -1,
            "sint64Value": "-2",
            "fixed32Value": 3,
            "fixed64Value": "4",
            "sfixed32Value": -6,
            "sfixed64Value": "-7",
            "boolValue": true,
            "stringValue": "s",
            "bytesValue": "+/8=",
            "maybeInt64": "0",
            "maybeBytes": "",
            "maybeUint64": "1",
            "manyInt64": ["1", "-2"],
            "manyUint64": ["3"],
            "manyBytes": ["YWI=", "YQ=="],
            "manySfixed32": [-1, 2],
            "manyBools": [true, false],
            "byInt64": {"-1": "a"},
            "byUint32": {"4": "5"},
            "byBool": {"true": "YQ==", "false": ""},
            "byString": {"k": "6"},
            "bySint64": {"-3": "SHADE_DARK", "4": 7},
            "byFixed64": {"8": {"deep": 1.5}},
            "choiceInt64": "9",
        })
    );
    let other = Scalars {
        choice: Some(scalars::Choice::ChoiceBytes(b"\x00".to_vec())),
        ..Scalars::default()
    };
    assert_eq!(
        serde_json::to_value(&other).unwrap(),
        json!({"choiceBytes": "AA=="})
    );
    // Two members of one oneof are refused, as protojson refuses them.
    let both = json!({"choiceUint32": 1, "choiceNested": {}});
    assert!(serde_json::from_value::<Scalars>(both).is_err());
    // A member named twice, by either of its names, is refused.
    let twice = json!({"int64Value": 1, "int64_value": 2});
    assert!(serde_json::from_value::<Scalars>(twice).is_err());
}

#[test]
fn a_oneof_named_like_a_nested_type_is_read_into_prost_builds_enum() {
    use rust_svc_tests::tests::json_mapping::{Clash, clash};
    let sent = json!({"nested": {"label": "x"}});
    let message: Clash = serde_json::from_value(sent.clone()).unwrap();
    assert_eq!(
        message.kind,
        Some(clash::KindOneOf::Nested(clash::Kind {
            label: "x".to_owned()
        }))
    );
    assert_eq!(serde_json::to_value(&message).unwrap(), sent);
}

#[test]
fn a_message_of_a_file_without_a_package_has_json_named_by_its_bare_name() {
    let sent = json!({"name": "w", "size": 3});
    let widget: rust_svc_tests::Widget = serde_json::from_value(sent.clone()).unwrap();
    assert_eq!(widget.size, 3);
    assert_eq!(serde_json::to_value(&widget).unwrap(), sent);
    let error = serde_json::from_str::<rust_svc_tests::Widget>("[]").unwrap_err();
    assert!(error.to_string().contains("struct Widget"), "{error}");
}
