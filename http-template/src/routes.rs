//! The route table: (HTTP method, template) pairs, looked up by (method, request path).

use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

use crate::template::{PathTemplate, Segment};

mod found;
mod index;
mod segments;

pub use found::Found;
use index::Index;
use segments::Segments;

/// A set of routes and the matcher that picks one for a request.
///
/// # Matching
///
/// - The path must start with `/`; anything after `?` is ignored. One trailing `/` is ignored
///   (`/v1/items/` is `/v1/items`, as in Envoy; grpc-gateway would give `{id}` an empty value).
///   Any other empty segment (`/v1//items`, `/v1/items//`) is matched only by a `**`, which
///   takes empty segments as Envoy's does (`/a/**/x` matches `/a` + 64,000 slashes + `/x`);
///   a literal or a `*` never matches one.
/// - A literal matches a path segment that is byte for byte the same, percent-escapes and their
///   case included (`/v1/a%62c` does not match literal `abc`): Envoy compares undecoded text, as
///   grpc-gateway v2 does in its `UnescapingModeAllExceptReserved` and stricter modes (its
///   default, `UnescapingModeLegacy`, matches Go's fully decoded path, where `%2F` in a
///   segment splits it); and it keeps a route's set of URLs unambiguous.
/// - `*` matches one segment; `**` matches zero or more (`/v1/**` matches `/v1`), leaving the
///   segments after it, whatever they are, the last segments of the path, one each:
///   `/v1/{name=**/botSessions/*}` matches `/v1/a/b/botSessions/c` with `name` the whole rest,
///   and `/v1/{parent=docs/*/**}/{id}` matches `/v1/docs/x/y/z/c` with `parent = "docs/x/y/z"`,
///   `id = "c"` (grpc-gateway's rule; Envoy allows only literals after `**`).
/// - A verb is part of the match. When the last segment ends with `:` followed by a route's verb
///   (with something before the colon), the routes with that verb are tried first against the
///   segment without it; otherwise, or when none matches, the routes without a verb are tried
///   against the whole segment, colon included (`/v1/{id}` matches `/v1/a:b` with `id = "a:b"`),
///   like grpc-gateway and Envoy. A trailing `/` after a verb (`/v1/x:run/`) makes it a segment.
/// - Precedence, when several routes match: segment by segment from the left, a literal beats
///   `*`, which beats `**`; when one template is a prefix of the other in those terms, the longer
///   one wins (`/v1/**/versions` over `/v1/**`); then the longer verb. This is the order Envoy's
///   trie search gives; grpc-gateway tries routes in registration order instead. The comparison
///   goes by template segment, past a `**` too: on `/v1/a/x/x`, which both match, `/v1/**/x`
///   beats `/v1/**/*/x` (literal over `*` at their third segment). Routes with method `*` (the
///   "any method" of a `custom` rule) match every method, and lose to a route for the exact
///   method of the same shape.
/// - Methods are compared case-sensitively, as HTTP does; any token is a method (`LIST`).
///
/// # Cost
///
/// A method's routes are walked in order of precedence while they are few (up to 8). Past that,
/// the first lookup after a change indexes them: by their number of segments, then by their
/// literals at the positions that tell them apart. A lookup then tries only the routes whose
/// literals there are the path's, in the same order, so the answer is the walk's. A table of a
/// whole googleapis API (compute v1, 993 routes) answers in about 1,800 instructions, where a
/// walk took 25,000, and one of 9 routes in about 1,300 (`bench/route_table.sh`).
///
/// # Bindings
///
/// Variables are percent-decoded as http.proto says: a single-segment variable (`{id}`,
/// `{id=*}`) decodes everything (`%2F` becomes `/`); a multi-segment one (`{name=shelves/*}`,
/// `{path=**}`) keeps the escapes of RFC 6570 reserved characters (`:/?#[]@!$&'()*+,;=`) as
/// written, so `%2F` stays `%2F` while `%20` becomes a space. A malformed escape (`%2`, `%zz`) or
/// decoded bytes that are not UTF-8 in a variable of the winning route give
/// [`Lookup::InvalidEncoding`] naming the variable (grpc-gateway answers 400 too; Envoy passes
/// such escapes through). Segments no variable binds are not decoded, so nothing is checked
/// there. `+` is not a space in a path.
///
/// ```
/// use rust_svc_http_template::{Lookup, PathTemplate, RouteTable};
///
/// let mut table = RouteTable::new();
/// let t = |s: &str| PathTemplate::parse(s).unwrap();
/// table.insert("GET", t("/v1/{name=shelves/*}"), "GetShelf").unwrap();
/// table.insert("GET", t("/v1/shelves/default"), "GetDefaultShelf").unwrap();
/// table.insert("POST", t("/v1/{name=shelves/*}:archive"), "ArchiveShelf").unwrap();
///
/// match table.lookup("GET", "/v1/shelves/a%20b") {
///     Lookup::Found(m) => {
///         assert_eq!(*m.value, "GetShelf");
///         assert_eq!(m.bindings[0].field_path, "name");
///         assert_eq!(m.bindings[0].value, "shelves/a b");
///     }
///     other => panic!("{other:?}"),
/// }
/// // A literal beats `*`.
/// assert!(matches!(table.lookup("GET", "/v1/shelves/default"),
///     Lookup::Found(m) if *m.value == "GetDefaultShelf"));
/// // The verb is part of the route.
/// assert!(matches!(table.lookup("POST", "/v1/shelves/s1:archive"),
///     Lookup::Found(m) if *m.value == "ArchiveShelf"));
/// // A known path with another method.
/// assert!(matches!(table.lookup("DELETE", "/v1/shelves/s1"),
///     Lookup::MethodNotAllowed { allowed } if allowed == ["GET"]));
/// assert!(matches!(table.lookup("GET", "/v1/books"), Lookup::NotFound));
/// // Duplicates are refused: same method, same shape.
/// assert!(table.insert("GET", t("/v1/{shelf=shelves/*}"), "Again").is_err());
/// ```
pub struct RouteTable<T> {
    /// Insertion order, for [`RouteTable::iter`].
    routes: Vec<Route<T>>,
    /// One entry per distinct method, its routes ordered by precedence.
    methods: Vec<MethodRoutes>,
}

