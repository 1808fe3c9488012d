//! Every bad `google.api.http` annotation is a generation error naming the file, the line of the
//! option, the rpc and the problem (tests/protos/invalid/http/, one mistake per file).

mod common;

use common::root;
use protoc_gen_rust_svc::Builder;

fn error_of(file: &str) -> String {
    let root = root();
    Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/invalid/http").join(file))
        .generate()
        .map(|_| ())
        .expect_err(file)
        .to_string()
}

#[test]
fn bad_http_rules_name_the_file_line_rpc_and_problem() {
    let rpc = |name: &str, rpc: &str| format!("rpc tests.invalid.http.{name}.Things.{rpc}");
    let cases = [
        (
            "bad_template",
            21,
            "Broken",
            "google.api.http: get \"/v1/things/{id=*\": invalid path template",
        ),
        (
            "missing_field",
            21,
            "Broken",
            "path variable `thing_id`: `thing_id` is not a field of tests.invalid.http.missing_field.Req",
        ),
        (
            "repeated_variable",
            21,
            "Broken",
            "path variable `tags`: `tests.invalid.http.repeated_variable.Req.tags` is a repeated field",
        ),
        (
            "message_variable",
            21,
            "Broken",
            "path variable `inner`: `tests.invalid.http.message_variable.Req.inner` is a message field",
        ),
        (
            "body_on_get",
            21,
            "Broken",
            "a GET request has no body, so `body` must not be set",
        ),
        (
            "missing_body_field",
            21,
            "Broken",
            "body field `thing` is not a field of tests.invalid.http.missing_body_field.Req",
        ),
        (
            "missing_response_body",
            21,
            "Broken",
            "response_body field `things` is not a field of tests.invalid.http.missing_response_body.Resp",
        ),
        (
            "nested_bindings",
            21,
            "Broken",
            "additional_bindings must not have additional_bindings of their own",
        ),
        (
            "duplicate_route",
            27,
            "Twin",
            "get \"/v1/things/{name}\" matches the same requests as a binding of rpc tests.invalid.http.duplicate_route.Things.Broken",
        ),
        (
            "streaming_body",
            21,
            "Upload",
            "a client-streaming rpc reads its requests as newline-delimited JSON from the body, so it needs `body: \"*\"`",
        ),
    ];
    for (name, line, method, problem) in cases {
        let error = error_of(&format!("{name}.proto"));
        let place = format!("invalid/http/{name}.proto:{line}: {}: ", rpc(name, method));
        assert!(
            error.starts_with(&place),
            "{name}: expected `{place}…`, got: {error}"
        );
        assert!(
            error.contains(problem),
            "{name}: expected `{problem}` in: {error}"
        );
    }
}

#[test]
fn a_template_error_gives_the_byte_offset() {
    let error = error_of("bad_template.proto");
    assert!(error.contains("at byte"), "{error}");
}
