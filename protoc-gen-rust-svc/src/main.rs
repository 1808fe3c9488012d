//! The `protoc-gen-rust-svc` binary: a thin shell around the library.
//!
//! - no arguments: protoc / buf plugin mode (request on stdin, response on stdout);
//! - `generate -I DIR… --out DIR [--opt PARAMS] FILE…`: compile with the embedded compiler and
//!   write the files;
//! - `--help` and `--version`, on the command and on every subcommand (clap).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use protoc_gen_rust_svc::{Builder, Error};

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
    /// The .proto files to compile, inside one of the include directories.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        None => plugin(),
        Some(Command::Generate(args)) => match generate(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("protoc-gen-rust-svc: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn plugin() -> ExitCode {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        // Someone ran the plugin by hand: say what it expects and what else it can do.
        eprintln!(
            "protoc-gen-rust-svc: expected a CodeGeneratorRequest on stdin\n\n{}",
            Cli::command().render_long_help()
        );
        return ExitCode::FAILURE;
    }
    let mut request = Vec::new();
    if let Err(error) = stdin.read_to_end(&mut request) {
        eprintln!("protoc-gen-rust-svc: cannot read stdin: {error}");
        return ExitCode::FAILURE;
    }
    let response = match protoc_gen_rust_svc::execute(request) {
        Ok(response) => response,
        Err(error) => {
            eprintln!("protoc-gen-rust-svc: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-rust-svc: cannot write stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
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
    builder.files(args.files).out_dir(args.out).compile()?;
    Ok(())
}