struct Route<T> {
    method: String,
    template: PathTemplate,
    value: T,
    double_wildcard: Option<usize>,
    /// The dotted field path of each variable, computed once instead of per lookup.
    names: Vec<String>,
}

struct MethodRoutes {
    method: String,
    /// The routes, best first: the first that matches a path wins.
    order: Vec<Entry>,
    /// The index of `order` for a lookup to try only the routes that may match, made at the
    /// first lookup after the routes change (see index.rs).
    index: OnceLock<Index>,
}

impl MethodRoutes {
    /// The index, for a method with more routes than a walk over them costs.
    fn index<T>(&self, routes: &[Route<T>]) -> Option<&Index> {
        (self.order.len() > index::WALK_AT_MOST)
            .then(|| self.index.get_or_init(|| Index::new(&self.order, routes)))
    }
}

/// What a lookup needs to skip a route without touching it: most routes of a table differ from
/// a path in their number of segments.
#[derive(Clone, Copy)]
struct Entry {
    route: usize,
    segments: usize,
    double_wildcard: bool,
}

impl Entry {
    fn fits_length(self, path_segments: usize) -> bool {
        if self.double_wildcard {
            path_segments + 1 >= self.segments
        } else {
            path_segments == self.segments
        }
    }
}

/// Any method: what an HttpRule `custom { kind: "*" }` asks for.
const ANY_METHOD: &str = "*";

/// A route was inserted twice: same method, templates that match the same requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateRoute {
    /// The method both routes have.
    pub method: String,
    /// The template being inserted, as written.
    pub template: String,
    /// The template already in the table, as written.
    pub existing: String,
}

impl fmt::Display for DuplicateRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "duplicate route: {} `{}` matches the same requests as {} `{}`",
            self.method, self.template, self.method, self.existing
        )
    }
}

impl std::error::Error for DuplicateRoute {}

