//! The oracle of the `path_template` fuzz target (`fuzz/fuzz_targets/path_template.rs`), shared
//! with `tests/it/fuzz_regressions.rs` so that saved inputs replay on every `cargo test`.
//!
//! The input is text, one line per template or path. Every line is parsed as a template; the
//! valid ones go into a route table, and every line is also looked up as a path. The checks:
//!
//! - parsing never panics, an error's offset points into the template, and a template's
//!   `Display` parses back to an equal template and is a fixed point;
//! - lookup never panics, picks the route (or 404, or 405 with the methods) that the plain
//!   matcher of `reference.rs` picks, and agrees with `allowed_methods`;
//! - each template, instantiated with values made from the input (percent-encoded as http.proto
//!   says a client does), is found again, and the route found for it gives bindings that, encoded
//!   back into that route's template, make a path the template alone matches with the same
//!   bindings: decoding is the inverse of client-side expansion.

mod reference;

use reference::Expected;
use rust_svc_http_template::{Binding, Lookup, PathTemplate, RouteTable, Segment};

const METHODS: [&str; 3] = ["GET", "POST", "*"];

/// Runs the checks; returns how many lines parsed as templates, so that callers can tell an
/// input that exercised the matcher from one that did not.
pub fn check(data: &[u8]) -> usize {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut table = RouteTable::new();
    let mut templates = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match PathTemplate::parse(line) {
            Ok(template) => {
                check_display(&template);
                let method = METHODS[i % METHODS.len()];
                // A duplicate is refused, and then an equivalent template is already there.
                let _ = table.insert(method, template.clone(), i);
                templates.push((method, template));
            }
            Err(error) => {
                assert!(error.offset() <= line.len(), "{error}");
                assert!(line.is_char_boundary(error.offset()), "{error}");
            }
        }
    }
    for line in &lines {
        for method in ["GET", "POST", "DELETE"] {
            check_lookup(&table, method, line);
        }
    }
    for (n, (method, template)) in templates.iter().enumerate() {
        let path = instantiate(template, &lines, n);
        let lookup_method = if *method == "*" { "PUT" } else { method };
        match check_lookup(&table, lookup_method, &path) {
            Lookup::Found(found) => {
                check_round_trip(lookup_method, found.template, &found.bindings, &path)
            }
            // A literal such as `%FF` inside a variable decodes to bytes that are not UTF-8.
            Lookup::InvalidEncoding { .. } => {}
            other => panic!("{template} instantiated as {path}: {other:?}"),
        }
    }
    templates.len()
}

fn check_display(template: &PathTemplate) {
    let shown = template.to_string();
    let again = PathTemplate::parse(&shown)
        .unwrap_or_else(|e| panic!("`{}` displays as `{shown}`: {e}", template.as_str()));
    assert_eq!(
        &again,
        template,
        "`{}` displays as `{shown}`",
        template.as_str()
    );
    assert_eq!(again.to_string(), shown);
}

fn check_lookup<'a>(table: &'a RouteTable<usize>, method: &str, path: &str) -> Lookup<'a, usize> {
    let lookup = table.lookup(method, path);
    let routes: Vec<_> = table.iter().collect();
    let expected = reference::lookup(&routes, method, path);
    let allowed = table.allowed_methods(path);
    assert!(allowed.windows(2).all(|w| w[0] < w[1]), "{allowed:?}");
    let context = || format!("{method} {path}: got {lookup:?}, want {expected:?}");
    match (&lookup, &expected) {
        (Lookup::Found(found), Expected::Route(index)) => {
            assert_eq!(found.value, index, "{}", context());
            assert!(
                allowed.contains(&method) || allowed.contains(&"*"),
                "{}",
                context()
            );
            assert_eq!(found.bindings.len(), found.template.variables().len());
            for (binding, variable) in found.bindings.iter().zip(found.template.variables()) {
                assert_eq!(binding.field_path, variable.name());
            }
        }
        // The winner's variable did not decode.
        (Lookup::InvalidEncoding { .. }, Expected::Route(_)) => {}
        (Lookup::MethodNotAllowed { allowed: listed }, Expected::NotAllowed(methods)) => {
            assert_eq!(listed, methods, "{}", context());
            assert_eq!(*listed, allowed);
        }
        (Lookup::NotFound, Expected::NotFound) => assert!(allowed.is_empty(), "{}", context()),
        _ => panic!("{}", context()),
    }
    check_find(table, method, path, &lookup);
    lookup
}

/// `find` answers what `lookup` does, its values decoded only when asked.
fn check_find(table: &RouteTable<usize>, method: &str, path: &str, lookup: &Lookup<'_, usize>) {
    let found = table.find(method, path);
    let context = || format!("{method} {path}: lookup {lookup:?}, find {found:?}");
    match (lookup, &found) {
        (Lookup::Found(matched), Some(found)) => {
            assert_eq!(matched.value, found.value, "{}", context());
            assert_eq!(found.len(), matched.bindings.len(), "{}", context());
            for (i, binding) in matched.bindings.iter().enumerate() {
                assert_eq!(found.field_path(i), binding.field_path, "{}", context());
                assert_eq!(
                    found.decoded(i).as_deref(),
                    Ok(&*binding.value),
                    "{}",
                    context()
                );
            }
        }
        (Lookup::InvalidEncoding { variable, message }, Some(found)) => {
            let first = (0..found.len()).find_map(|i| Some((i, found.decoded(i).err()?)));
            let (i, error) = first.unwrap_or_else(|| panic!("{}", context()));
            assert_eq!((found.field_path(i), &error), (&**variable, message));
        }
        (Lookup::NotFound | Lookup::MethodNotAllowed { .. }, None) => {}
        _ => panic!("{}", context()),
    }
}

