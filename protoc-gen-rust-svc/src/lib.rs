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
mod lower_editions;
pub mod model;
mod names;
mod options;
mod params;
mod prepare;
mod render;
mod request;
#[cfg(feature = "scaffold")]
pub mod scaffold;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use prost::Message;
use prost_build::Module;
use prost_reflect::DescriptorPool;
use prost_types::compiler::CodeGeneratorResponse;
use prost_types::compiler::code_generator_response::{Feature, File};
use rayon::prelude::*;

pub use builder::Builder;
pub use error::{Error, Location, Warning};
pub use params::{Artifact, Params};

use comments::SourceInfos;
use model::{Model, Package, ResolvedTypes};
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
        prost::encoding::bytes::encode(1, file, &mut set);
    }
    set
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

/// What generation works from: the model, prost-build's messages per module, and the
/// descriptors for reflection when asked.
struct Analysis {
    model: Model,
    messages: Messages,
    full_set: Option<Vec<u8>>,
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
        Ok(decoded) => decoded.map_err(|error| error.to_string()),
        Err(_) => Err("the validator failed while describing what is malformed".to_owned()),
    }
    .map_err(|error| Error::new(format!("the request's descriptors are invalid: {error}")))?;
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
    let (messages, types) = run_prost_build(
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
                file.content = format!("{PROST_HEADER}{}", prettyplease::unparse(&patched));
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
    let settings = emit::Settings {
        runtime: runtime_path(params)?,
        params,
    };
    let mut content = render::render(
        &format!(
            "// @generated by protoc-gen-rust-svc {} from package `{}`. Do not edit.\n",
            env!("CARGO_PKG_VERSION"),
            package.proto_name,
        ),
        emit::version_check(&settings),
        &name,
    )?;
    let services = package
        .services
        .par_iter()
        // syn's tokens cannot cross threads: each worker parses its own runtime path.
        .map_init(
            || runtime_path(params),
            |runtime, service| {
                let settings = emit::Settings {
                    runtime: runtime.clone()?,
                    params,
                };
                let tokens = emit::service_items(package, service, &settings);
                render::render("", tokens, &name)
            },
        )
        .collect::<Vec<_>>();
    for service in services {
        content.push_str(&service?);
    }
    Ok(Some(GeneratedFile { name, content }))
}

/// Formats prost-build's code for `module`.
fn format_messages(
    module: &Module,
    code: &str,
    renamed: &[prepare::RenamedType],
) -> Result<String, Error> {
    let mut file = syn::parse_file(code).map_err(|error| {
        Error::new(format!(
            "internal error: prost-build wrote code for `{}` that does not parse ({error}); \
             please report this with the protos that caused it",
            module.parts().collect::<Vec<_>>().join("::"),
        ))
    })?;
    let renamed: Vec<_> = renamed.iter().filter(|r| r.module == *module).collect();
    if !renamed.is_empty() {
        prepare::restore_module_docs(&mut file, &renamed);
    }
    Ok(format!("{PROST_HEADER}{}", prettyplease::unparse(&file)))
}

/// The Rust path of the runtime crate, from the `runtime_crate` parameter.
fn runtime_path(params: &Params) -> Result<syn::Path, Error> {
    syn::parse_str::<syn::Path>(&params.runtime_crate)
        .map_err(|error| Error::new(format!("runtime_crate: {error}")))
}

/// Separates pbjson-build's serde impls from prost-build's messages in a messages file.
const JSON_HEADER: &str = "// proto3 JSON (serde) impls, @generated by pbjson-build.\n";

/// The first line prost-build writes, which a re-printed messages file keeps.
const PROST_HEADER: &str = "// This file is @generated by prost-build.\n";

/// Whether a package gets a services file.
fn emits_services(package: &Package, params: &Params) -> bool {
    // The OpenAPI document is JSON of its own: alone, it needs no services file.
    let rust_artifacts = params.artifacts.iter().any(|a| *a != Artifact::OpenApi);
    !package.services.is_empty() && rust_artifacts
}

/// `inventory.v1.rs` (prost-build's name, `_.rs` without a package).
fn messages_file_name(module: &Module) -> String {
    module.to_file_name_or("_")
}

