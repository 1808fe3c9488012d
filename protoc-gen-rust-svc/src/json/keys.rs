//! A message's member names read by a plain function of its own, through the runtime's one
//! `FieldKey` seed, instead of pbjson-build's `Deserialize` impl for the message's
//! `GeneratedField` with a visitor of its own; and an enum's values likewise, through the
//! runtime's `EnumValue` ([`enum_by_function`]).
//!
//! pbjson-build writes, inside each message's `deserialize`, a pair of trait impls whose only
//! work is a `match` from a name to a `GeneratedField` variant. Every user crate compiles that
//! pair per message: on the example system a twentieth of the generated crate's build, the part
//! that kept it above the build of prost + tonic + pbjson's code (bench/RESULTS.md). The `match`
//! is kept, word for word, as `fn generated_field(value: &str) -> Option<GeneratedField>`
//! (`None` where pbjson-build answered `unknown_field`), and the object's keys are read with
//! `map_.next_key_seed(pbjson::private::FieldKey(generated_field, FIELDS))`, whose visitor
//! answers as pbjson-build's did.
//!
//! ```text
//! impl<'de> serde::Deserialize<'de> for GeneratedField {      fn generated_field(value: &str)
//!     fn deserialize<D>(deserializer: D) -> ... {                 -> ::core::option::Option<GeneratedField> {
//!         struct GeneratedVisitor;                              match value {
//!         impl serde::de::Visitor<'_> for GeneratedVisitor {        "orderId" | "order_id" => Some(GeneratedField::OrderId),
//!             ... fn visit_str<E>(self, value: &str) ... {   →      _ => Some(GeneratedField::__SkipField__),
//!                 match value {                                 }
//!                     "orderId" | "order_id" => Ok(...),    }
//!                     _ => Ok(GeneratedField::__SkipField__),
//!     ...
//! while let Some(k) = map_.next_key()? {                    while let Some(k) = map_.next_key_seed(pbjson::private::FieldKey(generated_field, FIELDS))? {
//! ```

use crate::error::Error;

/// The start of pbjson-build's impl for the field tag.
const IMPL: &str = "impl<'de> serde::Deserialize<'de> for GeneratedField {";

/// The line before the body of its `visit_str`, which is the `match` (or, for a message without
/// fields, one expression).
const BODY_AFTER: &str = "E: serde::de::Error,\n";

/// Its last statement.
const IDENTIFIER: &str = "deserializer.deserialize_identifier(GeneratedVisitor)";

/// The reads of a key: of a message with fields, and of one without.
const READS: [&str; 2] = ["map_.next_key()?", "map_.next_key::<GeneratedField>()?"];

/// What reads a key instead.
const SEED_READ: &str = "map_.next_key_seed(pbjson::private::FieldKey(generated_field, FIELDS))?";

/// What pbjson-build answers for a name the message refuses (with `reject_unknown_fields`).
const REFUSAL: &str = "Err(serde::de::Error::unknown_field(value, FIELDS))";

