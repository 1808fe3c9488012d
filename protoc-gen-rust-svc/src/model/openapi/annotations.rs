//! grpc-gateway's OpenAPI annotations (`grpc.gateway.protoc_gen_openapiv2.options`), which teams
//! moving from grpc-gateway already have in their protos: `openapiv2_swagger` on a file,
//! `openapiv2_tag` on a service, `openapiv2_operation` on a method, `openapiv2_schema` on a
//! message, `openapiv2_enum` on an enum and `openapiv2_field` on a field. Each is read, when its extension is in the
//! request (the proto imports `protoc-gen-openapiv2/options/annotations.proto`), as the proto3
//! JSON of its message; the `openapi` emitter carries what OpenAPI 3.1 has a place for into the
//! document. Annotations of other kinds, and fields of these that OpenAPI 3.1 has no place
//! for, are ignored without an error. `google.api.field_behavior` is read too, as
//! grpc-gateway reads it: `REQUIRED`, `OUTPUT_ONLY` and `INPUT_ONLY`.
//!
//! Their `extensions` maps become the `x-` members of the OpenAPI objects; a key that does not
//! start with `x-` (grpc-gateway refuses it) is left out with a warning naming the option's
//! `file:line`, as the rest of the document is kept when an annotation has no place in it.

use std::collections::BTreeMap;

use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, FieldDescriptor, FileDescriptor,
    MessageDescriptor, MethodDescriptor, ServiceDescriptor, Value as Reflected,
};
use serde_json::Value as Json;

use super::{Scalar, Value, WellKnown};
use crate::comments::SourceInfos;
use crate::error::Warning;
use crate::model::option_location;

/// The annotations of one package's document, as proto3 JSON objects. Those of fields are on
/// the fields' parameters and schemas ([`FieldAnnotation`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Annotations {
    /// `openapiv2_swagger` of the package's files, in file order.
    pub swagger: Vec<Json>,
    /// `openapiv2_tag`, by the tag its service's operations carry.
    pub tags: BTreeMap<String, Json>,
    /// `openapiv2_operation`, by the rpc's full name.
    pub operations: BTreeMap<String, Json>,
    /// `openapiv2_schema`, by the message's full name.
    pub schemas: BTreeMap<String, Json>,
}

/// What annotations say about one field, wherever it appears: a property of a message's
/// schema, a path parameter, a query parameter.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct FieldAnnotation {
    /// `openapiv2_field`, as proto3 JSON.
    pub schema: Option<Json>,
    /// `google.api.field_behavior = REQUIRED`: the field is in its message's `required`.
    pub required: bool,
    /// The names an `openapiv2_field`'s `required` list gives, which protoc-gen-openapiv2 adds
    /// to the field's message's `required` (usually the field's own name).
    pub hoisted: Vec<String>,
    /// `google.api.field_behavior = OUTPUT_ONLY`: `readOnly`.
    pub output_only: bool,
    /// `google.api.field_behavior = INPUT_ONLY`: `writeOnly`.
    pub input_only: bool,
}

// `google.api.FieldBehavior` values.
const REQUIRED: i32 = 2;
const OUTPUT_ONLY: i32 = 3;
const INPUT_ONLY: i32 = 4;

const PACKAGE: &str = "grpc.gateway.protoc_gen_openapiv2.options.";

/// Reads the annotations of one package's elements.
pub(super) struct Reader<'a> {
    /// The request's pool.
    pool: Option<DescriptorPool>,
    sources: &'a SourceInfos,
    /// Whether the JSON has fields under their proto names (`use_proto_names`).
    proto_names: bool,
    /// About annotations read, each once.
    pub warnings: Vec<Warning>,
}

/// Where an annotation is: an element of a file, and the field of its descriptor that holds
/// its options.
struct Site<'s> {
    file: FileDescriptor,
    path: &'s [i32],
    options_field: i32,
    element: String,
    /// The JSON types (JSONSchema's names) the element's proto3 JSON can be, which a `type`
    /// annotation cannot change; `None` where it is not one type or any is allowed.
    json_types: Option<&'static [&'static str]>,
}

/// grpc-gateway's annotations all have this extension number.
const NUMBER: u32 = 1042;

// The `options` fields of the descriptors.
const FILE_OPTIONS: i32 = 8;
const SERVICE_OPTIONS: i32 = 3;
const METHOD_OPTIONS: i32 = 4;
const MESSAGE_OPTIONS: i32 = 7;
const FIELD_OPTIONS: i32 = 8;
const ENUM_OPTIONS: i32 = 3;

