//! The import rule, checked: a module of the runtime names only modules on floors below its
//! own (the floors are listed in [`crate::rpc`]'s docs and in [`FLOORS`]). Reads every
//! `crate::` path in the sources, comments and string literals left out.

use std::path::{Path, PathBuf};

/// Every top-level module and its floor.
const FLOORS: &[(&str, u8)] = &[
    ("rpc", 0),
    ("version", 0),
    ("require", 0),
    ("json", 0),
    ("context", 1),
    ("wkt", 1),
    ("deadline", 1),
    ("call", 2),
    ("cors", 2),
    ("server", 3),
    ("client", 3),
    ("gateway", 3),
    ("interceptors", 3),
    ("fake", 3),
    ("harness", 5),
    ("host", 4),
];

/// Items the crate root re-exports from a module, with that module. The root's other items
/// (`Status`, `Code`, `BoxStream`, …) are tonic's or plain type aliases, below every floor.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("Context", "context"),
    ("ResponseMetadata", "context"),
    ("codegen", "wkt"),
];

fn floor(module: &str) -> Option<u8> {
    FLOORS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, floor)| *floor)
}

/// The module an item named right after `crate::` lives in, if it is one of the floors'.
fn module_of(item: &str) -> Option<&str> {
    if floor(item).is_some() {
        return Some(item);
    }
    ROOT_REEXPORTS
        .iter()
        .find(|(name, _)| *name == item)
        .map(|(_, module)| *module)
}

/// `source` with comments and the contents of string and char literals blanked out, line
/// breaks kept so that positions still name their line.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |out: &mut String, text: &[u8]| {
        out.extend(text.iter().map(|&b| if b == b'\n' { '\n' } else { ' ' }));
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        let end = if rest.starts_with(b"//") {
            i + rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            i + 2 + find(&rest[2..], b"*/").map_or(rest.len() - 2, |at| at + 2)
        } else if rest.starts_with(b"r#\"") || rest.starts_with(b"r\"") {
            let hashes = rest[1..].iter().take_while(|&&b| b == b'#').count();
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let open = 2 + hashes;
            i + open + find(&rest[open..], &close).map_or(rest.len() - open, |at| at + close.len())
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            i + (j + 1).min(rest.len())
        } else if rest[0] == b'\'' && rest.get(1) == Some(&b'\\') {
            i + 2
                + rest[2..]
                    .iter()
                    .position(|&b| b == b'\'')
                    .map_or(0, |at| at + 1)
        } else if rest[0] == b'\'' && rest.get(2) == Some(&b'\'') {
            i + 3
        } else {
            out.push(rest[0] as char);
            i += 1;
            continue;
        };
        blank(&mut out, &bytes[i..end.min(bytes.len())]);
        i = end;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The first segment of every `crate::` path in `code`, with its 1-based line; a group
/// (`crate::{a::B, c}`) gives each of its members.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        let preceded = code[..start].chars().next_back();
        if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        paths.extend(
            path_members(&code[from..])
                .into_iter()
                .map(|name| (line, name)),
        );
    }
    paths
}

/// The first segment after a path prefix (`crate::`, `super::`) at the start of `rest`: one
/// name, or each member of a group (`{a::B, c}` gives `a` and `c`).
fn path_members(rest: &str) -> Vec<String> {
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut found = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                found.push(ident(&group[start..at]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                found.push(ident(&group[start..at]));
                start = at + 1;
            }
            _ => {}
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_the_floors_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs");
        if matches!(module, "lib" | "floors") {
            continue;
        }
        let own = floor(module).unwrap_or_else(|| {
            panic!("module `{module}` has no floor: add it to FLOORS in floors.rs and to the list in rpc/mod.rs")
        });
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (line, item) in crate_paths(&code) {
            let Some(target) = module_of(&item) else {
                continue;
            };
            let theirs = floor(target).unwrap();
            if target != module && theirs >= own {
                violations.push(format!(
                    "src/{}:{line}: `{module}` (floor {own}) imports `crate::{item}` from `{target}` (floor {theirs})",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports sideways or up:\n{}",
        violations.join("\n")
    );
}

#[test]
fn comments_and_strings_are_not_imports() {
    let code = code_only(
        "use crate::rpc; // crate::client\nlet s = \"crate::server\"; let c = '\"';\n/* crate::gateway */ crate::{context::Context, call::X};",
    );
    let paths = crate_paths(&code);
    let items: Vec<_> = paths
        .iter()
        .map(|(line, item)| (*line, item.as_str()))
        .collect();
    assert_eq!(items, [(1, "rpc"), (3, "context"), (3, "call")]);
}

/// The sibling units (the files and directories directly under a module's directory, by
/// name) that the code of one unit names, with their lines: through `super::` as many times
/// as the file is deep in its unit, plus one, and through `crate::MODULE::`.
fn sibling_refs(code: &str, module: &str, depth: usize) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let up = "super::".repeat(depth + 1);
    let crate_module = format!("crate::{module}::");
    for prefix in [up.as_str(), crate_module.as_str()] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            let preceded = code[..start].chars().next_back();
            if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // Deeper than the module: `super::super::super::…` when `up` is two.
            if code[from..].starts_with("super::") {
                continue;
            }
            for name in path_members(&code[from..]) {
                if !name.is_empty() {
                    refs.push((line_of(start), name));
                }
            }
        }
    }
    refs
}

/// Every module directory's units and which units each names (see [`sibling_refs`]), with the
/// first place it does.
fn unit_graph(src: &Path, module: &str) -> Vec<(String, String, String)> {
    let dir = src.join(module);
    let module_path = module.replace('/', "::");
    let mut files = Vec::new();
    sources(&dir, &mut files);
    files.sort();
    let units: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.trim_end_matches(".rs").to_owned()
        })
        .filter(|name| name != "mod")
        .collect();
    // What the module's root brings in from its units (`pub use attempt::Attempt;`), so that
    // `super::Attempt` in a sibling is seen as naming `attempt`.
    let root = std::fs::read_to_string(dir.join("mod.rs"))
        .or_else(|_| std::fs::read_to_string(src.join(format!("{module}.rs"))))
        .unwrap_or_default();
    let root = code_only(&root);
    let mut reexports: Vec<(String, String)> = Vec::new();
    for statement in root.split(';') {
        let Some(at) = statement.find("use ") else {
            continue;
        };
        let path = statement[at + 4..].trim().trim_start_matches("self::");
        let Some((unit, rest)) = path.split_once("::") else {
            continue;
        };
        if !units.iter().any(|known| known == unit) {
            continue;
        }
        for piece in rest.split(['{', '}', ',']) {
            let piece = piece.trim();
            let name = match piece.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => piece.rsplit("::").next().unwrap_or(piece).trim(),
            };
            if !name.is_empty() && name != "self" && name != "*" {
                reexports.push((name.to_owned(), unit.to_owned()));
            }
        }
    }
    let mut edges = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&dir).unwrap();
        let parts: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        let unit = parts[0].trim_end_matches(".rs").to_owned();
        if unit == "mod" {
            continue;
        }
        // M/U.rs and M/U/mod.rs are U itself (depth 0); M/U/a.rs is one deeper, and so on.
        let depth =
            parts.len() - 1 - usize::from(parts.last().is_some_and(|last| last == "mod.rs"));
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (line, name) in sibling_refs(&code, &module_path, depth) {
            let name = reexports
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name, |(_, unit)| unit.clone());
            if name != unit && units.contains(&name) {
                let place = format!("src/{module}/{}:{line}", relative.display());
                if !edges
                    .iter()
                    .any(|(from, to, _): &(String, String, String)| from == &unit && to == &name)
                {
                    edges.push((unit.clone(), name, place));
                }
            }
        }
    }
    edges
}

