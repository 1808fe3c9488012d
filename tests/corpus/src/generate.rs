//! Generating one bin: compile its files with the embedded compiler, run the generator with
//! every artifact on, write the crate's sources, and count what the bin's own files define.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prost::Message;
use prost_types::compiler::CodeGeneratorResponse;
use prost_types::{DescriptorProto, FileDescriptorProto};
use protoc_gen_rust_svc::{Builder, Params};

use crate::bins::Bin;
use crate::workspace::write_if_changed;

/// The generator's parameters: every Rust artifact but the gateway (see
/// [`crate::bins::gateway_sample`]), tonic's own client included, and the include file named so
/// that it is the crate root.
const GENERATOR_PARAMETER: &str =
    "artifacts=domain+stub+server+client+fake+tonic_client,include_file=lib.rs";

/// The parameters of the gateway sample: every artifact, otherwise the defaults (firestore's
/// and remoteworkers' templates, with a variable or a `*` after `**`, are warnings).
const GATEWAY_PARAMETER: &str =
    "artifacts=domain+stub+server+client+fake+tonic_client+gateway+openapi,include_file=lib.rs";

/// What the descriptors of a set of files define.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Proto package names.
    pub packages: BTreeSet<String>,
    pub services: usize,
    pub rpcs: usize,
    /// Messages, nested ones included; map entries (which the compiler synthesises) are not.
    pub messages: usize,
    /// Enums, nested ones included.
    pub enums: usize,
}

impl Coverage {
    fn add_file(&mut self, file: &FileDescriptorProto) {
        self.packages.insert(file.package().to_owned());
        self.services += file.service.len();
        self.rpcs += file.service.iter().map(|s| s.method.len()).sum::<usize>();
        self.enums += file.enum_type.len();
        for message in &file.message_type {
            self.add_message(message);
        }
    }

    fn add_message(&mut self, message: &DescriptorProto) {
        if message.options.as_ref().is_some_and(|o| o.map_entry()) {
            return;
        }
        self.messages += 1;
        self.enums += message.enum_type.len();
        for nested in &message.nested_type {
            self.add_message(nested);
        }
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: Coverage) {
        self.packages.extend(other.packages);
        self.services += other.services;
        self.rpcs += other.rpcs;
        self.messages += other.messages;
        self.enums += other.enums;
    }
}

/// The outcome of generating one bin.
#[derive(Debug, Clone)]
pub struct GeneratedBin {
    /// Rust files written (include file too).
    pub rust_files: usize,
    /// Their total size.
    pub rust_bytes: u64,
    /// What the bin's own files define (imports generated again here are not counted twice).
    pub coverage: Coverage,
    /// The generator's warnings with every artifact on (two rpcs of a service on one route).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    /// Whether the files were written as a crate to check ([`Bin::checked`]); if not, the
    /// counts above are of the plugin's output with every artifact.
    pub checked: bool,
}

/// Generates `bin` from the corpus into `src_dir` (`lib.rs` and the files it includes), removing
/// files a previous run left there that this one does not write.
///
/// Every bin first goes through the plugin's entry point (the `CodeGeneratorRequest` protoc
/// would send) with every artifact, the gateway and OpenAPI included: that must not fail, and
/// its warnings are counted. A bin that is not checked ([`Bin::checked`]) stops there, and
/// nothing is written. The crate written for `cargo check` is the gateway sample's output, or,
/// for a plain bin, the output without the gateway (all of it with proto3 JSON would be too
/// large to check).
pub fn generate_bin(corpus_dir: &Path, bin: &Bin, src_dir: &Path) -> Result<GeneratedBin> {
    let started = Instant::now();
    let (input, coverage) = compile(corpus_dir, bin)?;
    let every_artifact = through_plugin(&input, GATEWAY_PARAMETER)
        .context("generating with every artifact, through the plugin")?;
    if !bin.checked {
        return Ok(GeneratedBin {
            rust_files: every_artifact.files.len(),
            rust_bytes: every_artifact
                .files
                .iter()
                .map(|file| file.content.len() as u64)
                .sum(),
            coverage,
            warnings: every_artifact.warnings,
            elapsed: started.elapsed(),
            checked: false,
        });
    }
    let files = if bin.gateway {
        every_artifact.files
    } else {
        let params = Params::parse(GENERATOR_PARAMETER).context("generator parameters")?;
        protoc_gen_rust_svc::generate(input, &params).context("generating")?
    };
    write_bin(src_dir, files, coverage, every_artifact.warnings, started)
}

/// Compiles the bin's closure with the embedded compiler, and counts what its own files define.
fn compile(corpus_dir: &Path, bin: &Bin) -> Result<(protoc_gen_rust_svc::Input, Coverage)> {
    let input = Builder::new()
        .include(corpus_dir)
        .files(bin.closure.iter().map(|name| corpus_dir.join(name)))
        .input()
        .context("compiling the protos")?;
    let own_files: BTreeSet<&str> = bin.own_files.iter().map(String::as_str).collect();
    let mut coverage = Coverage::default();
    for encoded in &input.proto_files {
        let file = FileDescriptorProto::decode(encoded.as_slice())
            .context("re-reading a compiled descriptor")?;
        // The sample's files are counted in their plain bins.
        if own_files.contains(file.name()) && !bin.gateway {
            coverage.add_file(&file);
        }
    }
    Ok((input, coverage))
}

