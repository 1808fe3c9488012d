//! The `Deserialize` impls: a message from a JSON object, by either name of each member, and an
//! enum from its value's name or number.
//!
//! What proto3 JSON reads, as protojson reads it (grpc-gateway's JSON) and as the conformance
//! suite holds parsers to it:
//! - `null` leaves any field unset, but a `google.protobuf.Value`, where it is the null value
//!   (`AllFieldAcceptNull`);
//! - numbers are read from JSON numbers and from strings, through the runtime's
//!   `NumberDeserialize`, and bytes from standard or URL-safe base64 (`BytesDeserialize`);
//! - an enum's number is kept even when the enum has no value for it (`OpenEnum`), and, unless
//!   unknown fields are rejected, a name it lacks leaves the field unset, as protojson's
//!   `DiscardUnknown` does (`LenientEnum`);
//! - a member named twice, or two members of one oneof, are an error;
//! - unknown members are skipped, or an error with `reject_unknown_fields`.
//!
//! A message's member names are matched by a plain function of its own, read through the
//! runtime's one `FieldKey` seed, and an enum's through `EnumValue` and prost-build's
//! `from_str_name`: trait impls per type would be compiled by every user crate
//! (bench/RESULTS.md, "Build time of the example's generated code").

use std::fmt::Write as _;

use super::fields::{Field, Fields, Holder, Value};
use super::{Emitted, Options};

/// The `Deserialize` impl of the message `rust` (its Rust path), named `name` in proto.
pub fn message(out: &mut Emitted, rust: &str, name: &str, fields: &Fields, options: &Options) {
    out.uses_json = true;
    let code = &mut out.code;
    start(code, rust);
    code.push_str("        const FIELDS: &[&str] = &[");
    let names: Vec<&str> = fields
        .all()
        .flat_map(|field| {
            let proto = (field.proto_name != field.json_name).then_some(&*field.proto_name);
            proto.into_iter().chain([&*field.json_name])
        })
        .collect();
    if !names.is_empty() {
        code.push('\n');
        for name in &names {
            let _ = writeln!(code, "            \"{name}\",");
        }
        code.push_str("        ");
    }
    code.push_str("];\n");
    // The field's number for each name, `0` for a name skipped, `None` for one refused.
    let unknown = if options.reject_unknown_fields {
        "None"
    } else {
        "Some(0)"
    };
    if names.is_empty() {
        let _ = writeln!(
            code,
            "        fn field(_: &str) -> ::core::option::Option<i32> {{\n            {unknown}\n        }}"
        );
    } else {
        code.push_str(
            "        fn field(name: &str) -> ::core::option::Option<i32> {\n            match name {\n",
        );
        for field in fields.all() {
            let names = match field.proto_name != field.json_name {
                true => format!("\"{}\" | \"{}\"", field.json_name, field.proto_name),
                false => format!("\"{}\"", field.json_name),
            };
            let _ = writeln!(code, "                {names} => Some({}),", field.number);
        }
        let _ = writeln!(
            code,
            "                _ => {unknown},\n            }}\n        }}"
        );
    }
    let _ = write!(
        code,
        "        struct __Visitor;
        impl<'de> __serde::de::Visitor<'de> for __Visitor {{
            type Value = {rust};
            fn expecting(&self, formatter: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{
                formatter.write_str(\"struct {name}\")
            }}
            fn visit_map<V>(self, mut map_: V) -> ::core::result::Result<{rust}, V::Error>
            where
                V: __serde::de::MapAccess<'de>,
            {{
"
    );
    for field in &fields.fields {
        let _ = writeln!(code, "                let mut {}__ = None;", field.rust);
    }
    for oneof in &fields.oneofs {
        let _ = writeln!(code, "                let mut {}__ = None;", oneof.rust);
    }
    if names.is_empty() {
        // Nothing to match: every member is skipped (or refused by `field`).
        let _ = write!(
            code,
            "                while map_.next_key_seed(__json::FieldKey(field, FIELDS))?.is_some() {{
                    let _ = map_.next_value::<__serde::de::IgnoredAny>()?;
                }}
                Ok({rust} {{}})
            }}
        }}
        deserializer.deserialize_struct(\"{name}\", FIELDS, __Visitor)
    }}
}}
"
        );
        return;
    }
    code.push_str(
        "                while let Some(k) = map_.next_key_seed(__json::FieldKey(field, FIELDS))? {\n                    match k {\n",
    );
    for field in &fields.fields {
        let _ = write!(
            code,
            "                        {} => {{
                            if {rust}__.is_some() {{
                                return Err(__serde::de::Error::duplicate_field(\"{json}\"));
                            }}
                            {rust}__ = {read};
                        }}
",
            field.number,
            rust = field.rust,
            json = field.json_name,
            read = read(field, options),
        );
    }
    for oneof in &fields.oneofs {
        for member in &oneof.members {
            let _ = write!(
                code,
                "                        {} => {{
                            let previous__ = {oneof}__.take();
                            {oneof}__ = {read};
                            if let Some(previous__) = previous__ {{
                                if {oneof}__.is_some() {{
                                    return Err(__serde::de::Error::duplicate_field(\"{json}\"));
                                }}
                                {oneof}__ = Some(previous__);
                            }}
                        }}
",
                member.number,
                oneof = oneof.rust,
                json = member.json_name,
                read = read_member(member, &format!("{}::{}", oneof.path, member.rust), options),
            );
        }
    }
    let _ = write!(
        code,
        "                        _ => {{
                            let _ = map_.next_value::<__serde::de::IgnoredAny>()?;
                        }}
                    }}
                }}
                Ok({rust} {{
"
    );
    for field in &fields.fields {
        let value = match field.holder {
            Holder::Optional => format!("{}__", field.rust),
            Holder::Required => format!(
                "{}__.ok_or_else(|| __serde::de::Error::missing_field(\"{}\"))?",
                field.rust, field.json_name
            ),
            _ => format!("{}__.unwrap_or_default()", field.rust),
        };
        let _ = writeln!(code, "                    {}: {value},", field.rust);
    }
    for oneof in &fields.oneofs {
        let _ = writeln!(code, "                    {0}: {0}__,", oneof.rust);
    }
    let _ = write!(
        code,
        "                }})
            }}
        }}
        deserializer.deserialize_struct(\"{name}\", FIELDS, __Visitor)
    }}
}}
"
    );
}

