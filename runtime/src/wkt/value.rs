//! `google.protobuf.Value`, `Struct` and `ListValue`, free JSON, with [`Kind`] (the `kind`
//! oneof) where prost puts it, in a module `value`.
//!
//! Ours because pbjson-types' `Value` reads JSON `null` as a Value with no kind (its `kind` is an
//! `Option` read by serde, for which `null` is `None`), which encodes as an empty message and
//! which a protobuf-go peer refuses to write as JSON; proto3 JSON reads `null` as the
//! `NULL_VALUE` kind, as ours does, at any depth. The types, fields, wire form, JSON otherwise,
//! and `From` conversions are pbjson-types'.
//!
//! ```
//! use rust_svc_runtime::wkt::{Struct, Value, value::Kind};
//!
//! let object: Struct = serde_json::from_str(r#"{"a": null, "b": [1.5, "x"]}"#).unwrap();
//! assert_eq!(object.fields["a"].kind, Some(Kind::NullValue(0)));
//! assert_eq!(object.fields["b"], Value::from(vec![Value::from(1.5), Value::from("x")]));
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, Serializer};

/// `google.protobuf.Value`: a JSON value. JSON `null` is [`Kind::NullValue`]; a Value with no
/// kind (which proto3 JSON has no form for) is written as `null` too.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Value {
    /// The kind of value.
    #[prost(oneof = "Kind", tags = "1, 2, 3, 4, 5, 6")]
    pub kind: ::core::option::Option<Kind>,
}

/// `google.protobuf.Value`'s `kind` oneof.
#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Kind {
    /// JSON `null` (the value is `google.protobuf.NullValue`'s only one, 0).
    #[prost(enumeration = "pbjson_types::NullValue", tag = "1")]
    NullValue(i32),
    /// A JSON number. `NaN` and the infinities have no JSON form: writing them fails.
    #[prost(double, tag = "2")]
    NumberValue(f64),
    /// A JSON string.
    #[prost(string, tag = "3")]
    StringValue(String),
    /// A JSON boolean.
    #[prost(bool, tag = "4")]
    BoolValue(bool),
    /// A JSON object.
    #[prost(message, tag = "5")]
    StructValue(Struct),
    /// A JSON array.
    #[prost(message, tag = "6")]
    ListValue(ListValue),
}

/// `google.protobuf.Struct`: a JSON object.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Struct {
    /// The object's members.
    #[prost(map = "string, message", tag = "1")]
    pub fields: HashMap<String, Value>,
}

/// `google.protobuf.ListValue`: a JSON array.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ListValue {
    /// The array's elements.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}

macro_rules! named {
    ($($name:ident),+) => {$(
        impl ::prost::Name for $name {
            const NAME: &'static str = stringify!($name);
            const PACKAGE: &'static str = "google.protobuf";

            fn type_url() -> String {
                concat!("type.googleapis.com/google.protobuf.", stringify!($name)).to_owned()
            }
        }
    )+};
}

named!(Value, Struct, ListValue);

/// pbjson-types' conversions into a `Value` or a `Kind`, one per JSON shape.
macro_rules! from {
    ($($from:ty => |$value:ident| $kind:expr),+ $(,)?) => {$(
        impl From<$from> for Kind {
            fn from($value: $from) -> Self {
                $kind
            }
        }

        impl From<$from> for Value {
            fn from(value: $from) -> Self {
                Kind::from(value).into()
            }
        }
    )+};
}

from! {
    () => |_value| Kind::NullValue(0),
    f64 => |value| Kind::NumberValue(value),
    &'static str => |value| Kind::StringValue(value.into()),
    String => |value| Kind::StringValue(value),
    bool => |value| Kind::BoolValue(value),
    Struct => |value| Kind::StructValue(value),
    HashMap<String, Value> => |value| Kind::StructValue(value.into()),
    ListValue => |value| Kind::ListValue(value),
    Vec<Value> => |value| Kind::ListValue(value.into()),
}

impl From<Kind> for Value {
    fn from(kind: Kind) -> Self {
        Self { kind: Some(kind) }
    }
}

impl From<::core::option::Option<Kind>> for Value {
    fn from(kind: ::core::option::Option<Kind>) -> Self {
        Self { kind }
    }
}

impl<const N: usize> From<[Value; N]> for Value {
    fn from(values: [Value; N]) -> Self {
        ListValue::from(values).into()
    }
}

impl From<HashMap<String, Value>> for Struct {
    fn from(fields: HashMap<String, Value>) -> Self {
        Self { fields }
    }
}

