//! What the OpenAPI document of a package needs, resolved from the descriptors: one operation
//! per http binding, with its OpenAPI path and parameters, and every message and enum the
//! operations reach, with the proto comments as descriptions.
//!
//! Built only when the `openapi` artifact is on, from bindings `model::http` has validated,
//! so nothing here fails: what cannot be described is left out, and the document says so. The
//! emitter (`emit::openapi`) only formats this.

mod annotations;
mod collisions;
mod describe;
mod operations;
mod paths;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost_reflect::FileDescriptor;
use serde_json::Value as Json;

use super::Service;
use crate::comments::SourceInfos;
use crate::error::Warning;
pub use annotations::{Annotations, FieldAnnotation};
use collisions::{Candidate, distinct_paths};
use describe::Comments;
use operations::{Builder, Identity};

/// The OpenAPI document of one package. Non-exhaustive: what the document carries grows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenApi {
    /// `inventory.v1`; empty without a package.
    pub package: String,
    /// The comments on the `package` (or `syntax`) statements of the package's files.
    pub description: Option<String>,
    /// One per service with http rules, in file then declaration order.
    pub tags: Vec<Tag>,
    /// One per binding OpenAPI can express, in declaration order.
    pub operations: Vec<Operation>,
    /// Bindings the document cannot list: custom methods, then bindings whose path another
    /// operation has, each in declaration order.
    pub unlisted: Vec<Unlisted>,
    /// Every message and enum the operations reach, by full proto name.
    pub schemas: BTreeMap<String, Schema>,
    /// grpc-gateway's OpenAPI annotations of the package, to carry into the document.
    pub annotations: Annotations,
    /// How the document names its schemas (`openapi_naming_strategy`).
    pub naming: crate::params::SchemaNaming,
    /// Every message and enum of the request, by full name, when `naming` tells names apart
    /// among them (empty for the full names).
    pub naming_universe: Vec<String>,
}

/// A binding left out of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unlisted {
    /// The HTTP method, e.g. `SEARCH`.
    pub method: String,
    /// The path template, as written.
    pub template: String,
    /// The rpc's full name.
    pub rpc: String,
    /// Why.
    pub reason: UnlistedReason,
}

/// Why a binding is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnlistedReason {
    /// A custom HTTP method: OpenAPI 3.1 has operations for the eight standard ones only.
    CustomMethod,
    /// Its OpenAPI path and method are those of the operation with this id: the templates
    /// differ only where OpenAPI cannot tell them apart (`*` and `**`).
    SameAs(String),
}

/// A service, as the tag of its operations.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tag {
    /// The service's proto name, unique in its package, or the name its `openapiv2_tag` gives.
    pub name: String,
    /// Its comment.
    pub description: Option<String>,
}

/// One http binding of an rpc.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Operation {
    /// `get`, `put`, `post`, `delete`, `patch`, `head`, `options` or `trace`.
    pub method: String,
    /// The OpenAPI path, e.g. `/v1/{name}:publish`.
    pub path: String,
    /// `InventoryService_CheckStock`, or the id `openapiv2_operation` gives; additional
    /// bindings add `_2`, `_3`…
    pub operation_id: String,
    /// The service's [`Tag`] name.
    pub tag: String,
    /// The rpc's full name.
    pub rpc: String,
    /// The rpc's comment.
    pub description: Option<String>,
    /// `option deprecated = true` on the rpc or its service.
    pub deprecated: bool,
    /// In path order.
    pub path_params: Vec<PathParam>,
    /// The request fields neither in the path nor in the body, in field order, nested ones
    /// depth first; none when the body is `*`.
    pub query_params: Vec<QueryParam>,
    /// The request body, if the binding has one.
    pub body: Option<Body>,
    /// The successful response.
    pub response: Response,
}

/// A path parameter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PathParam {
    /// The name in the path.
    pub name: String,
    /// The dotted JSON path of the field it binds (`order.orderId`); `None` for a wildcard
    /// bound to no field.
    pub field: Option<String>,
    /// What its value is.
    pub value: PathValue,
    /// The bound field's comment.
    pub description: Option<String>,
    /// The bound field's annotations.
    pub annotation: FieldAnnotation,
}

