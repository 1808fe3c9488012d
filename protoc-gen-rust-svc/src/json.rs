//! proto3 JSON for the messages: serde impls printed from the descriptors prost-build was given,
//! appended to each messages file.
//!
//! Each message gets a `Serialize` impl that writes a JSON object of its set fields, and a
//! `Deserialize` impl that reads one ([`serialize`], [`deserialize`]); each enum, impls that
//! write its value's name and read a name or a number. The proto3 JSON mapping is followed as
//! protojson and the conformance suite hold it: lowerCamelCase names written (proto names with
//! `use_proto_names`) and both read, 64-bit integers as strings, floats' special values by
//! name, bytes as base64, enums open (a number without a name is kept), `null` as "unset", and
//! unknown members skipped or refused. What varies with a value's type lives once in the
//! runtime's `json` module; the impls only name it.
//!
//! The code is printed as text, laid out as rustfmt would lay it out but for long lines, not
//! built as tokens and printed with prettyplease: on the googleapis medium request the impls
//! are most of the output, and parsing and printing them again was two thirds of a run
//! (bench/RESULTS.md). Every name the impls use is prost-build's for the same descriptors
//! ([`names`]), stand-ins for clashing names included ([`crate::prepare`]); the names JSON
//! carries are the proto's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use prost_build::Module;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use rayon::prelude::*;

use crate::model::closure::is_extern;
use crate::params::Params;
use crate::prepare::Renames;

mod deserialize;
mod fields;
mod names;
mod serialize;

use fields::MapEntries;
use names::Paths;

/// Where the well-known types are when messages have JSON impls: the runtime's re-export of
/// pbjson-types, which has them (with its own types where pbjson-types' JSON is not proto3's).
pub fn well_known_types_path(params: &Params) -> String {
    format!("{}::wkt", params.runtime_crate)
}

/// The choices of the JSON mapping the generator's parameters make (grpc-gateway's marshaler
/// options).
pub struct Options {
    pub reject_unknown_fields: bool,
    pub emit_unpopulated: bool,
    pub use_proto_names: bool,
    pub use_enum_numbers: bool,
}

/// The impls of one module, as they are printed.
#[derive(Default)]
pub struct Emitted {
    pub code: String,
    /// Whether the code names the runtime's `json` module (`__json`).
    pub uses_json: bool,
}

/// A message or an enum of the request.
enum Described<'a> {
    Message(&'a DescriptorProto, bool),
    Enum(&'a EnumDescriptorProto),
}

/// A type with what its impls need: its package, and its path in the package (as prost-build
/// got it, stand-ins included).
struct Type<'a> {
    package: &'a str,
    path: String,
    described: Described<'a>,
}

