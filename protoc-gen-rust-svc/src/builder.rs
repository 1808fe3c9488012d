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

mod diagnostics;
mod protoc;
mod snippet;

use std::path::{Path, PathBuf};

use prost::Message;

use crate::error::Error;
use crate::params::{Artifact, Params};
use crate::request::RawFileDescriptorSet;
use crate::{Generated, GeneratedFile, Input};

/// Configures and runs generation from `.proto` files on disk.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    includes: Vec<PathBuf>,
    files: Vec<PathBuf>,
    params: Params,
    out_dir: Option<PathBuf>,
    file_descriptor_set_path: Option<PathBuf>,
    protoc: Option<PathBuf>,
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
    ///
    /// Each artifact uses a part of `rust-svc-runtime`, one of its features: `server`,
    /// `client`, `fake`, `gateway`, and `host` for the harness of `server` with `client`. A
    /// crate that depends on the runtime with `default-features = false` turns on those of its
    /// artifacts; generated code fails with one error naming each that is off:
    ///
    /// ```toml
    /// # artifacts domain, stub, server, client, fake: gRPC only
    /// rust-svc-runtime = { version = "0.6", default-features = false, features = ["server", "client", "fake", "host"] }
    /// ```
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

    /// Adds attributes to the generated types (messages, enums, oneofs) that `path` matches
    /// (prost-build's `type_attribute`: `.` for all, `.my.pkg.Message`, or a suffix), e.g.
    /// `type_attribute(".my.pkg", "#[derive(serde::Serialize)]")`. Repeatable.
    #[must_use]
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.params
            .type_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds attributes to the generated fields that `path` matches (prost-build's
    /// `field_attribute`, e.g. `.my.pkg.Message.field`). Repeatable.
    #[must_use]
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.params
            .field_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Whether every method of the domain traits gets a default body answering `UNIMPLEMENTED`,
    /// so that an implementation writes only the methods it serves (default `false`; tonic-build's
    /// `generate_default_stubs`).
    #[must_use]
    pub fn default_stubs(mut self, enabled: bool) -> Self {
        self.params.default_stubs = enabled;
        self
    }

    /// Whether the include file gets `FILE_DESCRIPTOR_SET`, the encoded descriptors of the files
    /// and their imports, for server reflection (default `false`).
    #[must_use]
    pub fn file_descriptor_set(mut self, enabled: bool) -> Self {
        self.params.file_descriptor_set = enabled;
        self
    }

    /// Whether what grpc-gateway serves but the Envoy transcoder refuses stops generation
    /// (default `false`: a warning naming the file and line): two rpcs of a service bound to
    /// the same (HTTP method, path template), of which the gateway serves the later, as
    /// grpc-gateway v2 does; and a `*` or a variable after a template's `**`, which the
    /// gateway matches as grpc-gateway does (`**` takes what the fixed number of segments
    /// after it leave). The `strict_http_rules` parameter.
    #[must_use]
    pub fn strict_http_rules(mut self, enabled: bool) -> Self {
        self.params.strict_http_rules = enabled;
        self
    }

    /// Whether the proto3 JSON impls refuse an object with a field the message does not have
    /// (default `false`: they skip it, as grpc-gateway and the Envoy transcoder do). With
    /// `true` the gateway answers 400 naming the body's first unknown field. The
    /// `reject_unknown_fields` parameter.
    #[must_use]
    pub fn reject_unknown_fields(mut self, enabled: bool) -> Self {
        self.params.reject_unknown_fields = enabled;
        self
    }

    /// Whether the proto3 JSON impls write fields at their default value too (default `false`:
    /// they leave them out, as proto3 JSON does). With `true` every field but an unset oneof
    /// member or proto3 `optional` field is written, an unset message field or proto2
    /// `optional` field as `null`, as grpc-gateway's default marshaler writes them. The
    /// `emit_unpopulated` parameter.
    #[must_use]
    pub fn emit_unpopulated(mut self, enabled: bool) -> Self {
        self.params.emit_unpopulated = enabled;
        self
    }

    /// Whether a `delete` rule may have a `body` (default `false`: it stops generation, naming
    /// its file and line, as grpc-gateway's generator refuses it by default); the
    /// `allow_delete_body` parameter, as grpc-gateway's option of that name.
    #[must_use]
    pub fn allow_delete_body(mut self, enabled: bool) -> Self {
        self.params.allow_delete_body = enabled;
        self
    }

    /// Whether an rpc without an HTTP rule gets one (default `false`): `post` on its gRPC path
    /// (`/pkg.v1.Service/Method`) with the whole request as the body, as grpc-gateway's
    /// `generate_unbound_methods` option routes it. The `generate_unbound_methods` parameter.
    #[must_use]
    pub fn generate_unbound_methods(mut self, enabled: bool) -> Self {
        self.params.generate_unbound_methods = enabled;
        self
    }

    /// How the OpenAPI document names its schemas (default [`SchemaNaming::Fqn`], the full
    /// proto name); the others are protoc-gen-openapiv2's strategies, `Legacy` its default
    /// (`v1Item`). The `openapi_naming_strategy` parameter.
    ///
    /// [`SchemaNaming::Fqn`]: crate::SchemaNaming::Fqn
    #[must_use]
    pub fn openapi_naming_strategy(mut self, naming: crate::SchemaNaming) -> Self {
        self.params.openapi_naming_strategy = naming;
        self
    }

    /// Whether the proto3 JSON impls write fields under their proto names (`display_name`)
    /// rather than their JSON names (default `false`: `displayName`, as proto3 JSON writes
    /// them), as protojson's `UseProtoNames`, a grpc-gateway marshaler option, does; the
    /// gateway's `response_body` and the OpenAPI schemas follow. Reading takes either name. The
    /// `use_proto_names` parameter.
    #[must_use]
    pub fn use_proto_names(mut self, enabled: bool) -> Self {
        self.params.use_proto_names = enabled;
        self
    }

    /// Whether the proto3 JSON impls write enum values as their numbers (`2`) rather than
    /// their names (default `false`: `"COLOUR_GREEN"`, as proto3 JSON writes them), as
    /// protojson's `UseEnumNumbers`, a grpc-gateway marshaler option, does. Reading takes names
    /// and numbers either way, and the OpenAPI schema of an enum admits both (`oneOf` its names
    /// and its numbers) either way. The `use_enum_numbers` parameter.
    #[must_use]
    pub fn use_enum_numbers(mut self, enabled: bool) -> Self {
        self.params.use_enum_numbers = enabled;
        self
    }

    /// Deprecated, no effect: a `*` or a variable after a template's `**` (firestore's protos
    /// have them) is accepted by default, with a warning, and refused with
    /// [`strict_http_rules`](Self::strict_http_rules). Kept so that builds that call it do not
    /// break. The `wildcards_after_double_wildcard` parameter.
    #[must_use]
    pub fn wildcards_after_double_wildcard(mut self, enabled: bool) -> Self {
        self.params.wildcards_after_double_wildcard = enabled;
        self
    }

    /// A gRPC API configuration: a `google.api.Service` YAML file whose `http.rules` route rpcs
    /// that have no `google.api.http` annotation (or add routes to those that do), as
    /// grpc-gateway's `grpc_api_configuration` and the Envoy transcoder's service config read
    /// it. Every selector must name an rpc of the files generated. The
    /// `grpc_api_configuration` parameter.
    #[must_use]
    pub fn grpc_api_configuration(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.params.grpc_api_configuration = Some(path.into());
        self
    }

    /// Whether every message gets proto3 JSON (serde) impls with the gateway (default `false`:
    /// the messages and enums an rpc carries, which is all the gateway and Connect's JSON read
    /// and write). For code of one's own that serializes other messages. The `json_all_messages`
    /// parameter.
    #[must_use]
    pub fn json_all_messages(mut self, enabled: bool) -> Self {
        self.params.json_all_messages = enabled;
        self
    }

    /// Also writes the encoded `FileDescriptorSet` (the files and every import, with source
    /// locations) to `path`, as tonic-build's `file_descriptor_set_path`: e.g.
    /// `PathBuf::from(std::env::var("OUT_DIR")?).join("file_descriptor_set.bin")`, then
    /// `include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"))` for reflection.
    #[must_use]
    pub fn file_descriptor_set_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.file_descriptor_set_path = Some(path.into());
        self
    }

    /// Compiles with the protoc at `path` instead of the embedded compiler: for files written
    /// with editions (`edition = "2023"`), which protoc parses from version 27 on and the
    /// embedded compiler does not yet. The output is the plugin's for the same protos.
    #[must_use]
    pub fn protoc(mut self, path: impl Into<PathBuf>) -> Self {
        self.protoc = Some(path.into());
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
        diagnostics::check_files_exist(&self.files, &self.includes)?;
        if let Some(protoc) = &self.protoc {
            return protoc::input(protoc, &self.includes, &self.files);
        }
        let mut compiler = protox::Compiler::new(&self.includes)
            .map_err(|error| Error::new(format!("cannot set up the compiler: {error}")))?;
        compiler.include_imports(true).include_source_info(true);
        // One file at a time, so that an error can name the file it is about.
        for file in &self.files {
            if let Err(error) = compiler.open_file(file) {
                let pool = compiler.descriptor_pool();
                let context = diagnostics::Context {
                    includes: &self.includes,
                    file,
                    pool: &pool,
                };
                return Err(diagnostics::compile_error(&error, &context));
            }
        }
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

    /// Compiles the files and resolves what would be generated: services, rpcs, policies and
    /// routes, without generating code.
    pub fn model(&self) -> Result<crate::model::Model, Error> {
        crate::model(self.input()?, &self.params)
    }

    /// Compiles and generates, returning the files without writing them. Warnings are
    /// reported as [`Builder::compile`] reports them; [`Builder::generate_with_warnings`] hands
    /// them back instead.
    pub fn generate(&self) -> Result<Vec<GeneratedFile>, Error> {
        let generated = self.generate_with_warnings()?;
        report_warnings(&generated.warnings);
        Ok(generated.files)
    }

    /// Compiles and generates, returning the files and the warnings, reporting nothing.
    pub fn generate_with_warnings(&self) -> Result<Generated, Error> {
        crate::generate_with_warnings(self.input()?, &self.params)
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
            let config = self.params.grpc_api_configuration.iter();
            for path in self.files.iter().chain(&self.includes).chain(config) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let Some(set_path) = &self.file_descriptor_set_path else {
            return write_files(&out_dir, &self.generate()?);
        };
        let input = self.input()?;
        let set = crate::analyze::encode_file_descriptor_set(&input.proto_files);
        let generated = crate::generate_with_warnings(input, &self.params)?;
        report_warnings(&generated.warnings);
        let mut written = write_files(&out_dir, &generated.files)?;
        let unchanged = std::fs::read(set_path).is_ok_and(|old| old == set);
        if !unchanged {
            std::fs::write(set_path, set).map_err(|error| {
                Error::new(format!(
                    "file_descriptor_set_path: cannot write {}: {error}",
                    set_path.display()
                ))
            })?;
        }
        written.push(set_path.clone());
        Ok(written)
    }
}

