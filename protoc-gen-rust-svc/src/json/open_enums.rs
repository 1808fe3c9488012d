//! proto3 enums are open: a field may hold a number its enum has no value for (a newer peer's
//! value), and protobuf-go's `protojson` and C++ read it from a JSON number and write it back
//! as one (the conformance suite's `EnumFieldUnknownValue`). pbjson-build's impls go through
//! the enum's Rust type, which has no room for it: reading refuses the number, and writing
//! fails the whole message, so a gateway in front of a newer server could not answer at all.
//!
//! Each enum value in those impls is wrapped in the runtime's `OpenEnum`, which keeps the
//! number and writes it by name when the enum has one. The rewrite is made on pbjson-build's
//! text, whose shapes for an enum value are few and fixed (its `generator/message.rs`): where it
//! writes a value, `E::try_from(n)` followed by a `.map_err` naming an "Invalid variant" (which
//! `OpenEnum::<E>::try_from` never takes); where it reads one, `next_value::<…E…>()` followed by
//! `as i32` (which becomes `.0`). A shape other than these is an internal error, not an enum
//! left closed.

use crate::error::Error;

/// The type every enum value is wrapped in, as pbjson-build's text names its own crate (the
/// paths are routed through the runtime afterwards).
const OPEN_ENUM: &str = "pbjson::private::OpenEnum";

/// The line that follows a value's conversion to its enum when writing.
const WRITE_ERROR: &str = ".map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", ";

/// Where a value is read.
const READ: &str = "map_.next_value::<";

/// The cast after an enum value is read.
const CAST: &str = " as i32";

/// `code`, one impl of pbjson-build's, with its enum values open; `None` when it has none.
/// The edits are found with substring searches and applied in one copy: most impls have no
/// enum value, and the googleapis request's impls are tens of megabytes.
pub(super) fn open(code: &str) -> Result<Option<String>, Error> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (at, _) in code.match_indices(WRITE_ERROR) {
        let line = line_start(code, at);
        let previous = line
            .checked_sub(1)
            .map(|end| line_start(code, end)..end)
            .ok_or_else(|| shape_error(&code[line..]))?;
        edits.push(open_write(code, previous)?);
    }
    for (at, _) in code.match_indices(CAST) {
        // `x as i32` and `? as i32` cast a value read on the same line, `v as i32` a map's
        // values, read on the line before.
        let line = line_start(code, at);
        let read_line = match code[..at].chars().next_back() {
            Some('x' | '?') => line..at,
            Some('v') => {
                let end = line
                    .checked_sub(1)
                    .ok_or_else(|| shape_error(&code[line..]))?;
                line_start(code, end)..end
            }
            _ => return Err(shape_error(&code[line..])),
        };
        let read = code[read_line.clone()]
            .rfind(READ)
            .ok_or_else(|| shape_error(&code[read_line.clone()]))?;
        edits.push(open_read(code, read_line.start + read)?);
        edits.push((at, at + CAST.len(), ".0".to_owned()));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    edits.sort_by_key(|(start, _, _)| *start);
    let mut out = String::with_capacity(code.len() + edits.len() * OPEN_ENUM.len());
    let mut copied = 0;
    for (start, end, replacement) in edits {
        out.push_str(&code[copied..start]);
        out.push_str(&replacement);
        copied = end;
    }
    out.push_str(&code[copied..]);
    Ok(Some(out))
}

/// Where the line holding `at` starts.
fn line_start(code: &str, at: usize) -> usize {
    code[..at].rfind('\n').map_or(0, |newline| newline + 1)
}

/// The edit of `let v = E::try_from(n)`, the `line` of `code` before a write's `.map_err`:
/// `OpenEnum::<E>` in place of `E`.
fn open_write(code: &str, line: std::ops::Range<usize>) -> Result<(usize, usize, String), Error> {
    const TRY_FROM: &str = "::try_from(";
    let text = &code[line.clone()];
    let at = text.rfind(TRY_FROM).ok_or_else(|| shape_error(text))?;
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |space| space + 1);
    let enum_type = &text[start..at];
    if enum_type.is_empty() {
        return Err(shape_error(text));
    }
    Ok((
        line.start + start,
        line.start + at,
        format!("{OPEN_ENUM}::<{enum_type}>"),
    ))
}

/// The edit of the type read at `read` (a `next_value::<…>` turbofish): the enum in it opened.
fn open_read(code: &str, read: usize) -> Result<(usize, usize, String), Error> {
    let start = read + READ.len();
    let mut depth = 1;
    let end = code[start..]
        .char_indices()
        .take_while(|(_, c)| *c != '\n')
        .find_map(|(offset, c)| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(start + offset)
        })
        .ok_or_else(|| shape_error(&code[line_start(code, read)..]))?;
    let read_type = &code[start..end];
    let opened = match split_container(read_type) {
        Some((container, inner)) => format!("{container}{}>", open_inner(inner)),
        None => format!("{OPEN_ENUM}<{read_type}>"),
    };
    Ok((start, end, opened))
}

