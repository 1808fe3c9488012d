//! Two corrections to pbjson-build's serde impls, where they depart from the proto3 JSON mapping
//! because of a field's type, which their code does not say but the descriptors do:
//!
//! - a `double` or `float` field (singular, `optional`, repeated, a map's values, a oneof
//!   member) is handed to serde as is, and serde_json writes `NaN` and the infinities as `null`,
//!   which reads back as `0`; proto3 JSON writes the strings `"NaN"`, `"Infinity"` and
//!   `"-Infinity"`. The value is wrapped in the runtime's `codegen::JsonFloats`, which does.
//! - a singular `google.protobuf.Value` field (a oneof member included) is read as an `Option`,
//!   so JSON `null` leaves it unset; proto3 JSON reads `null` there as the `NullValue` Value
//!   (`null` means "default" for every other type). The value itself is read instead, and
//!   `Value`'s own impl makes `null` the null value.
//!
//! The fields are found in the impls by the message's full name (the first argument of
//! `serialize_struct` and `deserialize_struct`) and their JSON name (the key of
//! `serialize_field`, the argument of `duplicate_field` in each field's arm). Code of pbjson-build
//! in another shape than the one corrected here is an internal error, not silently left wrong.

use std::collections::{HashMap, HashSet};

use heck::ToLowerCamelCase;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};
use syn::visit_mut::VisitMut;

use crate::error::Error;

/// The fields to correct, by message (full proto name, without the leading dot) and JSON name.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Corrections {
    /// `double` and `float` fields, and maps with such values.
    floats: HashMap<String, HashSet<String>>,
    /// Singular `google.protobuf.Value` fields.
    values: HashMap<String, HashSet<String>>,
    /// Messages with an enum field (a map's values included), whose impls
    /// [`open_enums`](super::open_enums) rewrites.
    enums: HashSet<String>,
    /// Messages with a oneof (not proto3 `optional`'s), whose members' reads
    /// [`nulls`](super::nulls) rewrites.
    oneofs: HashSet<String>,
    /// Message fields without presence (not in a oneof, not `optional`), by message: what
    /// [`unpopulated`](super::unpopulated) writes as `null` when unset.
    messages: HashMap<String, HashSet<String>>,
}

/// What one impl needs (see [`Corrections::concern`]).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Concern {
    /// A correction of its floats or `Value` fields.
    pub(super) correction: bool,
    /// Its enum values opened.
    pub(super) open_enums: bool,
    /// It is a `Deserialize` impl, whose reads [`nulls`](super::nulls) makes accept `null`.
    pub(super) deserialize: bool,
    /// Its message has a oneof, whose members' reads `nulls` rewrites too.
    pub(super) oneofs: bool,
}

