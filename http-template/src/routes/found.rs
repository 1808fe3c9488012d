//! A route that matched, its variables still as the path has them: what [`RouteTable::find`]
//! answers, and what [`RouteTable::lookup`] decodes into [`Binding`]s.

use std::borrow::Cow;
use std::fmt;

use super::segments::Segments;
use super::{Binding, Lookup, Route, RouteMatch, path_index};
use crate::percent;
use crate::template::PathTemplate;

/// A route that matched a request ([`RouteTable::find`](super::RouteTable::find)), with the
/// text of each of its variables in the request's path, decoded only when asked.
pub struct Found<'a, 'p, T> {
    /// The value inserted with the route.
    pub value: &'a T,
    /// The route's template.
    pub template: &'a PathTemplate,
    route: &'a Route<T>,
    /// Where the path's last segment ends once the route's verb is cut off.
    last_end: usize,
    segments: Segments<'p>,
}

impl<T> fmt::Debug for Found<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw: Vec<_> = (0..self.len()).map(|i| self.raw(i)).collect();
        f.debug_struct("Found")
            .field("template", &self.template.as_str())
            .field("raw", &raw)
            .finish_non_exhaustive()
    }
}

impl<'a, 'p, T> Found<'a, 'p, T> {
    pub(super) fn new(route: &'a Route<T>, last_end: usize, segments: Segments<'p>) -> Self {
        Found {
            value: &route.value,
            template: &route.template,
            route,
            last_end,
            segments,
        }
    }

    /// The number of the template's variables.
    pub fn len(&self) -> usize {
        self.route.names.len()
    }

    /// Whether the template has no variable.
    pub fn is_empty(&self) -> bool {
        self.route.names.is_empty()
    }

    /// Variable `i`'s dotted field path, `"a.b.c"` (`i` in template order, below
    /// [`len`](Self::len)).
    pub fn field_path(&self, i: usize) -> &'a str {
        &self.route.names[i]
    }

    /// Variable `i`'s text in the path, its escapes as sent (a multi-segment variable's
    /// separators included).
    pub fn raw(&self, i: usize) -> &'p str {
        let range = self.route.template.variables()[i].segments();
        let n = self.segments.len();
        self.segments.raw_span(
            path_index(self.route, n, range.start),
            path_index(self.route, n, range.end),
            self.last_end,
        )
    }

    /// Variable `i`'s value, percent-decoded as [`Binding::value`] is (a multi-segment
    /// variable keeps the escapes of reserved characters); borrowed from the path when it has
    /// no escape. The error is what [`Lookup::InvalidEncoding`] says of it.
    pub fn decoded(&self, i: usize) -> Result<Cow<'p, str>, String> {
        let multi = self.route.template.variables()[i].is_multi_segment();
        percent::decode(self.raw(i), multi).map_err(|error| error.to_string())
    }

    /// The [`Lookup`] answer: the bindings decoded, or the first variable that does not
    /// decode.
    pub(super) fn bind(self) -> Lookup<'a, T> {
        let mut bindings = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            match self.decoded(i) {
                Ok(value) => bindings.push(Binding {
                    field_path: self.route.names[i].clone(),
                    value: value.into_owned(),
                }),
                Err(message) => {
                    return Lookup::InvalidEncoding {
                        variable: self.route.names[i].clone(),
                        message,
                    };
                }
            }
        }
        Lookup::Found(RouteMatch {
            value: self.value,
            template: self.template,
            bindings,
        })
    }
}
