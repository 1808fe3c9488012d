//! The conversion of each field type from a query value, through [`merge_query`] so that the
//! errors are checked with the parameter they name.

use serde_json::json;

use crate::gateway::query::tests::{encode, error, merge};
use crate::json::query_text::query_value;

#[test]
fn bools_follow_go_parse_bool() {
    for text in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(
            merge(&[("bool_value", text)]),
            json!({"boolValue": true}),
            "{text}"
        );
    }
    for text in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(
            merge(&[("bool_value", text)]),
            json!({"boolValue": false}),
            "{text}"
        );
    }
    for text in ["yes", "tRUE", "", "2"] {
        let message = error(&encode(&[("bool_value", text)]));
        assert_eq!(
            message,
            format!("query parameter \"bool_value\": {text:?} is not a valid bool")
        );
    }
}

#[test]
fn integers_are_checked_for_syntax_and_range() {
    let ok = [
        ("int32_value", "+7", json!(7)),
        ("int32_value", "-2147483648", json!(-2147483648)),
        ("uint32_value", "4294967295", json!(4294967295u32)),
        (
            "int64_value",
            "-9223372036854775808",
            json!("-9223372036854775808"),
        ),
        (
            "uint64_value",
            "18446744073709551615",
            json!("18446744073709551615"),
        ),
        ("uint64_value", "007", json!("7")),
    ];
    for (name, text, expected) in ok {
        let value = merge(&[(name, text)]);
        assert_eq!(
            value.as_object().unwrap().values().next().unwrap(),
            &expected,
            "{name}={text}"
        );
    }
    let bad = [
        ("int32_value", "2147483648", "is out of range for int32"),
        (
            "int64_value",
            "9223372036854775808",
            "is out of range for int64",
        ),
        ("uint32_value", "-1", "is not a valid uint32"),
        ("uint64_value", "+5", "is not a valid uint64"),
        ("int32_value", "1.0", "is not a valid int32"),
        ("int32_value", " 1", "is not a valid int32"),
        ("int64_value", "", "is not a valid int64"),
        ("uint64_value", "0x10", "is not a valid uint64"),
    ];
    for (name, text, problem) in bad {
        let message = error(&encode(&[(name, text)]));
        assert_eq!(
            message,
            format!("query parameter {name:?}: {text:?} {problem}")
        );
    }
}

#[test]
fn floats_take_special_values_and_reject_overflow() {
    let ok = [
        ("1e3", json!(1000.0)),
        ("-.5", json!(-0.5)),
        ("NaN", json!("NaN")),
        ("Infinity", json!("Infinity")),
        ("-Infinity", json!("-Infinity")),
    ];
    for (text, expected) in ok {
        assert_eq!(
            merge(&[("double_value", text)]),
            json!({"doubleValue": expected}),
            "{text}"
        );
    }
    assert_eq!(
        merge(&[("float_value", "0.1")]),
        json!({"floatValue": f64::from(0.1f32)})
    );
    assert_eq!(
        error("double_value=1e400"),
        r#"query parameter "double_value": "1e400" is out of range for double"#
    );
    assert_eq!(
        error("float_value=1e39"),
        r#"query parameter "float_value": "1e39" is out of range for float"#
    );
    assert_eq!(
        error("double_value=one"),
        r#"query parameter "double_value": "one" is not a valid double"#
    );
    // Only the three spellings proto3 JSON writes, as grpc-gateway's parser takes them.
    for text in ["inf", "%2BInf", "infinity", "nan", "0x1p3"] {
        assert!(
            error(&format!("double_value={text}")).contains("is not a valid double"),
            "{text}"
        );
    }
}

#[test]
fn bytes_take_standard_and_url_safe_base64() {
    // As grpc-gateway's `runtime.Bytes` reads them, passed on in the canonical form: the
    // URL-safe alphabet when there is a `-` or `_`, padding only when the length is a multiple
    // of 4, and bits past the last byte ignored, as Go's decoder ignores them.
    for (text, canonical) in [
        ("+/8=", "+/8="),
        ("-_8=", "+/8="),
        ("-_8", "+/8="),
        ("Ynl0ZXM=", "Ynl0ZXM="),
        ("Ynl0ZXM", "Ynl0ZXM="),
        ("1s", "1g=="),
        ("", ""),
    ] {
        assert_eq!(
            merge(&[("bytes_value", text)]),
            json!({"bytesValue": canonical}),
            "{text}"
        );
    }
    for text in ["!!!!", "+_8=", "Y"] {
        let message = error(&encode(&[("bytes_value", text)]));
        assert!(
            message.starts_with(&format!(
                "query parameter \"bytes_value\": {text:?} is not valid base64"
            )),
            "{message}"
        );
    }
}

