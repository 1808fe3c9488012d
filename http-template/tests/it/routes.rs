//! Route lookup, table-driven: route sets and (method, path, expected result) rows taken from
//! http.proto's examples, grpc-gateway's `runtime/pattern_test.go` and `mux_test.go`, and Envoy's
//! `path_matcher_test.cc`, plus our own precedence, encoding and 405 cases. Where a reference
//! differs, the row says so.

use rust_svc_http_template::{Lookup, PathTemplate, RouteTable};

use crate::tables::routes::{Group, Want, groups};

/// Builds the table of a group; each route's value is its "METHOD template" label.
fn table(routes: &[(&'static str, &'static str)]) -> RouteTable<String> {
    let mut table = RouteTable::new();
    for &(method, template) in routes {
        let parsed = PathTemplate::parse(template).unwrap_or_else(|e| panic!("{e}"));
        table
            .insert(method, parsed, format!("{method} {template}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    table
}

#[test]
fn every_group_routes_as_expected() {
    for group in groups() {
        check(&table(group.routes), group);
    }
}

/// The same with each method's routes past the size at which the table indexes them: a filler
/// route for each of the lengths up to 9 segments under a first segment no case's path has, so
/// the index is made, and each group's routes are found through it.
#[test]
fn every_group_routes_as_expected_through_the_index() {
    for group in groups() {
        let mut table = table(group.routes);
        let mut methods: Vec<&str> = group.routes.iter().map(|&(method, _)| method).collect();
        methods.sort_unstable();
        methods.dedup();
        for method in methods {
            for length in 1..=9 {
                let template = format!("/zz-filler{}", "/x".repeat(length - 1));
                let parsed = PathTemplate::parse(&template).unwrap();
                table
                    .insert(method, parsed, format!("{method} {template}"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert!(
            group
                .cases
                .iter()
                .all(|&(_, path, _)| !path.starts_with("/zz-filler")),
            "[{}] a case's path is a filler's",
            group.name
        );
        check(&table, group);
    }
}

/// Looks up each case of `group` in `table` and compares the answer with the case's.
fn check(table: &RouteTable<String>, group: &Group) {
    for &(method, path, ref want) in group.cases {
        let got = table.lookup(method, path);
        let context = format!("[{}] {method} {path}", group.name);
        match (want, got) {
            (Want::Match(route, bindings), Lookup::Found(m)) => {
                assert_eq!(m.value.as_str(), *route, "{context}");
                assert!(route.ends_with(m.template.as_str()), "{context}");
                let got: Vec<(&str, &str)> = m
                    .bindings
                    .iter()
                    .map(|b| (b.field_path.as_str(), b.value.as_str()))
                    .collect();
                assert_eq!(got, *bindings, "{context}: bindings");
            }
            (Want::NoRoute, Lookup::NotFound) => {}
            (Want::NotAllowed(methods), Lookup::MethodNotAllowed { allowed }) => {
                assert_eq!(allowed, *methods, "{context}");
                assert_eq!(table.allowed_methods(path), *methods, "{context}");
            }
            (
                Want::BadEncoding(variable, message),
                Lookup::InvalidEncoding {
                    variable: v,
                    message: m,
                },
            ) => {
                assert_eq!((v.as_str(), m.as_str()), (*variable, *message), "{context}");
            }
            (want, got) => panic!("{context}: want {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn duplicates_are_the_same_method_and_shape() {
    // (first, second, duplicate?)
    let cases = [
        (("GET", "/v1/{a}"), ("GET", "/v1/{b}"), true),
        (("GET", "/v1/*"), ("GET", "/v1/{b}"), true),
        (("GET", "/{x=a/*}"), ("GET", "/a/{y}"), true),
        (("GET", "/v1/{a=**}"), ("GET", "/v1/**"), true),
        (("GET", "/v1/{a}:run"), ("GET", "/v1/{b=*}:run"), true),
        (("GET", "/v1/{a}"), ("POST", "/v1/{a}"), false),
        (("GET", "/v1/{a}"), ("GET", "/v1/{a}:run"), false),
        (("GET", "/v1/{a}:run"), ("GET", "/v1/{a}:walk"), false),
        (("GET", "/v1/{a}"), ("GET", "/v1/{a=**}"), false),
        (("GET", "/v1/{a}"), ("*", "/v1/{a}"), false),
        (("GET", "/v1/{a}"), ("get", "/v1/{a}"), false),
        (("*", "/v1/{a}"), ("*", "/v1/{b}"), true),
        // A `*` right after `**` matches what it would right before it.
        (("GET", "/v1/**/*"), ("GET", "/v1/*/**"), true),
        (("GET", "/v1/{a=**}/{b}/{c}"), ("GET", "/v1/*/*/**"), true),
        (("GET", "/v1/{a=**/*}/x"), ("GET", "/v1/*/{a=**}/x"), true),
        (("GET", "/**/*:v"), ("GET", "/{a}/**:v"), true),
        (("GET", "/v1/**/x/*"), ("GET", "/v1/*/**/x"), false),
        (("GET", "/v1/**/*"), ("GET", "/v1/**"), false),
        (("GET", "/v1/**/*"), ("GET", "/v1/*"), false),
        (("GET", "/v1/**/*"), ("GET", "/v1/*/**:v"), false),
        (("GET", "/v1/**/*"), ("POST", "/v1/*/**"), false),
    ];
    for ((m1, t1), (m2, t2), duplicate) in cases {
        let mut table = RouteTable::new();
        table
            .insert(m1, PathTemplate::parse(t1).unwrap(), 1)
            .unwrap();
        let result = table.insert(m2, PathTemplate::parse(t2).unwrap(), 2);
        assert_eq!(result.is_err(), duplicate, "{m1} {t1} then {m2} {t2}");
        assert_eq!(table.len(), if duplicate { 1 } else { 2 });
        if let Err(e) = result {
            assert_eq!(
                (e.method.as_str(), e.template.as_str(), e.existing.as_str()),
                (m2, t2, t1)
            );
            assert_eq!(
                e.to_string(),
                format!("duplicate route: {m2} `{t2}` matches the same requests as {m2} `{t1}`")
            );
        }
    }
}

#[test]
fn a_later_equivalent_route_replaces_the_earlier_with_its_own_variable_names() {
    let mut table = RouteTable::new();
    let parse = |t: &str| PathTemplate::parse(t).unwrap();
    assert!(
        table
            .insert_or_replace("POST", parse("/v1/{a.table=projects/*/tables/*}"), 1)
            .is_none()
    );
    assert!(
        table
            .insert_or_replace("GET", parse("/v1/{x=projects/*/tables/*}"), 2)
            .is_none()
    );
    let replaced = table.insert_or_replace("POST", parse("/v1/{parent=projects/*/tables/*}"), 3);
    assert_eq!(
        replaced,
        Some(("/v1/{a.table=projects/*/tables/*}".to_owned(), 1))
    );
    assert_eq!(table.len(), 2);
    let Lookup::Found(found) = table.lookup("POST", "/v1/projects/p/tables/t") else {
        panic!("the route is there");
    };
    assert_eq!(*found.value, 3);
    assert_eq!(found.bindings[0].field_path, "parent");
    assert_eq!(found.bindings[0].value, "projects/p/tables/t");
}

#[test]
fn allowed_methods_lists_every_method_with_a_route() {
    let table = table(&[
        ("GET", "/v1/items/{id}"),
        ("DELETE", "/v1/items/{id}"),
        ("PATCH", "/v1/{name=items/*}"),
        ("POST", "/v1/items/{id}:run"),
        ("*", "/v1/any/**"),
    ]);
    let cases: &[(&str, &[&str])] = &[
        ("/v1/items/1", &["DELETE", "GET", "PATCH"]),
        // Routes without a verb take `1:run` as the value of `{id}`.
        ("/v1/items/1:run", &["DELETE", "GET", "PATCH", "POST"]),
        ("/v1/items:run", &[]),
        ("/v1/items", &[]),
        ("/v1/any/thing", &["*"]),
        ("v1/items/1", &[]),
        // An empty segment: neither a literal nor a `*` matches it, a `**` does.
        ("/v1//items/1", &[]),
        ("/v1/items//1", &[]),
        ("/v1/any//thing", &["*"]),
    ];
    for &(path, want) in cases {
        assert_eq!(table.allowed_methods(path), want, "{path}");
    }
}

#[test]
fn single_segment_variables_decode_every_ascii_escape() {
    // Envoy's PercentEscapesUnescapedForSingleSegmentAllAsciiChars, upper and lower hex.
    let table = table(&[("GET", "/{x}")]);
    for byte in 0u8..0x7f {
        for path in [format!("/%{byte:02X}"), format!("/%{byte:02x}")] {
            match table.lookup("GET", &path) {
                Lookup::Found(m) => assert_eq!(m.bindings[0].value, (byte as char).to_string()),
                other => panic!("{path}: {other:?}"),
            }
        }
    }
}

#[test]
fn long_paths_match_without_limits() {
    let table = table(&[("GET", "/a/{x=**}/z"), ("GET", "/b/**/x")]);
    let middle: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let path = format!("/a/{}/z", middle.join("/"));
    match table.lookup("GET", &path) {
        Lookup::Found(m) => assert_eq!(m.bindings[0].value, middle.join("/")),
        other => panic!("{other:?}"),
    }
    // Envoy's WildCardMatchesManyWithoutStackOverflow: `**` takes empty segments, as many as
    // there are, without recursion.
    let slashes = "/".repeat(64000);
    assert!(matches!(
        table.lookup("GET", &format!("/b/{slashes}/x")),
        Lookup::Found(m) if m.template.as_str() == "/b/**/x"
    ));
    assert!(matches!(
        table.lookup("GET", &format!("/b/{slashes}/y")),
        Lookup::NotFound
    ));
    match table.lookup("GET", &format!("/a/{slashes}/z")) {
        // `/a/` + 64000 slashes + `/z`: 64,001 empty segments, joined by the 64,000 slashes.
        Lookup::Found(m) => assert!(m.bindings[0].value == "/".repeat(64000)),
        other => panic!("{other:?}"),
    }
    let deep = format!("/b/{}/x", "y/".repeat(20000));
    assert!(matches!(table.lookup("GET", &deep), Lookup::Found(_)));
    let deep = format!("/b/{}x", "y/".repeat(20000));
    assert!(matches!(table.lookup("GET", &deep), Lookup::Found(_)));
}

#[test]
fn iteration_keeps_insertion_order() {
    let routes = [("GET", "/b/**"), ("GET", "/a"), ("POST", "/a")];
    let table = table(&routes);
    assert!(!table.is_empty() && RouteTable::<()>::new().is_empty());
    let listed: Vec<(&str, &str, &str)> = table
        .iter()
        .map(|(method, template, value)| (method, template.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("GET", "/b/**", "GET /b/**"),
            ("GET", "/a", "GET /a"),
            ("POST", "/a", "POST /a")
        ]
    );
}
