//! JSON Schemas of the proto3 JSON mapping: scalars, enums, messages and well-known types.

use serde_json::{Map, Value as Json, json};

use super::{annotations, insert_text};
use crate::model::openapi::{
    ANY, EnumSchema, FieldType, MessageSchema, Scalar, Schema, Value, WellKnown,
};

pub(super) fn schema(schema: &Schema) -> Json {
    match schema {
        Schema::Message(message) => message_schema(message),
        Schema::Enum(enumeration) => enum_schema(enumeration),
        Schema::WellKnown(known) => well_known(*known),
    }
}

fn message_schema(message: &MessageSchema) -> Json {
    let mut properties = Map::new();
    for field in &message.fields {
        let mut schema = match self::field(&field.field) {
            Json::Object(object) => object,
            _ => Map::new(),
        };
        let mut text: Vec<String> = field.description.iter().cloned().collect();
        if let Some(oneof) = &field.oneof {
            let members: Vec<String> = message
                .fields
                .iter()
                .filter(|other| other.oneof.as_ref() == Some(oneof))
                .map(|other| format!("`{}`", other.json_name))
                .collect();
            text.push(format!(
                "Part of the oneof `{oneof}`: at most one of {} is set.",
                members.join(", ")
            ));
        }
        if !text.is_empty() {
            schema.insert("description".into(), json!(text.join("\n\n")));
        }
        if field.deprecated {
            schema.insert("deprecated".into(), json!(true));
        }
        if field.annotation.output_only {
            schema.insert("readOnly".into(), json!(true));
        }
        if field.annotation.input_only {
            schema.insert("writeOnly".into(), json!(true));
        }
        let mut schema = Json::Object(schema);
        annotations::property(&field.annotation, &mut schema);
        properties.insert(field.json_name.clone(), schema);
    }
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    insert_text(&mut object, "description", message.description.as_deref());
    if message.deprecated {
        object.insert("deprecated".into(), json!(true));
    }
    object.insert("properties".into(), Json::Object(properties));
    if !message.required.is_empty() {
        object.insert("required".into(), json!(message.required));
    }
    // A field the message does not have is not part of its form: the gateway never writes one,
    // and skips one in a request (or refuses it, with `reject_unknown_fields`).
    object.insert("additionalProperties".into(), json!(false));
    Json::Object(object)
}

fn enum_schema(enumeration: &EnumSchema) -> Json {
    let mut names = Vec::new();
    let mut numbers = Vec::new();
    let mut listing = Vec::new();
    for (name, number, description) in &enumeration.values {
        names.push(json!(name));
        // Aliases share a number; the list says each once.
        if !numbers.contains(&json!(number)) {
            numbers.push(json!(number));
        }
        let line = match description {
            Some(text) => format!("- `{name}` ({number}): {}", text.replace('\n', " ")),
            None => format!("- `{name}` ({number})"),
        };
        listing.push(line);
    }
    // An annotated description replaces the comment; the list of values stays.
    let described = enumeration
        .annotation
        .as_ref()
        .and_then(|annotation| annotation.get("description"))
        .and_then(Json::as_str)
        .map(str::to_owned)
        .or_else(|| enumeration.description.clone());
    let mut text: Vec<String> = described.into_iter().collect();
    text.push(format!("By name, or by number:\n\n{}", listing.join("\n")));
    let mut object = Map::new();
    object.insert("description".into(), json!(text.join("\n\n")));
    if enumeration.deprecated {
        object.insert("deprecated".into(), json!(true));
    }
    // What an absent field reads as: the value numbered 0 (the first, in proto2), which the
    // gateway leaves out of what it writes. protoc-gen-openapiv2 says so too.
    let default = enumeration
        .values
        .iter()
        .find(|(_, number, _)| *number == 0)
        .or(enumeration.values.first());
    if let Some((name, _, _)) = default {
        object.insert("default".into(), json!(name));
    }
    object.insert(
        "oneOf".into(),
        json!([
            { "type": "string", "enum": names },
            { "type": "integer", "enum": numbers },
        ]),
    );
    let mut schema = Json::Object(object);
    if let Some(annotation) = &enumeration.annotation {
        annotations::enumeration(annotation, &mut schema);
    }
    schema
}

