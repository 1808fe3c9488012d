//! The `responses` of `openapiv2_operation` and `openapiv2_swagger`, and an operation's header
//! parameters: Swagger 2's response objects as OpenAPI 3.1's, where the schema and examples
//! live under a media type and a header's type under its schema.

use serde_json::{Map, Value as Json, json};

use super::super::schemas::reference;
use super::{copy, extensions, json_schema_fields, parsed_example};

/// What JSON the annotated responses are, for their schemas and examples.
const JSON: &str = "application/json";

/// Merges annotated `responses` (`{code: Response}`) into an operation's. A code the operation
/// has gets the annotation's description, schema, examples, headers and extensions over its
/// own; with `only_new` (the file's responses, for every operation) such a code is left as it
/// is. `known` says whether a schema is in the document's components.
pub(super) fn merge(
    operation: &mut Json,
    responses: &Json,
    only_new: bool,
    known: &dyn Fn(&str) -> bool,
) {
    let Some(responses) = responses.as_object() else {
        return;
    };
    for (code, annotation) in responses {
        let target = &mut operation["responses"][code];
        if !target.is_null() && only_new {
            continue;
        }
        // A response that refers to the shared error response is described here in full.
        if target.get("$ref").is_some() || target.is_null() {
            *target = json!({ "description": "" });
        }
        response(annotation, target, known);
    }
}

fn response(annotation: &Json, target: &mut Json, known: &dyn Fn(&str) -> bool) {
    copy(annotation, "description", target, "description");
    if let Some(schema) = annotation.get("schema") {
        target["content"][JSON]["schema"] = self::schema(schema, known);
        if let Some(example) = schema.get("example").and_then(Json::as_str) {
            target["content"][JSON]["example"] = parsed_example(example);
        }
    }
    let examples = annotation.get("examples").and_then(Json::as_object);
    for (media_type, example) in examples.into_iter().flatten() {
        if let Some(text) = example.as_str() {
            // Only a JSON media type's example is JSON text; `text/plain`'s `123` is the text.
            target["content"][media_type]["example"] = if is_json(media_type) {
                parsed_example(text)
            } else {
                Json::String(text.to_owned())
            };
        }
    }
    let headers = annotation.get("headers").and_then(Json::as_object);
    for (name, header) in headers.into_iter().flatten() {
        target["headers"][name] = self::header(header);
    }
    extensions(annotation, target);
}

/// Whether `media_type` is JSON: `application/json`, or a `+json` type
/// (`application/problem+json`), parameters aside.
fn is_json(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(JSON) || essence.to_ascii_lowercase().ends_with("+json")
}

/// A response's `Schema` (`json_schema`, with `ref` a message or enum's full name with a
/// leading dot, or else a JSON reference passed through as protoc-gen-openapiv2 does, a
/// Swagger 2 `#/definitions/…` one moved to OpenAPI 3.1's components) as a JSON Schema.
fn schema(schema: &Json, known: &dyn Fn(&str) -> bool) -> Json {
    let Some(json_schema) = schema.get("jsonSchema") else {
        return json!({});
    };
    let reference = match json_schema.get("ref").and_then(Json::as_str) {
        Some(name) if name.starts_with('.') => Some(name.trim_start_matches('.'))
            .filter(|name| known(name))
            .map(reference),
        Some(raw) if !raw.is_empty() => Some(match raw.strip_prefix("#/definitions/") {
            Some(name) => reference(name),
            None => json!({ "$ref": raw }),
        }),
        _ => None,
    };
    let mut converted = match reference {
        Some(reference) => reference,
        None => {
            let mut converted = Json::Object(Map::new());
            if let Some(kind) = json_schema.pointer("/type/0").and_then(Json::as_str) {
                converted["type"] = json!(kind.to_ascii_lowercase());
            }
            converted
        }
    };
    json_schema_fields(json_schema, &mut converted);
    converted
}

