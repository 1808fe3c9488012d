//! `.rust-svc-scaffold.json`: what `new` wrote, so that files the user changed are never
//! overwritten and `check` knows the crate's protos and services.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::templates::Rendered;
use super::{NewOptions, NewReport};
use crate::error::Error;

/// The manifest's file name, at the crate's root.
pub const MANIFEST: &str = ".rust-svc-scaffold.json";

/// The manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The generator version that scaffolded the crate.
    pub generator: String,
    /// The files generated, relative to an include directory.
    pub protos: Vec<String>,
    /// The include directories, relative to the crate.
    pub includes: Vec<String>,
    /// The services implemented, and where.
    pub services: Vec<ScaffoldedService>,
    /// Every file written, crate-relative, with the SHA-256 of what was written.
    pub files: BTreeMap<String, String>,
    /// The plugin parameters the code is generated with (`new --opt`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
}

/// A service the crate implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaffoldedService {
    /// `inventory.v1.InventoryService`.
    pub service: String,
    /// The implementation's file, crate-relative.
    pub file: String,
    /// The implementing type.
    pub implementation: String,
}

impl Manifest {
    /// The manifest of the crate in `dir`, if it has one.
    pub fn read(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(Error::new(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| Error::new(format!("{}: {error}", path.display())))
    }
}

/// The SHA-256 of `bytes`, in hex.
pub fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Writes `files` into `dir` as `options` allow (see the module docs of `scaffold`), then
/// the manifest.
pub(super) fn write_crate(
    dir: &Path,
    files: Vec<Rendered>,
    mut manifest: Manifest,
    options: &NewOptions,
) -> Result<NewReport, Error> {
    let not_empty = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if not_empty && !options.force {
        return Err(Error::new(format!(
            "{} is not empty: `new` writes into a new or empty directory. With --force it adds \
             the files that are missing and updates the ones unchanged since they were \
             scaffolded, never one you changed (unless named with --overwrite)",
            dir.display()
        )));
    }
    if let Some(unknown) = options
        .overwrite
        .iter()
        .find(|name| !files.iter().any(|file| &file.path == *name))
    {
        let names: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        return Err(Error::new(format!(
            "--overwrite {unknown}: the scaffold writes no such file; it writes {}",
            names.join(", ")
        )));
    }
    create_dir(dir)?;
    let previous = Manifest::read(dir)?.unwrap_or_default();
    let mut report = NewReport {
        dir: dir.to_owned(),
        ..Default::default()
    };
    for file in files {
        let path = dir.join(&file.path);
        let new_hash = fingerprint(file.text.as_bytes());
        let write = match std::fs::read(&path) {
            Err(_) => true,
            Ok(existing) if existing == file.text.as_bytes() => false,
            Ok(existing) => {
                let unchanged_since_scaffolded =
                    previous.files.get(&file.path) == Some(&fingerprint(&existing));
                if unchanged_since_scaffolded || options.overwrite.contains(&file.path) {
                    true
                } else {
                    // The user's: keep it, and its record, so it stays theirs next time too.
                    if let Some(hash) = previous.files.get(&file.path) {
                        manifest.files.insert(file.path.clone(), hash.clone());
                    }
                    report.kept.push(file.path);
                    continue;
                }
            }
        };
        if write {
            if let Some(parent) = path.parent() {
                create_dir(parent)?;
            }
            std::fs::write(&path, &file.text)
                .map_err(|error| Error::new(format!("cannot write {}: {error}", path.display())))?;
            report.written.push(file.path.clone());
        }
        manifest.files.insert(file.path, new_hash);
    }
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|error| Error::new(format!("cannot encode the manifest: {error}")))?;
    let path = dir.join(MANIFEST);
    std::fs::write(&path, format!("{text}\n"))
        .map_err(|error| Error::new(format!("cannot write {}: {error}", path.display())))?;
    Ok(report)
}

/// Creates `dir`, with an error naming it.
fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|error| {
        Error::new(format!(
            "cannot create the directory {}: {error}",
            dir.display()
        ))
    })
}
