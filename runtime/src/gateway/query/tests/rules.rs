//! The rules past the types: nested paths, the errors, skipped and unknown parameters,
//! percent-decoding, map keys, repeated names and the path bindings.

use serde_json::{Map, Value, json};

use super::*;
use crate::json::query_text::query_value;

#[test]
fn nested_paths_create_the_messages_on_the_way() {
    let value = merge(&[
        ("nested.nested.nested.repeated_value", "a"),
        ("nested.nested.nested.repeated_value", "b"),
        ("nested.nested.nested.string_value", "s"),
        ("nested.nested.string_value", "t"),
        ("nested.string_value", "u"),
        ("nested.nested.map_value[first]", "foo"),
        ("nested.nested.mapValue[second]", "bar"),
        ("nested_oneof_value_one.int64Value", "-1"),
        ("nestedOneofValueOne.string_value", "foo"),
    ]);
    let expected = json!({
        "nested": {
            "stringValue": "u",
            "nested": {
                "stringValue": "t",
                "mapValue": {"first": "foo", "second": "bar"},
                "nested": {"repeatedValue": ["a", "b"], "stringValue": "s"},
            },
        },
        "nestedOneofValueOne": {"int64Value": "-1", "stringValue": "foo"},
    });
    assert_eq!(value, expected);
}

#[test]
fn grpc_gateway_error_cases_name_the_parameter() {
    let cases = [
        (
            "timestampValue=null",
            r#"query parameter "timestampValue": "null" is not a valid RFC 3339 timestamp"#,
        ),
        (
            "durationValue=null",
            r#"query parameter "durationValue": "null" is not a valid duration"#,
        ),
        (
            "uint64_value=1&uint64_value=2",
            r#"query parameter "uint64_value": too many values for field "uint64_value", which is not repeated"#,
        ),
        (
            "repeated_message.value=1",
            r#"query parameter "repeated_message.value": invalid path: "repeated_message" is not a message"#,
        ),
        (
            "timestampValue=0000-01-01T00:00:00.00Z",
            r#"query parameter "timestampValue": "0000-01-01T00:00:00.00Z" is before 0001-01-01"#,
        ),
        (
            "int32_value=abc",
            r#"query parameter "int32_value": "abc" is not a valid int32"#,
        ),
    ];
    for (query, message) in cases {
        assert_eq!(error(query), message, "{query}");
    }
}

#[test]
fn grpc_gateway_invalid_nested_parameters_are_errors() {
    for name in [
        "float_value",
        "double_value",
        "int64_value",
        "int32_value",
        "uint64_value",
        "uint32_value",
        "bool_value",
        "string_value",
        "repeated_value",
        "enum_value",
        "repeated_enum",
        "timestamp_value",
    ] {
        let message = error(&format!("{name}.nested=test"));
        assert!(message.contains("is not a message"), "{message}");
    }
}

#[test]
fn skipped_paths_are_never_set_from_the_query() {
    let query = "nested.nested.bool_value=true&nested.nested.string_value=str\
                 &nested.string_value=str&string_value=str";
    let cases: [(&[&str], Value); 4] = [
        (
            &["bool_value", "repeated_value"],
            json!({
                "nested": {"stringValue": "str", "nested": {"boolValue": true, "stringValue": "str"}},
                "stringValue": "str",
            }),
        ),
        (&["nested"], json!({"stringValue": "str"})),
        (
            &["nested.nested"],
            json!({"nested": {"stringValue": "str"}, "stringValue": "str"}),
        ),
        (
            &["nested.nested.string_value"],
            json!({
                "nested": {"stringValue": "str", "nested": {"boolValue": true}},
                "stringValue": "str",
            }),
        ),
    ];
    for (skip, expected) in cases {
        assert_eq!(merged(query, skip).unwrap(), expected, "{skip:?}");
    }
    // Under either name, in the skip list and in the query.
    assert_eq!(
        merged("stringValue=x&bool_value=1", &["string_value", "boolValue"]).unwrap(),
        json!({})
    );
}

#[test]
fn unknown_parameters_are_ignored_at_any_level() {
    let value = merged(
        "utm_source=mail&nested.unknown=1&unknown.nested=2&other[k]=v&_=1&=x&int32_value=3",
        &[],
    );
    assert_eq!(value.unwrap(), json!({"int32Value": 3}));
}

#[test]
fn percent_decoding_and_plus_as_space() {
    let value = merged(
        "string_value=a+b%20c%2Bd%26&map_value[k%20ey]=%E2%9C%93&repeated_value=%7E",
        &[],
    );
    assert_eq!(
        value.unwrap(),
        json!({"stringValue": "a b c+d&", "mapValue": {"k ey": "✓"}, "repeatedValue": ["~"]})
    );
    assert_eq!(
        merged("string%5Fvalue=x", &[]).unwrap(),
        json!({"stringValue": "x"})
    );
    assert_eq!(
        merged("string_value&&bool_value=1&", &[]).unwrap(),
        json!({"stringValue": "", "boolValue": true})
    );
    assert_eq!(merged("", &[]).unwrap(), json!({}));
}

#[test]
fn bad_encoding_is_an_error_naming_the_parameter() {
    let cases = [
        (
            "string_value=%zz",
            r#"query parameter "string_value": invalid URL escape "%zz""#,
        ),
        (
            "string_value=abc%4",
            r#"query parameter "string_value": invalid URL escape "%4""#,
        ),
        (
            "string%_value=1",
            r#"query parameter "string%_value": invalid URL escape "%_v""#,
        ),
        (
            "string_value=%FF%FE",
            r#"query parameter "string_value": not valid UTF-8 once percent-decoded"#,
        ),
        (
            "string_value=a;b",
            r#"query parameter "string_value": invalid semicolon separator in query"#,
        ),
    ];
    for (query, message) in cases {
        assert_eq!(error(query), message, "{query}");
    }
}

