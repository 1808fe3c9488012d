//! The errors of decoding a request: where in the body, path variable or query parameter a
//! value failed, and the body's first unknown field in the order the client wrote it.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::trace::{self, Located, Step};
use super::{BodyRule, PathBinding, body_field};
use crate::Status;
use crate::gateway::query::convert::{json_problem, map_key};
use crate::gateway::schema::{Cardinality, FieldKind, FieldSchema, MessageSchema};

/// Whether serde says a key names no field: what the generated impls answer for an unknown
/// field when the generator's `reject_unknown_fields` is on.
pub(super) fn is_unknown_field(error: &serde_json::Error) -> bool {
    error.to_string().starts_with("unknown field")
}

/// The field an "unknown field `x`" message names.
pub(super) fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = &message[message.find("unknown field `")? + "unknown field `".len()..];
    rest.split('`').next()
}

/// The body's first unknown field in document order, as serde reports it reading the bytes
/// (with the line and column): the request's `Value` keeps its keys sorted, so its error may
/// name another one, a later one in the body. `None` when the body reads without one.
pub(super) fn first_unknown_field<M: DeserializeOwned>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    body: &[u8],
) -> Option<Status> {
    let raw: Cow<'_, [u8]> = match body_rule {
        BodyRule::None => return None,
        BodyRule::Whole => Cow::Borrowed(body),
        BodyRule::Field(name) => {
            let steps = body_field(schema, name).ok()?;
            let mut wrapped = Vec::new();
            for field in &steps {
                wrapped.extend_from_slice(format!("{{\"{}\":", field.json_name).as_bytes());
            }
            wrapped.extend_from_slice(body);
            wrapped.extend(std::iter::repeat_n(b'}', steps.len()));
            Cow::Owned(wrapped)
        }
    };
    match serde_json::from_slice::<M>(&raw) {
        Err(error) if is_unknown_field(&error) => {
            let mut message = error.to_string();
            if let (BodyRule::Field(_), Some(at)) = (body_rule, message.rfind(" at line ")) {
                // The position is in the wrapped text, not in what the client sent.
                message.truncate(at);
            }
            Some(Status::invalid_argument(format!("body: {message}")))
        }
        _ => None,
    }
}

/// The error of a request `value` that failed to decode, naming where it came from (body,
/// path variable or query parameter) and the field, or `None` if decoding it again succeeds.
pub(super) fn explain<M: DeserializeOwned, B: PathBinding>(
    schema: &'static MessageSchema,
    body_rule: BodyRule,
    bindings: &[B],
    value: &Value,
) -> Option<Status> {
    let Located { mut path, message } = trace::locate::<M>(value)?;
    let mut walked = walk(schema, &path);
    let found = value_at(value, &path);
    let mut problem = walked
        .kind
        .zip(found)
        .and_then(|(kind, found)| json_problem(kind, found));
    // A map key that does not parse fails the whole map: find the key.
    if let (Some(container), Some(Value::Object(entries))) = (walked.container, found)
        && let Cardinality::Map(key_kind) = container.cardinality
        && let Some((key, key_problem)) = entries.keys().find_map(|key| {
            map_key(key_kind, Cow::Borrowed(key))
                .err()
                .map(|problem| (key, problem))
        })
    {
        walked.names.push(format!("[{key}]"));
        path.push(Step::Key(key.clone()));
        problem = Some(key_problem);
    }
    // A `Value` holds each key once, so a duplicate is a second member of a oneof (or a field
    // under both its names).
    if message.starts_with("duplicate field") && walked.kind.is_some() {
        problem = Some(format!(
            "{message}: another field of the same oneof, or the same field under its other \
             name, is already set"
        ));
    }
    let problem = problem.unwrap_or(message);
    // How many steps of `path` lead to the body field, when the error is inside it.
    let in_body_field = match body_rule {
        BodyRule::Field(name) => body_field(schema, name).ok().and_then(|steps| {
            let leads = steps.len() <= path.len()
                && steps.iter().zip(&path).all(|(field, step)| {
                    matches!(step, Step::Key(key) if key == field.json_name || key == field.name)
                });
            leads.then_some(steps.len())
        }),
        _ => None,
    };
    let binding = bindings
        .iter()
        .find(|binding| names_binding(schema, &path, binding.field_path()));
    let text = if let Some(binding) = binding {
        format!("path variable {:?}: {problem}", binding.field_path())
    } else if body_rule == BodyRule::Whole || in_body_field.is_some() {
        // The body of `body: "field"` is that field's value: name what is inside it.
        let skip = in_body_field.unwrap_or(0);
        let name: String = walked.names[skip.min(walked.names.len())..].concat();
        match name.strip_prefix('.').unwrap_or(&name) {
            "" => format!("body: {problem}"),
            name => format!("body field {name:?}: {problem}"),
        }
    } else if path.is_empty() {
        format!("invalid request: {problem}")
    } else {
        // Named as the parameter is written: `tags`, not `tags[1]`.
        let name: String = walked
            .names
            .iter()
            .zip(&path)
            .filter(|(_, step)| matches!(step, Step::Key(_)))
            .map(|(name, _)| name.as_str())
            .collect();
        format!(
            "query parameter {:?}: {problem}",
            name.trim_start_matches('.')
        )
    };
    Some(Status::invalid_argument(text))
}