impl<'a> Reader<'a> {
    /// `proto_names`: whether the JSON has fields under their proto names (`use_proto_names`),
    /// which the `required` lists then name.
    pub(super) fn new(
        sources: &'a SourceInfos,
        files: &[FileDescriptor],
        proto_names: bool,
    ) -> Self {
        let pool = files.first().map(FileDescriptor::parent_pool).cloned();
        Self {
            pool,
            sources,
            proto_names,
            warnings: Vec::new(),
        }
    }

    /// The name `field` has in the JSON: its JSON name, or with `use_proto_names` its own.
    pub(super) fn json_key(&self, field: &prost_reflect::FieldDescriptor) -> String {
        if self.proto_names {
            field.name().to_owned()
        } else {
            field.json_name().to_owned()
        }
    }

    /// The extension `name` of an options message, if it is set.
    fn extension(&self, options: &DynamicMessage, name: &str) -> Option<Reflected> {
        let extension = self.pool.as_ref()?.get_extension_by_name(name)?;
        options
            .has_extension(&extension)
            .then(|| options.get_extension(&extension).into_owned())
    }

    /// The annotation `name` (`openapiv2_operation`…) of an options message, as proto3 JSON,
    /// its extension keys checked.
    fn read(&mut self, options: &DynamicMessage, name: &str, site: Site<'_>) -> Option<Json> {
        let mut annotation = match self.extension(options, &format!("{PACKAGE}{name}"))? {
            Reflected::Message(message) => serde_json::to_value(&message).ok()?,
            _ => return None,
        };
        let mut refused = Vec::new();
        check_extensions(&mut annotation, &mut refused);
        let problems = refused
            .into_iter()
            .map(|key| {
                format!(
                    "{name}: the extension key \"{key}\" does not start with \"x-\"; it is left out of the OpenAPI document"
                )
            })
            .chain(left_out(name, &annotation, site.json_types));
        for problem in problems {
            let location = option_location(
                self.sources,
                &site.file,
                site.path,
                site.options_field,
                Some(NUMBER),
            );
            let warning = Warning::at(location, site.element.clone(), problem);
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        Some(annotation)
    }

    /// `openapiv2_enum` of `enumeration`.
    pub(super) fn enumeration(&mut self, enumeration: &EnumDescriptor) -> Option<Json> {
        let site = Site {
            file: enumeration.parent_file(),
            path: enumeration.path(),
            options_field: ENUM_OPTIONS,
            element: format!("enum {}", enumeration.full_name()),
            json_types: None,
        };
        self.read(&enumeration.options(), "openapiv2_enum", site)
    }

    /// What the annotations of `field` say.
    pub(super) fn field(&mut self, field: &FieldDescriptor) -> FieldAnnotation {
        let options = field.options();
        let site = Site {
            file: field.parent_file(),
            path: field.path(),
            options_field: FIELD_OPTIONS,
            element: format!("field {}", field.full_name()),
            json_types: json_types(field),
        };
        let schema = self.read(&options, "openapiv2_field", site);
        let behaviors: Vec<i32> = match self.extension(&options, "google.api.field_behavior") {
            Some(Reflected::List(values)) => values
                .iter()
                .filter_map(Reflected::as_enum_number)
                .collect(),
            _ => Vec::new(),
        };
        // grpc-gateway adds the names of the field's `required` list to its message's.
        let hoisted = schema
            .as_ref()
            .and_then(|schema| schema.get("required"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect();
        FieldAnnotation {
            schema,
            hoisted,
            required: behaviors.contains(&REQUIRED),
            output_only: behaviors.contains(&OUTPUT_ONLY),
            input_only: behaviors.contains(&INPUT_ONLY),
        }
    }

    /// The JSON names (see [`Reader::json_key`]) of the fields `message`'s `openapiv2_schema`
    /// says are required: it lists proto names (grpc-gateway takes JSON names too); a name no
    /// field has stays as written.
    pub(super) fn required(&mut self, message: &MessageDescriptor) -> Vec<String> {
        let Some(schema) = self.read(
            &message.options(),
            "openapiv2_schema",
            message_site(message),
        ) else {
            return Vec::new();
        };
        let names = schema
            .pointer("/jsonSchema/required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str);
        names
            .map(|name| {
                message
                    .fields()
                    .find(|field| field.name() == name || field.json_name() == name)
                    .map_or_else(|| name.to_owned(), |field| self.json_key(&field))
            })
            .collect()
    }

    /// The JSON names of `message`'s required fields: those its `openapiv2_schema` lists,
    /// then, field by field, a field with `field_behavior = REQUIRED` and the names of a
    /// field's `openapiv2_field` `required` list, each once (a name that is a field's, proto or
    /// JSON, as the JSON has it; another as written).
    pub(super) fn message_required(&mut self, message: &MessageDescriptor) -> Vec<String> {
        let mut required = self.required(message);
        let mut add = |name: String| {
            if !required.contains(&name) {
                required.push(name);
            }
        };
        for field in message.fields() {
            let annotation = self.field(&field);
            if annotation.required {
                add(self.json_key(&field));
            }
            for name in annotation.hoisted {
                let named = message
                    .fields()
                    .find(|field| field.name() == name || field.json_name() == name);
                add(named.map_or(name, |field| self.json_key(&field)));
            }
        }
        required
    }

    /// `openapiv2_tag` of `service`.
    pub(super) fn tag(&mut self, service: &ServiceDescriptor) -> Option<Json> {
        let site = Site {
            file: service.parent_file(),
            path: service.path(),
            options_field: SERVICE_OPTIONS,
            element: format!("service {}", service.full_name()),
            json_types: None,
        };
        self.read(&service.options(), "openapiv2_tag", site)
    }

    /// `openapiv2_operation` of `method`.
    pub(super) fn operation(&mut self, method: &MethodDescriptor) -> Option<Json> {
        let site = Site {
            file: method.parent_file(),
            path: method.path(),
            options_field: METHOD_OPTIONS,
            element: format!("rpc {}", method.full_name()),
            json_types: None,
        };
        self.read(&method.options(), "openapiv2_operation", site)
    }

    /// `openapiv2_swagger` of `files` (one package's), in file order.
    pub(super) fn swagger(&mut self, files: &[FileDescriptor]) -> Vec<Json> {
        let mut swagger = Vec::new();
        for file in files {
            let site = Site {
                file: file.clone(),
                path: &[],
                options_field: FILE_OPTIONS,
                element: format!("file {}", file.name()),
                json_types: None,
            };
            swagger.extend(self.read(&file.options(), "openapiv2_swagger", site));
        }
        swagger
    }

    /// `openapiv2_schema` of the messages `names` names.
    pub(super) fn schemas<'n>(
        &mut self,
        names: impl IntoIterator<Item = &'n String>,
    ) -> BTreeMap<String, Json> {
        let mut schemas = BTreeMap::new();
        let Some(pool) = self.pool.clone() else {
            return schemas;
        };
        for name in names {
            if let Some(message) = pool.get_message_by_name(name)
                && let Some(schema) = self.read(
                    &message.options(),
                    "openapiv2_schema",
                    message_site(&message),
                )
            {
                schemas.insert(name.clone(), schema);
            }
        }
        schemas
    }
}

/// The messages and enums (full names) that the `responses` of an `openapiv2_operation` or
/// `openapiv2_swagger` refer to (`schema { json_schema { ref: ".pkg.Message" } }`), which the
/// document must then have in its components.
pub(super) fn response_refs(annotation: &Json) -> Vec<String> {
    let responses = annotation.get("responses").and_then(Json::as_object);
    responses
        .into_iter()
        .flat_map(|responses| responses.values())
        .filter_map(|response| response.pointer("/schema/jsonSchema/ref")?.as_str())
        .map(|name| name.trim_start_matches('.').to_owned())
        .collect()
}

fn message_site(message: &MessageDescriptor) -> Site<'_> {
    Site {
        file: message.parent_file(),
        path: message.path(),
        options_field: MESSAGE_OPTIONS,
        element: format!("message {}", message.full_name()),
        // A message is an object in proto3 JSON, but for the well-known types' own forms.
        json_types: (message.package_name() != "google.protobuf").then_some(&["OBJECT"][..]),
    }
}

/// The JSON types (JSONSchema's names) a singular field's proto3 JSON can be; `None` for a
/// list, a map or a `google.protobuf.Value`.
fn json_types(field: &FieldDescriptor) -> Option<&'static [&'static str]> {
    if field.is_list() || field.is_map() {
        return None;
    }
    Some(match super::operations::value_of(&field.kind()) {
        Value::Scalar(scalar) => scalar_json_types(scalar),
        Value::Enum(name) => match WellKnown::of(&name) {
            Some(WellKnown::NullValue) => &["NULL"],
            // By name, or by number with `use_enum_numbers`.
            _ => &["STRING", "INTEGER"],
        },
        Value::Message(name) => match WellKnown::of(&name) {
            Some(WellKnown::Timestamp | WellKnown::Duration | WellKnown::FieldMask) => &["STRING"],
            Some(WellKnown::Wrapper(scalar)) => scalar_json_types(scalar),
            Some(WellKnown::ListValue) => &["ARRAY"],
            Some(WellKnown::Value) => return None,
            _ => &["OBJECT"],
        },
    })
}

/// The JSON type of a scalar in proto3 JSON.
fn scalar_json_types(scalar: Scalar) -> &'static [&'static str] {
    match scalar {
        Scalar::Double | Scalar::Float => &["NUMBER"],
        Scalar::Int32 | Scalar::Uint32 => &["INTEGER"],
        // 64-bit integers are strings in proto3 JSON.
        Scalar::Int64 | Scalar::Uint64 | Scalar::String | Scalar::Bytes => &["STRING"],
        Scalar::Bool => &["BOOLEAN"],
    }
}

