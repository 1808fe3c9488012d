//! Committed files that cargo aliases generate: the guide's parameter reference must be the table
//! in params.rs rendered (`cargo generate-docs`), and the aliases in .cargo/config.toml must name
//! what the staleness checks compare, so that the commands the README and the errors give
//! regenerate exactly what is checked.

use protoc_gen_rust_svc::params::reference_markdown;

use crate::common::{EXAMPLE_INCLUDE, EXAMPLE_OUT, EXAMPLE_PROTOS, root};

/// The guide's parameter reference, from the workspace root.
const REFERENCE: &str = "docs/src/reference/parameters.md";

/// How every alias starts: the generator's binary, built as `cargo run` builds it.
const RUN: [&str; 5] = ["run", "--quiet", "-p", "protoc-gen-rust-svc", "--"];

/// The words of a `[alias]` entry of .cargo/config.toml, written as one string.
fn alias(name: &str) -> Vec<String> {
    let path = root().join(".cargo/config.toml");
    let config = std::fs::read_to_string(&path).expect(".cargo/config.toml is readable");
    let prefix = format!("{name} = \"");
    let value = config
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no `{name} = \"…\"` alias in {}", path.display()));
    value.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn committed_parameter_reference_is_current() {
    let committed = std::fs::read_to_string(root().join(REFERENCE)).unwrap_or_default();
    assert!(
        committed == reference_markdown(),
        "{REFERENCE} is stale: run `cargo generate-docs`"
    );
}

#[test]
fn generate_docs_alias_writes_the_checked_reference() {
    let expected: Vec<&str> = RUN
        .into_iter()
        .chain(["parameters", "--out", REFERENCE])
        .collect();
    assert_eq!(alias("generate-docs"), expected);
}

#[test]
fn generate_examples_alias_names_the_golden_tests_protos_and_output() {
    let expected: Vec<&str> = RUN
        .into_iter()
        .chain(["generate", "-I", EXAMPLE_INCLUDE, "--out", EXAMPLE_OUT])
        .chain(EXAMPLE_PROTOS)
        .collect();
    assert_eq!(alias("generate-examples"), expected);
}
