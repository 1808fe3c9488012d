//! Reading and editing a descriptor held as a `DynamicMessage` of descriptor.proto: its
//! options, fields and lists by name, with what is missing read as empty.

use prost_reflect::{DynamicMessage, ReflectMessage, Value};

/// Sets a boolean in `element`'s options, creating them if needed.
pub(super) fn set_option_bool(element: &mut DynamicMessage, name: &str, value: bool) {
    let descriptor = element
        .descriptor()
        .get_field_by_name("options")
        .and_then(|field| field.kind().as_message().cloned());
    let Some(descriptor) = descriptor else {
        return;
    };
    let mut options = options(element).unwrap_or_else(|| DynamicMessage::new(descriptor));
    options.set_field_by_name(name, Value::Bool(value));
    element.set_field_by_name("options", Value::Message(options));
}

/// `element.options`, if set.
pub(super) fn options(element: &DynamicMessage) -> Option<DynamicMessage> {
    message_field(element, "options")
}

pub(super) fn message_field(element: &DynamicMessage, name: &str) -> Option<DynamicMessage> {
    if !element.has_field_by_name(name) {
        return None;
    }
    match element.get_field_by_name(name).as_deref() {
        Some(Value::Message(message)) => Some(message.clone()),
        _ => None,
    }
}

/// Removes `features` from `element`'s options (and the options if nothing else is left).
pub(super) fn strip_features(element: &mut DynamicMessage) {
    let Some(mut options) = options(element) else {
        return;
    };
    if !options.has_field_by_name("features") {
        return;
    }
    options.clear_field_by_name("features");
    let empty = options.fields().next().is_none() && options.unknown_fields().next().is_none();
    if empty {
        element.clear_field_by_name("options");
    } else {
        element.set_field_by_name("options", Value::Message(options));
    }
}

/// [`strip_features`] on `element` and everything it holds (enum values, methods).
pub(super) fn strip_features_deep(element: &mut Value) {
    let Value::Message(element) = element else {
        return;
    };
    for list_name in ["value", "method"] {
        strip_list_deep(element, list_name);
    }
    strip_features(element);
}

/// [`strip_features_deep`] on every element of `element`'s list field `name`, if it has one.
pub(super) fn strip_list_deep(element: &mut DynamicMessage, name: &str) {
    if element.descriptor().get_field_by_name(name).is_none() {
        return;
    }
    let mut children = take_list(element, name);
    for child in &mut children {
        strip_features_deep(child);
    }
    if !children.is_empty() {
        element.set_field_by_name(name, Value::List(children));
    }
}

pub(super) fn list(element: &DynamicMessage, name: &str) -> Vec<Value> {
    match element.get_field_by_name(name).as_deref() {
        Some(Value::List(values)) => values.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn take_list(element: &mut DynamicMessage, name: &str) -> Vec<Value> {
    let values = list(element, name);
    element.clear_field_by_name(name);
    values
}

pub(super) fn string_field(element: &DynamicMessage, name: &str) -> String {
    match element.get_field_by_name(name).as_deref() {
        Some(Value::String(text)) => text.clone(),
        _ => String::new(),
    }
}

pub(super) fn int_field(element: &DynamicMessage, name: &str) -> i32 {
    match element.get_field_by_name(name).as_deref() {
        Some(Value::EnumNumber(number) | Value::I32(number)) => *number,
        _ => 0,
    }
}

pub(super) fn index_i32(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}
