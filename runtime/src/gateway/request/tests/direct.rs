//! The direct paths (a request without a body, from its values; a `body: "*"` request with path
//! variables, from its bytes) give the message the general path gives, and leave every other
//! request to it.

use super::*;
use crate::gateway::request::{flat, overlay};

/// The message the general path decodes from a request (the request's JSON value, then the
/// message's serde impl), or `None` where it fails.
fn general(rule: BodyRule, bindings: &[(&str, &str)], query: &str, body: &str) -> Option<Order> {
    let value = merged(
        &ORDER,
        rule,
        bindings,
        Some(query),
        body.as_bytes(),
        Mask::AsSent,
    );
    serde_json::from_value(value.ok()?).ok()
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
        let expected = general(BodyRule::None, bindings, query, "").unwrap();
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
        // A bad escape is an error where the request would ignore the value, too.
        (&[], "unknown=%zz"),
        (&[("order_id", "o-1")], "order_id=%zz"),
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
    assert_eq!(
        decode_error(BodyRule::None, &[], Some("unknown=%zz"), ""),
        r#"query parameter "unknown": invalid URL escape "%zz""#
    );
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
        let expected = general(BodyRule::Whole, bindings, "", body).unwrap();
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
        let expected = general(BodyRule::Field("item"), bindings, query, body).unwrap();
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

/// Requests made at random from pieces that reach every branch of the direct paths (both
/// names of a field, nested, map and repeated-message keys, escapes, bad values, `;`, bodies
/// that are not objects or have members twice): wherever a direct path answers, the general
/// path decodes the same message. A seeded generator, so a failure names a case that repeats.
mod differential {
    use super::*;

    const NAMES: &[&str] = &[
        "order_id",
        "orderId",
        "order%5Fid",
        "page_size",
        "pageSize",
        "color",
        "tags",
        "colors",
        "item",
        "item.sku",
        "item.quantity",
        "items",
        "labels[a]",
        "counts[1]",
        "unknown",
        "",
    ];
    const VALUES: &[&str] = &[
        "",
        "x",
        "a%20b",
        "a+b",
        "%zz",
        "%E2%9C%93",
        "5",
        "-3",
        "007",
        "1.5",
        "1e2",
        "abc",
        "99999999999",
        "RED",
        "GREEN",
        "BLUE",
        "0",
        "true",
        "null",
    ];
    const MEMBERS: &[&str] = &[
        r#""orderId""#,
        r#""order_id""#,
        r#""order\u005fid""#,
        r#""pageSize""#,
        r#""page_size""#,
        r#""color""#,
        r#""tags""#,
        r#""item""#,
        r#""items""#,
        r#""sku""#,
        r#""quantity""#,
        r#""colour""#,
    ];
    /// The members of the `item` a `body: "item"` request carries.
    const ITEM_MEMBERS: &[&str] = &[r#""sku""#, r#""quantity""#, r#""s\u006bu""#, r#""orderId""#];
    const JSON: &[&str] = &[
        "1",
        "-2",
        "1.5",
        r#""x""#,
        r#""7""#,
        "null",
        "true",
        r#"["a","b"]"#,
        "[]",
        r#"{"sku":"s","quantity":2}"#,
        "{}",
        r#""RED""#,
        r#"[{"sku":"t"}]"#,
    ];
    const WHITESPACE: &[&str] = &["", " ", "\n\t", "\x0c"];

    fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
        from[rng.usize(..from.len())]
    }

    fn bindings(rng: &mut fastrand::Rng) -> Vec<(&'static str, &'static str)> {
        (0..rng.usize(0..3))
            .map(|_| {
                let name = pick(
                    rng,
                    &["order_id", "orderId", "page_size", "color", "item.sku"],
                );
                (
                    name,
                    pick(rng, &["o-1", "7", "-1", "ten", "RED", "a b", ""]),
                )
            })
            .collect()
    }

    fn query(rng: &mut fastrand::Rng) -> String {
        let mut query = String::new();
        for i in 0..rng.usize(0..5) {
            if i > 0 {
                query.push(if rng.u8(..20) == 0 { ';' } else { '&' });
            }
            query.push_str(pick(rng, NAMES));
            if rng.u8(..8) != 0 {
                query.push('=');
                query.push_str(pick(rng, VALUES));
            }
        }
        query
    }

    fn body(rng: &mut fastrand::Rng, object_members: &[&str]) -> String {
        let space = |rng: &mut fastrand::Rng| pick(rng, WHITESPACE);
        match rng.u8(..12) {
            0 => String::new(),
            1 => format!("{}null{}", space(rng), space(rng)),
            2 => pick(rng, JSON).to_owned(),
            3 => "  ".to_owned(),
            _ => {
                let mut body = format!("{}{{", space(rng));
                for i in 0..rng.usize(0..4) {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(space(rng));
                    body.push_str(pick(rng, object_members));
                    body.push(':');
                    body.push_str(pick(rng, JSON));
                }
                body.push('}');
                if rng.u8(..16) == 0 {
                    body.push_str(" trailing");
                }
                body
            }
        }
    }

    /// One request made at random: its body rule, variables, query and body, and what the
    /// direct path made of it.
    type Case = (
        BodyRule,
        Vec<(&'static str, &'static str)>,
        String,
        String,
        Option<Order>,
    );

    /// 20,000 requests from `request`, with a generator seeded with `seed`: wherever the direct
    /// path answers, the general path decodes the same message; and the direct path answers at
    /// least `minimum` of them, enough to say something of it.
    fn run(seed: u64, minimum: usize, mut request: impl FnMut(&mut fastrand::Rng) -> Case) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut taken = 0;
        for _ in 0..20_000 {
            let (rule, bindings, query, body, direct) = request(&mut rng);
            let Some(direct) = direct else { continue };
            taken += 1;
            let general = general(rule, &bindings, &query, &body);
            assert_eq!(
                Some(&direct),
                general.as_ref(),
                "{rule:?} bindings {bindings:?} query {query:?} body {body:?}"
            );
        }
        assert!(taken >= minimum, "{taken}");
    }

    #[test]
    fn a_request_without_a_body() {
        run(28, 2_000, |rng| {
            let (bindings, query) = (bindings(rng), query(rng));
            let direct = flat::decode::<Order, _>(&ORDER, &bindings, Some(&query));
            (BodyRule::None, bindings, query, String::new(), direct)
        });
    }

    #[test]
    fn a_whole_body_with_variables() {
        run(29, 2_000, |rng| {
            let (bindings, body) = (bindings(rng), body(rng, MEMBERS));
            let direct = overlay::decode::<Order, _>(&ORDER, &bindings, body.as_bytes());
            (BodyRule::Whole, bindings, String::new(), body, direct)
        });
    }

    #[test]
    fn a_body_field() {
        run(30, 500, |rng| {
            let (bindings, query) = (bindings(rng), query(rng));
            let body = body(rng, ITEM_MEMBERS);
            let (query_text, body_bytes) = (Some(query.as_str()), body.as_bytes());
            let direct = overlay::decode_field::<Order, _>(
                &ORDER, "item", &bindings, query_text, body_bytes,
            );
            (BodyRule::Field("item"), bindings, query, body, direct)
        });
    }
}
