//! What the gateway knows of a request message's fields without reflection: a static table per
//! message, emitted by the generator, naming each field in both its proto and its JSON form and
//! saying what kind of value it holds. Path variables and query parameters are strings on the
//! wire; the schema says how each one becomes a proto3 JSON value (a number, a bool, a string,
//! an object) before the message's generated serde impl reads the whole request.

/// The fields of one message.
#[derive(Debug)]
pub struct MessageSchema {
    /// Full proto name, e.g. `inventory.v1.CheckStockRequest`.
    pub name: &'static str,
    /// The fields, in declaration order.
    pub fields: &'static [FieldSchema],
}

impl MessageSchema {
    /// The message `name` (its full proto name) with `fields`: what generated code writes.
    pub const fn new(name: &'static str, fields: &'static [FieldSchema]) -> Self {
        Self { name, fields }
    }

    /// The field called `name` in either its proto form (`warehouse_id`) or its JSON form
    /// (`warehouseId`).
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields
            .iter()
            .find(|field| field.name == name || field.json_name == name)
    }
}

/// One field of a message.
#[derive(Debug)]
pub struct FieldSchema {
    /// The name in the proto file, e.g. `warehouse_id`.
    pub name: &'static str,
    /// The proto3 JSON name, e.g. `warehouseId`.
    pub json_name: &'static str,
    /// The value type (of each element for a repeated field, of each value for a map).
    pub kind: FieldKind,
    /// Singular, repeated or map.
    pub cardinality: Cardinality,
}

/// Generated code writes a field as one call, e.g. `FieldSchema::scalar("sku", "sku",
/// ScalarKind::String)`, `.repeated()` or `.map(key)` after it for those cardinalities.
impl FieldSchema {
    /// A singular field of `kind`.
    pub const fn new(name: &'static str, json_name: &'static str, kind: FieldKind) -> Self {
        Self {
            name,
            json_name,
            kind,
            cardinality: Cardinality::Single,
        }
    }

    /// A singular scalar field.
    pub const fn scalar(name: &'static str, json_name: &'static str, kind: ScalarKind) -> Self {
        Self::new(name, json_name, FieldKind::Scalar(kind))
    }

    /// A singular field of the enum `full_name`.
    pub const fn enumeration(
        name: &'static str,
        json_name: &'static str,
        full_name: &'static str,
    ) -> Self {
        Self::new(name, json_name, FieldKind::Enum(full_name))
    }

    /// A singular message field.
    pub const fn message(
        name: &'static str,
        json_name: &'static str,
        schema: &'static MessageSchema,
    ) -> Self {
        Self::new(name, json_name, FieldKind::Message(schema))
    }

    /// A singular field of a well-known type.
    pub const fn well_known(name: &'static str, json_name: &'static str, kind: WellKnown) -> Self {
        Self::new(name, json_name, FieldKind::WellKnown(kind))
    }

    /// The same field, repeated.
    #[must_use]
    pub const fn repeated(mut self) -> Self {
        self.cardinality = Cardinality::Repeated;
        self
    }

    /// The same field as the values of a map with `key` keys.
    #[must_use]
    pub const fn map(mut self, key: ScalarKind) -> Self {
        self.cardinality = Cardinality::Map(key);
        self
    }
}

/// Whether a field holds one value, a list or a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// One value (proto3 implicit presence, `optional`, or a oneof member).
    Single,
    /// `repeated`.
    Repeated,
    /// `map<key, value>`: the field's [`FieldKind`] is the value's kind.
    Map(ScalarKind),
}

/// The type of a field's value.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// A scalar type.
    Scalar(ScalarKind),
    /// An enum, by full proto name. Its values are accepted by name or number.
    Enum(&'static str),
    /// A message other than a well-known type.
    Message(&'static MessageSchema),
    /// A `google.protobuf` well-known type with a JSON form of its own.
    WellKnown(WellKnown),
}

/// The proto scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// `double`.
    Double,
    /// `float`.
    Float,
    /// `int32`, `sint32`, `sfixed32`.
    Int32,
    /// `int64`, `sint64`, `sfixed64`.
    Int64,
    /// `uint32`, `fixed32`.
    Uint32,
    /// `uint64`, `fixed64`.
    Uint64,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `bytes`: base64 in JSON.
    Bytes,
}

/// The well-known types whose proto3 JSON form is not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellKnown {
    /// `google.protobuf.Timestamp`: an RFC 3339 string.
    Timestamp,
    /// `google.protobuf.Duration`: a string such as `"1.5s"`.
    Duration,
    /// `google.protobuf.FieldMask`: comma-separated lowerCamelCase paths.
    FieldMask,
    /// A wrapper (`google.protobuf.Int32Value`…): the JSON form of the wrapped scalar.
    Wrapper(ScalarKind),
    /// `google.protobuf.Empty`: `{}`.
    Empty,
    /// `google.protobuf.Struct`: any JSON object.
    Struct,
    /// `google.protobuf.Value`: any JSON value.
    Value,
    /// `google.protobuf.ListValue`: any JSON array.
    ListValue,
    /// `google.protobuf.Any`: an object with `@type`.
    Any,
}

#[cfg(test)]
mod tests {
    use super::*;

    static ITEM: MessageSchema = MessageSchema::new("a.Item", &[]);
    static ORDER: MessageSchema = MessageSchema::new(
        "a.Order",
        &[
            FieldSchema::scalar("order_id", "orderId", ScalarKind::String),
            FieldSchema::message("items", "items", &ITEM).repeated(),
            FieldSchema::enumeration("labels", "labels", "a.Label").map(ScalarKind::String),
            FieldSchema::well_known("created_at", "createdAt", WellKnown::Timestamp),
        ],
    );

    #[test]
    fn constructors_write_what_the_literal_would() {
        let id = ORDER.field("orderId").expect("found by its JSON name");
        assert_eq!(id.name, "order_id");
        assert!(matches!(id.kind, FieldKind::Scalar(ScalarKind::String)));
        assert_eq!(id.cardinality, Cardinality::Single);

        let items = ORDER.field("items").expect("declared");
        assert_eq!(items.cardinality, Cardinality::Repeated);
        assert!(matches!(items.kind, FieldKind::Message(schema) if schema.name == "a.Item"));

        let labels = ORDER.field("labels").expect("declared");
        assert_eq!(labels.cardinality, Cardinality::Map(ScalarKind::String));
        assert!(matches!(labels.kind, FieldKind::Enum("a.Label")));

        let created = ORDER.field("created_at").expect("found by its proto name");
        assert!(matches!(
            created.kind,
            FieldKind::WellKnown(WellKnown::Timestamp)
        ));
    }
}
