//! The OpenAPI 3.1 document of a package (`inventory.v1.openapi.json`), from the model's
//! [`OpenApi`]: JSON built with `serde_json`, whose maps keep their keys sorted, so the output
//! is the same for the same input. Only formatting happens here; what each operation, parameter
//! and schema is was settled in `model::openapi`.
//!
//! Schemas are the proto3 JSON mapping: lowerCamelCase names, 64-bit integers as strings,
//! enums by name (or number), bytes as base64, well-known types in their own JSON forms. Errors
//! are `google.rpc.Status`, the body of every non-200 answer of the gateway.

mod annotations;
mod naming;
mod responses;
mod schemas;

use serde_json::{Map, Value as Json, json};

use crate::GeneratedFile;
use crate::model::Package;
use crate::model::openapi::{
    Body, FieldType, OpenApi, Operation, PathParam, PathValue, QueryParam, STATUS, UnlistedReason,
    Value, WellKnown,
};
use responses::{response, stream_error, streams_messages};
use schemas::{field, map_schema, reference, scalar, schema, status_schema, value};

/// The OpenAPI document of `package`, if it has one.
pub fn file(package: &Package) -> Option<GeneratedFile> {
    let api = package.openapi.as_ref()?;
    let stem = if api.package.is_empty() {
        "_"
    } else {
        &api.package
    };
    Some(GeneratedFile {
        name: format!("{stem}.openapi.json"),
        content: document(api),
    })
}

/// The document, pretty-printed, with a final newline.
pub fn document(api: &OpenApi) -> String {
    let mut paths = Map::new();
    for operation in &api.operations {
        let item = paths
            .entry(operation.path.clone())
            .or_insert_with(|| json!({}));
        if let Json::Object(item) = item {
            item.insert(operation.method.clone(), self::operation(operation));
        }
    }
    let mut schemas: Map<String, Json> = api
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), self::schema(schema)))
        .collect();
    schemas
        .entry(STATUS.to_owned())
        .or_insert_with(status_schema);
    let tags: Vec<Json> = api
        .tags
        .iter()
        .map(|tag| {
            let mut object = Map::new();
            object.insert("name".into(), json!(tag.name));
            insert_text(&mut object, "description", tag.description.as_deref());
            Json::Object(object)
        })
        .collect();
    let mut document = json!({
        "openapi": "3.1.0",
        "info": info(api),
        "x-protocols": ["rest", "grpc", "grpc-web", "connect"],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error. The HTTP status follows the gRPC code, as grpc-gateway maps them; the body is a `google.rpc.Status`.",
                    "content": { "application/json": { "schema": reference(STATUS) } },
                },
            },
        },
    });
    if api.operations.iter().any(streams_messages) {
        document["components"]["responses"]["StreamError"] = stream_error();
    }
    annotations::apply(&mut document, api);
    bodies_without_path_fields(&mut document, api);
    naming::apply(&mut document, api.naming, &api.naming_universe);
    // `{:#}` is serde_json's pretty printer; it cannot fail on a `Value`.
    format!("{document:#}\n")
}

/// A whole-request body (`body: "*"`) on a path that binds some of the request's fields does
/// not carry those: the path sets them (and wins over the body). Its schema is the request
/// message's without them, in their properties or among the required, as protoc-gen-openapiv2
/// writes its `…Body` definitions; inline here, as the copy belongs to this operation alone.
/// Run after the annotations, which add to the message's `required`. A field bound further
/// down (`{shelf.name}`) stays: its message is shared with other uses.
fn bodies_without_path_fields(document: &mut Json, api: &OpenApi) {
    for operation in &api.operations {
        let Some(body) = &operation.body else {
            continue;
        };
        if body.field.is_some() || body.stream || body.raw {
            continue;
        }
        let bound: Vec<&str> = operation
            .path_params
            .iter()
            .filter_map(|param| param.field.as_deref())
            .filter(|field| !field.contains('.'))
            .collect();
        if bound.is_empty() {
            continue;
        }
        let pointer = format!(
            "/paths/{}/{}/requestBody/content/application~1json/schema",
            operation.path.replace('~', "~0").replace('/', "~1"),
            operation.method
        );
        let Some(name) = document
            .pointer(&pointer)
            .and_then(|schema| schema.get("$ref"))
            .and_then(Json::as_str)
            .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
        else {
            continue;
        };
        let Some(mut copy) = document["components"]["schemas"].get(name).cloned() else {
            continue;
        };
        if let Some(properties) = copy.get_mut("properties").and_then(Json::as_object_mut) {
            for field in &bound {
                properties.remove(*field);
            }
        }
        if let Some(required) = copy.get_mut("required").and_then(Json::as_array_mut) {
            required.retain(|name| !bound.iter().any(|field| name == field));
            if required.is_empty() {
                copy.as_object_mut().map(|copy| copy.remove("required"));
            }
        }
        if let Some(schema) = document.pointer_mut(&pointer) {
            *schema = copy;
        }
    }
}

