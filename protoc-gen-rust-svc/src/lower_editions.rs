//! Files written with editions, lowered to the proto2 or proto3 descriptor that encodes the same
//! bytes, before anything else sees them.
//!
//! protoc (27 and later) and buf send a plugin `syntax = "editions"` descriptors whose fields'
//! behaviour comes from features, resolved per element: the edition's defaults, overridden by
//! the file's `features`, each enclosing message's, then the field's own (protobuf-go's
//! `reflect/protodesc` resolves them the same way). prost-build, the JSON impls and prost-reflect
//! know only proto2 and proto3, so each file is rewritten into the syntax that says the same:
//!
//! | feature (resolved) | proto2 | proto3 |
//! | --- | --- | --- |
//! | `field_presence = EXPLICIT` | `optional` | `optional` (a synthetic oneof) |
//! | `field_presence = IMPLICIT` | no equivalent | a plain field |
//! | `field_presence = LEGACY_REQUIRED` | `required` | no equivalent |
//! | `repeated_field_encoding = PACKED / EXPANDED` | `[packed = true]` / unset | unset / `[packed = false]` |
//! | `message_encoding = DELIMITED` | a group | no equivalent |
//!
//! A file is lowered to proto3 when one of its singular scalar fields has implicit presence,
//! else to proto2; a feature the chosen syntax cannot say is an error naming the field's
//! file:line. Enum openness needs nothing: prost keeps every enum field as an `i32`, open or
//! closed. UTF-8 validation needs nothing either: prost always validates `string`.
//!
//! The rewrite works on the file as a `DynamicMessage` of descriptor.proto, which keeps every
//! field it does not know as unknown fields: custom options (`google.api.http`, this project's
//! policies) come through byte for byte, as decoding with prost-types would not let them.

use std::collections::HashSet;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};
use prost_types::SourceCodeInfo;

use crate::error::{Error, Location};

use element::{
    index_i32, int_field, list, message_field, options, set_option_bool, string_field,
    strip_features, strip_list_deep, take_list,
};

/// `google.protobuf.Edition` values.
const EDITION_PROTO2: i32 = 998;
const EDITION_PROTO3: i32 = 999;
const EDITION_2023: i32 = 1000;
const EDITION_2024: i32 = 1001;

/// The editions the plugin lowers, for `CodeGeneratorResponse.minimum_edition` and
/// `maximum_edition`. 2024 changes no feature that matters to the wire or to prost (its new
/// features are about naming style and symbol visibility).
pub const MINIMUM_EDITION: i32 = EDITION_PROTO2;
pub const MAXIMUM_EDITION: i32 = EDITION_2024;

// `FeatureSet` values.
const PRESENCE_EXPLICIT: i32 = 1;
const PRESENCE_IMPLICIT: i32 = 2;
const PRESENCE_LEGACY_REQUIRED: i32 = 3;
const REPEATED_PACKED: i32 = 1;
const MESSAGE_DELIMITED: i32 = 2;
const ENUM_OPEN: i32 = 1;
const ENUM_CLOSED: i32 = 2;

// `FieldDescriptorProto` labels and types.
const LABEL_OPTIONAL: i32 = 1;
const LABEL_REQUIRED: i32 = 2;
const LABEL_REPEATED: i32 = 3;
const TYPE_STRING: i32 = 9;
const TYPE_GROUP: i32 = 10;
const TYPE_MESSAGE: i32 = 11;
const TYPE_BYTES: i32 = 12;

// Field numbers in descriptor.proto, for source locations.
const FILE_MESSAGE_TYPE: i32 = 4;
const FILE_ENUM_TYPE: i32 = 5;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED_TYPE: i32 = 3;
const MESSAGE_ENUM_TYPE: i32 = 4;

/// The features that matter here, resolved for one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Features {
    presence: i32,
    repeated: i32,
    message: i32,
    enumeration: i32,
}

