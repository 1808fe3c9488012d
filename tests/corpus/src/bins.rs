//! Splitting the corpus into bins, one crate each, that compile on their own.

use std::collections::{BTreeMap, BTreeSet};

use crate::corpus::{Files, ProtoFile};

/// The files of one generated crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bin {
    /// Crate directory name: `bin00`, `bin01`, …
    pub name: String,
    /// The directories whose files are this bin's own, sorted.
    pub directories: Vec<String>,
    /// The bin's own files: each corpus file is in exactly one bin.
    pub own_files: Vec<String>,
    /// The own files plus everything they import, directly or not, from the corpus (well-known
    /// types come from prost-types instead): what the crate is generated from, sorted.
    pub closure: Vec<String>,
    /// Source size of the own files.
    pub source_bytes: u64,
    /// Whether the crate is generated with the REST gateway too (and so proto3 JSON for every
    /// message): only the sample bin of [`gateway_sample`], whose files are also in a plain bin.
    pub gateway: bool,
}

impl Bin {
    /// How many files the bin generates besides its own: the imports from other bins.
    pub fn imported_count(&self) -> usize {
        self.closure.len() - self.own_files.len()
    }

    /// The first and last directory, to name the bin in messages.
    pub fn directory_range(&self) -> String {
        // Files at the top of the corpus have the empty directory.
        let shown = |directory: &String| match directory.as_str() {
            "" => ".".to_owned(),
            directory => directory.to_owned(),
        };
        match (self.directories.first(), self.directories.last()) {
            (Some(first), Some(last)) if first != last => {
                format!("{} … {}", shown(first), shown(last))
            }
            (Some(only), _) => shown(only),
            _ => String::new(),
        }
    }
}

/// Packs `files` into at most `bin_count` bins: whole directories, in sorted order, so that
/// neighbouring APIs (which import the same things) share a bin, with roughly equal source
/// sizes. Fewer bins come back when there are fewer directories than bins.
pub fn plan_bins(files: &Files, bin_count: usize) -> Vec<Bin> {
    let bin_count = bin_count.max(1);
    let mut directories: BTreeMap<&str, Vec<&ProtoFile>> = BTreeMap::new();
    for file in files.values() {
        directories.entry(file.directory()).or_default().push(file);
    }
    // Empty files still weigh something, so that a corpus of them still spreads out.
    let weight = |file: &ProtoFile| u128::from(file.source_bytes.max(1));
    let total: u128 = files.values().map(weight).sum();

    let mut groups: Vec<Vec<(&str, Vec<&ProtoFile>)>> = vec![Vec::new(); bin_count];
    let mut before = 0;
    for (directory, directory_files) in directories {
        let size: u128 = directory_files.iter().map(|&file| weight(file)).sum();
        // The bin that the middle of this directory falls in when the corpus is laid out end
        // to end and cut into equal parts: balanced, and never going back to an earlier bin.
        let middle = before + size / 2;
        let index = usize::try_from(middle * bin_count as u128 / total.max(1))
            .map_or(bin_count - 1, |index| index.min(bin_count - 1));
        groups[index].push((directory, directory_files));
        before += size;
    }

    let groups: Vec<_> = groups
        .into_iter()
        .filter(|group| !group.is_empty())
        .collect();
    let digits = groups.len().saturating_sub(1).to_string().len().max(2);
    groups
        .into_iter()
        .enumerate()
        .map(|(index, group)| {
            let own_files: Vec<String> = group
                .iter()
                .flat_map(|(_, directory_files)| directory_files.iter().map(|f| f.name.clone()))
                .collect();
            Bin {
                name: format!("bin{index:0digits$}"),
                directories: group.iter().map(|(dir, _)| (*dir).to_owned()).collect(),
                closure: import_closure(files, &own_files),
                source_bytes: group
                    .iter()
                    .flat_map(|(_, directory_files)| directory_files)
                    .map(|file| file.source_bytes)
                    .sum(),
                own_files,
                gateway: false,
            }
        })
        .collect()
}

/// A bin of the files under `directories`, generated with the gateway as well. Every artifact
/// for the whole corpus would be some 650 MB of Rust (pbjson's serde impls of every message),
/// far more than CI can check, so the gateway and JSON are compiled for a sample chosen for what
/// it exercises: client- and bidi-streaming rpcs with http rules (pubsub, firestore, speech), a
/// `**` in the middle of a template (remoteworkers), the classic resource API (library). The
/// http rules of every corpus file are still validated in the plain bins: the model checks them
/// whatever the artifacts.
pub fn gateway_sample(files: &Files, directories: &[&str]) -> Option<Bin> {
    let own_files: Vec<String> = files
        .values()
        .filter(|file| directories.contains(&file.directory()))
        .map(|file| file.name.clone())
        .collect();
    if own_files.is_empty() {
        return None;
    }
    let mut present: Vec<String> = own_files
        .iter()
        .filter_map(|name| files.get(name).map(|file| file.directory().to_owned()))
        .collect();
    present.sort();
    present.dedup();
    Some(Bin {
        name: "gateway".to_owned(),
        directories: present,
        closure: import_closure(files, &own_files),
        source_bytes: own_files
            .iter()
            .filter_map(|name| files.get(name))
            .map(|file| file.source_bytes)
            .sum(),
        own_files,
        gateway: true,
    })
}

