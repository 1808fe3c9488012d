//! proto3 JSON for the messages: pbjson-build's serde impls, appended to each messages file.
//!
//! pbjson-build is the well-kept crate made for this (prost's own types, the proto3 JSON
//! mapping to the letter: lowerCamelCase and proto names, 64-bit integers as strings, enums by
//! name, unknown fields rejected). Its output is taken as it comes, like prost-build's, with
//! three adjustments: paths to `serde` and `pbjson` go through the runtime crate, so a user's
//! crate needs no dependency of its own on them; enum values and messages prost-build knows
//! under a stand-in name (see [`crate::prepare`]) get their proto names back; and two kinds of
//! fields it maps wrongly, non-finite floats and `null` for a `google.protobuf.Value`, are
//! corrected (see [`corrections`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use prost::Message;
use prost_build::Module;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use syn::visit_mut::VisitMut;

use crate::error::Error;
use crate::params::Params;
use crate::prepare::{RenamedType, RenamedValue, Renames};

mod corrections;

use corrections::Corrections;

/// The full names of the messages and enums of `file`, nested ones included.
fn file_types(file: &FileDescriptorProto) -> Vec<String> {
    fn message_types(scope: &str, message: &prost_types::DescriptorProto, names: &mut Vec<String>) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            message_types(&name, nested, names);
        }
        for enumeration in &message.enum_type {
            names.push(format!("{name}.{}", enumeration.name()));
        }
        names.push(name);
    }
    let mut names = Vec::new();
    for message in &file.message_type {
        message_types(file.package(), message, &mut names);
    }
    for enumeration in &file.enum_type {
        names.push(format!("{}.{}", file.package(), enumeration.name()));
    }
    names
}

/// Where the well-known types are when messages have JSON impls: the runtime's re-export of
/// pbjson-types, which has them (with its own types where pbjson-types' JSON is not proto3's).
pub fn well_known_types_path(params: &Params) -> String {
    format!("{}::wkt", params.runtime_crate)
}

/// The serde impls of the messages and enums of the `wanted` modules, formatted, by module:
/// those named in `types` (full names without the leading dot, stand-ins for renamed types),
/// or all with `None`. `files`
/// are the descriptors as prost-build got them (stand-in names included), so that both crates
/// name every Rust item alike.
pub fn generate(
    files: Vec<FileDescriptorProto>,
    wanted: &HashSet<Module>,
    types: Option<&BTreeSet<String>>,
    params: &Params,
    renamed: &Renames,
) -> Result<HashMap<Module, String>, Error> {
    // pbjson-build cannot register a file without a package (it panics): those files' types
    // get no JSON, and their services no gateway (see `emit::gateway::applies`).
    let files: Vec<_> = files
        .into_iter()
        .filter(|file| !file.package().is_empty())
        .collect();
    // By proto package name: a module's parts are snake-cased and escaped (`google.type` is
    // `google::r#type`), which pbjson's prefixes would not match.
    let wanted_packages: HashSet<&str> = files
        .iter()
        .map(|file| file.package())
        .filter(|package| wanted.contains(&Module::from_protobuf_package_name(package)))
        .collect();
    // pbjson-build takes prefixes of full names, matched part by part: a package gives every
    // type in it, a type itself and its nested types.
    let mut prefixes: Vec<String> = match types {
        None => wanted_packages
            .iter()
            .map(|package| format!(".{package}"))
            .collect(),
        Some(types) => files
            .iter()
            .filter(|file| wanted_packages.contains(file.package()))
            .flat_map(file_types)
            .filter(|name| types.contains(name))
            .map(|name| format!(".{name}"))
            .collect(),
    };
    if prefixes.is_empty() {
        return Ok(HashMap::new());
    }
    prefixes.sort();
    prefixes.dedup();
    let corrections = Corrections::of(&files);
    let descriptors = FileDescriptorSet { file: files }.encode_to_vec();
    let mut builder = pbjson_build::Builder::new();
    builder
        .register_descriptors(&descriptors)
        .map_err(|error| Error::new(format!("pbjson-build: {error}")))?;
    let wkt_is_extern = params
        .extern_paths
        .iter()
        .any(|(proto, _)| proto == ".google.protobuf");
    if !wkt_is_extern {
        builder.extern_path(".google.protobuf", well_known_types_path(params));
    }
    for (proto, rust) in &params.extern_paths {
        builder.extern_path(proto, rust);
    }
    let outputs = builder
        .generate(&prefixes, |_package| Ok(Vec::<u8>::new()))
        .map_err(|error| Error::new(format!("pbjson-build: {error}")))?;

    let runtime: syn::Path = syn::parse_str(&params.runtime_crate)
        .map_err(|error| Error::new(format!("runtime_crate: {error}")))?;
    let mut code = HashMap::new();
    for (package, bytes) in outputs {
        // pbjson displays a package as its modules, snake-cased and escaped like prost's
        // (`google.r#type`), so its parts are the module's.
        let module = Module::from_parts(package.to_string().split('.'));
        // A prefix also matches sub-packages that are not generated.
        if !wanted.contains(&module) || bytes.is_empty() {
            continue;
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(format!(
                "internal error: pbjson-build wrote code for `{package}` that is not UTF-8"
            ))
        })?;
        let text = renamed
            .values
            .iter()
            .filter(|value| value.module == module)
            .fold(text, |text, value| restore_json_name(&text, value));
        let mut file = syn::parse_file(&text).map_err(|error| {
            Error::new(format!(
                "internal error: pbjson-build wrote code for `{package}` that does not parse ({error}); please report this with the protos that caused it"
            ))
        })?;
        corrections.apply(&mut file, &runtime)?;
        // After the corrections, which find messages by the names pbjson-build was given.
        let types: Vec<_> = renamed
            .types
            .iter()
            .filter(|renamed| renamed.module == module)
            .collect();
        if !types.is_empty() {
            RestoreTypeNames::new(&package.to_string(), &types).visit_file_mut(&mut file);
        }
        ThroughRuntime { runtime: &runtime }.visit_file_mut(&mut file);
        code.insert(module, prettyplease::unparse(&file));
    }
    Ok(code)
}

