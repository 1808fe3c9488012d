//! Every bad `google.api.http` annotation is a generation error naming the file, the line of the
//! option, the rpc and the problem (tests/protos/invalid/http/, one mistake per file); two rpcs
//! on one route are a warning unless `strict_http_rules` is on.

use protoc_gen_rust_svc::Builder;

use crate::common::root;

fn error_of(file: &str) -> String {
    let root = root();
    Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/invalid/http").join(file))
        // Two rpcs on one route are only an error in strict mode (see below for the default).
        .strict_http_rules(true)
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
            23,
            "Broken",
            "path variable `inners`: `tests.invalid.http.repeated_variable.Req.inners` is a repeated message field",
        ),
        (
            "map_variable",
            22,
            "Broken",
            "path variable `labels`: `tests.invalid.http.map_variable.Req.labels` is a map field",
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
            "body_on_delete",
            21,
            "Broken",
            "a DELETE request has no body by default, so `body` must not be set",
        ),
        (
            "missing_body_field",
            21,
            "Broken",
            "body field `thing` is not a field of tests.invalid.http.missing_body_field.Req",
        ),
        (
            "body_through_list",
            20,
            "Broken",
            "body field `inners.id`: `inners` is not a singular message field of tests.invalid.http.body_through_list.Req",
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
            29,
            "Twin",
            "get \"/v1/things/{name}\" matches the same requests as get \"/v1/things/{id}\" of rpc tests.invalid.http.duplicate_route.Things.Broken",
        ),
        (
            "wildcard_after_double_wildcard",
            23,
            "Broken",
            "get \"/v1/{name=things/**}/{id}\": a `*` or a variable after `**` is refused under `strict_http_rules=true`, as the Envoy transcoder refuses it",
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

#[test]
fn a_wildcard_after_double_wildcard_is_a_warning_and_served_as_grpc_gateway_serves_it() {
    // Firestore's `ListDocuments` (`{parent=projects/*/databases/*/documents/*/**}/{collection_id}`)
    // and remoteworkers' `{name=**/botSessions/*}`: grpc-gateway serves them (the tail after
    // `**` has a fixed length), the Envoy transcoder refuses them.
    let root = root();
    let builder = || {
        Builder::new()
            .include(root.join("tests/protos"))
            .include(root.join("proto"))
            .file(root.join("tests/protos/invalid/http/wildcard_after_double_wildcard.proto"))
    };
    let generated = builder()
        .generate_with_warnings()
        .expect("accepted by default");
    let warnings: Vec<String> = generated.warnings.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(warnings.join("\n"), @r#"invalid/http/wildcard_after_double_wildcard.proto:23: rpc tests.invalid.http.wildcard_after_double_wildcard.Things.Broken: google.api.http: get "/v1/{name=things/**}/{id}": a `*` or a variable after `**`, served as grpc-gateway serves it (`**` takes what the fixed number of segments after it leave); the Envoy transcoder refuses such a template, and `strict_http_rules=true` makes this an error"#);
    let gateway = generated
        .files
        .iter()
        .find(|file| file.content.contains("/v1/{name=things/**}/{id}"))
        .expect("the route is in the gateway's table");
    assert!(gateway.name.ends_with(".rs"), "{}", gateway.name);
    // The parameter that used to accept it is still read, and changes nothing.
    let deprecated = builder()
        .parameter("wildcards_after_double_wildcard=true")
        .expect("still a known parameter")
        .generate_with_warnings()
        .expect("accepted");
    assert_eq!(deprecated.files, generated.files);
    assert_eq!(deprecated.warnings.len(), 1);
    // Strict: refused (the error's wording is checked with the other bad rules above).
    builder()
        .strict_http_rules(true)
        .generate()
        .expect_err("refused under strict_http_rules");
    // Without the gateway and OpenAPI nothing serves the route: no warning, nothing refused.
    let grpc_only = builder()
        .parameter("artifacts=domain+server+client,strict_http_rules=true")
        .expect("valid parameters")
        .generate_with_warnings()
        .expect("no gateway, no Envoy rule");
    assert!(grpc_only.warnings.is_empty(), "{:?}", grpc_only.warnings);
}

#[test]
fn without_the_gateway_and_openapi_a_bad_rule_is_a_warning_and_the_rpc_is_generated() {
    // A gRPC-only build of a proto whose HTTP rules the gateway could not serve (grpc-gateway's
    // a_bit_of_everything.proto stopped such builds): the rpc without its bindings.
    let root = root();
    let generated = Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/invalid/http/repeated_variable.proto"))
        .parameter("artifacts=domain+server+client")
        .expect("valid parameters")
        .generate_with_warnings()
        .expect("a rule nothing serves does not stop generation");
    let warnings: Vec<String> = generated.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "invalid/http/repeated_variable.proto:23: rpc tests.invalid.http.repeated_variable.Things.Broken: "
        ) && warnings[0].ends_with(
            "the rpc is generated without these HTTP bindings (no gateway or OpenAPI artifact reads them)"
        ),
        "{}",
        warnings[0]
    );
    assert!(
        generated
            .files
            .iter()
            .any(|file| file.content.contains("fn broken")),
        "the rpc is generated"
    );
}