/// The value of a path parameter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PathValue {
    /// The field's whole value, one segment: a scalar or an enum.
    Field(Value),
    /// A repeated field's values, comma-separated in one segment (grpc-gateway's reading).
    List(Value),
    /// The field's whole value, spanning the segments of `template` (`shelves/*/books/*`): a
    /// string matching `pattern`.
    Spanning { template: String, pattern: String },
    /// One segment (any number of them when `multi`) of the field's value, which is `of`
    /// (`shelves/{shelvesId}/books/{booksId}`).
    Segment { of: String, multi: bool },
    /// A wildcard bound to no field: any segment (any number of them when `multi`).
    Unbound { multi: bool },
}

/// A query parameter: one request field, named by its dotted JSON path.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryParam {
    /// `order.customerId`.
    pub name: String,
    /// A scalar, enum or string-valued well-known type; a list of them (repeated keys); or a
    /// map of them (`name[key]=value`).
    pub field: FieldType,
    /// The field's comment.
    pub description: Option<String>,
    /// `[deprecated = true]` on the field.
    pub deprecated: bool,
    /// Annotated as required: on the field (`google.api.field_behavior = REQUIRED`, or
    /// `openapiv2_field`'s `required`) or on its message (`openapiv2_schema`'s).
    pub required: bool,
    /// The field's annotations.
    pub annotation: FieldAnnotation,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Body {
    /// The JSON name of the body field; `None` for the whole request (`body: "*"`).
    pub field: Option<String>,
    /// What the body holds.
    pub value: FieldType,
    /// A client stream: newline-delimited JSON, one request per line.
    pub stream: bool,
    /// The body field's comment.
    pub description: Option<String>,
    /// A `google.api.HttpBody`: raw bytes of any type, not JSON.
    pub raw: bool,
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response {
    /// The response message's full name.
    pub message: String,
    /// The JSON name of `response_body`, if only that field is sent.
    pub field: Option<String>,
    /// What the body holds.
    pub value: FieldType,
    /// A server stream.
    pub stream: bool,
    /// A `google.api.HttpBody`: raw bytes with their own content type, not JSON.
    pub raw: bool,
}

/// The shape of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// One value.
    Single(Value),
    /// `repeated`.
    List(Value),
    /// `map<key, value>`: a JSON object whose keys are the keys in text.
    Map(Scalar, Value),
}

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// A scalar.
    Scalar(Scalar),
    /// An enum, by full name.
    Enum(String),
    /// A message, by full name; well-known types included.
    Message(String),
}

/// The proto3 JSON forms of the scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scalar {
    /// `double`.
    Double,
    /// `float`.
    Float,
    /// `int32`, `sint32`, `sfixed32`.
    Int32,
    /// `uint32`, `fixed32`.
    Uint32,
    /// `int64`, `sint64`, `sfixed64`: a string in JSON.
    Int64,
    /// `uint64`, `fixed64`: a string in JSON.
    Uint64,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `bytes`: base64.
    Bytes,
}

/// A schema of `components/schemas`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Schema {
    /// A message of the user's.
    Message(MessageSchema),
    /// An enum.
    Enum(EnumSchema),
    /// A `google.protobuf` type with a JSON form of its own.
    WellKnown(WellKnown),
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageSchema {
    /// Its comment.
    pub description: Option<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// In declaration order.
    pub fields: Vec<FieldSchema>,
    /// The JSON names of the fields annotated as required: those the message's
    /// `openapiv2_schema` lists, then those annotated on the field, each once.
    pub required: Vec<String>,
}

/// A field of a message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FieldSchema {
    /// Its proto3 JSON name.
    pub json_name: String,
    /// Its type.
    pub field: FieldType,
    /// Its comment.
    pub description: Option<String>,
    /// `[deprecated = true]`.
    pub deprecated: bool,
    /// The oneof it belongs to (not proto3 `optional`'s synthetic one).
    pub oneof: Option<String>,
    /// Its annotations.
    pub annotation: FieldAnnotation,
}

/// An enum.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EnumSchema {
    /// Its comment.
    pub description: Option<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// `(name, number, comment)`, in declaration order.
    pub values: Vec<(String, i32, Option<String>)>,
    /// `openapiv2_enum`, as proto3 JSON.
    pub annotation: Option<Json>,
}

