//! Compiling with an external protoc instead of the embedded compiler: for what protox does not
//! parse yet (editions, which protoc parses from version 27 on). protoc writes the same
//! `FileDescriptorSet` the plugin protocol carries, so the core sees what it sees from a plugin
//! run, and the editions in it are lowered the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;

use crate::Input;
use crate::error::Error;
use crate::request::RawFileDescriptorSet;

/// Compiles `files` with the protoc at `protoc`, searching `includes`.
pub(super) fn input(
    protoc: &Path,
    includes: &[PathBuf],
    files: &[PathBuf],
) -> Result<Input, Error> {
    let files_to_generate = files
        .iter()
        .map(|file| proto_name(file, includes))
        .collect::<Result<Vec<_>, _>>()?;
    let set_path = std::env::temp_dir().join(format!(
        "protoc-gen-rust-svc-{}-{}.binpb",
        std::process::id(),
        unique()
    ));
    let mut command = Command::new(protoc);
    command
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", set_path.display()));
    for include in includes {
        command.arg(format!("-I{}", include.display()));
    }
    command.args(&files_to_generate);
    let output = command.output().map_err(|error| {
        Error::new(format!(
            "cannot run protoc at {} ({error}); `Builder::protoc` and `generate --protoc` need \
             protoc 27 or later for editions",
            protoc.display()
        ))
    })?;
    let set = std::fs::read(&set_path);
    let _ = std::fs::remove_file(&set_path);
    if !output.status.success() {
        // protoc's own messages already say `file:line:column: problem`.
        return Err(Error::new(format!(
            "protoc failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    let set = set.map_err(|error| {
        Error::new(format!(
            "protoc wrote no descriptor set to {} ({error})",
            set_path.display()
        ))
    })?;
    let set = RawFileDescriptorSet::decode(set.as_slice())
        .map_err(|error| Error::new(format!("protoc's descriptor set does not decode: {error}")))?;
    Ok(Input {
        files_to_generate,
        proto_files: set.file,
    })
}

/// The name protoc gives `file`: its path under the include directory that holds it.
fn proto_name(file: &Path, includes: &[PathBuf]) -> Result<String, Error> {
    let name = |path: &Path| path.to_string_lossy().replace('\\', "/");
    if file.is_relative() && includes.iter().any(|dir| dir.join(file).is_file()) {
        return Ok(name(file));
    }
    for include in includes {
        if let Ok(rest) = file.strip_prefix(include) {
            return Ok(name(rest));
        }
        if let (Ok(file), Ok(include)) = (file.canonicalize(), include.canonicalize())
            && let Ok(rest) = file.strip_prefix(&include)
        {
            return Ok(name(rest));
        }
    }
    Err(Error::new(format!(
        "{} is under no include path ({}): protoc names files by their path under one",
        file.display(),
        includes
            .iter()
            .map(|dir| dir.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// A number no other call in this process has had, for the descriptor set's file name.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
