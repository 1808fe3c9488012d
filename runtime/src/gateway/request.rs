//! A request message from the parts of an HTTP request: path bindings, query and body, merged
//! into the request's proto3 JSON object and read by the message's generated serde impl.
//!
//! The merge follows google/api/http.proto and grpc-gateway v2:
//!
//! 1. The body: with `body: "*"` it is the whole message; with `body: "field"` it is the value
//!    of that field (a dotted path, `body: "shelf.theme"`, names a field inside singular
//!    message fields, as grpc-gateway and the Envoy transcoder read it); with no body rule it is not read. An empty body (no bytes) is an
//!    empty message or an absent field, as grpc-gateway treats `io.EOF`; a body of whitespace
//!    only is not JSON, and is refused as the Envoy transcoder refuses it.
//! 2. The path variables, converted by the field types like query values (errors name the
//!    variable). They override what the body said for the same field, under either of its
//!    names (grpc-gateway sets them after decoding the body).
//! 3. The query (see [`query`](super::query)), for fields that are neither path-bound nor under
//!    the body field: a query parameter never overrides a path variable or the body. With
//!    `body: "*"` the query is not read at all: every field not in the path is in the body
//!    (http.proto: "it is not possible to have HTTP parameters").
//!
//! Field names are accepted in proto and lowerCamelCase form everywhere. Unknown body fields are
//! skipped by the message's serde impl (the generator's default, as grpc-gateway and the Envoy
//! transcoder do), or rejected with `reject_unknown_fields`; the error then names the body's
//! first unknown field in document order: `body: unknown field `colour`, expected one of ...`. Every error is `INVALID_ARGUMENT` and
//! names what is wrong: `body field "items[1].quantity": expected a uint32 ...`,
//! `path variable "sku": ...`, `query parameter "page_size": ...`; malformed JSON (including
//! invalid UTF-8) keeps serde_json's line and column: `body: expected value at line 1 column 9`.

use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::{Map, Value};

use super::query::{
    FieldPath, has_prefix, leaf_value, merge_query_skipping, object_at, resolve, resolve_binding,
    set_field,
};
use super::schema::{Cardinality, FieldKind, MessageSchema};
use crate::Status;
use crate::json::query_text::proto_paths_value;

mod errors;
mod flat;
mod overlay;
mod patch;
#[cfg(test)]
mod tests;
mod trace;

use errors::{explain, first_unknown_field, is_unknown_field, unknown_field_name};

/// Where the body of a request goes: the `body` of an HttpRule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// `body: ""` (or none): the request has no body; every field not in the path comes from
    /// the query.
    None,
    /// `body: "*"`: the body is the whole request message.
    Whole,
    /// `body: "field"`: the body is the value of this field (its proto name, or a dotted path
    /// of them through singular message fields).
    Field(&'static str),
}

impl BodyRule {
    /// The rule an HttpRule's `body` string states.
    pub fn parse(body: &'static str) -> Self {
        match body {
            "" => Self::None,
            "*" => Self::Whole,
            field => Self::Field(field),
        }
    }
}

/// A path variable matched by the route table: the dotted field path it binds (`"a.b.c"`,
/// proto names) and its percent-decoded value. Implemented for pairs of strings, so a caller
/// can pass `&[("sku", "A-1")]`.
pub trait PathBinding {
    /// The dotted field path.
    fn field_path(&self) -> &str;
    /// The decoded value.
    fn value(&self) -> &str;
}

impl<P: AsRef<str>, V: AsRef<str>> PathBinding for (P, V) {
    fn field_path(&self) -> &str {
        self.0.as_ref()
    }

    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

/// What the route table matched.
impl PathBinding for rust_svc_http_template::Binding {
    fn field_path(&self) -> &str {
        &self.field_path
    }