/// The result of [`RouteTable::lookup`].
#[derive(Debug)]
pub enum Lookup<'a, T> {
    /// A route matched.
    Found(RouteMatch<'a, T>),
    /// No route matches the path, whatever the method (HTTP 404).
    NotFound,
    /// Routes match the path, but none for this method (HTTP 405 with `Allow`). `allowed` is
    /// sorted and has no duplicates.
    MethodNotAllowed {
        /// The methods that have a route for the path.
        allowed: Vec<&'a str>,
    },
    /// The winning route's variable has a malformed percent-escape, or decodes to bytes that are
    /// not UTF-8 (HTTP 400).
    InvalidEncoding {
        /// The variable's dotted field path.
        variable: String,
        /// What is wrong with its value.
        message: String,
    },
}

/// A matched route and its variable bindings.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    /// The value inserted with the route.
    pub value: &'a T,
    /// The route's template.
    pub template: &'a PathTemplate,
    /// One binding per variable of the template, in template order.
    pub bindings: Vec<Binding>,
}

/// A variable's value, percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Binding {
    /// The dotted field path, `"a.b.c"`.
    pub field_path: String,
    /// The decoded value.
    pub value: String,
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        RouteTable::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for RouteTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.routes
                    .iter()
                    .map(|r| (&r.method, r.template.as_str(), &r.value)),
            )
            .finish()
    }
}

impl<T> RouteTable<T> {
    /// An empty table.
    pub fn new() -> Self {
        RouteTable {
            routes: Vec::new(),
            methods: Vec::new(),
        }
    }

    /// Adds a route. Refuses a route whose method is the same as an existing one's and whose
    /// template matches the same requests ([`PathTemplate::is_equivalent`]: `/v1/{a}` and
    /// `/v1/{b}` are duplicates). `method` `*` matches any method.
    pub fn insert(
        &mut self,
        method: &str,
        template: PathTemplate,
        value: T,
    ) -> Result<(), DuplicateRoute> {
        let bucket = match self.methods.iter().position(|m| m.method == method) {
            Some(i) => i,
            None => {
                self.methods.push(MethodRoutes {
                    method: method.to_owned(),
                    order: Vec::new(),
                    index: OnceLock::new(),
                });
                self.methods.len() - 1
            }
        };
        let existing = self.methods[bucket]
            .order
            .iter()
            .map(|e| &self.routes[e.route].template)
            .find(|t| t.is_equivalent(&template));
        if let Some(existing) = existing {
            return Err(DuplicateRoute {
                method: method.to_owned(),
                template: template.as_str().to_owned(),
                existing: existing.as_str().to_owned(),
            });
        }
        let index = self.routes.len();
        self.routes.push(Route {
            method: method.to_owned(),
            double_wildcard: template.double_wildcard(),
            names: template.variables().iter().map(|v| v.name()).collect(),
            template,
            value,
        });
        let routes = &self.routes;
        self.methods[bucket].index = OnceLock::new();
        let order = &mut self.methods[bucket].order;
        // After every route of equal precedence: ties keep insertion order.
        let at = order.partition_point(|e| {
            precedence(&routes[e.route].template, &routes[index].template) != Ordering::Greater
        });
        let template = &routes[index].template;
        let entry = Entry {
            route: index,
            segments: template.segments().len(),
            double_wildcard: routes[index].double_wildcard.is_some(),
        };
        order.insert(at, entry);
        Ok(())
    }

    /// Adds a route, or, when a route of the same method already matches the same requests,
    /// puts this one in its place and hands back what it replaced (its template as written, and
    /// its value): the later registration wins, as in grpc-gateway's mux.
    pub fn insert_or_replace(
        &mut self,
        method: &str,
        template: PathTemplate,
        value: T,
    ) -> Option<(String, T)> {
        let existing = self
            .methods
            .iter()
            .find(|m| m.method == method)
            .and_then(|m| {
                m.order
                    .iter()
                    .map(|e| e.route)
                    .find(|&route| self.routes[route].template.is_equivalent(&template))
            });
        let Some(index) = existing else {
            // Nothing matches the same requests, so the insert cannot fail.
            let _ = self.insert(method, template, value);
            return None;
        };
        // Equivalent templates have the same precedence: the route keeps its place in the
        // order, with the new template's variable names. They also have the same length,
        // literals and verb, which is all the method's index keys on, so it stays as it is.
        let replaced = std::mem::replace(
            &mut self.routes[index],
            Route {
                method: method.to_owned(),
                double_wildcard: template.double_wildcard(),
                names: template.variables().iter().map(|v| v.name()).collect(),
                template,
                value,
            },
        );
        Some((replaced.template.as_str().to_owned(), replaced.value))
    }

