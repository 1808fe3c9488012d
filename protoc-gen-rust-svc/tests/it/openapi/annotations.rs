//! grpc-gateway's `protoc-gen-openapiv2` annotations (`tests/protos/openapi/annotated.proto`) and
//! its options (`use_proto_names`, `openapi_naming_strategy`), carried into the document.

use protoc_gen_rust_svc::{Artifact, Builder, GeneratedFile};

use std::collections::BTreeSet;

use super::{collect_references, documents, example_protos};
use crate::common::root;

/// The documents of `tests/protos/openapi/annotated.proto`, and the warnings.
fn annotated_files() -> (Vec<GeneratedFile>, Vec<String>) {
    annotated_files_with(Builder::new())
}

/// [`annotated_files`] from `builder`, with its parameters.
fn annotated_files_with(builder: Builder) -> (Vec<GeneratedFile>, Vec<String>) {
    let root = root();
    let generated = builder
        .include(root.join("proto"))
        .include(root.join("tests/data/grpc-gateway"))
        .include(root.join("tests/data/googleapis"))
        .include(root.join("tests/protos/openapi"))
        .file(root.join("tests/protos/openapi/annotated.proto"))
        .artifacts([Artifact::Domain, Artifact::OpenApi])
        .generate_with_warnings()
        .unwrap();
    let warnings = generated.warnings.iter().map(ToString::to_string).collect();
    (documents(generated.files), warnings)
}

/// The document of `tests/protos/openapi/annotated.proto`.
fn annotated_document() -> serde_json::Value {
    serde_json::from_str(&annotated_files().0[0].content).unwrap()
}

#[test]
fn grpc_gateway_annotations_are_carried_into_the_document() {
    let (files, _) = annotated_files();
    let document: serde_json::Value = serde_json::from_str(&files[0].content).unwrap();
    insta::assert_snapshot!(files[0].name.clone(), files[0].content);
    let info = &document["info"];
    assert_eq!(info["title"], "Bookshop API");
    assert_eq!(info["version"], "2.1.0");
    assert_eq!(info["contact"]["email"], "shop@example.com");
    assert_eq!(info["license"]["name"], "Apache 2.0");
    assert_eq!(document["externalDocs"]["description"], "The manual");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(
        schemes["ApiKeyAuth"],
        serde_json::json!({
            "type": "apiKey",
            "name": "X-API-Key",
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
        })
    );
    let code = &schemes["OAuth2"]["flows"]["authorizationCode"];
    assert_eq!(code["tokenUrl"], "https://example.com/token");
    assert_eq!(code["scopes"]["read"], "Read books");
    assert_eq!(
        document["security"],
        serde_json::json!([{"ApiKeyAuth": []}])
    );

    let books = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["name"] == "Books")
        .unwrap();
    assert_eq!(
        books["description"],
        "Everything about books, from the annotation."
    );
    assert_eq!(books["externalDocs"]["url"], "https://example.com/books");

    let operation = &document["paths"]["/v1/books/{id}"]["get"];
    assert_eq!(operation["summary"], "Get a book");
    assert_eq!(operation["description"], "The annotation's description.");
    assert_eq!(operation["operationId"], "getBook");
    // An additional binding numbers the annotated id as it would ours: ids stay unique.
    assert_eq!(
        document["paths"]["/v2/books/{id}"]["get"]["operationId"],
        "getBook2"
    );
    assert_eq!(operation["tags"], serde_json::json!(["Books", "Catalogue"]));
    assert_eq!(operation["deprecated"], true);
    assert_eq!(
        operation["security"],
        serde_json::json!([{"OAuth2": ["read"]}])
    );
    // `security: {}` opts an operation out of the document's security.
    assert_eq!(
        document["paths"]["/v1/shelves/{shelfName}/books"]["get"]["security"],
        serde_json::json!([])
    );

    let book = &document["components"]["schemas"]["tests.annotated.v1.Book"];
    assert_eq!(book["title"], "Book");
    assert_eq!(book["description"], "A book on the shelves.");
    // The message's list, its proto names as JSON names, then the fields annotated so.
    assert_eq!(
        book["required"],
        serde_json::json!(["id", "title", "shelfId", "isbn", "authorName"])
    );
    assert_eq!(
        book["examples"],
        serde_json::json!([{"id": "b-1", "title": "Dune"}])
    );
    let properties = &book["properties"];
    assert_eq!(
        properties["id"]["description"],
        "The book's id, from the annotation."
    );
    assert_eq!(properties["id"]["pattern"], "^b-[0-9]+$");
    assert_eq!(properties["id"]["examples"], serde_json::json!(["b-1"]));
    assert_eq!(properties["title"]["maxLength"], 200);
    assert_eq!(properties["title"]["minLength"], 1);
    assert_eq!(properties["price"]["exclusiveMinimum"], 0.0);
    assert!(properties["price"].get("minimum").is_none());
    assert_eq!(properties["shelfId"]["readOnly"], true);
    assert_eq!(properties["shopNote"]["writeOnly"], true);
    // `required` is the message's word about its fields, never a string property's.
    assert!(properties["isbn"].get("required").is_none());
}