impl FromIterator<(String, Value)> for Struct {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        Self {
            fields: iter.into_iter().collect(),
        }
    }
}

impl From<Vec<Value>> for ListValue {
    fn from(values: Vec<Value>) -> Self {
        Self { values }
    }
}

impl<const N: usize> From<[Value; N]> for ListValue {
    fn from(values: [Value; N]) -> Self {
        Self {
            values: values.into(),
        }
    }
}

impl FromIterator<Value> for ListValue {
    fn from_iter<T: IntoIterator<Item = Value>>(iter: T) -> Self {
        Self {
            values: iter.into_iter().collect(),
        }
    }
}

impl FromIterator<Kind> for ListValue {
    fn from_iter<T: IntoIterator<Item = Kind>>(iter: T) -> Self {
        iter.into_iter().map(Value::from).collect()
    }
}

impl From<pbjson_types::Value> for Value {
    fn from(value: pbjson_types::Value) -> Self {
        use pbjson_types::value::Kind as Theirs;
        let kind = value.kind.map(|kind| match kind {
            Theirs::NullValue(null) => Kind::NullValue(null),
            Theirs::NumberValue(number) => Kind::NumberValue(number),
            Theirs::StringValue(text) => Kind::StringValue(text),
            Theirs::BoolValue(flag) => Kind::BoolValue(flag),
            Theirs::StructValue(object) => Kind::StructValue(object.into()),
            Theirs::ListValue(list) => Kind::ListValue(list.into()),
        });
        Self { kind }
    }
}

impl From<Value> for pbjson_types::Value {
    fn from(value: Value) -> Self {
        use pbjson_types::value::Kind as Theirs;
        let kind = value.kind.map(|kind| match kind {
            Kind::NullValue(null) => Theirs::NullValue(null),
            Kind::NumberValue(number) => Theirs::NumberValue(number),
            Kind::StringValue(text) => Theirs::StringValue(text),
            Kind::BoolValue(flag) => Theirs::BoolValue(flag),
            Kind::StructValue(object) => Theirs::StructValue(object.into()),
            Kind::ListValue(list) => Theirs::ListValue(list.into()),
        });
        Self { kind }
    }
}

impl From<pbjson_types::Struct> for Struct {
    fn from(object: pbjson_types::Struct) -> Self {
        let fields = object.fields.into_iter();
        fields.map(|(key, value)| (key, value.into())).collect()
    }
}

impl From<Struct> for pbjson_types::Struct {
    fn from(object: Struct) -> Self {
        let fields = object.fields.into_iter();
        fields.map(|(key, value)| (key, value.into())).collect()
    }
}

impl From<pbjson_types::ListValue> for ListValue {
    fn from(list: pbjson_types::ListValue) -> Self {
        list.values.into_iter().map(Value::from).collect()
    }
}

impl From<ListValue> for pbjson_types::ListValue {
    fn from(list: ListValue) -> Self {
        list.values
            .into_iter()
            .map(pbjson_types::Value::from)
            .collect()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.kind {
            Some(kind) => kind.serialize(serializer),
            None => serializer.serialize_unit(),
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::NullValue(_) => serializer.serialize_unit(),
            Self::NumberValue(number) if !number.is_finite() => Err(ser::Error::custom(format!(
                "google.protobuf.Value cannot be {number}: JSON has no number for it"
            ))),
            Self::NumberValue(number) => serializer.serialize_f64(*number),
            Self::StringValue(text) => serializer.serialize_str(text),
            Self::BoolValue(flag) => serializer.serialize_bool(*flag),
            Self::StructValue(object) => object.serialize(serializer),
            Self::ListValue(list) => list.serialize(serializer),
        }
    }
}

impl Serialize for Struct {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(&self.fields)
    }
}

impl Serialize for ListValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(&self.values)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Kind::deserialize(deserializer).map(Self::from)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

impl<'de> Deserialize<'de> for Struct {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Kind::deserialize(deserializer)? {
            Kind::StructValue(object) => Ok(object),
            _ => Err(de::Error::custom(
                "invalid google.protobuf.Struct: expected a JSON object",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ListValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Kind::deserialize(deserializer)? {
            Kind::ListValue(list) => Ok(list),
            _ => Err(de::Error::custom(
                "invalid google.protobuf.ListValue: expected a JSON array",
            )),
        }
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value (google.protobuf.Value)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::NullValue(0))
    }

    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::NullValue(0))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        Kind::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Kind, E> {
        Ok(Kind::BoolValue(flag))
    }

