//! The field mask of a PATCH request that leaves it out, filled from the body as grpc-gateway
//! v2 does by default: for an rpc whose rule has a message field as its `body` and whose
//! request has exactly one `google.protobuf.FieldMask` field, a request without a mask (or
//! with an empty one) updates what the body sets. The paths are proto field names, a nested
//! object a dotted path into it; a list, a map, a scalar, `null` or an empty object ends its
//! path (field_mask.proto: no path goes into a repeated field), except that an empty object
//! inside a `Struct` or `Value` names nothing; sorted. A key the message does
//! not have is a 400, as in grpc-gateway, whose mask would otherwise name nothing.

use serde_json::{Map, Value};

use super::super::schema::{Cardinality, FieldKind, FieldSchema, MessageSchema, WellKnown};
use crate::Status;
use crate::json::query_text::QUERY_KEY;

/// The request's field mask field, when it has exactly one (grpc-gateway's condition).
pub(super) fn mask_field(schema: &'static MessageSchema) -> Option<&'static FieldSchema> {
    let mut masks = schema.fields.iter().filter(|field| {
        field.cardinality == Cardinality::Single
            && matches!(field.kind, FieldKind::WellKnown(WellKnown::FieldMask))
    });
    let mask = masks.next()?;
    masks.next().is_none().then_some(mask)
}

/// Whether the merged request already has a mask with paths, under either name.
pub(super) fn has_paths(target: &Map<String, Value>, mask: &FieldSchema) -> bool {
    [mask.json_name, mask.name]
        .into_iter()
        .filter_map(|name| target.get(name))
        .any(|value| {
            // The body's JSON string, or the query's text (see `query_text`).
            let paths = match value {
                Value::Object(query) => query.get(QUERY_KEY).and_then(Value::as_str),
                other => other.as_str(),
            };
            paths.is_some_and(|paths| !paths.trim().is_empty())
        })
}

/// The paths `body`, an object of `schema`'s message, sets (see the module docs), as the JSON
/// form of a field mask: comma-separated, in proto names, which the mask's reader takes as
/// they are.
pub(super) fn body_mask(schema: &'static MessageSchema, body: &Value) -> Result<String, Status> {
    let mut paths = Vec::new();
    // A work list, not recursion: a body nests as deep as its sender likes.
    let mut queue = vec![(String::new(), Some(schema), body)];
    while let Some((path, schema, node)) = queue.pop() {
        let object = match node {
            Value::Object(object) if !object.is_empty() => object,
            // An empty object in a `Struct` or `Value` (the field's own `{}` too) names no
            // path, as grpc-gateway builds its paths from the object's keys alone.
            Value::Object(_) if schema.is_none() => continue,
            _ => {
                if !path.is_empty() {
                    paths.push(path);
                }
                continue;
            }
        };
        for (key, value) in object {
            let child_path = |name: &str| {
                if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            };
            let Some(schema) = schema else {
                // Inside a `Struct` or `Value`: its keys are the path, as grpc-gateway writes them.
                queue.push((child_path(key), None, value));
                continue;
            };
            let field = schema.field(key).ok_or_else(|| {
                let at = if path.is_empty() { "body" } else { &path };
                Status::invalid_argument(format!(
                    "{at}: cannot build the update mask: `{key}` is not a field of {}",
                    schema.name
                ))
            })?;
            let child = child_path(field.name);
            match (field.cardinality, field.kind) {
                (Cardinality::Repeated | Cardinality::Map(_), _) => paths.push(child),
                (_, FieldKind::Message(inner)) => queue.push((child, Some(inner), value)),
                (_, FieldKind::WellKnown(WellKnown::Struct | WellKnown::Value)) => {
                    queue.push((child, None, value));
                }
                _ => paths.push(child),
            }
        }
    }
    paths.sort_unstable();
    Ok(paths.join(","))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::schema::ScalarKind;

    static AUTHOR: MessageSchema = MessageSchema::new(
        "t.Author",
        &[
            FieldSchema::scalar("display_name", "displayName", ScalarKind::String),
            FieldSchema::scalar("email", "email", ScalarKind::String),
        ],
    );
    static BOOK: MessageSchema = MessageSchema::new(
        "t.Book",
        &[
            FieldSchema::scalar("name", "name", ScalarKind::String),
            FieldSchema::scalar("title", "title", ScalarKind::String),
            FieldSchema::message("author", "author", &AUTHOR),
            FieldSchema::scalar("tags", "tags", ScalarKind::String).repeated(),
            FieldSchema::scalar("counts", "counts", ScalarKind::Int32).map(ScalarKind::String),
            FieldSchema::well_known("extra", "extra", WellKnown::Struct),
            FieldSchema::well_known("published", "published", WellKnown::Timestamp),
        ],
    );
    static UPDATE: MessageSchema = MessageSchema::new(
        "t.UpdateBookRequest",
        &[
            FieldSchema::message("book", "book", &BOOK),
            FieldSchema::well_known("update_mask", "updateMask", WellKnown::FieldMask),
        ],
    );

    #[test]
    fn the_mask_names_what_the_body_sets_in_proto_names_sorted() {
        let body = json!({
            "title": "t",
            "author": {"displayName": "d", "email": null},
            "tags": ["a"],
            "counts": {"x": 1},
            "extra": {"k": {"deep": 1}, "flat": 2},
            "published": "2026-01-01T00:00:00Z",
        });
        assert_eq!(
            body_mask(&BOOK, &body).unwrap(),
            "author.display_name,author.email,counts,extra.flat,extra.k.deep,published,tags,title"
        );
        // An empty object is a path of its own, except in a `Struct`; an empty body sets
        // nothing.
        assert_eq!(body_mask(&BOOK, &json!({"author": {}})).unwrap(), "author");
        assert_eq!(
            body_mask(&BOOK, &json!({"extra": {}, "title": "t"})).unwrap(),
            "title"
        );
        assert_eq!(
            body_mask(&BOOK, &json!({"extra": {"k": {}, "j": []}})).unwrap(),
            "extra.j"
        );
        assert_eq!(body_mask(&BOOK, &json!({})).unwrap(), "");
    }

    #[test]
    fn a_key_the_message_lacks_is_an_error_naming_it() {
        let error = body_mask(&BOOK, &json!({"author": {"nick": "x"}})).unwrap_err();
        assert_eq!(error.code(), crate::Code::InvalidArgument);
        assert!(
            error
                .message()
                .starts_with("author: cannot build the update mask: `nick`"),
            "{error:?}"
        );
    }

    #[test]
    fn only_a_request_with_one_mask_has_one_filled() {
        assert_eq!(mask_field(&UPDATE).map(|f| f.name), Some("update_mask"));
        assert!(mask_field(&BOOK).is_none());
        let explicit = json!({"updateMask": "title"});
        assert!(has_paths(
            explicit.as_object().unwrap(),
            mask_field(&UPDATE).unwrap()
        ));
        let empty = json!({"update_mask": ""});
        assert!(!has_paths(
            empty.as_object().unwrap(),
            mask_field(&UPDATE).unwrap()
        ));
    }
}
