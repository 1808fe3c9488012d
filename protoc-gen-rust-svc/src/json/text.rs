//! pbjson-build's impls kept as it writes them, where they need no correction: the paths to
//! `serde` and `pbjson` routed to the runtime's re-exports by a scan of the text.
//!
//! Parsing 25 MB of impls with syn and printing them again with prettyplease, only to prefix
//! two crate names, was two thirds of a run on the googleapis medium request; pbjson-build's
//! layout (one statement per line, four-space indents, the layout protoc-gen-prost-serde and
//! pbjson-build in a build.rs hand their users) is kept instead.

/// `code` with `edits` (byte range, replacement) applied in one copy, in the order of their
/// starts; `None` when there are none. The rewrites of pbjson-build's text find their edits
/// with substring searches and apply them here.
pub(super) fn edited(code: &str, mut edits: Vec<(usize, usize, String)>) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(start, _, _)| *start);
    let added: usize = edits
        .iter()
        .map(|(_, _, replacement)| replacement.len())
        .sum();
    let mut out = String::with_capacity(code.len() + added);
    let mut copied = 0;
    for (start, end, replacement) in edits {
        out.push_str(&code[copied..start]);
        out.push_str(&replacement);
        copied = end;
    }
    out.push_str(&code[copied..]);
    Some(out)
}

/// The crates pbjson-build's impls name, in the order [`through_runtime`] reports them.
pub(super) const CRATES: [&str; 2] = ["pbjson", "serde"];

/// `code` with every path that starts with `serde::`, `pbjson::` or `::pbjson::` written as
/// `<prefix>serde::…`, appended to `out` (the messages file names them `__serde::…`, aliases of
/// the runtime's re-exports: see [`super::ALIAS_PREFIX`]). String literals (field and type
/// names, which a `json_name` can make anything) are left alone; a name that merely ends in
/// `serde` (`foo::serde`, `my_serde`) too. Returns which of [`CRATES`] it wrote a path to, so
/// that the file declares only the aliases it uses without scanning the code again.
pub(super) fn through_runtime(code: &str, prefix: &str, out: &mut String) -> [bool; 2] {
    let bytes = code.as_bytes();
    let mut copied = 0;
    let mut index = 0;
    let mut in_string = false;
    let mut routed = [false; 2];
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' => in_string = false,
                _ => {}
            }
            index += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            index += 1;
            continue;
        }
        let rest = &code[index..];
        let found = CRATES.iter().position(|name| {
            rest.starts_with(name) && rest.as_bytes().get(name.len()..name.len() + 2) == Some(b"::")
        });
        let Some(found) = found else {
            index += 1;
            continue;
        };
        let before = &bytes[..index];
        let path_char = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'>';
        // `::pbjson::…` starts a path when its colons follow no path segment.
        let start = match before.strip_suffix(b"::") {
            Some(head) => (!head.last().is_some_and(path_char)).then(|| index - 2),
            None => (!before.last().is_some_and(path_char)).then_some(index),
        };
        let crate_name = CRATES[found];
        if let Some(start) = start {
            routed[found] = true;
            out.push_str(&code[copied..start]);
            out.push_str(prefix);
            out.push_str(crate_name);
            copied = index + crate_name.len();
        }
        index += crate_name.len();
    }
    out.push_str(&code[copied..]);
    routed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(code: &str) -> String {
        let mut out = String::new();
        through_runtime(code, "::rt::codegen::", &mut out);
        out
    }

    #[test]
    fn crate_paths_go_through_the_runtime() {
        let cases = [
            (
                "impl serde::Serialize for Foo {\n    use serde::ser::SerializeStruct;\n",
                "impl ::rt::codegen::serde::Serialize for Foo {\n    use ::rt::codegen::serde::ser::SerializeStruct;\n",
            ),
            (
                "let t = ::pbjson::private::NumberDeserialize::<i32>::default();",
                "let t = ::rt::codegen::pbjson::private::NumberDeserialize::<i32>::default();",
            ),
            (
                "(pbjson::private::base64::encode(&v))",
                "(::rt::codegen::pbjson::private::base64::encode(&v))",
            ),
            (
                "D: serde::Deserializer<'de>",
                "D: ::rt::codegen::serde::Deserializer<'de>",
            ),
        ];
        for (code, expected) in cases {
            assert_eq!(routed(code), expected);
        }
    }

    #[test]
    fn crate_paths_go_to_the_file_aliases() {
        let mut out = String::new();
        let routed = through_runtime(
            "fn f<S: serde::Serializer>() { ::pbjson::private::base64::encode(\"serde::x\") }",
            "__",
            &mut out,
        );
        assert_eq!(routed, [true, true]);
        assert_eq!(
            through_runtime("\"serde::x\" foo::serde::y", "__", &mut String::new()),
            [false, false]
        );
        assert_eq!(
            out,
            "fn f<S: __serde::Serializer>() { __pbjson::private::base64::encode(\"serde::x\") }"
        );
    }

    #[test]
    fn names_that_merely_contain_a_crate_name_are_left_alone() {
        for code in [
            "let u = foo::serde::x;",
            "my_serde::x",
            "\"serde::Serialize\"",
            "\"a\\\"serde::b\" + c",
            "Foo::pbjson::x",
            "Vec<u8>::pbjson::x",
        ] {
            assert_eq!(routed(code), code);
        }
    }
}
