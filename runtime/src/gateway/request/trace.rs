//! Where in a request's JSON its decoding failed.
//!
//! serde's errors say what went wrong but not where (serde_json adds a line and column, and
//! nothing at all when reading a `Value`), while a 400 must name the field. Decoding again
//! through this deserializer, which records the keys and indices it is inside of when an error
//! passes through, gives the path. It runs only after a decode has failed, so the fast path pays
//! nothing for it.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde_json::Value;

use crate::json::query_text::{PROTO_PATHS_KEY, QUERY_KEY};

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A member of an object (a field, or a map entry).
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// A decoding failure and where it happened, outermost step first.
#[derive(Debug)]
pub(crate) struct Located {
    pub(crate) path: Vec<Step>,
    pub(crate) message: String,
}

/// Decodes `M` from `value` again and, if that fails, says where and why. `None` when it
/// decodes (the first failure then came from something this decoder does not see, such as a
/// key given twice in the body text, which a `Value` has already merged).
pub(crate) fn locate<M: DeserializeOwned>(value: &Value) -> Option<Located> {
    match M::deserialize(Tracked(value)) {
        Ok(_) => None,
        Err(TraceError {
            mut path, message, ..
        }) => {
            path.reverse();
            Some(Located { path, message })
        }
    }
}

#[derive(Debug)]
struct TraceError {
    /// Innermost step first: each level adds its step as the error passes out through it.
    path: Vec<Step>,
    message: String,
    /// Whether the innermost step is known. An error a message's visitor raises between
    /// entries (pbjson's duplicate or conflicting oneof field) is not, until the object it
    /// leaves blames the key read last.
    settled: bool,
}

impl TraceError {
    fn at(mut self, step: Step) -> Self {
        self.path.push(step);
        self.settled = true;
        self
    }

    fn settle(mut self) -> Self {
        self.settled = true;
        self
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TraceError {}

impl de::Error for TraceError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self {
            path: Vec::new(),
            message: message.to_string(),
            settled: false,
        }
    }
}

/// A `Value` deserializer that behaves as serde_json's does for the shapes generated proto3
/// JSON impls ask for.
struct Tracked<'v>(&'v Value);

impl<'de> Deserializer<'de> for Tracked<'de> {
    type Error = TraceError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(value) => visitor.visit_bool(*value),
            Value::Number(number) => match (number.as_u64(), number.as_i64(), number.as_f64()) {
                (Some(value), _, _) => visitor.visit_u64(value),
                (None, Some(value), _) => visitor.visit_i64(value),
                (None, None, value) => visitor.visit_f64(value.unwrap_or(f64::NAN)),
            },
            Value::String(value) => visitor.visit_borrowed_str(value),
            Value::Array(items) => visitor.visit_seq(Elements {
                items: items.iter(),
                index: 0,
            }),
            Value::Object(members) => {
                let last_key = Cell::new(None);
                let result = visitor.visit_map(Members {
                    members: members.iter(),
                    value: None,
                    last_key: &last_key,
                });
                result.map_err(|error| match last_key.get() {
                    // The object an enum's path or query text is passed in is the value itself.
                    Some(QUERY_KEY | PROTO_PATHS_KEY) => error,
                    Some(key) if !error.settled => error.at(Step::Key(key.to_owned())),
                    _ => error.settle(),
                })
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(variant.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Elements<'v> {
    items: std::slice::Iter<'v, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Elements<'de> {
    type Error = TraceError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TraceError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Tracked(item))
            .map(Some)
            .map_err(|error| error.at(Step::Index(index)))
    }
}

struct Members<'v, 'c> {
    members: serde_json::map::Iter<'v>,
    value: Option<(&'v str, &'v Value)>,
    /// The key read last; `None` once the entries are exhausted, so that an error about the
    /// whole object (a missing field) blames no key.
    last_key: &'c Cell<Option<&'v str>>,
}

impl<'de> MapAccess<'de> for Members<'de, '_> {
    type Error = TraceError;

