//! The guide's parameter reference (docs/src/reference/parameters.md), rendered from
//! [`PARAMETERS`]: `protoc-gen-rust-svc parameters`, which `cargo generate-docs` runs, writes it,
//! and a test fails when the committed page differs.

use super::{Artifact, NEEDS_DOMAIN, PARAMETERS, Parameter};

/// Says where the page comes from, invisible in the rendered page.
const NOTICE: &str = "<!-- Generated from PARAMETERS in protoc-gen-rust-svc/src/params.rs by \
                      `cargo generate-docs`; do not edit. -->";

/// How parameters are passed, before the table.
const PASSING: &str = r#"Plugin parameters are comma-separated `key=value` pairs. They are passed as

- `opt:` in buf.gen.yaml (one string, or a list that buf joins with commas);
- `--rust-svc_opt=` for protoc (repeatable; protoc joins them with commas);
- `--opt` for `protoc-gen-rust-svc generate` (repeatable; joined with commas);
- in build.rs, `Builder::parameter` with the same string
  (`Builder::new().parameter("include_file=lib.rs")?`), or the `Builder` methods the table names
  (`Builder::params` sets them all from a `Params`).

```yaml
# buf.gen.yaml
plugins:
  - local: protoc-gen-rust-svc
    out: src/generated
    strategy: all
    opt:
      - artifacts=domain+server+client
      - include_file=lib.rs
```

```sh
protoc --rust-svc_out=src/generated --rust-svc_opt=include_file=lib.rs -I proto proto/inventory/v1/inventory.proto
protoc-gen-rust-svc generate -I proto --out src/generated --opt include_file=lib.rs proto/inventory/v1/inventory.proto
```

Since the options are joined with commas, a bare comma always separates two parameters: write a
comma inside a value as `\,`. Every key is known: an unknown key or a bad value is an error,
never ignored, because a typo that silently changes the output is worse than a failed run.
"#;

/// What the table's cells leave to prose: how attribute paths match, and the descriptor set.
const NOTES: &str = r#"## `type_attribute` and `field_attribute`

`PATH` is matched as prost-build matches it: `.` for everything, a fully qualified
`.my.pkg.Message` (or `.my.pkg.Message.field`), or a suffix such as `Message`. The attribute must
parse as Rust attributes, or generation fails naming the parameter. protoc and buf join options
with commas, so write a comma inside a value as `\,`
(`type_attribute=.my.pkg.Version=#[derive(PartialOrd\, Ord)]`), or give each derive a parameter
of its own. prost already derives `Clone`, `PartialEq` (and `Copy`, `Eq`, `Hash` where the fields
allow), and with the `gateway` artifact the messages an rpc carries have serde impls (proto3
JSON): deriving those again does not compile.

## `FILE_DESCRIPTOR_SET`

`FILE_DESCRIPTOR_SET` (with `file_descriptor_set=true`) is what tonic-reflection's
`register_encoded_file_descriptor_set` takes (v1 and v1alpha alike). Its bytes are the
compiler's, so protoc, buf and the embedded compiler give different ones (source locations in
another order, their own copies of the well-known types): that is why it is off by default,
keeping the three ways in byte-identical. In build.rs, `Builder::file_descriptor_set_path`
writes the same set to a file instead.
"#;

/// The page: how parameters are passed, the table of [`PARAMETERS`], the notes on attributes
/// and the descriptor set, and the constraints between values. Markdown as GitHub and mdBook
/// read it, ending in one newline; `cargo generate-docs` writes it to
/// docs/src/reference/parameters.md.
pub fn reference_markdown() -> String {
    let mut page = format!("# Plugin parameters\n\n{NOTICE}\n\n{PASSING}\n");
    page.push_str("| key | value | default | Builder | description |\n");
    page.push_str("| --- | --- | --- | --- | --- |\n");
    for parameter in PARAMETERS {
        page.push_str(&row(parameter));
    }
    page.push('\n');
    page.push_str(NOTES);
    page.push('\n');
    page.push_str(&constraints());
    page
}

/// One table row; a parameter without a `Builder` method of its own gets a dash.
fn row(parameter: &Parameter) -> String {
    let builder = match parameter.builder {
        "" => "—",
        builder => builder,
    };
    let cells = [
        format!("`{}`", parameter.key),
        cell(parameter.value),
        cell(parameter.default),
        cell(builder),
        cell(parameter.description),
    ];
    format!("| {} |\n", cells.join(" | "))
}

/// A table cell: a `|` would end it (GitHub and mdBook read `\|` as the character, in code
/// spans too), and a line break would end the row.
pub(super) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The constraints `Params::check` enforces between values, as a section.
fn constraints() -> String {
    let needs_domain: Vec<String> = NEEDS_DOMAIN
        .iter()
        .map(|artifact| format!("`{}`", artifact.name()))
        .collect();
    let (last, rest) = needs_domain
        .split_last()
        .expect("NEEDS_DOMAIN is not empty");
    let domain = Artifact::Domain.name();
    format!(
        "## Constraints\n\n\
         Checked before anything is generated; each is an error naming the parameter:\n\n\
         - {} and {last} implement or serve the domain trait: `artifacts` with any of them \
         needs `{domain}` too.\n\
         - `runtime_crate` is an absolute path (`::name` or `crate::path`): generated code names \
         the runtime from nested modules too.\n\
         - `file_descriptor_set=true` puts the constant in the include file: `include_file` must \
         not be empty.\n\
         - The `openapi` artifact needs the generator's `openapi` feature, which a build script \
         that depends on it with `default-features = false` leaves out: add \
         `features = [\"openapi\"]` to its entry in `[build-dependencies]`.\n",
        rest.join(", ")
    )
}
