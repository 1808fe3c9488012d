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

/// The type enum values are written in with `use_enum_numbers`: the number, as protojson's
/// `UseEnumNumbers` writes it.
const ENUM_NUMBER: &str = "pbjson::private::EnumNumber";

/// The type enum values are read in when unknown fields are skipped: a name the enum lacks is
/// no value, as protojson's `DiscardUnknown` reads it.
const LENIENT_ENUM: &str = "pbjson::private::LenientEnum";

/// The line that follows a value's conversion to its enum when writing.
const WRITE_ERROR: &str = ".map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", ";

/// Where a value is read.
const READ: &str = "map_.next_value::<";

/// The cast after an enum value is read.
const CAST: &str = " as i32";

/// `code`, one impl of pbjson-build's, with its enum values open; `None` when it has none.
/// `lenient` (when unknown fields are skipped): a name the enum lacks is read as no value,
/// leaving the field unset, a list without the element and a map without the entry, as
/// protojson reads a body with `DiscardUnknown` (grpc-gateway's default, and connect-go's).
/// `numbers` (`use_enum_numbers`): values are written as their numbers, not their names
/// (`google.protobuf.NullValue` still as `null`, as protojson writes it either way).
/// The edits are found with substring searches and applied in one copy: most impls have no
/// enum value, and the googleapis request's impls are tens of megabytes.
pub(super) fn open(code: &str, lenient: bool, numbers: bool) -> Result<Option<String>, Error> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (at, _) in code.match_indices(WRITE_ERROR) {
        let line = line_start(code, at);
        let previous = line
            .checked_sub(1)
            .map(|end| line_start(code, end)..end)
            .ok_or_else(|| shape_error(&code[line..]))?;
        edits.push(open_write(code, previous, numbers)?);
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
        let read = read_line.start + read;
        let wrapper = if lenient { LENIENT_ENUM } else { OPEN_ENUM };
        // A singular field's lenient read is of an `Option`, `null` being no value.
        let singular = code[..at].ends_with('?');
        edits.push(open_read(code, read, wrapper, lenient && singular)?);
        if lenient {
            edits.extend(lenient_cast(code, read, line, at)?);
        } else {
            edits.push((at, at + CAST.len(), ".0".to_owned()));
        }
    }
    Ok(super::text::edited(code, edits))
}

/// Where the line holding `at` starts.
fn line_start(code: &str, at: usize) -> usize {
    code[..at].rfind('\n').map_or(0, |newline| newline + 1)
}

/// The edit of `let v = E::try_from(n)`, the `line` of `code` before a write's `.map_err`:
/// `OpenEnum::<E>` in place of `E`, or `EnumNumber::<E>` with `numbers`.
fn open_write(
    code: &str,
    line: std::ops::Range<usize>,
    numbers: bool,
) -> Result<(usize, usize, String), Error> {
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
    let wrapper = if numbers && !is_null_value(enum_type) {
        ENUM_NUMBER
    } else {
        OPEN_ENUM
    };
    Ok((
        line.start + start,
        line.start + at,
        format!("{wrapper}::<{enum_type}>"),
    ))
}

/// Whether `enum_type`, a path as pbjson-build writes it, is `google.protobuf.NullValue` (the
/// well-known types' path, or the `extern_path` given them), which JSON writes as `null`.
fn is_null_value(enum_type: &str) -> bool {
    enum_type
        .strip_suffix("::NullValue")
        .is_some_and(|path| path.ends_with("::wkt") || path.ends_with("protobuf"))
}