fn well_known(known: WellKnown) -> Json {
    match known {
        WellKnown::Timestamp => json!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 date and time in UTC, e.g. `2024-01-31T09:30:00.5Z`.",
        }),
        WellKnown::Duration => json!({
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
            "description": "Seconds with up to nine fractional digits and the suffix `s`, e.g. `1.5s`.",
        }),
        WellKnown::FieldMask => json!({
            "type": "string",
            "description": "Field paths in lowerCamelCase, comma-separated, e.g. `user.displayName,photo`.",
        }),
        WellKnown::Struct => json!({ "type": "object", "description": "Any JSON object." }),
        WellKnown::Value => json!({ "description": "Any JSON value." }),
        WellKnown::ListValue => json!({
            "type": "array",
            "items": {},
            "description": "Any JSON array.",
        }),
        WellKnown::Any => json!({
            "type": "object",
            "properties": {
                "@type": {
                    "type": "string",
                    "description": "A URL naming the message's type, e.g. `type.googleapis.com/google.rpc.BadRequest`.",
                },
            },
            "description": "A message of any type: `@type` names it; the other members are its fields in JSON, or `value` for a type with a JSON form of its own.",
        }),
        WellKnown::Empty => json!({
            "type": "object",
            "additionalProperties": false,
            "description": "An empty object.",
        }),
        WellKnown::NullValue => json!({ "type": "null" }),
        WellKnown::Wrapper(scalar) => {
            let mut schema = self::scalar(scalar);
            if let Json::Object(object) = &mut schema {
                let single = object.remove("type").unwrap_or_else(|| json!("string"));
                object.insert("type".into(), json!([single, "null"]));
            }
            schema
        }
    }
}

/// The error model, where the request's descriptors do not define `google.rpc.Status`.
pub(super) fn status_schema() -> Json {
    json!({
        "type": "object",
        "description": "The error model: a gRPC status code, a message for developers, and details.",
        "properties": {
            "code": {
                "type": "integer",
                "format": "int32",
                "description": "The gRPC status code, a `google.rpc.Code` value.",
            },
            "message": { "type": "string", "description": "What went wrong, in English." },
            "details": {
                "type": "array",
                "items": reference(ANY),
                "description": "Messages with more about the error, such as a `google.rpc.BadRequest`.",
            },
        },
        "additionalProperties": false,
    })
}

/// The JSON Schema of a field of this shape.
pub(super) fn field(field: &FieldType) -> Json {
    match field {
        FieldType::Single(value) => self::value(value),
        FieldType::List(value) => json!({ "type": "array", "items": self::value(value) }),
        FieldType::Map(key, value) => map_schema(*key, self::value(value)),
    }
}

/// An object whose keys are map keys in text.
pub(super) fn map_schema(key: Scalar, value: Json) -> Json {
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    let names = match key {
        Scalar::Int32 | Scalar::Int64 => Some(json!({ "pattern": "^-?[0-9]+$" })),
        Scalar::Uint32 | Scalar::Uint64 => Some(json!({ "pattern": "^[0-9]+$" })),
        Scalar::Bool => Some(json!({ "enum": ["true", "false"] })),
        _ => None,
    };
    if let Some(names) = names {
        object.insert("propertyNames".into(), names);
    }
    object.insert("additionalProperties".into(), value);
    Json::Object(object)
}

pub(super) fn value(value: &Value) -> Json {
    match value {
        Value::Scalar(scalar) => self::scalar(*scalar),
        Value::Enum(name) | Value::Message(name) => reference(name),
    }
}

/// proto3 JSON of the scalar types.
pub(super) fn scalar(scalar: Scalar) -> Json {
    match scalar {
        Scalar::Double => json!({ "type": "number", "format": "double" }),
        Scalar::Float => json!({ "type": "number", "format": "float" }),
        Scalar::Int32 => json!({
            "type": "integer",
            "format": "int32",
            "minimum": i32::MIN,
            "maximum": i32::MAX,
        }),
        Scalar::Uint32 => json!({
            "type": "integer",
            "format": "uint32",
            "minimum": 0,
            "maximum": u32::MAX,
        }),
        // Strings, so that JavaScript's doubles do not round them.
        Scalar::Int64 => json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" }),
        Scalar::Uint64 => json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" }),
        Scalar::Bool => json!({ "type": "boolean" }),
        Scalar::String => json!({ "type": "string" }),
        Scalar::Bytes => json!({ "type": "string", "format": "byte", "contentEncoding": "base64" }),
    }
}

