//! The descriptors prost-build gets, rewritten where it would otherwise panic or write code that
//! does not compile. Each rewrite keeps the wire format and the proto names users see.

use std::collections::{HashMap, HashSet};

use heck::ToUpperCamelCase;
use prost_build::Module;
use prost_reflect::DescriptorPool;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::comments::{self, SourceInfos};
use crate::error::Error;

mod types;

pub use types::{
    RenamedType, StandIns, params_for_stand_ins, restore_module_docs, stand_in_name, stand_ins,
};

/// What prost-build and the JSON impls' printer were given under other names than the proto's.
#[derive(Debug, Default)]
pub struct Renames {
    pub values: Vec<RenamedValue>,
    pub types: Vec<RenamedType>,
}

/// An enum value prost-build knows under a stand-in name, so that its variant differs from its
/// siblings'. The generated `as_str_name` / `from_str_name` are patched back to the proto name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamedValue {
    pub module: Module,
    /// The Rust variant the stand-in produces, e.g. `Fb2`.
    pub variant: String,
    /// The name prost-build was given, e.g. `FB_2`.
    pub stand_in: String,
    /// The name in the proto, e.g. `FB`.
    pub proto_name: String,
}

impl RenamedValue {
    /// Puts the proto name back into prost-build's output for `module`.
    pub fn restore(&self, code: &str) -> String {
        let (variant, stand_in, proto_name) = (&self.variant, &self.stand_in, &self.proto_name);
        // The stand-in is unique among the module's value names, so these arms are the
        // renamed value's own.
        code.replace(
            &format!("Self::{variant} => \"{stand_in}\","),
            &format!("Self::{variant} => \"{proto_name}\","),
        )
        .replace(
            &format!("\"{stand_in}\" => Some(Self::{variant}),"),
            &format!("\"{proto_name}\" => Some(Self::{variant}),"),
        )
    }
}

/// Checks what protoc and protox guarantee but prost-reflect does not, and prost-build relies
/// on (found by fuzzing): every name is a protobuf identifier, which prost-build pastes into
/// code, and every map entry has just the fields `key` and `value`, which it indexes.
pub fn check_what_protoc_guarantees(pool: &DescriptorPool) -> Result<(), Error> {
    let check = |file: &str, kind: &str, name: &str| {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(())
        } else {
            Err(Error::new(format!(
                "{file}: the {kind} name {name:?} is not a protobuf identifier"
            )))
        }
    };
    for file in pool.files() {
        for part in file
            .package_name()
            .split('.')
            .filter(|_| !file.package_name().is_empty())
        {
            check(file.name(), "package", part)?;
        }
    }
    for message in pool.all_messages() {
        let file = message.parent_file();
        check(file.name(), "message", message.name())?;
        // prost-build indexes and asserts a map entry's two fields.
        let fields = &message.descriptor_proto().field;
        let map_entry_shaped = matches!(fields.as_slice(), [key, value]
            if key.name() == "key" && value.name() == "value");
        if message.is_map_entry() && !map_entry_shaped {
            return Err(Error::new(format!(
                "{}: the map entry {} must have exactly the fields `key` and `value`",
                file.name(),
                message.full_name()
            )));
        }
        for field in message.fields() {
            check(file.name(), "field", field.name())?;
        }
        for oneof in message.oneofs() {
            check(file.name(), "oneof", oneof.name())?;
        }
    }
    for enumeration in pool.all_enums() {
        let file = enumeration.parent_file();
        check(file.name(), "enum", enumeration.name())?;
        for value in enumeration.values() {
            check(file.name(), "enum value", value.name())?;
        }
    }
    for service in pool.services() {
        let file = service.parent_file();
        check(file.name(), "service", service.name())?;
        for method in service.methods() {
            check(file.name(), "method", method.name())?;
        }
    }
    Ok(())
}

