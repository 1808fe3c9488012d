//! `protoc-gen-rust-svc`: from `.proto` service definitions to Rust services.
//!
//! Per proto package it writes the prost messages (`inventory.v1.rs`), the service artifacts
//! (`inventory.v1.svc.rs`: domain trait, its `Dyn…` companion, the UNIMPLEMENTED stub, the tonic
//! adapter and tonic's wire server and client) and an include file (`mod.rs`) that builds the
//! module tree from them.
//!
//! Three ways in share one pure core, [`generate`]:
//! - the protoc / buf plugin (`main.rs` around [`execute`]);
//! - `protoc-gen-rust-svc generate`, and
//! - [`Builder`] for `build.rs`, both compiling with the embedded protox compiler.

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
mod params;
mod plugin;
mod prepare;
mod render;
mod request;
#[cfg(feature = "scaffold")]
pub mod scaffold;

use std::panic::{AssertUnwindSafe, catch_unwind};

use prost::Message;
use prost_reflect::DescriptorPool;
use prost_types::compiler::CodeGeneratorResponse;
use prost_types::compiler::code_generator_response::{Feature, File};
use rayon::prelude::*;

pub use builder::Builder;
pub use error::{Error, Location, Warning};
pub use params::{Artifact, Params, SchemaNaming};
pub use plugin::run_plugin;

use comments::SourceInfos;
use layout::{emits_services, messages_file_name, services_file_name};
use messages::Messages;
use model::{Model, Package};
use request::RawRequest;

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

/// What the plugin answers: the encoded `CodeGeneratorResponse`, and the warnings to write to
/// stderr (protoc and buf show a plugin's stderr; the response has no place for them).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Response {
    /// The encoded `CodeGeneratorResponse`.
    pub encoded: Vec<u8>,
    /// Warnings of a successful run.
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

/// Standard input was not a `CodeGeneratorRequest`.
#[derive(Debug)]
pub struct UnreadableRequest(String);

impl std::fmt::Display for UnreadableRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnreadableRequest {}

/// The plugin: encoded `CodeGeneratorRequest` in, encoded `CodeGeneratorResponse` out.
///
/// Problems with the protos or parameters go into the response's `error`, as protoc expects;
/// only bytes that are not a request at all are an `Err`.
pub fn execute(bytes: Vec<u8>) -> Result<Response, UnreadableRequest> {
    if bytes.is_empty() {
        return Err(UnreadableRequest(
            "standard input is empty: expected a CodeGeneratorRequest from protoc or buf"
                .to_owned(),
        ));
    }
    let request = RawRequest::decode(bytes.as_slice()).map_err(|error| {
        UnreadableRequest(format!(
            "standard input is not a CodeGeneratorRequest ({error}); run me through protoc or buf, \
             or use `protoc-gen-rust-svc generate`"
        ))
    })?;
    // Taken by value so that the bytes, now decoded, are not held through the run.
    drop(bytes);
    let result = Params::parse(request.parameter.as_deref().unwrap_or("")).and_then(|params| {
        let input = Input {
            files_to_generate: request.file_to_generate,
            proto_files: request.proto_file,
        };
        generate_with_warnings(input, &params)
    });
    // Encoded one file at a time, each dropped once written: the output is the largest thing
    // the plugin holds, and a second copy of it would set the peak.
    let mut response = CodeGeneratorResponse {
        supported_features: Some(Feature::Proto3Optional as u64 | FEATURE_SUPPORTS_EDITIONS),
        ..Default::default()
    };
    match result {
        Ok(Generated { files, warnings }) => {
            let size: usize = files
                .iter()
                .map(|file| file.name.len() + file.content.len() + 16)
                .sum();
            let mut encoded = encode_response(&response);
            encoded.reserve(size);
            for file in files {
                let file = File {
                    name: Some(file.name),
                    content: Some(file.content),
                    ..Default::default()
                };
                prost::encoding::message::encode(RESPONSE_FILE, &file, &mut encoded);
            }
            Ok(Response { encoded, warnings })
        }
        Err(error) => {
            response.error = Some(error.to_string());
            Ok(Response {
                encoded: encode_response(&response),
                warnings: Vec::new(),
            })
        }
    }
}

