//! grpc-gateway's OpenAPI annotations carried into the OpenAPI 3.1 document: what each has a
//! place for there (see [`crate::model::openapi::Annotations`]). They go over what the
//! generator wrote from the proto, as a team that wrote them expects: an annotated summary,
//! description or tag replaces the comment's.

mod responses;

use serde_json::{Map, Value as Json, json};

use crate::model::openapi::{Annotations, FieldAnnotation, OpenApi};

/// Carries `api`'s annotations into `document`.
pub(super) fn apply(document: &mut Json, api: &OpenApi) {
    let annotations = &api.annotations;
    // A service's tag first: the file's `tags` go over it where they say something, as
    // grpc-gateway merges them.
    for (tag, annotation) in &annotations.tags {
        upsert_tag(document, tag, annotation);
    }
    for swagger in &annotations.swagger {
        document_level(document, swagger);
    }
    operations(document, api, annotations);
    schemas(document, annotations);
}

/// `openapiv2_swagger`: `info`, `tags`, `externalDocs`, security schemes and requirements.
fn document_level(document: &mut Json, swagger: &Json) {
    if let Some(info) = swagger.get("info") {
        let target = &mut document["info"];
        for (from, to) in [
            ("title", "title"),
            ("description", "description"),
            ("version", "version"),
            ("termsOfService", "termsOfService"),
        ] {
            copy(info, from, target, to);
        }
        for part in ["contact", "license"] {
            if let Some(value) = info.get(part) {
                target[part] = value.clone();
            }
        }
        extensions(info, target);
    }
    extensions(swagger, document);
    if let Some(docs) = swagger.get("externalDocs") {
        document["externalDocs"] = docs.clone();
    }
    if let Some(servers) = responses::servers(swagger) {
        document["servers"] = servers;
    }
    for tag in swagger
        .get("tags")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = tag.get("name").and_then(Json::as_str) {
            upsert_tag(document, name, tag);
        }
    }
    if let Some(schemes) = swagger
        .pointer("/securityDefinitions/security")
        .and_then(Json::as_object)
    {
        for (name, scheme) in schemes {
            if let Some(converted) = security_scheme(scheme) {
                document["components"]["securitySchemes"][name] = converted;
            }
        }
    }
    if let Some(security) = swagger.get("security") {
        document["security"] = security_requirements(security, Level::Document);
    }
}

/// A tag of the document, added if new, with an annotation's description and documents.
fn upsert_tag(document: &mut Json, name: &str, annotation: &Json) {
    let Some(tags) = document["tags"].as_array_mut() else {
        return;
    };
    let position = tags.iter().position(|tag| tag["name"] == name);
    let tag = match position {
        Some(at) => &mut tags[at],
        None => {
            tags.push(json!({ "name": name }));
            tags.last_mut().expect("just pushed")
        }
    };
    copy(annotation, "description", tag, "description");
    if let Some(docs) = annotation.get("externalDocs") {
        tag["externalDocs"] = docs.clone();
    }
    extensions(annotation, tag);
}

/// `openapiv2_operation` on every operation of its rpc (responses and header parameters too),
/// and the file's `responses` on every operation.
fn operations(document: &mut Json, api: &OpenApi, annotations: &Annotations) {
    let known = |name: &str| api.schemas.contains_key(name);
    for operation in &api.operations {
        let Some(target) = document
            .get_mut("paths")
            .and_then(|paths| paths.get_mut(&operation.path))
            .and_then(|item| item.get_mut(&operation.method))
        else {
            continue;
        };
        let annotation = annotations.operations.get(&operation.rpc);
        if let Some(own) = annotation.and_then(|annotation| annotation.get("responses")) {
            responses::merge(target, own, false, &known);
        }
        for swagger in &annotations.swagger {
            if let Some(file_responses) = swagger.get("responses") {
                responses::merge(target, file_responses, true, &known);
            }
        }
        let Some(annotation) = annotation else {
            continue;
        };
        responses::header_parameters(annotation, target);
        // Not `operationId`: the model has numbered it on additional bindings.
        for field in ["summary", "description", "tags", "externalDocs"] {
            copy(annotation, field, target, field);
        }
        if annotation.get("deprecated") == Some(&Json::Bool(true)) {
            target["deprecated"] = Json::Bool(true);
        }
        if let Some(security) = annotation.get("security") {
            target["security"] = security_requirements(security, Level::Operation);
        }
        extensions(annotation, target);
    }
}

