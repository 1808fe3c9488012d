//! HttpRule path templates as OpenAPI paths.
//!
//! OpenAPI names each path parameter in `{…}` and lets it stand for one segment; a template
//! variable may span several (`{name=shelves/*/books/*}`) and a wildcard may be bound to no
//! field at all. Two forms, chosen per binding by the caller:
//!
//! - compact, `/v1/{name}`: one parameter per variable, as http.proto and grpc-gateway's
//!   OpenAPI generator write it; a spanning variable's parameter carries the pattern its value
//!   must match, slashes included, which OpenAPI cannot express (its path parameters are one
//!   segment), so the pattern and the description say it;
//! - expanded, `/v1/shelves/{shelvesId}/books/{booksId}`: a spanning variable written out,
//!   one parameter per wildcard, as Google's discovery documents do (`flatPath`). Used where
//!   compact paths of one document would be the same path: OpenAPI identifies an operation by
//!   its path (parameter names aside) and method, and resource-name APIs bind many rpcs to
//!   `GET /v1/{name}`.
//!
//! A wildcard bound to no field becomes a parameter too (`{_wildcard1}`), so that the path
//! still matches what the route matches.

use std::collections::BTreeSet;

use rust_svc_http_template::{PathTemplate, Segment};

/// How spanning variables are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `/v1/{name}`.
    Compact,
    /// `/v1/shelves/{shelvesId}/books/{booksId}`.
    Expanded,
}

/// A template in OpenAPI form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Converted {
    /// `/v1/{name}:publish`.
    pub path: String,
    /// The parameters, in path order.
    pub params: Vec<Param>,
}

/// One `{…}` of a converted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Param {
    /// The name in the path.
    pub name: String,
    /// The index of the template variable it belongs to; `None` for a wildcard bound to none.
    pub variable: Option<usize>,
    /// What its value is.
    pub kind: ParamKind,
}

/// What a path parameter's value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ParamKind {
    /// The whole value of a variable that is one `*`: typed like its field.
    Whole,
    /// The whole value of a variable that is anything else, a string matching `pattern` (an
    /// ECMA-262 regular expression, as JSON Schema has them); `template` is the variable's
    /// segments as written (`shelves/*/books/*`).
    Spanning { template: String, pattern: String },
    /// One segment (`**`: any number of segments, when `multi`) of a variable written out;
    /// `of` is the variable's value in terms of its parameters
    /// (`shelves/{shelvesId}/books/{booksId}`).
    Segment { of: String, multi: bool },
    /// A wildcard bound to no field: any one segment, or any number of them when `multi`.
    Unbound { multi: bool },
}

/// `template` in OpenAPI form; `variable_names` are the parameter names of its variables
/// (their dotted JSON field paths), in order.
pub(super) fn convert(template: &PathTemplate, variable_names: &[String], form: Form) -> Converted {
    let segments = template.segments();
    let mut names = Names::default();
    // Variable names first: a synthesized name must not take a field's.
    for name in variable_names {
        names.taken.insert(name.clone());
    }
    let mut path = String::new();
    let mut params = Vec::new();
    let mut index = 0;
    while index < segments.len() {
        path.push('/');
        let variable = template
            .variables()
            .iter()
            .position(|variable| variable.segments().start == index);
        let Some(at) = variable else {
            match &segments[index] {
                Segment::Literal(literal) => path.push_str(literal),
                wildcard => {
                    let name = names.fresh("_wildcard", true);
                    push_param(&mut path, &name);
                    params.push(Param {
                        name,
                        variable: None,
                        kind: ParamKind::Unbound {
                            multi: *wildcard == Segment::DoubleWildcard,
                        },
                    });
                }
            }
            index += 1;
            continue;
        };
        let range = template.variables()[at].segments();
        let covered = &segments[range.clone()];
        let name = variable_names.get(at).cloned().unwrap_or_default();
        if covered == [Segment::Wildcard] {
            push_param(&mut path, &name);
            params.push(Param {
                name,
                variable: Some(at),
                kind: ParamKind::Whole,
            });
        } else if form == Form::Compact {
            push_param(&mut path, &name);
            params.push(Param {
                name,
                variable: Some(at),
                kind: ParamKind::Spanning {
                    template: written(covered, |segment| segment_text(segment).to_owned()),
                    pattern: pattern(covered),
                },
            });
        } else {
            let start = params.len();
            let mut previous_literal = None;
            let mut parts = Vec::new();
            for segment in covered {
                match segment {
                    Segment::Literal(literal) => {
                        previous_literal = Some(literal.as_str());
                        parts.push(literal.clone());
                    }
                    wildcard => {
                        let base = match previous_literal.take() {
                            Some(literal) => format!("{}Id", sanitize(literal)),
                            None => format!("{}Segment", last_component(&name)),
                        };
                        let param = names.fresh(&base, false);
                        parts.push(format!("{{{param}}}"));
                        params.push(Param {
                            name: param,
                            variable: Some(at),
                            kind: ParamKind::Segment {
                                of: String::new(),
                                multi: *wildcard == Segment::DoubleWildcard,
                            },
                        });
                    }
                }
            }
            let of = parts.join("/");
            path.push_str(&of);
            for param in &mut params[start..] {
                if let ParamKind::Segment { of: text, .. } = &mut param.kind {
                    text.clone_from(&of);
                }
            }
        }
        index = range.end.max(index + 1);
    }
    if path.is_empty() {
        path.push('/');
    }
    if let Some(verb) = template.verb() {
        path.push(':');
        path.push_str(verb);
    }
    Converted { path, params }
}

