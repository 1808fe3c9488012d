//! The direct path for requests without a body gives the message the general path gives, and
//! leaves every other request to it.

use super::*;
use crate::gateway::request::flat;

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