/// `CodeGeneratorResponse.file`.
const RESPONSE_FILE: u32 = 15;

/// `CodeGeneratorResponse.Feature.FEATURE_SUPPORTS_EDITIONS`, which prost-types 0.14 predates:
/// protoc and buf refuse to send a plugin files written with editions unless it is set.
const FEATURE_SUPPORTS_EDITIONS: u64 = 2;

/// `CodeGeneratorResponse.minimum_edition` and `maximum_edition` (also newer than prost-types).
const RESPONSE_MINIMUM_EDITION: u32 = 3;
const RESPONSE_MAXIMUM_EDITION: u32 = 4;

/// `response` encoded, with the editions the plugin supports: those it lowers to proto2/proto3
/// before prost-build sees them.
fn encode_response(response: &CodeGeneratorResponse) -> Vec<u8> {
    let mut encoded = response.encode_to_vec();
    prost::encoding::int32::encode(
        RESPONSE_MINIMUM_EDITION,
        &lower_editions::MINIMUM_EDITION,
        &mut encoded,
    );
    prost::encoding::int32::encode(
        RESPONSE_MAXIMUM_EDITION,
        &lower_editions::MAXIMUM_EDITION,
        &mut encoded,
    );
    encoded
}

/// The encoded `google.protobuf.FileDescriptorSet` of `proto_files` (encoded
/// `FileDescriptorProto`s, as [`Input::proto_files`]), what server reflection serves: protoc's
/// `--descriptor_set_out` with `--include_imports --include_source_info`.
pub(crate) fn encode_file_descriptor_set(proto_files: &[Vec<u8>]) -> Vec<u8> {
    let mut set = Vec::with_capacity(proto_files.iter().map(|file| file.len() + 8).sum());
    for file in proto_files {
        let stripped = (file.len() > REFLECTION_SOURCE_INFO_LIMIT)
            .then(|| request::without_source_code_info(file).ok())
            .flatten();
        prost::encoding::bytes::encode(1, stripped.as_ref().unwrap_or(file), &mut set);
    }
    set
}

/// A file whose descriptor is larger than this goes into the reflection set without its source
/// locations (its comments): reflection answers with a file whole, and a gRPC client reads at
/// most 4 MiB by default, which compute.proto (125 services) passes with its comments (4.9 MB)
/// and not without (1.05 MB). Smaller files keep theirs, for tools that show the comments.
const REFLECTION_SOURCE_INFO_LIMIT: usize = 1 << 20;

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

/// What generation works from: the model, prost-build's messages per module, and the
/// descriptors for reflection when asked.
struct Analysis {
    model: Model,
    messages: Messages,
    full_set: Option<Vec<u8>>,
}

/// What the validator found wrong with the request's descriptors (a JSON name two fields share,
/// which protoc lets pass in proto2 and with `LEGACY_BEST_EFFORT`), at the file and line it is
/// about: the pool has the files without their source locations, which `sources` keeps.
fn invalid_descriptors(error: &prost_reflect::DescriptorError, sources: &SourceInfos) -> Error {
    let message = format!("the request's descriptors are invalid: {error}");
    let Some(file) = error.file() else {
        return Error::new(message);
    };
    let line = error.path().and_then(|path| sources.find(file, path).1);
    let location = error::Location {
        file: file.to_owned(),
        line,
    };
    Error::in_source(location, None, message)
}