/// Every file in `pool`, as prost-build should see it, sorted by file name so the output does
/// not depend on the order protoc or protox list files in. Files of the `kept` modules get their
/// source locations back from `sources`, for the comments; the others' code is thrown away.
/// Types with `stand_ins` (see [`stand_ins`]) get them.
pub fn prepare(
    pool: &DescriptorPool,
    sources: &SourceInfos,
    kept: &HashSet<Module>,
    stand_ins: &StandIns,
) -> (Vec<(Module, FileDescriptorProto)>, Renames) {
    let mut files: Vec<_> = pool
        .files()
        .map(|file| {
            let mut proto = file.file_descriptor_proto().clone();
            let module = Module::from_protobuf_package_name(proto.package());
            if kept.contains(&module) {
                proto.source_code_info = sources.get(proto.name()).cloned();
            }
            (module, proto)
        })
        .collect();
    files.sort_by(|a, b| a.1.name().cmp(b.1.name()));
    // Types first: an enum's stand-in is the prefix prost-build strips from its values' names.
    let (types, originals) = types::rename(&mut files, stand_ins);

    // Every value name per module, aliases included: a stand-in must not equal any of them.
    let mut value_names: HashMap<Module, HashSet<String>> = HashMap::new();
    for enumeration in pool.all_enums() {
        let module = Module::from_protobuf_package_name(enumeration.package_name());
        let names = value_names.entry(module).or_default();
        names.extend(enumeration.values().map(|value| value.name().to_owned()));
    }

    let mut renamed = Vec::new();
    let mut stand_ins: HashMap<(String, String), String> = HashMap::new();
    for (module, file) in &mut files {
        fill_missing_locations(file);
        neutralize_comments(file);
        let names = value_names.entry(module.clone()).or_default();
        visit_enums(file, &mut |full_name, enumeration| {
            for (proto_name, stand_in, variant) in distinct_variants(enumeration, names) {
                stand_ins.insert((full_name.to_owned(), proto_name.clone()), stand_in.clone());
                renamed.push(RenamedValue {
                    module: module.clone(),
                    variant,
                    stand_in,
                    proto_name,
                });
            }
        });
    }
    for (_, file) in &mut files {
        for message in &mut file.message_type {
            rewrite_enum_defaults(message, pool, &stand_ins, &originals);
        }
    }
    let renames = Renames {
        values: renamed,
        types,
    };
    (files, renames)
}

/// prost-build expects a source location for every element it documents and panics when one
/// is missing. protoc and protox always write them, so a gap means a hand-made or damaged
/// request (found by fuzzing); the element gets an empty location, that is no comment.
fn fill_missing_locations(file: &mut FileDescriptorProto) {
    let mut paths = Vec::new();
    element_paths(file, &mut paths);
    let Some(info) = &mut file.source_code_info else {
        return;
    };
    let located: HashSet<&[i32]> = info.location.iter().map(|l| l.path.as_slice()).collect();
    let missing: Vec<Vec<i32>> = paths
        .into_iter()
        .filter(|path| !located.contains(path.as_slice()))
        .collect();
    info.location.extend(
        missing
            .into_iter()
            .map(|path| prost_types::source_code_info::Location {
                path,
                ..Default::default()
            }),
    );
}

/// The paths (as in `SourceCodeInfo`) of every message, field, oneof, enum, value, service and
/// method in `file`.
fn element_paths(file: &FileDescriptorProto, paths: &mut Vec<Vec<i32>>) {
    fn index(i: usize) -> i32 {
        i32::try_from(i).unwrap_or(i32::MAX)
    }
    fn enumeration(path: Vec<i32>, e: &EnumDescriptorProto, paths: &mut Vec<Vec<i32>>) {
        for i in 0..e.value.len() {
            paths.push([path.as_slice(), &[2, index(i)]].concat());
        }
        paths.push(path);
    }
    fn message(path: Vec<i32>, m: &DescriptorProto, paths: &mut Vec<Vec<i32>>) {
        let child = |tag: i32, i: usize| [path.as_slice(), &[tag, index(i)]].concat();
        for i in 0..m.field.len() {
            paths.push(child(2, i));
        }
        // Synthetic oneofs (proto3 `optional`) and map entries are declared by no one, so they
        // have no location, and prost-build documents neither.
        for i in 0..m.oneof_decl.len() {
            let synthetic = m
                .field
                .iter()
                .any(|field| field.oneof_index == Some(index(i)) && field.proto3_optional());
            if !synthetic {
                paths.push(child(8, i));
            }
        }
        for (i, nested) in m.nested_type.iter().enumerate() {
            let map_entry = nested.options.as_ref().is_some_and(|o| o.map_entry());
            if !map_entry {
                message(child(3, i), nested, paths);
            }
        }
        for (i, e) in m.enum_type.iter().enumerate() {
            enumeration(child(4, i), e, paths);
        }
        paths.push(path);
    }
    for (i, m) in file.message_type.iter().enumerate() {
        message(vec![4, index(i)], m, paths);
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        enumeration(vec![5, index(i)], e, paths);
    }
    for (i, service) in file.service.iter().enumerate() {
        for j in 0..service.method.len() {
            paths.push(vec![6, index(i), 2, index(j)]);
        }
        paths.push(vec![6, index(i)]);
    }
}

