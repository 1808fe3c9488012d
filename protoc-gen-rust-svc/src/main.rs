//! The `protoc-gen-rust-svc` binary: a thin shell around the library.
//!
//! - no arguments: protoc / buf plugin mode (request on stdin, response on stdout);
//! - `generate -I DIR… --out DIR [--opt PARAMS] FILE…`: compile with the embedded compiler and
//!   write the files;
//! - `new NAME --proto FILE …`: scaffold a service crate from templates;
//! - `check [--crate DIR]`: compare a scaffolded crate's handlers with its protos;
//! - `parameters [--out FILE]`: the plugin parameters' reference, in markdown (what
//!   `cargo generate-docs` writes to docs/src/reference/parameters.md);
//! - `--help` and `--version`, on the command and on every subcommand (clap).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use protoc_gen_rust_svc::{Builder, Error, scaffold};

// See the `jemalloc` feature in Cargo.toml.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (its `malloc_conf`, a C string pointer): one arena
/// per CPU rather than four per CPU, and freed pages returned after 300 ms rather than 10 s.
/// With the defaults, memory freed by one phase of a run was not reused by the next, and peak
/// RSS was half as high again for the same speed (bench/RESULTS.md). `_RJEM_MALLOC_CONF` in
/// the environment still overrides them.
#[cfg(feature = "jemalloc")]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS: &u8 = &b"percpu_arena:percpu,dirty_decay_ms:300\0"[0];

/// Protobuf code generator for Rust services.
///
/// Run without arguments it is a protoc / buf plugin: it reads a CodeGeneratorRequest on stdin
/// and writes the response to stdout. `generate` compiles protos itself, with no protoc needed.
#[derive(Parser)]
#[command(name = "protoc-gen-rust-svc", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Compile FILEs with the embedded compiler (no protoc needed) and write the generated code
    /// to the output directory.
    // Named as the binary so that `generate --version` prints what `--version` prints.
    #[command(display_name = "protoc-gen-rust-svc")]
    Generate(GenerateArgs),
    /// Scaffold a service crate from .proto files: a binary serving gRPC, REST and gRPC-Web on
    /// one port with health, reflection, metrics, TLS and graceful shutdown; one file per
    /// service to fill in; tests; a Dockerfile, a Kubernetes manifest and a CI workflow.
    #[command(display_name = "protoc-gen-rust-svc")]
    New(NewArgs),
    /// Compare a scaffolded crate's handlers with its protos: rpcs without a handler, handlers
    /// of rpcs that are gone, signatures that changed. Exits 1 when there are any.
    #[command(display_name = "protoc-gen-rust-svc")]
    Check(CheckArgs),
    /// Print the reference of the plugin parameters (every key, the values it takes, its
    /// default and its Builder method), in markdown, or write it to a file.
    #[command(display_name = "protoc-gen-rust-svc")]
    Parameters(ParametersArgs),
}

#[derive(Args)]
struct ParametersArgs {
    /// Write the reference to FILE (its directory created if need be) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct NewArgs {
    /// The crate name (letters, digits, `-`, `_`).
    name: String,
    /// A .proto file whose services to implement (repeatable; also the files of --client
    /// services).
    #[arg(long = "proto", value_name = "FILE", required = true)]
    protos: Vec<PathBuf>,
    /// A directory to search for the files and their imports (repeatable); the current
    /// directory by default.
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    include: Vec<PathBuf>,
    /// A service to implement, `pkg.Service` (repeatable); every service of the files that is
    /// not a --client by default.
    #[arg(long = "service", value_name = "pkg.Service")]
    services: Vec<String>,
    /// A service the implementations call, `pkg.Service` (repeatable): its generated client
    /// arrives in their constructors, and its URLs are a flag.
    #[arg(long = "client", value_name = "pkg.Service")]
    clients: Vec<String>,
    /// The directory to write the crate to; ./NAME by default.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where the crate gets rust-svc-runtime and the generator: a VERSION on crates.io,
    /// git=URL[,rev=R|,tag=T|,branch=B] (a repository of this project), or the PATH of a
    /// checkout's runtime/ (the generator beside it; on this machine only). By default this
    /// generator's version from crates.io once it is published there, and until then copies
    /// of the checkout it was built from (--vendor-runtime).
    #[arg(long, value_name = "VERSION|git=URL|PATH")]
    runtime: Option<String>,
    /// Copy the runtime, the template crate and the generator into the crate (vendor/), from
    /// the checkout this generator was built from, or from the checkout whose runtime/ is
    /// --runtime PATH: the crate then builds from its directory alone (Dockerfile, CI).
    #[arg(long)]
    vendor_runtime: bool,
    /// Generate the code with `buf generate` into src/generated (buf.gen.yaml) instead of in
    /// build.rs.
    #[arg(long)]
    buf: bool,
    /// Write into a directory that is not empty: missing files are added and files unchanged
    /// since they were scaffolded are updated; files you changed are kept.
    #[arg(long)]
    force: bool,
    /// With --force, overwrite this file even though you changed it (crate-relative path,
    /// repeatable).
    #[arg(long, value_name = "FILE", requires = "force")]
    overwrite: Vec<String>,
    /// A directory of templates overriding the built-in ones file by file, by the same paths
    /// (e.g. src/main.rs, README.md); see templates/README.md for what they can use.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Plugin parameters for the crate's generated code, as `generate --opt` takes them (e.g.
    /// `allow_delete_body=true`); written into build.rs or buf.gen.yaml.
    #[arg(long, value_name = "PARAMS")]
    opt: Vec<String>,
}