/// What of annotation `name` OpenAPI 3.1 or the gateway has no place for, which the document
/// leaves out, each said in a sentence for a warning: the media types an operation consumes
/// or produces (the gateway's are JSON and binary protobuf, negotiated per request), a
/// security scheme without what OpenAPI 3.1 requires of it, and a JSON `type` the element's
/// proto3 JSON is not (`json_types`).
fn left_out(name: &str, annotation: &Json, json_types: Option<&[&str]>) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["consumes", "produces"] {
        if annotation
            .get(key)
            .and_then(Json::as_array)
            .is_some_and(|types| !types.is_empty())
        {
            problems.push(format!(
                "{name}: `{key}` is left out of the OpenAPI document: the gateway reads and writes proto3 JSON (and binary protobuf), as the document says"
            ));
        }
    }
    let schemes = annotation
        .pointer("/securityDefinitions/security")
        .and_then(Json::as_object);
    for (scheme_name, scheme) in schemes.into_iter().flatten() {
        let flow = scheme.get("flow").and_then(Json::as_str);
        let missing = match scheme.get("type").and_then(Json::as_str) {
            Some("TYPE_BASIC") => None,
            Some("TYPE_API_KEY") if scheme.get("name").is_none() => Some("`name`"),
            Some("TYPE_API_KEY") => None,
            Some("TYPE_OAUTH2")
                if !matches!(
                    flow,
                    Some(
                        "FLOW_IMPLICIT" | "FLOW_PASSWORD" | "FLOW_APPLICATION" | "FLOW_ACCESS_CODE"
                    )
                ) =>
            {
                Some("`flow`")
            }
            Some("TYPE_OAUTH2") => None,
            _ => Some("`type`"),
        };
        if let Some(missing) = missing {
            problems.push(format!(
                "{name}: the security scheme \"{scheme_name}\" has no {missing}, which OpenAPI 3.1 requires; it is left out of the OpenAPI document"
            ));
        }
    }
    let declared = annotation
        .get("type")
        .or_else(|| annotation.pointer("/jsonSchema/type"))
        .and_then(Json::as_array);
    if let (Some(declared), Some(json_types)) = (declared, json_types) {
        let declared: Vec<&str> = declared
            .iter()
            .filter_map(Json::as_str)
            .filter(|kind| *kind != "UNKNOWN")
            .collect();
        if declared.iter().any(|kind| !json_types.contains(kind)) {
            problems.push(format!(
                "{name}: the type {} is left out of the OpenAPI document: the gateway writes this as proto3 JSON, where it is {}",
                declared.join(", "),
                json_types.join(" or ")
            ));
        }
    }
    problems
}

