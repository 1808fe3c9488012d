//! The parsed form of an HttpRule path template and its error type.
//!
//! The grammar itself lives in [`crate::parse`]; this module holds what the parser produces and
//! how it prints.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// One segment of a [`PathTemplate`], after variables are flattened away.
///
/// A variable does not appear here: `/v1/{name=shelves/*}` has the segments
/// `[Literal("v1"), Literal("shelves"), Wildcard]`, and its [`Variable`] covers the range `1..3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Text that must equal the request's path segment byte for byte, as written in the template
    /// (percent-escapes included: see [`crate::RouteTable`] for why no decoding happens).
    Literal(String),
    /// `*`: exactly one non-empty path segment.
    Wildcard,
    /// `**`: zero or more path segments. At most one per template; any other segments may follow
    /// it (literals, `*`, variables), and then it matches whatever the fixed number of segments
    /// after it leaves: `/v1/{name=**/sessions/*}` matches `/v1/a/b/sessions/c`.
    DoubleWildcard,
}

/// A variable of a template: `{a.b.c}` or `{a.b.c=<segments>}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Variable {
    pub(crate) field_path: Vec<String>,
    pub(crate) segments: Range<usize>,
    pub(crate) multi_segment: bool,
}

impl Variable {
    /// The field path the variable binds, one identifier per element: `{a.b.c}` gives
    /// `["a", "b", "c"]`.
    pub fn field_path(&self) -> &[String] {
        &self.field_path
    }

    /// The field path joined with dots: `"a.b.c"`.
    pub fn name(&self) -> String {
        self.field_path.join(".")
    }

    /// The indices into [`PathTemplate::segments`] that the variable covers. `{var}` covers the
    /// single `*` it stands for.
    pub fn segments(&self) -> Range<usize> {
        self.segments.clone()
    }

    /// Whether the variable may capture more than one path segment: it covers more than one
    /// template segment, or a `**` (even when the `**` matched a single segment). http.proto
    /// decodes such values differently: reserved characters stay percent-encoded.
    pub fn is_multi_segment(&self) -> bool {
        self.multi_segment
    }
}

/// A parsed HttpRule path template (`/v1/{name=shelves/*}/books:search`).
///
/// The grammar is the one in google/api/http.proto:
///
/// ```text
/// Template  = "/" Segments [ Verb ] ;      // or just "/", the root
/// Segments  = Segment { "/" Segment } ;
/// Segment   = "*" | "**" | LITERAL | Variable ;
/// Variable  = "{" FieldPath [ "=" Segments ] "}" ;
/// FieldPath = IDENT { "." IDENT } ;
/// Verb      = ":" LITERAL ;
/// ```
///
/// Where the proto leaves things open, this crate follows the two reference implementations,
/// grpc-gateway v2 (`internal/httprule`) and the Envoy transcoder (`http_template.cc`):
///
/// - `"/"` alone is the root template, with no segments (both references accept it).
/// - A LITERAL is RFC 3986 `pchar`s: letters, digits, `-._~!$&'()*+,;=:@` and `%XX` escapes
///   (grpc-gateway's rule). `:` is allowed inside literals (`/v1/a:b/c`, `{name=x/wi:th}`), as
///   in grpc-gateway; Envoy rejects those.
/// - The verb starts at the last `:` of a final literal segment (`/v1/a:b:c` is literal `a:b`,
///   verb `c`), or at the first `:` after a final `*`, `**` or variable (`/v1/{name}:b:c` has
///   verb `b:c`), as in grpc-gateway. An empty verb (`/v1/{name}:`) is an error, as in Envoy.
/// - IDENT is `[A-Za-z_][A-Za-z0-9_]*` (grpc-gateway; proto field names).
/// - At most one `**` per template (a second one is an error in both references), followed by
///   any segments: literals, `*` and variables (`/v1/{name=**}/versions`,
///   `/v1/{name=**/botSessions/*}`, `/v1/{parent=projects/*/documents/*/**}/{collection_id}`), as
///   in grpc-gateway, whose matcher gives `**` what the fixed tail after it leaves. Envoy accepts
///   only literals after `**` and refuses the last two, which googleapis uses (remoteworkers,
///   firestore); [`has_wildcard_after_double_wildcard`](Self::has_wildcard_after_double_wildcard)
///   tells them apart, for a generator that follows Envoy.
/// - `{var}` is `{var=*}`; variables do not nest, and a field path may be bound only once.
///
/// [`Display`](fmt::Display) prints the canonical form (`{var}` for `{var=*}`), which parses
/// back to an equal template; [`as_str`](Self::as_str) keeps the text as written. Equality
/// compares structure (segments, variables, verb), not the text.
///
/// ```
/// use rust_svc_http_template::{PathTemplate, Segment};
///
/// let t = PathTemplate::parse("/v1/{name=shelves/*/books/*}:publish").unwrap();
/// assert_eq!(t.segments(), &[
///     Segment::Literal("v1".into()),
///     Segment::Literal("shelves".into()),
///     Segment::Wildcard,
///     Segment::Literal("books".into()),
///     Segment::Wildcard,
/// ]);
/// let name = &t.variables()[0];
/// assert_eq!(name.field_path(), ["name"]);
/// assert_eq!(name.segments(), 1..5);
/// assert!(name.is_multi_segment());
/// assert_eq!(t.verb(), Some("publish"));
///
/// // Errors say what is wrong and where.
/// let err = PathTemplate::parse("/v1/{name").unwrap_err();
/// assert_eq!(err.offset(), 4);
/// assert_eq!(
///     err.to_string(),
///     "invalid path template `/v1/{name`: unclosed `{` at byte 4"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct PathTemplate {
    pub(crate) source: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) variables: Vec<Variable>,
    pub(crate) verb: Option<String>,
}