#[test]
fn a_client_stream_without_a_body_reads_whole_messages_from_it() {
    // grpc-gateway's flow_combination.proto: `post: "/stream/empty/rpc"` on a client stream.
    let root = root();
    let model = Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/http/streaming_without_body.proto"))
        .model()
        .expect("a client stream's rule needs no body");
    let upload = &model.packages[0].services[0].methods[0];
    assert_eq!(upload.http.len(), 1);
    assert_eq!(upload.http[0].body, "*");
}

#[test]
fn allow_delete_body_lets_a_delete_rule_have_a_body() {
    let root = root();
    let model = Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/invalid/http/body_on_delete.proto"))
        .parameter("allow_delete_body=true")
        .expect("valid parameters")
        .model()
        .expect("grpc-gateway's allow_delete_body");
    let binding = &model.packages[0].services[0].methods[0].http[0];
    assert_eq!(
        (binding.method.as_str(), binding.body.as_str()),
        ("DELETE", "*")
    );
}

/// The unannotated proto (tests/protos/http) with a gRPC API configuration of `yaml`, written
/// to a file of its own; what generating it gives.
fn with_configuration(yaml: &str) -> Result<protoc_gen_rust_svc::model::Model, String> {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("service.yaml");
    std::fs::write(&config, yaml).unwrap();
    Builder::new()
        .include(root.join("tests/protos/http"))
        .file(root.join("tests/protos/http/unannotated.proto"))
        .parameter(&format!("grpc_api_configuration={}", config.display()))
        .expect("valid parameters")
        .model()
        .map_err(|error| {
            error
                .to_string()
                .replace(&config.display().to_string(), "service.yaml")
        })
}

#[test]
fn a_grpc_api_configuration_routes_rpcs_before_their_annotations() {
    let model = with_configuration(
        "http:\n  rules:\n  - selector: tests.unannotated.Notes.Echo\n    get: /v1/notes/{id}\n",
    )
    .unwrap();
    let echo = &model.packages[0].services[0].methods[0];
    assert_eq!(echo.http.len(), 1);
    assert_eq!(echo.http[0].path, "/v1/notes/{id}");
    // Where the rule is, for the warnings about its routes.
    assert!(echo.http_location.file.ends_with("service.yaml"));
    assert_eq!(echo.http_location.line, Some(3));
}

#[test]
fn generate_unbound_methods_routes_only_the_rpcs_no_rule_routes() {
    let root = root();
    let model = Builder::new()
        .include(root.join("tests/protos/http"))
        .file(root.join("tests/protos/http/unannotated.proto"))
        .grpc_api_configuration(root.join("tests/protos/http/unannotated.yaml"))
        .allow_delete_body(true)
        .generate_unbound_methods(true)
        .model()
        .unwrap();
    let methods = &model.packages[0].services[0].methods;
    let routes = |name: &str| {
        let method = methods.iter().find(|m| m.proto_name == name).unwrap();
        method
            .http
            .iter()
            .map(|b| format!("{} {} {}", b.method, b.path, b.body))
            .collect::<Vec<_>>()
    };
    assert_eq!(routes("Quiet"), ["POST /tests.unannotated.Notes/Quiet *"]);
    assert_eq!(routes("EchoText"), ["GET /v1/notes/{id}:text "]);
}