/// The parameter `name` of the operation at `path` and `method`.
fn parameter<'a>(
    document: &'a serde_json::Value,
    path: &str,
    method: &str,
    name: &str,
) -> &'a serde_json::Value {
    document["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|parameters| parameters.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

#[test]
fn field_annotations_shape_path_and_query_parameters() {
    let document = annotated_document();
    // `field_configuration.path_param_name` names the parameter, as grpc-gateway names it.
    let list = "/v1/shelves/{shelfName}/books";
    assert_eq!(
        parameter(&document, list, "get", "shelfName"),
        &serde_json::json!({
            "name": "shelfName",
            "in": "path",
            "required": true,
            "description": "Binds the field `shelf`.\n\nThe shelf, from the annotation.",
            "schema": { "type": "string", "pattern": "^[a-z]+$" },
            "example": "fiction",
            "x-shelf-kind": ["physical"],
        })
    );
    let page_size = parameter(&document, list, "get", "pageSize");
    assert_eq!(page_size["description"], "The comment's page size.");
    assert_eq!(page_size["deprecated"], true);
    assert_eq!(
        page_size["schema"],
        serde_json::json!({
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": 100,
            "default": 10,
        })
    );
    assert!(page_size.get("required").is_none());
    let cursor = parameter(&document, list, "get", "cursor");
    assert_eq!(cursor["required"], true);
    let order_by = parameter(&document, list, "get", "orderBy");

    assert_eq!(
        order_by["schema"],
        serde_json::json!({ "type": "string", "title": "Order", "enum": ["title", "price"] })
    );
    // A repeated field in the path is an array, its values comma-separated (OpenAPI's
    // `simple` style), its annotation's per-value constraints on the items.
    let keywords = parameter(
        &document,
        "/v1/shelves/{shelfName}/books/with/{keywords}",
        "get",
        "keywords",
    );
    assert_eq!(
        keywords["schema"],
        serde_json::json!({
            "type": "array",
            "items": { "type": "string", "pattern": "^[a-z]+$", "minLength": 2 },
            "maxItems": 3,
        })
    );
    assert!(
        keywords["description"]
            .as_str()
            .is_some_and(|text| text.contains("comma-separated")),
        "{keywords}"
    );
}

#[test]
fn annotation_extensions_become_x_members() {
    let document = annotated_document();
    assert_eq!(
        document["x-logo"],
        serde_json::json!({"url": "https://example.com/logo.png"})
    );
    assert_eq!(document["info"]["x-audience"], "public");
    let books = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["name"] == "Books")
        .unwrap();
    assert_eq!(books["x-display-name"], "Books");
    assert_eq!(
        document["components"]["securitySchemes"]["ApiKeyAuth"]["x-amazon-apigateway-authtype"],
        "custom"
    );
    assert_eq!(
        document["paths"]["/v1/books/{id}"]["get"]["x-rate-limit"],
        10.0
    );
    let book = &document["components"]["schemas"]["tests.annotated.v1.Book"];
    assert_eq!(book["x-entity"], true);
    assert_eq!(
        book["properties"]["isbn"],
        serde_json::json!({
            "type": "string",
            "description": "Its ISBN.",
            "x-format-name": "ISBN-13",
        })
    );
    let shelf = parameter(
        &document,
        "/v1/shelves/{shelfName}/books",
        "get",
        "shelfName",
    );
    assert_eq!(shelf["x-shelf-kind"], serde_json::json!(["physical"]));
}