#[test]
fn timestamps_are_rfc3339_within_years_1_to_9999() {
    for text in [
        "2016-12-15T12:23:32Z",
        "2016-12-15T12:23:32.5Z",
        "2016-02-29T23:59:59.123456789+05:30",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "0001-01-01T00:30:00+00:30",
    ] {
        assert_eq!(
            merge(&[("timestamp_value", text)]),
            json!({"timestampValue": text}),
            "{text}"
        );
    }
    let invalid = [
        "2016-12-15",
        "2016-12-15 12:23:32Z",
        // Upper case only, as Go's `time.RFC3339` reads it.
        "2016-12-15t12:23:32Z",
        "2016-12-15T12:23:32",
        "2015-02-29T00:00:00Z",
        "2016-13-01T00:00:00Z",
        "2016-12-15T24:00:00Z",
        "2016-12-15T23:59:60Z",
        "2016-12-15T12:23:32.Z",
        "2016-12-15T12:23:32+0530",
        "2016-12-15T12:23:32+24:00",
        "2016-12-15T12:23:32Zjunk",
    ];
    for text in invalid {
        let message = error(&encode(&[("timestamp_value", text)]));
        assert!(
            message.ends_with("is not a valid RFC 3339 timestamp"),
            "{text}: {message}"
        );
    }
    let message = error(&encode(&[("timestamp_value", "0001-01-01T00:00:00+01:00")]));
    assert!(message.ends_with("is before 0001-01-01"), "{message}");
    let message = error(&encode(&[("timestamp_value", "9999-12-31T23:59:59-01:00")]));
    assert!(message.ends_with("is after 9999-12-31"), "{message}");
}

#[test]
fn durations_in_go_or_proto3_form_become_proto3_json() {
    let cases = [
        ("1.5s", "1.500s"),
        ("-0.5s", "-0.500s"),
        ("46800s", "46800s"),
        ("1h30m", "5400s"),
        ("300ms", "0.300s"),
        ("1.5h", "5400s"),
        ("2us", "0.000002s"),
        ("2µs", "0.000002s"),
        ("7ns", "0.000000007s"),
        ("1m0.25s", "60.250s"),
        ("0", "0s"),
        ("+2s", "2s"),
        ("315576000000s", "315576000000s"),
        (".5s", "0.500s"),
        ("1.s", "1s"),
    ];
    for (text, expected) in cases {
        assert_eq!(
            merge(&[("duration_value", text)]),
            json!({"durationValue": expected}),
            "{text}"
        );
    }
    for text in [
        "",
        "1",
        "s",
        "1d",
        "1.5",
        "-",
        ".s",
        "1h-30m",
        "315576000001s",
        "99999999999999999999999999999h",
    ] {
        let message = error(&encode(&[("duration_value", text)]));
        assert!(
            message.starts_with(&format!("query parameter \"duration_value\": {text:?} is ")),
            "{message}"
        );
    }
}

#[test]
fn field_masks_and_wrappers() {
    assert_eq!(
        merge(&[("fieldmask_value", "a.b,cD")]),
        json!({"fieldmaskValue": query_value("a.b,cD".into())})
    );
    assert_eq!(
        merge(&[("wrapper_bool_value", "f")]),
        json!({"wrapperBoolValue": false})
    );
    assert_eq!(
        merge(&[("wrapper_string_value", "")]),
        json!({"wrapperStringValue": ""})
    );
    assert_eq!(
        error("wrapper_int32_value=x"),
        r#"query parameter "wrapper_int32_value": "x" is not a valid int32"#
    );
}

#[test]
fn values_that_cannot_come_from_a_string_are_errors() {
    let cases = [
        (
            "nested=x",
            "a examplepb.Proto3Message message cannot be set from one value",
        ),
        ("struct_value=[1]", r#""[1]" is not a JSON object"#),
        ("struct_value={", r#""{" is not valid JSON"#),
        ("list_value={}", r#""{}" is not a JSON array"#),
        (
            "any_value=x",
            "a google.protobuf.Any cannot be set from a value",
        ),
        (
            "empty_value=x",
            "a google.protobuf.Empty cannot be set from a value",
        ),
    ];
    for (query, problem) in cases {
        let message = error(&encode(&[query.split_once('=').unwrap()]));
        assert!(message.contains(problem), "{query}: {message}");
    }
}