/// Takes the keys that do not start with `x-` out of every `extensions` map in `annotation`
/// (not looking into the extensions' own values, which are any JSON), into `refused`.
fn check_extensions(annotation: &mut Json, refused: &mut Vec<String>) {
    match annotation {
        Json::Object(object) => {
            for (key, value) in object.iter_mut() {
                match (key.as_str(), value) {
                    ("extensions", Json::Object(extensions)) => {
                        let bad: Vec<String> = extensions
                            .keys()
                            .filter(|key| !key.starts_with("x-"))
                            .cloned()
                            .collect();
                        for key in bad {
                            extensions.remove(&key);
                            refused.push(key);
                        }
                    }
                    (_, value) => check_extensions(value, refused),
                }
            }
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|item| check_extensions(item, refused)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn extension_keys_must_start_with_x() {
        let mut annotation = json!({
            "extensions": { "x-a": 1, "b": 2 },
            "info": { "extensions": { "c": { "extensions": { "d": 3 } } } },
            "tags": [{ "extensions": { "x-e": { "extensions": { "f": 4 } } } }],
        });
        let mut refused = Vec::new();
        check_extensions(&mut annotation, &mut refused);
        assert_eq!(refused, ["b", "c"]);
        // An extension's value is any JSON: an `extensions` member in it is only data.
        assert_eq!(
            annotation,
            json!({
                "extensions": { "x-a": 1 },
                "info": { "extensions": {} },
                "tags": [{ "extensions": { "x-e": { "extensions": { "f": 4 } } } }],
            })
        );
    }
}