    fn value(&self) -> &str {
        &self.value
    }
}

/// No path bindings, for requests of routes without variables.
pub const NO_BINDINGS: &[(&str, &str)] = &[];

/// Decodes a request message of `schema` from its path `bindings`, its raw `query` (without
/// `?`, still percent-encoded) and its `body`, as the [module](self) describes.
///
/// A whole-body request without path variables, the common `POST`, is decoded straight from
/// the body bytes, and so are one with variables bound to top-level fields (a custom method's
/// `POST /v1/{name}:cancel`) and one whose body is a field (`body: "order"`) when its
/// variables and parameters each set a top-level field; one without a body whose variables and
/// parameters each set a top-level field, the common `GET`, straight from their values; every
/// other one goes through [`request_value`]. Errors are
/// `INVALID_ARGUMENT` naming the parameter, variable or body field (`INTERNAL` when a binding
/// or body rule does not fit the schema, which the generator rules out).
///
/// ```
/// # use rust_svc_runtime::gateway::{request::*, schema::*};
/// static REQUEST: MessageSchema = MessageSchema {
///     name: "example.GetItemRequest",
///     fields: &[
///         FieldSchema {
///             name: "item_id", json_name: "itemId",
///             kind: FieldKind::Scalar(ScalarKind::Int64), cardinality: Cardinality::Single,
///         },
///         FieldSchema {
///             name: "verbose", json_name: "verbose",
///             kind: FieldKind::Scalar(ScalarKind::Bool), cardinality: Cardinality::Single,
///         },
///     ],
/// };
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// #[serde(rename_all = "camelCase")]
/// struct GetItemRequest {
///     #[serde(with = "string_int")]
///     item_id: i64,
///     verbose: bool,
/// }
/// # mod string_int {
/// #     pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
/// #         let text: String = serde::Deserialize::deserialize(d)?;
/// #         text.parse().map_err(serde::de::Error::custom)
/// #     }
/// # }
/// let request: GetItemRequest =
///     decode_request(&REQUEST, BodyRule::None, &[("item_id", "42")], Some("verbose=t"), b"")
///         .unwrap();
/// assert_eq!(request, GetItemRequest { item_id: 42, verbose: true });
/// ```
pub fn decode_request<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
) -> Result<M, Status> {
    decode(schema, body_rule, bindings, query, body, Mask::AsSent)
}

/// [`decode_request`] for a PATCH: a request that leaves out its field mask gets the paths its
/// body sets (see [`patch`]).
pub(crate) fn decode_patch_request<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
) -> Result<M, Status> {
    decode(schema, body_rule, bindings, query, body, Mask::FromBody)
}

/// Whether a missing field mask is filled from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mask {
    AsSent,
    FromBody,
}

fn decode<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
    mask: Mask,
) -> Result<M, Status> {
    // The direct paths; `None` from one leaves the request to the general path below.
    let direct = match body_rule {
        BodyRule::Whole if bindings.is_empty() => return decode_body(schema, body),
        BodyRule::Whole => overlay::decode(schema, bindings, body),
        BodyRule::None => flat::decode(schema, bindings, query),
        BodyRule::Field(name) if mask == Mask::AsSent && !name.contains('.') => {
            overlay::decode_field(schema, name, bindings, query, body)
        }
        // A PATCH's mask is made from the body's paths, and a nested body field is placed
        // inside its parents: the general path does both.
        BodyRule::Field(_) => None,
    };
    if let Some(message) = direct {
        return Ok(message);
    }
    let value = merged(schema, body_rule, bindings, query, body, mask)?;
    serde_json::from_value(value).map_err(|error| {
        // The value was consumed: build it again to find where the error is (error path only).
        let described = merged(schema, body_rule, bindings, query, body, mask)
            .ok()
            .and_then(|value| explain::<M, B>(schema, body_rule, bindings, &value));
        if is_unknown_field(&error)
            && let Some(first) = first_unknown_field::<M>(schema, body_rule, body)
            && described.as_ref().is_none_or(|status| {
                unknown_field_name(status.message()) != unknown_field_name(first.message())
            })
        {
            return first;
        }
        described.unwrap_or_else(|| {
            let prefix = if body_rule == BodyRule::Whole {
                "body"
            } else {
                "invalid request"
            };
            Status::invalid_argument(format!("{prefix}: {error}"))
        })
    })
}

/// The proto3 JSON object of a request before it is decoded: the body, the path bindings and
/// the query merged as the [module](self) describes. Values from the path and the query are
/// already converted to their JSON types (`"7"` for an int32 field is `7`), except an enum's
/// and a field mask's, which grpc-gateway reads from such text by other rules than protojson
/// reads a body (an enum's name or number must be one of the enum's, a mask's paths may be
/// snake_case): their text is kept in a one-member object, `{"@rust-svc.query": "1"}`, which
/// a generated message reads by those rules.
pub fn request_value<B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
) -> Result<Value, Status> {
    merged(schema, body_rule, bindings, query, body, Mask::AsSent)
}