impl PathTemplate {
    /// Parses a template; see the type's documentation for the grammar.
    pub fn parse(template: &str) -> Result<PathTemplate, TemplateError> {
        crate::parse::parse(template)
    }

    /// The template as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The segments, with variables flattened into the segments they cover. Empty for `"/"`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The variables, in the order they appear.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The custom verb (`"cancel"` for `/v1/{name=operations/**}:cancel`), without its colon.
    pub fn verb(&self) -> Option<&str> {
        self.verb.as_deref()
    }

    /// Whether a `*` (a `{var}` or `{var=*}` included) follows the `**`: a template the Envoy
    /// transcoder refuses as ambiguous (`/a/**/*`, `/v1/{parent=docs/**}/{id}`) and grpc-gateway
    /// serves, its `**` taking what the segments after it leave. The route table matches such
    /// templates the grpc-gateway way; a generator may refuse them, as Envoy does.
    ///
    /// ```
    /// use rust_svc_http_template::PathTemplate;
    ///
    /// let t = |s: &str| PathTemplate::parse(s).unwrap();
    /// assert!(t("/a/**/foo/*").has_wildcard_after_double_wildcard());
    /// assert!(!t("/a/**/foo").has_wildcard_after_double_wildcard());
    /// assert!(!t("/v1/*/{name=**}:run").has_wildcard_after_double_wildcard());
    /// ```
    pub fn has_wildcard_after_double_wildcard(&self) -> bool {
        self.double_wildcard().is_some_and(|d| {
            self.segments[d + 1..]
                .iter()
                .any(|segment| !matches!(segment, Segment::Literal(_)))
        })
    }

    /// The index of the `**` segment, if any.
    pub(crate) fn double_wildcard(&self) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| matches!(s, Segment::DoubleWildcard))
    }

    /// Whether two templates match exactly the same requests: same segments and verb, whatever
    /// their variables. `/v1/{a}` and `/v1/{b}` are equivalent, and so are `/v1/*` and `/v1/{a}`.
    /// A `*` right after the `**` may as well stand right before it: `/v1/**/*` and `/v1/*/**`
    /// both match `/v1` followed by one or more segments, so they are equivalent too (and the
    /// route table, which prefers `*` to `**` from the left, would never pick the first).
    pub fn is_equivalent(&self, other: &PathTemplate) -> bool {
        self.verb == other.verb
            && canonical_segments(&self.segments).eq(canonical_segments(&other.segments))
    }
}

/// The segments with the `*`s that directly follow the `**` moved before it: a template matches
/// the same paths either way, and two templates in this form match the same paths only if their
/// segments are equal.
fn canonical_segments(segments: &[Segment]) -> impl Iterator<Item = &Segment> {
    let at = segments
        .iter()
        .position(|s| *s == Segment::DoubleWildcard)
        .unwrap_or(segments.len());
    let (before, from) = segments.split_at(at);
    let (double, after) = from.split_at(from.len().min(1));
    let moved = after
        .iter()
        .take_while(|s| **s == Segment::Wildcard)
        .count();
    let (stars, rest) = after.split_at(moved);
    before.iter().chain(stars).chain(double).chain(rest)
}

impl PartialEq for PathTemplate {
    fn eq(&self, other: &Self) -> bool {
        // Structure, not spelling: `/{a}` and `/{a=*}` are the same template.
        self.segments == other.segments
            && self.variables == other.variables
            && self.verb == other.verb
    }
}

impl Eq for PathTemplate {}

impl FromStr for PathTemplate {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PathTemplate::parse(s)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            f.write_str("/")?;
        }
        let mut vars = self.variables.iter().peekable();
        let mut i = 0;
        while i < self.segments.len() {
            f.write_str("/")?;
            match vars.peek() {
                Some(var) if var.segments.start == i => {
                    write!(f, "{{{}", var.field_path.join("."))?;
                    let covered = &self.segments[var.segments.clone()];
                    // `{var}` is the short form of `{var=*}`: print it the way people write it.
                    if covered != [Segment::Wildcard] {
                        f.write_str("=")?;
                        write_segments(f, covered)?;
                    }
                    f.write_str("}")?;
                    i = var.segments.end;
                    vars.next();
                }
                _ => {
                    write_segment(f, &self.segments[i])?;
                    i += 1;
                }
            }
        }
        if let Some(verb) = &self.verb {
            write!(f, ":{verb}")?;
        }
        Ok(())
    }
}

fn write_segments(f: &mut fmt::Formatter<'_>, segments: &[Segment]) -> fmt::Result {
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            f.write_str("/")?;
        }
        write_segment(f, segment)?;
    }
    Ok(())
}

fn write_segment(f: &mut fmt::Formatter<'_>, segment: &Segment) -> fmt::Result {
    match segment {
        Segment::Literal(text) => f.write_str(text),
        Segment::Wildcard => f.write_str("*"),
        Segment::DoubleWildcard => f.write_str("**"),
    }
}

/// Why a template does not parse, and where.
///
/// ```
/// use rust_svc_http_template::PathTemplate;
///
/// let err = PathTemplate::parse("/v1/**/{name=x/**}").unwrap_err();
/// assert_eq!(err.offset(), 15);
/// assert_eq!(err.message(), "only one `**` is allowed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub(crate) template: String,
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl TemplateError {
    /// The byte offset into the template where the problem is.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong, without the template or the offset.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The template that failed to parse.
    pub fn template(&self) -> &str {
        &self.template
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid path template `{}`: {} at byte {}",
            self.template, self.message, self.offset
        )
    }
}

impl std::error::Error for TemplateError {}
