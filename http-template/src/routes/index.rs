//! An index over one method's routes, so that a lookup in a large table tries only the routes
//! that could match: those of the path's number of segments whose literal at one chosen
//! position is the path's segment there (or that have a variable there), and those with a `**`.
//!
//! The routes tried keep their order of precedence, and a route left out could not have
//! matched (its length or its literal differs from the path's), so a lookup answers what a
//! walk over every route answers. A table of googleapis' size (aiplatform v1: 370 routes, most
//! of them `/v1/projects/*/locations/*/…`) spent thousands of instructions a lookup on that
//! walk. Small tables are walked: the index's hashing would cost them more than it saves.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::segments::Segments;
use super::{Entry, Route};
use crate::template::Segment;

/// Up to this many routes, a method's routes are walked, not indexed.
pub(super) const WALK_AT_MOST: usize = 8;

/// The index of one method's routes: positions in its order of precedence.
pub(super) struct Index {
    /// The routes without a `**`, by their number of segments (the vector's index).
    by_length: Vec<Option<Group>>,
    /// The routes with a `**`, which match paths of many lengths.
    stretchy: Vec<u32>,
}

/// The routes of one number of segments, by their literal at `key`.
struct Group {
    /// The position keyed on.
    key: Option<usize>,
    /// The routes whose segment at `key` is this literal, the whole segment. At the last
    /// position only the routes without a verb are keyed: a verb's route matches a last
    /// segment that ends with it, its literal being the rest.
    by_literal: HashMap<Box<[u8]>, Vec<u32>, BuildHasherDefault<Fnv>>,
    /// The routes with a variable at `key` (all of them when there is no key).
    others: Vec<u32>,
}

impl Index {
    pub(super) fn new<T>(order: &[Entry], routes: &[Route<T>]) -> Self {
        let mut stretchy = Vec::new();
        let mut lengths: HashMap<usize, Vec<u32>> = HashMap::new();
        for (at, entry) in order.iter().enumerate() {
            let at = u32::try_from(at).expect("a method has fewer than 2^32 routes");
            if entry.double_wildcard {
                stretchy.push(at);
            } else {
                lengths.entry(entry.segments).or_default().push(at);
            }
        }
        let longest = lengths.keys().copied().max().unwrap_or(0);
        let mut by_length: Vec<Option<Group>> = (0..=longest).map(|_| None).collect();
        for (length, members) in lengths {
            by_length[length] = Some(Group::new(length, members, order, routes));
        }
        Index {
            by_length,
            stretchy,
        }
    }

    /// The positions of the routes that may match `segments`, in order of precedence.
    pub(super) fn candidates<'i>(
        &'i self,
        segments: &Segments<'_>,
    ) -> impl Iterator<Item = usize> + 'i {
        let (keyed, others): (&[u32], &[u32]) = match self.by_length.get(segments.len()) {
            None | Some(None) => (&[], &[]),
            Some(Some(group)) => match group.key {
                None => (&[], &group.others),
                Some(key) => {
                    let segment = segments.whole(key);
                    let keyed = group.by_literal.get(segment).map_or(&[][..], Vec::as_slice);
                    (keyed, &group.others)
                }
            },
        };
        Merged {
            lists: [keyed, others, &self.stretchy],
        }
    }
}

impl Group {
    fn new<T>(length: usize, members: Vec<u32>, order: &[Entry], routes: &[Route<T>]) -> Self {
        let literal_at = |at: u32, position: usize| {
            let template = &routes[order[at as usize].route].template;
            match &template.segments()[position] {
                Segment::Literal(_) if position + 1 == length && template.verb().is_some() => None,
                Segment::Literal(literal) => Some(literal.as_bytes()),
                _ => None,
            }
        };
        // The position that leaves the fewest routes to try in the worst case: the most
        // routes sharing one literal there, plus those with a variable there.
        let key = (0..length).min_by_key(|&position| {
            let mut counts: HashMap<&[u8], usize> = HashMap::new();
            let mut variables = 0;
            for &at in &members {
                match literal_at(at, position) {
                    Some(literal) => *counts.entry(literal).or_default() += 1,
                    None => variables += 1,
                }
            }
            variables + counts.values().copied().max().unwrap_or(0)
        });
        let mut by_literal: HashMap<Box<[u8]>, Vec<u32>, _> = HashMap::default();
        let mut others = Vec::new();
        for at in members {
            match key.and_then(|key| literal_at(at, key)) {
                Some(literal) => by_literal.entry(literal.into()).or_default().push(at),
                None => others.push(at),
            }
        }
        Group {
            key,
            by_literal,
            others,
        }
    }
}

