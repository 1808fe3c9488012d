//! An index over one method's routes, so that a lookup in a large table tries only the routes
//! that could match: those of the path's number of segments whose literals at a few chosen
//! positions are the path's segments there (or that have a variable there), and those with a
//! `**`.
//!
//! The routes tried keep their order of precedence, and a route left out could not have
//! matched (its length or one of its literals differs from the path's), so a lookup answers
//! what a walk over every route answers. Tables of googleapis' size (aiplatform v1: 370 routes,
//! most of them `/v1/projects/*/locations/*/…`; compute v1: 993) spent thousands of
//! instructions a lookup on that walk. Small tables are walked: the index's hashing would cost
//! them more than it saves.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::segments::Segments;
use super::{Entry, Route};
use crate::template::Segment;

/// Up to this many routes, a method's routes are walked, not indexed.
pub(super) const WALK_AT_MOST: usize = 8;

/// A node of the index with this many routes or fewer is not split further.
const LEAF_AT_MOST: usize = 4;

/// How many positions of a path a lookup keys on at most: a bound on the index's size, as a
/// route with a variable at a split position is kept on every side of the split.
const SPLITS_AT_MOST: usize = 4;

/// How many times a length's routes its index may hold, for the same reason: the splits of a
/// node share out what it may hold by the size of their sides.
const COPIES_AT_MOST: usize = 8;

/// The index of one method's routes: positions in its order of precedence.
pub(super) struct Index {
    /// The routes without a `**`, by their number of segments (the vector's index).
    by_length: Vec<Option<Node>>,
    /// The routes with a `**`, which match paths of many lengths.
    stretchy: Vec<u32>,
}

/// Routes of one number of segments, ascending, or split by their segment at one position.
enum Node {
    Routes(Vec<u32>),
    Split {
        /// The position split on.
        key: usize,
        /// The routes whose segment at `key` is this literal (the whole segment), with those
        /// that have a variable there. At the last position only the routes without a verb
        /// are split: a verb's route matches a last segment that ends with it, its literal
        /// being the rest.
        by_literal: HashMap<Box<[u8]>, Node, BuildHasherDefault<Fnv>>,
        /// The routes with a variable at `key`: those that a segment no literal matches can
        /// match.
        otherwise: Box<Node>,
    },
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
        let mut by_length: Vec<Option<Node>> = (0..=longest).map(|_| None).collect();
        for (length, members) in lengths {
            let literal_at = |at: u32, position: usize| {
                let template = &routes[order[at as usize].route].template;
                match &template.segments()[position] {
                    Segment::Literal(_) if position + 1 == length && template.verb().is_some() => {
                        None
                    }
                    Segment::Literal(literal) => Some(literal.as_bytes()),
                    _ => None,
                }
            };
            let budget = COPIES_AT_MOST * members.len();
            let node = Node::new(members, length, &literal_at, SPLITS_AT_MOST, budget);
            by_length[length] = Some(node);
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
        let mut node = self.by_length.get(segments.len()).and_then(Option::as_ref);
        let exact = loop {
            match node {
                None => break &[][..],
                Some(Node::Routes(routes)) => break routes.as_slice(),
                Some(Node::Split {
                    key,
                    by_literal,
                    otherwise,
                }) => {
                    node = Some(by_literal.get(segments.whole(*key)).unwrap_or(otherwise));
                }
            }
        };
        Merged {
            lists: [exact, &self.stretchy],
        }
    }
}

impl Node {
    /// `members` (ascending) split at the position that leaves the fewest to try in the worst
    /// case, and each side again, `splits` times at most, while a split leaves fewer; the
    /// sides hold `budget` routes at most, all levels together.
    fn new<'t>(
        members: Vec<u32>,
        length: usize,
        literal_at: &impl Fn(u32, usize) -> Option<&'t [u8]>,
        splits: usize,
        budget: usize,
    ) -> Self {
        if members.len() <= LEAF_AT_MOST || splits == 0 {
            return Node::Routes(members);
        }
        // A split at `position`: the most routes one side has (those sharing one literal
        // there, plus those with a variable there, which every side keeps), and how many the
        // sides have together.
        let split_at = |position: usize| {
            let mut counts: HashMap<&[u8], usize> = HashMap::new();
            let mut variables = 0;
            for &at in &members {
                match literal_at(at, position) {
                    Some(literal) => *counts.entry(literal).or_default() += 1,
                    None => variables += 1,
                }
            }
            let largest = variables + counts.values().copied().max().unwrap_or(0);
            let total = members.len() + variables * counts.len();
            (largest, total)
        };
        // The position that leaves the fewest routes to try in the worst case, if it leaves
        // fewer than there are and its sides fit the node's `budget` (a table whose routes
        // have variables where the others have literals would otherwise have them copied to
        // every side, at every level).
        let best = (0..length)
            .map(|position| (split_at(position), position))
            .filter(|&((largest, total), _)| largest < members.len() && total <= budget)
            .min_by_key(|&((largest, _), position)| (largest, position));
        let Some(((_, total), key)) = best else {
            return Node::Routes(members);
        };
        let mut sides: HashMap<&[u8], Vec<u32>> = HashMap::new();
        let mut otherwise = Vec::new();
        for &at in &members {
            match literal_at(at, key) {
                Some(literal) => sides.entry(literal).or_default().push(at),
                None => otherwise.push(at),
            }
        }
        let by_literal = sides
            .into_iter()
            .map(|(literal, mut side)| {
                // The routes with a variable at `key` match this literal too: merged in, the
                // side stays in order of precedence.
                side.extend_from_slice(&otherwise);
                side.sort_unstable();
                let share = budget * side.len() / total;
                let node = Node::new(side, length, literal_at, splits - 1, share);
                (Box::from(literal), node)
            })
            .collect();
        let share = budget * otherwise.len() / total;
        let otherwise = Box::new(Node::new(otherwise, length, literal_at, splits - 1, share));
        Node::Split {
            key,
            by_literal,
            otherwise,
        }
    }
}