/// `code`, the text of one `Deserialize` impl of pbjson-build's, with its field tag read as
/// above; `None` for an impl with no field tag (an enum's).
pub(super) fn by_function(code: &str) -> Result<Option<String>, Error> {
    let Some(start) = code.find(IMPL) else {
        return Ok(None);
    };
    let line_start = code[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let indent = &code[line_start..start];
    let shape = || {
        Error::new(format!(
            "internal error: pbjson-build's field names are not in the expected shape: {}",
            &code[start..(start + 200).min(code.len())]
        ))
    };
    // The body runs from the `{` line after `E: serde::de::Error,` to the visitor's closing
    // lines: `}` of `visit_str`, `}` of the impl, then the call.
    let body_start = code[start..]
        .find(BODY_AFTER)
        .map(|at| start + at + BODY_AFTER.len())
        .and_then(|after| code[after..].find('\n').map(|newline| after + newline + 1))
        .ok_or_else(shape)?;
    let closing = format!(
        "{indent}            }}\n{indent}        }}\n{indent}        {IDENTIFIER}\n{indent}    }}\n{indent}}}\n"
    );
    let body_end = code[body_start..]
        .find(&closing)
        .map(|at| body_start + at)
        .ok_or_else(shape)?;
    let end = body_end + closing.len();

    // The body is written 16 spaces in from the impl; the function's body goes 4 in.
    let body: String = code[body_start..body_end]
        .split_inclusive('\n')
        .map(|line| {
            let line = line.strip_prefix(indent).unwrap_or(line);
            let line = line.strip_prefix("            ").unwrap_or(line);
            // Searched from the end: a name's literal (anything a `json_name` says) comes
            // before the answer on its line.
            if let Some(at) = line.rfind(REFUSAL) {
                format!("{indent}{}None{}", &line[..at], &line[at + REFUSAL.len()..])
            } else if let Some(at) = line.rfind("Ok(GeneratedField::") {
                format!("{indent}{}Some({}", &line[..at], &line[at + 3..])
            } else {
                format!("{indent}{line}")
            }
        })
        .collect();
    // A message without fields matches nothing: its one expression does not read the name.
    let parameter = if body.trim_start().starts_with("match value {") {
        "value"
    } else {
        "_value"
    };
    let function = format!(
        "{indent}fn generated_field({parameter}: &str) -> ::core::option::Option<GeneratedField> {{\n{body}{indent}}}\n"
    );

    let mut edits = vec![(line_start, end, function)];
    for read in READS {
        edits.extend(
            code.match_indices(read)
                .map(|(at, _)| (at, at + read.len(), SEED_READ.to_owned())),
        );
    }
    if edits.len() == 1 {
        return Err(shape());
    }
    Ok(super::text::edited(code, edits))
}

/// The start of an enum's visitor, in an enum's `Deserialize` impl (at pbjson-build's indent).
const ENUM_VISITOR: &str = "        struct GeneratedVisitor;\n\n        impl serde::de::Visitor<'_> for GeneratedVisitor {\n            type Value = ";

/// What an enum's impl ends with after its visitor.
const ENUM_READ: &str = "        deserializer.deserialize_any(GeneratedVisitor)\n";

/// What pbjson-build answers for a name the enum lacks.
const ENUM_REFUSAL: &str = "_ => Err(serde::de::Error::unknown_variant(value, FIELDS)),";

/// `code`, the text of an enum's `Deserialize` impl of pbjson-build's, with its visitor
/// replaced by the runtime's one `EnumValue` over the visitor's own `match`, kept as
/// `fn generated_value(value: &str) -> Option<Enum>`; `None` for any other impl, or an enum
/// impl in another shape than the one pbjson-build writes for this generator (unknown names
/// refused, numbers it does not name too), which is left as it is.
pub(super) fn enum_by_function(code: &str) -> Option<String> {
    let start = code.find(ENUM_VISITOR)?;
    let after_type = start + ENUM_VISITOR.len();
    let type_end = code[after_type..].find(";\n")? + after_type;
    let enum_type = &code[after_type..type_end];
    let read = code[type_end..].find(ENUM_READ)? + type_end;
    let visitor = &code[start..read];
    let arms_start = visitor.find("match value {\n")? + "match value {\n".len();
    let arms_end = visitor[arms_start..].find(ENUM_REFUSAL)? + arms_start;
    // The named values' arms (`"RED" => Ok(Color::Red),`, 20 spaces in) become the
    // function's (16 in).
    let mut arms = String::new();
    // The last piece is the indent of the refusal's line.
    for line in visitor[arms_start..arms_end]
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
    {
        let line = line.strip_prefix("    ")?;
        let at = line.rfind(" => Ok(")?;
        arms.push_str(&format!("{} => Some({}", &line[..at], &line[at + 7..]));
    }
    let function = format!(
        "        fn generated_value(value: &str) -> ::core::option::Option<{enum_type}> {{\n            match value {{\n{arms}                _ => None,\n            }}\n        }}\n        deserializer.deserialize_any(pbjson::private::EnumValue(generated_value, FIELDS))\n"
    );
    super::text::edited(code, vec![(start, read + ENUM_READ.len(), function)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pbjson-build's identifier impl for a message with `fields` (each `(json, proto)`), at
    /// the indent it writes it, in its own words.
    fn identifier_impl(arms: &str) -> String {
        format!(
            r#"        impl<'de> serde::Deserialize<'de> for GeneratedField {{
            fn deserialize<D>(deserializer: D) -> std::result::Result<GeneratedField, D::Error>
            where
                D: serde::Deserializer<'de>,
            {{
                struct GeneratedVisitor;

                impl serde::de::Visitor<'_> for GeneratedVisitor {{
                    type Value = GeneratedField;

                    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{
                        write!(formatter, "expected one of: {{:?}}", &FIELDS)
                    }}

                    #[allow(unused_variables)]
                    fn visit_str<E>(self, value: &str) -> std::result::Result<GeneratedField, E>
                    where
                        E: serde::de::Error,
                    {{
{arms}                    }}
                }}
                deserializer.deserialize_identifier(GeneratedVisitor)
            }}
        }}
"#
        )
    }

    #[test]
    fn the_match_becomes_a_function_and_the_key_reads_go_through_the_seed() {
        let arms = r#"                        match value {
                            "orderId" | "order_id" => Ok(GeneratedField::OrderId),
                            "reason" => Ok(GeneratedField::Reason),
                            _ => Ok(GeneratedField::__SkipField__),
                        }
