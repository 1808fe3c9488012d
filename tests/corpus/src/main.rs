//! Generates every artifact for every googleapis proto and `cargo check`s the result, so that CI
//! proves that each service and each message of a large, real corpus compiles.
//!
//! ```sh
//! cargo run --release -p rust-svc-corpus -- [--crates N] CORPUS_DIR WORK_DIR
//! ```
//!
//! CORPUS_DIR is an extracted googleapis tree (`google/…`); WORK_DIR receives a cargo workspace
//! of generated crates, which is then checked with `CARGO_TARGET_DIR=<repository>/target/corpus`.
//!
//! Why many crates: generated into one crate, the corpus is about 150 MB of Rust, and rustc
//! would need some 40 GB of memory to check it (a 14 MB crate of it takes about 4 GB). So
//! the corpus is split into bins of whole directories with similar source sizes, and each bin
//! becomes a crate of its own files plus every file they import. Each crate is self-contained,
//! with no dependency on another: cargo checks them in parallel, rustc's memory is bounded by
//! the size of a bin rather than of the corpus, and a failure points at a small crate. The price
//! is that files imported by several bins (google/api, google/rpc, google/type, …) are generated
//! and checked once per bin.
//!
//! Files that cannot compile because an import is missing from the corpus (googleapis refers to
//! grafeas, which it does not contain) are left out and listed.

mod bins;
mod corpus;
mod generate;
mod imports;
mod workspace;

use std::ffi::OsString;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use protox::file::{FileResolver, GoogleFileResolver};

use bins::Bin;
use generate::{Coverage, GeneratedBin};
use workspace::Repository;

const USAGE: &str = "usage: rust-svc-corpus [--crates N] CORPUS_DIR WORK_DIR

Generates every artifact for every .proto under CORPUS_DIR into a workspace of N self-contained
crates (default 16) in WORK_DIR, then runs `cargo check --workspace` on it.";

/// Crates to split the corpus into unless `--crates` says otherwise. With 16, the largest crate
/// (holding google/cloud/compute/v1, one directory that cannot be split) needs about 5.5 GB to
/// check and the others 2.5 to 4.5 GB, so two parallel checks fit on a CI machine.
const DEFAULT_CRATE_COUNT: usize = 16;

/// The directories compiled with the gateway too (see `bins::gateway_sample`).
const GATEWAY_SAMPLE: [&str; 7] = [
    "google/pubsub/v1",
    // Two rpcs of a service on one route (a warning), and google.rpc.Status from a package of
    // its own.
    "google/cloud/bigquery/storage/v1",
    "google/firestore/v1",
    "google/cloud/speech/v2",
    "google/devtools/remoteworkers/v1test2",
    "google/example/library/v1",
    "google/api",
];

/// APIs whose corpus holds a full copy of the API per major version, side by side: every
/// version is generated (through the plugin, every artifact), only the newest is cargo-checked.
/// googleads ships one copy of its ~900 files per quarterly release (v22 to v25 here), much the
/// same protos under a new package name each time; checking all four took a fifth of the
/// corpus's check time to compile the same shapes again (CI must stay under 45 minutes on 2
/// cores). Other APIs' versions (v1, v1beta, v2) differ more, and are all checked.
const NEWEST_VERSION_ONLY: [&str; 1] = ["google/ads/googleads"];

/// Bins that the superseded versions are generated in (they are not checked, so their size
/// only bounds the generator's memory).
const SUPERSEDED_BIN_COUNT: usize = 3;

/// At most this many bins are generated at once: each needs a few hundred MB.
const MAX_GENERATION_THREADS: usize = 4;

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    corpus_dir: PathBuf,
    work_dir: PathBuf,
    crate_count: usize,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error:#}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments after the program name; `None` asks for help.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>> {
    let mut positional = Vec::new();
    let mut crate_count = DEFAULT_CRATE_COUNT;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(None),
            Some("--crates") => {
                let value = args.next().context("--crates needs a number")?;
                crate_count = parse_crate_count(&value.to_string_lossy())?;
            }
            Some(flag) if flag.starts_with("--crates=") => {
                crate_count = parse_crate_count(&flag["--crates=".len()..])?;
            }
            Some(flag) if flag.starts_with('-') => bail!("unknown option {flag}"),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [corpus_dir, work_dir] = <[PathBuf; 2]>::try_from(positional).map_err(|given| {
        anyhow!(
            "expected CORPUS_DIR and WORK_DIR, got {} paths",
            given.len()
        )
    })?;
    Ok(Some(Args {
        corpus_dir,
        work_dir,
        crate_count,
    }))
}