    // A JSON number is a double, as in protobuf-go, whose integers beyond 2^53 lose precision.
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Kind, E> {
        Ok(Kind::NumberValue(number as f64))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Kind, E> {
        Ok(Kind::NumberValue(number as f64))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Kind, E> {
        Ok(Kind::NumberValue(number))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Kind, E> {
        Ok(Kind::StringValue(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Kind, E> {
        Ok(Kind::StringValue(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(value) = seq.next_element::<Value>()? {
            values.push(value);
        }
        Ok(Kind::ListValue(values.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut fields = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            fields.insert(key, value);
        }
        Ok(Kind::StructValue(fields.into()))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn null_is_the_null_value_at_every_depth() {
        let null = Value::from(());
        let value: Value = serde_json::from_value(json!(null)).unwrap();
        assert_eq!(value, null);
        let value: Value = serde_json::from_value(json!([null, {"a": null}])).unwrap();
        let object: Struct = [("a".to_owned(), null.clone())].into_iter().collect();
        assert_eq!(value, Value::from([null.clone(), object.into()]));
        let list: ListValue = serde_json::from_value(json!([null])).unwrap();
        assert_eq!(list.values, std::slice::from_ref(&null));
        let object: Struct = serde_json::from_value(json!({"k": null})).unwrap();
        assert_eq!(object.fields["k"], null);
        // On the wire, the null value is set (an empty message would be a Value of no kind).
        assert_eq!(null.encode_to_vec(), [0x08, 0x00]);
    }

    #[test]
    fn every_json_shape_round_trips() {
        let sent = json!({
            "null": null, "number": -2.5, "integer": 7.0, "string": "s", "bool": false,
            "object": {"nested": [1.0, "two", {"three": true}]}, "empty": {}, "list": [],
        });
        let value: Value = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(&value).unwrap(), sent);
        let Some(Kind::StructValue(object)) = &value.kind else {
            panic!("an object is a Struct: {value:?}");
        };
        assert_eq!(object.fields["string"], Value::from("s"));
        // Integers are doubles, written as serde_json writes an f64 (`7.0`).
        let integer: Value = serde_json::from_value(json!(7)).unwrap();
        assert_eq!(integer, Value::from(7.0));
        let big: Value = serde_json::from_value(json!(9_007_199_254_740_993_u64)).unwrap();
        assert_eq!(big, Value::from(9_007_199_254_740_992.0));
    }

    #[test]
    fn what_json_cannot_carry_fails_to_write() {
        for number in [f64::NAN, f64::INFINITY] {
            let error = serde_json::to_string(&Value::from(number)).unwrap_err();
            assert!(error.to_string().contains("JSON has no number"), "{error}");
        }
        assert_eq!(serde_json::to_value(Value::default()).unwrap(), json!(null));
    }

    #[test]
    fn struct_and_list_take_only_their_shape() {
        let error = serde_json::from_value::<Struct>(json!([1])).unwrap_err();
        assert!(
            error.to_string().contains("expected a JSON object"),
            "{error}"
        );
        let error = serde_json::from_value::<ListValue>(json!({"a": 1})).unwrap_err();
        assert!(
            error.to_string().contains("expected a JSON array"),
            "{error}"
        );
        let error = serde_json::from_value::<Struct>(json!(null)).unwrap_err();
        assert!(
            error.to_string().contains("expected a JSON object"),
            "{error}"
        );
    }

    #[test]
    fn values_convert_to_and_from_pbjson_types_and_share_the_wire_form() {
        let ours: Value = serde_json::from_value(json!({"a": [1.5, null, "x", true, {}]})).unwrap();
        let theirs = pbjson_types::Value::from(ours.clone());
        assert_eq!(
            pbjson_types::Value::decode(ours.encode_to_vec().as_slice()).unwrap(),
            theirs
        );
        assert_eq!(Value::from(theirs), ours);
        let Some(Kind::StructValue(object)) = ours.kind else {
            panic!("an object");
        };
        let their_object = pbjson_types::Struct::from(object.clone());
        assert_eq!(Struct::from(their_object), object);
        let list = ListValue::from_iter([Kind::BoolValue(true), Kind::NullValue(0)]);
        assert_eq!(
            ListValue::from(pbjson_types::ListValue::from(list.clone())),
            list
        );
        assert_eq!(
            <Struct as prost::Name>::full_name(),
            "google.protobuf.Struct"
        );
    }
}
