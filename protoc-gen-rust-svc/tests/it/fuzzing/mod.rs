//! What the fuzz targets under `fuzz/` check, shared with the regression test that replays
//! what they found (`tests/it/fuzz_regressions.rs`).
//!
//! - [`check_request_bytes`]: any bytes as a `CodeGeneratorRequest`.
//! - [`check_random_protos`]: bytes shaped by `arbitrary` into a random but valid set of `.proto`
//!   files (names from a pool of Rust keywords, prelude and runtime names, case-only differences
//!   and collisions; nesting; every streaming kind; `google.api.http` rules), compiled with protox.
//!
//! The oracle is the same for both: the generator never panics and never reports an internal
//! error (its panic guard and its own "does not parse" check both say so), and every file it
//! writes parses as Rust.

#![allow(dead_code)] // Each user of this module calls a different part of it.

mod spec;

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use prost::Message as _;
use prost_types::compiler::CodeGeneratorResponse;
use protoc_gen_rust_svc::{GeneratedFile, Input, Params};

pub use spec::Spec;

/// Feeds `data` to the plugin as its standard input.
pub fn check_request_bytes(data: &[u8]) {
    let Ok(response) = protoc_gen_rust_svc::execute(data.to_vec()) else {
        return; // Not a request at all: reported as such, which is right.
    };
    let response = CodeGeneratorResponse::decode(response.encoded.as_slice())
        .expect("the plugin's response decodes");
    let files = response.file.into_iter().map(|file| GeneratedFile {
        name: file.name.unwrap_or_default(),
        content: file.content.unwrap_or_default(),
    });
    check_outcome(response.error.map_or(Ok(files.collect()), Err));
}

/// What became of one structure-aware input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checked {
    /// protox rejected the protos (a JSON name clash, say): nothing to check.
    Invalid,
    /// Generated, and every file parses.
    Generated,
    /// The generator reported a problem with the protos (a bad http template, say).
    Rejected,
}

/// Shapes `data` into proto files; when protox accepts them, generates every artifact.
pub fn check_random_protos(data: &[u8]) -> Checked {
    let Ok(spec) = Spec::arbitrary_take_rest(Unstructured::new(data)) else {
        return Checked::Invalid;
    };
    let sources = spec.sources();
    let Some(input) = compile(&sources) else {
        return Checked::Invalid;
    };
    let params = Params::parse("include_file=mod.rs").expect("valid parameters");
    let outcome = protoc_gen_rust_svc::generate(input, &params).map_err(|error| error.to_string());
    if let Err(error) = &outcome
        && error.contains("internal error")
    {
        panic!("{error}\n\nfrom these protos:\n{}", show(&sources));
    }
    let checked = if outcome.is_ok() {
        Checked::Generated
    } else {
        Checked::Rejected
    };
    check_outcome(outcome);
    checked
}

fn check_outcome(outcome: Result<Vec<GeneratedFile>, String>) {
    match outcome {
        Ok(files) => {
            for file in files {
                if let Err(error) = syn::parse_file(&file.content) {
                    panic!("{} does not parse: {error}\n{}", file.name, file.content);
                }
            }
        }
        Err(error) => assert!(
            !error.contains("internal error"),
            "the generator failed inside: {error}"
        ),
    }
}

fn show(sources: &BTreeMap<String, String>) -> String {
    sources
        .iter()
        .map(|(name, text)| format!("// ==== {name}\n{text}"))
        .collect()
}

/// Compiles `sources` (plus the well-known types and `google/api/annotations.proto`) with protox.
fn compile(sources: &BTreeMap<String, String>) -> Option<Input> {
    let resolver = protox::file::ChainFileResolver::new();
    let mut resolver = resolver;
    resolver.add(InMemory(sources.clone()));
    resolver.add(InMemory(annotations()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(sources.keys()).ok()?;
    let files_to_generate = sources.keys().cloned().collect();
    let set = compiler.encode_file_descriptor_set();
    // Re-read as raw bytes per file, so options (google.api.http) stay intact.
    let proto_files = RawSet::decode(set.as_slice()).ok()?.file;
    Some(Input {
        files_to_generate,
        proto_files,
    })
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

struct InMemory(BTreeMap<String, String>);

impl protox::file::FileResolver for InMemory {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.get(name) {
            Some(source) => protox::file::File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// The project's vendored `google/api/{annotations,http}.proto`.
fn annotations() -> BTreeMap<String, String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/");
    ["google/api/annotations.proto", "google/api/http.proto"]
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(format!("{root}{name}")).expect("vendored proto");
            (name.to_owned(), text)
        })
        .collect()
}