/// `openapiv2_schema` on message schemas.
fn schemas(document: &mut Json, annotations: &Annotations) {
    let schemas = &mut document["components"]["schemas"];
    for (name, annotation) in &annotations.schemas {
        let Some(target) = schemas.get_mut(name) else {
            continue;
        };
        if let Some(json_schema) = annotation.get("jsonSchema") {
            json_schema_fields(json_schema, target);
        }
        if let Some(example) = annotation.get("example").and_then(Json::as_str) {
            target["examples"] = json!([parsed_example(example)]);
        }
        if let Some(docs) = annotation.get("externalDocs") {
            target["externalDocs"] = docs.clone();
        }
    }
}

/// `openapiv2_enum` on its enum's schema, but the description, which the schema has already
/// put before its list of values.
pub(super) fn enumeration(annotation: &Json, target: &mut Json) {
    for field in ["title", "readOnly", "externalDocs"] {
        copy(annotation, field, target, field);
    }
    if let Some(text) = annotation.get("default").and_then(Json::as_str) {
        target["default"] = parsed_example(text);
    }
    if let Some(text) = annotation.get("example").and_then(Json::as_str) {
        target["examples"] = json!([parsed_example(text)]);
    }
    extensions(annotation, target);
}

/// `openapiv2_field` on the property schema of its field.
pub(super) fn property(annotation: &FieldAnnotation, target: &mut Json) {
    if let Some(schema) = &annotation.schema {
        json_schema_fields(schema, target);
    }
}

/// The description `openapiv2_field` gives a parameter, in place of the field's comment.
pub(super) fn parameter_description(annotation: &FieldAnnotation) -> Option<&str> {
    annotation.schema.as_ref()?.get("description")?.as_str()
}

/// `openapiv2_field` on a parameter bound to its field: deprecation and example on the
/// parameter, the constraints on its schema when the parameter is the field's whole value
/// (`constrain`), not a segment of it.
pub(super) fn parameter(
    annotation: &FieldAnnotation,
    parameter: &mut Map<String, Json>,
    constrain: bool,
) {
    let Some(source) = &annotation.schema else {
        return;
    };
    if source.pointer("/fieldConfiguration/deprecated") == Some(&Json::Bool(true)) {
        parameter.insert("deprecated".into(), json!(true));
    }
    if let Some(example) = source.get("example").and_then(Json::as_str) {
        parameter.insert("example".into(), parsed_example(example));
    }
    if let Some(members) = source.get("extensions").and_then(Json::as_object) {
        parameter.extend(members.clone());
    }
    if constrain && let Some(schema) = parameter.get_mut("schema") {
        copy(source, "title", schema, "title");
        keywords(source, schema);
    }
}

/// The JSONSchema fields OpenAPI 3.1 shares with Swagger 2's, onto a schema.
fn json_schema_fields(annotation: &Json, target: &mut Json) {
    // Not `required`: the model has put the fields it names, and those annotated as
    // required, into their message's.
    for field in ["title", "description"] {
        copy(annotation, field, target, field);
    }
    keywords(annotation, target);
    if let Some(text) = annotation.get("example").and_then(Json::as_str) {
        target["examples"] = json!([parsed_example(text)]);
    }
    extensions(annotation, target);
}

/// The constraints and default of a JSONSchema annotation, onto a schema. On an array's,
/// those about one value (pattern, format, lengths, bounds, default, enum) go to its `items`,
/// as grpc-gateway puts them: a repeated field's annotation constrains each element.
fn keywords(annotation: &Json, target: &mut Json) {
    for field in ["readOnly", "uniqueItems"] {
        copy(annotation, field, target, field);
    }
    for count in ["maxItems", "minItems"] {
        copy_count(annotation, count, target);
    }
    let array = target.get("type").and_then(Json::as_str) == Some("array");
    match target.get_mut("items") {
        Some(items) if array => value_keywords(annotation, items),
        _ => value_keywords(annotation, target),
    }
}

