//! Replays what the `path_template` fuzz target checks (see `fuzzing/mod.rs`): every input
//! saved under `fuzz/regressions/path_template/` (a finding, kept after its fix), the templates
//! of the table tests, and random inputs from a fixed seed, so the oracle runs on every
//! `cargo test`.

use std::path::Path;

use crate::fuzzing;
// Only the templates and paths are used here; `routes.rs` reads the expectations.
use crate::tables::{routes as route_tables, templates as template_tables};

#[test]
fn saved_inputs_pass_the_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/path_template");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    inputs.sort();
    for path in inputs {
        eprintln!("{}", path.display());
        fuzzing::check(&std::fs::read(&path).expect("readable input"));
    }
}

/// Every template and path of the table tests as one input: each template is then instantiated
/// and looked up among all the others.
#[test]
fn table_templates_and_paths_pass_the_oracle() {
    let mut lines: Vec<&str> = Vec::new();
    lines.extend(template_tables::VALID.iter().map(|row| row.0));
    lines.extend(template_tables::INVALID.iter().map(|row| row.0));
    for group in route_tables::groups() {
        lines.extend(group.routes.iter().map(|route| route.1));
        lines.extend(group.cases.iter().map(|case| case.1));
    }
    let parsed = fuzzing::check(lines.join("\n").as_bytes());
    assert!(parsed >= template_tables::VALID.len(), "{parsed}");
}

/// Random template-shaped lines (mostly valid, some broken) from a fixed seed: deterministic, so
/// a failure reproduces.
#[test]
fn random_inputs_from_a_fixed_seed_pass_the_oracle() {
    const SEGMENTS: &[&str] = &[
        "v1",
        "a",
        "b",
        "*",
        "**",
        "{a}",
        "{b=**}",
        "{c.d=x/*}",
        "{e=*/y}",
        "{f=z/**}",
        "{h=**/y/*}",
        "%2F",
        "%20x",
        "a:b",
        "%FF",
        "%41",
        "x+y",
        "caf%C3%A9",
        "{g=%7E}",
        "~",
    ];
    const NOISE: &[&str] = &["/", "{", "}", "=", ".", ":", "%", "?", "é", "//", " "];
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        // xorshift64: no dependency, enough to vary the inputs.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut parsed = 0;
    for _ in 0..2000 {
        let mut lines = Vec::new();
        for _ in 0..1 + next(4) {
            let mut line = String::new();
            for _ in 0..1 + next(4) {
                line.push('/');
                line.push_str(SEGMENTS[next(SEGMENTS.len())]);
            }
            if next(3) == 0 {
                line.push_str([":run", ":a:b", ":"][next(3)]);
            }
            if next(8) == 0 {
                let at = next(line.len() + 1);
                if line.is_char_boundary(at) {
                    line.insert_str(at, NOISE[next(NOISE.len())]);
                }
            }
            lines.push(line);
        }
        parsed += fuzzing::check(lines.join("\n").as_bytes());
    }
    eprintln!("{parsed} templates parsed");
    // Enough valid templates for the matcher checks to have run on many shapes.
    assert!(parsed >= 2000, "only {parsed} templates parsed");
}
