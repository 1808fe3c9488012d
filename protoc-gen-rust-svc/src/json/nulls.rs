//! `null` in proto3 JSON means "the field's default" for every field but a
//! `google.protobuf.Value` (where it is the null value): protojson and C++ leave the field unset
//! (the conformance suite's `AllFieldAcceptNull`), and so does grpc-gateway, whose users' clients
//! send `{"note": null}` for "no note". pbjson-build reads a field without presence (a scalar
//! of proto3, a repeated field, a map) as the value itself, `field__ = Some(map_.next_value()?…)`,
//! which refuses `null`.
//!
//! Each such read becomes a read of an `Option` of the same type, the rest of the expression
//! applied to what is there: `field__ = map_.next_value::<Option<T>>()?.map(|x| x…)`, so that
//! `null` leaves `field__` at `None`, as a missing member does. Reads that already give an
//! `Option` (messages, `optional` fields, oneof members) have no `Some(` around them and are
//! left alone; so are singular `google.protobuf.Value` fields, which pbjson-build reads as
//! messages and [`corrections`](super::corrections) reads even when `null`, the null value.

use crate::error::Error;

/// The start of a field's read.
const READ: &str = "map_.next_value";

/// Where pbjson-build wraps a read in `Some(`.
const SOME: &str = "Some(";

/// `code`, the text of one `Deserialize` impl of pbjson-build's, with every read of a field
/// without presence made to accept `null`, and, if its message has a oneof (`oneofs`: the
/// descriptors say so, so that the other impls are not read line by line), its members' too;
/// `None` when it has none.
pub(super) fn accept(code: &str, oneofs: bool) -> Result<Option<String>, Error> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (at, _) in code.match_indices(SOME) {
        let inside = at + SOME.len();
        let read = inside + leading_whitespace(&code[inside..]);
        if !code[read..].starts_with(READ) || !code[..at].trim_end().ends_with("__ =") {
            continue;
        }
        let close = matching_paren(code, inside).ok_or_else(|| shape_error(&code[at..]))?;
        edits.push((at, close + 1, optional(&code[read..close], &code[at..])?));
    }
    if oneofs {
        edits.extend(oneof_members(code));
    }
    Ok(super::text::edited(code, edits))
}

/// The edits that let a oneof member given as `null` leave the oneof as it is: pbjson-build
/// refuses a second member before reading it, so `{"text": "t", "number": null}` was a
/// duplicate, where protojson skips the `null` (the conformance suite's `OneofFieldNullSecond`).
/// The check is moved after the read, which is left as it is (the `Value` correction finds it
/// there):
///
/// ```text
/// let previous__ = choice__.take();
/// choice__ = map_.next_value::<Option<_>>()?.map(m::Choice::Text);
/// if let Some(previous__) = previous__ {
///     if choice__.is_some() { return Err(duplicate_field("text")); }
///     choice__ = Some(previous__);
/// }
/// ```
fn oneof_members(code: &str) -> Vec<(usize, usize, String)> {
    const CHECK: &str = ".is_some() {";
    let mut edits = Vec::new();
    let mut offset = 0;
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let start = offset;
        offset += line.len();
        let Some(name) = line
            .trim()
            .strip_prefix("if ")
            .and_then(|rest| rest.strip_suffix(CHECK))
            .filter(|name| name.ends_with("__"))
        else {
            continue;
        };
        let (Some(error), Some(close), Some(read)) = (
            lines.get(index + 1),
            lines.get(index + 2),
            lines.get(index + 3),
        ) else {
            continue;
        };
        let assign = format!("{name} = ");
        if !error.contains("duplicate_field(") || close.trim() != "}" {
            continue;
        }
        let Some(rhs) = read.trim_start().strip_prefix(assign.as_str()) else {
            continue;
        };
        // The read runs to the `;` that ends the statement, on this line or a later one.
        let read_start = start + line.len() + error.len() + close.len();
        let Some(end) = code[read_start..].find(';').map(|end| read_start + end + 1) else {
            continue;
        };
        if !is_oneof_read(rhs, &code[read_start..end]) {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        edits.push((
            start,
            read_start,
            format!("{indent}let previous__ = {name}.take();\n"),
        ));
        edits.push((
            end,
            end,
            format!(
                "\n{indent}if let Some(previous__) = previous__ {{\n{indent}    if {name}.is_some() {{\n{indent}    {}{indent}    }}\n{indent}    {name} = Some(previous__);\n{indent}}}",
                error.trim_start()
            ),
        ));
    }
    edits
}

/// Whether the read `statement` (starting `rhs` after its `name__ = `) is a oneof member's: an
/// `Option` read mapped into the oneof's enum, whose path has `::` (an `optional` field's read
/// maps only to `x.0`).
fn is_oneof_read(rhs: &str, statement: &str) -> bool {
    rhs.starts_with("map_.next_value::<::std::option::Option<")
        && statement
            .rfind(".map(")
            .is_some_and(|map| statement[map..].contains("::"))
}