/// The keywords of a JSONSchema annotation about one value, onto its schema.
fn value_keywords(annotation: &Json, target: &mut Json) {
    for field in ["format", "pattern", "multipleOf", "maximum", "minimum"] {
        copy(annotation, field, target, field);
    }
    for count in ["maxLength", "minLength", "maxProperties", "minProperties"] {
        copy_count(annotation, count, target);
    }
    // Swagger 2's boolean exclusive bounds are OpenAPI 3.1's (JSON Schema's) numbers.
    for (flag, bound, exclusive) in [
        ("exclusiveMaximum", "maximum", "exclusiveMaximum"),
        ("exclusiveMinimum", "minimum", "exclusiveMinimum"),
    ] {
        if annotation.get(flag) == Some(&Json::Bool(true)) {
            // proto3 JSON leaves out a bound of 0, which is still the bound.
            let value = annotation.get(bound).cloned().unwrap_or(json!(0));
            target[exclusive] = whole_numbers(value);
            if let Some(object) = target.as_object_mut() {
                object.remove(bound);
            }
        }
    }
    if let Some(text) = annotation.get("default").and_then(Json::as_str) {
        target["default"] = parsed_example(text);
    }
    if let Some(values) = annotation.get("enum").and_then(Json::as_array) {
        // Written as strings; a number or boolean schema's values are JSON text.
        let textual = !matches!(
            target.get("type").and_then(Json::as_str),
            Some("number" | "integer" | "boolean")
        );
        let values: Vec<Json> = values
            .iter()
            .filter_map(Json::as_str)
            .map(|text| match textual {
                true => json!(text),
                false => parsed_example(text),
            })
            .collect();
        target["enum"] = json!(values);
    }
}

/// An example or default as grpc-gateway takes it: JSON text, else the text itself.
fn parsed_example(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_owned()))
}

/// A Swagger 2 security scheme as OpenAPI 3.1's.
fn security_scheme(scheme: &Json) -> Option<Json> {
    let mut converted = Map::new();
    match scheme.get("type")?.as_str()? {
        "TYPE_BASIC" => {
            converted.insert("type".into(), json!("http"));
            converted.insert("scheme".into(), json!("basic"));
        }
        "TYPE_API_KEY" => {
            converted.insert("type".into(), json!("apiKey"));
            converted.insert("name".into(), scheme.get("name")?.clone());
            let place = match scheme.get("in").and_then(Json::as_str) {
                Some("IN_QUERY") => "query",
                _ => "header",
            };
            converted.insert("in".into(), json!(place));
        }
        "TYPE_OAUTH2" => {
            let scopes = scheme
                .pointer("/scopes/scope")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let (flow, urls): (&str, &[(&str, &str)]) =
                match scheme.get("flow").and_then(Json::as_str)? {
                    "FLOW_IMPLICIT" => ("implicit", &[("authorizationUrl", "authorizationUrl")]),
                    "FLOW_PASSWORD" => ("password", &[("tokenUrl", "tokenUrl")]),
                    "FLOW_APPLICATION" => ("clientCredentials", &[("tokenUrl", "tokenUrl")]),
                    "FLOW_ACCESS_CODE" => (
                        "authorizationCode",
                        &[
                            ("authorizationUrl", "authorizationUrl"),
                            ("tokenUrl", "tokenUrl"),
                        ],
                    ),
                    _ => return None,
                };
            let mut flow_object = json!({ "scopes": scopes });
            for (from, to) in urls {
                copy(scheme, from, &mut flow_object, to);
            }
            converted.insert("type".into(), json!("oauth2"));
            converted.insert("flows".into(), json!({ flow: flow_object }));
        }
        _ => return None,
    }
    if let Some(description) = scheme.get("description") {
        converted.insert("description".into(), description.clone());
    }
    let mut converted = Json::Object(converted);
    extensions(scheme, &mut converted);
    Some(converted)
}

/// Where a list of security requirements applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Document,
    Operation,
}

/// Swagger 2 security requirements (`{"securityRequirement": {name: {"scope": […]}}}` each)
/// as OpenAPI's (`{name: […]}`). An empty one is kept on the document, where beside others it
/// says "or anonymous" (`[{"Basic": []}, {}]`: authentication optional), and left out of an
/// operation, where `security: {}` is grpc-gateway's way to opt it out (`[]`: no security);
/// protoc-gen-openapiv2 does both.
fn security_requirements(security: &Json, level: Level) -> Json {
    let requirements = security
        .as_array()
        .into_iter()
        .flatten()
        .map(|requirement| {
            let names = requirement
                .get("securityRequirement")
                .and_then(Json::as_object)
                .map(|names| {
                    names
                        .iter()
                        .map(|(name, value)| {
                            let scopes = value.get("scope").cloned().unwrap_or_else(|| json!([]));
                            (name.clone(), scopes)
                        })
                        .collect::<Map<String, Json>>()
                })
                .unwrap_or_default();
            Json::Object(names)
        })
        .filter(|names| {
            level == Level::Document || names.as_object().is_some_and(|names| !names.is_empty())
        });
    Json::Array(requirements.collect())
}