fn merged<B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    query: Option<&str>,
    body: &[u8],
    mask: Mask,
) -> Result<Value, Status> {
    // With `Mask::FromBody`: the request's mask field, and the paths the body sets.
    let mut body_mask = None;
    let mut target = match body_rule {
        BodyRule::None => Map::new(),
        // `null` is refused as the decoder refuses it on the direct path (and protojson does).
        BodyRule::Whole => match parse_body(body)? {
            None => Map::new(),
            Some(Value::Object(object)) => object,
            Some(_) => {
                return Err(Status::invalid_argument(format!(
                    "body: expected a JSON object for {}",
                    schema.name
                )));
            }
        },
        BodyRule::Field(name) => {
            let steps = body_field(schema, name)?;
            let (field, parents) = steps.split_last().expect("a resolved path is never empty");
            let mut object = Map::new();
            match parse_body(body)? {
                None | Some(Value::Null) => {}
                Some(value) => {
                    if mask == Mask::FromBody
                        && let (Some(mask_field), FieldKind::Message(inner)) =
                            (patch::mask_field(schema), field.kind)
                        && field.cardinality == Cardinality::Single
                    {
                        body_mask = Some((mask_field, patch::body_mask(inner, &value)?));
                    }
                    let inside = object_at(&mut object, parents)
                        .expect("an empty object has room for any path");
                    inside.insert(field.json_name.to_owned(), value);
                }
            }
            object
        }
    };
    let mut path = FieldPath::new();
    for binding in bindings {
        let field_path = binding.field_path();
        path.clear();
        resolve_binding(schema, field_path, &mut path)?;
        let (leaf, parents) = path.split_last().expect("a resolved path is never empty");
        let value = leaf_value(leaf, field_path, binding.value())?;
        // Parents missing from the body are created; one the body gave as a non-object is the
        // body's error.
        let object = object_at(&mut target, parents)
            .map_err(|problem| Status::invalid_argument(format!("body: {problem}")))?;
        set_field(object, leaf, value);
    }
    if body_rule != BodyRule::Whole
        && let Some(query) = query.filter(|query| !query.is_empty())
    {
        let body_field = match body_rule {
            BodyRule::Field(name) => Some(name),
            _ => None,
        };
        merge_query_skipping(schema, &mut target, query, |path| {
            body_field.is_some_and(|name| has_prefix(path, name))
                || bindings
                    .iter()
                    .any(|binding| has_prefix(path, binding.field_path()))
        })?;
    }
    // An explicit mask (from the query, or the body with `body: "*"`) is kept.
    if let Some((mask_field, paths)) = body_mask
        && !paths.is_empty()
        && !patch::has_paths(&target, mask_field)
    {
        target.remove(mask_field.name);
        // The paths are in proto form, taken as they are (`Num`, `en_GB`, `langIdent`).
        target.insert(mask_field.json_name.to_owned(), proto_paths_value(paths));
    }
    Ok(Value::Object(target))
}

/// The body as the whole message, straight from its bytes: no intermediate `Value`, so a
/// gateway `POST` costs what a hand-written serde handler does.
fn decode_body<M: DeserializeOwned>(
    schema: &'static MessageSchema,
    body: &[u8],
) -> Result<M, Status> {
    check_not_blank(body)?;
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|error| {
        let described = match error.classify() {
            // Where a value does not fit, the path to it names the field; malformed JSON is
            // best described by serde_json's line and column.
            Category::Data => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|value| explain::<M, _>(schema, BodyRule::Whole, NO_BINDINGS, &value))
                // Read from the bytes, the error names the first unknown field in document
                // order; a `Value` (sorted keys) may find another one first.
                .filter(|status| {
                    !is_unknown_field(&error)
                        || unknown_field_name(status.message())
                            == unknown_field_name(&error.to_string())
                }),
            _ => None,
        };
        described.unwrap_or_else(|| Status::invalid_argument(format!("body: {error}")))
    })
}

/// The body as JSON; `None` when it is empty.
fn parse_body(body: &[u8]) -> Result<Option<Value>, Status> {
    if body.is_empty() {
        return Ok(None);
    }
    check_not_blank(body)?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|error| Status::invalid_argument(format!("body: {error}")))
}

/// Refuses a body of whitespace only: it has bytes, so it is not an empty body, and it holds
/// no JSON value.
fn check_not_blank(body: &[u8]) -> Result<(), Status> {
    if !body.is_empty() && body.iter().all(u8::is_ascii_whitespace) {
        return Err(Status::invalid_argument(
            "body: only whitespace, which is not JSON: send a JSON value, or no body at all",
        ));
    }
    Ok(())
}

/// The fields from the request down to the body field `name` (one for a top-level field).
fn body_field(schema: &'static MessageSchema, name: &str) -> Result<FieldPath, Status> {
    let mut path = FieldPath::new();
    match resolve(schema, name, &mut path) {
        Ok(true) => Ok(path),
        // The generator checked the path: a miss is the server's error, not the client's.
        _ => Err(Status::internal(format!(
            "the body field {name:?} is not a field of {}",
            schema.name
        ))),
    }
}