/// `read` (`map_.next_value::<T>()?rest`, the inside of a `Some(…)`) reading an `Option<T>`,
/// `rest` applied to the value inside it.
fn optional(read: &str, context: &str) -> Result<String, Error> {
    let after_name = &read[READ.len()..];
    let (read_type, call) = match after_name.strip_prefix("::<") {
        Some(turbofish) => {
            let end = matching_angle(turbofish).ok_or_else(|| shape_error(context))?;
            (&turbofish[..end], &turbofish[end + 1..])
        }
        None => ("_", after_name),
    };
    let rest = call
        .strip_prefix("()?")
        .ok_or_else(|| shape_error(context))?;
    // `Some(map_.next_value()?)`: the field's own type, inferred, is an `Option` already.
    if read_type == "_" && rest.trim().is_empty() {
        return Ok(format!("{READ}()?"));
    }
    let mut out = format!("{READ}::<::std::option::Option<{read_type}>>()?");
    if !rest.trim().is_empty() {
        out.push_str(".map(|x| x");
        out.push_str(rest.trim_end());
        out.push(')');
    }
    Ok(out)
}

fn leading_whitespace(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// The index in `code` of the `)` closing the parenthesis opened just before `from`.
fn matching_paren(code: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    for (offset, c) in code[from..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(from + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index in `text` of the `>` closing a turbofish whose `<` came just before it.
fn matching_angle(text: &str) -> Option<usize> {
    let mut depth = 1;
    for (offset, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(offset);
                }
            }
            _ => {}
        }
    }
    None
}

fn shape_error(code: &str) -> Error {
    let line = code.lines().next().unwrap_or_default();
    Error::new(format!(
        "internal error: pbjson-build read a field in an unexpected shape: `{line}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::accept;

    fn accepted(code: &str) -> String {
        accept(code, true).unwrap().expect("a read to rewrite")
    }

    #[test]
    fn every_read_without_presence_reads_an_option() {
        // pbjson-build's shapes, as its generator writes them.
        assert_eq!(
            accepted("name__ = Some(map_.next_value()?);"),
            "name__ = map_.next_value()?;"
        );
        assert_eq!(
            accepted(
                "count__ = \n    Some(map_.next_value::<::pbjson::private::NumberDeserialize<_>>()?.0)\n;"
            ),
            "count__ = \n    map_.next_value::<::std::option::Option<::pbjson::private::NumberDeserialize<_>>>()?.map(|x| x.0)\n;"
        );
        assert_eq!(
            accepted(
                "counts__ = \n  Some(map_.next_value::<Vec<::pbjson::private::NumberDeserialize<_>>>()?\n    .into_iter().map(|x| x.0).collect())\n;"
            ),
            "counts__ = \n  map_.next_value::<::std::option::Option<Vec<::pbjson::private::NumberDeserialize<_>>>>()?.map(|x| x\n    .into_iter().map(|x| x.0).collect())\n;"
        );
        assert_eq!(
            accepted("kind__ = Some(map_.next_value::<pbjson::private::OpenEnum<Kind>>()?.0);"),
            "kind__ = map_.next_value::<::std::option::Option<pbjson::private::OpenEnum<Kind>>>()?.map(|x| x.0);"
        );
        assert_eq!(
            accepted(
                "labels__ = Some(\n  map_.next_value::<std::collections::HashMap<_, _>>()?\n)"
            ),
            "labels__ = map_.next_value::<::std::option::Option<std::collections::HashMap<_, _>>>()?"
        );
        assert_eq!(
            accepted(
                "counters__ = Some(\n  map_.next_value::<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, _>>()?\n    .into_iter().map(|(k,v)| (k.0, v)).collect()\n  )"
            ),
            "counters__ = map_.next_value::<::std::option::Option<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, _>>>()?.map(|x| x\n    .into_iter().map(|(k,v)| (k.0, v)).collect())"
        );
    }

    #[test]
    fn a_oneof_member_is_checked_for_a_duplicate_after_it_is_read() {
        let code = "      GeneratedField::Text => {\n        if choice__.is_some() {\n          return Err(serde::de::Error::duplicate_field(\"text\"));\n        }\n        choice__ = map_.next_value::<::std::option::Option<_>>()?.map(m::Choice::Text);\n      }\n";
        assert_eq!(
            accepted(code),
            "      GeneratedField::Text => {\n        let previous__ = choice__.take();\n        choice__ = map_.next_value::<::std::option::Option<_>>()?.map(m::Choice::Text);\n        if let Some(previous__) = previous__ {\n            if choice__.is_some() {\n            return Err(serde::de::Error::duplicate_field(\"text\"));\n            }\n            choice__ = Some(previous__);\n        }\n      }\n"
        );
        // An `optional` field's read maps to its value only: a duplicate is refused first.
        let optional = "        if note__.is_some() {\n          return Err(serde::de::Error::duplicate_field(\"note\"));\n        }\n        note__ = map_.next_value::<::std::option::Option<_>>()?.map(|x| x.0);\n";
        assert_eq!(accept(optional, true).unwrap(), None);
    }

    #[test]
    fn reads_that_give_an_option_already_are_left_alone() {
        for code in [
            "note__ = map_.next_value()?;",
            "maybe__ = map_.next_value::<::std::option::Option<_>>()?.map(|x| x.0);",
            "choice__ = map_.next_value::<::std::option::Option<_>>()?.map(m::Choice::Text);",
            "return Some(x);",
        ] {
            assert_eq!(accept(code, true).unwrap(), None, "{code}");
        }
    }

    #[test]
    fn an_unclosed_read_is_an_internal_error() {
        let error = accept("name__ = Some(map_.next_value()?;", true).unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
    }
}