/// The `Deserialize` impl of the enum `rust` with the values `names` (one per number, as
/// prost-build's `from_str_name` reads them).
pub fn enumeration(out: &mut Emitted, rust: &str, names: &[&str]) {
    out.uses_json = true;
    let code = &mut out.code;
    start(code, rust);
    code.push_str("        const VALUES: &[&str] = &[\n");
    for name in names {
        let _ = writeln!(code, "            \"{name}\",");
    }
    code.push_str(
        "        ];
        deserializer.deserialize_any(__json::EnumValue(Self::from_str_name, VALUES))
    }
}
",
    );
}

/// The impl's head, up to the body of `deserialize`.
fn start(code: &mut String, rust: &str) {
    let _ = write!(
        code,
        "impl<'de> __serde::Deserialize<'de> for {rust} {{
    #[allow(deprecated)]
    fn deserialize<D>(deserializer: D) -> ::core::result::Result<Self, D::Error>
    where
        D: __serde::Deserializer<'de>,
    {{
"
    );
}

/// The read of a field outside any oneof: an `Option` of the field's Rust type, `None` for
/// `null` (but a `Value`'s).
fn read(field: &Field, options: &Options) -> String {
    const NEXT: &str = "map_.next_value::<::core::option::Option<";
    let lenient = !options.reject_unknown_fields;
    match (&field.holder, &field.value) {
        (Holder::Map { numeric_keys }, value) => {
            let (key, key_out) = match numeric_keys {
                true => ("__json::NumberDeserialize<_>", "k.0"),
                false => ("_", "k"),
            };
            let (value_type, value_out) = match value {
                Value::Int32 | Value::Int64 | Value::Float => {
                    ("__json::NumberDeserialize<_>".to_owned(), Some("v.0"))
                }
                Value::Bytes => ("__json::BytesDeserialize<_>".to_owned(), Some("v.0")),
                Value::Enum(path) if lenient => {
                    let map =
                        format!("::std::collections::HashMap<{key}, __json::LenientEnum<{path}>>");
                    return format!(
                        "{NEXT}{map}>>()?\n                                .map(|x| x.into_iter().filter_map(|(k, v)| v.0.map(|v| ({key_out}, v))).collect())"
                    );
                }
                Value::Enum(path) => (format!("__json::OpenEnum<{path}>"), Some("v.0")),
                _ => ("_".to_owned(), None),
            };
            let map = format!("::std::collections::HashMap<{key}, {value_type}>");
            match (numeric_keys, value_out) {
                (false, None) => format!("{NEXT}{map}>>()?"),
                (_, value_out) => format!(
                    "{NEXT}{map}>>()?\n                                .map(|x| x.into_iter().map(|(k, v)| ({key_out}, {})).collect())",
                    value_out.unwrap_or("v")
                ),
            }
        }
        (Holder::Repeated, value) => match value {
            Value::Int32 | Value::Int64 | Value::Float => format!(
                "{NEXT}::std::vec::Vec<__json::NumberDeserialize<_>>>>()?\n                                .map(|x| x.into_iter().map(|x| x.0).collect())"
            ),
            Value::Bytes => format!(
                "{NEXT}::std::vec::Vec<__json::BytesDeserialize<_>>>>()?\n                                .map(|x| x.into_iter().map(|x| x.0).collect())"
            ),
            Value::Enum(path) if lenient => format!(
                "{NEXT}::std::vec::Vec<__json::LenientEnum<{path}>>>>()?\n                                .map(|x| x.into_iter().filter_map(|x| x.0).collect())"
            ),
            Value::Enum(path) => format!(
                "{NEXT}::std::vec::Vec<__json::OpenEnum<{path}>>>>()?\n                                .map(|x| x.into_iter().map(|x| x.0).collect())"
            ),
            _ => "map_.next_value()?".to_owned(),
        },
        (_, Value::Int32 | Value::Int64 | Value::Float) => {
            format!("{NEXT}__json::NumberDeserialize<_>>>()?.map(|x| x.0)")
        }
        (_, Value::Bytes) => format!("{NEXT}__json::BytesDeserialize<_>>>()?.map(|x| x.0)"),
        (_, Value::Enum(path)) if lenient => {
            format!("{NEXT}__json::LenientEnum<{path}>>>()?.and_then(|x| x.0)")
        }
        (_, Value::Enum(path)) => format!("{NEXT}__json::OpenEnum<{path}>>>()?.map(|x| x.0)"),
        (_, Value::Dynamic) => "Some(map_.next_value()?)".to_owned(),
        (_, Value::String | Value::Bool | Value::Message) => "map_.next_value()?".to_owned(),
    }
}

/// The read of a oneof's member into its variant `variant`: `None` for `null` (but a `Value`'s).
fn read_member(member: &Field, variant: &str, options: &Options) -> String {
    const NEXT: &str = "map_.next_value::<::core::option::Option<";
    match &member.value {
        Value::Int32 | Value::Int64 | Value::Float => {
            format!("{NEXT}__json::NumberDeserialize<_>>>()?.map(|x| {variant}(x.0))")
        }
        Value::Bytes => format!("{NEXT}__json::BytesDeserialize<_>>>()?.map(|x| {variant}(x.0))"),
        Value::Enum(path) if !options.reject_unknown_fields => {
            format!("{NEXT}__json::LenientEnum<{path}>>>()?.and_then(|x| x.0).map({variant})")
        }
        Value::Enum(path) => {
            format!("{NEXT}__json::OpenEnum<{path}>>>()?.map(|x| {variant}(x.0))")
        }
        Value::Dynamic => format!("Some({variant}(map_.next_value()?))"),
        Value::String | Value::Bool | Value::Message => {
            format!("{NEXT}_>>()?.map({variant})")
        }
    }
}