/// pbjson-build names an enum value by the name it was given, which for a renamed value is the
/// stand-in; the proto name is what JSON must carry, both ways.
fn restore_json_name(code: &str, value: &RenamedValue) -> String {
    let (variant, stand_in, proto_name) = (&value.variant, &value.stand_in, &value.proto_name);
    code.replace(
        &format!("Self::{variant} => \"{stand_in}\""),
        &format!("Self::{variant} => \"{proto_name}\""),
    )
    .replace(
        &format!("\"{stand_in}\" => Ok("),
        &format!("\"{proto_name}\" => Ok("),
    )
    .replace(&format!("\"{stand_in}\","), &format!("\"{proto_name}\","))
}

/// Puts the proto names of renamed messages back where pbjson-build writes a message's name:
/// the name given to `serialize_struct` and `deserialize_struct`, and `expecting`'s
/// `"struct pkg.Name"`. Only these calls' literals are touched, so that a JSON field name never is.
struct RestoreTypeNames {
    /// Stand-in literal → proto literal, both with and without the `struct ` prefix.
    names: HashMap<String, String>,
}

impl RestoreTypeNames {
    /// `package` as pbjson-build displays it, which prefixes every name it writes.
    fn new(package: &str, types: &[&RenamedType]) -> Self {
        let mut names = HashMap::new();
        for renamed in types {
            let stand_in = format!("{package}.{}", renamed.stand_in);
            let proto = format!("{package}.{}", renamed.proto_name);
            names.insert(format!("struct {stand_in}"), format!("struct {proto}"));
            names.insert(stand_in, proto);
        }
        Self { names }
    }
}

impl VisitMut for RestoreTypeNames {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        let named = ["serialize_struct", "deserialize_struct", "write_str"]
            .iter()
            .any(|method| call.method == method);
        if named
            && let Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(literal),
                ..
            })) = call.args.first_mut()
            && let Some(proto) = self.names.get(&literal.value())
        {
            *literal = syn::LitStr::new(proto, literal.span());
        }
        syn::visit_mut::visit_expr_method_call_mut(self, call);
    }
}

/// Rewrites the paths `serde::…` and `::pbjson::…` (either form) to `<runtime>::codegen::serde::…`.
struct ThroughRuntime<'a> {
    runtime: &'a syn::Path,
}

impl VisitMut for ThroughRuntime<'_> {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        // pbjson writes both `serde::…` and `::pbjson::…`.
        let routed = path.segments.len() > 1
            && path
                .segments
                .first()
                .is_some_and(|first| first.ident == "serde" || first.ident == "pbjson");
        if routed {
            let mut full = self.runtime.clone();
            full.segments.push(syn::parse_quote!(codegen));
            full.segments.extend(std::mem::take(&mut path.segments));
            *path = full;
        }
        syn::visit_mut::visit_path_mut(self, path);
    }

    fn visit_item_use_mut(&mut self, item: &mut syn::ItemUse) {
        let routed = matches!(&item.tree, syn::UseTree::Path(path) if path.ident == "serde" || path.ident == "pbjson");
        if routed {
            // `use serde::ser::SerializeStruct;` becomes `use ::rt::codegen::serde::…;`.
            let mut tree = std::mem::replace(
                &mut item.tree,
                syn::UseTree::Glob(syn::UseGlob {
                    star_token: Default::default(),
                }),
            );
            let mut prefix: Vec<syn::Ident> = self
                .runtime
                .segments
                .iter()
                .map(|segment| segment.ident.clone())
                .collect();
            prefix.push(syn::parse_quote!(codegen));
            for ident in prefix.into_iter().rev() {
                tree = syn::UseTree::Path(syn::UsePath {
                    ident,
                    colon2_token: Default::default(),
                    tree: Box::new(tree),
                });
            }
            item.tree = tree;
            item.leading_colon = self.runtime.leading_colon;
        }
        syn::visit_mut::visit_item_use_mut(self, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_and_pbjson_paths_go_through_the_runtime() {
        let mut file: syn::File = syn::parse_quote! {
            impl serde::Serialize for Foo {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let v = pbjson::private::base64::encode(&self.data);
                    let t = ::pbjson::private::NumberDeserialize::<i32>::default();
                    let u = foo::serde;
                    use serde::ser::SerializeStruct;
                    todo!()
                }
            }
        };
        let runtime: syn::Path = syn::parse_quote!(::rt);
        ThroughRuntime { runtime: &runtime }.visit_file_mut(&mut file);
        let printed = quote::quote!(#file).to_string();
        assert!(printed.contains("impl :: rt :: codegen :: serde :: Serialize for Foo"));
        assert!(printed.contains("S : :: rt :: codegen :: serde :: Serializer"));
        assert!(printed.contains(":: rt :: codegen :: pbjson :: private :: base64 :: encode"));
        assert!(printed.contains(
            "let t = :: rt :: codegen :: pbjson :: private :: NumberDeserialize :: < i32 >"
        ));
        // Paths that merely contain `serde` are left alone.
        assert!(printed.contains("let u = foo :: serde"));
        assert!(printed.contains("use :: rt :: codegen :: serde :: ser :: SerializeStruct"));
    }
}