/// Tells the user of `warnings`: in a build script as `cargo:warning=` lines, which cargo
/// shows; elsewhere (`protoc-gen-rust-svc generate`) on stderr.
fn report_warnings(warnings: &[crate::Warning]) {
    let build_script =
        std::env::var_os("OUT_DIR").is_some() && std::env::var_os("CARGO_MANIFEST_DIR").is_some();
    for warning in warnings {
        if build_script {
            // One line each: cargo shows a `cargo:warning=` line as it is.
            let text = warning.to_string().replace('\n', " ");
            println!("cargo:warning=protoc-gen-rust-svc: {text}");
        } else {
            eprintln!("protoc-gen-rust-svc: warning: {warning}");
        }
    }
}

/// Writes generated files under `dir`, leaving files whose content is unchanged alone.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Error> {
    let io_error = |path: &Path, error: std::io::Error| {
        Error::new(format!("cannot write {}: {error}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|error| match file_in_the_way(dir) {
        Some(file) if file == dir => Error::new(format!(
            "cannot write to {}: it is a file, not a directory",
            dir.display()
        )),
        Some(file) => Error::new(format!(
            "cannot create the directory {}: {} is a file, not a directory",
            dir.display(),
            file.display()
        )),
        None => io_error(dir, error),
    })?;
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

/// The nearest of `dir` and its ancestors that exists but is not a directory: what stops the
/// directory from being created (the OS only says "File exists" or "Not a directory").
fn file_in_the_way(dir: &Path) -> Option<&Path> {
    dir.ancestors()
        .find(|path| path.exists())
        .filter(|path| !path.is_dir())
}