/// The path with every parameter name blanked: OpenAPI deems paths that differ only in their
/// parameter names the same path.
pub(super) fn shape(path: &str) -> String {
    let mut shape = String::with_capacity(path.len());
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                shape.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => shape.push(ch),
        }
    }
    shape
}

/// `path` with its parameters named `names`, in order.
pub(super) fn rename(path: &str, names: &[String]) -> String {
    let mut renamed = String::with_capacity(path.len());
    let mut names = names.iter();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                renamed.push('{');
                renamed.push_str(names.next().map(String::as_str).unwrap_or_default());
            }
            '}' => {
                in_param = false;
                renamed.push('}');
            }
            _ if in_param => {}
            _ => renamed.push(ch),
        }
    }
    renamed
}

/// Parameter names in use in one path.
#[derive(Default)]
struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// `base`, or `base2`, `base3`… if taken; numbered from the start (`_wildcard1`) when
    /// `numbered`.
    fn fresh(&mut self, base: &str, numbered: bool) -> String {
        let mut number = 1;
        loop {
            let name = if numbered || number > 1 {
                format!("{base}{number}")
            } else {
                base.to_owned()
            };
            if self.taken.insert(name.clone()) {
                return name;
            }
            number += 1;
        }
    }
}

fn push_param(path: &mut String, name: &str) {
    path.push('{');
    path.push_str(name);
    path.push('}');
}

fn segment_text(segment: &Segment) -> &str {
    match segment {
        Segment::Literal(literal) => literal,
        Segment::Wildcard => "*",
        Segment::DoubleWildcard => "**",
    }
}

fn written(segments: &[Segment], text: impl Fn(&Segment) -> String) -> String {
    segments.iter().map(text).collect::<Vec<_>>().join("/")
}

