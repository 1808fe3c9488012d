//! The import rule, checked: a module of the runtime names only modules on floors below its
//! own (the floors are listed in [`crate::rpc`]'s docs and in [`FLOORS`]). Reads every
//! `crate::` path in the sources, comments and string literals left out.

use std::path::{Path, PathBuf};

/// Every top-level module and its floor.
const FLOORS: &[(&str, u8)] = &[
    ("rpc", 0),
    ("version", 0),
    ("context", 1),
    ("deadline", 1),
    ("call", 2),
    ("server", 3),
    ("client", 3),
    ("gateway", 3),
    ("interceptors", 3),
    ("fake", 3),
    ("harness", 4),
    ("host", 4),
];

/// Items the crate root re-exports from a module, with that module. The root's other items
/// (`Status`, `Code`, `BoxStream`, …) are tonic's or plain type aliases, below every floor.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("Context", "context"),
    ("ResponseMetadata", "context"),
    ("wkt", "gateway"),
    ("codegen", "gateway"),
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
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
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
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut member_start = 0;
            for (at, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        paths.push((line, ident(&group[member_start..at])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.push((line, ident(&group[member_start..at])));
                        member_start = at + 1;
                    }
                    _ => {}
                }
            }
        } else {
            paths.push((line, ident(rest)));
        }
    }
    paths
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