#[test]
fn extension_keys_without_x_are_left_out_with_a_warning() {
    let (_, warnings) = annotated_files();
    // At the annotation's line.
    let proto = std::fs::read_to_string(root().join("tests/protos/openapi/annotated.proto"))
        .expect("the proto");
    let line = proto
        .lines()
        .position(|line| line.contains("string isbn = 5"))
        .expect("the field")
        + 1;
    assert_eq!(
        warnings,
        [format!(
            "annotated.proto:{line}: field tests.annotated.v1.Book.isbn: openapiv2_field: the extension key \"format-name\" does not start with \"x-\"; it is left out of the OpenAPI document"
        )]
    );
}

#[test]
fn enum_annotations_describe_the_enum_schema() {
    let document = annotated_document();
    let genre = &document["components"]["schemas"]["tests.annotated.v1.Genre"];
    assert_eq!(genre["title"], "Genre");
    // The annotation's description replaces the comment; the list of values stays.
    assert_eq!(
        genre["description"],
        "A genre, from the annotation.\n\nBy name, or by number:\n\n- `GENRE_UNSPECIFIED` (0)\n- `GENRE_FICTION` (1): Made up."
    );
    assert_eq!(genre["examples"], serde_json::json!(["GENRE_FICTION"]));
    assert_eq!(genre["readOnly"], true);
    assert_eq!(genre["externalDocs"]["url"], "https://example.com/genres");
    assert_eq!(
        genre["x-enum-varnames"],
        serde_json::json!(["Unspecified", "Fiction"])
    );
}

#[test]
fn a_repeated_fields_value_constraints_are_its_items() {
    let document = annotated_document();
    let book = &document["components"]["schemas"]["tests.annotated.v1.Book"];
    assert_eq!(
        book["properties"]["keywords"],
        serde_json::json!({
            "type": "array",
            "description": "Words to find it by.",
            "maxItems": 10,
            "uniqueItems": true,
            "items": { "type": "string", "pattern": "^[a-z]+$", "maxLength": 20 },
        })
    );
    let keywords = parameter(
        &document,
        "/v1/shelves/{shelfName}/books",
        "get",
        "keywords",
    );
    assert_eq!(
        keywords["schema"],
        serde_json::json!({
            "type": "array",
            "maxItems": 3,
            "items": { "type": "string", "pattern": "^[a-z]+$", "minLength": 2 },
        })
    );
}

#[test]
fn a_tags_annotated_name_renames_it_and_the_files_tags_go_over_the_services() {
    let document = annotated_document();
    let names: Vec<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    assert_eq!(names, ["Books", "Shelving"]);
    assert_eq!(
        document["tags"][1],
        serde_json::json!({
            "name": "Shelving",
            "description": "Shelves, from the file's tags.",
            "externalDocs": { "url": "https://example.com/shelving" },
        })
    );
    assert_eq!(
        document["paths"]["/v1/shelves"]["post"]["tags"],
        serde_json::json!(["Shelving"])
    );
}

