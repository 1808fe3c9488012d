//! The request read into what the emitters work from: the descriptors decoded (editions
//! lowered, source locations kept apart) and checked, prost-build's messages per module, the
//! [`Model`], and the descriptor set for reflection when asked.

use std::panic::catch_unwind;

use prost_reflect::DescriptorPool;

use crate::comments::SourceInfos;
use crate::messages::{self, Messages};
use crate::model::{self, Model};
use crate::{Error, Input, Params, error, lower_editions, prepare, request};

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

/// What generation works from: the model, prost-build's messages per module, and the
/// descriptors for reflection when asked.
pub(crate) struct Analysis {
    pub(crate) model: Model,
    pub(crate) messages: Messages,
    pub(crate) full_set: Option<Vec<u8>>,
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

pub(crate) fn analyze(input: Input, params: &Params) -> Result<Analysis, Error> {
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
        // the pool, prost-build or the JSON impls see them (the reflection set above keeps them
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
    // Named as prost-build and the JSON impls know them: stand-ins for renamed types.
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
