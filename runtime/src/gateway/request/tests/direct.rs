//! The direct paths (a request without a body, from its values; a `body: "*"` request with path
//! variables, from its bytes) give the message the general path gives, and leave every other
//! request to it.

use super::*;
use crate::gateway::request::{flat, overlay};

/// The message the general path decodes from the same request.
fn general(bindings: &[(&str, &str)], query: &str) -> Result<Order, serde_json::Error> {
    let value = merged(
        &ORDER,
        BodyRule::None,
        bindings,
        Some(query),
        b"",
        Mask::AsSent,
    )
    .expect("the request merges");
    serde_json::from_value(value)
}

#[test]
fn top_level_fields_decode_directly_as_the_general_path_decodes_them() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("order_id", "o-1")],
            "page_size=5&utm_source=mail&color=RED",
        ),
        (&[("orderId", "o-1")], "pageSize=-3"),
        // A query parameter never overrides a path variable, under either name.
        (&[("order_id", "o-1")], "orderId=other&order_id=again"),
        (&[], "order_id=a%20b+c&&page_size=0"),
        (&[], ""),
        (&[("color", "GREEN")], "unknown.nested=1&unknown[key]=2"),
        // Repeated scalars and enums, in the query's order, under either name.
        (
            &[("order_id", "o-2")],
            "tags=b&colors=RED&tags=a&page_size=1&colors=GREEN&tags=c",
        ),
    ];
    for (bindings, query) in cases {
        let direct = flat::decode::<Order, _>(&ORDER, bindings, Some(query));
        let expected = general(bindings, query).unwrap();
        assert_eq!(direct.as_ref(), Some(&expected), "{bindings:?} {query:?}");
        assert_eq!(
            decode(BodyRule::None, bindings, Some(query), "").unwrap(),
            expected
        );
    }
    let order = flat::decode::<Order, _>(&ORDER, &[("order_id", "o-1")], None).unwrap();
    assert_eq!(order.order_id, "o-1");
}

#[test]
fn other_requests_are_left_to_the_general_path() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        // Nested, repeated message and map fields.
        (&[], "item.sku=a"),
        (&[], "items=a"),
        (&[], "labels[a]=1"),
        (&[("item.sku", "a")], ""),
        // A field given twice, under one name or both.
        (&[], "page_size=1&page_size=2"),
        (&[], "page_size=1&pageSize=2"),
        // Values and parameters that are errors.
        (&[], "page_size=abc"),
        (&[("page_size", "ten")], ""),
        (&[], "color=BLUE"),
        (&[], "a=1;b=2"),
        (&[], "order_id=%zz"),
    ];
    for (bindings, query) in cases {
        let direct = flat::decode::<Order, _>(&ORDER, bindings, Some(query));
        assert_eq!(direct, None, "{bindings:?} {query:?}");
    }
    // ... where they decode, or fail with the general path's words.
    assert_eq!(
        decode(BodyRule::None, &[], Some("tags=a&tags=b"), "")
            .unwrap()
            .tags,
        ["a", "b"]
    );
    assert_eq!(
        decode_error(BodyRule::None, &[], Some("page_size=1&pageSize=2"), ""),
        r#"query parameter "pageSize": too many values for field "page_size", which is not repeated"#
    );
}

/// The message the general path decodes from a `body: "*"` request.
fn general_whole(bindings: &[(&str, &str)], body: &str) -> Order {
    let value = merged(
        &ORDER,
        BodyRule::Whole,
        bindings,
        None,
        body.as_bytes(),
        Mask::AsSent,
    )
    .expect("the request merges");
    serde_json::from_value(value).expect("the general path decodes it")
}

#[test]
fn a_whole_body_with_variables_decodes_directly_as_the_general_path_decodes_it() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("order_id", "o-1")],
            r#"{"pageSize": 3, "tags": ["a"], "item": {"sku": "x", "quantity": 2}}"#,
        ),
        // The variable wins over the body, under either name, whatever the body's value.
        (
            &[("order_id", "o-1")],
            r#"{"orderId": "body", "order_id": 5, "pageSize": 1}"#,
        ),
        (&[("orderId", "o-1"), ("page_size", "7")], ""),
        (&[("page_size", "7")], "{}"),
        // A member name with an escape is read as the name it spells.
        (&[("page_size", "7")], r#"{"order\u005fid": "escaped"}"#),
    ];
    for (bindings, body) in cases {
        let direct = overlay::decode::<Order, _>(&ORDER, bindings, body.as_bytes());
        let expected = general_whole(bindings, body);
        assert_eq!(direct.as_ref(), Some(&expected), "{bindings:?} {body:?}");
        assert_eq!(
            decode(BodyRule::Whole, bindings, None, body).unwrap(),
            expected
        );
    }
}

