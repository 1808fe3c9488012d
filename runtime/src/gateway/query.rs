//! Query parameters and path variables into the proto3 JSON object of a request.
//!
//! The rules are grpc-gateway v2's (`runtime/query.go`, `PopulateQueryParameters`), which the
//! gateway is checked against:
//!
//! - `a.b.c=v` sets a nested field; every name may be the proto name (`page_size`) or the JSON
//!   name (`pageSize`), at every level. Only singular message fields can be stepped into:
//!   `float_value.x` or `repeated_message.value` are errors (`invalid path`).
//! - A repeated field takes repeated keys: `tag=a&tag=b`. A singular field given twice is an
//!   error (`too many values`), under either of its names.
//! - A map takes `m[key]=v`; the key is checked against the map's key type and written in
//!   canonical form; one key given twice is an error. The `[key]` suffix is split at the last
//!   `[`, as grpc-gateway's `^(.*)\[(.*)\]$` does.
//! - Each value is converted by the field's type: numbers by Go's rules,
//!   bools as `strconv.ParseBool` (`true/false/1/0/t/f/T/F/TRUE/FALSE/True/False`), enums by
//!   name or number, bytes in standard or URL-safe base64, Timestamp in RFC 3339, Duration as
//!   Go writes it (`1h30m`, `1.5s`), FieldMask as comma-separated paths, wrappers as their
//!   scalar, Struct and Value as JSON text. A value that does not convert is a 400 naming the
//!   parameter: `query parameter "page_size": "abc" is not a valid int32`.
//! - A parameter that names no field (at any level) is ignored, as grpc-gateway does ("this
//!   could just be an extra query parameter that isn't part of the request"): tracking
//!   parameters and cache busters must not break calls. (The Envoy transcoder rejects them
//!   unless configured otherwise; grpc-gateway's behaviour is the one this gateway follows.)
//! - Parameters for path-bound fields and for the body field are skipped, so a query never
//!   overrides them: a parameter is skipped when one of those field paths is a prefix of its
//!   own (grpc-gateway's `filter.HasCommonPrefix`).
//! - Keys and values are percent-decoded with `+` as a space (`application/x-www-form-
//!   urlencoded`, as Go's `url.ParseQuery`). A `%` not followed by two hex digits, bytes that
//!   are not UTF-8 once decoded, and a `;` in a parameter (Go refuses `;` as a separator since
//!   1.17, so `a=1;b=2` cannot mean two things to two parsers) are 400s naming the parameter.
//!   Empty pairs (`a=1&&b=2`) are skipped; a key without `=` has the empty value.
//!   (grpc-gateway does not parse the query of a route whose every field is path- or body-bound,
//!   so it lets a malformed query through there; this gateway refuses it everywhere but under
//!   `body: "*"`, where the query is not read.)

use std::borrow::Cow;

use serde_json::{Map, Value};
use smallvec::SmallVec;

use crate::Status;
use crate::gateway::schema::{Cardinality, FieldKind, FieldSchema, MessageSchema};

pub(crate) mod convert;
#[cfg(test)]
pub(crate) mod tests;

