//! The `protoc-gen-rust-svc` binary: a thin shell around the library.
//!
//! - no arguments: protoc / buf plugin mode (request on stdin, response on stdout);
//! - `generate -I DIR… --out DIR [--opt PARAMS] FILE…`: compile with the embedded compiler and
//!   write the files.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

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

const USAGE: &str = "\
usage:
  protoc-gen-rust-svc
      protoc / buf plugin: reads a CodeGeneratorRequest on stdin, writes the response to stdout
  protoc-gen-rust-svc generate [-I DIR]... --out DIR [--opt PARAMS] FILE...
      compiles FILEs with the embedded compiler (no protoc needed) and writes the generated code
      to DIR; PARAMS are the plugin parameters, e.g. `messages=false,include_file=lib.rs`
  protoc-gen-rust-svc --version | --help";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => plugin(),
        Some("generate") => match generate(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("protoc-gen-rust-svc: {error}");
                ExitCode::FAILURE
            }
        },
        Some("--version" | "-V") => {
            println!("protoc-gen-rust-svc {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("protoc-gen-rust-svc: unknown command `{other}`\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn plugin() -> ExitCode {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("protoc-gen-rust-svc: expected a CodeGeneratorRequest on stdin\n{USAGE}");
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

fn generate(args: &[String]) -> Result<(), Error> {
    let mut builder = Builder::new();
    let mut out_dir = None;
    let mut args = args.iter();
    let value = |flag: &str, next: Option<&String>| {
        next.cloned()
            .ok_or_else(|| Error::new(format!("{flag} needs a value\n{USAGE}")))
    };
    while let Some(arg) = args.next() {
        builder = match arg.as_str() {
            "-I" | "--include" => builder.include(value(arg, args.next())?),
            "--out" | "-o" => {
                out_dir = Some(value(arg, args.next())?);
                builder
            }
            "--opt" => builder.parameter(&value(arg, args.next())?)?,
            flag if flag.starts_with("-I") && flag.len() > 2 => builder.include(&flag[2..]),
            flag if flag.starts_with('-') => {
                return Err(Error::new(format!("unknown option `{flag}`\n{USAGE}")));
            }
            file => builder.file(file),
        };
    }
    let out_dir = out_dir.ok_or_else(|| Error::new(format!("--out DIR is required\n{USAGE}")))?;
    builder.out_dir(out_dir).compile()?;
    Ok(())
}