#[test]
fn annotated_responses_headers_and_servers_are_carried_over() {
    let document = annotated_document();
    assert_eq!(
        document["servers"],
        serde_json::json!([{ "url": "https://books.example.com/api" }])
    );
    let get = &document["paths"]["/v1/books/{id}"]["get"];
    let responses = &get["responses"];
    assert_eq!(responses["200"]["description"], "The book.");
    assert_eq!(
        responses["200"]["headers"]["ETag"],
        serde_json::json!({
            "description": "Its version.",
            "schema": { "type": "string", "pattern": "^\"[0-9a-f]+\"$" },
        })
    );
    // Its schema is still the response message's.
    assert_eq!(
        responses["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/tests.annotated.v1.Book"
    );
    // A message only a response refers to is described in the components.
    assert_eq!(
        responses["404"]["content"]["application/json"]["schema"],
        serde_json::json!({ "$ref": "#/components/schemas/tests.annotated.v1.NotFound" })
    );
    assert!(document["components"]["schemas"]["tests.annotated.v1.NotFound"].is_object());
    // The file's responses are on every operation.
    for (path, method) in [("/v1/books/{id}", "get"), ("/v1/shelves", "post")] {
        assert_eq!(
            document["paths"][path][method]["responses"]["403"],
            serde_json::json!({ "description": "Not yours to see." }),
            "{method} {path}"
        );
    }
    let shop = parameter(&document, "/v1/books/{id}", "get", "X-Shop");
    assert_eq!(
        shop,
        &serde_json::json!({
            "name": "X-Shop",
            "in": "header",
            "description": "Which shop.",
            "required": true,
            "schema": { "type": "string" },
        })
    );
}

#[test]
fn with_use_proto_names_schemas_name_fields_as_the_json_does() {
    // The JSON has `shelf_id`, so the schema's property and its `required` entry say so.
    let (files, _) = annotated_files_with(Builder::new().use_proto_names(true));
    let document: serde_json::Value = serde_json::from_str(&files[0].content).unwrap();
    let book = &document["components"]["schemas"]["tests.annotated.v1.Book"];
    assert!(book["properties"].get("shelf_id").is_some(), "{book}");
    assert!(book["properties"].get("shelfId").is_none(), "{book}");
    let required = book["required"].as_array().unwrap();
    assert!(required.contains(&serde_json::json!("shelf_id")), "{book}");
    // Query parameters keep their JSON names, which the gateway reads as it reads proto names.
    let list = "/v1/shelves/{shelfName}/books";
    parameter(&document, list, "get", "pageSize");
}

#[test]
fn a_naming_strategy_names_schemas_as_protoc_gen_openapiv2_does_and_references_follow() {
    // `legacy`, protoc-gen-openapiv2's default: what clients generated from a grpc-gateway
    // team's documents call their types.
    let root = root();
    let files = Builder::new()
        .include(root.join("proto"))
        .files(example_protos())
        .artifacts([Artifact::Domain, Artifact::OpenApi])
        .openapi_naming_strategy(protoc_gen_rust_svc::SchemaNaming::Legacy)
        .generate()
        .unwrap();
    let inventory = documents(files)
        .into_iter()
        .find(|file| file.name.contains("inventory"))
        .unwrap();
    let document: serde_json::Value = serde_json::from_str(&inventory.content).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "v1CheckStockResponse",
        "v1StockUpdate",
        "rpcStatus",
        "protobufAny",
    ] {
        assert!(schemas.contains_key(name), "{name} in {:?}", schemas.keys());
    }
    assert!(
        !schemas.keys().any(|name| name.contains('.')),
        "{:?}",
        schemas.keys()
    );
    let mut references = BTreeSet::new();
    collect_references(&document, &mut references);
    for reference in references {
        assert!(
            document
                .pointer(reference.trim_start_matches('#'))
                .is_some(),
            "`{reference}` resolves to nothing"
        );
    }
    assert!(
        Builder::new()
            .parameter("openapi_naming_strategy=short")
            .unwrap_err()
            .to_string()
            .contains("fqn, legacy, simple or package")
    );
}