#[test]
fn map_keys_are_typed_and_single() {
    assert_eq!(
        merge(&[
            ("map_value15[t]", "a"),
            ("map_value3[+5]", "b"),
            ("map_value5[-0]", "c")
        ]),
        json!({"mapValue15": {"true": "a"}, "mapValue3": {"5": "b"}, "mapValue5": {"0": "c"}})
    );
    let cases = [
        (
            "map_value[k]=a&map_value[k]=b",
            r#"query parameter "map_value[k]": more than one value for map key "k""#,
        ),
        (
            "map_value15[true]=a&map_value15[1]=b",
            r#"query parameter "map_value15[1]": more than one value for map key "true""#,
        ),
        (
            "map_value3[x]=a",
            r#"query parameter "map_value3[x]": "x" is not a valid int32"#,
        ),
        (
            "map_value2[k]=x",
            r#"query parameter "map_value2[k]": "x" is not a valid int32"#,
        ),
        (
            "map_value=a",
            r#"query parameter "map_value": "map_value" is a map: set its entries as map_value[key]=value"#,
        ),
        (
            "string_value[k]=a",
            r#"query parameter "string_value[k]": "string_value" is not a map"#,
        ),
    ];
    for (query, message) in cases {
        assert_eq!(error(query), message, "{query}");
    }
}

#[test]
fn the_same_singular_field_under_both_names_is_too_many_values() {
    let message = error("string_value=a&stringValue=b");
    assert!(message.contains("too many values"), "{message}");
    // A repeated field collects both spellings, in order.
    assert_eq!(
        merged("repeated_value=a&repeatedValue=b", &[]).unwrap(),
        json!({"repeatedValue": ["a", "b"]})
    );
}

#[test]
fn a_target_with_proto_names_is_merged_into_not_duplicated() {
    let mut target = Map::new();
    target.insert("nested".into(), json!({"string_value": "path"}));
    target.insert("repeated_value".into(), json!(["body"]));
    merge_query(
        &PROTO3,
        &mut target,
        "nested.int32_value=1&repeated_value=q",
        &[],
    )
    .unwrap();
    assert_eq!(
        Value::Object(target),
        json!({"nested": {"string_value": "path", "int32Value": 1}, "repeated_value": ["body", "q"]})
    );
}

#[test]
fn binding_values_are_converted_and_name_the_variable() {
    assert_eq!(
        binding_value(&PROTO3, "int64_value", "42").unwrap(),
        json!("42")
    );
    assert_eq!(
        binding_value(&PROTO3, "nested.enum_value", "Y").unwrap(),
        query_value("Y".into())
    );
    assert_eq!(
        binding_value(&PROTO3, "duration_value", "2m").unwrap(),
        json!("120s")
    );
    let status = binding_value(&PROTO3, "nested.uint32_value", "-3").unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        r#"path variable "nested.uint32_value": "-3" is not a valid uint32"#
    );
    // A repeated field takes comma-separated values (grpc-gateway's `testABERepeated`), each
    // converted, an error naming which one.
    assert_eq!(
        binding_value(&PROTO3, "repeated_value", "a,b").unwrap(),
        json!(["a", "b"])
    );
    assert_eq!(
        binding_value(&PROTO3, "repeated_enum", "Y,1").unwrap(),
        json!([query_value("Y".into()), query_value("1".into())])
    );
    for bad_path in [
        "missing",
        "repeated_message",
        "string_value.x",
        "nested.missing",
    ] {
        let status = binding_value(&PROTO3, bad_path, "1").unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{bad_path}");
    }
}

/// A query's pairs as (key, value, semicolon, key escaped, value escaped).
type Split<'q> = (&'q str, &'q str, bool, bool, bool);

fn pairs_of(query: &str) -> Vec<Split<'_>> {
    crate::gateway::query::Pairs::new(query)
        .map(|pair| {
            (
                pair.key,
                pair.value,
                pair.semicolon,
                pair.key_escaped,
                pair.value_escaped,
            )
        })
        .collect()
}

#[test]
fn pairs_split_at_ampersands_and_the_first_equals_sign() {
    assert_eq!(
        pairs_of("a=b=c&&k+1=v&%41&=x&s;=t&u=%20;"),
        [
            ("a", "b=c", false, false, false),
            ("k+1", "v", false, true, false),
            ("%41", "", false, true, false),
            ("", "x", false, false, false),
            ("s;", "t", true, false, false),
            ("u", "%20;", true, false, true),
        ]
    );
    assert!(pairs_of("").is_empty());
    assert!(pairs_of("&&&").is_empty());
    assert_eq!(pairs_of("é=ü&"), [("é", "ü", false, false, false)]);
}

#[test]
fn the_pair_scan_agrees_with_splitting_the_query_as_text() {
    // Every query of up to five bytes from the bytes the scan stops at and an ordinary one,
    // against `split('&')` and `split_once('=')` and searches of the pieces.
    fn reference(query: &str) -> Vec<Split<'_>> {
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let escaped = |text: &str| text.contains(['%', '+']);
                (key, value, pair.contains(';'), escaped(key), escaped(value))
            })
            .collect()
    }
    let alphabet = ["a", "&", "=", ";", "%", "+", "é"];
    let mut queries = vec!["".to_owned()];
    let mut last = vec!["".to_owned()];
    for _ in 0..5 {
        last = last
            .iter()
            .flat_map(|prefix| alphabet.iter().map(move |byte| format!("{prefix}{byte}")))
            .collect();
        queries.extend(last.iter().cloned());
    }
    for query in &queries {
        assert_eq!(pairs_of(query), reference(query), "{query:?}");
    }
}