impl Features {
    fn defaults(edition: i32) -> Option<Self> {
        match edition {
            EDITION_PROTO2 => Some(Self {
                presence: PRESENCE_EXPLICIT,
                repeated: 2,
                message: 1,
                enumeration: ENUM_CLOSED,
            }),
            EDITION_PROTO3 => Some(Self {
                presence: PRESENCE_IMPLICIT,
                repeated: REPEATED_PACKED,
                message: 1,
                enumeration: ENUM_OPEN,
            }),
            EDITION_2023 | EDITION_2024 => Some(Self {
                presence: PRESENCE_EXPLICIT,
                repeated: REPEATED_PACKED,
                message: 1,
                enumeration: ENUM_OPEN,
            }),
            _ => None,
        }
    }

    /// These features with the ones `element`'s options set.
    fn overlaid(self, element: &DynamicMessage) -> Self {
        let Some(features) =
            options(element).and_then(|options| message_field(&options, "features"))
        else {
            return self;
        };
        let get = |name: &str, current: i32| match features.get_field_by_name(name).as_deref() {
            Some(Value::EnumNumber(number)) if features.has_field_by_name(name) => *number,
            _ => current,
        };
        Self {
            presence: get("field_presence", self.presence),
            repeated: get("repeated_field_encoding", self.repeated),
            message: get("message_encoding", self.message),
            enumeration: get("enum_type", self.enumeration),
        }
    }
}

/// The syntax a file is lowered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Proto2,
    Proto3,
}

/// Lowers an encoded `FileDescriptorProto` written with editions; `Ok(None)` for a proto2 or
/// proto3 file, which is left as it is. `sources` places errors at a line.
pub fn lower(
    descriptor: &[u8],
    sources: Option<&SourceCodeInfo>,
) -> Result<Option<Vec<u8>>, Error> {
    // Most files are proto2 or proto3: a scan of the top-level fields tells, without decoding
    // the whole descriptor.
    if !is_editions(descriptor) {
        return Ok(None);
    }
    let pool = DescriptorPool::global();
    let file_descriptor = pool
        .get_message_by_name("google.protobuf.FileDescriptorProto")
        .ok_or_else(|| Error::new("internal error: descriptor.proto is missing"))?;
    let mut file = DynamicMessage::decode(file_descriptor, descriptor)
        .map_err(|error| Error::new(format!("the request's descriptors are invalid: {error}")))?;
    if string_field(&file, "syntax") != "editions" {
        return Ok(None);
    }
    let name = string_field(&file, "name");
    let edition = match file.get_field_by_name("edition").as_deref() {
        Some(Value::EnumNumber(number)) => *number,
        _ => 0,
    };
    let defaults = Features::defaults(edition).ok_or_else(|| {
        Error::new(format!(
            "{name}: edition {edition} is not supported: this generator lowers editions \
             proto2, proto3, 2023 and 2024 (google.protobuf.Edition {MINIMUM_EDITION} to \
             {MAXIMUM_EDITION})"
        ))
    })?;
    let file_features = defaults.overlaid(&file);
    let mut lowering = Lowering {
        file: name,
        sources,
        syntax: Syntax::Proto2,
    };
    // First which syntax can say the file, then the rewrite in it.
    let needs_implicit = list(&file, "message_type")
        .iter()
        .any(|message| has_implicit_field(message, file_features));
    if needs_implicit {
        lowering.syntax = Syntax::Proto3;
    }
    let package = string_field(&file, "package");
    let mut messages = take_list(&mut file, "message_type");
    for (index, message) in messages.iter_mut().enumerate() {
        let path = vec![FILE_MESSAGE_TYPE, index_i32(index)];
        lowering.message(message, file_features, &package, path)?;
    }
    file.set_field_by_name("message_type", Value::List(messages));
    for (index, enumeration) in list(&file, "enum_type").iter().enumerate() {
        let path = [FILE_ENUM_TYPE, index_i32(index)];
        lowering.enumeration(enumeration, file_features, &package, &path)?;
    }
    for list_name in ["enum_type", "extension", "service"] {
        strip_list_deep(&mut file, list_name);
    }
    strip_features(&mut file);
    file.clear_field_by_name("edition");
    let syntax = match lowering.syntax {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
    };
    file.set_field_by_name("syntax", Value::String(syntax.to_owned()));
    Ok(Some(file.encode_to_vec()))
}