    /// A key's error (an unknown field) belongs to the object, so it gets no step of its own.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TraceError> {
        let Some((key, value)) = self.members.next() else {
            self.last_key.set(None);
            return Ok(None);
        };
        self.value = Some((key, value));
        self.last_key.set(Some(key));
        seed.deserialize(Key(key))
            .map(Some)
            .map_err(TraceError::settle)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TraceError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| <TraceError as de::Error>::custom("a value was read before its key"))?;
        seed.deserialize(Tracked(value)).map_err(|error| match key {
            QUERY_KEY | PROTO_PATHS_KEY => error,
            _ => error.at(Step::Key(key.to_owned())),
        })
    }
}

/// An object key: a string, which map fields with bool or integer keys read as such, as
/// serde_json's own key deserializer allows.
struct Key<'v>(&'v str);

macro_rules! parsed_key {
    ($($method:ident $visit:ident $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
            match self.0.parse::<$ty>() {
                Ok(value) => visitor.$visit(value),
                Err(_) => visitor.visit_borrowed_str(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = TraceError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        visitor.visit_borrowed_str(self.0)
    }

    parsed_key! {
        deserialize_bool visit_bool bool,
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)] // Read only through `Debug`: the tests look at the errors.
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        flags: HashMap<bool, u32>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        quantity: u32,
    }

    fn locate_json(json: &str) -> Option<Located> {
        locate::<Outer>(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn names_the_element_and_field_that_failed() {
        let located = locate_json(r#"{"items": [{"quantity": 1}, {"quantity": "x"}]}"#).unwrap();
        assert_eq!(
            located.path,
            [
                Step::Key("items".into()),
                Step::Index(1),
                Step::Key("quantity".into())
            ]
        );
        assert!(
            located.message.contains("invalid type"),
            "{}",
            located.message
        );
    }

    #[test]
    fn an_unknown_field_is_reported_at_its_object() {
        let located = locate_json(r#"{"inner": {"quantity": 1, "colour": "red"}}"#).unwrap();
        assert_eq!(located.path, [Step::Key("inner".into())]);
        assert!(located.message.contains("unknown field `colour`"));
    }

    #[test]
    fn map_keys_read_as_bools_and_values_are_tracked_by_key() {
        assert!(locate_json(r#"{"flags": {"true": 1, "false": 2}}"#).is_none());
        let located = locate_json(r#"{"flags": {"true": -1}}"#).unwrap();
        assert_eq!(
            located.path,
            [Step::Key("flags".into()), Step::Key("true".into())]
        );
        let located = locate_json(r#"{"flags": {"yes": 1}}"#).unwrap();
        assert_eq!(located.path, [Step::Key("flags".into())]);
    }

    /// A visitor that rejects `b` after `a`, as pbjson rejects a second member of a oneof.
    #[derive(Debug)]
    struct OneOf;

    impl<'de> Deserialize<'de> for OneOf {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct OneOfVisitor;
            impl<'de> Visitor<'de> for OneOfVisitor {
                type Value = OneOf;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a oneof")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OneOf, A::Error> {
                    let mut set = false;
                    while map.next_key::<String>()?.is_some() {
                        if set {
                            return Err(de::Error::duplicate_field("b"));
                        }
                        set = true;
                        map.next_value::<de::IgnoredAny>()?;
                    }
                    Err(de::Error::missing_field("a"))
                }
            }
            deserializer.deserialize_map(OneOfVisitor)
        }
    }

    #[test]
    fn an_error_between_entries_blames_the_key_read_last() {
        let value = serde_json::json!({"a": 1, "b": 2});
        let located = locate::<OneOf>(&value).unwrap();
        assert_eq!(located.path, [Step::Key("b".into())]);
        assert_eq!(located.message, "duplicate field `b`");
        // After the last entry, the object itself is to blame.
        let located = locate::<OneOf>(&serde_json::json!({"a": 1})).unwrap();
        assert!(located.path.is_empty(), "{located:?}");
        assert_eq!(located.message, "missing field `a`");
    }

    #[test]
    fn a_valid_value_is_not_located() {
        assert!(locate_json(r#"{"items": [{"quantity": 3}], "inner": null}"#).is_none());
    }
}