    /// Finds the route for a request. `path` is the request's path as sent (still
    /// percent-encoded); a query string after `?` is ignored.
    pub fn lookup(&self, method: &str, path: &str) -> Lookup<'_, T> {
        let Some(segments) = Segments::split(path) else {
            return Lookup::NotFound;
        };
        match self.find_in(method, segments) {
            Ok(found) => found.bind(),
            Err(segments) => {
                let allowed = self.matching_methods(&segments);
                if allowed.is_empty() {
                    Lookup::NotFound
                } else {
                    Lookup::MethodNotAllowed { allowed }
                }
            }
        }
    }

    /// Finds the route for a request as [`lookup`](Self::lookup) does, leaving its variables
    /// as the path has them: nothing is decoded or allocated (but for a path of more segments
    /// than any real API has). `None` where `lookup` answers [`Lookup::NotFound`] or
    /// [`Lookup::MethodNotAllowed`]; a variable that does not decode is found here, and its
    /// error is [`Found::decoded`]'s.
    ///
    /// ```
    /// use rust_svc_http_template::{PathTemplate, RouteTable};
    ///
    /// let mut table = RouteTable::new();
    /// let template = PathTemplate::parse("/v1/{name=shelves/*}/books/{id}").unwrap();
    /// table.insert("GET", template, "GetBook").unwrap();
    ///
    /// let found = table.find("GET", "/v1/shelves/s1/books/a%20b").unwrap();
    /// assert_eq!(*found.value, "GetBook");
    /// assert_eq!(found.len(), 2);
    /// assert_eq!(found.field_path(0), "name");
    /// assert_eq!(found.raw(0), "shelves/s1");
    /// assert_eq!(found.decoded(1).unwrap(), "a b");
    /// assert!(table.find("POST", "/v1/shelves/s1/books/b").is_none());
    /// ```
    pub fn find<'a, 'p>(&'a self, method: &str, path: &'p str) -> Option<Found<'a, 'p, T>> {
        self.find_in(method, Segments::split(path)?).ok()
    }

    /// The route for `method` on the path of `segments`, or the segments back when none
    /// matches.
    fn find_in<'a, 'p>(
        &'a self,
        method: &str,
        segments: Segments<'p>,
    ) -> Result<Found<'a, 'p, T>, Segments<'p>> {
        let exact = self
            .bucket(method)
            .and_then(|b| self.first_match(b, &segments));
        let any = match method {
            ANY_METHOD => None,
            _ => self
                .bucket(ANY_METHOD)
                .and_then(|b| self.first_match(b, &segments)),
        };
        let found = match (exact, any) {
            (Some(e), Some(a)) => {
                let (re, ra) = (&self.routes[e.route], &self.routes[a.route]);
                // The exact method wins a tie.
                match precedence(&ra.template, &re.template) {
                    Ordering::Less => Some(a),
                    _ => Some(e),
                }
            }
            (e, a) => e.or(a),
        };
        match found {
            Some(m) => Ok(Found::new(&self.routes[m.route], m.last_end, segments)),
            None => Err(segments),
        }
    }

    /// The methods with a route matching `path` (sorted, no duplicates; `*` if an any-method
    /// route matches): the `Allow` header of a 405, or what a CORS preflight may permit.
    pub fn allowed_methods(&self, path: &str) -> Vec<&str> {
        match Segments::split(path) {
            Some(segments) => self.matching_methods(&segments),
            None => Vec::new(),
        }
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes as (method, template, value), in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PathTemplate, &T)> + '_ {
        self.routes
            .iter()
            .map(|r| (r.method.as_str(), &r.template, &r.value))
    }

    fn bucket(&self, method: &str) -> Option<&MethodRoutes> {
        self.methods.iter().find(|m| m.method == method)
    }

    fn first_match(&self, bucket: &MethodRoutes, segments: &Segments<'_>) -> Option<Matched> {
        match bucket.index(&self.routes) {
            None => self.first_of(bucket.order.iter().copied(), segments),
            Some(index) => self.first_of(
                index.candidates(segments).map(|at| bucket.order[at]),
                segments,
            ),
        }
    }

    /// The first of `entries` (in order of precedence) whose route matches `segments`.
    fn first_of(
        &self,
        mut entries: impl Iterator<Item = Entry>,
        segments: &Segments<'_>,
    ) -> Option<Matched> {
        let n = segments.len();
        entries.find_map(|entry| {
            if !entry.fits_length(n) {
                return None;
            }
            let route = &self.routes[entry.route];
            let last_end = segments.last_end_for(route.template.verb())?;
            matches(route, segments, last_end).then_some(Matched {
                route: entry.route,
                last_end,
            })
        })
    }

    fn matching_methods(&self, segments: &Segments<'_>) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .methods
            .iter()
            .filter(|b| self.first_match(b, segments).is_some())
            .map(|b| b.method.as_str())
            .collect();
        methods.sort_unstable();
        methods
    }
}

