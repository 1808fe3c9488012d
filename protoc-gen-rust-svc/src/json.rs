//! proto3 JSON for the messages: pbjson-build's serde impls, appended to each messages file.
//!
//! pbjson-build is the well-kept crate made for this (prost's own types, the proto3 JSON
//! mapping to the letter: lowerCamelCase and proto names, 64-bit integers as strings, enums by
//! name, unknown fields rejected). Its output is taken as it comes, like prost-build's, with
//! five adjustments: paths to `serde` and `pbjson` go through the runtime crate, so a user's
//! crate needs no dependency of its own on them; enum values and messages prost-build knows
//! under a stand-in name (see [`crate::prepare`]) get their proto names back; enum values are
//! open, a number the enum does not name kept rather than refused, and a name it lacks
//! dropped when unknown fields are (see [`open_enums`]); `null` leaves any field unset (see
//! [`nulls`]); and two kinds of fields it maps wrongly, non-finite floats and `null` for a
//! `google.protobuf.Value`, are corrected (see [`corrections`]). The impls are kept in
//! pbjson-build's own layout, as protoc-gen-prost-serde hands them to its users: only the few
//! that need a correction or a restored name are parsed and printed again (see [`text`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use prost::Message;
use prost_build::Module;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use rayon::prelude::*;
use syn::visit_mut::VisitMut;

use crate::error::Error;
use crate::params::Params;
use crate::prepare::{RenamedType, RenamedValue, Renames};

mod corrections;
mod keys;
mod nulls;
mod open_enums;
mod registered;
mod text;
mod unpopulated;

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

/// The fewest prefixes that name the `types` of the `wanted` packages: a package whose every
/// type is reached is one prefix (unless a generated package lies under it, which it would
/// match too), and a type whose parent is named is not named again. pbjson-build matches every
/// registered type against every prefix, so on googleapis one prefix per type made its run
/// several times longer than writing the code.
fn reached_prefixes(
    files: &[FileDescriptorProto],
    wanted: &HashSet<String>,
    types: &BTreeSet<String>,
) -> Vec<String> {
    let mut by_package: HashMap<&str, Vec<String>> = HashMap::new();
    for file in files.iter().filter(|file| wanted.contains(file.package())) {
        by_package
            .entry(file.package())
            .or_default()
            .extend(file_types(file));
    }
    let mut prefixes = Vec::new();
    for (package, names) in by_package {
        let nested_package = files.iter().any(|file| {
            file.package()
                .strip_prefix(package)
                .is_some_and(|rest| rest.starts_with('.'))
        });
        let top_level = |name: &&String| !name[package.len() + 1..].contains('.');
        let all_reached = names
            .iter()
            .filter(top_level)
            .all(|name| types.contains(name));
        if all_reached && !nested_package {
            prefixes.push(format!(".{package}"));
            continue;
        }
        let reached: HashSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| types.contains(*name))
            .collect();
        for name in &reached {
            let under_reached_parent = name
                .rmatch_indices('.')
                .map(|(dot, _)| &name[..dot])
                .take_while(|parent| parent.len() > package.len())
                .any(|parent| reached.contains(parent));
            if !under_reached_parent {
                prefixes.push(format!(".{name}"));
            }
        }
    }
    prefixes
}

/// Where the well-known types are when messages have JSON impls: the runtime's re-export of
/// pbjson-types, which has them (with its own types where pbjson-types' JSON is not proto3's).
pub fn well_known_types_path(params: &Params) -> String {
    format!("{}::wkt", params.runtime_crate)
}

/// What pbjson-build's paths to `serde` and `pbjson` become in a messages file: `__serde::…`
/// and `__pbjson::…`, two `use` aliases of the runtime's re-exports at the head of the impls.
/// The runtime's full path (`::rust_svc_runtime::codegen::serde::…`) in each of the impls'
/// fifty thousand paths on the googleapis medium request was 1.4 MB of the 30 MB written.
/// No generated item can take either name: prost-build and the module layout snake-case every
/// module they make (a nested type's, a oneof's, a package part's), which drops leading
/// underscores (`package t.__serde;` is `t::serde`), and messages and enums are camel-cased.
const ALIAS_PREFIX: &str = "__";

