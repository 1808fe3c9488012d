//! The command line: `--help` and `--version` on the command and on every subcommand, clap's
//! usage errors, the `generate` flags the README and scripts use, `parameters` (which
//! `cargo generate-docs` runs), and the plugin mode that a run with no arguments still is.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use prost::Message;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::common::{self, root};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-svc");

fn run(args: &[&str]) -> Output {
    Command::new(PLUGIN)
        .current_dir(root())
        .args(args)
        // Not a terminal, so that a run that wrongly fell into plugin mode would fail on empty
        // stdin rather than wait for input.
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

#[test]
fn help_describes_the_plugin_mode_and_the_generate_command() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        let help = stdout(&output);
        assert!(
            help.contains("Usage: protoc-gen-rust-svc [COMMAND]"),
            "{help}"
        );
        // Every subcommand, with the first line of its description.
        for command in [
            "generate    Compile FILEs",
            "new         Scaffold a service crate",
            "check       Compare a scaffolded crate's handlers",
            "parameters  Print the reference of the plugin parameters",
        ] {
            assert!(help.contains(command), "{flag} lacks {command}: {help}");
        }
    }
    let help = stdout(&run(&["--help"]));
    assert!(
        help.contains("reads a CodeGeneratorRequest on stdin"),
        "{help}"
    );
}

#[test]
fn generate_help_lists_every_flag() {
    for args in [
        &["generate", "--help"][..],
        &["generate", "-h"],
        &["help", "generate"],
    ] {
        let output = run(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let help = stdout(&output);
        assert!(
            help.contains("Usage: protoc-gen-rust-svc generate [OPTIONS] --out <DIR> <FILE>..."),
            "{args:?}: {help}"
        );
        for flag in ["-I, --include <DIR>", "-o, --out <DIR>", "--opt <PARAMS>"] {
            assert!(help.contains(flag), "{args:?} lacks {flag}: {help}");
        }
    }
}

#[test]
fn version_is_the_same_on_the_command_and_the_subcommand() {
    let expected = format!("protoc-gen-rust-svc {}\n", env!("CARGO_PKG_VERSION"));
    for args in [
        &["--version"][..],
        &["-V"],
        &["generate", "--version"],
        &["parameters", "--version"],
    ] {
        let output = run(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), expected, "{args:?}");
    }
}

#[test]
fn usage_errors_name_the_problem_and_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["generate", "--bogus", "-o", "out", "x.proto"],
            "unexpected argument '--bogus' found",
        ),
        (
            &["generate", "x.proto"],
            "the following required arguments were not provided:\n  --out <DIR>",
        ),
        (
            &["generate", "--out", "out"],
            "the following required arguments were not provided:\n  <FILE>...",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, expected) in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = stderr(&output);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            stderr.contains("For more information, try '--help'."),
            "{stderr}"
        );
    }
}

#[test]
fn generate_takes_attached_and_long_flags_and_repeated_opts() {
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "generate",
        "-Iproto",
        "--include",
        "tests/protos",
        "-o",
        out.path().to_str().unwrap(),
        "--opt",
        "messages=false",
        "--opt",
        "include_file=lib.rs",
        "proto/inventory/v1/inventory.proto",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let files = common::read_dir_files(out.path());
    // Both `--opt`s took effect: no messages file, and the include file under its new name.
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["inventory.v1.svc.rs", "lib.rs"],
        "{:?}",
        files.keys()
    );
}

#[test]
fn parameters_prints_the_reference_or_writes_it_to_out() {
    let reference = protoc_gen_rust_svc::params::reference_markdown();
    let output = run(&["parameters"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), reference);

    let dir = tempfile::tempdir().unwrap();
    for flag in ["--out", "-o"] {
        // The file's directory need not exist yet.
        let file = dir
            .path()
            .join(flag.trim_start_matches('-'))
            .join("parameters.md");
        let output = run(&["parameters", flag, file.to_str().unwrap()]);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        assert!(output.stdout.is_empty(), "{flag}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), reference, "{flag}");
    }

    let help = stdout(&run(&["parameters", "--help"]));
    assert!(
        help.contains("Usage: protoc-gen-rust-svc parameters [OPTIONS]"),
        "{help}"
    );
    assert!(help.contains("-o, --out <FILE>"), "{help}");

    // A file in the way of the directory is an error naming the path, not a panic.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("parameters.md");
    let output = run(&["parameters", "--out", target.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("protoc-gen-rust-svc: cannot write "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn no_arguments_is_still_the_plugin() {
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plugin starts");
    // A request with nothing to generate: protoc never sends one, but it is a request.
    let request = CodeGeneratorRequest {
        parameter: Some(String::new()),
        ..Default::default()
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&request.encode_to_vec())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap();
    assert_eq!(response.error, None);
    // FEATURE_PROTO3_OPTIONAL | FEATURE_SUPPORTS_EDITIONS.
    assert_eq!(response.supported_features, Some(3));
}