fn analyze(input: Input, params: &Params) -> Result<Analysis, Error> {
    // Parsed parameters are checked already; the Builder's setters are checked here.
    params.check()?;
    // The source locations (comments, lines) are most of the bytes at scale; the pool gets the
    // files without them, and they are kept once, apart.
    let mut descriptor_set = Vec::new();
    let mut sources = SourceInfos::default();
    // The set for reflection keeps every file whole, source locations included.
    let full_set = params
        .file_descriptor_set
        .then(|| encode_file_descriptor_set(&input.proto_files));
    // Each encoded file is dropped once split: the split holds the same data.
    for file in input.proto_files {
        let split = request::split_source_code_info(&file).map_err(|error| {
            Error::new(format!("the request's descriptors are invalid: {error}"))
        })?;
        // Files written with editions become their proto2 / proto3 equivalents here, before
        // the pool, prost-build or pbjson-build see them (the reflection set above keeps them
        // as they were written).
        let lowered = lower_editions::lower(&split.descriptor, split.source_code_info.as_ref())?;
        let descriptor = lowered.as_ref().unwrap_or(&split.descriptor);
        prost::encoding::bytes::encode(1, descriptor, &mut descriptor_set);
        if let Some(info) = split.source_code_info {
            sources.insert(split.name, info);
        }
    }
    // prost-reflect can panic while describing what is wrong with malformed descriptors (an
    // error label indexing a file it has not added; found by fuzzing). Such input is invalid,
    // not our bug, so it gets the invalid-descriptors error rather than an internal one.
    let pool = match catch_unwind(|| DescriptorPool::decode(descriptor_set.as_slice())) {
        Ok(decoded) => decoded.map_err(|error| invalid_descriptors(&error, &sources)),
        Err(_) => Err(Error::new(
            "the request's descriptors are invalid: the validator failed while describing what \
             is malformed",
        )),
    }?;
    drop(descriptor_set);
    prepare::check_what_protoc_guarantees(&pool)?;

    let mut files_to_generate = input.files_to_generate;
    files_to_generate.sort();
    files_to_generate.dedup();
    // Types whose Rust names would clash get stand-in names for prost-build; the model needs
    // them too, to keep its own names clear of theirs.
    let stand_ins = prepare::stand_ins(&pool);
    let prost_params =
        (!stand_ins.is_empty()).then(|| prepare::params_for_stand_ins(params, &stand_ins));
    // The packages that get messages: those of the files to generate and every package their
    // types reach (another plugin's messages, with `messages=false`, are its own business).
    let generated_packages: std::collections::BTreeSet<String> = files_to_generate
        .iter()
        .filter_map(|name| pool.get_file_by_name(name))
        .map(|file| file.package_name().to_owned())
        .collect();
    let message_packages = if params.messages {
        model::closure::needed_packages(&pool, &generated_packages, &params.extern_paths)
    } else {
        model::closure::check_unwritten_packages(
            &pool,
            &sources,
            &generated_packages,
            &files_to_generate,
            &params.extern_paths,
        )?;
        generated_packages
    };
    // Named as prost-build and pbjson-build know them: stand-ins for renamed types.
    let json_types = (params.emits_json() && !params.json_all_messages).then(|| {
        model::json_reach::json_types(&pool, &files_to_generate, &params.extern_paths)
            .iter()
            .map(|name| prepare::stand_in_name(name, &stand_ins))
            .collect::<std::collections::BTreeSet<_>>()
    });
    let (messages, types) = messages::generate(
        &pool,
        &sources,
        &message_packages,
        json_types.as_ref(),
        prost_params.as_ref().unwrap_or(params),
        &stand_ins,
    )?;
    let model = Model::build(
        &pool,
        &sources,
        &files_to_generate,
        &message_packages,
        &types,
        &stand_ins,
        params,
    )?;
    Ok(Analysis {
        model,
        messages,
        full_set,
    })
}