/// The serde impls of the messages and enums of the `wanted` modules, formatted, by module:
/// those named in `types` (full names without the leading dot, stand-ins for renamed types),
/// or all with `None`. `files`
/// are the descriptors as prost-build got them (stand-in names included), so that both crates
/// name every Rust item alike. Each module's impls start with the `use` aliases they need
/// (see [`ALIAS_PREFIX`]).
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
    let wanted_packages: HashSet<String> = files
        .iter()
        .map(|file| file.package())
        .filter(|package| wanted.contains(&Module::from_protobuf_package_name(package)))
        .map(str::to_owned)
        .collect();
    // pbjson-build takes prefixes of full names, matched part by part: a package gives every
    // type in it, a type itself and its nested types.
    let prefixes: Vec<String> = match types {
        None => wanted_packages
            .iter()
            .map(|package| format!(".{package}"))
            .collect(),
        Some(types) => reached_prefixes(&files, &wanted_packages, types),
    };
    if prefixes.is_empty() {
        return Ok(HashMap::new());
    }
    let corrections = Corrections::of(&files, params.use_proto_names);
    // One pbjson-build run per package, each given only the types its impls can name
    // ([`registered`]), so that its type lookups, which scan every registered type, stay
    // short; the runs are spread over the cores.
    let types_of_request = registered::Types::new(&files);
    let mut by_package: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for prefix in prefixes {
        let package = wanted_packages
            .iter()
            .filter(|package| {
                prefix
                    .strip_prefix('.')
                    .and_then(|name| name.strip_prefix(package.as_str()))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
            .max_by_key(|package| package.len());
        if let Some(package) = package {
            by_package.entry(package).or_default().push(prefix);
        }
    }
    let outputs = by_package
        .par_iter()
        .map(|(package, prefixes)| {
            let registry = types_of_request.registry(prefixes);
            // With the types no impl names gone, a package often has only reached types left
            // and becomes one prefix.
            let mut prefixes = match types {
                Some(types) => {
                    reached_prefixes(&registry, &HashSet::from([(*package).to_owned()]), types)
                }
                None => prefixes.clone(),
            };
            prefixes.sort();
            prefixes.dedup();
            let outputs = run_pbjson(registry, &prefixes, params)?;
            // A package's prefix matches the packages below it too: theirs are made in their
            // own runs.
            // Each output goes on with the proto package it was made for.
            let module = Module::from_protobuf_package_name(package);
            Ok(outputs
                .into_iter()
                .filter(move |(generated, _)| Module::from_parts(generated.split('.')) == module)
                .map(|(generated, bytes)| (*package, generated, bytes)))
        })
        .collect::<Vec<Result<_, Error>>>()
        .into_iter()
        .collect::<Result<Vec<_>, Error>>()?
        .into_iter()
        .flatten();

    // Routed as text: the path printed without spaces. Each corrected impl parses its own copy
    // for `JsonFloats` (a syn path cannot cross threads).
    let runtime: syn::Path = syn::parse_str(&params.runtime_crate)
        .map_err(|error| Error::new(format!("runtime_crate: {error}")))?;
    let runtime = quote::quote!(#runtime).to_string().replace(' ', "");
    let mut packages = Vec::new();
    for (proto_package, package, bytes) in outputs {
        // pbjson displays a package as its modules, snake-cased and escaped like prost's
        // (`google.r#type`), so its parts are the module's.
        let module = Module::from_parts(package.split('.'));
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
        // Messages are named by their proto package from here on (`google.type.LatLng`): it is
        // what the corrections look for, and what serde's errors should say.
        let text = restore_package_name(text, &package, proto_package);
        packages.push((proto_package, module, text));
    }
    // Most impls are kept as pbjson-build writes them (see [`text`]); the few that need a
    // correction or a type name restored are parsed, corrected and printed on their own.
    // Spread over the cores; sorted so that the error reported is always the same one.
    packages.sort_by(|a, b| a.1.cmp(&b.1));
    let printed = packages
        .par_iter()
        .map(|(package, module, text)| {
            let types: Vec<_> = renamed
                .types
                .iter()
                .filter(|renamed| renamed.module == *module)
                .collect();
            let restore = (!types.is_empty()).then(|| RestoreTypeNames::new(package, &types));
            let items = split_items(text)
                .par_iter()
                .map(|item| {
                    let concern = corrections.concern(item);
                    let corrected = concern.correction
                        || restore
                            .as_ref()
                            .is_some_and(|restore| restore.concern(item));
                    let opened = match concern.open_enums {
                        true => open_enums::open(
                            item,
                            !params.reject_unknown_fields,
                            params.use_enum_numbers,
                        )?,
                        false => None,
                    };
                    let item = opened.as_deref().unwrap_or(item);
                    let nullable = match concern.deserialize {
                        true => nulls::accept(item, concern.oneofs)?,
                        false => None,
                    };
                    let item = nullable.as_deref().unwrap_or(item);
                    let emitted = match corrections.serialized_messages(item) {
                        Some(messages) if params.emit_unpopulated => {
                            unpopulated::rewrite(item, messages)?
                        }
                        _ => None,
                    };
                    let item = emitted.as_deref().unwrap_or(item);
                    let keyed = match concern.deserialize {
                        true => keys::by_function(item)?,
                        false => keys::enum_by_function(item),
                    };
                    let item = keyed.as_deref().unwrap_or(item);
                    let mut routed = String::with_capacity(item.len() + item.len() / 8);
                    let crates = text::through_runtime(item, ALIAS_PREFIX, &mut routed);
                    let code = if corrected {
                        print_item(&routed, package, &corrections, restore.as_ref(), &runtime)?
                    } else {
                        routed
                    };
                    Ok((code, crates))
                })
                .collect::<Result<Vec<(String, [bool; 2])>, Error>>()?;
            let mut code = String::new();
            for (index, name) in text::CRATES.into_iter().enumerate() {
                if items.iter().any(|(_, crates)| crates[index]) {
                    code.push_str(&format!(
                        "use {runtime}::codegen::{name} as {ALIAS_PREFIX}{name};\n"
                    ));
                }
            }
            code.extend(items.into_iter().map(|(item, _)| item));
            Ok((module.clone(), code))
        })
        .collect::<Vec<Result<(Module, String), Error>>>();
    printed.into_iter().collect()
}

/// pbjson-build's impls for the types of `files` that `prefixes` name, by package.
fn run_pbjson(
    files: Vec<FileDescriptorProto>,
    prefixes: &[String],
    params: &Params,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
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
    if !params.reject_unknown_fields {
        builder.ignore_unknown_fields();
    }
    if params.emit_unpopulated {
        builder.emit_fields();
    }
    if params.use_proto_names {
        builder.preserve_proto_field_names();
    }
    let outputs = builder
        .generate(prefixes, |_package| Ok(Vec::<u8>::new()))
        .map_err(|error| Error::new(format!("pbjson-build: {error}")))?;
    Ok(outputs
        .into_iter()
        .map(|(package, bytes)| (package.to_string(), bytes))
        .collect())
}

/// The top-level items of pbjson-build's code for one package: each starts with `impl` at the
/// start of a line, which is all pbjson-build writes at the top level.
fn split_items(code: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        if line.starts_with("impl") {
            starts.push(offset);
        }
        offset += line.len();
    }
    if starts.first() != Some(&0) {
        // Anything before the first impl stays with it (and fails to parse if it is not Rust).
        starts.insert(0, 0);
    }
    let ends = starts.iter().skip(1).copied().chain([code.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| &code[start..end])
        .filter(|item| !item.trim().is_empty())
        .collect()
}

/// One impl of pbjson-build's, its paths already routed through the runtime, corrected and
/// formatted.
fn print_item(
    item: &str,
    package: &str,
    corrections: &Corrections,
    restore: Option<&RestoreTypeNames>,
    runtime: &str,
) -> Result<String, Error> {
    let runtime: syn::Path =
        syn::parse_str(runtime).map_err(|error| Error::new(format!("runtime_crate: {error}")))?;
    let runtime = &runtime;
    let mut file = syn::parse_file(item).map_err(|error| {
        Error::new(format!(
            "internal error: pbjson-build wrote code for `{package}` that does not parse ({error}); please report this with the protos that caused it"
        ))
    })?;
    if corrections.concern(item).correction {
        corrections.apply(&mut file, runtime)?;
    }
    // After the corrections, which find messages by the names pbjson-build was given.
    if let Some(restore) = restore {
        restore.clone().visit_file_mut(&mut file);
    }
    Ok(prettyplease::unparse(&file))
}

/// pbjson-build names a message by its package as displayed (`google.r#type.LatLng`, escaped
/// like the module); the message's own name is its proto package's (`google.type.LatLng`). Only
/// the literals of the calls that name a message are touched, never a JSON field name.
fn restore_package_name(code: String, displayed: &str, proto: &str) -> String {
    if displayed == proto {
        return code;
    }
    ["serialize_struct(\"", "write_str(\"struct "]
        .iter()
        .fold(code, |code, call| {
            code.replace(&format!("{call}{displayed}."), &format!("{call}{proto}."))
        })
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
#[derive(Clone)]
struct RestoreTypeNames {
    /// Stand-in literal → proto literal, both with and without the `struct ` prefix.
    names: HashMap<String, String>,
}

impl RestoreTypeNames {
    /// `package` is the proto package, which prefixes every message name once
    /// [`restore_package_name`] has run.
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

impl RestoreTypeNames {
    /// Whether the impl `item` (pbjson-build's text) writes one of the stand-in names.
    fn concern(&self, item: &str) -> bool {
        self.names
            .keys()
            .any(|stand_in| item.contains(&format!("\"{stand_in}\"")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_package_names_its_messages_by_the_proto_package() {
        let code = concat!(
            "serializer.serialize_struct(\"google.r#type.LatLng\", len)\n",
            "formatter.write_str(\"struct google.r#type.LatLng\")\n",
            "deserializer.deserialize_struct(\"google.r#type.LatLng\", FIELDS, V)\n",
            "struct_ser.serialize_field(\"google.r#type.x\", &v)\n",
        );
        assert_eq!(
            restore_package_name(code.to_owned(), "google.r#type", "google.type"),
            concat!(
                "serializer.serialize_struct(\"google.type.LatLng\", len)\n",
                "formatter.write_str(\"struct google.type.LatLng\")\n",
                "deserializer.deserialize_struct(\"google.type.LatLng\", FIELDS, V)\n",
                // A JSON name is never touched.
                "struct_ser.serialize_field(\"google.r#type.x\", &v)\n",
            )
        );
    }

    #[test]
    fn items_start_at_each_top_level_impl() {
        let code = "impl A for B {\n    fn f() {}\n}\nimpl<'de> C for D {\n}\n";
        assert_eq!(
            split_items(code),
            [
                "impl A for B {\n    fn f() {}\n}\n",
                "impl<'de> C for D {\n}\n"
            ]
        );
    }

    fn file(package: &str, messages: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            package: Some(package.to_owned()),
            message_type: messages
                .iter()
                .map(|name| prost_types::DescriptorProto {
                    name: Some((*name).to_owned()),
                    nested_type: vec![prost_types::DescriptorProto {
                        name: Some("Inner".to_owned()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_fully_reached_package_is_one_prefix_and_nested_types_go_with_their_parent() {
        let files = [
            file("a.v1", &["X", "Y"]),
            file("b.v1", &["X", "Y"]),
            file("c", &["X"]),
            file("c.sub", &["Z"]),
        ];
        let wanted: HashSet<String> = ["a.v1", "b.v1", "c"].map(str::to_owned).into();
        let types: BTreeSet<String> =
            ["a.v1.X", "a.v1.X.Inner", "a.v1.Y", "b.v1.X", "b.v1.X.Inner"]
                .into_iter()
                .chain(["b.v1.Y.Inner", "c.X"])
                .map(str::to_owned)
                .collect();
        let mut prefixes = reached_prefixes(&files, &wanted, &types);
        prefixes.sort();
        // `c` would match `c.sub` too, so its type is named.
        assert_eq!(prefixes, [".a.v1", ".b.v1.X", ".b.v1.Y.Inner", ".c.X"]);
    }
}
