//! Generating one bin: compile its files with the embedded compiler, run the generator with
//! every artifact on, write the crate's sources, and count what the bin's own files define.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto};
use protoc_gen_rust_svc::{Builder, Params};

use crate::bins::Bin;
use crate::workspace::write_if_changed;

/// The generator's parameters: every Rust artifact but the gateway (see
/// [`crate::bins::gateway_sample`]), tonic's own client included, and the include file named so
/// that it is the crate root.
const GENERATOR_PARAMETER: &str =
    "artifacts=domain+stub+server+client+fake+tonic_client,include_file=lib.rs";

/// The parameters of the gateway sample: every artifact.
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
    /// Errors of the files left out because the generator rejected their http rules.
    pub rejected: Vec<String>,
    pub elapsed: Duration,
}

/// Generates `bin` from the corpus into `src_dir` (`lib.rs` and the files it includes), removing
/// files a previous run left there that this one does not write.
pub fn generate_bin(corpus_dir: &Path, bin: &Bin, src_dir: &Path) -> Result<GeneratedBin> {
    let started = Instant::now();
    let mut closure = bin.closure.clone();
    let mut rejected = Vec::new();
    loop {
        match generate_files(corpus_dir, bin, &closure) {
            Ok((files, coverage)) => {
                return write_bin(src_dir, files, coverage, rejected, started);
            }
            Err(error) => {
                // googleapis binds some rpcs of one service to the same GET template (bigquery
                // storage's ReadRows and SplitReadStream): a gateway could serve only one, so
                // the generator rejects the file. Such a file is left out of the bin and listed,
                // as the files with missing imports are; any other error fails the bin.
                let message = format!("{error:#}");
                let file = rejected_own_file(&message, &bin.own_files);
                match file {
                    Some(file) if rejected.len() < MAX_REJECTED_FILES => {
                        closure.retain(|name| *name != file);
                        rejected.push(message);
                    }
                    _ => return Err(error),
                }
            }
        }
    }
}

/// At most this many files of one bin may be left out for rejected http rules.
const MAX_REJECTED_FILES: usize = 8;

/// The bin's own file that a duplicate-route error names, if that is the error.
fn rejected_own_file(message: &str, own_files: &[String]) -> Option<String> {
    if !message.contains("matches the same requests as a binding of rpc") {
        return None;
    }
    let after = message.rsplit("generating: ").next().unwrap_or(message);
    let file = after.split(':').next()?;
    own_files.iter().find(|own| *own == file).cloned()
}

fn generate_files(
    corpus_dir: &Path,
    bin: &Bin,
    closure: &[String],
) -> Result<(Vec<protoc_gen_rust_svc::GeneratedFile>, Coverage)> {
    let builder = Builder::new()
        .include(corpus_dir)
        .files(closure.iter().map(|name| corpus_dir.join(name)));
    // `input()` then `generate` is what `Builder::generate` does; taking the input first lets
    // the descriptors be counted without compiling twice.
    let input = builder.input().context("compiling the protos")?;
    let parameter = if bin.gateway {
        GATEWAY_PARAMETER
    } else {
        GENERATOR_PARAMETER
    };
    let params = Params::parse(parameter).context("generator parameters")?;
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
    let files = protoc_gen_rust_svc::generate(input, &params).context("generating")?;
    Ok((files, coverage))
}

fn write_bin(
    src_dir: &Path,
    files: Vec<protoc_gen_rust_svc::GeneratedFile>,
    coverage: Coverage,
    rejected: Vec<String>,
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
        rejected,
        elapsed: started.elapsed(),
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
    fn only_a_duplicate_route_of_an_own_file_is_left_out() {
        let own = ["a/v1/x.proto".to_owned()];
        let duplicate = "generating: a/v1/x.proto:108: rpc a.v1.S.Split: google.api.http: get \"/v1/{n=*}\" matches the same requests as a binding of rpc a.v1.S.Read; each (method, path template) may be bound once";
        assert_eq!(
            rejected_own_file(duplicate, &own),
            Some("a/v1/x.proto".to_owned())
        );
        let imported = duplicate.replace("a/v1/x.proto:108", "b/v1/y.proto:3");
        assert_eq!(rejected_own_file(&imported, &own), None);
        let other = "generating: a/v1/x.proto:9: rpc a.v1.S.Get: google.api.http: get \"/v1/{missing}\": path variable `missing`: …";
        assert_eq!(rejected_own_file(other, &own), None);
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
