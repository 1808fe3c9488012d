//! The guide (an mdBook under docs/) and the front pages that point into it: every chapter is in
//! SUMMARY.md and every SUMMARY.md entry is a chapter, every link between them, into the
//! repository or to a heading resolves, every `{{#include}}` finds its file and anchor, and every
//! chapter with Rust blocks is compiled as this crate's doctests (src/lib.rs). `mdbook build`
//! itself runs in CI (`.ci/run`); it does not check links.
//!
//! Markdown is read with pulldown-cmark, the parser mdBook uses, and headings get mdBook's ids
//! (lowercased; letters, digits, `_` and `-` kept, whitespace to `-`, the rest dropped), which
//! are GitHub's too for the headings written here.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// The repository's address: links written as this prefix + `blob/main/PATH` or
/// `tree/main/PATH` must name a file or directory of the checkout.
const REPOSITORY: &str = "https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// What the checks need of one markdown file.
#[derive(Debug, Default)]
struct Page {
    /// Link destinations, in order.
    links: Vec<String>,
    /// Heading ids, as mdBook (and GitHub) make them.
    ids: BTreeSet<String>,
    /// The info strings of the fenced code blocks.
    fences: Vec<String>,
    /// The text of the fenced code blocks, for `{{#include}}`.
    code: Vec<String>,
}

/// A heading's id from its text, as mdBook's `id_from_content`.
fn heading_id(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| match ch {
            ch if ch.is_alphanumeric() || ch == '_' || ch == '-' => Some(ch),
            ch if ch.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}

fn read_page(markdown: &str) -> Page {
    let mut page = Page::default();
    let mut heading: Option<String> = None;
    let mut code: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                page.links.push(dest_url.into_string());
            }
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let text = heading.take().unwrap_or_default();
                let mut id = heading_id(&text);
                // A repeated heading gets `-1`, `-2`… as mdBook numbers them.
                let mut counter = 0;
                while page.ids.contains(&id) {
                    counter += 1;
                    id = format!("{}-{counter}", heading_id(&text));
                }
                page.ids.insert(id);
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = heading.as_mut() {
                    heading.push_str(&text);
                }
                if let Some(code) = code.as_mut() {
                    code.push_str(&text);
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                if let CodeBlockKind::Fenced(info) = kind {
                    page.fences.push(info.into_string());
                }
                code = Some(String::new());
            }
            Event::End(TagEnd::CodeBlock) => page.code.extend(code.take()),
            _ => {}
        }
    }
    page
}

/// `base` joined with the relative `path`, `..` resolved without touching the file system.
fn join(base: &Path, path: &str) -> PathBuf {
    let mut joined = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::ParentDir => {
                joined.pop();
            }
            Component::CurDir => {}
            other => joined.push(other),
        }
    }
    joined
}

/// The markdown files whose links are checked: the README, the guide, the benchmark pages.
fn pages() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![
        root.join("README.md"),
        root.join("bench/README.md"),
        root.join("ARCHITECTURE.md"),
    ];
    files.extend(
        chapters()
            .into_iter()
            .map(|chapter| root.join("docs/src").join(chapter)),
    );
    files.push(root.join("docs/src/SUMMARY.md"));
    files
}

/// Every markdown file under docs/src but SUMMARY.md, relative to it.
fn chapters() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                let relative = path.strip_prefix(base).unwrap().to_str().unwrap();
                if relative != "SUMMARY.md" {
                    out.push(relative.to_owned());
                }
            }
        }
    }
    let base = root().join("docs/src");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

/// Checks one link of `from`; the problem, if any.
fn check_link(from: &Path, link: &str, pages: &mut HashMap<PathBuf, Page>) -> Result<(), String> {
    let root = root();
    let (target, fragment) = if let Some(in_repository) = link.strip_prefix(REPOSITORY) {
        let (kind, path) = in_repository
            .split_once("/main/")
            .ok_or("not a blob/main or tree/main address")?;
        let (path, fragment) = path.split_once('#').unwrap_or((path, ""));
        let target = root.join(path);
        match kind {
            "blob" if target.is_file() => {}
            "tree" if target.is_dir() => {}
            "blob" | "tree" => return Err(format!("no {kind} `{path}` in the repository")),
            _ => return Err("neither blob nor tree".to_owned()),
        }
        (target, fragment)
    } else if link.contains("://") || link.starts_with("mailto:") {
        // Outside the repository: not checked offline.
        return Ok(());
    } else {
        let (path, fragment) = link.split_once('#').unwrap_or((link, ""));
        let target = if path.is_empty() {
            from.to_path_buf()
        } else {
            join(from.parent().unwrap(), path)
        };
        if !target.exists() {
            return Err(format!("`{}` does not exist", target.display()));
        }
        if !target.starts_with(&root) {
            return Err("points outside the repository".to_owned());
        }
        (target, fragment)
    };
    if fragment.is_empty() || target.extension().is_none_or(|ext| ext != "md") {
        return Ok(());
    }
    let page = pages
        .entry(target.clone())
        .or_insert_with(|| read_page(&std::fs::read_to_string(&target).unwrap()));
    if page.ids.contains(fragment) {
        Ok(())
    } else {
        Err(format!(
            "`{}` has no heading `#{fragment}`",
            target.display()
        ))
    }
}

