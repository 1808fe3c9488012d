//! The README's server example is compiled as `src/bin/readme_server.rs`, with warnings denied
//! (generated code a binary leaves unused must not warn); the two copies must not drift apart.

#[test]
fn the_readme_shows_the_server_binary() {
    let binary = include_str!("../../src/bin/readme_server.rs");
    let readme = include_str!("../../../../README.md");
    // The binary is its header (doc comment and `#![deny(warnings)]`), then the example.
    let (_header, example) = binary
        .split_once("#![deny(warnings)]\n\n")
        .expect("readme_server.rs starts with #![deny(warnings)] and a blank line");
    // Without the lines that mark it for the guide's `{{#include}}`.
    let example: String = example
        .lines()
        .filter(|line| !line.starts_with("// ANCHOR"))
        .map(|line| format!("{line}\n"))
        .collect();
    let block = format!("```rust,no_run\n{example}```\n");
    assert!(
        readme.contains(&block),
        "README.md has no block with the code of src/bin/readme_server.rs; copy one into the other"
    );
}