fn parse_crate_count(value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => bail!("--crates takes a positive number, not `{value}`"),
    }
}

fn run(args: &Args) -> Result<()> {
    let repository = Repository::locate()?;
    let generation_started = Instant::now();

    let mut files = corpus::read_corpus(&args.corpus_dir)?;
    let listed = files.len();
    let well_known_types = GoogleFileResolver::new();
    let exclusions =
        corpus::exclude_uncompilable(&mut files, |name| well_known_types.open_file(name).is_ok());
    println!(
        "{listed} .proto files under {}; {} excluded:",
        args.corpus_dir.display(),
        exclusions.len()
    );
    for exclusion in &exclusions {
        println!("  excluded: {exclusion}");
    }

    let superseded = bins::superseded_versions(&files, &NEWEST_VERSION_ONLY);
    let mut bins = bins::plan_bins_of(
        &files,
        |directory| !superseded.contains(directory),
        args.crate_count,
        "bin",
    );
    bins.extend(bins::gateway_sample(&files, &GATEWAY_SAMPLE));
    let checked_crates = bins.len();
    bins.extend(
        bins::plan_bins_of(
            &files,
            |directory| superseded.contains(directory),
            SUPERSEDED_BIN_COUNT,
            "superseded",
        )
        .into_iter()
        .map(|bin| Bin {
            checked: false,
            ..bin
        }),
    );
    println!(
        "\n{checked_crates} crates, and {} bins of superseded versions of {} (generated, not \
         checked):",
        bins.len() - checked_crates,
        NEWEST_VERSION_ONLY.join(", "),
    );
    for bin in &bins {
        println!(
            "  {}: {} files ({:.1} MB of proto) + {} imported, {}",
            bin.name,
            bin.own_files.len(),
            megabytes(bin.source_bytes),
            bin.imported_count(),
            bin.directory_range(),
        );
    }

    workspace::prepare_work_dir(&args.work_dir)?;
    workspace::write_workspace(&args.work_dir, &bins[..checked_crates], &repository)?;
    println!();
    let generated = generate_crates(&args.corpus_dir, &args.work_dir, &bins, &repository)?;
    let generation_time = generation_started.elapsed();

    println!("\ncargo check --workspace in {}", args.work_dir.display());
    let check_started = Instant::now();
    let check = workspace::cargo_check(&args.work_dir, &repository.target_dir);
    let check_time = check_started.elapsed();

    let summary = Summary {
        proto_files: files.len(),
        superseded_files: bins[checked_crates..]
            .iter()
            .map(|bin| bin.own_files.len())
            .sum(),
        excluded: exclusions.len(),
        crates: checked_crates,
        generated_again: bins.iter().map(Bin::imported_count).sum(),
        generated,
        generation_time,
        check_time,
        check_passed: check.is_ok(),
    };
    summary.print();
    check
}

