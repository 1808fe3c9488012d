//! How the gateway passes a path variable's or query parameter's text to a message's serde impl
//! where grpc-gateway reads such text by other rules than protojson reads a JSON body:
//!
//! - an enum's value must be one of the enum's names or numbers (`?status=9` is refused when
//!   the enum has no 9), where a body's numbers are open and its unknown names may be
//!   discarded ([`OpenEnum`](super::open_enum::OpenEnum));
//! - a field mask's paths are taken in proto form, `update_mask=display_name` included, where a
//!   body's must be lowerCamelCase ([`FieldMask`](crate::wkt::FieldMask)); the mask a PATCH gets from
//!   its body's paths, already in proto form, goes in an object of its own
//!   ([`PROTO_PATHS_KEY`]) and is taken exactly as it is.
//!
//! The text goes in a one-member object under [`QUERY_KEY`], which those types' impls read as
//! such; no JSON body has an object there (protojson refuses one for either type).

use serde::de::{self, MapAccess};
use serde_json::{Map, Value};

/// The key of the object an enum's or field mask's path or query text is passed in.
pub(crate) const QUERY_KEY: &str = "@rust-svc.query";

/// The JSON value in which the gateway passes `text`, a path variable or query parameter.
pub(crate) fn query_value(text: String) -> Value {
    let mut object = Map::new();
    object.insert(QUERY_KEY.to_owned(), Value::String(text));
    Value::Object(object)
}

/// The key of the object in which the gateway passes the field mask it fills from a PATCH
/// body (request/patch.rs): paths in proto form, which the mask takes as they are.
pub(crate) const PROTO_PATHS_KEY: &str = "@rust-svc.proto-paths";

/// The JSON value in which the gateway passes `paths`, comma-separated proto-form paths, to a
/// field mask.
pub(crate) fn proto_paths_value(paths: String) -> Value {
    let mut object = Map::new();
    object.insert(PROTO_PATHS_KEY.to_owned(), Value::String(paths));
    Value::Object(object)
}

/// What a field mask's [`read_paths`] found.
pub(crate) enum Paths {
    /// A path variable's or query parameter's text.
    Query(String),
    /// The paths of a PATCH body, in proto form.
    Proto(String),
}

/// The text of a [`query_value`] or [`proto_paths_value`] object, read by a field mask's
/// `visit_map`; an error for any other object.
pub(crate) fn read_paths<'de, A: MapAccess<'de>>(
    mut map: A,
    expected: &dyn de::Expected,
) -> Result<Paths, A::Error> {
    match map.next_key::<std::borrow::Cow<'_, str>>()?.as_deref() {
        Some(QUERY_KEY) => map.next_value().map(Paths::Query),
        Some(PROTO_PATHS_KEY) => map.next_value().map(Paths::Proto),
        _ => Err(de::Error::invalid_type(de::Unexpected::Map, expected)),
    }
}

/// The text of a [`query_value`] object, read by a visitor's `visit_map`; an error for any
/// other object, described as `expected` describes the type.
pub(crate) fn read<'de, A: MapAccess<'de>>(
    mut map: A,
    expected: &dyn de::Expected,
) -> Result<String, A::Error> {
    if map.next_key::<std::borrow::Cow<'_, str>>()?.as_deref() != Some(QUERY_KEY) {
        return Err(de::Error::invalid_type(de::Unexpected::Map, expected));
    }
    map.next_value()
}
