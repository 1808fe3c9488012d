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
    /// Whether the generated crate is written and cargo-checked. A bin of superseded API
    /// versions (see [`superseded_versions`]) only goes through the plugin with every artifact.
    pub checked: bool,
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

/// Packs the files of `files` whose directory `include` accepts into at most `bin_count` bins
/// named `{prefix}00`, `{prefix}01`, …: whole directories, in sorted order, so that neighbouring
/// APIs (which import the same things) share a bin, with roughly equal source sizes. Fewer bins
/// come back when there are fewer directories than bins. Imports come from all of `files`.
pub fn plan_bins_of(
    files: &Files,
    include: impl Fn(&str) -> bool,
    bin_count: usize,
    prefix: &str,
) -> Vec<Bin> {
    let bin_count = bin_count.max(1);
    let mut directories: BTreeMap<&str, Vec<&ProtoFile>> = BTreeMap::new();
    for file in files.values().filter(|file| include(file.directory())) {
        directories.entry(file.directory()).or_default().push(file);
    }
    // Empty files still weigh something, so that a corpus of them still spreads out.
    let weight = |file: &ProtoFile| u128::from(file.source_bytes.max(1));
    let total: u128 = directories
        .values()
        .flatten()
        .map(|&file| weight(file))
        .sum();

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
                name: format!("{prefix}{index:0digits$}"),
                directories: group.iter().map(|(dir, _)| (*dir).to_owned()).collect(),
                closure: import_closure(files, &own_files),
                source_bytes: group
                    .iter()
                    .flat_map(|(_, directory_files)| directory_files)
                    .map(|file| file.source_bytes)
                    .sum(),
                own_files,
                gateway: false,
                checked: true,
            }
        })
        .collect()
}

/// The directories of `files` that hold an older major version of one of `apis`: under
/// `{api}/v{N}` (`/…` below it or not), where a `{api}/v{M}` with a larger M is in the corpus
/// too. `google/ads/googleads/v22/services` is one when `google/ads/googleads/v25/…` exists.
pub fn superseded_versions(files: &Files, apis: &[&str]) -> BTreeSet<String> {
    // The API and the version a directory is under, if it is under one of `apis`.
    let version_of = |directory: &str| -> Option<(&str, u32)> {
        apis.iter().find_map(|&api| {
            let rest = directory.strip_prefix(api)?.strip_prefix("/v")?;
            let digits = rest.split_once('/').map_or(rest, |(digits, _)| digits);
            Some((api, digits.parse().ok()?))
        })
    };
    let mut newest: BTreeMap<&str, u32> = BTreeMap::new();
    for file in files.values() {
        if let Some((api, version)) = version_of(file.directory()) {
            let entry = newest.entry(api).or_insert(version);
            *entry = (*entry).max(version);
        }
    }
    files
        .values()
        .map(ProtoFile::directory)
        .filter(|directory| {
            version_of(directory).is_some_and(|(api, version)| version < newest[api])
        })
        .map(str::to_owned)
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
        checked: true,
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

    /// Every file, in bins named `bin00`, `bin01`, …
    fn plan_bins(files: &Files, bin_count: usize) -> Vec<Bin> {
        plan_bins_of(files, |_| true, bin_count, "bin")
    }

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
    fn older_major_versions_of_the_named_apis_are_superseded() {
        let corpus = files(vec![
            proto("ads/v9/common/a.proto", 1, &[]),
            proto("ads/v10/services/b.proto", 1, &[]),
            proto("ads/v11/c.proto", 1, &[]),
            proto("ads/v11/services/d.proto", 1, &[]),
            proto("ads/v11beta/e.proto", 1, &[]),
            proto("adsx/v1/f.proto", 1, &[]),
            proto("cloud/v1/g.proto", 1, &[]),
            proto("cloud/v2/h.proto", 1, &[]),
        ]);
        let superseded = superseded_versions(&corpus, &["ads"]);
        // Numerically older only (v9 < v10 < v11); a suffixed version, another API sharing the
        // prefix, and APIs not named are all kept.
        assert_eq!(
            superseded.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ads/v10/services", "ads/v9/common"]
        );

        let checked = plan_bins_of(&corpus, |d| !superseded.contains(d), 2, "bin");
        let older = plan_bins_of(&corpus, |d| superseded.contains(d), 5, "older");
        let own = |bins: &[Bin]| -> Vec<String> {
            bins.iter().flat_map(|bin| bin.own_files.clone()).collect()
        };
        assert_eq!(
            own(&older),
            ["ads/v10/services/b.proto", "ads/v9/common/a.proto"]
        );
        assert_eq!(older.len(), 2);
        assert_eq!(older[0].name, "older00");
        assert_eq!(own(&checked).len(), 6);
        assert!(superseded_versions(&corpus, &[]).is_empty());
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
