//! Collecting what the document needs: operations from bindings, and the schemas of every
//! message and enum they reach.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, MethodDescriptor};

use super::annotations::Reader;
use super::describe::Comments;
use super::paths::{self, Form, ParamKind};
use super::*;
use crate::model::{HttpBinding, Streaming};

/// `EnumDescriptorProto.value`, for source locations.
const ENUM_VALUE: i32 = 2;

/// Names an operation gets from its rpc and service.
pub(super) struct Identity {
    pub id: String,
    pub tag: String,
    pub deprecated: bool,
}

pub(super) struct Builder<'a> {
    pub comments: Comments<'a>,
    pub schemas: BTreeMap<String, Schema>,
    /// Messages and enums reached.
    pub claimed: BTreeSet<String>,
    /// Those of them not yet described.
    pub queue: VecDeque<String>,
    pub annotations: Reader<'a>,
}

impl Builder<'_> {
    pub(super) fn operation(
        &mut self,
        rpc: &MethodDescriptor,
        binding: &HttpBinding,
        streaming: Streaming,
        identity: Identity,
    ) -> Option<Candidate> {
        let input = rpc.input();
        let output = rpc.output();
        let template = &binding.template;
        let fields: Vec<FieldDescriptor> = template
            .variables()
            .iter()
            .map(|variable| field_at(&input, variable.field_path()))
            .collect::<Option<_>>()?;
        let names: Vec<String> = fields
            .iter()
            .zip(template.variables())
            .map(|(field, variable)| json_path(&input, variable.field_path(), field))
            .collect();
        // A parameter is named by its field's JSON path, or by the name its `openapiv2_field`
        // gives it (`field_configuration.path_param_name`, as grpc-gateway names it); the
        // route is the same either way.
        let param_names: Vec<String> = fields
            .iter()
            .zip(&names)
            .map(|(field, name)| {
                self.annotations
                    .field(field)
                    .schema
                    .as_ref()
                    .and_then(|schema| schema.pointer("/fieldConfiguration/pathParamName"))
                    .and_then(serde_json::Value::as_str)
                    .filter(|renamed| !renamed.is_empty())
                    .map_or_else(|| name.clone(), str::to_owned)
            })
            .collect();
        let converted = paths::convert(template, &param_names, Form::Compact);
        let path_params = self.path_params(converted.params, &fields, &names);
        let expanded = paths::convert(template, &param_names, Form::Expanded);
        let expanded = (
            expanded.path,
            self.path_params(expanded.params, &fields, &names),
        );

        let mut excluded: Vec<&str> = binding.variables.iter().map(String::as_str).collect();
        let body = match binding.body.as_str() {
            "" => None,
            "*" => Some(Body {
                field: None,
                value: FieldType::Single(Value::Message(input.full_name().to_owned())),
                stream: streaming.client_streaming(),
                description: None,
                raw: binding.request_http_body,
            }),
            name => {
                excluded.push(name);
                let path: Vec<String> = name.split('.').map(str::to_owned).collect();
                let field = field_at(&input, &path)?;
                Some(Body {
                    field: Some(json_path(&input, &path, &field)),
                    value: field_type(&field),
                    stream: streaming.client_streaming(),
                    description: self.comments.of(&field.parent_file(), field.path()),
                    raw: binding.request_http_body,
                })
            }
        };
        let mut query_params = Vec::new();
        if binding.body != "*" {
            let mut visiting = vec![input.full_name().to_owned()];
            self.query_params(&input, "", "", &excluded, &mut visiting, &mut query_params);
        }
        if let Some(body) = &body {
            self.reach_field(&body.value);
        }
        let response = match binding.response_body.as_str() {
            "" => Response {
                message: output.full_name().to_owned(),
                field: None,
                value: FieldType::Single(Value::Message(output.full_name().to_owned())),
                stream: streaming.server_streaming(),
                raw: binding.response_http_body,
            },
            name => {
                let path: Vec<String> = name.split('.').map(str::to_owned).collect();
                let field = field_at(&output, &path)?;
                Response {
                    message: output.full_name().to_owned(),
                    field: Some(json_path(&output, &path, &field)),
                    value: field_type(&field),
                    stream: streaming.server_streaming(),
                    raw: binding.response_http_body,
                }
            }
        };
        self.reach_field(&response.value);
        let operation = Operation {
            method: binding.method.to_ascii_lowercase(),
            path: converted.path,
            operation_id: identity.id,
            tag: identity.tag,
            rpc: rpc.full_name().to_owned(),
            description: self.comments.of(&rpc.parent_file(), rpc.path()),
            deprecated: identity.deprecated,
            path_params,
            query_params,
            body,
            response,
        };
        Some(Candidate {
            operation,
            expanded,
            template: binding.path.clone(),
        })
    }

    fn path_params(
        &mut self,
        params: Vec<paths::Param>,
        fields: &[FieldDescriptor],
        names: &[String],
    ) -> Vec<PathParam> {
        params
            .into_iter()
            .map(|param| {
                let field = param.variable.and_then(|at| fields.get(at));
                let value = match (param.kind, field) {
                    // [`super::http`] lets path variables bind singular fields, and repeated
                    // scalars (comma-separated values).
                    (ParamKind::Whole, Some(field)) => match field_type(field) {
                        FieldType::Single(value) => {
                            self.reach(&value);
                            PathValue::Field(value)
                        }
                        FieldType::List(value) => {
                            self.reach(&value);
                            PathValue::List(value)
                        }
                        FieldType::Map(..) => PathValue::Unbound { multi: false },
                    },
                    (ParamKind::Whole, None) => PathValue::Unbound { multi: false },
                    (ParamKind::Spanning { template, pattern }, _) => {
                        PathValue::Spanning { template, pattern }
                    }
                    (ParamKind::Segment { of, multi }, _) => PathValue::Segment { of, multi },
                    (ParamKind::Unbound { multi }, _) => PathValue::Unbound { multi },
                };
                PathParam {
                    name: param.name,
                    field: param.variable.and_then(|at| names.get(at).cloned()),
                    value,
                    description: field
                        .and_then(|field| self.comments.of(&field.parent_file(), field.path())),
                    annotation: field
                        .map(|field| self.annotations.field(field))
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The query parameters of `message`'s fields under `prefix` (proto and JSON forms): every
    /// field not `excluded` (bound by the path, or the body field) whose value a query string
    /// can carry, and the fields of singular message fields, nested, but never into a message
    /// already being walked (a recursive message would never end).
    fn query_params(
        &mut self,
        message: &MessageDescriptor,
        proto_prefix: &str,
        json_prefix: &str,
        excluded: &[&str],
        visiting: &mut Vec<String>,
        out: &mut Vec<QueryParam>,
    ) {
        let required = self.annotations.message_required(message);
        for field in message.fields() {
            let proto_path = format!("{proto_prefix}{}", field.name());
            if excluded.contains(&proto_path.as_str()) {
                continue;
            }
            let json_path = format!("{json_prefix}{}", field.json_name());
            let shape = field_type(&field);
            let textual = |value: &Value| match value {
                Value::Scalar(_) | Value::Enum(_) => true,
                Value::Message(name) => WellKnown::of(name).is_some_and(WellKnown::is_textual),
            };
            let carried = match &shape {
                FieldType::Single(value) | FieldType::List(value) => textual(value),
                FieldType::Map(_, value) => matches!(value, Value::Scalar(_) | Value::Enum(_)),
            };
            if carried {
                // A wrapper is written as its scalar in a query: no schema of its own.
                let wrapper = matches!(&shape, FieldType::Single(Value::Message(name)) | FieldType::List(Value::Message(name))
                    if matches!(WellKnown::of(name), Some(WellKnown::Wrapper(_))));
                if !wrapper {
                    self.reach_field(&shape);
                }
                let annotation = self.annotations.field(&field);
                out.push(QueryParam {
                    required: required
                        .iter()
                        .any(|name| *name == self.annotations.json_key(&field)),
                    name: json_path,
                    field: shape,
                    description: self.comments.of(&field.parent_file(), field.path()),
                    deprecated: field_deprecated(&field),
                    annotation,
                });
                continue;
            }
            let FieldType::Single(Value::Message(name)) = &shape else {
                continue;
            };
            let Kind::Message(inner) = field.kind() else {
                continue;
            };
            if WellKnown::of(name).is_some() || visiting.contains(name) {
                continue;
            }
            visiting.push(name.clone());
            let proto_prefix = format!("{proto_path}.");
            let json_prefix = format!("{json_path}.");
            self.query_params(&inner, &proto_prefix, &json_prefix, excluded, visiting, out);
            visiting.pop();
        }
    }

    fn reach_field(&mut self, field: &FieldType) {
        match field {
            FieldType::Single(value) | FieldType::List(value) | FieldType::Map(_, value) => {
                self.reach(value);
            }
        }
    }

    /// Claims a message or enum for `components/schemas`.
    pub(super) fn reach(&mut self, value: &Value) {
        if let Value::Enum(name) | Value::Message(name) = value
            && self.claimed.insert(name.clone())
        {
            self.queue.push_back(name.clone());
        }
    }

    /// Describes everything reached, and what that reaches.
    pub(super) fn walk(&mut self, files: &[FileDescriptor]) {
        let Some(pool) = files.first().map(FileDescriptor::parent_pool) else {
            return;
        };
        while let Some(name) = self.queue.pop_front() {
            if let Some(known) = WellKnown::of(&name) {
                self.schemas.insert(name, Schema::WellKnown(known));
            } else if let Some(message) = pool.get_message_by_name(&name) {
                let schema = self.message(&message);
                self.schemas.insert(name, Schema::Message(schema));
            } else if let Some(enumeration) = pool.get_enum_by_name(&name) {
                let file = enumeration.parent_file();
                // In declaration order, which prost-reflect's `values()` does not keep for
                // aliases.
                let values = enumeration
                    .enum_descriptor_proto()
                    .value
                    .iter()
                    .enumerate()
                    .map(|(index, value)| {
                        let mut path = enumeration.path().to_vec();
                        path.extend([ENUM_VALUE, index as i32]);
                        let description = self.comments.of(&file, &path);
                        (value.name().to_owned(), value.number(), description)
                    })
                    .collect();
                let schema = EnumSchema {
                    description: self.comments.of(&file, enumeration.path()),
                    deprecated: enumeration
                        .enum_descriptor_proto()
                        .options
                        .as_ref()
                        .is_some_and(|options| options.deprecated()),
                    values,
                    annotation: self.annotations.enumeration(&enumeration),
                };
                self.schemas.insert(name, Schema::Enum(schema));
            }
            // Anything else is `google.rpc.Status` outside the request's descriptors: the
            // emitter writes the error model itself then.
        }
    }

    fn message(&mut self, message: &MessageDescriptor) -> MessageSchema {
        let file = message.parent_file();
        let fields = message
            .fields()
            .map(|field| {
                let shape = field_type(&field);
                self.reach_field(&shape);
                FieldSchema {
                    json_name: self.annotations.json_key(&field),
                    field: shape,
                    description: self.comments.of(&file, field.path()),
                    deprecated: field_deprecated(&field),
                    oneof: field
                        .containing_oneof()
                        .filter(|oneof| !oneof.is_synthetic())
                        .map(|oneof| oneof.name().to_owned()),
                    annotation: self.annotations.field(&field),
                }
            })
            .collect::<Vec<FieldSchema>>();
        let required = self.annotations.message_required(message);
        MessageSchema {
            description: self.comments.of(&file, message.path()),
            deprecated: message
                .descriptor_proto()
                .options
                .as_ref()
                .is_some_and(|options| options.deprecated()),
            fields,
            required,
        }
    }
}

fn field_deprecated(field: &FieldDescriptor) -> bool {
    field
        .field_descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|options| options.deprecated())
}

/// The field at a dotted path of proto names.
fn field_at(message: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (last, steps) = path.split_last()?;
    let mut message = message.clone();
    for step in steps {
        match message.get_field_by_name(step)?.kind() {
            Kind::Message(inner) => message = inner,
            _ => return None,
        }
    }
    message.get_field_by_name(last)
}

/// The dotted JSON path of a field path: `order.order_id` is `order.orderId`.
fn json_path(message: &MessageDescriptor, path: &[String], last: &FieldDescriptor) -> String {
    let mut message = message.clone();
    let mut names = Vec::new();
    for step in &path[..path.len().saturating_sub(1)] {
        let Some(field) = message.get_field_by_name(step) else {
            break;
        };
        names.push(field.json_name().to_owned());
        if let Kind::Message(inner) = field.kind() {
            message = inner;
        }
    }
    names.push(last.json_name().to_owned());
    names.join(".")
}

/// The shape and value type of a field.
pub(super) fn field_type(field: &FieldDescriptor) -> FieldType {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
        && let (Some(key), Some(value)) = (
            entry.get_field_by_name("key"),
            entry.get_field_by_name("value"),
        )
    {
        let key = match value_of(&key.kind()) {
            Value::Scalar(scalar) => scalar,
            _ => Scalar::String,
        };
        return FieldType::Map(key, value_of(&value.kind()));
    }
    let value = value_of(&field.kind());
    if field.is_list() {
        FieldType::List(value)
    } else {
        FieldType::Single(value)
    }
}

pub(super) fn value_of(kind: &Kind) -> Value {
    Value::Scalar(match kind {
        Kind::Double => Scalar::Double,
        Kind::Float => Scalar::Float,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Scalar::Int32,
        Kind::Uint32 | Kind::Fixed32 => Scalar::Uint32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Scalar::Int64,
        Kind::Uint64 | Kind::Fixed64 => Scalar::Uint64,
        Kind::Bool => Scalar::Bool,
        Kind::String => Scalar::String,
        Kind::Bytes => Scalar::Bytes,
        Kind::Message(message) => return Value::Message(message.full_name().to_owned()),
        Kind::Enum(enumeration) => return Value::Enum(enumeration.full_name().to_owned()),
    })
}