/// The serde impls of the messages and enums of the `wanted` modules, by module: those named
/// in `types` (full names without the leading dot, stand-ins for renamed types), or all with
/// `None`. `files` are the descriptors as prost-build got them (stand-in names included), so
/// that the impls name every Rust item as prost-build does; `renamed` gives the proto names back
/// for JSON. Each module's impls start with the `use` aliases they name (`__serde`, `__json`).
pub fn generate(
    files: Vec<FileDescriptorProto>,
    wanted: &HashSet<Module>,
    types: Option<&BTreeSet<String>>,
    params: &Params,
    renamed: &Renames,
) -> HashMap<Module, String> {
    let mut extern_paths = params.extern_paths.clone();
    if !extern_paths
        .iter()
        .any(|(proto, _)| proto == ".google.protobuf")
    {
        extern_paths.push((".google.protobuf".to_owned(), well_known_types_path(params)));
    }
    let mut all = BTreeMap::new();
    let mut maps = HashMap::new();
    for file in &files {
        let proto3 = file.syntax() == "proto3";
        let package = file.package();
        for message in &file.message_type {
            index_message(package, "", message, proto3, &mut all, &mut maps);
        }
        for enumeration in &file.enum_type {
            let path = enumeration.name().to_owned();
            all.insert(
                full_name(package, &path),
                Type {
                    package,
                    path,
                    described: Described::Enum(enumeration),
                },
            );
        }
    }
    let maps = MapEntries(maps);
    // By module, in the order of their full names.
    let mut by_module: BTreeMap<Module, Vec<(&String, &Type<'_>)>> = BTreeMap::new();
    for (name, found) in &all {
        let module = Module::from_protobuf_package_name(found.package);
        let reached = types.is_none_or(|types| types.contains(&name[1..]));
        if !reached || !wanted.contains(&module) || is_extern(&name[1..], &extern_paths) {
            continue;
        }
        by_module.entry(module).or_default().push((name, found));
    }
    let options = Options {
        reject_unknown_fields: params.reject_unknown_fields,
        emit_unpopulated: params.emit_unpopulated,
        use_proto_names: params.use_proto_names,
        use_enum_numbers: params.use_enum_numbers,
    };
    let runtime = &params.runtime_crate;
    by_module
        .into_par_iter()
        .map(|(module, types)| {
            let restored = Restored::new(&module, renamed);
            let mut out = Emitted::default();
            for (name, found) in types {
                let paths = Paths::new(&extern_paths, found.package);
                let rust = paths.of(name);
                let proto_name = full_name(found.package, restored.path(&found.path));
                let proto_name = &proto_name[1..];
                match found.described {
                    Described::Message(message, proto3) => {
                        let fields = fields::of(message, &rust, proto3, &paths, &maps);
                        serialize::message(&mut out, &rust, proto_name, &fields, &options);
                        deserialize::message(&mut out, &rust, proto_name, &fields, &options);
                    }
                    Described::Enum(enumeration) => {
                        let mut numbers = HashSet::new();
                        let values: Vec<&str> = enumeration
                            .value
                            .iter()
                            .filter(|value| numbers.insert(value.number()))
                            .map(|value| restored.value(value.name()))
                            .collect();
                        serialize::enumeration(&mut out, &rust);
                        deserialize::enumeration(&mut out, &rust, &values);
                    }
                }
            }
            let mut code = format!("use {runtime}::codegen::serde as __serde;\n");
            if out.uses_json {
                let _ = writeln!(code, "use {runtime}::json as __json;");
            }
            code.push_str(&out.code);
            (module, code)
        })
        .collect()
}

/// `.package.path`, the full name prost-build knows a type by.
fn full_name(package: &str, path: &str) -> String {
    match package.is_empty() {
        true => format!(".{path}"),
        false => format!(".{package}.{path}"),
    }
}

/// Indexes `message` (at `scope` in its package) and its nested types; map entries go to `maps`.
fn index_message<'a>(
    package: &'a str,
    scope: &str,
    message: &'a DescriptorProto,
    proto3: bool,
    all: &mut BTreeMap<String, Type<'a>>,
    maps: &mut HashMap<String, &'a DescriptorProto>,
) {
    let path = match scope.is_empty() {
        true => message.name().to_owned(),
        false => format!("{scope}.{}", message.name()),
    };
    let name = full_name(package, &path);
    if message.options.as_ref().is_some_and(|o| o.map_entry()) {
        maps.insert(name, message);
        return;
    }
    for nested in &message.nested_type {
        index_message(package, &path, nested, proto3, all, maps);
    }
    for enumeration in &message.enum_type {
        let enum_path = format!("{path}.{}", enumeration.name());
        all.insert(
            full_name(package, &enum_path),
            Type {
                package,
                path: enum_path,
                described: Described::Enum(enumeration),
            },
        );
    }
    all.insert(
        name,
        Type {
            package,
            path,
            described: Described::Message(message, proto3),
        },
    );
}

/// The proto names of one module's renamed types and enum values, by their stand-ins.
struct Restored<'a> {
    types: HashMap<&'a str, &'a str>,
    values: HashMap<&'a str, &'a str>,
}

impl<'a> Restored<'a> {
    fn new(module: &Module, renamed: &'a Renames) -> Self {
        Self {
            types: renamed
                .types
                .iter()
                .filter(|renamed| renamed.module == *module)
                .map(|renamed| (renamed.stand_in.as_str(), renamed.proto_name.as_str()))
                .collect(),
            values: renamed
                .values
                .iter()
                .filter(|renamed| renamed.module == *module)
                .map(|renamed| (renamed.stand_in.as_str(), renamed.proto_name.as_str()))
                .collect(),
        }
    }

    /// A type's path in its package, as the proto names it.
    fn path<'p>(&self, path: &'p str) -> &'p str
    where
        'a: 'p,
    {
        self.types.get(path).copied().unwrap_or(path)
    }

    /// An enum value's name, as the proto names it.
    fn value<'p>(&self, name: &'p str) -> &'p str
    where
        'a: 'p,
    {
        self.values.get(name).copied().unwrap_or(name)
    }
}
