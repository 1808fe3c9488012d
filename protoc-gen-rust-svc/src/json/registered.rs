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

/// The top-level messages and enums of a request, by full name, to pick registries from.
pub(super) struct Types<'a> {
    files: &'a [FileDescriptorProto],
    /// ".pkg.Name" → its file and place there.
    top_level: HashMap<String, (usize, Item)>,
}

/// Where a top-level type is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Message(usize),
    Enum(usize),
}

impl<'a> Types<'a> {
    pub(super) fn new(files: &'a [FileDescriptorProto]) -> Self {
        let mut top_level = HashMap::new();
        for (index, file) in files.iter().enumerate() {
            for (position, message) in file.message_type.iter().enumerate() {
                top_level.insert(
                    full_name(file, message.name()),
                    (index, Item::Message(position)),
                );
            }
            for (position, enumeration) in file.enum_type.iter().enumerate() {
                top_level.insert(
                    full_name(file, enumeration.name()),
                    (index, Item::Enum(position)),
                );
            }
        }
        Self { files, top_level }
    }

    /// The files with only the top-level messages and enums that `prefixes` (pbjson-build's,
    /// each a full name with a leading dot) name or that their fields reach.
    pub(super) fn registry(&self, prefixes: &[String]) -> Vec<FileDescriptorProto> {
        let mut kept: HashSet<&str> = HashSet::new();
        let mut queue: Vec<&str> = Vec::new();
        for prefix in prefixes {
            match self.holder(prefix) {
                Some(name) => queue.push(name),
                // A package: every type in it (and in packages below it) is generated.
                None => queue.extend(
                    self.top_level
                        .keys()
                        .filter(|name| is_under(name, prefix))
                        .map(String::as_str),
                ),
            }
        }
        while let Some(name) = queue.pop() {
            if !kept.insert(name) {
                continue;
            }
            if let Some(&(file, Item::Message(position))) = self.top_level.get(name) {
                let mut named = Vec::new();
                field_types(&self.files[file].message_type[position], &mut named);
                queue.extend(
                    named
                        .iter()
                        .filter_map(|type_name| self.holder(type_name))
                        .filter(|holder| !kept.contains(*holder)),
                );
            }
        }
        let mut places: Vec<(usize, Item)> = kept
            .iter()
            .filter_map(|name| self.top_level.get(*name).copied())
            .collect();
        places.sort_unstable();
        let mut registry: Vec<FileDescriptorProto> = Vec::new();
        let mut current = None;
        for (index, item) in places {
            let source = &self.files[index];
            if current != Some(index) {
                current = Some(index);
                // No source locations (paths into the lists being shortened; pbjson-build reads
                // no comments) and no services (it does not read them either).
                registry.push(FileDescriptorProto {
                    name: source.name.clone(),
                    package: source.package.clone(),
                    dependency: source.dependency.clone(),
                    options: source.options.clone(),
                    syntax: source.syntax.clone(),
                    ..Default::default()
                });
            }
            let file = registry.last_mut().expect("pushed above");
            match item {
                Item::Message(position) => file
                    .message_type
                    .push(source.message_type[position].clone()),
                Item::Enum(position) => file.enum_type.push(source.enum_type[position].clone()),
            }
        }
        registry
    }

    /// The top-level type that is `type_name` or holds it (`.pkg.Outer` for `.pkg.Outer.Inner`).
    fn holder(&self, type_name: &str) -> Option<&str> {
        let mut end = type_name.len();
        loop {
            if let Some((name, _)) = self.top_level.get_key_value(&type_name[..end]) {
                return Some(name);
            }
            end = type_name[..end].rfind('.').filter(|&dot| dot > 0)?;
        }
    }
}

fn full_name(file: &FileDescriptorProto, name: &str) -> String {
    format!(".{}.{name}", file.package())
}

/// Whether `name` is `prefix` or lies under it, part by part.
fn is_under(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
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
            names(&Types::new(&files).registry(&prefixes)),
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
