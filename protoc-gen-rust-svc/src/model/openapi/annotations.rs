//! grpc-gateway's OpenAPI annotations (`grpc.gateway.protoc_gen_openapiv2.options`), which teams
//! moving from grpc-gateway already have in their protos: `openapiv2_swagger` on a file,
//! `openapiv2_tag` on a service, `openapiv2_operation` on a method, `openapiv2_schema` on a
//! message and `openapiv2_field` on a field. Each is read, when its extension is in the
//! request (the proto imports `protoc-gen-openapiv2/options/annotations.proto`), as the proto3
//! JSON of its message; the `openapi` emitter carries what OpenAPI 3.1 has a place for into the
//! document. Annotations of other kinds, and fields of these that OpenAPI 3.1 has no place
//! for, are ignored without an error. `google.api.field_behavior` is read too, as
//! grpc-gateway reads it: `REQUIRED`, `OUTPUT_ONLY` and `INPUT_ONLY`.

use std::collections::BTreeMap;

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, FileDescriptor, MessageDescriptor,
    Value as Reflected,
};
use serde_json::Value as Json;

/// The annotations of one package's document, as proto3 JSON objects. Those of fields are on
/// the fields' parameters and schemas ([`FieldAnnotation`]).
#[derive(Debug, Clone, Default, PartialEq)]
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
pub struct FieldAnnotation {
    /// `openapiv2_field`, as proto3 JSON.
    pub schema: Option<Json>,
    /// `google.api.field_behavior = REQUIRED`, or an `openapiv2_field` with a `required` list:
    /// the field is in its message's `required`.
    pub required: bool,
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
pub(super) struct Reader {
    /// The request's pool.
    pool: Option<DescriptorPool>,
}

impl Reader {
    pub(super) fn new(files: &[FileDescriptor]) -> Self {
        let pool = files.first().map(FileDescriptor::parent_pool).cloned();
        Self { pool }
    }

    /// The extension `name` of an options message, if it is set.
    fn extension(&self, options: &DynamicMessage, name: &str) -> Option<Reflected> {
        let extension = self.pool.as_ref()?.get_extension_by_name(name)?;
        options
            .has_extension(&extension)
            .then(|| options.get_extension(&extension).into_owned())
    }

    /// The annotation `name` (`openapiv2_operation`…) of an options message, as proto3 JSON.
    fn read(&self, options: &DynamicMessage, name: &str) -> Option<Json> {
        match self.extension(options, &format!("{PACKAGE}{name}"))? {
            Reflected::Message(message) => serde_json::to_value(&message).ok(),
            _ => None,
        }
    }

    /// What the annotations of `field` say.
    pub(super) fn field(&self, field: &FieldDescriptor) -> FieldAnnotation {
        let options = field.options();
        let schema = self.read(&options, "openapiv2_field");
        let behaviors: Vec<i32> = match self.extension(&options, "google.api.field_behavior") {
            Some(Reflected::List(values)) => values
                .iter()
                .filter_map(Reflected::as_enum_number)
                .collect(),
            _ => Vec::new(),
        };
        // grpc-gateway adds the field's `required` list to its message's: a list there
        // names the field itself.
        let listed = schema
            .as_ref()
            .and_then(|schema| schema.get("required"))
            .and_then(Json::as_array)
            .is_some_and(|names| !names.is_empty());
        FieldAnnotation {
            schema,
            required: listed || behaviors.contains(&REQUIRED),
            output_only: behaviors.contains(&OUTPUT_ONLY),
            input_only: behaviors.contains(&INPUT_ONLY),
        }
    }

    /// The JSON names of the fields `message`'s `openapiv2_schema` says are required: it lists
    /// proto names (grpc-gateway takes JSON names too); a name no field has stays as written.
    pub(super) fn required(&self, message: &MessageDescriptor) -> Vec<String> {
        let Some(schema) = self.read(&message.options(), "openapiv2_schema") else {
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
                    .map_or_else(|| name.to_owned(), |field| field.json_name().to_owned())
            })
            .collect()
    }

    /// The annotations of `files` (one package's), for the services `tags` names (service
    /// full name, tag) and the messages `schemas` names.
    pub(super) fn collect<'a>(
        &self,
        files: &[FileDescriptor],
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        schemas: impl IntoIterator<Item = &'a String>,
    ) -> Annotations {
        let mut annotations = Annotations::default();
        let Some(pool) = &self.pool else {
            return annotations;
        };
        for file in files {
            annotations
                .swagger
                .extend(self.read(&file.options(), "openapiv2_swagger"));
            for service in file.services() {
                for method in service.methods() {
                    if let Some(operation) = self.read(&method.options(), "openapiv2_operation") {
                        annotations
                            .operations
                            .insert(method.full_name().to_owned(), operation);
                    }
                }
            }
        }
        for (service, tag) in tags {
            if let Some(descriptor) = pool.get_service_by_name(service)
                && let Some(annotation) = self.read(&descriptor.options(), "openapiv2_tag")
            {
                annotations.tags.insert(tag.to_owned(), annotation);
            }
        }
        for name in schemas {
            if let Some(message) = pool.get_message_by_name(name)
                && let Some(schema) = self.read(&message.options(), "openapiv2_schema")
            {
                annotations.schemas.insert(name.clone(), schema);
            }
        }
        annotations
    }
}