#[test]
fn a_field_s_required_list_names_the_fields_its_message_requires() {
    // protoc-gen-openapiv2 adds the names listed to the message's `required`.
    let document = annotated_document();
    let not_found = &document["components"]["schemas"]["tests.annotated.v1.NotFound"];
    assert_eq!(
        not_found["required"],
        serde_json::json!(["id"]),
        "{not_found}"
    );
}

#[test]
fn a_whole_request_body_leaves_out_the_fields_its_path_binds() {
    // protoc-gen-openapiv2's `…Body` definition: `name` comes from the path, so the body
    // neither has it nor requires it; the message's own schema keeps both.
    let document = annotated_document();
    let body = &document["paths"]["/v1/shelves/{name}"]["put"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(body["properties"].get("name").is_none(), "{body}");
    assert!(body["properties"].get("label").is_some(), "{body}");
    assert_eq!(body["required"], serde_json::json!(["label"]), "{body}");
    let message = &document["components"]["schemas"]["tests.annotated.v1.RelabelShelfRequest"];
    assert_eq!(
        message["required"],
        serde_json::json!(["name", "label"]),
        "{message}"
    );
}

#[test]
fn annotations_without_a_place_in_the_document_are_left_out_with_a_warning() {
    let root = root();
    let generated = Builder::new()
        .include(root.join("proto"))
        .include(root.join("tests/data/grpc-gateway"))
        .include(root.join("tests/data/googleapis"))
        .include(root.join("tests/protos/openapi"))
        .file(root.join("tests/protos/openapi/left_out.proto"))
        .artifacts([Artifact::Domain, Artifact::OpenApi])
        .generate_with_warnings()
        .unwrap();
    let warnings: Vec<String> = generated.warnings.iter().map(ToString::to_string).collect();
    let proto = std::fs::read_to_string(root.join("tests/protos/openapi/left_out.proto"))
        .expect("the proto");
    let line = |text: &str| {
        proto
            .lines()
            .position(|line| line.contains(text))
            .unwrap_or_else(|| panic!("{text}"))
            + 1
    };
    let file = line("option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_swagger)");
    let rpc = line("option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_operation)");
    let money = line("option (grpc.gateway.protoc_gen_openapiv2.options.openapiv2_schema)");
    let count = line("int64 count = 1");
    let expected = [
        format!(
            "left_out.proto:{file}: file left_out.proto: openapiv2_swagger: `consumes` is left out of the OpenAPI document: the gateway reads and writes proto3 JSON (and binary protobuf), as the document says"
        ),
        format!(
            "left_out.proto:{file}: file left_out.proto: openapiv2_swagger: the security scheme \"Flowless\" has no `flow`, which OpenAPI 3.1 requires; it is left out of the OpenAPI document"
        ),
        format!(
            "left_out.proto:{file}: file left_out.proto: openapiv2_swagger: the security scheme \"Nameless\" has no `name`, which OpenAPI 3.1 requires; it is left out of the OpenAPI document"
        ),
        format!(
            "left_out.proto:{rpc}: rpc tests.leftout.v1.Counter.Count: openapiv2_operation: `produces` is left out of the OpenAPI document: the gateway reads and writes proto3 JSON (and binary protobuf), as the document says"
        ),
        format!(
            "left_out.proto:{money}: message tests.leftout.v1.Money: openapiv2_schema: the type STRING is left out of the OpenAPI document: the gateway writes this as proto3 JSON, where it is OBJECT"
        ),
        format!(
            "left_out.proto:{count}: field tests.leftout.v1.Tally.count: openapiv2_field: the type INTEGER is left out of the OpenAPI document: the gateway writes this as proto3 JSON, where it is STRING"
        ),
    ];
    let mut sorted = warnings.clone();
    sorted.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(sorted, expected, "{warnings:#?}");
    // The complete scheme is there, the others are not.
    let document: serde_json::Value =
        serde_json::from_str(&documents(generated.files)[0].content).unwrap();
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .unwrap();
    assert_eq!(schemes.keys().collect::<Vec<_>>(), ["Complete"]);
}
