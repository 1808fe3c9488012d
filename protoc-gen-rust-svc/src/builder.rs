//! The library entry point for `build.rs` and the `generate` subcommand: compiles `.proto` files
//! with the embedded protox compiler (no protoc needed) and runs the same core as the plugin.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     protoc_gen_rust_svc::Builder::new()
//!         .include("proto")
//!         .file("proto/inventory/v1/inventory.proto")
//!         .compile()?; // writes to OUT_DIR
//!     Ok(())
//! }
//! ```
//! and in the crate: `include!(concat!(env!("OUT_DIR"), "/mod.rs"));`

use std::path::{Path, PathBuf};

use prost::Message;

use crate::error::Error;
use crate::params::{Artifact, Params};
use crate::request::RawFileDescriptorSet;
use crate::{GeneratedFile, Input};

/// Configures and runs generation from `.proto` files on disk.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    includes: Vec<PathBuf>,
    files: Vec<PathBuf>,
    params: Params,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// A builder with default parameters, no include paths and no files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an include directory (like protoc's `-I`).
    #[must_use]
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.includes.push(dir.into());
        self
    }

    /// Adds a file to generate code for.
    #[must_use]
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Adds files to generate code for.
    #[must_use]
    pub fn files(mut self, paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        self.files.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Replaces all parameters.
    #[must_use]
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Sets parameters from a plugin parameter string (`messages=false,include_file=lib.rs`).
    pub fn parameter(mut self, parameter: &str) -> Result<Self, Error> {
        self.params = Params::parse(parameter)?;
        Ok(self)
    }

    /// Whether to emit prost messages (default `true`).
    #[must_use]
    pub fn messages(mut self, enabled: bool) -> Self {
        self.params.messages = enabled;
        self
    }

    /// Which per-service artifacts to emit (default: [`Artifact::DEFAULT`]).
    #[must_use]
    pub fn artifacts(mut self, artifacts: impl IntoIterator<Item = Artifact>) -> Self {
        self.params.artifacts = artifacts.into_iter().collect();
        self
    }

    /// Maps a proto path to an existing Rust path instead of generating it (prost-build's
    /// `extern_path`).
    #[must_use]
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.params
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Where [`Builder::compile`] writes; defaults to `$OUT_DIR`.
    #[must_use]
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Compiles the files with the embedded compiler into the core's input.
    pub fn input(&self) -> Result<Input, Error> {
        if self.files.is_empty() {
            return Err(Error::new("no .proto files to generate"));
        }
        let mut compiler = protox::Compiler::new(&self.includes).map_err(compile_error)?;
        compiler.include_imports(true).include_source_info(true);
        compiler.open_files(&self.files).map_err(compile_error)?;
        let files_to_generate = compiler
            .files()
            .filter(|file| !file.is_import())
            .map(|file| file.name().to_owned())
            .collect();
        let set = RawFileDescriptorSet::decode(compiler.encode_file_descriptor_set().as_slice())
            .map_err(|error| {
                Error::new(format!("internal error re-reading descriptors: {error}"))
            })?;
        Ok(Input {
            files_to_generate,
            proto_files: set.file,
        })
    }

    /// Compiles and generates, returning the files without writing them.
    pub fn generate(&self) -> Result<Vec<GeneratedFile>, Error> {
        crate::generate(self.input()?, &self.params)
    }

    /// Compiles, generates and writes the files to the output directory (unchanged files are not
    /// touched, so cargo does not rebuild for nothing). Under cargo, also asks to be re-run when a
    /// proto changes. Returns the paths written.
    pub fn compile(&self) -> Result<Vec<PathBuf>, Error> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::new("OUT_DIR is not set: call out_dir(..) outside build.rs")
                })?,
        };
        if std::env::var_os("CARGO_MANIFEST_DIR").is_some() && self.out_dir.is_none() {
            for path in self.files.iter().chain(&self.includes) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        write_files(&out_dir, &self.generate()?)
    }
}

/// Writes generated files under `dir`, leaving files whose content is unchanged alone.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Error> {
    let io_error = |path: &Path, error: std::io::Error| {
        Error::new(format!("cannot write {}: {error}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.name);
        let unchanged = std::fs::read(&path).is_ok_and(|old| old == file.content.as_bytes());
        if !unchanged {
            std::fs::write(&path, &file.content).map_err(|error| io_error(&path, error))?;
        }
        written.push(path);
    }
    Ok(written)
}

fn compile_error(error: protox::Error) -> Error {
    // protox's Display already names file:line:column where it has them.
    match error.file() {
        Some(file) if !error.to_string().contains(file) => Error::new(format!("{file}: {error}")),
        _ => Error::new(error.to_string()),
    }
}