/// A parameter name from a literal: OpenAPI tools read `{a:b}` as a name with a format spec
/// (openapi-spec-validator does), so only letters, digits, `_`, `-` and `.` are kept.
fn sanitize(literal: &str) -> String {
    literal
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

fn last_component(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The regular expression a spanning variable's value matches: `*` is one segment, `**` any
/// number of them (zero included), literals match themselves.
pub(super) fn pattern(segments: &[Segment]) -> String {
    const SEGMENT: &str = "[^/]+";
    let mut regex = String::from("^");
    let mut separator = false;
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        match segment {
            Segment::DoubleWildcard if !separator && last => {
                regex.push_str(&format!("(?:{SEGMENT}(?:/{SEGMENT})*)?"));
            }
            // Zero or more segments, each followed by its `/`, so that what follows needs none.
            Segment::DoubleWildcard if !separator => {
                regex.push_str(&format!("(?:{SEGMENT}/)*"));
                continue;
            }
            Segment::DoubleWildcard => regex.push_str(&format!("(?:/{SEGMENT})*")),
            Segment::Wildcard | Segment::Literal(_) => {
                if separator {
                    regex.push('/');
                }
                match segment {
                    Segment::Literal(literal) => regex.push_str(&escape(literal)),
                    _ => regex.push_str(SEGMENT),
                }
            }
        }
        separator = true;
    }
    regex.push('$');
    regex
}

fn escape(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for ch in literal.chars() {
        if "\\^$.|?*+()[]{}".contains(ch) {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(template: &PathTemplate) -> Vec<String> {
        template.variables().iter().map(|v| v.name()).collect()
    }

    fn converted(template: &str, form: Form) -> Converted {
        let template = PathTemplate::parse(template).unwrap();
        convert(&template, &names(&template), form)
    }

    #[test]
    fn compact_paths_have_one_parameter_per_variable() {
        let cases = [
            ("/v1/items/{sku}/stock", "/v1/items/{sku}/stock"),
            ("/v1/{name=shelves/*/books/*}", "/v1/{name}"),
            ("/v1/{name=shelves/*}:publish", "/v1/{name}:publish"),
            ("/v1/items:watch", "/v1/items:watch"),
            ("/v1/orders/{order.order_id}", "/v1/orders/{order.order_id}"),
            ("/v1/files/{path=**}:read", "/v1/files/{path}:read"),
            ("/v1/*/x/**", "/v1/{_wildcard1}/x/{_wildcard2}"),
            ("/", "/"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                converted(template, Form::Compact).path,
                expected,
                "{template}"
            );
        }
    }

    #[test]
    fn a_spanning_variable_carries_its_pattern() {
        let path = converted("/v1/{name=shelves/*/books/*}", Form::Compact);
        assert_eq!(
            path.params,
            [Param {
                name: "name".to_owned(),
                variable: Some(0),
                kind: ParamKind::Spanning {
                    template: "shelves/*/books/*".to_owned(),
                    pattern: "^shelves/[^/]+/books/[^/]+$".to_owned(),
                },
            }]
        );
    }

    #[test]
    fn expanded_paths_write_spanning_variables_out() {
        let path = converted(
            "/v1/{parent=projects/*/locations/*}/books/{id}",
            Form::Expanded,
        );
        assert_eq!(
            path.path,
            "/v1/projects/{projectsId}/locations/{locationsId}/books/{id}"
        );
        let of = "projects/{projectsId}/locations/{locationsId}".to_owned();
        assert_eq!(
            path.params,
            [
                Param {
                    name: "projectsId".to_owned(),
                    variable: Some(0),
                    kind: ParamKind::Segment {
                        of: of.clone(),
                        multi: false
                    },
                },
                Param {
                    name: "locationsId".to_owned(),
                    variable: Some(0),
                    kind: ParamKind::Segment { of, multi: false },
                },
                Param {
                    name: "id".to_owned(),
                    variable: Some(1),
                    kind: ParamKind::Whole,
                },
            ]
        );
    }

    #[test]
    fn expanded_names_stay_unique_and_usable() {
        let cases = [
            ("/v1/{name=a/*/a/*}", "/v1/a/{aId}/a/{aId2}"),
            ("/v1/{name=*/b/*}", "/v1/{nameSegment}/b/{bId}"),
            ("/v1/{a.name=x:y/*}", "/v1/x:y/{x_yId}"),
            ("/v1/{name=files/**}", "/v1/files/{filesId}"),
            // A synthesized name never takes a field's.
            ("/v1/{name=id/*}/{idId}", "/v1/id/{idId2}/{idId}"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                converted(template, Form::Expanded).path,
                expected,
                "{template}"
            );
        }
    }

    #[test]
    fn patterns_match_what_the_segments_match() {
        let cases = [
            ("shelves/*", "^shelves/[^/]+$"),
            ("**", "^(?:[^/]+(?:/[^/]+)*)?$"),
            ("files/**", "^files(?:/[^/]+)*$"),
            ("**/meta", "^(?:[^/]+/)*meta$"),
            ("v1.0/a+b", "^v1\\.0/a\\+b$"),
        ];
        for (variable, expected) in cases {
            let template = PathTemplate::parse(&format!("/{{x={variable}}}")).unwrap();
            assert_eq!(pattern(template.segments()), expected, "{variable}");
        }
    }

    #[test]
    fn shapes_ignore_parameter_names() {
        assert_eq!(shape("/v1/{name}:get"), "/v1/{}:get");
        assert_eq!(shape("/v1/{a}/{b.c}"), shape("/v1/{x}/{y}"));
    }

    #[test]
    fn renaming_replaces_names_in_order() {
        let names = ["x".to_owned(), "y".to_owned()];
        assert_eq!(rename("/v1/{a}/b/{c.d}:go", &names), "/v1/{x}/b/{y}:go");
    }
}
