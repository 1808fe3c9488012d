//! `protoc-gen-rust-svc`: from `.proto` service definitions to Rust services.
//!
//! This crate is the generator: a protoc / buf plugin binary (also `generate`, `new` to
//! scaffold a service crate, `check` to keep one in step with its protos, and `parameters`),
//! and a library for `build.rs`. What it writes depends on `rust-svc-runtime`.
//! **[The guide](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/introduction.md)** shows the three ways in ([getting
//! started](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/getting-started.md)), [what gets generated](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/artifacts.md),
//! [scaffolding](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/scaffolding.md) and every [plugin parameter](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/reference/parameters.md);
//! this rustdoc is the library's reference.
//!
//! Per proto package it writes the prost messages and their proto3 JSON (`inventory.v1.rs`), the
//! service artifacts (`inventory.v1.svc.rs`: the domain trait and its `Dyn…` companion, the
//! UNIMPLEMENTED stub, the tonic adapter, the client, the fake, the REST gateway, and on request
//! tonic's own wire server and client), with `openapi` an OpenAPI 3.1 document, and an include
//! file (`mod.rs`) that builds the module tree from them.
//!
//! Three ways in share one pure core, [`generate`]:
//! - the protoc / buf plugin (`main.rs` around [`execute`]);
//! - `protoc-gen-rust-svc generate`, and
//! - [`Builder`] for `build.rs`, both compiling with the embedded protox compiler.
//!
//! Their parameters are one table, [`params::PARAMETERS`].

mod analyze;
mod builder;
mod comments;
mod emit;
mod error;
mod json;
mod layout;
mod lower_editions;
mod messages;
pub mod model;
mod names;
mod options;
pub mod params;
mod plugin;
mod prepare;
mod render;
mod request;
#[cfg(feature = "scaffold")]
pub mod scaffold;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use builder::Builder;
pub use error::{Error, Location, Warning};
pub use params::{Artifact, Params, SchemaNaming};
pub use plugin::{Response, UnreadableRequest, execute, run_plugin};

use analyze::{Analysis, analyze};
use model::Model;

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory.
    pub name: String,
    /// Rust source.
    pub content: String,
}

/// What a run generates: the files, and what the user should hear of although the output is
/// complete (two rpcs on one HTTP route, say).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Generated {
    /// Every output file, sorted by name.
    pub files: Vec<GeneratedFile>,
    /// Warnings, in the order the protos give rise to them.
    pub warnings: Vec<Warning>,
}

/// What to generate from: the names of the files to generate and every file descriptor they
/// need, encoded, dependencies first (as in a `CodeGeneratorRequest`).
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Names of the files to generate, as the descriptors name them.
    pub files_to_generate: Vec<String>,
    /// Encoded `FileDescriptorProto`s with their options intact.
    pub proto_files: Vec<Vec<u8>>,
}

/// The pure core: every output file for `input`, sorted by name. Warnings are dropped: a
/// caller that can show them calls [`generate_with_warnings`].
pub fn generate(input: Input, params: &Params) -> Result<Vec<GeneratedFile>, Error> {
    generate_with_warnings(input, params).map(|generated| generated.files)
}

/// The pure core: every output file for `input`, sorted by name, and the warnings.
pub fn generate_with_warnings(input: Input, params: &Params) -> Result<Generated, Error> {
    // Nothing a user writes may make the generator panic. Our own code returns errors; this
    // guards the crates we call (prost-build unwraps its own formatting) so that a bug there
    // still becomes an error in the response.
    match catch_unwind(AssertUnwindSafe(|| generate_unguarded(input, params))) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(Error::new(format!(
                "internal error while generating ({detail}); please report this with the protos that caused it"
            )))
        }
    }
}

/// The resolved model of `input`: every service, rpc, policy and route the generator would
/// emit code for. `protoc-gen-rust-svc new` and `check` scaffold and compare from it.
pub fn model(input: Input, params: &Params) -> Result<Model, Error> {
    match catch_unwind(AssertUnwindSafe(|| analyze(input, params))) {
        Ok(result) => result.map(|analysis| analysis.model),
        Err(_) => Err(Error::new(
            "internal error while reading the protos; please report this with the protos that caused it",
        )),
    }
}

/// The run: the request read into the model and the messages ([`analyze`]), then every file
/// emitted from them ([`emit::files`]).
fn generate_unguarded(input: Input, params: &Params) -> Result<Generated, Error> {
    // Everything below reads the model only; at scale the descriptors are tens of megabytes,
    // and they are dropped once it is built.
    let Analysis {
        model,
        messages,
        full_set,
    } = analyze(input, params)?;
    let resolved = emit::Resolved::new(params)?;
    let files = emit::files(&model, messages, full_set, &resolved)?;
    Ok(Generated {
        files,
        warnings: model.warnings,
    })
}