/// What the document does not list: the same rpcs in the other protocols the adapter speaks.
const PROTOCOLS_NOTE: &str = "Besides the REST/JSON routes listed here, every rpc of these \
services is served on the same port at `/<package>.<Service>/<Method>` over gRPC, gRPC-Web and \
Connect (`POST` with `Content-Type: application/json` or `application/proto`; `GET` for \
`NO_SIDE_EFFECTS` rpcs), as `x-protocols` says.";

fn info(api: &OpenApi) -> Json {
    let title = if api.package.is_empty() {
        "(no package)"
    } else {
        &api.package
    };
    // `inventory.v1` is version `v1`, `google.cloud.aiplatform.v1beta1` is `v1beta1`.
    let version = api
        .package
        .rsplit('.')
        .next()
        .filter(|last| {
            last.strip_prefix('v')
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or("unversioned");
    let mut description: Vec<String> = api.description.iter().cloned().collect();
    if !api.unlisted.is_empty() {
        let mut note = "Bindings not listed here:\n".to_owned();
        for unlisted in &api.unlisted {
            let why = match &unlisted.reason {
                UnlistedReason::CustomMethod => {
                    "OpenAPI 3.1 has no operation for a custom HTTP method".to_owned()
                }
                UnlistedReason::SameAs(id) => format!(
                    "its OpenAPI path and method are those of `{id}` (OpenAPI does not tell `*` from `**`)"
                ),
            };
            note.push_str(&format!(
                "\n- `{} {}` of `{}`: {why}.",
                unlisted.method, unlisted.template, unlisted.rpc
            ));
        }
        description.push(note);
    }
    description.push(PROTOCOLS_NOTE.to_owned());
    let mut info = Map::new();
    info.insert("title".into(), json!(title));
    info.insert("version".into(), json!(version));
    if !description.is_empty() {
        info.insert("description".into(), json!(description.join("\n\n")));
    }
    Json::Object(info)
}

fn operation(operation: &Operation) -> Json {
    let mut object = Map::new();
    object.insert("operationId".into(), json!(operation.operation_id));
    object.insert("tags".into(), json!([operation.tag]));
    if let Some(text) = &operation.description {
        // As protoc-gen-openapiv2 splits an rpc's comment: its first paragraph is the
        // summary, the rest (if any) the description.
        let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
        object.insert("summary".into(), json!(first.trim().replace('\n', " ")));
        insert_text(
            &mut object,
            "description",
            Some(rest.trim()).filter(|rest| !rest.is_empty()),
        );
    }
    if operation.deprecated {
        object.insert("deprecated".into(), json!(true));
    }
    let parameters: Vec<Json> = operation
        .path_params
        .iter()
        .map(path_param)
        .chain(operation.query_params.iter().map(query_param))
        .collect();
    if !parameters.is_empty() {
        object.insert("parameters".into(), json!(parameters));
    }
    if let Some(body) = &operation.body {
        object.insert("requestBody".into(), request_body(body));
        if body.stream {
            object.insert(
                "x-websocket".into(),
                json!({
                    "description": "Also served over WebSocket: a GET on this path with `Upgrade: websocket` upgrades; then each text frame is one request message in JSON and each response message comes back as one, an empty frame ends the requests, and the socket closes with 1000 when the call succeeds or 4000 + the gRPC code, the status message as the reason, when it fails."
                }),
            );
        }
    }
    object.insert(
        "responses".into(),
        json!({
            "200": response(&operation.response),
            "default": {
                "$ref": if streams_messages(operation) {
                    "#/components/responses/StreamError"
                } else {
                    "#/components/responses/Error"
                }
            },
        }),
    );
    Json::Object(object)
}

fn path_param(param: &PathParam) -> Json {
    // A parameter named other than its field (it took the name of another operation's on
    // the same path) says which field it binds.
    let whole = matches!(
        param.value,
        PathValue::Field(_) | PathValue::List(_) | PathValue::Spanning { .. }
    );
    let binds = param
        .field
        .as_ref()
        .filter(|field| whole && **field != param.name)
        .map(|field| format!("Binds the field `{field}`."));
    let field = param.field.as_deref().unwrap_or_default();
    let (schema, note) = match &param.value {
        PathValue::Field(value) => (self::value(value), None),
        // OpenAPI's `simple` style, unexploded, is a path parameter's default: `1,2,3`.
        PathValue::List(value) => (
            json!({ "type": "array", "items": self::value(value) }),
            Some("The values are comma-separated: `a,b,c`.".to_owned()),
        ),
        PathValue::Spanning { template, pattern } => (
            json!({ "type": "string", "pattern": pattern }),
            Some(format!(
                "The value spans path segments: it matches `{template}`, its `/` sent as they are. (An OpenAPI path parameter is one segment: a client that escapes `/` in it will not reach this route.)"
            )),
        ),
        PathValue::Segment { of, multi } => (
            segment_schema(*multi),
            Some(format!(
                "{} of the field `{field}`, which is `{of}`.",
                if *multi { "Path segments" } else { "A segment" }
            )),
        ),
        PathValue::Unbound { multi } => (
            segment_schema(*multi),
            Some(
                if *multi {
                    "Any path segments, `/`-separated; bound to no field."
                } else {
                    "Any path segment; bound to no field."
                }
                .to_owned(),
            ),
        ),
    };
    let description = annotations::parameter_description(&param.annotation)
        .map(str::to_owned)
        .or_else(|| param.description.clone());
    let text: Vec<String> = [binds, description, note].into_iter().flatten().collect();
    let mut object = Map::new();
    object.insert("name".into(), json!(param.name));
    object.insert("in".into(), json!("path"));
    object.insert("required".into(), json!(true));
    if !text.is_empty() {
        object.insert("description".into(), json!(text.join("\n\n")));
    }
    object.insert("schema".into(), schema);
    // A segment of the field, or a value spanning segments whose pattern routing needs, is
    // not the field's value to constrain.
    let whole_value = matches!(param.value, PathValue::Field(_) | PathValue::List(_));
    annotations::parameter(&param.annotation, &mut object, whole_value);
    Json::Object(object)
}

fn segment_schema(multi: bool) -> Json {
    if multi {
        json!({ "type": "string" })
    } else {
        json!({ "type": "string", "pattern": "^[^/]+$" })
    }
}

fn query_param(param: &QueryParam) -> Json {
    let mut object = Map::new();
    object.insert("name".into(), json!(param.name));
    object.insert("in".into(), json!("query"));
    let description =
        annotations::parameter_description(&param.annotation).or(param.description.as_deref());
    insert_text(&mut object, "description", description);
    if param.required {
        object.insert("required".into(), json!(true));
    }
    if param.deprecated {
        object.insert("deprecated".into(), json!(true));
    }
    let schema = match &param.field {
        FieldType::Single(value) => query_value(value),
        // Repeated keys: `?tag=a&tag=b`, the default style of query arrays.
        FieldType::List(value) => json!({ "type": "array", "items": query_value(value) }),
        // `?labels[key]=value`.
        FieldType::Map(key, value) => {
            object.insert("style".into(), json!("deepObject"));
            object.insert("explode".into(), json!(true));
            map_schema(*key, query_value(value))
        }
    };
    object.insert("schema".into(), schema);
    annotations::parameter(&param.annotation, &mut object, true);
    Json::Object(object)
}

/// A value in a query string: a wrapper is its scalar (a query value cannot be `null`).
fn query_value(value: &Value) -> Json {
    match value {
        Value::Message(name) => match WellKnown::of(name) {
            Some(WellKnown::Wrapper(scalar)) => self::scalar(scalar),
            _ => self::value(value),
        },
        _ => self::value(value),
    }
}

/// A `google.api.HttpBody`: bytes of any media type, passed as they are.
fn raw_content(text: &str) -> Json {
    json!({
        "description": text,
        "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } },
    })
}

fn request_body(body: &Body) -> Json {
    if body.raw {
        let into = match &body.field {
            Some(field) => format!("the field `{field}` (a `google.api.HttpBody`)"),
            None => "the request, a `google.api.HttpBody`".to_owned(),
        };
        return raw_content(&format!(
            "The raw body, of any media type: its bytes and its `Content-Type` become {into}."
        ));
    }
    let (media_type, mut text) = if body.stream {
        (
            "application/x-ndjson",
            vec![
                "Newline-delimited JSON: one request message per line (a message may also \
                 span lines or follow another directly, or the messages come as one JSON array)."
                    .to_owned(),
            ],
        )
    } else {
        ("application/json", Vec::new())
    };
    if let Some(field) = &body.field {
        text.push(match body.stream {
            true => format!("Each message is the request's field `{field}`."),
            false => format!("The request's field `{field}`."),
        });
    }
    text.extend(body.description.clone());
    let mut object = Map::new();
    if !text.is_empty() {
        object.insert("description".into(), json!(text.join("\n\n")));
    }
    object.insert(
        "content".into(),
        json!({ media_type: { "schema": field(&body.value) } }),
    );
    Json::Object(object)
}

pub(super) fn insert_text(object: &mut Map<String, Json>, key: &str, text: Option<&str>) {
    if let Some(text) = text {
        object.insert(key.into(), json!(text));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::openapi::{Scalar, Tag};

    fn api(package: &str) -> OpenApi {
        OpenApi {
            package: package.to_owned(),
            description: None,
            tags: vec![Tag {
                name: "S".to_owned(),
                description: None,
            }],
            operations: Vec::new(),
            unlisted: Vec::new(),
            schemas: BTreeMap::new(),
            annotations: Default::default(),
            naming: crate::params::SchemaNaming::Fqn,
            naming_universe: Vec::new(),
        }
    }

    #[test]
    fn the_version_is_the_packages_last_part_if_it_is_one() {
        let cases = [
            ("inventory.v1", "v1"),
            ("google.cloud.aiplatform.v1beta1", "v1beta1"),
            ("acme.api", "unversioned"),
            ("acme.vendor", "unversioned"),
            ("", "unversioned"),
        ];
        for (package, version) in cases {
            assert_eq!(info(&api(package))["version"], json!(version), "{package}");
        }
        assert_eq!(info(&api(""))["title"], json!("(no package)"));
    }

    #[test]
    fn a_document_without_schemas_still_has_the_error_model() {
        let text = document(&api("a.v1"));
        assert!(text.ends_with("}\n"), "{text}");
        let parsed: Json = serde_json::from_str(&text).expect("JSON");
        assert_eq!(parsed["openapi"], json!("3.1.0"));
        assert_eq!(
            parsed["components"]["schemas"][STATUS]["properties"]["code"]["type"],
            json!("integer")
        );
        assert_eq!(
            parsed["components"]["responses"]["Error"]["content"]["application/json"]["schema"],
            json!({ "$ref": "#/components/schemas/google.rpc.Status" })
        );
    }

    #[test]
    fn query_wrappers_are_their_scalars_and_maps_deep_objects() {
        let param = |field: FieldType| QueryParam {
            name: "p".to_owned(),
            field,
            description: None,
            deprecated: false,
            required: false,
            annotation: Default::default(),
        };
        let wrapper = Value::Message("google.protobuf.Int64Value".to_owned());
        let single = query_param(&param(FieldType::Single(wrapper.clone())));
        assert_eq!(single["schema"], scalar(Scalar::Int64));
        let list = query_param(&param(FieldType::List(wrapper)));
        assert_eq!(list["schema"]["items"], scalar(Scalar::Int64));
        assert_eq!(list.get("style"), None);
        let map = query_param(&param(FieldType::Map(
            Scalar::String,
            Value::Scalar(Scalar::Bool),
        )));
        assert_eq!(
            (&map["style"], &map["explode"]),
            (&json!("deepObject"), &json!(true))
        );
        assert_eq!(map["schema"]["additionalProperties"], scalar(Scalar::Bool));
    }

    #[test]
    fn path_parameters_say_what_their_value_is() {
        let param = |name: &str, field: Option<&str>, value: PathValue| PathParam {
            name: name.to_owned(),
            field: field.map(str::to_owned),
            value,
            description: Some("The field's comment.".to_owned()),
            annotation: Default::default(),
        };
        let spanning = path_param(&param(
            "name",
            Some("name"),
            PathValue::Spanning {
                template: "shelves/*".to_owned(),
                pattern: "^shelves/[^/]+$".to_owned(),
            },
        ));
        assert_eq!(spanning["required"], json!(true));
        assert_eq!(
            spanning["schema"],
            json!({ "type": "string", "pattern": "^shelves/[^/]+$" })
        );
        let text = spanning["description"].as_str().unwrap_or_default();
        assert!(
            text.starts_with(
                "The field's comment.\n\nThe value spans path segments: it matches `shelves/*`"
            ),
            "{text}"
        );

        let renamed = path_param(&param(
            "orderId",
            Some("order.orderId"),
            PathValue::Field(Value::Scalar(Scalar::Uint64)),
        ));
        assert_eq!(
            renamed["description"],
            json!("Binds the field `order.orderId`.\n\nThe field's comment.")
        );
        assert_eq!(renamed["schema"], scalar(Scalar::Uint64));

        let segment = path_param(&param(
            "shelvesId",
            Some("name"),
            PathValue::Segment {
                of: "shelves/{shelvesId}".to_owned(),
                multi: false,
            },
        ));
        assert_eq!(
            segment["description"],
            json!(
                "The field's comment.\n\nA segment of the field `name`, which is `shelves/{shelvesId}`."
            )
        );
        assert_eq!(segment["schema"]["pattern"], json!("^[^/]+$"));
    }
}