impl Corrections {
    /// The fields of every message of `files` that need a correction.
    /// `proto_names`: whether the `Serialize` impls write proto names (`use_proto_names`), the
    /// keys of their `serialize_field` calls; the `Deserialize` impls' `duplicate_field` names
    /// a field by its JSON name either way.
    pub(super) fn of(files: &[FileDescriptorProto], proto_names: bool) -> Self {
        let mut corrections = Self::default();
        for file in files {
            for message in &file.message_type {
                corrections.add_message(file.package(), message, proto_names);
            }
        }
        corrections
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto, proto_names: bool) {
        let full_name = if scope.is_empty() {
            message.name().to_owned()
        } else {
            format!("{scope}.{}", message.name())
        };
        for field in &message.field {
            let json_name = || {
                field
                    .json_name
                    .clone()
                    .unwrap_or_else(|| field.name().to_lower_camel_case())
            };
            // The key a `Serialize` impl writes the field under.
            let serialized_name = || {
                if proto_names {
                    field.name().to_owned()
                } else {
                    json_name()
                }
            };
            let repeated = field.label() == Label::Repeated;
            let value = map_value(&full_name, message, field).unwrap_or(field);
            let float = is_float(value);
            if value.r#type() == Type::Enum {
                self.enums.insert(full_name.clone());
            }
            if field.oneof_index.is_some() && !field.proto3_optional() {
                self.oneofs.insert(full_name.clone());
            }
            if !repeated && field.r#type() == Type::Message && field.oneof_index.is_none() {
                let fields = self.messages.entry(full_name.clone()).or_default();
                fields.insert(serialized_name());
            }
            if float {
                let fields = self.floats.entry(full_name.clone()).or_default();
                fields.insert(serialized_name());
            } else if !repeated
                && field.r#type() == Type::Message
                && field.type_name() == ".google.protobuf.Value"
            {
                let fields = self.values.entry(full_name.clone()).or_default();
                fields.insert(json_name());
            }
        }
        for nested in &message.nested_type {
            if !nested.options.as_ref().is_some_and(|o| o.map_entry()) {
                self.add_message(&full_name, nested, proto_names);
            }
        }
    }

    /// What the impl `item` (pbjson-build's text) needs, read from the message it names once:
    /// a correction if it is the `Serialize` impl of a message with float fields or the
    /// `Deserialize` impl of one with `Value` fields, and its enum values opened
    /// ([`open_enums`](super::open_enums)) if its message has an enum field. Read from the text,
    /// so that the impls that need neither (nearly all) are not searched.
    pub(super) fn concern(&self, item: &str) -> Concern {
        let Some((name, deserialize)) = message_of(item) else {
            return Concern::default();
        };
        Concern {
            correction: self.floats.contains_key(name)
                || deserialize && self.values.contains_key(name),
            open_enums: self.enums.contains(name),
            deserialize,
            oneofs: deserialize && self.oneofs.contains(name),
        }
    }

    /// For a `Serialize` impl (pbjson-build's text), the JSON names of its message's message
    /// fields without presence ([`unpopulated`](super::unpopulated)); `None` for any other impl.
    pub(super) fn serialized_messages(&self, item: &str) -> Option<Option<&HashSet<String>>> {
        match message_of(item) {
            Some((name, false)) => Some(self.messages.get(name)),
            _ => None,
        }
    }

    /// Applies the corrections to pbjson-build's impls in `file`; `runtime` is the runtime
    /// crate's path.
    pub(super) fn apply(&self, file: &mut syn::File, runtime: &syn::Path) -> Result<(), Error> {
        let mut json_floats = runtime.clone();
        json_floats.segments.push(syn::parse_quote!(codegen));
        json_floats.segments.push(syn::parse_quote!(JsonFloats));
        for item in &mut file.items {
            let syn::Item::Impl(item) = item else {
                continue;
            };
            let Some((_, trait_path, _)) = &item.trait_ else {
                continue;
            };
            let (entry_point, corrections) = match trait_path.segments.last() {
                Some(last) if last.ident == "Serialize" => ("serialize_struct", &self.floats),
                Some(last) if last.ident == "Deserialize" => ("deserialize_struct", &self.values),
                _ => continue,
            };
            let Some(message) = first_string_argument(item, entry_point) else {
                continue;
            };
            let Some(fields) = corrections.get(&message) else {
                continue;
            };
            let missed = if entry_point == "serialize_struct" {
                let mut floats = FloatsThroughRuntime {
                    fields,
                    json_floats: &json_floats,
                    done: HashSet::new(),
                };
                floats.visit_item_impl_mut(item);
                fields.difference(&floats.done).next().cloned()
            } else {
                let mut values = NullIsAValue {
                    fields,
                    done: HashSet::new(),
                };
                values.visit_item_impl_mut(item);
                fields.difference(&values.done).next().cloned()
            };
            if let Some(field) = missed {
                return Err(Error::new(format!(
                    "internal error: pbjson-build's serde impl of `{message}` does not have field `{field}` in the expected shape; please report this"
                )));
            }
        }
        Ok(())
    }
}

/// The value field of `field` when it is a map (its type a map-entry message nested in
/// `message`).
fn map_value<'a>(
    full_name: &str,
    message: &'a DescriptorProto,
    field: &FieldDescriptorProto,
) -> Option<&'a FieldDescriptorProto> {
    if field.label() != Label::Repeated || field.r#type() != Type::Message {
        return None;
    }
    let entry = message.nested_type.iter().find(|nested| {
        nested.options.as_ref().is_some_and(|o| o.map_entry())
            && field.type_name().strip_prefix('.')
                == Some(format!("{full_name}.{}", nested.name()).as_str())
    })?;
    entry.field.iter().find(|value| value.number() == 2)
}

fn is_float(field: &FieldDescriptorProto) -> bool {
    matches!(field.r#type(), Type::Double | Type::Float)
}

/// The message an impl of pbjson-build's is for (the first argument of its `serialize_struct`
/// or `deserialize_struct` call), and whether it is the `Deserialize` impl.
fn message_of(item: &str) -> Option<(&str, bool)> {
    // `serialize_struct("` is found in `deserialize_struct("` too.
    const CALL: &str = "serialize_struct(\"";
    let call = item.find(CALL)?;
    let start = call + CALL.len();
    let end = start + item[start..].find('"')?;
    Some((&item[start..end], item[..call].ends_with("de")))
}

/// The string literal first argument of the first call of method `method` in `item`.
fn first_string_argument(item: &mut syn::ItemImpl, method: &str) -> Option<String> {
    struct Find<'a> {
        method: &'a str,
        found: Option<String>,
    }
    impl VisitMut for Find<'_> {
        fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
            if self.found.is_none() && call.method == self.method {
                self.found = call.args.first().and_then(string_literal);
            }
            syn::visit_mut::visit_expr_method_call_mut(self, call);
        }
    }
    let mut find = Find {
        method,
        found: None,
    };
    find.visit_item_impl_mut(item);
    find.found
}