/// A Swagger 2 header (`type`, `format`, `pattern`, `default` beside its description) as
/// OpenAPI 3.1's, those under its schema.
fn header(header: &Json) -> Json {
    let mut schema = Json::Object(Map::new());
    for field in ["type", "format", "pattern"] {
        copy(header, field, &mut schema, field);
    }
    if let Some(text) = header.get("default").and_then(Json::as_str) {
        schema["default"] = parsed_example(text);
    }
    let mut converted = json!({ "schema": schema });
    copy(header, "description", &mut converted, "description");
    extensions(header, &mut converted);
    converted
}

/// `parameters.headers` of an `openapiv2_operation`, as `in: header` parameters.
pub(super) fn header_parameters(annotation: &Json, operation: &mut Json) {
    let headers = annotation
        .pointer("/parameters/headers")
        .and_then(Json::as_array);
    for header in headers.into_iter().flatten() {
        let Some(name) = header.get("name").and_then(Json::as_str) else {
            continue;
        };
        let mut schema = Json::Object(Map::new());
        if let Some(kind) = header.get("type").and_then(Json::as_str) {
            schema["type"] = json!(kind.to_ascii_lowercase());
        }
        copy(header, "format", &mut schema, "format");
        let mut parameter = json!({ "name": name, "in": "header", "schema": schema });
        copy(header, "description", &mut parameter, "description");
        if header.get("required") == Some(&Json::Bool(true)) {
            parameter["required"] = json!(true);
        }
        match operation["parameters"].as_array_mut() {
            Some(parameters) => parameters.push(parameter),
            None => operation["parameters"] = json!([parameter]),
        }
    }
}

