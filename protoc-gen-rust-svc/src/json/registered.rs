//! The descriptors pbjson-build is given: only the top-level types its impls can name.
//!
//! pbjson-build matches every registered type against every prefix, and resolves each field's
//! type by scanning the registered types from the first: both grow with the number of types
//! registered, which is every type of the request, dependencies included. On the googleapis
//! medium request (285 files, a few thousand types, most never reached by an HTTP route) that
//! matching was a sixth of the plugin's run. pbjson-build has no index to ask for, so it is
//! given less: the top-level types that hold a generated type, and those the generated types'
//! fields name, transitively. A top-level type is kept whole (its nested types are generated
//! with it when a prefix names it), so the walk covers every field of a kept type.

use std::collections::{HashMap, HashSet};

use prost_types::{DescriptorProto, FileDescriptorProto};

/// `files` with only the top-level messages and enums that `prefixes` (pbjson-build's, each a
/// full type name with a leading dot) name or that their fields reach. Services are dropped:
/// pbjson-build does not read them.
pub(super) fn prune(
    mut files: Vec<FileDescriptorProto>,
    prefixes: &[String],
) -> Vec<FileDescriptorProto> {
    // Top-level types by full name (".pkg.Name"): (file, message index or enum).
    let mut top_level: HashMap<String, (usize, Option<usize>)> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        for (position, message) in file.message_type.iter().enumerate() {
            top_level.insert(full_name(file, message.name()), (index, Some(position)));
        }
        for enumeration in &file.enum_type {
            top_level.insert(full_name(file, enumeration.name()), (index, None));
        }
    }
    let mut kept: HashSet<String> = HashSet::new();
    let mut queue: Vec<String> = Vec::new();
    for prefix in prefixes {
        match holder(&top_level, prefix) {
            Some(name) => queue.push(name.to_owned()),
            // A package: every type in it (and in packages below it) is generated.
            None => queue.extend(
                top_level
                    .keys()
                    .filter(|name| is_under(name, prefix))
                    .cloned(),
            ),
        }
    }
    while let Some(name) = queue.pop() {
        if !kept.insert(name.clone()) {
            continue;
        }
        if let Some(&(file, Some(position))) = top_level.get(&name) {
            let mut named = Vec::new();
            field_types(&files[file].message_type[position], &mut named);
            queue.extend(
                named
                    .iter()
                    .filter_map(|type_name| holder(&top_level, type_name))
                    .filter(|holder| !kept.contains(*holder))
                    .map(str::to_owned),
            );
        }
    }
    for file in &mut files {
        let package = file.package().to_owned();
        let keep = |name: &str| kept.contains(&format!(".{package}.{name}"));
        file.message_type.retain(|message| keep(message.name()));
        file.enum_type
            .retain(|enumeration| keep(enumeration.name()));
        file.service.clear();
        // Source locations are paths into the lists just shortened, and pbjson-build reads no
        // comments.
        file.source_code_info = None;
    }
    files
}

fn full_name(file: &FileDescriptorProto, name: &str) -> String {
    format!(".{}.{name}", file.package())
}

/// Whether `name` is `prefix` or lies under it, part by part.
fn is_under(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The top-level type that is `type_name` or holds it (`.pkg.Outer` for `.pkg.Outer.Inner`).
fn holder<'a>(
    top_level: &'a HashMap<String, (usize, Option<usize>)>,
    type_name: &str,
) -> Option<&'a str> {
    let mut end = type_name.len();
    loop {
        if let Some((name, _)) = top_level.get_key_value(&type_name[..end]) {
            return Some(name);
        }
        end = type_name[..end].rfind('.').filter(|&dot| dot > 0)?;
    }
}

/// The type names the fields of `message` and of its nested messages name.
fn field_types<'a>(message: &'a DescriptorProto, named: &mut Vec<&'a str>) {
    named.extend(
        message
            .field
            .iter()
            .map(|field| field.type_name())
            .filter(|name| !name.is_empty()),
    );
    for nested in &message.nested_type {
        field_types(nested, named);
    }
}

#[cfg(test)]
mod tests {
    use prost_types::{EnumDescriptorProto, FieldDescriptorProto};

    use super::*;

    fn message(name: &str, fields: &[&str], nested: Vec<DescriptorProto>) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.to_owned()),
            field: fields
                .iter()
                .map(|type_name| FieldDescriptorProto {
                    type_name: Some((*type_name).to_owned()),
                    ..Default::default()
                })
                .collect(),
            nested_type: nested,
            ..Default::default()
        }
    }

    fn file(package: &str, messages: Vec<DescriptorProto>, enums: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            package: Some(package.to_owned()),
            message_type: messages,
            enum_type: enums
                .iter()
                .map(|name| EnumDescriptorProto {
                    name: Some((*name).to_owned()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn names(files: &[FileDescriptorProto]) -> Vec<String> {
        let mut names: Vec<String> = files
            .iter()
            .flat_map(|file| {
                let messages = file.message_type.iter().map(|message| message.name());
                let enums = file.enum_type.iter().map(|enumeration| enumeration.name());
                messages
                    .chain(enums)
                    .map(|name| format!("{}.{name}", file.package()))
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn only_named_types_and_what_their_fields_reach_are_kept() {
        let files = vec![
            file(
                "a.v1",
                vec![
                    // Reached: its nested type names a type of another package.
                    message(
                        "Request",
                        &[".a.v1.Kind"],
                        vec![message("Inner", &[".b.v1.Money"], vec![])],
                    ),
                    message("Unreached", &[".b.v1.Other"], vec![]),
                    // Holds a reached nested type: kept whole.
                    message("Outer", &[], vec![message("Leaf", &[".a.v1.Deep"], vec![])]),
                    message("Deep", &[], vec![]),
                ],
                &["Kind", "Unused"],
            ),
            file(
                "b.v1",
                vec![message("Money", &[], vec![]), message("Other", &[], vec![])],
                &[],
            ),
            file("c.v1", vec![message("All", &[], vec![])], &["AllToo"]),
            file("c.v1.sub", vec![message("Below", &[], vec![])], &[]),
        ];
        let prefixes = [".a.v1.Request", ".a.v1.Outer.Leaf", ".c.v1"].map(str::to_owned);
        assert_eq!(
            names(&prune(files, &prefixes)),
            [
                "a.v1.Deep",
                "a.v1.Kind",
                "a.v1.Outer",
                "a.v1.Request",
                "b.v1.Money",
                "c.v1.All",
                "c.v1.AllToo",
                "c.v1.sub.Below",
            ]
        );
    }
}