/// The bindings of a match, expanded back into its template, are matched by that template
/// alone with the same bindings.
fn check_round_trip(method: &str, template: &PathTemplate, bindings: &[Binding], path: &str) {
    let expanded = expand(template, bindings);
    let mut alone = RouteTable::new();
    alone.insert(method, template.clone(), ()).unwrap();
    match alone.lookup(method, &expanded) {
        Lookup::Found(again) => assert_eq!(again.bindings, bindings, "{path} -> {expanded}"),
        other => panic!("{template}: {path} gave {bindings:?}, expanded to {expanded}: {other:?}"),
    }
}

/// A path for the template, with values taken from the input lines.
fn instantiate(template: &PathTemplate, lines: &[&str], seed: usize) -> String {
    let segments = template.segments();
    let mut parts: Vec<String> = Vec::new();
    let mut next = seed;
    let mut value = || {
        next += 1;
        let line = lines[next % lines.len()];
        let encoded = encode(line, false);
        if encoded.is_empty() {
            "v".to_owned()
        } else {
            encoded
        }
    };
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(text) => parts.push(text.clone()),
            Segment::Wildcard => parts.push(value()),
            Segment::DoubleWildcard => {
                // `/:verb` (nothing before the colon) is not a verb; give such a `**` a segment.
                let at_least =
                    usize::from(i + 1 == segments.len() && template.verb().is_some() && i == 0);
                let count = (seed % 3).max(at_least);
                for _ in 0..count {
                    parts.push(value());
                }
            }
        }
    }
    join(parts, template.verb())
}

/// The path a client builds from the bindings (http.proto: single-segment values encode every
/// character but `[-_.~0-9a-zA-Z]`, multi-segment ones keep `/` and the escapes of reserved
/// characters the server left encoded). Literal segments inside a variable are written as the
/// template has them.
fn expand(template: &PathTemplate, bindings: &[Binding]) -> String {
    let segments = template.segments();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    let mut variables = template.variables().iter().zip(bindings).peekable();
    while i < segments.len() {
        let Some((variable, binding)) = variables.next_if(|(v, _)| v.segments().start == i) else {
            parts.push(fixed(&segments[i]));
            i += 1;
            continue;
        };
        let covered = &segments[variable.segments()];
        if !variable.is_multi_segment() {
            parts.push(match &covered[0] {
                Segment::Literal(text) => text.clone(),
                _ => encode(&binding.value, false),
            });
        } else if !binding.value.is_empty() {
            let values: Vec<&str> = binding.value.split('/').collect();
            let stretch = values.len() + 1 - covered.len();
            let mut k = 0;
            for segment in covered {
                match segment {
                    Segment::DoubleWildcard => {
                        for v in &values[k..k + stretch] {
                            parts.push(encode(v, true));
                        }
                        k += stretch;
                    }
                    Segment::Literal(text) => {
                        parts.push(text.clone());
                        k += 1;
                    }
                    Segment::Wildcard => {
                        parts.push(encode(values[k], true));
                        k += 1;
                    }
                }
            }
        }
        i = variable.segments().end;
    }
    join(parts, template.verb())
}

fn fixed(segment: &Segment) -> String {
    match segment {
        Segment::Literal(text) => text.clone(),
        // Unbound wildcards: any segment will do.
        Segment::Wildcard => "w".to_owned(),
        Segment::DoubleWildcard => "w/w".to_owned(),
    }
}

fn join(parts: Vec<String>, verb: Option<&str>) -> String {
    let mut path = format!("/{}", parts.join("/"));
    if let Some(verb) = verb {
        path.push(':');
        path.push_str(verb);
    }
    path
}

/// Percent-encodes a value the way the server decodes it. A single-segment value: everything but
/// `[-_.~0-9a-zA-Z]`. A multi-segment segment: the server keeps reserved characters as they came,
/// raw or escaped, so those stay as they are (a raw `?` cannot occur: it ends the path) and a `%XX`
/// escaping one stays an escape; every other `%` is a decoded `%25`.
fn encode(value: &str, multi_segment: bool) -> String {
    let bytes = value.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if multi_segment && b == b'%' && escapes_reserved(&bytes[i..]) {
            out.push_str(&value[i..i + 3]);
            i += 3;
            continue;
        }
        let reserved = RESERVED.contains(&b) && b != b'%';
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (multi_segment && reserved) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// RFC 6570 reserved characters, as http.proto uses them.
const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=";

fn escapes_reserved(rest: &[u8]) -> bool {
    let hex = |b: u8| (b as char).to_digit(16);
    match (
        rest.get(1).copied().and_then(hex),
        rest.get(2).copied().and_then(hex),
    ) {
        (Some(hi), Some(lo)) => RESERVED.contains(&((hi * 16 + lo) as u8)),
        _ => false,
    }
}
