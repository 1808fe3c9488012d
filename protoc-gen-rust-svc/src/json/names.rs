//! The Rust names prost-build gives what the JSON impls name: fields, oneofs and their
//! variants, nested-type modules, and the path from a package's module to any message or enum
//! (relative, with `super::`, or through an extern path).
//!
//! prost-build keeps these rules in a private module, so they are written again here, each
//! beside the prost-build function it must agree with (`ident.rs`, `extern_paths.rs` and
//! `CodeGenerator::resolve_ident` in prost-build 0.14). A disagreement does not go unseen:
//! the impls name prost-build's items, so it fails to compile, and every golden file and the
//! googleapis corpus are compiled in CI.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// prost-build's `sanitize_identifier`: a keyword becomes a raw identifier, or takes a `_`
/// where a raw identifier is not allowed; a leading digit gets a `_` before it.
pub fn sanitize(ident: &str) -> String {
    match ident {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        _ if ident.starts_with(|c: char| c.is_numeric()) => format!("_{ident}"),
        _ => ident.to_owned(),
    }
}

/// prost-build's `to_snake`: a field's, a oneof's or a module's name.
pub fn to_snake(name: &str) -> String {
    sanitize(&name.to_snake_case())
}

/// prost-build's `to_upper_camel`: a type's, a oneof's enum's or a variant's name.
pub fn to_upper_camel(name: &str) -> String {
    sanitize(&name.to_upper_camel_case())
}

/// How the code of one package's module names the messages and enums of any package: the extern
/// paths first (longest proto prefix wins), else a path relative to the module.
pub struct Paths<'a> {
    /// `(proto path with its leading dot, Rust path)`, as prost-build was given them.
    extern_paths: &'a [(String, String)],
    /// The proto package whose module the code is in, split at its dots.
    package: Vec<&'a str>,
}

impl<'a> Paths<'a> {
    pub fn new(extern_paths: &'a [(String, String)], package: &'a str) -> Self {
        Self {
            extern_paths,
            package: package.split('.').filter(|part| !part.is_empty()).collect(),
        }
    }

    /// The Rust path of the type `full_name` (with its leading dot), seen from the module.
    pub fn of(&self, full_name: &str) -> String {
        if let Some(path) = self.extern_path(full_name) {
            return path;
        }
        let mut target = full_name[1..].split('.').collect::<Vec<_>>();
        let name = target.pop().unwrap_or_default();
        let common = self
            .package
            .iter()
            .zip(&target)
            .take_while(|(local, target)| local == target)
            .count();
        let supers = (common..self.package.len()).map(|_| "super".to_owned());
        let modules = target[common..].iter().map(|part| to_snake(part));
        supers
            .chain(modules)
            .chain([to_upper_camel(name)])
            .collect::<Vec<_>>()
            .join("::")
    }

    /// prost-build's `ExternPaths::resolve_ident`: the exact path, else the longest proto prefix
    /// mapped, its Rust path followed by the rest, snake-cased, and the type's name.
    fn extern_path(&self, full_name: &str) -> Option<String> {
        let mapped = |proto: &str| {
            self.extern_paths
                .iter()
                .find(|(path, _)| path == proto)
                .map(|(_, rust)| rust.as_str())
        };
        if let Some(rust) = mapped(full_name) {
            return Some(rust.to_owned());
        }
        full_name.rmatch_indices('.').find_map(|(dot, _)| {
            let rust = mapped(&full_name[..dot])?;
            let mut rest: Vec<&str> = full_name[dot + 1..].split('.').collect();
            let name = rest.pop().map(to_upper_camel);
            let parts = rust
                .split("::")
                .enumerate()
                .map(|(index, part)| match (index, part) {
                    (0, "crate") | (0, "") => part.to_owned(),
                    _ => to_snake(part),
                })
                .chain(rest.into_iter().map(to_snake))
                .chain(name);
            Some(parts.collect::<Vec<_>>().join("::"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prost_build() {
        assert_eq!(to_snake("type"), "r#type");
        assert_eq!(to_snake("self"), "self_");
        assert_eq!(to_snake("fooBar"), "foo_bar");
        assert_eq!(to_upper_camel("Self"), "Self_");
        assert_eq!(to_upper_camel("foo_bar"), "FooBar");
    }

    #[test]
    fn paths_are_relative_to_the_package_module() {
        let paths = Paths::new(&[], "a.b");
        assert_eq!(paths.of(".a.b.Msg"), "Msg");
        assert_eq!(paths.of(".a.b.Msg.Inner_kind"), "msg::InnerKind");
        assert_eq!(paths.of(".a.c.Other"), "super::c::Other");
        assert_eq!(paths.of(".x.type.T"), "super::super::x::r#type::T");
        let top = Paths::new(&[], "");
        assert_eq!(top.of(".Msg"), "Msg");
        assert_eq!(top.of(".p.Msg"), "p::Msg");
    }

    #[test]
    fn extern_paths_take_the_longest_prefix() {
        let externs = [
            (
                ".google.protobuf".to_owned(),
                "::rust_svc_runtime::wkt".to_owned(),
            ),
            (".other.Exact".to_owned(), "crate::x::Y".to_owned()),
        ];
        let paths = Paths::new(&externs, "a");
        assert_eq!(
            paths.of(".google.protobuf.NullValue"),
            "::rust_svc_runtime::wkt::NullValue"
        );
        assert_eq!(
            paths.of(".google.protobuf.Value.Kind_x"),
            "::rust_svc_runtime::wkt::value::KindX"
        );
        assert_eq!(paths.of(".other.Exact"), "crate::x::Y");
    }
}
