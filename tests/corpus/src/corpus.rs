//! The corpus on disk: every `.proto` file with its size and imports, and the files that cannot
//! compile because something they import is missing.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::imports::parse_imports;

/// One `.proto` file of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoFile {
    /// Path relative to the corpus directory with `/` separators, as imports name it.
    pub name: String,
    /// Size of the source, the measure bins are balanced by.
    pub source_bytes: u64,
    /// The files it imports, as written.
    pub imports: Vec<String>,
}

impl ProtoFile {
    /// The directory part of the name (`google/api` for `google/api/http.proto`).
    pub fn directory(&self) -> &str {
        self.name
            .rsplit_once('/')
            .map_or("", |(directory, _)| directory)
    }
}

/// Files by name.
pub type Files = BTreeMap<String, ProtoFile>;

/// Reads every `.proto` file under `dir`.
pub fn read_corpus(dir: &Path) -> Result<Files> {
    let mut files = Files::new();
    collect_proto_files(dir, "", &mut files)?;
    if files.is_empty() {
        bail!("no .proto files under {}", dir.display());
    }
    Ok(files)
}

fn collect_proto_files(dir: &Path, prefix: &str, files: &mut Files) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            bail!("{} is not a UTF-8 file name", path.display());
        };
        let name = format!("{prefix}{file_name}");
        // Symbolic links are not followed: a link to a parent directory would never end.
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            collect_proto_files(&path, &format!("{name}/"), files)?;
        } else if file_type.is_file() && name.ends_with(".proto") {
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file = ProtoFile {
                source_bytes: source.len() as u64,
                imports: parse_imports(&source),
                name: name.clone(),
            };
            files.insert(name, file);
        }
    }
    Ok(())
}

/// A file left out because it cannot compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The excluded file.
    pub file: String,
    /// The imports that lead from it to the missing one, in order (empty for a direct import).
    pub through: Vec<String>,
    /// The import that is missing.
    pub missing_import: String,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        for import in &self.through {
            write!(f, " imports {import}, which")?;
        }
        write!(
            f,
            " imports {}, which is neither in the corpus nor a well-known type bundled with protox",
            self.missing_import
        )
    }
}

/// Removes from `files` every file that imports, directly or through other files, a file that
/// is neither in `files` nor `bundled` (the well-known types the compiler carries), and says
/// why each was removed.
pub fn exclude_uncompilable(files: &mut Files, bundled: impl Fn(&str) -> bool) -> Vec<Exclusion> {
    // For each uncompilable file, the import that makes it so. Found as a fixpoint rather than
    // by recursion, so that a deep or cyclic import graph in bad input cannot overflow the
    // stack. A file is only marked through an import that is missing or marked before it, so
    // following these links always ends at a missing file.
    let mut broken_through: BTreeMap<&str, &str> = BTreeMap::new();
    loop {
        let mut marked_any = false;
        for file in files.values() {
            if broken_through.contains_key(file.name.as_str()) {
                continue;
            }
            let broken_import = file.imports.iter().find(|import| {
                let missing = !files.contains_key(import.as_str()) && !bundled(import);
                missing || broken_through.contains_key(import.as_str())
            });
            if let Some(import) = broken_import {
                broken_through.insert(&file.name, import);
                marked_any = true;
            }
        }
        if !marked_any {
            break;
        }
    }

    let exclusions: Vec<Exclusion> = broken_through
        .iter()
        .map(|(&file, &first_import)| {
            let mut through = Vec::new();
            let mut import = first_import;
            while let Some(&next) = broken_through.get(import) {
                through.push(import.to_owned());
                import = next;
            }
            Exclusion {
                file: file.to_owned(),
                through,
                missing_import: import.to_owned(),
            }
        })
        .collect();
    for exclusion in &exclusions {
        files.remove(&exclusion.file);
    }
    exclusions
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file of `source_bytes` bytes importing `imports`.
    pub(crate) fn proto(name: &str, source_bytes: u64, imports: &[&str]) -> ProtoFile {
        ProtoFile {
            name: name.to_owned(),
            source_bytes,
            imports: imports.iter().map(|&import| import.to_owned()).collect(),
        }
    }

    pub(crate) fn files(protos: impl IntoIterator<Item = ProtoFile>) -> Files {
        protos
            .into_iter()
            .map(|file| (file.name.clone(), file))
            .collect()
    }

    fn well_known(name: &str) -> bool {
        name.starts_with("google/protobuf/")
    }

    #[test]
    fn reads_every_proto_under_the_directory_with_its_imports() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/v1");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.path().join("top.proto"), "syntax = \"proto3\";\n").unwrap();
        std::fs::write(
            nested.join("service.proto"),
            "import \"top.proto\";\nimport \"google/protobuf/empty.proto\";\n",
        )
        .unwrap();
        std::fs::write(nested.join("notes.txt"), "import \"x.proto\";\n").unwrap();

        let files = read_corpus(dir.path()).unwrap();

        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["a/v1/service.proto", "top.proto"]
        );
        let service = &files["a/v1/service.proto"];
        assert_eq!(
            service.imports,
            ["top.proto", "google/protobuf/empty.proto"]
        );
        assert_eq!(service.directory(), "a/v1");
        assert_eq!(files["top.proto"].directory(), "");
        assert_eq!(files["top.proto"].source_bytes, 19);
    }

    #[test]
    fn a_directory_without_protos_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_corpus(dir.path()).unwrap_err().to_string();
        assert!(error.starts_with("no .proto files under"), "{error}");
        assert!(read_corpus(&dir.path().join("absent")).is_err());
    }

    #[test]
    fn excludes_files_importing_missing_files_directly_or_transitively() {
        let mut corpus = files([
            proto("a.proto", 1, &["google/protobuf/timestamp.proto"]),
            proto("b.proto", 1, &["a.proto", "grafeas/v1/grafeas.proto"]),
            proto("c.proto", 1, &["b.proto"]),
            proto("d.proto", 1, &["c.proto", "a.proto"]),
            proto("e.proto", 1, &["a.proto"]),
        ]);

        let exclusions = exclude_uncompilable(&mut corpus, well_known);

        assert_eq!(corpus.keys().collect::<Vec<_>>(), ["a.proto", "e.proto"]);
        let chains: Vec<_> = exclusions
            .iter()
            .map(|e| {
                (
                    e.file.as_str(),
                    e.through.clone(),
                    e.missing_import.as_str(),
                )
            })
            .collect();
        let missing = "grafeas/v1/grafeas.proto";
        assert_eq!(
            chains,
            [
                ("b.proto", vec![], missing),
                ("c.proto", vec!["b.proto".to_owned()], missing),
                (
                    "d.proto",
                    vec!["c.proto".to_owned(), "b.proto".to_owned()],
                    missing
                ),
            ]
        );
        assert_eq!(
            exclusions[1].to_string(),
            "c.proto imports b.proto, which imports grafeas/v1/grafeas.proto, which is neither \
             in the corpus nor a well-known type bundled with protox"
        );
    }

    #[test]
    fn import_cycles_do_not_hang_or_exclude() {
        let mut corpus = files([
            proto("a.proto", 1, &["b.proto"]),
            proto("b.proto", 1, &["a.proto"]),
        ]);
        assert!(exclude_uncompilable(&mut corpus, well_known).is_empty());
        assert_eq!(corpus.len(), 2);
    }
}
