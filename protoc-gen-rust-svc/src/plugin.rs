//! The plugin over standard input and output, as protoc and buf run it. The binary's plugin
//! mode is this function; it is in the library so that a test harness can build a plugin
//! executable of its own from the library it already compiled (tests/src/bin/plugin.rs).

use std::io::{Read, Write};
use std::process::ExitCode;

/// Reads a `CodeGeneratorRequest` from standard input, writes the `CodeGeneratorResponse` to
/// standard output and the run's warnings to standard error. Fails only when there is no
/// request to read or the response cannot be written: problems with the protos go into the
/// response, as protoc expects.
pub fn run_plugin() -> ExitCode {
    let mut request = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-rust-svc: cannot read stdin: {error}");
        return ExitCode::FAILURE;
    }
    let response = match crate::execute(request) {
        Ok(response) => response,
        Err(error) => {
            eprintln!("protoc-gen-rust-svc: {error}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &response.warnings {
        eprintln!("protoc-gen-rust-svc: warning: {warning}");
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(&response.encoded)
        .and_then(|()| stdout.flush())
    {
        eprintln!("protoc-gen-rust-svc: cannot write stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