/// A well-known type, whose JSON is not its fields'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WellKnown {
    /// RFC 3339 string.
    Timestamp,
    /// `"1.5s"`.
    Duration,
    /// Comma-separated lowerCamelCase paths.
    FieldMask,
    /// Any JSON object.
    Struct,
    /// Any JSON value.
    Value,
    /// Any JSON array.
    ListValue,
    /// An object with `@type`.
    Any,
    /// `{}`.
    Empty,
    /// `null`.
    NullValue,
    /// The wrapped scalar, or `null`.
    Wrapper(Scalar),
}

impl WellKnown {
    /// The well-known type of a full name, if it is one.
    pub fn of(full_name: &str) -> Option<Self> {
        let name = full_name.strip_prefix("google.protobuf.")?;
        Some(match name {
            "Timestamp" => Self::Timestamp,
            "Duration" => Self::Duration,
            "FieldMask" => Self::FieldMask,
            "Struct" => Self::Struct,
            "Value" => Self::Value,
            "ListValue" => Self::ListValue,
            "Any" => Self::Any,
            "Empty" => Self::Empty,
            "NullValue" => Self::NullValue,
            "DoubleValue" => Self::Wrapper(Scalar::Double),
            "FloatValue" => Self::Wrapper(Scalar::Float),
            "Int64Value" => Self::Wrapper(Scalar::Int64),
            "UInt64Value" => Self::Wrapper(Scalar::Uint64),
            "Int32Value" => Self::Wrapper(Scalar::Int32),
            "UInt32Value" => Self::Wrapper(Scalar::Uint32),
            "BoolValue" => Self::Wrapper(Scalar::Bool),
            "StringValue" => Self::Wrapper(Scalar::String),
            "BytesValue" => Self::Wrapper(Scalar::Bytes),
            _ => return None,
        })
    }

    /// Whether a query parameter or path segment can carry it: its JSON is one string or
    /// scalar.
    fn is_textual(self) -> bool {
        matches!(
            self,
            Self::Timestamp | Self::Duration | Self::FieldMask | Self::Wrapper(_)
        )
    }
}

/// The name under which the error model is in `components/schemas`.
pub const STATUS: &str = "google.rpc.Status";
/// The name of `google.protobuf.Any`, which the error model's details are.
pub const ANY: &str = "google.protobuf.Any";

/// HTTP methods OpenAPI 3.1 has an operation field for.
const OPENAPI_METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
];

// Field numbers in descriptor.proto, for the comments of `package` and `syntax`.
const FILE_PACKAGE: i32 = 2;
const FILE_SYNTAX: i32 = 12;