fn string_literal(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

/// `struct_ser.serialize_field("ratio", VALUE)` becomes
/// `struct_ser.serialize_field("ratio", &<runtime>::codegen::JsonFloats(VALUE))` for the float
/// fields (VALUE is always a reference: `&self.ratio`, or `v` bound by `if let`/`match`).
struct FloatsThroughRuntime<'a> {
    fields: &'a HashSet<String>,
    json_floats: &'a syn::Path,
    done: HashSet<String>,
}

impl VisitMut for FloatsThroughRuntime<'_> {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        if call.method != "serialize_field" || call.args.len() != 2 {
            return;
        }
        let Some(name) = string_literal(&call.args[0]).filter(|name| self.fields.contains(name))
        else {
            return;
        };
        let value = &call.args[1];
        let json_floats = self.json_floats;
        call.args[1] = syn::parse_quote!(&#json_floats(#value));
        self.done.insert(name);
    }
}

/// In the match arm reading a `google.protobuf.Value` field (found by its
/// `duplicate_field("name")`), `field__ = map_.next_value()?;` becomes
/// `field__ = Some(map_.next_value()?);`, and a oneof member's
/// `oneof__ = map_.next_value::<Option<_>>()?.map(Oneof::Member);` becomes
/// `oneof__ = Some(Oneof::Member(map_.next_value()?));`.
struct NullIsAValue<'a> {
    fields: &'a HashSet<String>,
    done: HashSet<String>,
}

impl VisitMut for NullIsAValue<'_> {
    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        syn::visit_mut::visit_arm_mut(self, arm);
        let Some(name) = duplicate_field_name(&arm.body).filter(|name| self.fields.contains(name))
        else {
            return;
        };
        let syn::Expr::Block(block) = &mut *arm.body else {
            return;
        };
        let mut rewritten = false;
        for statement in &mut block.block.stmts {
            if let syn::Stmt::Expr(syn::Expr::Assign(assign), Some(_)) = statement
                && let Some(read) = read_value_even_if_null(&assign.right)
            {
                *assign.right = read;
                rewritten = true;
            }
        }
        if rewritten {
            self.done.insert(name);
        }
    }
}

/// The JSON name in `…::duplicate_field("name")` inside `body`.
fn duplicate_field_name(body: &syn::Expr) -> Option<String> {
    struct Find(Option<String>);
    impl VisitMut for Find {
        fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
            if let syn::Expr::Path(path) = &*call.func
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "duplicate_field")
            {
                self.0 = self.0.take().or(call.args.first().and_then(string_literal));
            }
            syn::visit_mut::visit_expr_call_mut(self, call);
        }
    }
    let mut find = Find(None);
    find.visit_expr_mut(&mut body.clone());
    find.0
}

/// The corrected form of pbjson's read of a Value field, `None` for another shape.
fn read_value_even_if_null(read: &syn::Expr) -> Option<syn::Expr> {
    match read {
        // `map_.next_value()?`: an `Option<Value>`.
        syn::Expr::Try(attempt) if is_next_value(&attempt.expr, false) => {
            Some(syn::parse_quote!(::core::option::Option::Some(#attempt)))
        }
        // `map_.next_value::<Option<_>>()?.map(Oneof::Member)`.
        syn::Expr::MethodCall(map) if map.method == "map" && map.args.len() == 1 => {
            let syn::Expr::Try(attempt) = &*map.receiver else {
                return None;
            };
            let syn::Expr::Path(member) = &map.args[0] else {
                return None;
            };
            if !is_next_value(&attempt.expr, true) {
                return None;
            }
            let syn::Expr::MethodCall(next_value) = &*attempt.expr else {
                return None;
            };
            let mut next_value = next_value.clone();
            next_value.turbofish = None;
            Some(syn::parse_quote!(::core::option::Option::Some(#member(#next_value?))))
        }
        _ => None,
    }
}

/// Whether `expr` is `map_.next_value()` (`with_option`: `map_.next_value::<Option<_>>()`).
fn is_next_value(expr: &syn::Expr, with_option: bool) -> bool {
    let syn::Expr::MethodCall(call) = expr else {
        return false;
    };
    if call.method != "next_value" || !call.args.is_empty() {
        return false;
    }
    match (&call.turbofish, with_option) {
        (None, false) => true,
        (Some(turbofish), true) => {
            matches!(
                turbofish.args.first(),
                Some(syn::GenericArgument::Type(syn::Type::Path(option)))
                    if turbofish.args.len() == 1
                        && option.path.segments.last().is_some_and(|last| last.ident == "Option")
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