/// Generates each bin's crate, a few at a time; fails naming every bin that failed.
fn generate_crates(
    corpus_dir: &Path,
    work_dir: &Path,
    bins: &[Bin],
    repository: &Repository,
) -> Result<Vec<GeneratedBin>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(MAX_GENERATION_THREADS)
        .min(bins.len())
        .max(1);
    let next_bin = AtomicUsize::new(0);
    let generate_next = || {
        let mut outcomes = Vec::new();
        while let Some(bin) = bins.get(next_bin.fetch_add(1, Ordering::Relaxed)) {
            let crate_dir = work_dir.join("crates").join(&bin.name);
            // A bin that is not checked gets no crate (see `generate_bin`).
            let manifest = if bin.checked {
                workspace::write_crate_manifest(&crate_dir, bin, &repository.runtime_dir)
            } else {
                Ok(())
            };
            let outcome = manifest
                .and_then(|()| generate::generate_bin(corpus_dir, bin, &crate_dir.join("src")))
                .with_context(|| format!("{} ({})", bin.name, bin.directory_range()));
            if let Ok(generated) = &outcome {
                println!(
                    "generated {}{}: {} Rust files, {:.1} MB, in {:.1} s",
                    bin.name,
                    if generated.checked {
                        ""
                    } else {
                        " (every artifact, not checked)"
                    },
                    generated.rust_files,
                    megabytes(generated.rust_bytes),
                    generated.elapsed.as_secs_f64()
                );
                for warning in &generated.warnings {
                    println!("  warning: {warning}");
                }
            }
            outcomes.push((bin.name.clone(), outcome));
        }
        outcomes
    };
    let mut outcomes = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(generate_next)).collect();
        let mut outcomes = Vec::new();
        for worker in workers {
            match worker.join() {
                Ok(done) => outcomes.extend(done),
                Err(_) => {
                    outcomes.push(("?".to_owned(), Err(anyhow!("a generation thread panicked"))))
                }
            }
        }
        outcomes
    });
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));

    let mut generated = Vec::new();
    let mut failures = 0;
    for (_, outcome) in outcomes {
        match outcome {
            Ok(bin) => generated.push(bin),
            Err(error) => {
                eprintln!("error: {error:#}");
                failures += 1;
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} crates failed to generate", bins.len());
    }
    Ok(generated)
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The closing report.
struct Summary {
    proto_files: usize,
    /// Of those, the files of superseded versions: generated, not checked.
    superseded_files: usize,
    excluded: usize,
    crates: usize,
    /// Imports generated in a bin besides its own files, summed over bins.
    generated_again: usize,
    generated: Vec<GeneratedBin>,
    generation_time: Duration,
    check_time: Duration,
    check_passed: bool,
}

impl Summary {
    fn print(self) {
        let checked = || self.generated.iter().filter(|bin| bin.checked);
        let rust_files: usize = checked().map(|bin| bin.rust_files).sum();
        // Counted once per bin that generates the file: the gateway sample generates its
        // directories again.
        let warnings: usize = self.generated.iter().map(|bin| bin.warnings.len()).sum();
        let rust_bytes: u64 = checked().map(|bin| bin.rust_bytes).sum();
        let mut coverage = Coverage::default();
        for bin in self.generated {
            coverage.merge(bin.coverage);
        }
        let outcome = if self.check_passed {
            "passed"
        } else {
            "FAILED"
        };
        println!(
            "
corpus summary
  proto files generated  {} (in {} crates; imports generated again in other crates: {})
  of which not checked   {} (superseded versions of {})
  proto files excluded   {}
  packages               {}
  services               {}
  rpcs                   {}
  messages               {}
  enums                  {}
  Rust checked           {:.1} MB in {} files
  generator errors       0 (every artifact, through the plugin)
  generator warnings     {warnings}
  generation time        {:.1} s
  check time             {:.1} s ({outcome})",
            self.proto_files,
            self.crates,
            self.generated_again,
            self.superseded_files,
            NEWEST_VERSION_ONLY.join(", "),
            self.excluded,
            coverage.packages.len(),
            coverage.services,
            coverage.rpcs,
            coverage.messages,
            coverage.enums,
            megabytes(rust_bytes),
            rust_files,
            self.generation_time.as_secs_f64(),
            self.check_time.as_secs_f64(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_paths_and_crate_count() {
        let expected = |crate_count| Args {
            corpus_dir: "corpus".into(),
            work_dir: "work".into(),
            crate_count,
        };
        assert_eq!(
            parse(&["corpus", "work"]).unwrap(),
            Some(expected(DEFAULT_CRATE_COUNT))
        );
        assert_eq!(
            parse(&["--crates", "24", "corpus", "work"]).unwrap(),
            Some(expected(24))
        );
        assert_eq!(
            parse(&["corpus", "--crates=3", "work"]).unwrap(),
            Some(expected(3))
        );
        assert_eq!(parse(&["--help"]).unwrap(), None);
    }

    #[test]
    fn rejects_bad_arguments() {
        for args in [
            &["corpus"][..],
            &["a", "b", "c"],
            &["--crates", "0", "a", "b"],
            &["--crates", "many", "a", "b"],
            &["a", "b", "--crates"],
            &["--verbose", "a", "b"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }
}