/// Three ascending lists of positions merged into one ascending walk (a position is in one
/// list only).
struct Merged<'i> {
    lists: [&'i [u32]; 3],
}

impl Iterator for Merged<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let (list, &least) = self
            .lists
            .iter()
            .enumerate()
            .filter_map(|(i, list)| list.first().map(|first| (i, first)))
            .min_by_key(|&(_, first)| *first)?;
        self.lists[list] = &self.lists[list][1..];
        Some(least as usize)
    }
}

/// FNV-1a, a few instructions a byte where the standard hasher's SipHash costs a hundred and
/// more a lookup. Keyed hashing guards a map against keys chosen to collide as they are
/// inserted; this map's keys are the templates' literals, and a request's segment is only
/// looked up, so it meets at most the collisions among those.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u64 = 0x0100_0000_01b3;
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PathTemplate, RouteTable};
    use super::*;

    /// The template of the first route of `method` matching `path`, every route tried in turn.
    fn walked<'t, T>(table: &'t RouteTable<T>, method: &str, path: &str) -> Option<&'t str> {
        let segments = Segments::split(path)?;
        let bucket = table.bucket(method)?;
        let found = table.first_of(bucket.order.iter().copied(), &segments)?;
        Some(table.routes[found.route].template.as_str())
    }

    /// The same through the index.
    fn indexed<'t, T>(table: &'t RouteTable<T>, method: &str, path: &str) -> Option<&'t str> {
        let segments = Segments::split(path)?;
        let bucket = table.bucket(method)?;
        assert!(bucket.index(&table.routes).is_some(), "{method} is indexed");
        let found = table.first_match(bucket, &segments)?;
        Some(table.routes[found.route].template.as_str())
    }

    /// Templates as googleapis writes them (collections under `projects/*/locations/*`, custom
    /// methods, the same shape with and without a verb) and the shapes that test the index's
    /// edges: a literal and a variable at the keyed position, `**` before and after literals,
    /// a verb after a literal, after `*` and one holding a `:`, and one segment alone.
    const TEMPLATES: &[&str] = &[
        "/v1/{name=projects/*/locations/*/endpoints/*}",
        "/v1/{parent=projects/*/locations/*}/endpoints",
        "/v1/{endpoint=projects/*/locations/*/endpoints/*}:predict",
        "/v1/{endpoint=projects/*/locations/*/endpoints/*}:explain",
        "/v1/{name=projects/*/locations/*/endpoints/*}:deployModel",
        "/v1/{name=projects/*/locations/*/models/*}",
        "/v1/{name=projects/*/locations/*/models/*}:export",
        "/v1/{parent=projects/*/locations/*}/models",
        "/v1/{parent=projects/*/locations/*}/models:upload",
        "/v1/{name=projects/*/locations/*/models/*/evaluations/*}",
        "/v1/{name=projects/*/locations/*/*/*/operations/*}",
        "/v1/{name=projects/*/locations/*/datasets/*/operations/*}",
        "/v1/{name=projects/*/locations/*}/datasets/default",
        "/v1/{name=projects/*/locations/*/datasets/*}",
        "/v1/{name=projects/*/locations/*/datasets/*}:a:b",
        "/v1/{name=projects/*/locations/*/datasets/*}:b",
        "/v1/projects/{project}/locations/{location}/datasets:search",
        "/v1/projects/{project}/locations/{location}/datasets",
        "/v1/{name=**}/operations",
        "/v1/{name=projects/**}",
        "/v1/projects/*/locations/*/files/{path=**}:download",
        "/v1/projects/*/files/{path=**}",
        "/v1/{name=*}",
        "/v1",
        "/{a}",
        "/{a}:verb",
        "/v1/projects/p/locations/l/endpoints/e",
    ];

    fn table() -> RouteTable<usize> {
        let mut table = RouteTable::new();
        for (i, template) in TEMPLATES.iter().enumerate() {
            let template = PathTemplate::parse(template).expect(template);
            for method in ["GET", "POST"] {
                table.insert(method, template.clone(), i).unwrap();
            }
        }
        table
    }

    /// Paths made of the templates' literals and verbs, variables' values that are also
    /// literals, empty segments and trailing slashes, and two-byte characters: every path of
    /// up to eight segments over a small alphabet would be too many, so each position draws
    /// from its own short list.
    fn paths() -> Vec<String> {
        let firsts = ["v1", "v2", "x"];
        let words = [
            "projects",
            "p",
            "locations",
            "l",
            "endpoints",
            "e",
            "models",
            "datasets",
            "default",
            "operations",
            "files",
            "",
            "é",
            "*",
        ];
        let verbs = [
            "",
            ":predict",
            ":explain",
            ":a:b",
            ":b",
            ":verb",
            ":download",
            ":",
        ];
        let mut paths = vec![
            "/".to_owned(),
            "//".to_owned(),
            "/v1".to_owned(),
            "/v1/".to_owned(),
        ];
        let mut frontier: Vec<String> = firsts.iter().map(|first| format!("/{first}")).collect();
        for depth in 0..7 {
            let mut next = Vec::new();
            for (i, prefix) in frontier.iter().enumerate() {
                for verb in verbs {
                    paths.push(format!("{prefix}{verb}"));
                }
                paths.push(format!("{prefix}/"));
                // A fraction of the tree: the words in turn, two per prefix and depth.
                for k in 0..3 {
                    let word = words[(i * 3 + k + depth * 5) % words.len()];
                    next.push(format!("{prefix}/{word}"));
                }
            }
            // The googleapis spine as well, whatever the draw.
            next.push(
                [
                    "",
                    "v1",
                    "projects",
                    "p",
                    "locations",
                    "l",
                    "endpoints",
                    "e",
                    "x",
                ][..depth + 3]
                    .join("/"),
            );
            frontier = next;
        }
        paths.extend(frontier);
        // And each template made a path: its variables filled (a `**` with none to two
        // segments), with its own verb, none and another, and with one literal at a time
        // replaced, so that every route is reached, and the routes next to it tried.
        for template in TEMPLATES {
            let template = PathTemplate::parse(template).unwrap();
            let segments = template.segments();
            for replaced in (0..=segments.len()).map(Some).chain([None]) {
                for stretch in ["", "/d", "/d/e"] {
                    let mut path = String::new();
                    for (i, segment) in segments.iter().enumerate() {
                        match segment {
                            _ if replaced == Some(i) => path.push_str("/w"),
                            Segment::Literal(literal) => {
                                path.push('/');
                                path.push_str(literal);
                            }
                            Segment::Wildcard => path.push_str("/w"),
                            Segment::DoubleWildcard => path.push_str(stretch),
                        }
                    }
                    let own = template.verb().map(|verb| format!(":{verb}"));
                    for verb in [own.as_deref().unwrap_or(""), "", ":other"] {
                        paths.push(format!("{path}{verb}"));
                    }
                }
            }
        }
        paths
    }

    #[test]
    fn the_index_finds_what_a_walk_over_every_route_finds() {
        let table = table();
        let paths = paths();
        assert!(paths.len() > 5_000, "{}", paths.len());
        let mut found = 0;
        for path in &paths {
            for method in ["GET", "POST"] {
                let walked = walked(&table, method, path);
                assert_eq!(indexed(&table, method, path), walked, "{method} {path}");
                found += usize::from(walked.is_some());
            }
        }
        // The paths reach the routes, not only the misses.
        assert!(found > paths.len() / 4, "{found} of {}", 2 * paths.len());
    }

    #[test]
    fn a_route_added_after_a_lookup_is_found() {
        let mut table = table();
        let path = "/v2/projects/p/widgets/w";
        assert_eq!(table.find("GET", path).map(|f| *f.value), None);
        let template = PathTemplate::parse("/v2/{name=projects/*/widgets/*}").unwrap();
        table.insert("GET", template, 99).unwrap();
        assert_eq!(table.find("GET", path).map(|f| *f.value), Some(99));
    }

    #[test]
    fn fnv_is_fnv_1a() {
        // The published test vectors of 64-bit FNV-1a.
        let hash = |bytes: &[u8]| {
            let mut fnv = Fnv::default();
            fnv.write(bytes);
            fnv.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