#[test]
fn every_link_of_the_guide_and_front_pages_resolves() {
    let mut cache = HashMap::new();
    let mut broken = Vec::new();
    let mut count = 0;
    for file in pages() {
        let page = read_page(&std::fs::read_to_string(&file).unwrap());
        for link in &page.links {
            count += 1;
            if let Err(problem) = check_link(&file, link, &mut cache) {
                broken.push(format!("{}: {link}: {problem}", file.display()));
            }
        }
    }
    assert!(
        count > 100,
        "only {count} links read: is the parser reading them?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The crates' front pages (their rustdoc) link the guide: those addresses must name files of
/// the checkout, and their anchors headings, as the markdown's do.
#[test]
fn the_crates_front_pages_link_the_guide() {
    let root = root();
    let mut cache = HashMap::new();
    for crate_root in [
        "runtime/src/lib.rs",
        "protoc-gen-rust-svc/src/lib.rs",
        "http-template/src/lib.rs",
    ] {
        let file = root.join(crate_root);
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: String = text
            .lines()
            .filter_map(|line| line.strip_prefix("//!"))
            .map(|line| format!("{line}\n"))
            .collect();
        let page = read_page(&docs);
        let guide: Vec<&String> = page
            .links
            .iter()
            .filter(|link| link.starts_with(REPOSITORY))
            .collect();
        assert!(
            guide.iter().any(|link| link.contains("/docs/src/")),
            "{crate_root}'s front page does not link the guide"
        );
        for link in guide {
            if let Err(problem) = check_link(&file, link, &mut cache) {
                panic!("{crate_root}: {link}: {problem}");
            }
        }
    }
}

#[test]
fn summary_lists_every_chapter_and_only_chapters() {
    let root = root();
    let summary = read_page(&std::fs::read_to_string(root.join("docs/src/SUMMARY.md")).unwrap());
    let listed: BTreeSet<String> = summary.links.iter().cloned().collect();
    let chapters: BTreeSet<String> = chapters().into_iter().collect();
    assert_eq!(
        listed, chapters,
        "docs/src/SUMMARY.md and the files under docs/src differ"
    );
}

#[test]
fn every_include_finds_its_file_and_anchor() {
    let root = root();
    let mut includes = 0;
    for chapter in chapters() {
        let file = root.join("docs/src").join(&chapter);
        let page = read_page(&std::fs::read_to_string(&file).unwrap());
        for code in &page.code {
            for directive in code.match_indices("{{#include ").map(|(at, _)| &code[at..]) {
                let end = directive
                    .find("}}")
                    .expect("an include directive ends with }}");
                let argument = directive["{{#include ".len()..end].trim();
                let (path, anchor) = argument.split_once(':').unwrap_or((argument, ""));
                let target = join(file.parent().unwrap(), path);
                let text = std::fs::read_to_string(&target)
                    .unwrap_or_else(|_| panic!("{chapter}: `{path}` does not exist"));
                if !anchor.is_empty() && anchor.parse::<u32>().is_err() {
                    for marker in [format!("ANCHOR: {anchor}"), format!("ANCHOR_END: {anchor}")] {
                        assert!(
                            text.contains(&marker),
                            "{chapter}: `{path}` has no `{marker}` line"
                        );
                    }
                }
                includes += 1;
            }
        }
    }
    assert!(
        includes >= 1,
        "the getting-started chapter includes the server example"
    );
}

/// Every chapter with a Rust block is one of this crate's doctests, so that its examples
/// compile (and run, unless marked `no_run`); `ignore` is only for blocks that are not whole
/// (an `{{#include}}`, a fragment shown inside a bigger program).
#[test]
fn every_chapter_with_rust_is_a_doctest() {
    let root = root();
    let lib = std::fs::read_to_string(root.join("examples/services/src/lib.rs")).unwrap();
    for chapter in chapters() {
        let page =
            read_page(&std::fs::read_to_string(root.join("docs/src").join(&chapter)).unwrap());
        if page.fences.iter().any(|info| info.starts_with("rust")) {
            let included = format!("include_str!(\"../../../docs/src/{chapter}\")");
            assert!(
                lib.contains(&included),
                "docs/src/{chapter} has Rust blocks but src/lib.rs does not make them doctests"
            );
        }
    }
}

#[test]
fn heading_ids_are_mdbooks() {
    assert_eq!(
        heading_id("Moving from grpc-gateway"),
        "moving-from-grpc-gateway"
    );
    assert_eq!(
        heading_id("Protocols: gRPC, gRPC-Web and Connect"),
        "protocols-grpc-grpc-web-and-connect"
    );
    assert_eq!(heading_id("`google.api.HttpBody`"), "googleapihttpbody");
    assert_eq!(
        join(Path::new("/a/b"), "../c/./d.md"),
        Path::new("/a/c/d.md")
    );
    let page = read_page("# A\n\n## A\n\n[x](y.md#a-1)\n\n```rust,ignore\nfn f() {}\n```\n");
    assert_eq!(page.ids, BTreeSet::from(["a".to_owned(), "a-1".to_owned()]));
    assert_eq!(page.links, ["y.md#a-1"]);
    assert_eq!(page.fences, ["rust,ignore"]);
}
