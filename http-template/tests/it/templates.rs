//! Template parsing, table-driven: every example in google/api/http.proto's comments, the cases of
//! grpc-gateway's `internal/httprule` tests and Envoy's `http_template_test.cc` (where those two
//! disagree, the row says which one we follow), and our own error messages.

use rust_svc_http_template::{PathTemplate, Segment};

use crate::tables::templates::{INVALID, VALID};

fn segments(spec: &str) -> Vec<Segment> {
    spec.split_whitespace()
        .map(|s| match s {
            "*" => Segment::Wildcard,
            "**" => Segment::DoubleWildcard,
            lit => Segment::Literal(lit.to_owned()),
        })
        .collect()
}

fn describe_variables(t: &PathTemplate) -> String {
    let vars: Vec<String> = t
        .variables()
        .iter()
        .map(|v| {
            let r = v.segments();
            let multi = if v.is_multi_segment() { "+" } else { "" };
            assert_eq!(v.name(), v.field_path().join("."));
            format!("{}@{}..{}{multi}", v.name(), r.start, r.end)
        })
        .collect();
    vars.join(" ")
}

#[test]
fn valid_templates_parse_into_their_parts() {
    for &(src, segs, vars, verb) in VALID {
        let t = PathTemplate::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(t.as_str(), src);
        assert_eq!(t.segments(), segments(segs), "{src}: segments");
        assert_eq!(describe_variables(&t), vars, "{src}: variables");
        let verb = (!verb.is_empty()).then_some(verb);
        assert_eq!(t.verb(), verb, "{src}: verb");
    }
}

#[test]
fn display_is_canonical_and_parses_back_to_the_same_template() {
    for &(src, ..) in VALID {
        let t = PathTemplate::parse(src).unwrap();
        let shown = t.to_string();
        let again = PathTemplate::parse(&shown).unwrap_or_else(|e| panic!("{src} -> {shown}: {e}"));
        assert_eq!(again, t, "{src} -> {shown}");
        assert_eq!(again.to_string(), shown, "{src}: Display is a fixed point");
    }
    let canonical = [
        ("/v1/{name=*}", "/v1/{name}"),
        ("/{x.y.z=*}:verb", "/{x.y.z}:verb"),
        ("/v1/{name=shelves/*}", "/v1/{name=shelves/*}"),
        ("/{x=**}", "/{x=**}"),
        ("/", "/"),
        ("/v1/a:b:c", "/v1/a:b:c"),
    ];
    for (src, want) in canonical {
        assert_eq!(PathTemplate::parse(src).unwrap().to_string(), want, "{src}");
    }
}

#[test]
fn invalid_templates_say_what_and_where() {
    for &(src, offset, message) in INVALID {
        let err = match PathTemplate::parse(src) {
            Ok(t) => panic!("{src:?} parsed as {t}"),
            Err(e) => e,
        };
        assert_eq!((err.offset(), err.message()), (offset, message), "{src:?}");
        assert_eq!(err.template(), src);
        assert_eq!(
            err.to_string(),
            format!("invalid path template `{src}`: {message} at byte {offset}")
        );
    }
}

#[test]
fn equality_is_structural_and_equivalence_ignores_variables() {
    let p = |s: &str| PathTemplate::parse(s).unwrap();
    assert_eq!(p("/v1/{a}"), p("/v1/{a=*}"));
    assert_ne!(p("/v1/{a}"), p("/v1/{b}"));
    assert!(p("/v1/{a}").is_equivalent(&p("/v1/{b}")));
    assert!(p("/v1/*").is_equivalent(&p("/v1/{b}")));
    assert!(p("/{x=a/*}").is_equivalent(&p("/a/{x}")));
    assert!(!p("/v1/{a}").is_equivalent(&p("/v1/{a}:verb")));
    assert!(!p("/v1/{a}").is_equivalent(&p("/v1/{a=**}")));
    // `*`s right after the `**` may stand before it; nothing else moves.
    assert!(p("/v1/**/*/*/x").is_equivalent(&p("/v1/*/*/**/x")));
    assert!(p("/v1/**/*/*/x").is_equivalent(&p("/v1/*/**/*/x")));
    assert!(!p("/v1/**/*/x/*").is_equivalent(&p("/v1/*/*/**/x")));
    assert!(!p("/v1/**/x/*").is_equivalent(&p("/v1/*/x/**")));
    assert_ne!(p("/v1/**/*"), p("/v1/*/**"));
    let parsed: PathTemplate = "/v1/{a}".parse().unwrap();
    assert_eq!(parsed, p("/v1/{a}"));
}