/// `host`, `base_path` and `schemes` of an `openapiv2_swagger` as OpenAPI's `servers`: one per
/// scheme, or a URL without one.
pub(super) fn servers(swagger: &Json) -> Option<Json> {
    let text = |field: &str| {
        swagger
            .get(field)
            .and_then(Json::as_str)
            .unwrap_or_default()
    };
    let (host, base_path) = (text("host"), text("basePath"));
    if host.is_empty() && base_path.is_empty() {
        return None;
    }
    let schemes: Vec<String> = swagger
        .get("schemes")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(str::to_ascii_lowercase)
        .collect();
    let authority = match host {
        "" => String::new(),
        host => format!("//{host}"),
    };
    let urls: Vec<String> = match (schemes.is_empty(), host.is_empty()) {
        (false, false) => schemes
            .iter()
            .map(|scheme| format!("{scheme}:{authority}{base_path}"))
            .collect(),
        _ => vec![format!("{authority}{base_path}")],
    };
    let servers: Vec<Json> = urls.into_iter().map(|url| json!({ "url": url })).collect();
    Some(json!(servers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_merge_into_the_operations_or_are_added() {
        let mut operation = json!({
            "responses": {
                "200": { "description": "Ours.", "content": { JSON: { "schema": { "type": "object" } } } },
                "default": { "$ref": "#/components/responses/Error" },
            },
        });
        let annotated = json!({
            "200": {
                "description": "Theirs.",
                "headers": {
                    "X-Request-Id": { "description": "The id.", "type": "string", "format": "uuid", "default": "\"a\"" },
                },
                "examples": { JSON: "{\"id\": 1}" },
                "extensions": { "x-cache": true },
            },
            "404": {
                "description": "Not found.",
                "schema": { "jsonSchema": { "ref": ".a.Missing" } },
            },
            "418": {
                "description": "A teapot.",
                "schema": { "jsonSchema": { "type": ["INTEGER"] }, "example": "7" },
            },
        });
        let known = |name: &str| name == "a.Missing";
        merge(&mut operation, &annotated, false, &known);
        let responses = &operation["responses"];
        assert_eq!(
            responses["200"],
            json!({
                "description": "Theirs.",
                "content": { JSON: { "schema": { "type": "object" }, "example": { "id": 1 } } },
                "headers": {
                    "X-Request-Id": {
                        "description": "The id.",
                        "schema": { "type": "string", "format": "uuid", "default": "a" },
                    },
                },
                "x-cache": true,
            })
        );
        assert_eq!(
            responses["404"]["content"][JSON]["schema"],
            json!({ "$ref": "#/components/schemas/a.Missing" })
        );
        assert_eq!(
            responses["418"]["content"][JSON],
            json!({ "schema": { "type": "integer" }, "example": 7 })
        );
        assert_eq!(
            responses["default"],
            json!({ "$ref": "#/components/responses/Error" })
        );

        // The file's responses: only codes the operation lacks.
        let file = json!({
            "200": { "description": "The file's." },
            "403": { "description": "Forbidden." },
        });
        merge(&mut operation, &file, true, &known);
        assert_eq!(operation["responses"]["200"]["description"], "Theirs.");
        assert_eq!(
            operation["responses"]["403"],
            json!({ "description": "Forbidden." })
        );
    }

    #[test]
    fn raw_references_pass_through_and_only_json_examples_are_parsed() {
        let mut operation = json!({ "responses": {} });
        let annotated = json!({
            "200": {
                "description": "Plain.",
                "examples": {
                    "text/plain": "123",
                    "application/problem+json": "{\"n\": 1}",
                },
            },
            "409": {
                "description": "A Swagger 2 reference.",
                "schema": { "jsonSchema": { "ref": "#/definitions/Conflict" } },
            },
            "410": {
                "description": "An external one.",
                "schema": { "jsonSchema": { "ref": "common.json#/Gone" } },
            },
        });
        merge(&mut operation, &annotated, false, &|_| false);
        let responses = &operation["responses"];
        assert_eq!(responses["200"]["content"]["text/plain"]["example"], "123");
        assert_eq!(
            responses["200"]["content"]["application/problem+json"]["example"],
            json!({ "n": 1 })
        );
        assert_eq!(
            responses["409"]["content"][JSON]["schema"],
            json!({ "$ref": "#/components/schemas/Conflict" })
        );
        assert_eq!(
            responses["410"]["content"][JSON]["schema"],
            json!({ "$ref": "common.json#/Gone" })
        );
    }

    #[test]
    fn header_parameters_are_in_header() {
        let annotation = json!({
            "parameters": {
                "headers": [
                    { "name": "X-Trace", "description": "A trace id.", "type": "STRING", "format": "uuid", "required": true },
                    { "name": "X-Count", "type": "INTEGER" },
                ],
            },
        });
        let mut operation = json!({ "parameters": [{ "name": "id", "in": "path" }] });
        header_parameters(&annotation, &mut operation);
        assert_eq!(
            operation["parameters"],
            json!([
                { "name": "id", "in": "path" },
                {
                    "name": "X-Trace",
                    "in": "header",
                    "description": "A trace id.",
                    "required": true,
                    "schema": { "type": "string", "format": "uuid" },
                },
                { "name": "X-Count", "in": "header", "schema": { "type": "integer" } },
            ])
        );
    }

    #[test]
    fn host_base_path_and_schemes_are_servers() {
        let cases = [
            (
                json!({ "host": "api.example.com", "basePath": "/v1", "schemes": ["HTTPS", "WSS"] }),
                Some(
                    json!([{ "url": "https://api.example.com/v1" }, { "url": "wss://api.example.com/v1" }]),
                ),
            ),
            (
                json!({ "host": "api.example.com" }),
                Some(json!([{ "url": "//api.example.com" }])),
            ),
            (
                json!({ "basePath": "/api", "schemes": ["HTTP"] }),
                Some(json!([{ "url": "/api" }])),
            ),
            (json!({ "schemes": ["HTTP"] }), None),
        ];
        for (swagger, expected) in cases {
            assert_eq!(servers(&swagger), expected, "{swagger}");
        }
    }
}