/// Ascending lists of positions merged into one ascending walk (a position is in one list
/// only).
struct Merged<'i> {
    lists: [&'i [u32]; 2],
}

impl Iterator for Merged<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let [first, second] = &mut self.lists;
        let list = match (first.first(), second.first()) {
            (None, None) => return None,
            (Some(a), Some(b)) if b < a => second,
            (Some(_), _) => first,
            (None, Some(_)) => second,
        };
        let (&least, rest) = list.split_first()?;
        *list = rest;
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

    /// [`TEMPLATES`] and, as compute v1 has them, collections that share their custom methods'
    /// names (five of each): no one position splits them into sides of a few routes, two do;
    /// and routes of the same shape with variables where those have literals.
    fn templates() -> Vec<String> {
        let mut templates: Vec<String> = TEMPLATES.iter().map(|t| (*t).to_owned()).collect();
        for collection in ["instances", "disks", "nodes", "images", "routers"] {
            for method in ["start", "stop", "reset", "resize", "move"] {
                templates.push(format!(
                    "/compute/v1/projects/{{project}}/zones/{{zone}}/{collection}/{{id}}/{method}"
                ));
            }
        }
        // Variables where the others have literals: kept on every side of the splits.
        templates.push("/compute/v1/projects/{project}/zones/{zone}/instances/{id}/{m}".into());
        templates.push("/compute/v1/projects/{project}/zones/{zone}/{kind}/{id}/{m}".into());
        templates
    }

    fn table() -> RouteTable<usize> {
        let mut table = RouteTable::new();
        for (i, template) in templates().iter().enumerate() {
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
            next.push(format!("/v1/{}", words[..=depth].join("/")));
            frontier = next;
        }
        paths.extend(frontier);
        // And each template made a path: its variables filled (a `**` with none to two
        // segments), with its own verb, none and another, and with one literal at a time
        // replaced, so that every route is reached, and the routes next to it tried.
        for template in templates() {
            let template = PathTemplate::parse(&template).unwrap();
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

    /// How many splits the deepest lookup in `index` goes through.
    fn depth(index: &Index) -> usize {
        fn of(node: &Node) -> usize {
            match node {
                Node::Routes(_) => 0,
                Node::Split {
                    by_literal,
                    otherwise,
                    ..
                } => {
                    1 + by_literal
                        .values()
                        .chain([&**otherwise])
                        .map(of)
                        .max()
                        .unwrap_or(0)
                }
            }
        }
        index.by_length.iter().flatten().map(of).max().unwrap_or(0)
    }

    #[test]
    fn the_index_finds_what_a_walk_over_every_route_finds() {
        let table = table();
        let bucket = table.bucket("GET").unwrap();
        // The table is split more than once, so the sides' merged variables are tried too.
        assert!(depth(bucket.index(&table.routes).unwrap()) >= 2);
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
    fn routes_with_variables_where_the_others_have_literals_are_not_copied_without_bound() {
        // 4 × 50 routes of 4 segments, each with one literal, at a different position for
        // each fifty: split anywhere, a side would hold its literal's route and the 150 with
        // a variable there.
        let mut table = RouteTable::new();
        let mut paths = Vec::new();
        for position in 0..4 {
            for j in 0..50 {
                let mut segments = vec!["*".to_owned(); 4];
                segments[position] = format!("l{position}x{j}");
                let template = format!("/{}", segments.join("/"));
                table
                    .insert("GET", PathTemplate::parse(&template).unwrap(), ())
                    .unwrap();
                paths.push(template.replace('*', "w"));
                paths.push(template.replace('*', &format!("l{}x{j}", (position + 1) % 4)));
            }
        }
        fn held(node: &Node) -> usize {
            match node {
                Node::Routes(routes) => routes.len(),
                Node::Split {
                    by_literal,
                    otherwise,
                    ..
                } => by_literal.values().chain([&**otherwise]).map(held).sum(),
            }
        }
        let bucket = table.bucket("GET").unwrap();
        let index = bucket.index(&table.routes).unwrap();
        let copies: usize = index.by_length.iter().flatten().map(held).sum();
        assert!(copies <= COPIES_AT_MOST * 200, "{copies}");
        for path in &paths {
            assert_eq!(
                indexed(&table, "GET", path),
                walked(&table, "GET", path),
                "{path}"
            );
        }
    }

    #[test]
    fn a_route_replaced_after_a_lookup_is_found_through_the_same_index() {
        let mut table = table();
        let path = "/v1/projects/p/locations/l/models/m:export";
        assert_eq!(table.find("GET", path).map(|f| *f.value), Some(6));
        let template = PathTemplate::parse("/v1/{model=projects/*/locations/*/models/*}:export");
        let replaced = table.insert_or_replace("GET", template.unwrap(), 99);
        assert_eq!(replaced.map(|(_, value)| value), Some(6));
        let found = table.find("GET", path).unwrap();
        assert_eq!((*found.value, found.field_path(0)), (99, "model"));
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