/// Code blocks in comments would become doctests of the generated crate.
fn neutralize_comments(file: &mut FileDescriptorProto) {
    let Some(info) = file.source_code_info.as_mut() else {
        return;
    };
    for location in &mut info.location {
        let comments = [
            &mut location.leading_comments,
            &mut location.trailing_comments,
        ];
        for comment in comments.into_iter().flatten() {
            *comment = comments::neutralize_code_blocks(comment);
        }
    }
}

/// prost-build's variant name for `value` in an enum whose Rust name is `enum_name`: upper camel
/// case, the enum's name stripped as a prefix. (Its helpers are private; this follows
/// `prost_build::ident` for the names an enum value can have.)
fn variant_name(enum_name: &str, value: &str) -> String {
    let variant = sanitize(value.to_upper_camel_case());
    let stripped = variant.strip_prefix(enum_name).unwrap_or(&variant);
    if stripped.starts_with(|c: char| c.is_uppercase()) {
        sanitize(stripped.to_owned())
    } else {
        variant
    }
}

/// The one keyword an upper-camel name can be.
fn sanitize(name: String) -> String {
    if name == "Self" {
        "Self_".to_owned()
    } else {
        name
    }
}

/// Gives every value of `enumeration` whose variant another value already claims a stand-in
/// name (`FB` → `FB_2`) whose variant is free, and returns `(proto name, stand-in, variant)` for
/// each. The first value to claim a variant keeps it; later aliases of a number are skipped, as
/// prost-build skips them. `module_names` are all value names in the module, so a stand-in
/// never equals a real name.
fn distinct_variants(
    enumeration: &mut EnumDescriptorProto,
    module_names: &mut HashSet<String>,
) -> Vec<(String, String, String)> {
    let enum_name = sanitize(enumeration.name().to_upper_camel_case());
    let mut numbers = HashSet::new();
    let emitted: Vec<usize> = (0..enumeration.value.len())
        .filter(|&index| numbers.insert(enumeration.value[index].number()))
        .collect();
    let natural: Vec<String> = emitted
        .iter()
        .map(|&index| variant_name(&enum_name, enumeration.value[index].name()))
        .collect();
    let mut taken: HashSet<String> = natural.iter().cloned().collect();
    let mut claimed = HashSet::new();
    let mut renamed = Vec::new();
    for (&index, variant) in emitted.iter().zip(&natural) {
        if claimed.insert(variant.clone()) {
            continue;
        }
        let value = &mut enumeration.value[index];
        let proto_name = value.name().to_owned();
        let (stand_in, variant) = (2..)
            .map(|n| {
                let stand_in = format!("{proto_name}_{n}");
                let variant = variant_name(&enum_name, &stand_in);
                (stand_in, variant)
            })
            .find(|(stand_in, variant)| {
                !taken.contains(variant) && !module_names.contains(stand_in)
            })
            .expect("an unbounded search finds a free name");
        taken.insert(variant.clone());
        claimed.insert(variant.clone());
        module_names.insert(stand_in.clone());
        value.name = Some(stand_in.clone());
        renamed.push((proto_name, stand_in, variant));
    }
    renamed
}

