//! The merge of body, path and query, and the errors of decoding, on a hand-written message
//! with the serde shape of the generated impls (both names, unknown fields rejected).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::*;
use crate::Code;
use crate::gateway::query::tests::PROTO3;
use crate::gateway::schema::{Cardinality::*, FieldSchema, ScalarKind};
use crate::json::OpenEnum;

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

static ITEM: MessageSchema = MessageSchema {
    name: "shop.Item",
    fields: &[
        field("sku", "sku", FieldKind::Scalar(ScalarKind::String), Single),
        field(
            "quantity",
            "quantity",
            FieldKind::Scalar(ScalarKind::Uint32),
            Single,
        ),
    ],
};

static ORDER: MessageSchema = MessageSchema {
    name: "shop.Order",
    fields: &[
        field(
            "order_id",
            "orderId",
            FieldKind::Scalar(ScalarKind::String),
            Single,
        ),
        field(
            "page_size",
            "pageSize",
            FieldKind::Scalar(ScalarKind::Int32),
            Single,
        ),
        field("item", "item", FieldKind::Message(&ITEM), Single),
        field("items", "items", FieldKind::Message(&ITEM), Repeated),
        field("color", "color", FieldKind::Enum("shop.Color"), Single),
        field(
            "tags",
            "tags",
            FieldKind::Scalar(ScalarKind::String),
            Repeated,
        ),
        field(
            "labels",
            "labels",
            FieldKind::Scalar(ScalarKind::Uint32),
            Map(ScalarKind::String),
        ),
        field(
            "counts",
            "counts",
            FieldKind::Scalar(ScalarKind::Uint32),
            Map(ScalarKind::Int32),
        ),
        field("colors", "colors", FieldKind::Enum("shop.Color"), Repeated),
    ],
};

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct Order {
    #[serde(alias = "order_id")]
    order_id: String,
    #[serde(alias = "page_size")]
    page_size: i32,
    item: Option<Item>,
    items: Vec<Item>,
    color: Option<Color>,
    tags: Vec<String>,
    labels: HashMap<String, u32>,
    counts: HashMap<i32, u32>,
    colors: Vec<Color>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Item {
    sku: String,
    quantity: u32,
}

/// An enum field's value as generated code reads it: through the runtime's `OpenEnum`, which
/// reads a path variable's or query parameter's text strictly and a body's numbers openly.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(from = "OpenEnum<ColorName>")]
struct Color(i32);

impl Color {
    const GREEN: Self = Self(1);
}

impl From<OpenEnum<ColorName>> for Color {
    fn from(value: OpenEnum<ColorName>) -> Self {
        Self(value.0)
    }
}

/// The enum's names, as the generated impl for a prost enum reads them.
#[derive(Debug, PartialEq, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
enum ColorName {
    RED,
    GREEN,
}

impl From<ColorName> for i32 {
    fn from(name: ColorName) -> i32 {
        name as i32
    }
}

fn item(sku: &str, quantity: u32) -> Item {
    Item {
        sku: sku.into(),
        quantity,
    }
}

fn decode(
    rule: BodyRule,
    bindings: &[(&str, &str)],
    query: Option<&str>,
    body: &str,
) -> Result<Order, Status> {
    decode_request(&ORDER, rule, bindings, query, body.as_bytes())
}

/// The message of a decoding error, which must be `INVALID_ARGUMENT`.
fn decode_error(
    rule: BodyRule,
    bindings: &[(&str, &str)],
    query: Option<&str>,
    body: &str,
) -> String {
    let status = decode(rule, bindings, query, body).unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status.message().to_owned()
}

fn value(rule: BodyRule, bindings: &[(&str, &str)], query: Option<&str>, body: &str) -> Value {
    request_value(&PROTO3, rule, bindings, query, body.as_bytes()).unwrap()
}

#[test]
fn body_rules_parse_from_the_http_rule() {
    assert_eq!(BodyRule::parse(""), BodyRule::None);
    assert_eq!(BodyRule::parse("*"), BodyRule::Whole);
    assert_eq!(BodyRule::parse("item"), BodyRule::Field("item"));
}

#[test]
fn a_whole_body_decodes_directly_with_both_field_names() {
    let order = decode(
        BodyRule::Whole,
        &[],
        Some("page_size=9"),
        r#"{"order_id": "o-1", "items": [{"sku": "a", "quantity": 2}], "color": "GREEN"}"#,
    )
    .unwrap();
    assert_eq!(
        order,
        Order {
            order_id: "o-1".into(),
            items: vec![item("a", 2)],
            color: Some(Color::GREEN),
            ..Order::default()
        },
        "the query is not read with body \"*\""
    );
    // No bytes is an empty message; whitespace only is not JSON (the Envoy transcoder's
    // answer), whatever the body rule and with or without path bindings.
    assert_eq!(
        decode(BodyRule::Whole, &[], None, "").unwrap(),
        Order::default()
    );
    let bound = [("order_id", "o-1")];
    for blank in ["  ", "\r  \t\n"] {
        for (rule, bindings) in [
            (BodyRule::Whole, &[][..]),
            (BodyRule::Whole, &bound[..]),
            (BodyRule::Field("item"), &[][..]),
        ] {
            let status = decode(rule, bindings, None, blank).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{rule:?} {blank:?}");
            assert!(status.message().contains("only whitespace"), "{status:?}");
        }
    }
}

#[test]
fn path_variables_override_the_body_under_either_name() {
    let bindings = [("order_id", "from-path"), ("item.sku", "sku-9")];
    let order = decode(
        BodyRule::Whole,
        &bindings,
        Some("page_size=3"),
        r#"{"order_id": "from-body", "item": {"sku": "x", "quantity": 4}, "pageSize": 1}"#,
    )
    .unwrap();
    assert_eq!(order.order_id, "from-path");
    assert_eq!(order.item, Some(item("sku-9", 4)));
    assert_eq!(order.page_size, 1);
    assert_eq!(
        value(
            BodyRule::Whole,
            &[("string_value", "p")],
            None,
            r#"{"string_value": "b"}"#
        ),
        json!({"stringValue": "p"})
    );
}

#[test]
fn a_body_field_takes_the_body_and_the_query_fills_the_rest() {
    let order = decode(
        BodyRule::Field("item"),
        &[("order_id", "o-2"), ("item.sku", "from-path")],
        Some("item.quantity=99&page_size=20&orderId=ignored&tags=a&tags=b&labels[x]=1"),
        r#"{"sku": "from-body", "quantity": 3}"#,
    )
    .unwrap();
    assert_eq!(
        order,
        Order {
            order_id: "o-2".into(),
            page_size: 20,
            item: Some(item("from-path", 3)),
            tags: vec!["a".into(), "b".into()],
            labels: HashMap::from([("x".into(), 1)]),
            ..Order::default()
        }
    );
    // An empty or null body leaves the field absent; a repeated body field takes an array.
    for body in ["", "null"] {
        assert_eq!(
            decode(BodyRule::Field("item"), &[], None, body)
                .unwrap()
                .item,
            None
        );
    }
    let order = decode(BodyRule::Field("items"), &[], None, r#"[{"sku": "a"}]"#).unwrap();
    assert_eq!(order.items, [item("a", 0)]);
}

#[test]
fn without_a_body_fields_come_from_the_path_and_the_query_never_overrides_it() {
    let value = value(
        BodyRule::None,
        &[("nested.string_value", "path"), ("int64_value", "7")],
        Some("nested.stringValue=query&nested.int32_value=1&int64Value=8&bool_value=1"),
        r#"{"ignored": "body"}"#,
    );
    assert_eq!(
        value,
        json!({
            "nested": {"stringValue": "path", "int32Value": 1},
            "int64Value": "7",
            "boolValue": true,
        })
    );
    assert_eq!(
        decode(BodyRule::None, &[], Some(""), "").unwrap(),
        Order::default()
    );
}

#[test]
fn bindings_from_the_route_table_are_accepted() {
    let bindings = vec![rust_svc_http_template::Binding {
        field_path: "order_id".into(),
        value: "o-3".into(),
    }];
    let order: Order = decode_request(&ORDER, BodyRule::None, &bindings, None, b"").unwrap();
    assert_eq!(order.order_id, "o-3");
    let owned = vec![("page_size".to_owned(), "5".to_owned())];
    let order: Order = decode_request(&ORDER, BodyRule::None, &owned, None, b"").unwrap();
    assert_eq!(order.page_size, 5);
    let order: Order = decode_request(&ORDER, BodyRule::None, NO_BINDINGS, None, b"").unwrap();
    assert_eq!(order, Order::default());
}

#[test]
fn path_variable_errors_name_the_variable() {
    let message = decode_error(BodyRule::None, &[("page_size", "ten")], None, "");
    assert_eq!(
        message,
        r#"path variable "page_size": "ten" is not a valid int32"#
    );
    let message = decode_error(BodyRule::None, &[("color", "BLUE")], None, "");
    assert!(
        message.starts_with(r#"path variable "color": unknown variant `BLUE`"#),
        "{message}"
    );
}

#[test]
fn query_errors_name_the_parameter() {
    let message = decode_error(BodyRule::None, &[], Some("page_size=abc"), "");
    assert_eq!(
        message,
        r#"query parameter "page_size": "abc" is not a valid int32"#
    );
    let message = decode_error(BodyRule::Field("item"), &[], Some("color=BLUE"), "{}");
    assert!(
        message.starts_with(r#"query parameter "color": unknown variant `BLUE`"#),
        "{message}"
    );
    let message = decode_error(BodyRule::None, &[], Some("labels[a]=-1"), "");
    assert_eq!(
        message,
        r#"query parameter "labels[a]": "-1" is not a valid uint32"#
    );
}

#[test]
fn body_errors_name_the_field() {
    let cases = [
        (
            r#"{"orderId": 5}"#,
            r#"body field "orderId": expected a string, found 5"#,
        ),
        (
            r#"{"items": [{"sku": "a"}, {"quantity": "x"}]}"#,
            r#"body field "items[1].quantity": "x" is not a valid uint32"#,
        ),
        (
            r#"{"item": {"quantity": -1}}"#,
            r#"body field "item.quantity": -1 is not a valid uint32"#,
        ),
        (
            r#"{"labels": {"k": true}}"#,
            r#"body field "labels[k]": expected a uint32 (a number or a numeric string), found true"#,
        ),
        (
            r#"{"tags": "a"}"#,
            r#"body field "tags": invalid type: string "a", expected a sequence"#,
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            decode_error(BodyRule::Whole, &[], None, body),
            message,
            "{body}"
        );
        // The same through the merged value, when a path variable is bound too.
        let merged = decode_error(BodyRule::Whole, &[("page_size", "1")], None, body);
        assert_eq!(merged, message, "{body}");
    }
    let message = decode_error(BodyRule::Whole, &[], None, r#"{"color": "BLUE"}"#);
    assert!(
        message.starts_with(r#"body field "color": unknown variant `BLUE`"#),
        "{message}"
    );
    // With `body: "item"`, fields are named inside the body, which is the item.
    let message = decode_error(BodyRule::Field("item"), &[], None, r#"{"quantity": "x"}"#);
    assert_eq!(
        message,
        r#"body field "quantity": "x" is not a valid uint32"#
    );
}

#[test]
fn errors_inside_maps_enums_and_lists_name_the_entry() {
    let cases = [
        (
            r#"{"counts": {"1": 1, "x": 2}}"#,
            r#"body field "counts[x]": "x" is not a valid int32"#,
        ),
        (
            r#"{"counts": {"1": "y"}}"#,
            r#"body field "counts[1]": "y" is not a valid uint32"#,
        ),
        // Generated messages read any 32-bit number into an enum field (proto3 enums are
        // open); past that, or with a fraction, it is no enum number.
        (
            r#"{"color": 3000000000}"#,
            r#"body field "color": 3000000000 is not a number of enum shop.Color, a 32-bit integer"#,
        ),
        (
            r#"{"colors": ["RED", 2.5]}"#,
            r#"body field "colors[1]": 2.5 is not a number of enum shop.Color, a 32-bit integer"#,
        ),
        (
            r#"{"colors": ["RED", true]}"#,
            r#"body field "colors[1]": expected a shop.Color name or number, found true"#,
        ),
        (
            r#"{"pageSize": true}"#,
            r#"body field "pageSize": expected an int32 (a number or a numeric string), found true"#,
        ),
    ];
    for (body, message) in cases {
        let merged = decode_error(BodyRule::Whole, &[("order_id", "o")], None, body);
        assert_eq!(merged, message, "{body}");
    }
    // A number from the query is one the enum must name.
    assert_eq!(
        decode_error(BodyRule::None, &[], Some("color=7"), ""),
        r#"query parameter "color": 7 is not a value of enum shop.Color"#
    );
    let message = decode_error(BodyRule::None, &[], Some("colors=RED&colors=BLUE"), "");
    assert!(
        message.starts_with(r#"query parameter "colors": unknown variant `BLUE`"#),
        "{message}"
    );
    let message = decode_error(BodyRule::None, &[], Some("counts[x]=1"), "");
    assert_eq!(
        message,
        r#"query parameter "counts[x]": "x" is not a valid int32"#
    );
}

#[test]
fn a_field_given_twice_in_a_merged_value_is_blamed_on_the_key_read_second() {
    let body = r#"{"order_id": "a", "orderId": "b"}"#;
    let message = decode_error(BodyRule::Whole, &[("page_size", "1")], None, body);
    assert!(
        message.starts_with(
            r#"body field "order_id": duplicate field `orderId`: another field of the same oneof"#
        ),
        "{message}"
    );
}

#[test]
fn a_body_field_inside_a_field_is_the_value_of_that_field() {
    // `body: "item.sku"`, as Envoy's ScalarBody test binds `shelf.theme`: the body is a JSON
    // string, the query sets what is beside it in `item` but not the field itself.
    let order = decode(
        BodyRule::Field("item.sku"),
        &[("order_id", "o-1")],
        Some("item.quantity=3&item.sku=from-query"),
        r#""abc""#,
    )
    .unwrap();
    assert_eq!(
        order,
        Order {
            order_id: "o-1".into(),
            item: Some(item("abc", 3)),
            ..Order::default()
        }
    );
    // No body: the field is absent, and so is its parent unless something else sets it.
    assert_eq!(
        decode(BodyRule::Field("item.sku"), &[], None, "").unwrap(),
        Order::default()
    );
    // An error inside the body names it from the body's root, as for a top-level field.
    let message = decode_error(BodyRule::Field("item.quantity"), &[], None, r#""many""#);
    assert!(message.starts_with("body: "), "{message}");
}

#[test]
fn unknown_body_fields_are_rejected_by_name() {
    let message = decode_error(
        BodyRule::Whole,
        &[],
        None,
        r#"{"orderId": "o", "colour": "red"}"#,
    );
    assert!(
        message.starts_with("body: unknown field `colour`, expected one of"),
        "{message}"
    );
    let message = decode_error(BodyRule::Whole, &[], None, r#"{"item": {"size": 1}}"#);
    assert!(
        message.starts_with(r#"body field "item": unknown field `size`"#),
        "{message}"
    );
    let message = decode_error(BodyRule::Field("item"), &[], None, r#"{"size": 1}"#);
    assert!(
        message.starts_with("body: unknown field `size`"),
        "{message}"
    );
    // The first unknown field in the body's order, with or without bindings (the merged
    // request keeps its keys sorted, where `aaa` comes first).
    let body = r#"{"zzz": 1, "orderId": "o", "aaa": 2}"#;
    let bound = [("page_size", "3")];
    for bindings in [&[][..], &bound[..]] {
        let message = decode_error(BodyRule::Whole, bindings, None, body);
        assert!(message.contains("unknown field `zzz`"), "{message}");
    }
    let message = decode_error(
        BodyRule::Field("item"),
        &bound,
        None,
        r#"{"zzz": 1, "aaa": 2}"#,
    );
    assert!(
        message.starts_with("body: unknown field `zzz`"),
        "{message}"
    );
    assert!(
        !message.contains("line 1"),
        "no position in text the client did not send: {message}"
    );
}

#[test]
fn malformed_bodies_keep_the_json_position() {
    let cases = [
        ("{", "body: EOF while parsing an object at line 1 column 1"),
        (
            r#"{"orderId": }"#,
            "body: expected value at line 1 column 13",
        ),
        (
            r#""text""#,
            r#"body: invalid type: string "text", expected struct Order"#,
        ),
        (
            r#"{"orderId": "a", "orderId": "b"}"#,
            "body: duplicate field `orderId` at line 1 column 26",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            decode_error(BodyRule::Whole, &[], None, body),
            message,
            "{body}"
        );
    }
    let invalid_utf8 = decode_request::<Order, _>(
        &ORDER,
        BodyRule::Whole,
        NO_BINDINGS,
        None,
        b"{\"orderId\": \"\xff\"}",
    )
    .unwrap_err();
    assert_eq!(invalid_utf8.code(), Code::InvalidArgument);
    assert!(
        invalid_utf8
            .message()
            .starts_with("body: invalid unicode code point"),
        "{}",
        invalid_utf8.message()
    );
    // Through the merged value too (a path variable forces it).
    let message = decode_error(BodyRule::Whole, &[("page_size", "1")], None, "{");
    assert_eq!(
        message,
        "body: EOF while parsing an object at line 1 column 1"
    );
    for body in ["[1]", "null", "5"] {
        let message = decode_error(BodyRule::Whole, &[("page_size", "1")], None, body);
        assert_eq!(
            message, "body: expected a JSON object for shop.Order",
            "{body}"
        );
    }
    let message = decode_error(
        BodyRule::Whole,
        &[("item.sku", "s")],
        None,
        r#"{"item": 5}"#,
    );
    assert_eq!(message, r#"body: "item" must be a JSON object"#);
}

#[test]
fn rules_that_do_not_fit_the_schema_are_internal_errors() {
    let status = decode(BodyRule::Field("missing"), &[], None, "{}").unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let status = decode(BodyRule::None, &[("missing", "x")], None, "").unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    let status = decode(BodyRule::None, &[("labels", "x")], None, "").unwrap_err();
    assert_eq!(status.code(), Code::Internal);
}

mod direct;
mod grpc_gateway;