#[derive(Clone, Copy)]
struct Matched {
    route: usize,
    /// Where the last segment ends once the route's verb is cut off.
    last_end: usize,
}

/// Orders two templates, best first: verb routes (tried on the verb-split path first), then
/// literal < `*` < `**` segment by segment, then the longer, then the longer verb.
fn precedence(a: &PathTemplate, b: &PathTemplate) -> Ordering {
    fn rank(s: &Segment) -> u8 {
        match s {
            Segment::Literal(_) => 0,
            Segment::Wildcard => 1,
            Segment::DoubleWildcard => 2,
        }
    }
    let (va, vb) = (a.verb().map_or(0, str::len), b.verb().map_or(0, str::len));
    (vb > 0)
        .cmp(&(va > 0))
        .then_with(|| {
            let ranks = |t: &PathTemplate| t.segments().iter().map(rank).collect::<Vec<_>>();
            let (ra, rb) = (ranks(a), ranks(b));
            let common = ra.len().min(rb.len());
            ra[..common]
                .cmp(&rb[..common])
                .then(rb.len().cmp(&ra.len()))
        })
        .then(vb.cmp(&va))
}

/// Whether the route's segments match the path's (the verb, if any, already checked).
fn matches<T>(route: &Route<T>, segments: &Segments<'_>, last_end: usize) -> bool {
    let template = route.template.segments();
    let n = segments.len();
    // An empty segment (`//`) is only ever taken by a `**`, which is not checked here.
    let fits = |t: &Segment, i: usize| match t {
        Segment::Literal(lit) => segments.get(i, last_end) == lit.as_bytes(),
        Segment::Wildcard => !segments.get(i, last_end).is_empty(),
        Segment::DoubleWildcard => true,
    };
    // Compared from the end: the routes of a table mostly share their first segments
    // (`/v1/projects/*/locations/*/…`) and differ in their last collections, so a route that
    // does not match is told at its first comparison rather than at its sixth.
    match route.double_wildcard {
        None => n == template.len() && template.iter().enumerate().rev().all(|(i, t)| fits(t, i)),
        Some(d) => {
            let tail = template.len() - d - 1;
            n >= d + tail
                && template[d + 1..]
                    .iter()
                    .enumerate()
                    .rev()
                    .all(|(j, t)| fits(t, n - tail + j))
                && template[..d]
                    .iter()
                    .enumerate()
                    .rev()
                    .all(|(i, t)| fits(t, i))
        }
    }
}

/// Maps a template segment index (or the end index) to the path segment index, given that a
/// `**` stretches over whatever the segments around it leave.
fn path_index<T>(route: &Route<T>, path_len: usize, template_index: usize) -> usize {
    match route.double_wildcard {
        Some(d) if template_index > d => {
            let stretch = path_len + 1 - route.template.segments().len();
            template_index - 1 + stretch
        }
        _ => template_index,
    }
}