/// The edits that make the value read at `read`, cast at `at` on the line starting at `line`,
/// a `LenientEnum`'s `Option`: a singular field's is the field's value (no `Some` around it),
/// an `optional` field's and a oneof member's are flattened into theirs, a list's and a map's
/// leave out the elements and entries that have none.
fn lenient_cast(
    code: &str,
    read: usize,
    line: usize,
    at: usize,
) -> Result<Vec<(usize, usize, String)>, Error> {
    let error = || shape_error(&code[line..]);
    let after = at + CAST.len();
    Ok(match code[..at].chars().next_back() {
        // `Some(map_.next_value::<E>()? as i32)`, its read made one of an `Option`.
        Some('?') => {
            let some = read
                .checked_sub(SOME.len())
                .filter(|some| code[*some..read] == *SOME);
            let some = some.ok_or_else(error)?;
            if !code[after..].starts_with(')') {
                return Err(error());
            }
            vec![
                (some, read, String::new()),
                (at, after + 1, ".and_then(|x| x.0)".to_owned()),
            ]
        }
        // `.map(|x| x as i32)` of an optional or repeated field, `.map(|x| P::M(x as i32))` of
        // a oneof member.
        Some('x') => {
            let map = line + code[line..at].rfind(MAP_X).ok_or_else(error)?;
            let body = &code[map + MAP_X.len()..at - 1];
            if body.is_empty() && code[after..].starts_with(')') {
                let flattened = if code[..map].ends_with(".into_iter()") {
                    ".filter_map(|x| x.0)"
                } else {
                    ".and_then(|x| x.0)"
                };
                vec![(map, after + 1, flattened.to_owned())]
            } else if let Some(member) = body.strip_suffix('(')
                && code[after..].starts_with("))")
            {
                vec![(map, after + 2, format!(".and_then(|x| x.0).map({member})"))]
            } else {
                return Err(error());
            }
        }
        // A map's values: `.map(|(k,v)| (k, v as i32))`.
        Some('v') => {
            let map = line + code[line..at].rfind(MAP_ENTRY).ok_or_else(error)?;
            let key = code[map + MAP_ENTRY.len()..at - 1]
                .strip_suffix(", ")
                .ok_or_else(error)?;
            if !code[after..].starts_with("))") {
                return Err(error());
            }
            let kept = format!(".filter_map(|(k,v)| v.0.map(|v| ({key}, v)))");
            vec![(map, after + 2, kept)]
        }
        _ => return Err(error()),
    })
}

/// pbjson-build's `Some(` around a singular field's value.
const SOME: &str = "Some(";

/// The closure an `optional` or repeated enum value or a oneof member is cast in.
const MAP_X: &str = ".map(|x| ";

/// The closure a map's enum values are cast in.
const MAP_ENTRY: &str = ".map(|(k,v)| (";