/// What a plugin run gave.
struct PluginOutput {
    files: Vec<protoc_gen_rust_svc::GeneratedFile>,
    warnings: Vec<String>,
}

/// Runs the plugin's entry point on the `CodeGeneratorRequest` protoc would send for `input`.
fn through_plugin(input: &protoc_gen_rust_svc::Input, parameter: &str) -> Result<PluginOutput> {
    let response = protoc_gen_rust_svc::execute(encode_request(input, parameter))
        .map_err(|error| anyhow::anyhow!("the plugin did not take the request: {error}"))?;
    let decoded = CodeGeneratorResponse::decode(response.encoded.as_slice())
        .context("decoding the plugin's response")?;
    if let Some(error) = decoded.error {
        anyhow::bail!("the plugin answered with an error: {error}");
    }
    let files = decoded
        .file
        .into_iter()
        .map(|file| protoc_gen_rust_svc::GeneratedFile {
            name: file.name.unwrap_or_default(),
            content: file.content.unwrap_or_default(),
        })
        .collect();
    let warnings = response.warnings.iter().map(ToString::to_string).collect();
    Ok(PluginOutput { files, warnings })
}

/// `CodeGeneratorRequest { file_to_generate, parameter, proto_file }`, encoded field by field so
/// that the descriptors keep their options (prost-types would drop the extensions).
fn encode_request(input: &protoc_gen_rust_svc::Input, parameter: &str) -> Vec<u8> {
    use prost::encoding::{bytes, string};
    let mut request = Vec::new();
    for name in &input.files_to_generate {
        string::encode(1, name, &mut request);
    }
    string::encode(2, &parameter.to_owned(), &mut request);
    for file in &input.proto_files {
        bytes::encode(15, file, &mut request);
    }
    request
}

fn write_bin(
    src_dir: &Path,
    files: Vec<protoc_gen_rust_svc::GeneratedFile>,
    coverage: Coverage,
    warnings: Vec<String>,
    started: Instant,
) -> Result<GeneratedBin> {
    anyhow::ensure!(
        files.iter().any(|file| file.name == "lib.rs"),
        "the generator wrote no lib.rs include file"
    );
    std::fs::create_dir_all(src_dir)
        .with_context(|| format!("cannot create {}", src_dir.display()))?;
    for file in &files {
        write_if_changed(&src_dir.join(&file.name), &file.content)?;
    }
    let written: BTreeSet<&str> = files.iter().map(|file| file.name.as_str()).collect();
    remove_other_files(src_dir, &written)?;

    Ok(GeneratedBin {
        rust_files: files.len(),
        rust_bytes: files.iter().map(|file| file.content.len() as u64).sum(),
        coverage,
        warnings,
        elapsed: started.elapsed(),
        checked: true,
    })
}

/// Deletes the files in `dir` not named in `keep`: when the bins change between runs, files of
/// packages that moved away would otherwise linger (harmless to the build, but confusing).
fn remove_other_files(dir: &Path, keep: &BTreeSet<&str>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let stale = entry
            .file_name()
            .to_str()
            .is_none_or(|name| !keep.contains(name));
        if stale {
            let path = entry.path();
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{MessageOptions, MethodDescriptorProto, ServiceDescriptorProto};

    #[test]
    fn counts_nested_messages_and_enums_but_not_map_entries() {
        let map_entry = DescriptorProto {
            name: Some("LabelsEntry".into()),
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let inner = DescriptorProto {
            name: Some("Inner".into()),
            enum_type: vec![Default::default()],
            ..Default::default()
        };
        let outer = DescriptorProto {
            name: Some("Outer".into()),
            nested_type: vec![inner, map_entry],
            enum_type: vec![Default::default()],
            ..Default::default()
        };
        let service = ServiceDescriptorProto {
            method: vec![MethodDescriptorProto::default(); 3],
            ..Default::default()
        };
        let file = FileDescriptorProto {
            package: Some("a.v1".into()),
            message_type: vec![outer, DescriptorProto::default()],
            enum_type: vec![Default::default()],
            service: vec![service, ServiceDescriptorProto::default()],
            ..Default::default()
        };

        let mut coverage = Coverage::default();
        coverage.add_file(&file);
        coverage.merge(coverage.clone());

        assert_eq!(
            coverage,
            Coverage {
                packages: ["a.v1".to_owned()].into(),
                services: 4,
                rpcs: 6,
                messages: 6,
                enums: 6,
            }
        );
    }

    #[test]
    fn removes_only_files_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["lib.rs", "a.v1.rs", "old.v1.rs"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        remove_other_files(dir.path(), &["lib.rs", "a.v1.rs"].into()).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.v1.rs", "lib.rs"]);
    }
}