/// What a located path is in terms of the schema.
struct Walked {
    /// The path as it would be written: `.items`, `[1]`, `.quantity`, `[key]` for map keys.
    names: Vec<String>,
    /// The kind of the value the path ends at, if it ends at one value of a known field.
    kind: Option<&'static FieldKind>,
    /// The repeated or map field the path ends at, if it ends at a whole one.
    container: Option<&'static FieldSchema>,
}

fn walk(schema: &'static MessageSchema, path: &[Step]) -> Walked {
    let mut names = Vec::with_capacity(path.len());
    let mut level = Some(schema);
    // A repeated or map field whose element the next step selects.
    let mut container: Option<&'static FieldSchema> = None;
    let mut kind = None;
    for step in path {
        kind = None;
        let field = match (container.take(), step) {
            (Some(field), Step::Index(index)) => {
                names.push(format!("[{index}]"));
                Some(field)
            }
            (Some(field), Step::Key(key)) => {
                names.push(format!("[{key}]"));
                Some(field)
            }
            (None, Step::Key(key)) => {
                names.push(format!(".{key}"));
                match level.and_then(|level| level.field(key)) {
                    Some(field) if field.cardinality != Cardinality::Single => {
                        container = Some(field);
                        level = None;
                        continue;
                    }
                    field => field,
                }
            }
            (None, Step::Index(index)) => {
                names.push(format!("[{index}]"));
                None
            }
        };
        kind = field.map(|field| &field.kind);
        level = match kind {
            Some(FieldKind::Message(inner)) => Some(inner),
            _ => None,
        };
    }
    Walked {
        names,
        kind,
        container,
    }
}

fn value_at<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get(key.as_str()),
        Step::Index(index) => value.get(*index),
    })
}

/// Whether `path` (JSON keys of message fields) is the field `field_path` binds.
fn names_binding(schema: &'static MessageSchema, path: &[Step], field_path: &str) -> bool {
    let mut level = Some(schema);
    let mut steps = path.iter();
    let matches = field_path.split('.').all(|segment| {
        let (Some(Step::Key(key)), Some(message)) = (steps.next(), level) else {
            return false;
        };
        let Some(field) = message.field(key) else {
            return false;
        };
        level = match &field.kind {
            FieldKind::Message(inner) => Some(inner),
            _ => None,
        };
        segment == field.name || segment == field.json_name
    });
    // A repeated field's path variable (comma-separated values) names its elements too.
    matches
        && match steps.next() {
            None => true,
            Some(Step::Index(_)) => steps.next().is_none(),
            Some(Step::Key(_)) => false,
        }
}
