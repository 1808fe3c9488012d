//! The `Serialize` impls: a message as a JSON object of its set fields (every field without
//! presence too, with `emit_unpopulated`), an enum as its value's name.
//!
//! Each field's value goes to serde as it is when serde's form is proto3's (strings, bools,
//! 32-bit integers, messages, and vectors and maps of them), else through one of the runtime's
//! `json` wrappers, which write 64-bit integers as strings, floats with their three special
//! names, bytes as base64 and enum numbers by name, in a field, a vector or a map alike.

use std::fmt::Write as _;

use super::fields::{Field, Fields, Holder, Value};
use super::{Emitted, Options};

/// The `Serialize` impl of the message `rust` (its Rust path), named `name` in proto.
pub fn message(out: &mut Emitted, rust: &str, name: &str, fields: &Fields, options: &Options) {
    let code = &mut out.code;
    start(code, rust);
    if fields.fields.is_empty() && fields.oneofs.is_empty() {
        let _ = write!(
            code,
            "        __serde::Serializer::serialize_struct(serializer, \"{name}\", 0)
            .and_then(__serde::ser::SerializeStruct::end)
    }}
}}
"
        );
        return;
    }
    code.push_str("        use __serde::ser::SerializeStruct;\n");
    // How many members are written: serde's `serialize_struct` is told.
    let conditions: Vec<Condition> = fields
        .fields
        .iter()
        .map(|field| condition(field, options))
        .collect();
    let mut always = 0;
    let mut counted = Vec::new();
    for (field, condition) in fields.fields.iter().zip(&conditions) {
        match condition {
            Condition::Always => always += 1,
            Condition::If(test) => counted.push(test.clone()),
            Condition::IfSome => counted.push(format!("self.{}.is_some()", field.rust)),
        }
    }
    for oneof in &fields.oneofs {
        counted.push(format!("self.{}.is_some()", oneof.rust));
    }
    let terms: Vec<String> = (always > 0)
        .then(|| always.to_string())
        .into_iter()
        .chain(counted.iter().map(|test| format!("usize::from({test})")))
        .collect();
    let _ = writeln!(
        code,
        "        let len = {};",
        terms.join("\n            + ")
    );
    let _ = writeln!(
        code,
        "        let mut struct_ser = serializer.serialize_struct(\"{name}\", len)?;"
    );
    for (field, condition) in fields.fields.iter().zip(conditions) {
        let key = key(field, options);
        let place = format!("&self.{}", field.rust);
        match condition {
            Condition::Always if field.null_when_unset => {
                // The `Option` itself where serde's form is the value's (`None` is `null`), else
                // the value's form when set and `null` when not.
                match wrapped(out, &field.value, "v", options) {
                    Some(some) => write_if_some(&mut out.code, field, key, &some, true),
                    None => write_field(&mut out.code, 2, key, &place),
                }
            }
            Condition::Always => {
                let value = value(out, &field.value, &place, options);
                write_field(&mut out.code, 2, key, &value);
            }
            Condition::If(test) => {
                let value = value(out, &field.value, &place, options);
                let _ = writeln!(out.code, "        if {test} {{");
                write_field(&mut out.code, 3, key, &value);
                out.code.push_str("        }\n");
            }
            Condition::IfSome => {
                let value = value(out, &field.value, "v", options);
                write_if_some(&mut out.code, field, key, &value, false);
            }
        }
    }
    for oneof in &fields.oneofs {
        let _ = write!(
            out.code,
            "        if let Some(v) = self.{}.as_ref() {{
            match v {{
",
            oneof.rust
        );
        for member in &oneof.members {
            let value = value(out, &member.value, "v", options);
            let _ = writeln!(
                out.code,
                "                {}::{}(v) => {{",
                oneof.path, member.rust
            );
            write_field(&mut out.code, 5, key(member, options), &value);
            out.code.push_str("                }\n");
        }
        out.code.push_str("            }\n        }\n");
    }
    out.code.push_str("        struct_ser.end()\n    }\n}\n");
}

/// The `Serialize` impl of the enum `rust`: its value's name, from prost-build's `as_str_name`.
pub fn enumeration(out: &mut Emitted, rust: &str) {
    start(&mut out.code, rust);
    out.code
        .push_str("        serializer.serialize_str(self.as_str_name())\n    }\n}\n");
}

/// The impl's head, up to the body of `serialize`.
fn start(code: &mut String, rust: &str) {
    let _ = write!(
        code,
        "impl __serde::Serialize for {rust} {{
    #[allow(deprecated)]
    fn serialize<S>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error>
    where
        S: __serde::Serializer,
    {{
"
    );
}

/// When a field is written.
enum Condition {
    Always,
    /// When the test holds (the value is not its default).
    If(String),
    /// When the `Option` is set (the value is then `v`).
    IfSome,
}

fn condition(field: &Field, options: &Options) -> Condition {
    let own = format!("self.{}", field.rust);
    match &field.holder {
        Holder::Required => Condition::Always,
        Holder::Optional if options.emit_unpopulated && field.null_when_unset => Condition::Always,
        Holder::Optional => Condition::IfSome,
        _ if options.emit_unpopulated => Condition::Always,
        Holder::Repeated | Holder::Map { .. } => Condition::If(format!("!{own}.is_empty()")),
        Holder::Implicit => Condition::If(match field.value {
            Value::Bool => own,
            Value::String | Value::Bytes => format!("!{own}.is_empty()"),
            Value::Float => format!("{own} != 0."),
            _ => format!("{own} != 0"),
        }),
    }
}

/// The member's name in the JSON object.
fn key<'f>(field: &'f Field, options: &Options) -> &'f str {
    if options.use_proto_names {
        &field.proto_name
    } else {
        &field.json_name
    }
}

/// What is handed to serde for a value of the kind `value` at `place` (a reference).
fn value(out: &mut Emitted, value: &Value, place: &str, options: &Options) -> String {
    wrapped(out, value, place, options).unwrap_or_else(|| place.to_owned())
}

/// The runtime's wrapper around the value at `place` where serde's own form is not proto3's;
/// `None` where it is (strings, bools, 32-bit integers, messages, enums as numbers).
fn wrapped(out: &mut Emitted, value: &Value, place: &str, options: &Options) -> Option<String> {
    let wrapper = match value {
        Value::String | Value::Bool | Value::Int32 | Value::Message | Value::Dynamic => {
            return None;
        }
        Value::Enum(_) if options.use_enum_numbers => return None,
        Value::Int64 => "Int64".to_owned(),
        Value::Float => "Floats".to_owned(),
        Value::Bytes => "Base64".to_owned(),
        Value::Enum(path) => format!("Enum::<{path}, _>::new"),
    };
    out.uses_json = true;
    Some(format!("&__json::{wrapper}({place})"))
}

/// The field's code when its `Option` is set (the value is `v`), and with `null_otherwise`
/// `null` when it is not.
fn write_if_some(code: &mut String, field: &Field, key: &str, value: &str, null_otherwise: bool) {
    let _ = writeln!(
        code,
        "        if let Some(v) = self.{}.as_ref() {{",
        field.rust
    );
    write_field(code, 3, key, value);
    if null_otherwise {
        code.push_str("        } else {\n");
        write_field(code, 3, key, "&()");
    }
    code.push_str("        }\n");
}

fn write_field(code: &mut String, depth: usize, key: &str, value: &str) {
    let indent = "    ".repeat(depth);
    let _ = writeln!(
        code,
        "{indent}struct_ser.serialize_field(\"{key}\", {value})?;"
    );
}