/// `inventory.v1.svc.rs`.
fn services_file_name(module: &Module) -> String {
    let messages = messages_file_name(module);
    format!("{}.svc.rs", messages.trim_end_matches(".rs"))
}

/// Records the Rust types prost-build resolves for every rpc, so our paths match its messages.
#[derive(Clone, Default)]
struct TypeRecorder(Rc<RefCell<ResolvedTypes>>);

impl prost_build::ServiceGenerator for TypeRecorder {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        // prost-build drops a module that produced no code, then unwraps it when finalizing a
        // package with services: a file declaring only a service (or one whose messages are
        // all extern) panicked. A blank line keeps the module; it formats to nothing.
        buf.push('\n');
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let methods = service
            .methods
            .into_iter()
            .map(|method| (method.input_type, method.output_type))
            .collect();
        self.0.borrow_mut().insert(full_name, methods);
    }
}

type Messages = std::collections::HashMap<Module, String>;

fn run_prost_build(
    pool: &DescriptorPool,
    sources: &SourceInfos,
    packages: &std::collections::BTreeSet<String>,
    json_types: Option<&std::collections::BTreeSet<String>>,
    params: &Params,
    stand_ins: &prepare::StandIns,
) -> Result<(Messages, ResolvedTypes), Error> {
    let recorder = TypeRecorder::default();
    let mut config = prost_build::Config::new();
    // prost-build would format every module, imports included, and unwrap the parse; we format
    // only the modules we keep, and code that does not parse becomes an error.
    config.format(false);
    config.service_generator(Box::new(recorder.clone()));
    for (proto, rust) in &params.extern_paths {
        config.extern_path(proto, rust);
    }
    for (path, attribute) in &params.type_attributes {
        config.type_attribute(path, attribute);
    }
    for (path, attribute) in &params.field_attributes {
        config.field_attribute(path, attribute);
    }
    if params.emits_json() {
        // pbjson's impls need well-known types that have them, and wrappers as messages (prost
        // maps `Int64Value` to `i64`, whose JSON would be a number, not the string proto3 JSON
        // wants): pbjson-types' way, through the runtime.
        config.compile_well_known_types();
        let wkt_is_extern = params
            .extern_paths
            .iter()
            .any(|(proto, _)| proto == ".google.protobuf");
        if !wkt_is_extern {
            config.extern_path(".google.protobuf", json::well_known_types_path(params));
        }
    }
    let wanted: std::collections::HashSet<Module> = packages
        .iter()
        .map(|package| Module::from_protobuf_package_name(package))
        .collect();
    // prost-build resolves field types through a graph of every message it is given, so it gets
    // the imports too; only the modules of the packages being generated are kept, and only
    // their files get their comments.
    let (requests, renamed) = prepare::prepare(pool, sources, &wanted, stand_ins);
    let json_input = params.emits_json().then(|| {
        requests
            .iter()
            .map(|(_, file)| {
                let mut file = file.clone();
                // pbjson-build writes no comments: the locations would only be copied.
                file.source_code_info = None;
                file
            })
            .collect::<Vec<_>>()
    });
    let messages = config
        .generate(requests)
        .map_err(|error| Error::new(format!("prost-build: {error}")))?;
    // Sorted so that, with the modules formatted in parallel, the error reported is always the
    // same one.
    let mut kept: Vec<(Module, String)> = messages
        .into_iter()
        .filter(|(module, _)| wanted.contains(module))
        .collect();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    let mut messages = kept
        .into_par_iter()
        .map(|(module, code)| {
            let code = format_messages(&module, &code, &renamed.types)?;
            Ok((module, code))
        })
        .collect::<Vec<Result<(Module, String), Error>>>()
        .into_iter()
        .collect::<Result<Messages, Error>>()?;
    for value in &renamed.values {
        if let Some(code) = messages.get_mut(&value.module) {
            *code = value.restore(code);
        }
    }
    if let Some(files) = json_input {
        for (module, serde_impls) in json::generate(files, &wanted, json_types, params, &renamed)? {
            if let Some(code) = messages.get_mut(&module) {
                code.push_str(JSON_HEADER);
                code.push_str(&serde_impls);
            }
        }
    }
    let types = recorder.0.take();
    Ok((messages, types))
}