#[derive(Args)]
struct CheckArgs {
    /// The scaffolded crate.
    #[arg(long = "crate", value_name = "DIR", default_value = ".")]
    krate: PathBuf,
}

#[derive(Args)]
struct GenerateArgs {
    /// A directory to search for FILEs and their imports (repeatable).
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    include: Vec<PathBuf>,
    /// The directory to write the generated files to.
    #[arg(short = 'o', long, value_name = "DIR")]
    out: PathBuf,
    /// Plugin parameters, as protoc's `--rust-svc_opt`, e.g. `messages=false,include_file=lib.rs`
    /// (repeatable; joined with commas).
    #[arg(long, value_name = "PARAMS")]
    opt: Vec<String>,
    /// Compile with this protoc instead of the embedded compiler (protoc 27 or later parses
    /// files written with editions, which the embedded compiler does not yet).
    #[arg(long, value_name = "PATH")]
    protoc: Option<PathBuf>,
    /// The .proto files to compile, inside one of the include directories.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        None => plugin(),
        Some(Command::Generate(args)) => report(generate(args)),
        Some(Command::New(args)) => report(new(args)),
        Some(Command::Check(args)) => match check(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => report(Err(error)),
        },
        Some(Command::Parameters(args)) => report(parameters(&args)),
    }
}

/// Success, or the error on stderr and status 1.
fn report(outcome: Result<(), Error>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("protoc-gen-rust-svc: {error}");
            ExitCode::FAILURE
        }
    }
}

fn new(args: NewArgs) -> Result<(), Error> {
    let options = scaffold::NewOptions {
        name: args.name,
        protos: args.protos,
        includes: args.include,
        services: args.services,
        clients: args.clients,
        out: args.out,
        runtime: match (args.vendor_runtime, args.runtime) {
            (true, None) => Some("vendor".to_owned()),
            (true, Some(checkout)) => Some(format!("vendor={checkout}")),
            (false, runtime) => runtime,
        },
        buf: args.buf,
        force: args.force,
        overwrite: args.overwrite,
        templates: args.templates,
        parameters: args.opt,
    };
    let report = scaffold::new_crate(&options)?;
    if let Some(caveat) = scaffold::sources::caveat(options.runtime.as_deref()) {
        eprintln!("protoc-gen-rust-svc: note: {caveat}");
    }
    let mut stdout = std::io::stdout().lock();
    for file in &report.written {
        let _ = writeln!(stdout, "wrote {file}");
    }
    for file in &report.kept {
        let _ = writeln!(
            stdout,
            "kept {file}: you changed it since it was scaffolded (--overwrite {file} to replace it)"
        );
    }
    // With --buf the code is generated by `buf generate`, which has not run yet.
    let generate = if options.buf { "buf generate && " } else { "" };
    let _ = writeln!(
        stdout,
        "\n{} is ready: cd {} && {generate}cargo test",
        options.name,
        report.dir.display()
    );
    Ok(())
}

/// Whether the crate matches its protos; the differences on stdout.
fn check(args: &CheckArgs) -> Result<bool, Error> {
    let report = scaffold::check::check_crate(&args.krate)?;
    let mut stdout = std::io::stdout().lock();
    for finding in &report.findings {
        let _ = writeln!(stdout, "{finding}\n");
    }
    if report.findings.is_empty() {
        for (service, rpcs) in &report.compared {
            let _ = writeln!(
                stdout,
                "{service}: every one of its {rpcs} rpcs has its handler"
            );
        }
        Ok(true)
    } else {
        let _ = writeln!(
            stdout,
            "{} difference(s) between the crate and its protos",
            report.findings.len()
        );
        Ok(false)
    }
}

/// The parameter reference, to stdout or to `--out`.
fn parameters(args: &ParametersArgs) -> Result<(), Error> {
    let reference = protoc_gen_rust_svc::params::reference_markdown();
    let Some(path) = &args.out else {
        let _ = std::io::stdout().lock().write_all(reference.as_bytes());
        return Ok(());
    };
    let cannot =
        |error: std::io::Error| Error::new(format!("cannot write {}: {error}", path.display()));
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(cannot)?;
    }
    std::fs::write(path, reference).map_err(cannot)
}

fn plugin() -> ExitCode {
    if std::io::stdin().is_terminal() {
        // Someone ran the plugin by hand: say what it expects and what else it can do.
        eprintln!(
            "protoc-gen-rust-svc: expected a CodeGeneratorRequest on stdin\n\n{}",
            Cli::command().render_long_help()
        );
        return ExitCode::FAILURE;
    }
    protoc_gen_rust_svc::run_plugin()
}

fn generate(args: GenerateArgs) -> Result<(), Error> {
    let mut builder = Builder::new();
    for dir in args.include {
        builder = builder.include(dir);
    }
    // Repeated `--opt`s add up, as protoc's repeated `--rust-svc_opt`s do.
    if !args.opt.is_empty() {
        builder = builder.parameter(&args.opt.join(","))?;
    }
    if let Some(protoc) = args.protoc {
        builder = builder.protoc(protoc);
    }
    builder.files(args.files).out_dir(args.out).compile()?;
    Ok(())
}
