//! `emit_unpopulated`: every field written, at its default value too, as grpc-gateway's default
//! marshaler (protojson's `EmitUnpopulated`) writes them.
//!
//! pbjson-build's `emit_fields` writes a field without presence whatever its value, but as
//! `if true { … }` around each field's code (and each `len += 1`, the field count serde is
//! told), and it still leaves out a message field that is not set, which protojson writes as
//! `null`. Its `Serialize` impls are rewritten here, as text in the layout pbjson-build (or
//! prettyplease, for an impl [`corrections`](super::corrections) reprinted) writes:
//!
//! - `if true { len += 1; }` blocks become the count they add up to, in `let mut len = 0;`;
//! - `if true { … }` around a field's code becomes the code, one indent level out;
//! - a message field without presence (not in a oneof, not `optional`), which pbjson-build
//!   writes with `if let Some(v) = self.field.as_ref()`, is written as the `Option` itself,
//!   whose `None` serde writes as `null`.
//!
//! Unset oneofs and `optional` fields stay out, as protojson leaves them out.

use std::collections::HashSet;

use crate::error::Error;

/// How far pbjson-build and prettyplease indent a block.
const INDENT: &str = "    ";

/// `code`, the text of one `Serialize` impl of pbjson-build's written with `emit_fields`, with
/// the rewrites of the [module](self); `messages` are the serialized names of its message's
/// message fields without presence. `None` when nothing in it needs one.
pub(super) fn rewrite(
    code: &str,
    messages: Option<&HashSet<String>>,
) -> Result<Option<String>, Error> {
    if !code.contains("if true {") && messages.is_none_or(HashSet::is_empty) {
        return Ok(None);
    }
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut counted = 0;
    let mut counts_left = false;
    let mut len_at = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim();
        let indent = &line[..line.len() - line.trim_start().len()];
        if trimmed == "let mut len = 0;" {
            len_at = Some(out.len());
            out.push(line.to_owned());
            index += 1;
            continue;
        }
        let opens_true = trimmed == "if true {";
        let opens_some =
            trimmed.starts_with("if let Some(v) = self.") && trimmed.ends_with(".as_ref() {");
        if !opens_true && !opens_some {
            if trimmed == "len += 1;" {
                counts_left = true;
            }
            out.push(line.to_owned());
            index += 1;
            continue;
        }
        let close = closing_line(&lines, index, indent).ok_or_else(|| shape_error(line))?;
        let body = &lines[index + 1..close];
        if opens_true {
            if body.len() == 1 && body[0].trim() == "len += 1;" {
                counted += 1;
            } else {
                out.extend(body.iter().map(|inner| dedent(inner)));
            }
        } else {
            let field = trimmed
                .trim_start_matches("if let Some(v) = self.")
                .trim_end_matches(".as_ref() {");
            let key = serialized_key(body);
            match key {
                Some(key) if messages.is_some_and(|messages| messages.contains(key)) => {
                    let joined: String = body
                        .iter()
                        .flat_map(|inner| inner.split_whitespace())
                        .collect();
                    if joined == format!("struct_ser.serialize_field(\"{key}\",v)?;") {
                        out.push(format!(
                            "{indent}struct_ser.serialize_field(\"{key}\", &self.{field})?;\n"
                        ));
                    } else {
                        // Another shape of the value's code: kept, with `null` when unset.
                        out.extend(lines[index..close].iter().map(|line| (*line).to_owned()));
                        out.push(format!("{indent}}} else {{\n"));
                        out.push(format!(
                            "{indent}{INDENT}struct_ser.serialize_field(\"{key}\", &())?;\n"
                        ));
                        out.push(lines[close].to_owned());
                    }
                }
                _ => out.extend(lines[index..=close].iter().map(|line| (*line).to_owned())),
            }
        }
        index = close + 1;
    }
    if let Some(at) = len_at {
        let indent = &out[at][..out[at].len() - out[at].trim_start().len()];
        let binding = if counts_left {
            "let mut len"
        } else {
            "let len"
        };
        out[at] = format!("{indent}{binding} = {counted};\n");
    }
    Ok(Some(out.concat()))
}

/// The index of the line that closes the block opened on `lines[open]`: the next `}` at the
/// opening line's indentation.
fn closing_line(lines: &[&str], open: usize, indent: &str) -> Option<usize> {
    lines[open + 1..]
        .iter()
        .position(|line| {
            line.strip_prefix(indent)
                .is_some_and(|rest| rest.trim_end() == "}")
        })
        .map(|at| open + 1 + at)
}

/// The key of the `serialize_field` call in a block.
fn serialized_key<'a>(body: &[&'a str]) -> Option<&'a str> {
    body.iter()
        .find_map(|line| {
            let rest = line.split("serialize_field(").nth(1).unwrap_or(line);
            let start = rest.find('"')?;
            let rest = &rest[start + 1..];
            Some(&rest[..rest.find('"')?])
        })
        .filter(|key| !key.is_empty())
}

fn dedent(line: &str) -> String {
    line.strip_prefix(INDENT).unwrap_or(line).to_owned()
}

fn shape_error(line: &str) -> Error {
    Error::new(format!(
        "internal error: pbjson-build's serde impl has a block without its end, at `{}`; please report this",
        line.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_emit_fields_are_unwrapped_and_unset_messages_written_as_null() {
        let code = "\
        let mut len = 0;
        if true {
            len += 1;
        }
        if true {
            len += 1;
        }
        if self.choice.is_some() {
            len += 1;
        }
        let mut struct_ser = serializer.serialize_struct(\"m.M\", len)?;
        if true {
            struct_ser.serialize_field(\"id\", &self.id)?;
        }
        if let Some(v) = self.inner.as_ref() {
            struct_ser.serialize_field(\"inner\", v)?;
        }
        if let Some(v) = self.note.as_ref() {
            struct_ser.serialize_field(\"note\", v)?;
        }
        if let Some(v) = self.other.as_ref() {
            struct_ser
                .serialize_field(
                    \"other\",
                    &Wrap(v),
                )?;
        }
";
        let messages: HashSet<String> = ["inner", "other"].map(str::to_owned).into();
        let rewritten = rewrite(code, Some(&messages)).unwrap().unwrap();
        assert_eq!(
            rewritten,
            "\
        let mut len = 2;
        if self.choice.is_some() {
            len += 1;
        }
        let mut struct_ser = serializer.serialize_struct(\"m.M\", len)?;
        struct_ser.serialize_field(\"id\", &self.id)?;
        struct_ser.serialize_field(\"inner\", &self.inner)?;
        if let Some(v) = self.note.as_ref() {
            struct_ser.serialize_field(\"note\", v)?;
        }
        if let Some(v) = self.other.as_ref() {
            struct_ser
                .serialize_field(
                    \"other\",
                    &Wrap(v),
                )?;
        } else {
            struct_ser.serialize_field(\"other\", &())?;
        }
"
        );
    }

    #[test]
    fn a_count_with_nothing_left_to_add_is_not_mutable() {
        let code = "\
    let mut len = 0;
    if true {
        len += 1;
    }
    let mut struct_ser = serializer.serialize_struct(\"m.M\", len)?;
";
        let rewritten = rewrite(code, None).unwrap().unwrap();
        assert!(rewritten.starts_with("let len = 1;\n"), "{rewritten}");
    }

    #[test]
    fn a_block_without_its_end_is_an_internal_error() {
        let error = rewrite("        if true {\n            x();\n", None).unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
    }
}