/// The groups of units that import each other, directly or through others (strongly
/// connected components of more than one unit), each sorted, with the edges inside them.
fn unit_cycles(edges: &[(String, String, String)]) -> Vec<(Vec<String>, Vec<String>)> {
    let mut units: Vec<&str> = edges
        .iter()
        .flat_map(|(from, to, _)| [from.as_str(), to.as_str()])
        .collect();
    units.sort_unstable();
    units.dedup();
    fn reaches<'e>(edges: &'e [(String, String, String)], from: &'e str) -> Vec<&'e str> {
        let mut seen = vec![from];
        let mut next = vec![from];
        while let Some(unit) = next.pop() {
            for (a, b, _) in edges {
                if a == unit && !seen.contains(&b.as_str()) {
                    seen.push(b);
                    next.push(b);
                }
            }
        }
        seen
    }
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for unit in &units {
        if groups
            .iter()
            .any(|(group, _)| group.iter().any(|g| g == unit))
        {
            continue;
        }
        let mut group: Vec<String> = reaches(edges, unit)
            .into_iter()
            .filter(|other| reaches(edges, other).contains(unit))
            .map(str::to_owned)
            .collect();
        if group.len() < 2 {
            continue;
        }
        group.sort();
        let inside = edges
            .iter()
            .filter(|(a, b, _)| group.contains(a) && group.contains(b))
            .map(|(a, b, place)| format!("{a} -> {b} ({place})"))
            .collect();
        groups.push((group, inside));
    }
    groups
}

/// Every directory of modules under `dir`, relative to `src`, `/`-separated.
fn module_dirs(src: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let relative = path.strip_prefix(src).unwrap();
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
            module_dirs(src, &path, out);
        }
    }
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    // The floors order the top-level modules; inside one, its files (and directories) may
    // import one another only one way, so that each can be read, changed and tested from the
    // ones below it. A cycle, however long, is a violation.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = Vec::new();
    module_dirs(&src, &src, &mut dirs);
    dirs.sort();
    let mut violations = Vec::new();
    for module in &dirs {
        for (group, inside) in unit_cycles(&unit_graph(&src, module)) {
            violations.push(format!(
                "{module}: {} import one another:",
                group.join(", ")
            ));
            violations.extend(inside.into_iter().map(|edge| format!("    {edge}")));
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn sibling_references_and_cycles_are_found() {
    let code = code_only(
        "use super::a::X;\nuse super::{b, c::D};\nlet e = crate::client::e::F;\n\
         use super::super::outer::G; // super::z\n",
    );
    let refs = sibling_refs(&code, "client", 0);
    let expected = [(1, "a"), (2, "b"), (2, "c"), (3, "e")].map(|(l, n)| (l, n.to_owned()));
    assert_eq!(refs, expected);
    // One level deeper (client/unit/file.rs), `super::super::` names the siblings.
    let deep = sibling_refs(&code, "client", 1);
    assert_eq!(deep, [(4, "outer".to_owned()), (3, "e".to_owned())]);

    let edge = |from: &str, to: &str| (from.to_owned(), to.to_owned(), String::new());
    let edges = [
        edge("a", "b"),
        edge("b", "c"),
        edge("c", "a"),
        edge("c", "d"),
    ];
    let groups = unit_cycles(&edges);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].0, ["a", "b", "c"]);
    assert!(unit_cycles(&[edge("a", "b"), edge("b", "c")]).is_empty());
}