/// Rewrites an enum field's default so prost-build finds its variant: an alias (`allow_alias`)
/// becomes the first value with the same number, the only one prost-build emits, and a renamed
/// value becomes its stand-in. The number, and so the meaning, is unchanged. `originals` are
/// the proto names of renamed types by their stand-in names, for finding them in `pool`.
fn rewrite_enum_defaults(
    message: &mut DescriptorProto,
    pool: &DescriptorPool,
    stand_ins: &HashMap<(String, String), String>,
    originals: &HashMap<String, String>,
) {
    for field in &mut message.field {
        let (Some(default), Some(type_name)) = (&field.default_value, &field.type_name) else {
            continue;
        };
        let full_name = type_name.trim_start_matches('.');
        let original = originals.get(full_name).map_or(full_name, String::as_str);
        let Some(enumeration) = pool.get_enum_by_name(original) else {
            continue;
        };
        let Some(number) = enumeration.get_value_by_name(default).map(|v| v.number()) else {
            continue;
        };
        // Declaration order, as prost-build sees it (`values()` is sorted by number).
        let declared = &enumeration.enum_descriptor_proto().value;
        if let Some(first) = declared.iter().find(|value| value.number() == number) {
            let key = (full_name.to_owned(), first.name().to_owned());
            let name = stand_ins.get(&key).map_or(first.name(), String::as_str);
            field.default_value = Some(name.to_owned());
        }
    }
    for nested in &mut message.nested_type {
        rewrite_enum_defaults(nested, pool, stand_ins, originals);
    }
}

/// Calls `visit` with the full name and descriptor of every enum in `file`, nested ones too.
fn visit_enums(
    file: &mut FileDescriptorProto,
    visit: &mut impl FnMut(&str, &mut EnumDescriptorProto),
) {
    fn in_message(
        scope: &str,
        message: &mut DescriptorProto,
        visit: &mut impl FnMut(&str, &mut EnumDescriptorProto),
    ) {
        let scope = qualify(scope, message.name());
        for enumeration in &mut message.enum_type {
            let full_name = format!("{scope}.{}", enumeration.name());
            visit(&full_name, enumeration);
        }
        for nested in &mut message.nested_type {
            in_message(&scope, nested, visit);
        }
    }
    let scope = file.package().to_owned();
    for enumeration in &mut file.enum_type {
        let full_name = qualify(&scope, enumeration.name());
        visit(&full_name, enumeration);
    }
    for message in &mut file.message_type {
        in_message(&scope, message, visit);
    }
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_follow_prost_build() {
        assert_eq!(variant_name("Flag", "FLAG_BAR"), "Bar");
        assert_eq!(variant_name("Flag", "FB"), "Fb");
        assert_eq!(variant_name("Foo", "FOOBAR"), "Foobar");
        assert_eq!(variant_name("Flag", "FB_2"), "Fb2");
        assert_eq!(variant_name("Kind", "SELF"), "Self_");
        assert_eq!(variant_name("Kind", "KIND_SELF"), "Self_");
    }

    fn enumeration(values: &[(&str, i32)]) -> EnumDescriptorProto {
        EnumDescriptorProto {
            name: Some("Flag".to_owned()),
            value: values
                .iter()
                .map(|&(name, number)| prost_types::EnumValueDescriptorProto {
                    name: Some(name.to_owned()),
                    number: Some(number),
                    options: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_later_value_gets_a_stand_in_that_skips_taken_variants_and_names() {
        let mut flag = enumeration(&[
            ("Fb", 1),
            ("FB", 2),
            ("Fb2", 3),
            ("FLAG_BAR", 4),
            ("BAR", 5),
        ]);
        let mut names: HashSet<String> = ["FB_3".to_owned()].into();
        let renamed = distinct_variants(&mut flag, &mut names);
        assert_eq!(
            renamed,
            [
                ("FB".into(), "FB_4".into(), "Fb4".into()),
                ("BAR".into(), "BAR_2".into(), "Bar2".into()),
            ]
        );
        let names: Vec<_> = flag.value.iter().map(|value| value.name()).collect();
        assert_eq!(names, ["Fb", "FB_4", "Fb2", "FLAG_BAR", "BAR_2"]);
    }

    #[test]
    fn aliases_are_not_variants_and_never_renamed() {
        let mut flag = enumeration(&[("ON", 1), ("On", 1)]);
        assert!(distinct_variants(&mut flag, &mut HashSet::new()).is_empty());
    }

    #[test]
    fn restore_puts_the_proto_name_back_in_both_directions() {
        let value = RenamedValue {
            module: Module::from_protobuf_package_name("p"),
            variant: "Fb2".into(),
            stand_in: "FB_2".into(),
            proto_name: "FB".into(),
        };
        let code = "Self::Fb2 => \"FB_2\",\n\"FB_2\" => Some(Self::Fb2),\nSelf::Fb => \"Fb\",";
        assert_eq!(
            value.restore(code),
            "Self::Fb2 => \"FB\",\n\"FB\" => Some(Self::Fb2),\nSelf::Fb => \"Fb\","
        );
    }
}