/// An annotation's `extensions` (the model has checked they all start with `x-`) as members
/// of `target`.
fn extensions(source: &Json, target: &mut Json) {
    let members = source.get("extensions").and_then(Json::as_object);
    if let (Some(members), Some(target)) = (members, target.as_object_mut()) {
        target.extend(
            members
                .iter()
                .map(|(name, value)| (name.clone(), whole_numbers(value.clone()))),
        );
    }
}

/// `value` with its whole numbers written as integers. An annotation's numbers come from
/// protobuf's `double` (the bounds) and `google.protobuf.Value` (extensions), so 60 reads
/// back as `60.0`; protoc-gen-openapiv2 writes `60`, as a reader expects.
fn whole_numbers(value: Json) -> Json {
    /// Doubles hold every integer up to 2^53 exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Json::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() <= EXACT => {
                json!(float as i64)
            }
            _ => Json::Number(number),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(whole_numbers).collect()),
        Json::Object(members) => Json::Object(
            members
                .into_iter()
                .map(|(name, value)| (name, whole_numbers(value)))
                .collect(),
        ),
        other => other,
    }
}

/// A count (`maxLength`…) of `source` onto `target`: proto3 JSON writes a uint64 as a
/// string, JSON Schema's counts are integers.
fn copy_count(source: &Json, key: &str, target: &mut Json) {
    if let Some(value) = source.get(key) {
        let number = value.as_str().and_then(|text| text.parse::<u64>().ok());
        target[key] = number.map_or_else(|| value.clone(), |number| json!(number));
    }
}

/// `target[to]` = `source[from]`, when `source` has it.
fn copy(source: &Json, from: &str, target: &mut Json, to: &str) {
    if let Some(value) = source.get(from) {
        target[to] = whole_numbers(value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arrays_value_constraints_go_to_its_items() {
        let annotation = json!({
            "title": "Labels",
            "pattern": "^[a-z]+$",
            "format": "hostname",
            "maxLength": "20",
            "minimum": 1.0,
            "default": "\"a\"",
            "enum": ["a", "b"],
            "maxItems": "3",
            "minItems": "1",
            "uniqueItems": true,
            "example": "[\"a\"]",
        });
        let mut array = json!({ "type": "array", "items": { "type": "string" } });
        json_schema_fields(&annotation, &mut array);
        assert_eq!(
            array,
            json!({
                "type": "array",
                "title": "Labels",
                "maxItems": 3,
                "minItems": 1,
                "uniqueItems": true,
                "examples": [["a"]],
                "items": {
                    "type": "string",
                    "pattern": "^[a-z]+$",
                    "format": "hostname",
                    "maxLength": 20,
                    "minimum": 1,
                    "default": "a",
                    "enum": ["a", "b"],
                },
            })
        );
        // On a single value, all of it is the value's.
        let mut single = json!({ "type": "string" });
        json_schema_fields(&annotation, &mut single);
        assert_eq!(single["maxLength"], json!(20));
        assert_eq!(single["maxItems"], json!(3));
        assert_eq!(single["pattern"], json!("^[a-z]+$"));
    }

    #[test]
    fn empty_security_requirements_opt_out() {
        let requirement =
            |name: &str| json!({ "securityRequirement": { name: { "scope": ["r"] } } });
        let cases = [
            (json!([{}]), json!([])),
            (json!([{ "securityRequirement": {} }]), json!([])),
            (json!([{}, requirement("A")]), json!([{ "A": ["r"] }])),
            (
                json!([{ "securityRequirement": { "B": {} } }]),
                json!([{ "B": [] }]),
            ),
        ];
        for (security, expected) in cases {
            assert_eq!(
                security_requirements(&security, Level::Operation),
                expected,
                "{security}"
            );
        }
    }

    #[test]
    fn whole_numbers_are_written_as_integers() {
        let value = json!({ "ttl": 60.0, "ratio": 0.5, "list": [1.0, -2.0, 2.5], "big": 1e300 });
        assert_eq!(
            whole_numbers(value),
            json!({ "ttl": 60, "ratio": 0.5, "list": [1, -2, 2.5], "big": 1e300 })
        );
    }

    #[test]
    fn an_empty_requirement_on_the_document_makes_authentication_optional() {
        // protoc-gen-openapiv2 keeps it there: Basic, or anonymous.
        let security = json!([{ "securityRequirement": { "Basic": {} } }, {}]);
        assert_eq!(
            security_requirements(&security, Level::Document),
            json!([{ "Basic": [] }, {}])
        );
    }
}
