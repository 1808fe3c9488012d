//! The three ways in give the same files, and bad input fails the way protoc expects: a
//! request with problems answers with `CodeGeneratorResponse.error` (exit 0); bytes that are not
//! a request get one line on stderr and exit 1.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use prost::Message;
use prost_types::compiler::CodeGeneratorResponse;
use protoc_gen_rust_svc::Builder;

use crate::common::{EXAMPLE_PROTOS, read_dir_files, root, test_protos};

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-svc");

fn protoc(args: &[&str]) -> Output {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    let wkt = protoc_bin_vendored::include_path().expect("vendored well-known types");
    Command::new(protoc)
        .current_dir(root())
        .arg(format!("--plugin=protoc-gen-rust-svc={PLUGIN}"))
        .arg(format!("-I{}", wkt.display()))
        .args(args)
        .output()
        .expect("protoc runs")
}

fn run_plugin(stdin: &[u8]) -> Output {
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plugin starts");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Generates `protos` three ways and checks the outputs are byte-identical.
fn assert_three_ways_agree(includes: &[&str], protos: &[String]) {
    let root = root();
    let via_protoc = tempfile::tempdir().unwrap();
    let via_generate = tempfile::tempdir().unwrap();
    let via_builder = tempfile::tempdir().unwrap();

    let includes_args: Vec<String> = includes.iter().map(|dir| format!("-I{dir}")).collect();
    let out = format!("--rust-svc_out={}", via_protoc.path().display());
    let mut args: Vec<&str> = includes_args.iter().map(String::as_str).collect();
    args.push(&out);
    args.extend(protos.iter().map(String::as_str));
    let output = protoc(&args);
    assert!(
        output.status.success(),
        "protoc: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut generate = Command::new(PLUGIN);
    generate.current_dir(&root).arg("generate");
    for dir in includes {
        generate.args(["-I", dir]);
    }
    let output = generate
        .arg("--out")
        .arg(via_generate.path())
        .args(protos)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut builder = Builder::new().out_dir(via_builder.path());
    for dir in includes {
        builder = builder.include(root.join(dir));
    }
    builder
        .files(protos.iter().map(|proto| root.join(proto)))
        .compile()
        .expect("builder compiles");

    let protoc_files = read_dir_files(via_protoc.path());
    assert!(
        protoc_files.contains_key("mod.rs"),
        "{:?}",
        protoc_files.keys()
    );
    assert_eq!(
        protoc_files,
        read_dir_files(via_generate.path()),
        "protoc vs generate"
    );
    assert_eq!(
        protoc_files,
        read_dir_files(via_builder.path()),
        "protoc vs build.rs API"
    );
}

#[test]
fn protoc_generate_and_builder_agree_on_the_example_system() {
    let protos: Vec<String> = EXAMPLE_PROTOS.iter().map(|p| p.to_string()).collect();
    assert_three_ways_agree(&["proto"], &protos);
}

#[test]
fn protoc_generate_and_builder_agree_on_the_test_protos() {
    let root = root();
    let protos: Vec<String> = test_protos()
        .iter()
        // Values differing only in case are a warning for protoc 3.21 and protox, but an error
        // for the vendored protoc (36) unless the enum sets `deprecated_legacy_json_field_conflicts`,
        // an option 3.21 does not know. The golden and compile tests cover it through protox.
        .filter(|path| !path.ends_with("enum_case.proto"))
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_three_ways_agree(&["tests/protos", "proto"], &protos);
}

#[test]
fn stdin_that_is_not_a_request_gets_one_line_and_exit_1() {
    for garbage in [&b""[..], b"\xff\xff\xff\xff not a request", b"\x0a\xff\x01"] {
        let output = run_plugin(garbage);
        assert_eq!(output.status.code(), Some(1), "{garbage:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("protoc-gen-rust-svc: "), "{stderr}");
        assert!(stderr.contains("CodeGeneratorRequest"), "{stderr}");
    }
}

/// Encoded `FileDescriptorProto`s, kept undecoded so custom options survive.
#[derive(Clone, PartialEq, prost::Message)]
struct RawFileSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// A `CodeGeneratorRequest` with undecoded files.
#[derive(Clone, PartialEq, prost::Message)]
struct RawRequest {
    #[prost(string, repeated, tag = "1")]
    file_to_generate: Vec<String>,
    #[prost(string, optional, tag = "2")]
    parameter: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

/// The edition range of a `CodeGeneratorResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct EditionRange {
    #[prost(int32, optional, tag = "3")]
    minimum_edition: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    maximum_edition: Option<i32>,
}

/// A request for `file` (under `tests/protos` or `proto`) as protoc would send it.
fn request_for(file: &str, parameter: &str) -> Vec<u8> {
    let set = tempfile::NamedTempFile::new().unwrap();
    let out = format!("--descriptor_set_out={}", set.path().display());
    let output = protoc(&[
        "-Itests/protos",
        "-Iproto",
        "--include_imports",
        "--include_source_info",
        &out,
        file,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let set = RawFileSet::decode(std::fs::read(set.path()).unwrap().as_slice()).unwrap();
    let name = Path::new(file)
        .strip_prefix("tests/protos")
        .or_else(|_| Path::new(file).strip_prefix("proto"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    RawRequest {
        file_to_generate: vec![name],
        parameter: Some(parameter.to_owned()),
        proto_file: set.file,
    }
    .encode_to_vec()
}

fn response_error(request: &[u8]) -> Option<String> {
    let output = run_plugin(request);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap();
    assert_eq!(
        response.supported_features,
        Some(3),
        "declares FEATURE_PROTO3_OPTIONAL and FEATURE_SUPPORTS_EDITIONS"
    );
    // minimum_edition and maximum_edition (fields 3 and 4, which prost-types 0.14 predates):
    // EDITION_PROTO2 to EDITION_2024, as protoc requires of a plugin that supports editions.
    let editions = EditionRange::decode(output.stdout.as_slice()).unwrap();
    assert_eq!(
        (editions.minimum_edition, editions.maximum_edition),
        (Some(998), Some(1001))
    );
    if response.error.is_some() {
        assert!(response.file.is_empty(), "no files alongside an error");
    }
    response.error
}

#[test]
fn a_valid_request_answers_with_files_and_no_error() {
    let request = request_for("tests/protos/streaming.proto", "");
    assert_eq!(response_error(&request), None);
}

#[test]
fn bad_parameters_are_reported_in_the_response() {
    let cases = [
        ("colour=blue", "unknown plugin parameter `colour`"),
        (
            "messages=maybe",
            "`messages=maybe` must be `true` or `false`",
        ),
        ("artifacts=domain+rest", "unknown artifact `rest`"),
    ];
    for (parameter, expected) in cases {
        let request = request_for("tests/protos/streaming.proto", parameter);
        let error = response_error(&request).expect("an error");
        assert!(error.contains(expected), "{parameter}: {error}");
    }
}

#[test]
fn bad_policies_name_the_file_line_and_rpc() {
    let cases = [
        (
            "tests/protos/invalid/bad_deadline.proto",
            "invalid/bad_deadline.proto:18: rpc tests.invalid.bad_deadline.BadDeadline.Broken: deadline must not be negative",
        ),
        (
            "tests/protos/invalid/bad_attempts.proto",
            "invalid/bad_attempts.proto:19: rpc tests.invalid.bad_attempts.BadAttempts.Broken: retry.max_attempts is 0",
        ),
        (
            "tests/protos/invalid/key_in_oneof.proto",
            "invalid/key_in_oneof.proto:14: field tests.invalid.key_in_oneof.Req.key: (rust_svc.v1.idempotency_key) must not mark a member of a oneof",
        ),
    ];
    for (file, expected) in cases {
        let error = response_error(&request_for(file, "")).expect("an error");
        assert!(error.contains(expected), "{file}: {error}");
        assert!(error.contains(".proto:"), "names file:line: {error}");

        // protoc shows the same error and fails.
        let out = tempfile::tempdir().unwrap();
        let out_arg = format!("--rust-svc_out={}", out.path().display());
        let output = protoc(&["-Itests/protos", "-Iproto", &out_arg, file]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains(expected));
    }
    let attempts =
        response_error(&request_for("tests/protos/invalid/bad_attempts.proto", "")).unwrap();
    assert!(attempts.contains("max_attempts is 0"), "{attempts}");
}

#[test]
fn the_generate_command_reports_errors_with_exit_1() {
    let output = Command::new(PLUGIN)
        .current_dir(root())
        .args(["generate", "-I", "tests/protos", "-I", "proto", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("tests/protos/invalid/bad_deadline.proto")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad_deadline.proto:18"), "{stderr}");

    let output = Command::new(PLUGIN)
        .args(["generate", "x.proto"])
        .output()
        .unwrap();
    // A usage error: clap's message and exit code (tests/cli.rs has the rest).
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--out <DIR>"));
}

/// Two rpcs on one (method, template): protoc and `generate` succeed and show the warning,
/// naming the file:line and both rpcs; with `strict_http_rules=true` protoc fails.
#[test]
fn a_shared_route_warns_on_stderr_through_protoc_and_generate() {
    let file = "tests/protos/invalid/http/duplicate_route.proto";
    let expected = "protoc-gen-rust-svc: warning: invalid/http/duplicate_route.proto:29: rpc tests.invalid.http.duplicate_route.Things.Twin: google.api.http: get \"/v1/things/{name}\" matches the same requests as get \"/v1/things/{id}\" of rpc tests.invalid.http.duplicate_route.Things.Broken (invalid/http/duplicate_route.proto:23)";

    let out = tempfile::tempdir().unwrap();
    let out_arg = format!("--rust-svc_out={}", out.path().display());
    let output = protoc(&["-Itests/protos", "-Iproto", &out_arg, file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");

    let output = Command::new(PLUGIN)
        .current_dir(root())
        .args(["generate", "-I", "tests/protos", "-I", "proto", "--out"])
        .arg(out.path())
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");

    let strict = format!(
        "--rust-svc_out=strict_http_rules=true:{}",
        out.path().display()
    );
    let output = protoc(&["-Itests/protos", "-Iproto", &strict, file]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "duplicate_route.proto:29: rpc tests.invalid.http.duplicate_route.Things.Twin"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
}

/// `tests/protos/editions/routed.proto` through protoc and the plugin: the output directory and
/// protoc's outcome.
fn protoc_routed() -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().unwrap();
    let out_arg = format!("--rust-svc_out={}", out.path().display());
    let output = protoc(&[
        "-Itests/protos/editions",
        "-Iproto",
        &out_arg,
        "tests/protos/editions/routed.proto",
    ]);
    (out, output)
}

/// An edition 2023 file through protoc 27+ (the vendored one): the plugin says it supports
/// editions, lowers the file, and its custom options (`google.api.http`, the policies) survive.
#[test]
fn protoc_sends_editions_and_the_custom_options_survive_the_lowering() {
    let (out, output) = protoc_routed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let files = read_dir_files(out.path());
    let messages = &files["tests.editions.routed.rs"];
    // Implicit presence is proto3's plain field; the explicit one is proto3's `optional`.
    assert!(
        messages.contains("pub name: ::prost::alloc::string::String,"),
        "{messages}"
    );
    assert!(
        messages.contains("#[prost(int32, optional, tag = \"2\")]"),
        "{messages}"
    );
    let services = &files["tests.editions.routed.svc.rs"];
    // google.api.http became a route, the policy a deadline.
    assert!(services.contains("\"/v1/{name=things/*}\""), "{services}");
    assert!(services.contains("Duration::new(2, 0)"), "{services}");
}

/// A feature the lowering cannot say: protoc fails with the plugin's error naming file:line.
#[test]
fn an_editions_feature_without_an_equivalent_names_the_file_line_and_feature() {
    for (file, expected) in [
        (
            "required_in_proto3.proto",
            "invalid/editions/required_in_proto3.proto:12: field tests.invalid.editions.Req.key: \
             features.field_presence = LEGACY_REQUIRED has no proto3 equivalent",
        ),
        (
            "closed_enum_in_proto3.proto",
            "invalid/editions/closed_enum_in_proto3.proto:12: enum \
             tests.invalid.editions.Reading.Unit: features.enum_type = CLOSED with a first value \
             other than zero has no proto3 equivalent",
        ),
        (
            "delimited_list_in_proto3.proto",
            "invalid/editions/delimited_list_in_proto3.proto:15: field \
             tests.invalid.editions.Batch.entries: features.message_encoding = DELIMITED has no \
             proto3 equivalent",
        ),
        // Not the lowering's: the validator's own error, placed at the line it is about.
        (
            "json_name_conflict.proto",
            "invalid/editions/json_name_conflict.proto:12: the request's descriptors are \
             invalid: a field with JSON name 'fooBar' is already defined",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let out_arg = format!("--rust-svc_out={}", out.path().display());
        let path = format!("tests/protos/invalid/editions/{file}");
        let output = protoc(&["-Itests/protos", &out_arg, &path]);
        assert!(!output.status.success(), "{file}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

/// The embedded compiler does not parse editions: one line saying so and what works.
#[test]
fn the_embedded_compiler_names_the_way_to_generate_editions() {
    let error = protoc_gen_rust_svc::Builder::new()
        .include(root().join("tests/protos/editions"))
        .include(root().join("proto"))
        .file(root().join("tests/protos/editions/routed.proto"))
        .generate()
        .expect_err("protox does not parse editions")
        .to_string();
    let first = error.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("routed.proto:3:1: this file uses editions"),
        "{error}"
    );
    assert!(first.contains("Builder::protoc"), "{first}");

    // And Builder::protoc with protoc 27+ generates what the plugin does through protoc.
    let with_protoc = protoc_gen_rust_svc::Builder::new()
        .protoc(protoc_bin_vendored::protoc_bin_path().unwrap())
        .include(root().join("tests/protos/editions"))
        .include(root().join("proto"))
        .include(protoc_bin_vendored::include_path().unwrap())
        .file(root().join("tests/protos/editions/routed.proto"))
        .generate()
        .expect("protoc compiles editions");
    let (out, output) = protoc_routed();
    assert!(output.status.success());
    let via_plugin = read_dir_files(out.path());
    for file in &with_protoc {
        assert_eq!(
            via_plugin.get(&file.name),
            Some(&file.content),
            "{}",
            file.name
        );
    }
    assert_eq!(via_plugin.len(), with_protoc.len());
}

/// Whether `tool` runs; with `RUST_SVC_REQUIRE_TOOLS` (CI) a missing tool fails the test.
fn have(tool: &str) -> bool {
    let runs = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !runs {
        let required = std::env::var_os("RUST_SVC_REQUIRE_TOOLS").is_some();
        assert!(!required, "{tool} is required (RUST_SVC_REQUIRE_TOOLS)");
        eprintln!("SKIPPED: {tool} is not installed");
    }
    runs
}

/// buf compiles edition 2023 protos itself and runs the plugin on them: the files are the ones
/// protoc's run gives (the messages round-trip against their proto2 / proto3 equivalents in the
/// `rust-svc-tests` crate, src/editions_roundtrip.rs).
#[test]
fn buf_generates_edition_2023_protos_as_protoc_does() {
    if !have("buf") {
        return;
    }
    let module = tempfile::tempdir().unwrap();
    for name in ["explicit", "implicit"] {
        std::fs::copy(
            root().join(format!("tests/protos/editions/{name}.proto")),
            module.path().join(format!("{name}.proto")),
        )
        .unwrap();
    }
    std::fs::write(module.path().join("buf.yaml"), "version: v2\n").unwrap();
    std::fs::write(
        module.path().join("buf.gen.yaml"),
        format!("version: v2\nplugins:\n  - local: {PLUGIN}\n    out: out\n"),
    )
    .unwrap();
    let output = Command::new("buf")
        .current_dir(module.path())
        .arg("generate")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf generate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let via_buf = read_dir_files(&module.path().join("out"));

    let out = tempfile::tempdir().unwrap();
    let out_arg = format!("--rust-svc_out={}", out.path().display());
    let output = protoc(&[
        "-Itests/protos/editions",
        &out_arg,
        "tests/protos/editions/explicit.proto",
        "tests/protos/editions/implicit.proto",
    ]);
    assert!(output.status.success());
    let via_protoc = read_dir_files(out.path());
    assert_eq!(via_buf, via_protoc);
    assert!(
        via_buf["tests.editions.explicit.rs"].contains("#[prost(group, optional, tag = \"7\")]"),
        "a delimited field is a group"
    );
}
