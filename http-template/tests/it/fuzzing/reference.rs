//! A second, deliberately plain matcher for the fuzz oracle: slices instead of offsets, recursion
//! instead of precomputed shapes, and the documented precedence as a sort key compared route by
//! route. The route table must pick what this picks.

use std::cmp::Reverse;

use rust_svc_http_template::{PathTemplate, Segment};

/// What a lookup must answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Expected {
    Route(usize),
    NotFound,
    NotAllowed(Vec<String>),
}

pub fn lookup(routes: &[(&str, &PathTemplate, &usize)], method: &str, path: &str) -> Expected {
    let Some((segments, trailing_slash)) = split(path) else {
        return Expected::NotFound;
    };
    let matching = |&&(_, template, _): &&(&str, &PathTemplate, &usize)| {
        matches(template, &segments, trailing_slash)
    };
    let best = routes
        .iter()
        .filter(|(m, ..)| *m == method || *m == "*")
        .filter(matching)
        .min_by_key(|(m, template, index)| (key(template), *m == "*", **index));
    if let Some((_, _, index)) = best {
        return Expected::Route(**index);
    }
    let mut methods: Vec<String> = routes
        .iter()
        .filter(matching)
        .map(|(m, ..)| m.to_string())
        .collect();
    methods.sort();
    methods.dedup();
    if methods.is_empty() {
        Expected::NotFound
    } else {
        Expected::NotAllowed(methods)
    }
}

/// Segments (empty ones included: `//`), and whether one trailing `/` was dropped; `None` if
/// nothing can match.
fn split(path: &str) -> Option<(Vec<&str>, bool)> {
    let path = path.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix('/')?;
    Some(match rest.strip_suffix('/') {
        Some(rest) => (rest.split('/').collect(), true),
        None if rest.is_empty() => (Vec::new(), false),
        None => (rest.split('/').collect(), false),
    })
}

fn matches(template: &PathTemplate, segments: &[&str], trailing_slash: bool) -> bool {
    let mut segments = segments.to_vec();
    if let Some(verb) = template.verb() {
        let Some(last) = segments.last_mut() else {
            return false;
        };
        match last.strip_suffix(verb).and_then(|s| s.strip_suffix(':')) {
            Some(cut) if !cut.is_empty() && !trailing_slash => *last = cut,
            _ => return false,
        }
    }
    fits(template.segments(), &segments)
}

fn fits(template: &[Segment], path: &[&str]) -> bool {
    match template.split_first() {
        None => path.is_empty(),
        Some((Segment::Literal(literal), rest)) => {
            path.first() == Some(&literal.as_str()) && fits(rest, &path[1..])
        }
        // An empty segment is only ever taken by a `**`.
        Some((Segment::Wildcard, rest)) => {
            path.first().is_some_and(|segment| !segment.is_empty()) && fits(rest, &path[1..])
        }
        // Every split: the `**` takes the first `k` segments, the rest must fit what is left
        // (no assumption about what may follow a `**`).
        Some((Segment::DoubleWildcard, rest)) => (0..=path.len()).any(|k| fits(rest, &path[k..])),
    }
}

/// Smaller is better: verb routes first; then literal < `*` < `**` from the left, a template
/// that the other extends losing to it (the end marker 3 sorts after every segment); then the
/// longer verb.
fn key(template: &PathTemplate) -> (bool, Vec<u8>, Reverse<usize>) {
    let mut ranks: Vec<u8> = template
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(_) => 0,
            Segment::Wildcard => 1,
            Segment::DoubleWildcard => 2,
        })
        .collect();
    ranks.push(3);
    let verb = template.verb().map_or(0, str::len);
    (verb == 0, ranks, Reverse(verb))
}