/// `roots` and every corpus file they import, directly or not, sorted. Imports that are not in
/// `files` (the bundled well-known types) are left out.
pub fn import_closure(files: &Files, roots: &[String]) -> Vec<String> {
    let mut closure: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> = roots.iter().map(String::as_str).collect();
    while let Some(name) = pending.pop() {
        if !closure.insert(name) {
            continue;
        }
        if let Some(file) = files.get(name) {
            pending.extend(
                file.imports
                    .iter()
                    .map(String::as_str)
                    .filter(|import| files.contains_key(*import)),
            );
        }
    }
    closure.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::tests::{files, proto};

    /// A corpus of 12 directories of 3 files each, where every file imports a shared file and a
    /// well-known type, `a` imports `c` of its directory, and `c` imports `a` of the next one:
    /// a chain through all directories.
    fn sample_corpus() -> Files {
        let mut protos = vec![proto("shared/common.proto", 10, &[])];
        for directory in 0..12 {
            let same = format!("api{directory:02}/v1/c.proto");
            let next = format!("api{:02}/v1/a.proto", directory + 1);
            for (file, size) in ["a", "b", "c"].into_iter().zip([100, 200, 300]) {
                let name = format!("api{directory:02}/v1/{file}.proto");
                let mut imports = vec!["shared/common.proto", "google/protobuf/any.proto"];
                match file {
                    "a" => imports.push(&same),
                    "c" if directory < 11 => imports.push(&next),
                    _ => {}
                }
                protos.push(proto(&name, size, &imports));
            }
        }
        files(protos)
    }

    #[test]
    fn every_file_is_in_exactly_one_bin() {
        let corpus = sample_corpus();
        for bin_count in [1, 2, 3, 5, 13, 100] {
            let bins = plan_bins(&corpus, bin_count);
            assert!(!bins.is_empty() && bins.len() <= bin_count);
            let mut seen: Vec<&String> = bins.iter().flat_map(|bin| &bin.own_files).collect();
            seen.sort();
            assert_eq!(seen, corpus.keys().collect::<Vec<_>>(), "{bin_count} bins");
        }
    }

    #[test]
    fn bins_hold_whole_consecutive_directories_of_similar_size() {
        let corpus = sample_corpus();
        let bins = plan_bins(&corpus, 4);
        assert_eq!(
            bins.iter().map(|bin| bin.name.as_str()).collect::<Vec<_>>(),
            ["bin00", "bin01", "bin02", "bin03"]
        );
        let directories: Vec<&String> = bins.iter().flat_map(|bin| &bin.directories).collect();
        let mut sorted = directories.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(directories, sorted, "directories are split or out of order");
        let sizes: Vec<u64> = bins.iter().map(|bin| bin.source_bytes).collect();
        assert_eq!(sizes.iter().sum::<u64>(), 12 * 600 + 10);
        assert!(
            sizes.iter().all(|&size| (1200..=2410).contains(&size)),
            "{sizes:?}"
        );
    }

    #[test]
    fn more_bins_than_directories_gives_one_bin_per_directory() {
        let corpus = sample_corpus();
        let bins = plan_bins(&corpus, 50);
        assert_eq!(bins.len(), 13);
        assert!(bins.iter().all(|bin| bin.directories.len() == 1));
        assert_eq!(bins.last().unwrap().name, "bin12");
        assert_eq!(plan_bins(&corpus, 0).len(), 1);
    }

    #[test]
    fn closure_holds_the_own_files_and_all_transitive_corpus_imports() {
        let corpus = sample_corpus();
        for bin in plan_bins(&corpus, 5) {
            for own in &bin.own_files {
                assert!(
                    bin.closure.contains(own),
                    "{} lacks its own {own}",
                    bin.name
                );
            }
            for name in &bin.closure {
                for import in &corpus[name].imports {
                    let in_corpus = corpus.contains_key(import);
                    assert_eq!(
                        bin.closure.contains(import),
                        in_corpus,
                        "{}: {name} imports {import}",
                        bin.name
                    );
                }
            }
        }
    }

    #[test]
    fn closure_follows_import_chains() {
        let corpus = sample_corpus();
        let closure = import_closure(&corpus, &["api10/v1/c.proto".to_owned()]);
        assert_eq!(
            closure,
            [
                "api10/v1/c.proto",
                "api11/v1/a.proto",
                "api11/v1/c.proto",
                "shared/common.proto"
            ]
        );
        // api00/v1/c.proto, `a` and `c` of the 11 directories after it, and the shared file.
        let long_chain = import_closure(&corpus, &["api00/v1/c.proto".to_owned()]);
        assert_eq!(long_chain.len(), 1 + 22 + 1, "{long_chain:?}");
    }
}
