//! Requests from grpc-gateway's integration tests: fields with non-standard names in a PATCH's
//! field mask (NonStandardNames), repeated fields in the path (testABERepeated).

use super::*;

/// A message with grpc-gateway's non-standard field names (its NonStandardNames test):
/// proto names with capitals, which a field mask must name as they are.
static ODD: MessageSchema = MessageSchema {
    name: "t.Odd",
    fields: &[
        field("Num", "Num", FieldKind::Scalar(ScalarKind::Int64), Single),
        field(
            "line_num",
            "lineNum",
            FieldKind::Scalar(ScalarKind::Int64),
            Single,
        ),
        field(
            "langIdent",
            "langIdent",
            FieldKind::Scalar(ScalarKind::String),
            Single,
        ),
        field(
            "STATUS",
            "STATUS",
            FieldKind::Scalar(ScalarKind::String),
            Single,
        ),
        field(
            "en_GB",
            "enGB",
            FieldKind::Scalar(ScalarKind::Int64),
            Single,
        ),
    ],
};

static UPDATE_ODD: MessageSchema = MessageSchema {
    name: "t.UpdateOddRequest",
    fields: &[
        field("body", "body", FieldKind::Message(&ODD), Single),
        field(
            "update_mask",
            "updateMask",
            FieldKind::WellKnown(crate::gateway::schema::WellKnown::FieldMask),
            Single,
        ),
    ],
};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UpdateOdd {
    #[serde(alias = "update_mask")]
    update_mask: Option<crate::wkt::FieldMask>,
}

#[test]
fn a_patch_mask_from_the_body_names_fields_as_the_proto_does() {
    // grpc-gateway's NonStandardNames: the mask is the proto names, capitals kept.
    let update: UpdateOdd = decode_patch_request(
        &UPDATE_ODD,
        BodyRule::Field("body"),
        &[] as &[(&str, &str)],
        None,
        br#"{"Num": "1", "lineNum": "42", "langIdent": "English", "STATUS": "good", "enGB": "1"}"#,
    )
    .unwrap();
    assert_eq!(
        update.update_mask.unwrap().paths,
        ["Num", "STATUS", "en_GB", "langIdent", "line_num"]
    );
    // A mask in the query is read in proto form too; a lowerCamelCase segment is a JSON name.
    for (query, paths) in [
        (
            "update_mask=Num,en_GB,STATUS",
            vec!["Num", "en_GB", "STATUS"],
        ),
        (
            "updateMask=lineNum,thing.subValue",
            vec!["line_num", "thing.sub_value"],
        ),
    ] {
        let update: UpdateOdd = decode_patch_request(
            &UPDATE_ODD,
            BodyRule::Field("body"),
            &[] as &[(&str, &str)],
            Some(query),
            br#"{"Num": "1"}"#,
        )
        .unwrap();
        assert_eq!(update.update_mask.unwrap().paths, paths, "{query}");
    }
}

#[test]
fn a_path_variable_of_a_repeated_field_takes_comma_separated_values() {
    // grpc-gateway's `testABERepeated`: `/…/{path_repeated_string_value}` with `a,b`.
    let order = decode(
        BodyRule::None,
        &[("tags", "a,b"), ("colors", "GREEN,RED")],
        Some("tags=ignored"),
        "",
    )
    .unwrap();
    assert_eq!(order.tags, ["a", "b"]);
    assert_eq!(order.colors, [Color::GREEN, Color(0)]);
    let message = decode_error(BodyRule::None, &[("colors", "GREEN,BLUE")], None, "");
    assert!(
        message.starts_with(r#"path variable "colors": unknown variant `BLUE`"#),
        "{message}"
    );
}

/// A body rule, path bindings, a body and the request expected.
type FilterCase = (
    BodyRule,
    &'static [(&'static str, &'static str)],
    &'static str,
    Value,
);

/// grpc-gateway's `TestPopulateParametersWithFilters` through a request's body rule: the
/// generated filter of a route holds its body field (and its path variables), and a query
/// parameter with any of them as a prefix is dropped, even where the body left the field out
/// (the Envoy transcoder weaves such a parameter in; this gateway follows grpc-gateway).
#[test]
fn the_query_never_reaches_under_the_body_field() {
    let query = "nested.nested.bool_value=true&nested.nested.string_value=str\
                 &nested.string_value=str&string_value=str";
    let cases: [FilterCase; 4] = [
        // `body: "nested"` with no body: nothing under `nested` comes from the query.
        (
            BodyRule::Field("nested"),
            &[],
            "",
            json!({"stringValue": "str"}),
        ),
        // The body sets part of `nested`; the query fills none of the rest.
        (
            BodyRule::Field("nested"),
            &[],
            r#"{"int32Value": 4}"#,
            json!({"nested": {"int32Value": 4}, "stringValue": "str"}),
        ),
        // `body: "nested.nested"`: `nested.string_value` is outside the body field.
        (
            BodyRule::Field("nested.nested"),
            &[],
            "",
            json!({"nested": {"stringValue": "str"}, "stringValue": "str"}),
        ),
        // A path variable at `nested.nested.string_value` filters that parameter only.
        (
            BodyRule::None,
            &[("nested.nested.string_value", "path")],
            "",
            json!({
                "nested": {"stringValue": "str", "nested": {"boolValue": true, "stringValue": "path"}},
                "stringValue": "str",
            }),
        ),
    ];
    for (rule, bindings, body, expected) in cases {
        assert_eq!(
            value(rule, bindings, Some(query), body),
            expected,
            "{rule:?} {bindings:?} {body:?}"
        );
    }
    // Parameters under JSON names are filtered as under proto names.
    let camel = "nested.nested.boolValue=true&nested.stringValue=str&stringValue=str";
    assert_eq!(
        value(BodyRule::Field("nested"), &[], Some(camel), ""),
        json!({"stringValue": "str"})
    );
}