"#;
        let code = format!(
            "        enum GeneratedField {{\n            OrderId,\n        }}\n{}        struct GeneratedVisitor;\n                while let Some(k) = map_.next_key()? {{\n",
            identifier_impl(arms)
        );
        let rewritten = by_function(&code).unwrap().unwrap();
        assert_eq!(
            rewritten,
            r#"        enum GeneratedField {
            OrderId,
        }
        fn generated_field(value: &str) -> ::core::option::Option<GeneratedField> {
            match value {
                "orderId" | "order_id" => Some(GeneratedField::OrderId),
                "reason" => Some(GeneratedField::Reason),
                _ => Some(GeneratedField::__SkipField__),
            }
        }
        struct GeneratedVisitor;
                while let Some(k) = map_.next_key_seed(pbjson::private::FieldKey(generated_field, FIELDS))? {
"#
        );
    }

    #[test]
    fn a_refusal_becomes_none() {
        let arms = "                        match value {\n                            \"a\" => Ok(GeneratedField::A),\n                            _ => Err(serde::de::Error::unknown_field(value, FIELDS)),\n                        }\n";
        let code = format!(
            "{}while let Some(k) = map_.next_key()? {{",
            identifier_impl(arms)
        );
        let rewritten = by_function(&code).unwrap().unwrap();
        assert!(
            rewritten.contains("        \"a\" => Some(GeneratedField::A),\n"),
            "{rewritten}"
        );
        assert!(rewritten.contains("        _ => None,\n"), "{rewritten}");
    }

    #[test]
    fn a_message_without_fields_reads_no_name() {
        for (body, answer) in [
            (
                "Ok(GeneratedField::__SkipField__)",
                "Some(GeneratedField::__SkipField__)",
            ),
            (
                "Err(serde::de::Error::unknown_field(value, FIELDS))",
                "None",
            ),
        ] {
            let code = format!(
                "{}while map_.next_key::<GeneratedField>()?.is_some() {{",
                identifier_impl(&format!("                            {body}\n"))
            );
            let rewritten = by_function(&code).unwrap().unwrap();
            assert!(
                rewritten.starts_with(&format!(
                    "        fn generated_field(_value: &str) -> ::core::option::Option<GeneratedField> {{\n                {answer}\n        }}\n"
                )),
                "{rewritten}"
            );
            assert!(rewritten.ends_with(&format!("while {SEED_READ}.is_some() {{")));
        }
    }

    #[test]
    fn an_impl_without_a_field_tag_is_left_alone() {
        assert_eq!(
            by_function("impl serde::Serialize for M {}\n").unwrap(),
            None
        );
    }

    #[test]
    fn an_unexpected_shape_is_an_error_not_a_silent_miss() {
        let code = "        impl<'de> serde::Deserialize<'de> for GeneratedField {\n        }\n";
        assert!(by_function(code).is_err());
    }

    #[test]
    fn an_enum_s_visitor_becomes_its_match_over_the_runtime_s_reader() {
        let code = r#"impl<'de> serde::Deserialize<'de> for Color {
    #[allow(deprecated)]
    fn deserialize<D>(deserializer: D) -> std::result::Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        const FIELDS: &[&str] = &[
            "COLOR_RED",
        ];

        struct GeneratedVisitor;

        impl serde::de::Visitor<'_> for GeneratedVisitor {
            type Value = Color;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(formatter, "expected one of: {:?}", &FIELDS)
            }

            fn visit_str<E>(self, value: &str) -> std::result::Result<Self::Value, E>
            where
                E: serde::de::Error,
            {
                match value {
                    "COLOR_RED" => Ok(Color::Red),
                    "A \" => Ok(X)" => Ok(Color::Odd),
                    _ => Err(serde::de::Error::unknown_variant(value, FIELDS)),
                }
            }
        }
        deserializer.deserialize_any(GeneratedVisitor)
    }
}
"#;
        assert_eq!(
            enum_by_function(code).unwrap(),
            r#"impl<'de> serde::Deserialize<'de> for Color {
    #[allow(deprecated)]
    fn deserialize<D>(deserializer: D) -> std::result::Result<Self, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        const FIELDS: &[&str] = &[
            "COLOR_RED",
        ];

        fn generated_value(value: &str) -> ::core::option::Option<Color> {
            match value {
                "COLOR_RED" => Some(Color::Red),
                "A \" => Ok(X)" => Some(Color::Odd),
                _ => None,
            }
        }
        deserializer.deserialize_any(pbjson::private::EnumValue(generated_value, FIELDS))
    }
}
"#
        );
        // A message's impl, or an enum's in another shape, is left alone.
        assert_eq!(
            enum_by_function("impl serde::Serialize for Color {}\n"),
            None
        );
        let lenient = code.replace(
            "_ => Err(serde::de::Error::unknown_variant(value, FIELDS)),",
            "_ => Ok(Color::default()),",
        );
        assert_eq!(enum_by_function(&lenient), None);
    }
}