/// A resolved field path: the field each dotted name steps into, kept inline (real requests
/// nest a few levels at most), so resolving a parameter or a path variable allocates nothing.
pub(crate) type FieldPath = SmallVec<[&'static FieldSchema; 8]>;

/// Adds the parameters of `query` (without `?`, still percent-encoded) to `target`, the JSON
/// object of a request of `schema`, following the rules of this module. `skip` lists the field
/// paths that must not be set from the query (dotted, proto or JSON names): the path-bound
/// fields and the body field. Fields are written under their JSON names; a field already in
/// `target` under its proto name is found too.
///
/// ```
/// # use rust_svc_runtime::gateway::{query::merge_query, schema::*};
/// static REQUEST: MessageSchema = MessageSchema {
///     name: "example.ListRequest",
///     fields: &[FieldSchema {
///         name: "page_size",
///         json_name: "pageSize",
///         kind: FieldKind::Scalar(ScalarKind::Int32),
///         cardinality: Cardinality::Single,
///     }],
/// };
/// let mut target = serde_json::Map::new();
/// merge_query(&REQUEST, &mut target, "page_size=20&utm_source=mail", &[]).unwrap();
/// assert_eq!(serde_json::Value::Object(target), serde_json::json!({"pageSize": 20}));
///
/// let error = merge_query(&REQUEST, &mut serde_json::Map::new(), "pageSize=abc", &[]);
/// assert_eq!(
///     error.unwrap_err().message(),
///     r#"query parameter "pageSize": "abc" is not a valid int32"#
/// );
/// ```
pub fn merge_query(
    schema: &'static MessageSchema,
    target: &mut Map<String, Value>,
    query: &str,
    skip: &[&str],
) -> Result<(), Status> {
    merge_query_skipping(schema, target, query, |path| {
        skip.iter().any(|prefix| has_prefix(path, prefix))
    })
}

/// [`merge_query`] with the skipped paths given as a predicate on the resolved field path, so
/// that the request decoder can test path bindings without collecting them first.
pub(crate) fn merge_query_skipping(
    schema: &'static MessageSchema,
    target: &mut Map<String, Value>,
    query: &str,
    skipped: impl Fn(&[&'static FieldSchema]) -> bool,
) -> Result<(), Status> {
    // One buffer for the resolved path of every parameter.
    let mut path = FieldPath::new();
    for pair in Pairs::new(query) {
        let raw_key = pair.key;
        if pair.semicolon {
            return Err(Status::invalid_argument(format!(
                "query parameter {raw_key:?}: invalid semicolon separator in query"
            )));
        }
        let key = unescape(raw_key, pair.key_escaped)
            .map_err(|problem| parameter_error(raw_key, &problem))?;
        let value = unescape(pair.value, pair.value_escaped)
            .map_err(|problem| parameter_error(raw_key, &problem))?;
        // A key that is not text names no field.
        let Ok(key) = text(key) else {
            continue;
        };
        merge_parameter(schema, target, &key, text(value), &mut path, &skipped)
            .map_err(|problem| parameter_error(&key, &problem))?;
    }
    Ok(())
}

/// One `key=value` pair of a query, still percent-encoded, and what one look at its bytes
/// found: whether it holds a `;`, and whether its key or value has anything to decode.
pub(crate) struct Pair<'q> {
    pub(crate) key: &'q str,
    pub(crate) value: &'q str,
    pub(crate) semicolon: bool,
    pub(crate) key_escaped: bool,
    pub(crate) value_escaped: bool,
}

/// The non-empty pairs of a query, split at `&` and at the first `=` (a key without one has the
/// empty value). One pass over the bytes does what `split('&')`, `split_once('=')`, a search
/// for `;` and a search for escapes did in four; splitting at ASCII bytes keeps the pieces
/// UTF-8.
pub(crate) struct Pairs<'q> {
    query: &'q str,
    at: usize,
}

impl<'q> Pairs<'q> {
    pub(crate) fn new(query: &'q str) -> Self {
        Pairs { query, at: 0 }
    }
}

impl<'q> Iterator for Pairs<'q> {
    type Item = Pair<'q>;

    fn next(&mut self) -> Option<Pair<'q>> {
        let bytes = self.query.as_bytes();
        while self.at < bytes.len() {
            let start = self.at;
            let mut equals = None;
            let (mut semicolon, mut key_escaped, mut value_escaped) = (false, false, false);
            let mut end = start;
            while end < bytes.len() {
                match bytes[end] {
                    b'&' => break,
                    b'=' if equals.is_none() => equals = Some(end),
                    b';' => semicolon = true,
                    b'%' | b'+' if equals.is_none() => key_escaped = true,
                    b'%' | b'+' => value_escaped = true,
                    _ => {}
                }
                end += 1;
            }
            self.at = end + 1;
            if end == start {
                // An empty pair (`a=1&&b=2`).
                continue;
            }
            let (key, value) = match equals {
                Some(equals) => (&self.query[start..equals], &self.query[equals + 1..end]),
                None => (&self.query[start..end], ""),
            };
            return Some(Pair {
                key,
                value,
                semicolon,
                key_escaped,
                value_escaped,
            });
        }
        None
    }
}

fn parameter_error(key: &str, problem: &str) -> Status {
    Status::invalid_argument(format!("query parameter {key:?}: {problem}"))
}

