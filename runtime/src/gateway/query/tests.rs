//! The query rules, with grpc-gateway v2's `query_test.go` cases (on a schema shaped like its
//! `examplepb.Proto3Message`) and the conversions of each type.

use serde_json::{Map, Value, json};

use super::*;
use crate::Code;
use crate::gateway::schema::{Cardinality::*, FieldKind, ScalarKind::*, WellKnown};

const fn field(
    name: &'static str,
    json_name: &'static str,
    kind: FieldKind,
    cardinality: Cardinality,
) -> FieldSchema {
    FieldSchema {
        name,
        json_name,
        kind,
        cardinality,
    }
}

const ENUM: FieldKind = FieldKind::Enum("examplepb.EnumValue");

/// How an enum's query text is passed to the message's serde impl.
fn query(text: &str) -> Value {
    crate::json::query_text::query_value(text.into())
}
const fn scalar(kind: crate::gateway::schema::ScalarKind) -> FieldKind {
    FieldKind::Scalar(kind)
}
const fn wkt(kind: WellKnown) -> FieldKind {
    FieldKind::WellKnown(kind)
}
const fn wrapper(kind: crate::gateway::schema::ScalarKind) -> FieldKind {
    FieldKind::WellKnown(WellKnown::Wrapper(kind))
}

/// grpc-gateway's `examplepb.Proto3Message`, field for field.
pub(crate) static PROTO3: MessageSchema = MessageSchema {
    name: "examplepb.Proto3Message",
    fields: &[
        field("nested", "nested", FieldKind::Message(&PROTO3), Single),
        field("float_value", "floatValue", scalar(Float), Single),
        field("double_value", "doubleValue", scalar(Double), Single),
        field("int64_value", "int64Value", scalar(Int64), Single),
        field("int32_value", "int32Value", scalar(Int32), Single),
        field("uint64_value", "uint64Value", scalar(Uint64), Single),
        field("uint32_value", "uint32Value", scalar(Uint32), Single),
        field("bool_value", "boolValue", scalar(Bool), Single),
        field("string_value", "stringValue", scalar(String), Single),
        field("bytes_value", "bytesValue", scalar(Bytes), Single),
        field("repeated_value", "repeatedValue", scalar(String), Repeated),
        field("optional_value", "optionalValue", scalar(String), Single),
        field(
            "repeated_message",
            "repeatedMessage",
            wrapper(Uint64),
            Repeated,
        ),
        field("enum_value", "enumValue", ENUM, Single),
        field("repeated_enum", "repeatedEnum", ENUM, Repeated),
        field(
            "timestamp_value",
            "timestampValue",
            wkt(WellKnown::Timestamp),
            Single,
        ),
        field(
            "duration_value",
            "durationValue",
            wkt(WellKnown::Duration),
            Single,
        ),
        field(
            "fieldmask_value",
            "fieldmaskValue",
            wkt(WellKnown::FieldMask),
            Single,
        ),
        field("oneof_bool_value", "oneofBoolValue", scalar(Bool), Single),
        field(
            "oneof_string_value",
            "oneofStringValue",
            scalar(String),
            Single,
        ),
        field(
            "nested_oneof_int32_value",
            "nestedOneofInt32Value",
            scalar(Int32),
            Single,
        ),
        field(
            "nested_oneof_value_one",
            "nestedOneofValueOne",
            FieldKind::Message(&PROTO3),
            Single,
        ),
        field(
            "wrapper_double_value",
            "wrapperDoubleValue",
            wrapper(Double),
            Single,
        ),
        field(
            "wrapper_float_value",
            "wrapperFloatValue",
            wrapper(Float),
            Single,
        ),
        field(
            "wrapper_int64_value",
            "wrapperInt64Value",
            wrapper(Int64),
            Single,
        ),
        field(
            "wrapper_int32_value",
            "wrapperInt32Value",
            wrapper(Int32),
            Single,
        ),
        field(
            "wrapper_u_int64_value",
            "wrapperUInt64Value",
            wrapper(Uint64),
            Single,
        ),
        field(
            "wrapper_u_int32_value",
            "wrapperUInt32Value",
            wrapper(Uint32),
            Single,
        ),
        field(
            "wrapper_bool_value",
            "wrapperBoolValue",
            wrapper(Bool),
            Single,
        ),
        field(
            "wrapper_string_value",
            "wrapperStringValue",
            wrapper(String),
            Single,
        ),
        field(
            "wrapper_bytes_value",
            "wrapperBytesValue",
            wrapper(Bytes),
            Single,
        ),
        field("map_value", "mapValue", scalar(String), Map(String)),
        field("map_value2", "mapValue2", scalar(Int32), Map(String)),
        field("map_value3", "mapValue3", scalar(String), Map(Int32)),
        field("map_value4", "mapValue4", scalar(Int64), Map(String)),
        field("map_value5", "mapValue5", scalar(String), Map(Int64)),
        field("map_value6", "mapValue6", scalar(Uint32), Map(String)),
        field("map_value7", "mapValue7", scalar(String), Map(Uint32)),
        field("map_value8", "mapValue8", scalar(Uint64), Map(String)),
        field("map_value9", "mapValue9", scalar(String), Map(Uint64)),
        field("map_value10", "mapValue10", scalar(Float), Map(String)),
        field("map_value12", "mapValue12", scalar(Double), Map(String)),
        field("map_value14", "mapValue14", scalar(Bool), Map(String)),
        field("map_value15", "mapValue15", scalar(String), Map(Bool)),
        field("map_value16", "mapValue16", wrapper(Uint64), Map(String)),
        field(
            "struct_value_value",
            "structValueValue",
            wkt(WellKnown::Value),
            Single,
        ),
        field(
            "struct_value",
            "structValue",
            wkt(WellKnown::Struct),
            Single,
        ),
        field("list_value", "listValue", wkt(WellKnown::ListValue), Single),
        field("any_value", "anyValue", wkt(WellKnown::Any), Single),
        field("empty_value", "emptyValue", wkt(WellKnown::Empty), Single),
    ],
};

