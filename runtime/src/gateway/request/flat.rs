//! The common request without a body — path variables and query parameters that each set a
//! top-level field, singular or a list of scalars (`GET /v1/items/{sku}/stock?warehouse_id=…`,
//! `GET /v1/orders?status=OPEN&status=PAID`) — read straight into the message, without first
//! building the request's JSON object.
//!
//! The general path ([`merged`](super::merged)) builds a `serde_json::Map` (a B-tree, its keys
//! allocated) only for the message's serde impl to take it apart again; here the converted
//! values go to the impl as `(JSON name, value)` pairs. The values are the ones the general
//! path would put in its object (the same conversion), each field once under its JSON name, so
//! the message is the one it would decode. Anything else — a nested or map parameter, a
//! repeated message, a parameter or value that is an error — is left to the general path, which
//! owns the rules and the error messages: this path answers `None` and the request is decoded
//! again from the start there.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
use serde_json::Value;
use smallvec::SmallVec;

use super::PathBinding;
use crate::gateway::query::convert::field_value;
use crate::gateway::query::{Pairs, text, unescape};
use crate::gateway::schema::{Cardinality, FieldKind, FieldSchema, MessageSchema};

/// The message of a request without a body when its every binding sets a top-level singular
/// field and every parameter a top-level singular or repeated one (unknown parameters are
/// ignored, as on the general path); `None` when it is not such a request or does not decode.
pub(super) fn decode<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    bindings: &[B],
    query: Option<&str>,
) -> Option<M> {
    // Filled in place and drained: the inline storage (eight fields) is not copied from
    // frame to frame as a returned value, an iterator and a deserializer would copy it.
    let mut fields = Fields::new();
    values(&mut fields, schema, bindings, query, None)?;
    let pairs = fields
        .drain(..)
        .map(|(field, value)| (field.json_name, value));
    M::deserialize(MapDeserializer::<_, serde_json::Error>::new(pairs)).ok()
}

/// Adds to `fields` the converted values of the path variables and the query parameters of a
/// request, when each sets a top-level field as [`decode`] describes; `body`, the field a
/// `body: "field"` rule names, is not read from the query (the general path skips it too).
pub(super) fn values<B: PathBinding>(
    fields: &mut Fields,
    schema: &'static MessageSchema,
    bindings: &[B],
    query: Option<&str>,
    body: Option<&'static FieldSchema>,
) -> Option<()> {
    for binding in bindings {
        let field = flat_field(schema, binding.field_path())?;
        let value = field_value(&field.kind, Cow::Borrowed(binding.value())).ok()?;
        set(fields, field, value)?;
    }
    for pair in Pairs::new(query.unwrap_or_default()) {
        if pair.semicolon {
            return None;
        }
        // Every value is decoded, even one the request then ignores: a bad escape anywhere is
        // the general path's error (as Go's query parsing makes it grpc-gateway's). A key that
        // is not text names no field; a value that is not text is an error if it sets one.
        let key = unescape(pair.key, pair.key_escaped).ok()?;
        let value = unescape(pair.value, pair.value_escaped).ok()?;
        let Ok(key) = text(key) else {
            continue;
        };
        // A parameter that names no field is ignored; the first name of a nested or map
        // parameter (`a.b`, `m[k]`) is enough to tell.
        let nested = key.bytes().position(|byte| byte == b'.' || byte == b'[');
        let Some(field) = schema.field(&key[..nested.unwrap_or(key.len())]) else {
            continue;
        };
        if nested.is_some() {
            return None;
        }
        // A path-bound field, or the body's, is never set from the query.
        if body.is_some_and(|body| std::ptr::eq(body, field))
            || bindings
                .iter()
                .any(|binding| names(field, binding.field_path()))
        {
            continue;
        }
        let repeated = match field.cardinality {
            _ if matches!(field.kind, FieldKind::Message(_)) => return None,
            Cardinality::Single => false,
            Cardinality::Repeated => true,
            Cardinality::Map(_) => return None,
        };
        let value = field_value(&field.kind, text(value).ok()?).ok()?;
        if repeated {
            push(fields, field, value)?;
        } else {
            set(fields, field, value)?;
        }
    }
    Some(())
}

/// The top-level singular field a path variable binds, if its path has one name.
fn flat_field(schema: &'static MessageSchema, path: &str) -> Option<&'static FieldSchema> {
    if path.contains('.') {
        return None;
    }
    schema.field(path).filter(|field| is_flat(field))
}

/// A field one value sets: singular, and not a message read field by field.
fn is_flat(field: &FieldSchema) -> bool {
    field.cardinality == Cardinality::Single && !matches!(field.kind, FieldKind::Message(_))
}

/// Whether `name` (proto or JSON form) is `field`'s.
pub(super) fn names(field: &FieldSchema, name: &str) -> bool {
    name == field.name || name == field.json_name
}

pub(super) type Fields = SmallVec<[(&'static FieldSchema, Value); 8]>;

/// Adds a singular field's value; `None` for a field set twice (an error the general path
/// words).
fn set(fields: &mut Fields, field: &'static FieldSchema, value: Value) -> Option<()> {
    if fields.iter().any(|(set, _)| std::ptr::eq(*set, field)) {
        return None;
    }
    fields.push((field, value));
    Some(())
}

/// Adds an element to a repeated field, in the order the query gives them.
fn push(fields: &mut Fields, field: &'static FieldSchema, value: Value) -> Option<()> {
    match fields.iter_mut().find(|(set, _)| std::ptr::eq(*set, field)) {
        Some((_, Value::Array(list))) => list.push(value),
        // Only `push` makes a repeated field's entry, always a list.
        Some(_) => return None,
        None => fields.push((field, Value::Array(vec![value]))),
    }
    Some(())
}