/// The edit of the type read at `read` (a `next_value::<…>` turbofish): the enum in it wrapped
/// in `wrapper`, and that in an `Option` if `optional`.
fn open_read(
    code: &str,
    read: usize,
    wrapper: &str,
    optional: bool,
) -> Result<(usize, usize, String), Error> {
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
        Some((container, inner)) => format!("{container}{}>", open_inner(inner, wrapper)),
        None if optional => format!("::std::option::Option<{wrapper}<{read_type}>>"),
        None => format!("{wrapper}<{read_type}>"),
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
fn open_inner(inner: &str, wrapper: &str) -> String {
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
            "{}, {wrapper}<{}>",
            &inner[..comma],
            inner[comma + 1..].trim()
        ),
        None => format!("{wrapper}<{inner}>"),
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
        open(code, false, false).unwrap().unwrap()
    }

    fn opened_leniently(code: &str) -> String {
        open(code, true, false).unwrap().unwrap()
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
    fn with_enum_numbers_values_are_written_as_numbers_but_null_value_as_null() {
        let write = |enum_type: &str| {
            format!(
                "            let v = {enum_type}::try_from(self.status)\n                .map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {{}}\", self.status)))?;\n"
            )
        };
        let numbers = |code: &str| open(code, true, true).unwrap().unwrap();
        assert!(
            numbers(&write("OrderStatus")).contains(
                "let v = pbjson::private::EnumNumber::<OrderStatus>::try_from(self.status)"
            )
        );
        assert!(
            numbers(&write("super::common::Colour"))
                .contains("pbjson::private::EnumNumber::<super::common::Colour>::try_from(")
        );
        for null_value in [
            "::rust_svc_runtime::wkt::NullValue",
            "::pbjson_types::wkt::NullValue",
            "::my_types::google::protobuf::NullValue",
        ] {
            assert!(
                numbers(&write(null_value)).contains(&format!(
                    "pbjson::private::OpenEnum::<{null_value}>::try_from("
                )),
                "{null_value}"
            );
        }
        // An enum of one's own named so is written as a number.
        assert!(numbers(&write("super::NullValue")).contains("EnumNumber::<super::NullValue>"));
        // Reading is the same: names and numbers.
        let read = "    x__ = Some(map_.next_value::<OrderStatus>()? as i32);\n";
        assert_eq!(numbers(read), opened_leniently(read));
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
    fn values_read_leniently_leave_out_unknown_names() {
        let cases = [
            (
                "Some(map_.next_value::<OrderStatus>()? as i32);",
                "map_.next_value::<::std::option::Option<pbjson::private::LenientEnum<OrderStatus>>>()?.and_then(|x| x.0);",
            ),
            (
                "map_.next_value::<::std::option::Option<Colour>>()?.map(|x| x as i32);",
                "map_.next_value::<::std::option::Option<pbjson::private::LenientEnum<Colour>>>()?.and_then(|x| x.0);",
            ),
            (
                "map_.next_value::<::std::option::Option<super::Colour>>()?.map(|x| thing::Choice::Shade(x as i32));",
                "map_.next_value::<::std::option::Option<pbjson::private::LenientEnum<super::Colour>>>()?.and_then(|x| x.0).map(thing::Choice::Shade);",
            ),
            (
                "Some(map_.next_value::<Vec<Colour>>()?.into_iter().map(|x| x as i32).collect());",
                "Some(map_.next_value::<Vec<pbjson::private::LenientEnum<Colour>>>()?.into_iter().filter_map(|x| x.0).collect());",
            ),
        ];
        for (code, expected) in cases {
            assert_eq!(
                opened_leniently(&format!("    x__ = {code}\n")),
                format!("    x__ = {expected}\n")
            );
        }
        let code = "                    map_.next_value::<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, Colour>>()?\n                        .into_iter().map(|(k,v)| (k.0, v as i32)).collect()\n";
        assert_eq!(
            opened_leniently(code),
            "                    map_.next_value::<std::collections::HashMap<::pbjson::private::NumberDeserialize<i32>, pbjson::private::LenientEnum<Colour>>>()?\n                        .into_iter().filter_map(|(k,v)| v.0.map(|v| (k.0, v))).collect()\n"
        );
        // Writing is the same either way.
        let code = "            let v = OrderStatus::try_from(self.status)\n                .map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", self.status)))?;\n";
        assert_eq!(opened_leniently(code), opened(code));
    }

    #[test]
    fn code_without_enum_values_is_left_alone() {
        let code = "Some(map_.next_value::<Vec<_>>()?.into_iter().map(|x| x.0).collect())\nmap_.next_value::<std::collections::HashMap<_, _>>()?\n";
        assert_eq!(open(code, false, false).unwrap(), None);
        // Other maps in an impl that has an enum are left as they are.
        let code = format!("{code}Some(map_.next_value::<Colour>()? as i32);\n");
        assert!(opened(&code).starts_with(
            "Some(map_.next_value::<Vec<_>>()?.into_iter().map(|x| x.0).collect())\nmap_.next_value::<std::collections::HashMap<_, _>>()?\n"
        ));
    }

    #[test]
    fn an_unknown_shape_is_an_internal_error() {
        let error = open(
            ".map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", v)))\n",
            false,
            false,
        )
        .unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
        let error = open("let v = x\n.map_err(|_| serde::ser::Error::custom(format!(\"Invalid variant {}\", v)))\n", false, false).unwrap_err();
        assert!(error.to_string().contains("internal error"), "{error}");
        let error = open("let n = self.count as i32;\n", false, false).unwrap_err();
        assert!(error.to_string().contains("self.count as i32"), "{error}");
    }
}