/// The query string of `pairs`, encoded as a browser would.
pub(crate) fn encode(pairs: &[(&str, &str)]) -> std::string::String {
    form_urlencoded::Serializer::new(std::string::String::new())
        .extend_pairs(pairs)
        .finish()
}

fn merged(query: &str, skip: &[&str]) -> Result<Value, Status> {
    let mut target = Map::new();
    merge_query(&PROTO3, &mut target, query, skip).map(|()| Value::Object(target))
}

pub(crate) fn merge(pairs: &[(&str, &str)]) -> Value {
    merged(&encode(pairs), &[]).unwrap_or_else(|status| panic!("{pairs:?}: {status:?}"))
}

/// The message of the error for `query`, which must be `INVALID_ARGUMENT`.
pub(crate) fn error(query: &str) -> std::string::String {
    let status = merged(query, &[]).expect_err(query);
    assert_eq!(status.code(), Code::InvalidArgument, "{query}: {status:?}");
    status.message().to_owned()
}

const TIME: &str = "2016-12-15T12:23:32.000000049Z";

#[test]
fn grpc_gateway_every_type_by_proto_name() {
    let value = merge(&[
        ("float_value", "1.5"),
        ("double_value", "2.5"),
        ("int64_value", "-1"),
        ("int32_value", "-2"),
        ("uint64_value", "3"),
        ("uint32_value", "4"),
        ("bool_value", "true"),
        ("string_value", "str"),
        ("bytes_value", "YWJjMTIzIT8kKiYoKSctPUB-"),
        ("repeated_value", "a"),
        ("repeated_value", "b"),
        ("repeated_value", "c"),
        ("optional_value", "str"),
        ("repeated_message", "1"),
        ("repeated_message", "2"),
        ("repeated_message", "3"),
        ("enum_value", "1"),
        ("repeated_enum", "1"),
        ("repeated_enum", "2"),
        ("repeated_enum", "0"),
        ("timestamp_value", TIME),
        ("duration_value", "13h0m0s"),
        ("fieldmask_value", "float_value,double_value"),
        ("wrapper_float_value", "1.5"),
        ("wrapper_double_value", "2.5"),
        ("wrapper_int64_value", "-1"),
        ("wrapper_int32_value", "-2"),
        ("wrapper_u_int64_value", "3"),
        ("wrapper_u_int32_value", "4"),
        ("wrapper_bool_value", "true"),
        ("wrapper_string_value", "str"),
        ("wrapper_bytes_value", "YWJjMTIzIT8kKiYoKSctPUB-"),
        ("map_value[key]", "value"),
        ("map_value[second]", "bar"),
        ("map_value[third]", "zzz"),
        ("map_value[fourth]", ""),
        ("map_value[~!@#$%^&*()]", "value"),
        ("map_value2[key]", "-2"),
        ("map_value3[-2]", "value"),
        ("map_value4[key]", "-1"),
        ("map_value5[-1]", "value"),
        ("map_value6[key]", "3"),
        ("map_value7[3]", "value"),
        ("map_value8[key]", "4"),
        ("map_value9[4]", "value"),
        ("map_value10[key]", "1.5"),
        ("map_value11[1.5]", "value"),
        ("map_value12[key]", "2.5"),
        ("map_value13[2.5]", "value"),
        ("map_value14[key]", "true"),
        ("map_value15[true]", "value"),
        ("map_value16[key]", "2"),
        ("struct_value_value", r#"{"a":{"b":1}}"#),
        ("struct_value", r#"{"a":{"b":1}}"#),
    ]);
    // Too deep for `json!`, hence the text.
    let expected: Value = serde_json::from_str(
        r#"{
        "floatValue": 1.5, "doubleValue": 2.5, "int64Value": "-1", "int32Value": -2,
        "uint64Value": "3", "uint32Value": 4, "boolValue": true, "stringValue": "str",
        "bytesValue": "YWJjMTIzIT8kKiYoKSctPUB+", "repeatedValue": ["a", "b", "c"],
        "optionalValue": "str", "repeatedMessage": ["1", "2", "3"],
        "timestampValue": "2016-12-15T12:23:32.000000049Z", "durationValue": "46800s",
        "wrapperFloatValue": 1.5, "wrapperDoubleValue": 2.5, "wrapperInt64Value": "-1",
        "wrapperInt32Value": -2, "wrapperUInt64Value": "3", "wrapperUInt32Value": 4,
        "wrapperBoolValue": true, "wrapperStringValue": "str",
        "wrapperBytesValue": "YWJjMTIzIT8kKiYoKSctPUB+",
        "mapValue": {"key": "value", "second": "bar", "third": "zzz", "fourth": "",
                     "~!@#$%^&*()": "value"},
        "mapValue2": {"key": -2}, "mapValue3": {"-2": "value"}, "mapValue4": {"key": "-1"},
        "mapValue5": {"-1": "value"}, "mapValue6": {"key": 3}, "mapValue7": {"3": "value"},
        "mapValue8": {"key": "4"}, "mapValue9": {"4": "value"}, "mapValue10": {"key": 1.5},
        "mapValue12": {"key": 2.5}, "mapValue14": {"key": true},
        "mapValue15": {"true": "value"}, "mapValue16": {"key": "2"},
        "structValueValue": {"a": {"b": 1}}, "structValue": {"a": {"b": 1}}
    }"#,
    )
    .unwrap();
    let mut expected = expected.as_object().unwrap().clone();
    expected.insert("enumValue".into(), query("1"));
    expected.insert("fieldmaskValue".into(), query("float_value,double_value"));
    expected.insert(
        "repeatedEnum".into(),
        json!([query("1"), query("2"), query("0")]),
    );
    assert_eq!(value, Value::Object(expected));
}

#[test]
fn grpc_gateway_json_names() {
    let value = merge(&[
        ("floatValue", "1.5"),
        ("int64Value", "-1"),
        ("boolValue", "true"),
        ("bytesValue", "Ynl0ZXM="),
        ("repeatedValue", "a"),
        ("repeatedValue", "b"),
        ("enumValue", "1"),
        ("timestampValue", TIME),
        ("durationValue", "13h0m0s"),
        ("wrapperUInt64Value", "3"),
        ("wrapperBytesValue", "Ynl0ZXM="),
        ("struct_value_value", r#""""#),
        ("struct_value", "{}"),
    ]);
    let expected = json!({
        "floatValue": 1.5, "int64Value": "-1", "boolValue": true, "bytesValue": "Ynl0ZXM=",
        "repeatedValue": ["a", "b"], "enumValue": query("1"), "timestampValue": TIME,
        "durationValue": "46800s", "wrapperUInt64Value": "3", "wrapperBytesValue": "Ynl0ZXM=",
        "structValueValue": "", "structValue": {},
    });
    assert_eq!(value, expected);
}

#[test]
fn enums_by_name_or_number_and_struct_values_as_json() {
    let value = merge(&[
        ("enum_value", "Z"),
        ("repeated_enum", "X"),
        ("repeated_enum", "2"),
        ("repeated_enum", "0"),
        ("struct_value_value", "{}"),
        ("struct_value", r#"{"c":[1,2],"d":[{"e":1,"f":{}}]}"#),
    ]);
    let expected = json!({
        "enumValue": query("Z"), "repeatedEnum": [query("X"), query("2"), query("0")], "structValueValue": {},
        "structValue": {"c": [1, 2], "d": [{"e": 1, "f": {}}]},
    });
    assert_eq!(value, expected);
    for (text, json) in [("[]", json!([])), ("true", json!(true)), ("0", json!(0))] {
        assert_eq!(
            merge(&[("struct_value_value", text)]),
            json!({"structValueValue": json})
        );
    }
    assert_eq!(merge(&[("list_value", "[1]")]), json!({"listValue": [1]}));
}

mod rules;