#[test]
fn grpc_api_configuration_mistakes_name_the_file_and_line() {
    // A selector for no rpc, as grpc-gateway refuses it; the case-insensitive match suggested.
    assert_eq!(
        with_configuration(
            "http:\n  rules:\n  - selector: tests.unannotated.Notes.echo\n    get: /v1/x\n"
        )
        .unwrap_err(),
        "service.yaml:3: rule for tests.unannotated.Notes.echo: the selector names no rpc of the \
         files being generated (a service's full name and the rpc's name: \
         `pkg.v1.Service.Method`); did you mean `tests.unannotated.Notes.Echo`?"
    );
    // A rule the gateway could not serve: checked as an annotation is, at the file's line.
    let error = with_configuration(
        "http:\n  rules:\n\n  - selector: tests.unannotated.Notes.Echo\n    get: /v1/{missing}\n",
    )
    .unwrap_err();
    assert!(
        error.starts_with(
            "service.yaml:4: rpc tests.unannotated.Notes.Echo: google.api.http: get \"/v1/{missing}\": path variable `missing`"
        ),
        "{error}"
    );
    // YAML that does not parse: the parser's line and message.
    let error = with_configuration("http:\n  rules: [\n").unwrap_err();
    assert!(
        error.starts_with("service.yaml:3: grpc_api_configuration: "),
        "{error}"
    );
    let missing = Builder::new()
        .include(root().join("tests/protos/http"))
        .file(root().join("tests/protos/http/unannotated.proto"))
        .grpc_api_configuration("/nonexistent/service.yaml")
        .model()
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("grpc_api_configuration `/nonexistent/service.yaml`: cannot read it"),
        "{missing}"
    );
}

/// The shared-route proto, compiled with `params`.
fn shared_route_builder(parameter: &str) -> Builder {
    let root = root();
    Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos/invalid/http/duplicate_route.proto"))
        .parameter(parameter)
        .expect("valid parameters")
}

#[test]
fn two_rpcs_on_one_route_are_a_warning_and_the_later_rpc_serves_it() {
    let generated = shared_route_builder("artifacts=domain+gateway+openapi")
        .generate_with_warnings()
        .expect("a shared route does not stop generation");
    let warnings: Vec<String> = generated.warnings.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(warnings.join("\n"), @r#"invalid/http/duplicate_route.proto:29: rpc tests.invalid.http.duplicate_route.Things.Twin: google.api.http: get "/v1/things/{name}" matches the same requests as get "/v1/things/{id}" of rpc tests.invalid.http.duplicate_route.Things.Broken (invalid/http/duplicate_route.proto:23); the gateway serves this rpc there, as grpc-gateway v2 does (the later rpc in file order wins), and Broken gets no route for it (`strict_http_rules=true` makes this an error)"#);

    // The model: Broken lost its only binding, Twin's says whom it shadows.
    let model = shared_route_builder("artifacts=domain+gateway+openapi")
        .model()
        .expect("model");
    let service = &model.packages[0].services[0];
    let (broken, twin) = (&service.methods[0], &service.methods[1]);
    assert!(broken.http.is_empty(), "{:?}", broken.http);
    assert_eq!(twin.http.len(), 1);
    assert_eq!(
        twin.http[0].shadows,
        ["tests.invalid.http.duplicate_route.Things.Broken"]
    );

    // The route table serves Twin there and its docs name Broken; the OpenAPI document has the
    // one reachable operation.
    let file = |suffix: &str| {
        generated
            .files
            .iter()
            .find(|file| file.name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} file"))
            .content
            .clone()
    };
    let services = file(".svc.rs");
    assert!(
        services.contains(
            "also bound by `tests.invalid.http.duplicate_route.Things.Broken`, which this route shadows"
        ),
        "{services}"
    );
    let openapi: serde_json::Value =
        serde_json::from_str(&file(".openapi.json")).expect("OpenAPI JSON");
    let paths = openapi["paths"].as_object().expect("paths");
    let operations: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|ops| ops.values()))
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    assert_eq!(operations.len(), 1, "{openapi:#}");
    assert!(operations[0].ends_with("Twin"), "{operations:?}");
}

#[test]
fn strict_http_rules_is_a_plugin_parameter_too() {
    let error = shared_route_builder("strict_http_rules=true")
        .generate_with_warnings()
        .expect_err("strict");
    assert!(
        error.to_string().starts_with(
            "invalid/http/duplicate_route.proto:29: rpc tests.invalid.http.duplicate_route.Things.Twin: google.api.http: get \"/v1/things/{name}\" matches the same requests as get \"/v1/things/{id}\" of rpc tests.invalid.http.duplicate_route.Things.Broken"
        ),
        "{error}"
    );
}
