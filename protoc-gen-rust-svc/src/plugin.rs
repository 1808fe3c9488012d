//! The plugin over standard input and output, as protoc and buf run it. The binary's plugin
//! mode is this function; it is in the library so that a test harness can build a plugin
//! executable of its own from the library it already compiled (tests/src/bin/plugin.rs).

use std::io::{Read, Write};
use std::process::ExitCode;

use prost::Message;
use prost_types::compiler::CodeGeneratorResponse;
use prost_types::compiler::code_generator_response::{Feature, File};

use crate::request::RawRequest;
use crate::{Generated, Input, Params, Warning, generate_with_warnings, lower_editions};

/// Reads a `CodeGeneratorRequest` from standard input, writes the `CodeGeneratorResponse` to
/// standard output and the run's warnings to standard error. Fails only when there is no
/// request to read or the response cannot be written: problems with the protos go into the
/// response, as protoc expects.
pub fn run_plugin() -> ExitCode {
    let mut request = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-rust-svc: cannot read stdin: {error}");
        return ExitCode::FAILURE;
    }
    let response = match execute(request) {
        Ok(response) => response,
        Err(error) => {
            eprintln!("protoc-gen-rust-svc: {error}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &response.warnings {
        eprintln!("protoc-gen-rust-svc: warning: {warning}");
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(&response.encoded)
        .and_then(|()| stdout.flush())
    {
        eprintln!("protoc-gen-rust-svc: cannot write stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
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