/// The document of a package, or `None` when none of its services has an http rule; what is
/// wrong in its annotations goes to `warnings`.
pub(super) fn build(
    sources: &SourceInfos,
    package: &str,
    files: &[FileDescriptor],
    services: &[Service],
    (proto_names, naming): (bool, crate::params::SchemaNaming),
    warnings: &mut Vec<Warning>,
) -> Option<OpenApi> {
    let mut builder = Builder {
        comments: Comments::new(sources),
        schemas: BTreeMap::new(),
        claimed: BTreeSet::new(),
        queue: VecDeque::new(),
        annotations: annotations::Reader::new(sources, files, proto_names),
    };
    let mut tags = Vec::new();
    let mut tag_annotations = BTreeMap::new();
    let mut operation_annotations = BTreeMap::new();
    let mut operations = Vec::new();
    let mut unlisted = Vec::new();
    let descriptors = files.iter().flat_map(|file| file.services());
    for descriptor in descriptors {
        let Some(service) = services
            .iter()
            .find(|s| s.full_name == descriptor.full_name())
        else {
            continue;
        };
        if service.methods.iter().all(|method| method.http.is_empty()) {
            continue;
        }
        // `openapiv2_tag`'s name renames the service's tag.
        let annotation = builder.annotations.tag(&descriptor);
        let tag = annotation
            .as_ref()
            .and_then(|annotation| annotation.get("name"))
            .and_then(Json::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(&service.proto_name)
            .to_owned();
        if tags.iter().all(|known: &Tag| known.name != tag) {
            tags.push(Tag {
                name: tag.clone(),
                description: builder
                    .comments
                    .of(&descriptor.parent_file(), descriptor.path()),
            });
        }
        if let Some(annotation) = annotation {
            tag_annotations.insert(tag.clone(), annotation);
        }
        for (method, rpc) in service.methods.iter().zip(descriptor.methods()) {
            let annotation = builder.annotations.operation(&rpc);
            // `openapiv2_operation`'s id replaces ours; additional bindings number it alike.
            let base = annotation
                .as_ref()
                .and_then(|annotation| annotation.get("operationId"))
                .and_then(Json::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(
                    || format!("{}_{}", service.proto_name, method.proto_name),
                    str::to_owned,
                );
            if let Some(annotation) = annotation {
                operation_annotations.insert(method.full_name.clone(), annotation);
            }
            for (index, binding) in method.http.iter().enumerate() {
                if !OPENAPI_METHODS.contains(&binding.method.as_str()) {
                    unlisted.push(Unlisted {
                        method: binding.method.clone(),
                        template: binding.path.clone(),
                        rpc: method.full_name.clone(),
                        reason: UnlistedReason::CustomMethod,
                    });
                    continue;
                }
                // The second binding is `Service_Method2`, as protoc-gen-openapiv2 numbers
                // them (an annotated id is numbered alike, where it would repeat it).
                let operation_id = match index {
                    0 => base.clone(),
                    _ => format!("{base}{}", index + 1),
                };
                let identity = Identity {
                    id: operation_id,
                    tag: tag.clone(),
                    deprecated: method.deprecated || service.deprecated,
                };
                if let Some(operation) =
                    builder.operation(&rpc, binding, method.streaming, identity)
                {
                    operations.push(operation);
                }
            }
        }
    }
    if tags.is_empty() {
        return None;
    }
    let operations = distinct_paths(operations, &mut unlisted);
    let description = package_description(&builder.comments, files);
    builder.reach(&Value::Message(STATUS.to_owned()));
    builder.reach(&Value::Message(ANY.to_owned()));
    let swagger = builder.annotations.swagger(files);
    // The messages and enums annotated responses refer to are described too.
    let referred = swagger
        .iter()
        .chain(operation_annotations.values())
        .flat_map(annotations::response_refs);
    if let Some(pool) = files.first().map(FileDescriptor::parent_pool) {
        for name in referred {
            if pool.get_message_by_name(&name).is_some() {
                builder.reach(&Value::Message(name));
            } else if pool.get_enum_by_name(&name).is_some() {
                builder.reach(&Value::Enum(name));
            }
        }
    }
    builder.walk(files);
    let annotations = Annotations {
        schemas: builder.annotations.schemas(builder.schemas.keys()),
        swagger,
        tags: tag_annotations,
        operations: operation_annotations,
    };
    warnings.append(&mut builder.annotations.warnings);
    Some(OpenApi {
        package: package.to_owned(),
        description,
        tags,
        operations,
        unlisted,
        schemas: builder.schemas,
        annotations,
        naming,
        naming_universe: match (naming, files.first()) {
            (crate::params::SchemaNaming::Fqn, _) | (_, None) => Vec::new(),
            (_, Some(file)) => {
                let pool = file.parent_pool();
                pool.all_messages()
                    .filter(|message| !message.is_map_entry())
                    .map(|message| message.full_name().to_owned())
                    .chain(pool.all_enums().map(|e| e.full_name().to_owned()))
                    .collect()
            }
        },
    })
}

fn package_description(comments: &Comments<'_>, files: &[FileDescriptor]) -> Option<String> {
    let mut seen = BTreeSet::new();
    let texts: Vec<String> = files
        .iter()
        .filter_map(|file| {
            comments
                .of(file, &[FILE_PACKAGE])
                .or_else(|| comments.of(file, &[FILE_SYNTAX]))
        })
        .filter(|text| seen.insert(text.clone()))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_types_are_recognised_by_full_name() {
        assert_eq!(
            WellKnown::of("google.protobuf.Timestamp"),
            Some(WellKnown::Timestamp)
        );
        assert_eq!(
            WellKnown::of("google.protobuf.UInt64Value"),
            Some(WellKnown::Wrapper(Scalar::Uint64))
        );
        assert_eq!(WellKnown::of("google.protobuf.DescriptorProto"), None);
        assert_eq!(WellKnown::of("acme.Timestamp"), None);
        assert!(WellKnown::Duration.is_textual());
        assert!(!WellKnown::Struct.is_textual());
    }
}