#[test]
fn other_whole_bodies_are_left_to_the_general_path() {
    let bound: &[(&str, &str)] = &[("order_id", "o-1")];
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("item.sku", "a")], "{}"),
        (&[("page_size", "ten")], "{}"),
        (bound, "  "),
        (bound, "null"),
        (bound, "[1]"),
        (bound, r#"{"pageSize": 1} trailing"#),
        (bound, r#"{"pageSize": 1, "pageSize": 2}"#),
        (bound, r#"{"colour": "red"}"#),
    ];
    for (bindings, body) in cases {
        let direct = overlay::decode::<Order, _>(&ORDER, bindings, body.as_bytes());
        assert_eq!(direct, None, "{bindings:?} {body:?}");
    }
    // ... which decodes a member given twice as its last value, as a `Value` keeps it ...
    let order = decode(
        BodyRule::Whole,
        bound,
        None,
        r#"{"pageSize": 1, "pageSize": 2}"#,
    );
    assert_eq!(order.unwrap().page_size, 2);
    // ... and words the errors.
    assert_eq!(
        decode_error(BodyRule::Whole, bound, None, "null"),
        "body: expected a JSON object for shop.Order"
    );
    assert!(
        decode_error(BodyRule::Whole, bound, None, r#"{"colour": "red"}"#)
            .starts_with("body: unknown field `colour`"),
    );
}

/// Path variables, query and body of a `body: "item"` request.
type FieldCase = (
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

/// The message the direct path decodes from a `body: "item"` request, if it takes it.
fn direct_field(bindings: &[(&str, &str)], query: &str, body: &str) -> Option<Order> {
    overlay::decode_field(&ORDER, "item", bindings, Some(query), body.as_bytes())
}

/// The message the general path decodes from a `body: "item"` request.
fn general_field(bindings: &[(&str, &str)], query: &str, body: &str) -> Order {
    let rule = BodyRule::Field("item");
    let value = merged(
        &ORDER,
        rule,
        bindings,
        Some(query),
        body.as_bytes(),
        Mask::AsSent,
    )
    .expect("the request merges");
    serde_json::from_value(value).expect("the general path decodes it")
}

#[test]
fn a_body_field_decodes_directly_as_the_general_path_decodes_it() {
    let rule = BodyRule::Field("item");
    let cases: &[FieldCase] = &[
        (
            &[("order_id", "o-1")],
            "page_size=2&tags=a&tags=b",
            r#"{"sku": "x", "quantity": 3}"#,
        ),
        // The body field is never set from the query.
        (&[], "item=ignored&order_id=q", r#"{"sku": "x"}"#),
        // No bytes, or `null`, leave the body field out.
        (&[("order_id", "o-1")], "", ""),
        (&[], "page_size=1", " null "),
    ];
    for (bindings, query, body) in cases {
        let direct = direct_field(bindings, query, body);
        let expected = general_field(bindings, query, body);
        assert_eq!(
            direct.as_ref(),
            Some(&expected),
            "{bindings:?} {query:?} {body:?}"
        );
        assert_eq!(decode(rule, bindings, Some(query), body).unwrap(), expected);
    }
}

#[test]
fn other_body_fields_are_left_to_the_general_path() {
    let cases: &[FieldCase] = &[
        (&[("item.sku", "a")], "", "{}"),
        (&[], "item.sku=z", "{}"),
        (&[], "", "  "),
        (&[], "", r#"{"sku": 1}"#),
        (&[], "", r#"{"sku": "x"} trailing"#),
        // A form feed is ASCII whitespace but not JSON's.
        (&[], "", "\x0cnull"),
        (&[], "page_size=ten", "{}"),
    ];
    for (bindings, query, body) in cases {
        let direct = direct_field(bindings, query, body);
        assert_eq!(direct, None, "{bindings:?} {query:?} {body:?}");
    }
    assert!(decode_error(BodyRule::Field("item"), &[], None, "\x0cnull").starts_with("body: "));
    // ... where a query parameter inside the body field is skipped, as grpc-gateway does.
    let order = decode(
        BodyRule::Field("item"),
        &[],
        Some("item.sku=z"),
        r#"{"sku": "x"}"#,
    );
    assert_eq!(order.unwrap().item, Some(item("x", 0)));
}
