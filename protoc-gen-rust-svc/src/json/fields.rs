//! A message's fields as the JSON impls see them: their names in JSON and in Rust, what their
//! values are (the proto3 JSON form depends on it), and how prost-build holds them (a plain
//! value, an `Option`, a `Vec`, a map, a member of a oneof's enum).

use std::collections::HashMap;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};

use super::names::{self, Paths};

/// The full name of `google.protobuf.Value`, whose JSON `null` is a value (the null value)
/// rather than the field's default.
const VALUE: &str = ".google.protobuf.Value";

/// What a field's value (or a map's value, or a repeated field's element) is in proto3 JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string: serde's own form.
    String,
    /// A bool: serde's own form.
    Bool,
    /// `int32`, `uint32` and their kin: a JSON number, read from a string too.
    Int32,
    /// The 64-bit integers: a JSON string, read from a number too.
    Int64,
    /// `float` and `double`: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    Float,
    /// `bytes`: base64.
    Bytes,
    /// An enum (its Rust path): its value's name, or its number when it has none.
    Enum(String),
    /// A message: its own impl.
    Message,
    /// `google.protobuf.Value`: its own impl, which reads `null` as the null value.
    Dynamic,
}

/// How prost-build holds a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A proto3 field without presence: the value, at its default when unset.
    Implicit,
    /// An `Option`: `optional` fields, proto2's, and message fields.
    Optional,
    /// proto2's `required`, a plain value (a message's is still an `Option`).
    Required,
    /// A `Vec`.
    Repeated,
    /// A map with keys that are numbers (`true`) or strings and bools (`false`).
    Map { numeric_keys: bool },
}

/// One field of a message (a oneof's member included).
#[derive(Debug, Clone)]
pub struct Field {
    /// The name in the proto, which JSON readers accept too.
    pub proto_name: String,
    /// The JSON name (`json_name`, lowerCamelCase by default).
    pub json_name: String,
    /// The Rust field's identifier (for a oneof member, its variant).
    pub rust: String,
    pub number: i32,
    pub value: Value,
    pub holder: Holder,
    /// A field with presence outside any oneof (a synthetic one included): a singular message
    /// field, or a proto2 `optional` one. With `emit_unpopulated`, written as `null` when
    /// unset, as protojson writes it (its `EmitUnpopulated` skips only oneof members).
    pub null_when_unset: bool,
}

/// A oneof with its members.
#[derive(Debug, Clone)]
pub struct Oneof {
    /// The Rust field's identifier.
    pub rust: String,
    /// The Rust path of the oneof's enum.
    pub path: String,
    pub members: Vec<Field>,
}

/// A message's fields, outside oneofs first, in declaration order, then its oneofs.
#[derive(Debug, Clone)]
pub struct Fields {
    pub fields: Vec<Field>,
    pub oneofs: Vec<Oneof>,
}

impl Fields {
    /// Every field, the oneofs' members last, in the order the impls handle them.
    pub fn all(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .chain(self.oneofs.iter().flat_map(|oneof| &oneof.members))
    }
}

/// What the impls need to know of the request's messages: their map entries, by full name.
pub struct MapEntries<'a>(pub HashMap<String, &'a DescriptorProto>);

/// The fields of `message`, whose Rust path from the package's module is `rust_path`.
pub fn of(
    message: &DescriptorProto,
    rust_path: &str,
    proto3: bool,
    paths: &Paths<'_>,
    maps: &MapEntries<'_>,
) -> Fields {
    let module = rust_path
        .rsplit_once("::")
        .map_or(String::new(), |(parent, _)| format!("{parent}::"));
    let message_module = format!("{module}{}", names::to_snake(message.name()));
    let mut fields = Vec::new();
    let mut oneofs: Vec<Oneof> = message
        .oneof_decl
        .iter()
        .map(|oneof| {
            // prost-build's `OneofField::type_name`: `…OneOf` when a nested type has the name.
            let name = names::to_upper_camel(oneof.name());
            let clash = message
                .nested_type
                .iter()
                .map(DescriptorProto::name)
                .chain(message.enum_type.iter().map(|e| e.name()))
                .any(|nested| names::to_upper_camel(nested) == name);
            let suffix = if clash { "OneOf" } else { "" };
            Oneof {
                rust: names::to_snake(oneof.name()),
                path: format!("{message_module}::{name}{suffix}"),
                members: Vec::new(),
            }
        })
        .collect();
    for field in &message.field {
        let in_oneof = field
            .oneof_index
            .filter(|_| !field.proto3_optional())
            .and_then(|index| usize::try_from(index).ok());
        let entry = (field.r#type() == Type::Message)
            .then(|| maps.0.get(field.type_name()))
            .flatten()
            .filter(|_| field.label() == Label::Repeated);
        let (value, holder) = match entry {
            Some(entry) => {
                let key = entry.field.iter().find(|f| f.number() == 1);
                let value = entry.field.iter().find(|f| f.number() == 2);
                let numeric_keys =
                    key.is_some_and(|key| !matches!(key.r#type(), Type::String | Type::Bool));
                (
                    value.map_or(Value::String, |value| value_of(value, paths)),
                    Holder::Map { numeric_keys },
                )
            }
            None => (value_of(field, paths), holder_of(field, proto3)),
        };
        let built = Field {
            proto_name: field.name().to_owned(),
            json_name: field
                .json_name
                .clone()
                .unwrap_or_else(|| heck::ToLowerCamelCase::to_lower_camel_case(field.name())),
            rust: match in_oneof {
                Some(_) => names::to_upper_camel(field.name()),
                None => names::to_snake(field.name()),
            },
            number: field.number(),
            value,
            holder,
            null_when_unset: field.label() == Label::Optional
                && field.oneof_index.is_none()
                && (!proto3 || matches!(field.r#type(), Type::Message | Type::Group)),
        };
        match in_oneof.and_then(|index| oneofs.get_mut(index)) {
            Some(oneof) => oneof.members.push(built),
            None => fields.push(built),
        }
    }
    // A proto3 `optional` field's synthetic oneof has no member left: prost-build writes no
    // enum for it.
    oneofs.retain(|oneof| !oneof.members.is_empty());
    Fields { fields, oneofs }
}

fn value_of(field: &FieldDescriptorProto, paths: &Paths<'_>) -> Value {
    match field.r#type() {
        Type::String => Value::String,
        Type::Bool => Value::Bool,
        Type::Int32 | Type::Sint32 | Type::Sfixed32 | Type::Uint32 | Type::Fixed32 => Value::Int32,
        Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => Value::Int64,
        Type::Float | Type::Double => Value::Float,
        Type::Bytes => Value::Bytes,
        Type::Enum => Value::Enum(paths.of(field.type_name())),
        Type::Message | Type::Group if field.type_name() == VALUE => Value::Dynamic,
        Type::Message | Type::Group => Value::Message,
    }
}

fn holder_of(field: &FieldDescriptorProto, proto3: bool) -> Holder {
    let message = matches!(field.r#type(), Type::Message | Type::Group);
    match field.label() {
        Label::Repeated => Holder::Repeated,
        Label::Required if !message => Holder::Required,
        _ if message || field.proto3_optional() || !proto3 || field.oneof_index.is_some() => {
            Holder::Optional
        }
        _ => Holder::Implicit,
    }
}
