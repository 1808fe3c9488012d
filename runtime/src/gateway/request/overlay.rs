//! Requests with a body read straight from its bytes, the path's (and the query's) values laid
//! beside it:
//!
//! - `body: "*"` with path variables bound to top-level fields (a custom method's
//!   `POST /v1/orders/{order_id}:cancel`). The general path parses the body into a
//!   `serde_json::Value`, sets the variables in it (they override what the body says for the
//!   same field, under either of its names) and decodes the message from that. Here the
//!   message's serde impl reads the body as it streams from the bytes: the variables' values
//!   come first, and the body's members for those fields are skipped unread.
//! - `body: "field"` (`POST /v1/orders` with `body: "order"`), its variables and parameters
//!   each setting a top-level field: their values, then the field's value read from the bytes.
//!
//! Either way the message is the one the general path decodes. Anything it would treat
//! differently (a nested variable or parameter, a member given twice, a body that is not what
//! the rule needs, a PATCH whose mask comes from the body) or that fails answers `None`, and the
//! request is decoded again there, which keeps the error messages.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::Value;
use serde_json::de::SliceRead;
use smallvec::SmallVec;

use super::flat::{Fields, names, values};
use super::{PathBinding, check_not_blank};
use crate::gateway::schema::{FieldSchema, MessageSchema};

/// The message of a `body: "*"` request whose path variables each bind a top-level singular
/// field; `None` when it is not such a request or does not decode.
pub(super) fn decode<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    bindings: &[B],
    body: &[u8],
) -> Option<M> {
    // With `body: "*"` the query is not read. The fields are filled in place and drained (see
    // `flat::decode`): their inline storage is not copied into each deserializer.
    let mut fields = Fields::new();
    values(&mut fields, schema, bindings, None, None)?;
    let bound = fields.iter().map(|(field, _)| *field).collect();
    // No bytes is an empty message; whitespace only is the general path's error to word.
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    let mut reader = serde_json::Deserializer::from_slice(body);
    let message = M::deserialize(Overlay {
        body: &mut reader,
        given: fields.drain(..),
        bound,
    })
    .ok()?;
    reader.end().ok()?;
    Some(message)
}

/// The path's fields as they are handed over, each once.
type Given<'f> = smallvec::Drain<'f, [(&'static FieldSchema, Value); 8]>;

/// The fields the path binds, whose members in the body are skipped.
type Bound = SmallVec<[&'static FieldSchema; 8]>;

/// The body's deserializer, with the path's fields laid over its object.
struct Overlay<'a, 'de, 'f> {
    body: &'a mut serde_json::Deserializer<SliceRead<'de>>,
    given: Given<'f>,
    bound: Bound,
}

impl<'de> Deserializer<'de> for Overlay<'_, 'de, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.body.deserialize_map(Object {
            visitor,
            given: self.given,
            bound: self.bound,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// Takes the body's object and hands the message's visitor the overlaid members.
struct Object<'f, V> {
    visitor: V,
    given: Given<'f>,
    bound: Bound,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Object<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, body: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Members {
            given: self.given,
            bound: self.bound,
            value: None,
            body,
        })
    }
}

/// The path's fields, then the body's members but those of the path's fields.
struct Members<'f, A> {
    given: Given<'f>,
    bound: Bound,
    /// The value of the path's field whose key was read last.
    value: Option<Value>,
    body: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Members<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((field, value)) = self.given.next() {
            self.value = Some(value);
            return seed
                .deserialize(BorrowedStrDeserializer::new(field.json_name))
                .map(Some);
        }
        while let Some(Key(key)) = self.body.next_key::<Key<'de>>()? {
            if self.bound.iter().any(|field| names(field, &key)) {
                self.body.next_value::<IgnoredAny>()?;
                continue;
            }
            return match key {
                Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
                Cow::Owned(key) => seed.deserialize(StringDeserializer::new(key)),
            }
            .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value).map_err(A::Error::custom),
            None => self.body.next_value_seed(seed),
        }
    }
}

/// A member's name, borrowed from the body unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }

    fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key)))
    }
}

/// The message of a `body: "field"` request (`POST /v1/orders` with `body: "order"`) whose
/// path variables and query parameters each set a top-level field: those values, and the body
/// read from its bytes as the field's value. `None` when it is not such a request, or does not
/// decode.
pub(super) fn decode_field<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    name: &str,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
) -> Option<M> {
    let field = schema.field(name)?;
    if bindings
        .iter()
        .any(|binding| names(field, binding.field_path()))
    {
        return None;
    }
    let mut given = Fields::new();
    values(&mut given, schema, bindings, query, Some(field))?;
    // Whitespace only is the general path's error to word; no bytes, or `null` between JSON's
    // own whitespace, leave the field out.
    check_not_blank(body).ok()?;
    let json_blank = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\n' | b'\r');
    let start = body.iter().position(|byte| !json_blank(byte));
    let end = body.iter().rposition(|byte| !json_blank(byte));
    let read = match (start, end) {
        (Some(start), Some(end)) => &body[start..=end] != b"null",
        _ => false,
    };
    let mut reader = serde_json::Deserializer::from_slice(body);
    let message = M::deserialize(WithBody {
        given: given.drain(..),
        value: None,
        body: read.then_some((field.json_name, &mut reader)),
        reading: None,
    })
    .ok()?;
    if read {
        reader.end().ok()?;
    }
    Some(message)
}

/// A request's object: the given fields, then the body field, its value read from the bytes.
struct WithBody<'a, 'de, 'f> {
    given: Given<'f>,
    /// The value of the given field whose key was read last.
    value: Option<Value>,
    body: Option<(
        &'static str,
        &'a mut serde_json::Deserializer<SliceRead<'de>>,
    )>,
    /// The body's reader once the body field's key was read.
    reading: Option<&'a mut serde_json::Deserializer<SliceRead<'de>>>,
}

impl<'de> Deserializer<'de> for WithBody<'_, 'de, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for WithBody<'_, 'de, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, serde_json::Error> {
        let key = if let Some((field, value)) = self.given.next() {
            self.value = Some(value);
            field.json_name
        } else if let Some((key, reader)) = self.body.take() {
            self.reading = Some(reader);
            key
        } else {
            return Ok(None);
        };
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, serde_json::Error> {
        if let Some(value) = self.value.take() {
            return seed.deserialize(value);
        }
        match self.reading.take() {
            Some(reader) => seed.deserialize(reader),
            None => Err(serde_json::Error::custom("a value without its key")),
        }
    }
}