/// Whether an encoded `FileDescriptorProto` says `syntax = "editions"` (field 12). Unreadable
/// bytes say yes, so that the full decode reports them.
fn is_editions(descriptor: &[u8]) -> bool {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    const FILE_SYNTAX: u32 = 12;
    let mut rest = descriptor;
    let mut syntax = None;
    while !rest.is_empty() {
        let Ok((tag, wire_type)) = decode_key(&mut rest) else {
            return true;
        };
        if tag == FILE_SYNTAX && wire_type == WireType::LengthDelimited {
            let Ok(len) = decode_varint(&mut rest) else {
                return true;
            };
            let Some((value, tail)) = usize::try_from(len)
                .ok()
                .and_then(|len| (len <= rest.len()).then(|| rest.split_at(len)))
            else {
                return true;
            };
            syntax = Some(value);
            rest = tail;
        } else if skip_field(wire_type, tag, &mut rest, DecodeContext::default()).is_err() {
            return true;
        }
    }
    syntax == Some(b"editions".as_slice())
}

/// What lowering a file knows.
struct Lowering<'a> {
    file: String,
    sources: Option<&'a SourceCodeInfo>,
    syntax: Syntax,
}

impl Lowering<'_> {
    /// Rewrites `message` (at `path` in the file) and its nested messages.
    fn message(
        &self,
        message: &mut Value,
        inherited: Features,
        scope: &str,
        path: Vec<i32>,
    ) -> Result<(), Error> {
        let Value::Message(message) = message else {
            return Ok(());
        };
        let features = inherited.overlaid(message);
        let map_entry = is_map_entry(message);
        let name = string_field(message, "name");
        let full_name = if scope.is_empty() {
            name
        } else {
            format!("{scope}.{name}")
        };
        // A map field is a repeated field of its entry message, which is never delimited
        // (protoc keeps a map's entries length-prefixed whatever the features say).
        let map_entries: HashSet<String> = list(message, "nested_type")
            .iter()
            .filter_map(|nested| match nested {
                Value::Message(nested) if is_map_entry(nested) => {
                    Some(format!("{full_name}.{}", string_field(nested, "name")))
                }
                _ => None,
            })
            .collect();
        // The names a synthetic oneof must not take: protoc's parser starts from the fields'
        // and oneofs' names and adds each synthetic oneof's as it names it.
        let mut taken: HashSet<String> = list(message, "field")
            .iter()
            .chain(list(message, "oneof_decl").iter())
            .filter_map(|element| match element {
                Value::Message(element) => Some(string_field(element, "name")),
                _ => None,
            })
            .collect();
        let mut fields = take_list(message, "field");
        let mut synthetic_oneofs = Vec::new();
        let real_oneofs = list(message, "oneof_decl").len();
        for (index, field) in fields.iter_mut().enumerate() {
            let Value::Message(field) = field else {
                continue;
            };
            let mut field_path = path.clone();
            field_path.extend([MESSAGE_FIELD, index_i32(index)]);
            let field_features = features.overlaid(field);
            let synthetic = if map_entry {
                None
            } else {
                let map =
                    map_entries.contains(string_field(field, "type_name").trim_start_matches('.'));
                self.field(field, field_features, &full_name, &field_path, map)?
            };
            if let Some(oneof) = synthetic {
                let oneof = synthetic_oneof_name(&oneof, &mut taken);
                let oneof_index = index_i32(real_oneofs + synthetic_oneofs.len());
                field.set_field_by_name("oneof_index", Value::I32(oneof_index));
                synthetic_oneofs.push(oneof);
            }
            strip_features(field);
        }
        message.set_field_by_name("field", Value::List(fields));
        if !synthetic_oneofs.is_empty() {
            let mut oneofs = take_list(message, "oneof_decl");
            let oneof_descriptor = message
                .descriptor()
                .get_field_by_name("oneof_decl")
                .and_then(|field| field.kind().as_message().cloned());
            if let Some(oneof_descriptor) = oneof_descriptor {
                for name in synthetic_oneofs {
                    let mut oneof = DynamicMessage::new(oneof_descriptor.clone());
                    oneof.set_field_by_name("name", Value::String(name));
                    oneofs.push(Value::Message(oneof));
                }
            }
            message.set_field_by_name("oneof_decl", Value::List(oneofs));
        }
        let mut nested = take_list(message, "nested_type");
        for (index, child) in nested.iter_mut().enumerate() {
            let mut child_path = path.clone();
            child_path.extend([MESSAGE_NESTED_TYPE, index_i32(index)]);
            self.message(child, features, &full_name, child_path)?;
        }
        if !nested.is_empty() {
            message.set_field_by_name("nested_type", Value::List(nested));
        }
        for (index, enumeration) in list(message, "enum_type").iter().enumerate() {
            let mut enum_path = path.clone();
            enum_path.extend([MESSAGE_ENUM_TYPE, index_i32(index)]);
            self.enumeration(enumeration, features, &full_name, &enum_path)?;
        }
        for list_name in ["enum_type", "extension", "oneof_decl"] {
            strip_list_deep(message, list_name);
        }
        strip_features(message);
        Ok(())
    }

    /// Rewrites one field for the file's syntax (`map`: a map field); its name if it becomes a
    /// proto3 `optional`, which needs a synthetic oneof (see [`synthetic_oneof_name`]).
    fn field(
        &self,
        field: &mut DynamicMessage,
        features: Features,
        message: &str,
        path: &[i32],
        map: bool,
    ) -> Result<Option<String>, Error> {
        let label = int_field(field, "label");
        let kind = int_field(field, "type");
        let name = string_field(field, "name");
        let is_message = kind == TYPE_MESSAGE || kind == TYPE_GROUP;
        let no_equivalent = |feature: &str| {
            Error::at(
                self.location(path),
                format!("field {message}.{name}"),
                format!(
                    "{feature} has no proto3 equivalent, and this file needs proto3 for its fields \
                     with implicit presence: the generator lowers editions to proto2 or proto3 for \
                     prost; give the field a proto3 behaviour or move it to a file without \
                     implicit presence"
                ),
            )
        };
        let delimited = features.message == MESSAGE_DELIMITED && kind == TYPE_MESSAGE && !map;
        if label == LABEL_REPEATED {
            if delimited {
                if self.syntax == Syntax::Proto3 {
                    return Err(no_equivalent("features.message_encoding = DELIMITED"));
                }
                field.set_field_by_name("type", Value::EnumNumber(TYPE_GROUP));
            }
            if is_packable(kind) {
                let packed = features.repeated == REPEATED_PACKED;
                let default = self.syntax == Syntax::Proto3;
                if packed != default {
                    set_option_bool(field, "packed", packed);
                }
            }
            return Ok(None);
        }
        if delimited {
            if self.syntax == Syntax::Proto3 {
                return Err(no_equivalent("features.message_encoding = DELIMITED"));
            }
            field.set_field_by_name("type", Value::EnumNumber(TYPE_GROUP));
        }
        if kind == TYPE_GROUP && self.syntax == Syntax::Proto3 {
            return Err(no_equivalent("features.message_encoding = DELIMITED"));
        }
        if features.presence == PRESENCE_LEGACY_REQUIRED {
            if self.syntax == Syntax::Proto3 {
                return Err(no_equivalent("features.field_presence = LEGACY_REQUIRED"));
            }
            field.set_field_by_name("label", Value::EnumNumber(LABEL_REQUIRED));
            return Ok(None);
        }
        let in_oneof = field.has_field_by_name("oneof_index");
        let explicit_scalar = !is_message && !in_oneof && features.presence == PRESENCE_EXPLICIT;
        if self.syntax == Syntax::Proto3 && explicit_scalar && label == LABEL_OPTIONAL {
            field.set_field_by_name("proto3_optional", Value::Bool(true));
            return Ok(Some(name));
        }
        Ok(None)
    }

    /// Checks that the enum at `path` can be said in the file's syntax: a closed enum whose
    /// first value is not zero cannot be in proto3 (a closed enum whose first value is zero
    /// reads as prost reads every enum, open or closed: an `i32`).
    fn enumeration(
        &self,
        enumeration: &Value,
        inherited: Features,
        scope: &str,
        path: &[i32],
    ) -> Result<(), Error> {
        let Value::Message(enumeration) = enumeration else {
            return Ok(());
        };
        if self.syntax != Syntax::Proto3
            || inherited.overlaid(enumeration).enumeration != ENUM_CLOSED
        {
            return Ok(());
        }
        let first = list(enumeration, "value")
            .first()
            .and_then(|value| match value {
                Value::Message(value) => Some(int_field(value, "number")),
                _ => None,
            });
        if first.is_none_or(|number| number == 0) {
            return Ok(());
        }
        Err(Error::at(
            self.location(path),
            match (scope, string_field(enumeration, "name")) {
                ("", name) => format!("enum {name}"),
                (scope, name) => format!("enum {scope}.{name}"),
            },
            "features.enum_type = CLOSED with a first value other than zero has no proto3 \
             equivalent, and this file needs proto3 for its fields with implicit presence: the \
             generator lowers editions to proto2 or proto3 for prost; start the enum at zero or \
             move it to a file without implicit presence",
        ))
    }

    fn location(&self, path: &[i32]) -> Location {
        let line = self.sources.and_then(|info| {
            info.location
                .iter()
                .find(|location| location.path == path)
                .and_then(|location| location.span.first())
                .and_then(|line| u32::try_from(*line).ok())
                .map(|line| line + 1)
        });
        Location {
            file: self.file.clone(),
            line,
        }
    }
}