/// Sets the field `key` names from one decoded value (or the problem with it, an error only if
/// the field is set); `Err` is the problem, without the name.
fn merge_parameter(
    schema: &'static MessageSchema,
    target: &mut Map<String, Value>,
    key: &str,
    value: Result<Cow<'_, str>, String>,
    path: &mut FieldPath,
    skipped: &impl Fn(&[&'static FieldSchema]) -> bool,
) -> Result<(), String> {
    let (name, map_key) = split_map_key(key);
    path.clear();
    if !resolve(schema, name, path)? || skipped(path) {
        return Ok(());
    }
    let value = value?;
    let (leaf, parents) = path.split_last().expect("a resolved path is never empty");
    let object = object_at(target, parents)?;
    match (leaf.cardinality, map_key) {
        (Cardinality::Map(key_kind), Some(map_key)) => {
            let map_key = convert::map_key(key_kind, Cow::Borrowed(map_key))?;
            let value = convert::field_value(&leaf.kind, value)?;
            let entry = field_entry(object, leaf);
            if entry.is_null() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(map) = entry else {
                return Err(format!("{:?} is not an object in the request", leaf.name));
            };
            if map.contains_key(&map_key) {
                return Err(format!("more than one value for map key {map_key:?}"));
            }
            map.insert(map_key, value);
        }
        (Cardinality::Map(_), None) => {
            return Err(format!(
                "{:?} is a map: set its entries as {name}[key]=value",
                leaf.name
            ));
        }
        (_, Some(_)) => return Err(format!("{:?} is not a map", leaf.name)),
        (Cardinality::Repeated, None) => {
            let value = convert::field_value(&leaf.kind, value)?;
            let entry = field_entry(object, leaf);
            if entry.is_null() {
                *entry = Value::Array(Vec::new());
            }
            let Value::Array(list) = entry else {
                return Err(format!("{:?} is not a list in the request", leaf.name));
            };
            list.push(value);
        }
        (Cardinality::Single, None) => {
            let value = convert::field_value(&leaf.kind, value)?;
            // Present at all, not only non-null: a `google.protobuf.Value` given `null` is set.
            if object.contains_key(leaf.json_name) || object.contains_key(leaf.name) {
                return Err(format!(
                    "too many values for field {:?}, which is not repeated",
                    leaf.name
                ));
            }
            object.insert(leaf.json_name.to_owned(), value);
        }
    }
    Ok(())
}

/// Splits `m[key]` into `("m", Some("key"))` at the last `[`.
fn split_map_key(key: &str) -> (&str, Option<&str>) {
    if let Some(inner) = key.strip_suffix(']')
        && let Some(open) = inner.rfind('[')
    {
        return (&inner[..open], Some(&inner[open + 1..]));
    }
    (key, None)
}

/// Resolves the dotted `name` into `path`. `Ok(false)` when some name is not a field (the
/// parameter is then ignored); an error when a field that is not a singular message is stepped
/// into.
pub(crate) fn resolve(
    schema: &'static MessageSchema,
    name: &str,
    path: &mut FieldPath,
) -> Result<bool, String> {
    let mut level = schema;
    let mut segments = dotted(name).peekable();
    while let Some(segment) = segments.next() {
        let Some(field) = level.field(segment) else {
            return Ok(false);
        };
        path.push(field);
        if segments.peek().is_some() {
            level = match (field.cardinality, &field.kind) {
                (Cardinality::Single, FieldKind::Message(inner)) => inner,
                _ => return Err(format!("invalid path: {segment:?} is not a message")),
            };
        }
    }
    Ok(true)
}

/// The names of a dotted field path (`a.b.c`), split without `str::split`'s searcher, which
/// costs more than it saves on names this short.
fn dotted(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|byte| byte == b'.') {
            Some(dot) => {
                rest = Some(&current[dot + 1..]);
                Some(&current[..dot])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Whether the dotted `prefix` (proto or JSON names) names `path` or one of its parents.
pub(crate) fn has_prefix(path: &[&'static FieldSchema], prefix: &str) -> bool {
    let mut fields = path.iter();
    dotted(prefix).all(|segment| {
        fields
            .next()
            .is_some_and(|field| segment == field.name || segment == field.json_name)
    })
}

/// Resolves the field path a path variable binds (every name must exist, every parent be a
/// singular message, the leaf no map: the generator checked it, so a miss is a server error,
/// not the client's).
pub(crate) fn resolve_binding(
    schema: &'static MessageSchema,
    field_path: &str,
    path: &mut FieldPath,
) -> Result<(), Status> {
    match resolve(schema, field_path, path) {
        Ok(true)
            if path.last().is_some_and(|leaf| match leaf.cardinality {
                Cardinality::Single => true,
                Cardinality::Repeated => {
                    matches!(leaf.kind, FieldKind::Scalar(_) | FieldKind::Enum(_))
                }
                Cardinality::Map(_) => false,
            }) =>
        {
            Ok(())
        }
        _ => Err(Status::internal(format!(
            "path variable {field_path:?} does not name a singular or repeated scalar field of {}",
            schema.name
        ))),
    }
}

/// The proto3 JSON value a path variable's (percent-decoded) string gives the field it binds:
/// the same conversion as for a query parameter, with errors naming the variable
/// (`path variable "sku": ...`). The field must be a scalar, enum or string-form well-known
/// type; a repeated one takes comma-separated values (`1,2,3`), as grpc-gateway reads them.
/// The generator rejects path variables bound to anything else.
pub fn binding_value(
    schema: &'static MessageSchema,
    field_path: &str,
    value: &str,
) -> Result<Value, Status> {
    let mut path = FieldPath::new();
    resolve_binding(schema, field_path, &mut path)?;
    let leaf = path.last().expect("a resolved path is never empty");
    leaf_value(leaf, field_path, value)
}

/// [`binding_value`] of the resolved field `leaf`.
pub(crate) fn leaf_value(
    leaf: &FieldSchema,
    field_path: &str,
    value: &str,
) -> Result<Value, Status> {
    let problem =
        |problem| Status::invalid_argument(format!("path variable {field_path:?}: {problem}"));
    if leaf.cardinality == Cardinality::Single {
        return convert::field_value(&leaf.kind, Cow::Borrowed(value)).map_err(problem);
    }
    value
        .split(',')
        .enumerate()
        .map(|(index, element)| {
            convert::field_value(&leaf.kind, Cow::Borrowed(element))
                .map_err(|text| problem(format!("value {} of {value:?}: {text}", index + 1)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// The object holding the fields of the message at `parents` (a resolved path of singular
/// message fields), created empty where absent or `null` (proto3 JSON's "absent").
pub(crate) fn object_at<'m>(
    target: &'m mut Map<String, Value>,
    parents: &[&'static FieldSchema],
) -> Result<&'m mut Map<String, Value>, String> {
    let mut object = target;
    for field in parents {
        let entry = field_entry(object, field);
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        object = match entry {
            Value::Object(inner) => inner,
            _ => return Err(format!("{:?} must be a JSON object", field.json_name)),
        };
    }
    Ok(object)
}

/// The value of `field` in `object`, under its JSON name or else its proto name (a body may use
/// either), inserted as `null` under its JSON name when absent.
fn field_entry<'m>(object: &'m mut Map<String, Value>, field: &FieldSchema) -> &'m mut Value {
    // Lookups rather than `entry`, which would allocate the key on every call; a field found
    // under its JSON name is not looked for again.
    let key = if object.contains_key(field.json_name) {
        field.json_name
    } else if field.name != field.json_name && object.contains_key(field.name) {
        field.name
    } else {
        return object.entry(field.json_name).or_insert(Value::Null);
    };
    object.get_mut(key).expect("the key was just found")
}

/// Sets `field` to `value`, replacing it under either name: the request must hold each field
/// once, or the message's serde impl reports a duplicate.
pub(crate) fn set_field(object: &mut Map<String, Value>, field: &FieldSchema, value: Value) {
    if field.name != field.json_name {
        object.remove(field.name);
    }
    object.insert(field.json_name.to_owned(), value);
}

/// One query key or value once percent-decoded: text, or bytes that are not UTF-8.
pub(crate) enum Decoded<'q> {
    Text(Cow<'q, str>),
    NotUtf8,
}

/// Percent-decodes one query key or value, `+` being a space; an error only for an escape that
/// is not one (`%zz`), which Go's `url.ParseQuery` refuses anywhere in a query, so grpc-gateway
/// answers 400 whatever the parameter. Borrows when there is nothing to decode (`escaped` is
/// false: no `%` or `+`), which is the common case, and which is text already.
pub(crate) fn unescape(raw: &str, escaped: bool) -> Result<Decoded<'_>, String> {
    if !escaped {
        return Ok(Decoded::Text(Cow::Borrowed(raw)));
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let high = bytes.get(at + 1).and_then(|byte| hex_digit(*byte));
                let low = bytes.get(at + 2).and_then(|byte| hex_digit(*byte));
                let (Some(high), Some(low)) = (high, low) else {
                    let escape: String = raw[at..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {escape:?}"));
                };
                decoded.push(high << 4 | low);
                at += 2;
            }
            byte => decoded.push(byte),
        }
        at += 1;
    }
    Ok(match String::from_utf8(decoded) {
        Ok(text) => Decoded::Text(Cow::Owned(text)),
        Err(_) => Decoded::NotUtf8,
    })
}

/// A decoded query key or value as text. Bytes that are not UTF-8 are an error only where they
/// would set a field: Go keeps them in its strings, so grpc-gateway ignores such a parameter
/// that names no field.
pub(crate) fn text(decoded: Decoded<'_>) -> Result<Cow<'_, str>, String> {
    match decoded {
        Decoded::Text(text) => Ok(text),
        Decoded::NotUtf8 => Err("not valid UTF-8 once percent-decoded".to_owned()),
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}