fn generate_unguarded(input: Input, params: &Params) -> Result<Generated, Error> {
    // Everything below reads the model only; at scale the descriptors are tens of megabytes,
    // and they are dropped once it is built.
    let Analysis {
        model,
        mut messages,
        full_set,
    } = analyze(input, params)?;

    // A bad runtime path is an error even where no package has services.
    runtime_path(params)?;
    let services = model
        .packages
        .par_iter()
        .map(|package| services_file(package, params))
        .collect::<Vec<_>>();
    let mut files = Vec::new();
    for (package, services) in model.packages.iter().zip(services) {
        let wanted = params.messages && package.has_types;
        if let Some(code) = messages.remove(&package.module).filter(|_| wanted) {
            files.push(GeneratedFile {
                name: messages_file_name(&package.module),
                content: code,
            });
        }
        files.extend(services?);
    }
    if let Some(include) = &params.include_file {
        let messages: std::collections::HashMap<_, _> = files
            .iter()
            .filter(|file| !file.name.ends_with(".svc.rs"))
            .map(|file| (file.name.as_str(), file.content.as_str()))
            .collect();
        let include_file = emit::include_file(&model, params, &messages, full_set)?;
        for (name, patched) in include_file.patched {
            if let Some(file) = files.iter_mut().find(|file| file.name == name) {
                file.content = format!(
                    "{}{}",
                    messages::PROST_HEADER,
                    prettyplease::unparse(&patched)
                );
            }
        }
        let header = "// @generated by protoc-gen-rust-svc. Do not edit.\n";
        files.push(GeneratedFile {
            content: format!("{header}{}", prettyplease::unparse(&include_file.file)),
            name: include.clone(),
        });
    }
    // OpenAPI documents (`openapi` artifact): JSON beside the Rust, which the include file
    // does not name.
    files.extend(model.packages.iter().filter_map(emit::openapi_file));
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Generated {
        files,
        warnings: model.warnings,
    })
}

/// The services file of `package`, if it gets one.
///
/// Printing (syn + prettyplease) is most of a run, and services print independently: they are
/// spread over the cores (`RAYON_NUM_THREADS` limits them), one service at a time, which also
/// bounds memory to a service's syntax tree rather than a package's. Order is kept, so the
/// first error in the file is the one reported.
fn services_file(package: &Package, params: &Params) -> Result<Option<GeneratedFile>, Error> {
    if !emits_services(package, params) {
        return Ok(None);
    }
    let name = services_file_name(&package.module);
    let services = package
        .services
        .par_iter()
        // syn's tokens cannot cross threads: each worker parses its own runtime path, and
        // hands back the text and the runtime items it names bare.
        .map_init(
            || runtime_path(params),
            |runtime, service| {
                let settings = emit::Settings {
                    runtime: runtime.clone()?,
                    params,
                    imports: &package.runtime_imports,
                };
                let tokens = emit::service_items(package, service, &settings);
                let used = emit::runtime_items_named(&settings, &tokens);
                Ok((render::render("", tokens, &name)?, used))
            },
        )
        .collect::<Vec<Result<_, Error>>>()
        .into_iter()
        .collect::<Result<Vec<_>, Error>>()?;
    let settings = emit::Settings {
        runtime: runtime_path(params)?,
        params,
        imports: &package.runtime_imports,
    };
    let used = services.iter().flat_map(|(_, used)| used.iter().copied());
    let header = emit::version_check(&settings);
    let imports = emit::runtime_use(&settings, used);
    let mut content = render::render(
        &format!(
            "// @generated by protoc-gen-rust-svc {} from package `{}`. Do not edit.\n",
            env!("CARGO_PKG_VERSION"),
            package.proto_name,
        ),
        quote::quote! { #header #imports },
        &name,
    )?;
    for (service, _) in services {
        content.push_str(&service);
    }
    Ok(Some(GeneratedFile { name, content }))
}

/// The Rust path of the runtime crate, from the `runtime_crate` parameter.
fn runtime_path(params: &Params) -> Result<syn::Path, Error> {
    syn::parse_str::<syn::Path>(&params.runtime_crate)
        .map_err(|error| Error::new(format!("runtime_crate: {error}")))
}