pub(super) fn reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_have_their_proto3_json_forms() {
        let cases = [
            (
                Scalar::Double,
                json!({ "type": "number", "format": "double" }),
            ),
            (
                Scalar::Float,
                json!({ "type": "number", "format": "float" }),
            ),
            (
                Scalar::Int32,
                json!({ "type": "integer", "format": "int32", "minimum": -2147483648_i64, "maximum": 2147483647 }),
            ),
            (
                Scalar::Uint32,
                json!({ "type": "integer", "format": "uint32", "minimum": 0, "maximum": 4294967295_u64 }),
            ),
            (
                Scalar::Int64,
                json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" }),
            ),
            (
                Scalar::Uint64,
                json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" }),
            ),
            (Scalar::Bool, json!({ "type": "boolean" })),
            (Scalar::String, json!({ "type": "string" })),
            (
                Scalar::Bytes,
                json!({ "type": "string", "format": "byte", "contentEncoding": "base64" }),
            ),
        ];
        for (scalar, expected) in cases {
            assert_eq!(self::scalar(scalar), expected, "{scalar:?}");
        }
    }

    #[test]
    fn fields_are_values_arrays_or_objects() {
        let timestamp = Value::Message("google.protobuf.Timestamp".to_owned());
        assert_eq!(
            field(&FieldType::Single(timestamp.clone())),
            json!({ "$ref": "#/components/schemas/google.protobuf.Timestamp" })
        );
        assert_eq!(
            field(&FieldType::List(Value::Enum("a.Colour".to_owned()))),
            json!({ "type": "array", "items": { "$ref": "#/components/schemas/a.Colour" } })
        );
        // Map keys are text: integer and bool keys say which text.
        assert_eq!(
            field(&FieldType::Map(Scalar::String, timestamp)),
            json!({
                "type": "object",
                "additionalProperties": { "$ref": "#/components/schemas/google.protobuf.Timestamp" },
            })
        );
        let keys = [
            (Scalar::Int64, json!({ "pattern": "^-?[0-9]+$" })),
            (Scalar::Uint32, json!({ "pattern": "^[0-9]+$" })),
            (Scalar::Bool, json!({ "enum": ["true", "false"] })),
        ];
        for (key, names) in keys {
            let schema = field(&FieldType::Map(key, Value::Scalar(Scalar::Bool)));
            assert_eq!(schema["propertyNames"], names, "{key:?}");
        }
    }

    #[test]
    fn well_known_types_have_their_own_json_forms() {
        let cases = [
            (WellKnown::Timestamp, "type", json!("string")),
            (WellKnown::Timestamp, "format", json!("date-time")),
            (
                WellKnown::Duration,
                "pattern",
                json!("^-?[0-9]+(\\.[0-9]{1,9})?s$"),
            ),
            (WellKnown::FieldMask, "type", json!("string")),
            (WellKnown::Struct, "type", json!("object")),
            (WellKnown::ListValue, "type", json!("array")),
            (WellKnown::Empty, "additionalProperties", json!(false)),
            (WellKnown::NullValue, "type", json!("null")),
            // Wrappers are their scalar, or null.
            (
                WellKnown::Wrapper(Scalar::Int64),
                "type",
                json!(["string", "null"]),
            ),
            (WellKnown::Wrapper(Scalar::Int64), "format", json!("int64")),
            (
                WellKnown::Wrapper(Scalar::Bool),
                "type",
                json!(["boolean", "null"]),
            ),
        ];
        for (known, key, expected) in cases {
            assert_eq!(well_known(known)[key], expected, "{known:?} {key}");
        }
        // `Value` is any JSON: a schema with no constraint.
        let value = well_known(WellKnown::Value);
        assert_eq!(value.as_object().map(|o| o.len()), Some(1), "{value}");
        assert_eq!(
            well_known(WellKnown::Any)["properties"]["@type"]["type"],
            json!("string")
        );
    }

    #[test]
    fn enums_accept_names_and_numbers_once_each() {
        let enumeration = EnumSchema {
            description: Some("A genre.".to_owned()),
            deprecated: false,
            values: vec![
                ("UNSPECIFIED".to_owned(), 0, None),
                ("FICTION".to_owned(), 1, Some("Novels.".to_owned())),
                ("NOVEL".to_owned(), 1, None),
            ],
            annotation: None,
        };
        let schema = enum_schema(&enumeration);
        assert_eq!(schema["default"], "UNSPECIFIED");
        assert_eq!(
            schema["oneOf"],
            json!([
                { "type": "string", "enum": ["UNSPECIFIED", "FICTION", "NOVEL"] },
                { "type": "integer", "enum": [0, 1] },
            ])
        );
        assert_eq!(
            schema["description"],
            json!(
                "A genre.\n\nBy name, or by number:\n\n- `UNSPECIFIED` (0)\n- `FICTION` (1): Novels.\n- `NOVEL` (1)"
            )
        );
    }

    #[test]
    fn messages_are_closed_objects_that_explain_their_oneofs() {
        let member = |name: &str| crate::model::openapi::FieldSchema {
            json_name: name.to_owned(),
            field: FieldType::Single(Value::Scalar(Scalar::String)),
            description: None,
            deprecated: name == "b",
            oneof: Some("choice".to_owned()),
            annotation: Default::default(),
        };
        let message = MessageSchema {
            description: None,
            deprecated: true,
            fields: vec![member("a"), member("b")],
            required: Vec::new(),
        };
        let schema = message_schema(&message);
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["deprecated"], json!(true));
        assert_eq!(schema["properties"]["b"]["deprecated"], json!(true));
        assert_eq!(
            schema["properties"]["a"]["description"],
            json!("Part of the oneof `choice`: at most one of `a`, `b` is set.")
        );
    }
}