/// Whether `message` or a message nested in it has a singular scalar field with implicit
/// presence outside a oneof, which only proto3 can say.
fn has_implicit_field(message: &Value, inherited: Features) -> bool {
    let Value::Message(message) = message else {
        return false;
    };
    let features = inherited.overlaid(message);
    let map_entry = is_map_entry(message);
    let own = !map_entry
        && list(message, "field").iter().any(|field| {
            let Value::Message(field) = field else {
                return false;
            };
            let kind = int_field(field, "type");
            let singular = int_field(field, "label") != LABEL_REPEATED;
            let scalar = kind != TYPE_MESSAGE && kind != TYPE_GROUP;
            singular
                && scalar
                && !field.has_field_by_name("oneof_index")
                && features.overlaid(field).presence == PRESENCE_IMPLICIT
        });
    own || list(message, "nested_type")
        .iter()
        .any(|nested| has_implicit_field(nested, features))
}

/// The name of the synthetic oneof of the proto3 `optional` field `field`, as protoc's parser
/// names it: `_` and the field's name (the name alone if it starts with `_`), with `X` put in
/// front until no field, oneof or earlier synthetic oneof of the message has it.
fn synthetic_oneof_name(field: &str, taken: &mut HashSet<String>) -> String {
    let mut name = if field.starts_with('_') {
        field.to_owned()
    } else {
        format!("_{field}")
    };
    while taken.contains(&name) {
        name.insert(0, 'X');
    }
    taken.insert(name.clone());
    name
}

/// Whether `message` is a map's entry, whose key and value never get presence.
fn is_map_entry(message: &DynamicMessage) -> bool {
    options(message).is_some_and(|options| {
        matches!(
            options.get_field_by_name("map_entry").as_deref(),
            Some(Value::Bool(true))
        )
    })
}

/// Whether a repeated field of this type can be packed (scalars and enums).
fn is_packable(kind: i32) -> bool {
    !matches!(kind, TYPE_STRING | TYPE_GROUP | TYPE_MESSAGE | TYPE_BYTES)
}

mod element;
#[cfg(test)]
mod tests;