/// `Option<E>` and `Vec<E>` as (`Option<`, `E`); maps as (`HashMap<`, `K, E`).
fn split_container(read_type: &str) -> Option<(&str, &str)> {
    [
        "::std::option::Option<",
        "Vec<",
        "std::collections::HashMap<",
        "std::collections::BTreeMap<",
    ]
    .into_iter()
    .find_map(|container| {
        let inner = read_type.strip_prefix(container)?.strip_suffix('>')?;
        Some((container, inner))
    })
}

/// The enum of a container opened: a map's value type, or the element type.
fn open_inner(inner: &str) -> String {
    let mut depth = 0;
    let comma = inner.char_indices().find_map(|(offset, c)| {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => return Some(offset),
            _ => {}
        }
        None
    });
    match comma {
        Some(comma) => format!(
            "{}, {OPEN_ENUM}<{}>",
            &inner[..comma],
            inner[comma + 1..].trim()
        ),
        None => format!("{OPEN_ENUM}<{inner}>"),
    }
}

fn shape_error(text: &str) -> Error {
    let line = text.lines().next().unwrap_or_default();
    Error::new(format!(
        "internal error: pbjson-build wrote an enum value in a shape the generator does not \
         know: `{}`",
        line.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(code: &str) -> String {
        open(code).unwrap().unwrap()
    }

    #[test]
    fn values_written_are_opened() {
        // Singular, optional, a oneof member and a map's values: one line each.
        let code = "            let v = OrderStatus::try_from(self.status)\n                .map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", self.status)))?;\n";
        assert_eq!(
            opened(code),
            "            let v = pbjson::private::OpenEnum::<OrderStatus>::try_from(self.status)\n                .map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", self.status)))?;\n"
        );
        // Repeated: in a closure, the type a path.
        let code = "            let v = self.colours.iter().cloned().map(|v| {\n                super::common::Colour::try_from(v)\n                    .map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", v)))\n                }).collect::<std::result::Result<Vec<_>, _>>()?;\n";
        assert!(opened(code).contains(
            "\n                pbjson::private::OpenEnum::<super::common::Colour>::try_from(v)\n"
        ));
    }

    #[test]
    fn values_read_are_opened() {
        let cases = [
            (
                "Some(map_.next_value::<OrderStatus>()? as i32);",
                "Some(map_.next_value::<pbjson::private::OpenEnum<OrderStatus>>()?.0);",
            ),
            (
                "map_.next_value::<::std::option::Option<Colour>>()?.map(|x| x as i32);",
                "map_.next_value::<::std::option::Option<pbjson::private::OpenEnum<Colour>>>()?.map(|x| x.0);",
            ),
            (
                "map_.next_value::<::std::option::Option<super::Colour>>()?.map(|x| thing::Choice::Shade(x as i32));",
                "map_.next_value::<::std::option::Option<pbjson::private::OpenEnum<super::Colour>>>()?.map(|x| thing::Choice::Shade(x.0));",
            ),
            (
                "Some(map_.next_value::<Vec<Colour>>()?.into_iter().map(|x| x as i32).collect());",
                "Some(map_.next_value::<Vec<pbjson::private::OpenEnum<Colour>>>()?.into_iter().map(|x| x.0).collect());",
            ),
        ];
        for (code, expected) in cases {
            assert_eq!(
                opened(&format!("    x__ = {code}\n")),
                format!("    x__ = {expected}\n")
            );
        }
        // A map's values, its key a number.
        let code = "                    map_.next_value::<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, Colour>>()?\n                        .into_iter().map(|(k,v)| (k.0, v as i32)).collect()\n";
        assert_eq!(
            opened(code),
            "                    map_.next_value::<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, pbjson::private::OpenEnum<Colour>>>()?\n                        .into_iter().map(|(k,v)| (k.0, v.0)).collect()\n"
        );
    }

    #[test]
    fn code_without_enum_values_is_left_alone() {
        let code = "Some(map_.next_value::<Vec<_>>()?.into_iter().map(|x| x.0).collect())\nmap_.next_value::<std::collections::HashMap<_, _>>()?\n";
        assert_eq!(open(code).unwrap(), None);
        // Other maps in an impl that has an enum are left as they are.
        let code = format!("{code}Some(map_.next_value::<Colour>()? as i32);\n");
        assert!(opened(&code).starts_with(
            "Some(map_.next_value::<Vec<_>>()?.into_iter().map(|x| x.0).collect())\nmap_.next_value::<std::collections::HashMap<_, _>>()?\n"
        ));
    }

    #[test]
    fn an_unknown_shape_is_an_internal_error() {
        let error =
            open(".map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", v)))\n")
                .unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
        let error = open("let v = x\n.map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", v)))\n").unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
        let error = open("let n = self.count as i32;\n").unwrap_err();
        assert!(error.to_string().contains("self.count as i32"), "{error}");
    }
}
