//! Which packages get messages: those of the files to generate, and every package their types
//! reach, so that the generated code compiles on its own.
//!
//! prost-build writes one module per package and refers to another package's type by a path
//! that climbs out of its own module (`super::super::rpc::Status`): that module must exist. A
//! package spans files, and a request names only some of them (protoc's files to generate, the
//! files a scaffold lists), so the unit is the package, not the file: a needed package gets the
//! messages of every file of it in the request, and whatever those reach is needed in turn.
//! tonic-build users get the same: prost-build generates every file it compiles, imports
//! included. A type mapped elsewhere with `extern_path` (the well-known types always are: to
//! prost-types, or pbjson-types with the gateway's JSON) needs nothing; imports used only for
//! options (`google/api/annotations.proto`) bring no package.

use std::collections::{BTreeSet, HashMap};

use prost_reflect::{DescriptorPool, FileDescriptor, Kind, MessageDescriptor};

/// The well-known types' package, which prost-build maps to a crate of its own.
const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// The packages to write messages for: `generated` (the packages of the files to generate)
/// and every package their messages and rpcs reach, transitively, unless `extern_paths` map
/// the types reached.
pub fn needed_packages(
    pool: &DescriptorPool,
    generated: &BTreeSet<String>,
    extern_paths: &[(String, String)],
) -> BTreeSet<String> {
    let mut files_by_package: HashMap<String, Vec<FileDescriptor>> = HashMap::new();
    for file in pool.files() {
        files_by_package
            .entry(file.package_name().to_owned())
            .or_default()
            .push(file);
    }
    let mut needed = generated.clone();
    let mut queue: Vec<String> = generated.iter().cloned().collect();
    while let Some(package) = queue.pop() {
        let mut reached = Vec::new();
        for file in files_by_package.get(&package).into_iter().flatten() {
            for message in file.messages() {
                reached_by_message(&message, &mut reached);
            }
            for service in file.services() {
                for method in service.methods() {
                    for message in [method.input(), method.output()] {
                        reached.push(TypeRef::of_message(&message));
                    }
                }
            }
        }
        for reference in reached {
            let wanted = reference.package != WELL_KNOWN_PACKAGE
                && !is_extern(&reference.full_name, extern_paths);
            if wanted && needed.insert(reference.package.clone()) {
                queue.push(reference.package);
            }
        }
    }
    needed
}

/// A type a field or rpc refers to.
struct TypeRef {
    full_name: String,
    package: String,
}

impl TypeRef {
    fn of_message(message: &MessageDescriptor) -> Self {
        Self {
            full_name: message.full_name().to_owned(),
            package: message.package_name().to_owned(),
        }
    }
}

/// With `messages=false` another plugin writes the messages, of the files to generate only:
/// a type the services need from a package outside them would be a path to nothing. The first
/// rpc that needs one is an error naming its place, the type, and the two ways out.
pub fn check_unwritten_packages(
    pool: &DescriptorPool,
    sources: &crate::comments::SourceInfos,
    generated: &BTreeSet<String>,
    files_to_generate: &[String],
    extern_paths: &[(String, String)],
) -> Result<(), crate::error::Error> {
    for file in files_to_generate
        .iter()
        .filter_map(|name| pool.get_file_by_name(name))
    {
        for service in file.services() {
            for method in service.methods() {
                for message in [method.input(), method.output()] {
                    let package = message.package_name();
                    let written = generated.contains(package)
                        || package == WELL_KNOWN_PACKAGE
                        || is_extern(message.full_name(), extern_paths);
                    if written {
                        continue;
                    }
                    let (_, line) = sources.find(file.name(), method.path());
                    return Err(crate::error::Error::at(
                        crate::error::Location {
                            file: file.name().to_owned(),
                            line,
                        },
                        format!("rpc {}", method.full_name()),
                        format!(
                            "uses {} from package `{package}`, whose messages this run does not \
                             write (`messages=false`) and no `extern_path` maps: generate that \
                             package's messages with the messages plugin too (buf: \
                             `include_imports: true`), or map it, e.g. \
                             `extern_path=.{package}=::some_crate::{}`",
                            message.full_name(),
                            package.replace('.', "::"),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The messages and enums the fields of `message` and its nested messages refer to (map
/// entries' keys and values included).
fn reached_by_message(message: &MessageDescriptor, reached: &mut Vec<TypeRef>) {
    for field in message.fields() {
        match field.kind() {
            Kind::Message(inner) if inner.is_map_entry() => reached_by_message(&inner, reached),
            Kind::Message(inner) => reached.push(TypeRef::of_message(&inner)),
            Kind::Enum(enumeration) => reached.push(TypeRef {
                full_name: enumeration.full_name().to_owned(),
                package: enumeration.package_name().to_owned(),
            }),
            _ => {}
        }
    }
    for nested in message.child_messages() {
        if !nested.is_map_entry() {
            reached_by_message(&nested, reached);
        }
    }
}

/// Whether `full_name` (without the leading dot) is mapped by an `extern_path`, which, as in
/// prost-build, covers a type or a package and everything under it.
pub(crate) fn is_extern(full_name: &str, extern_paths: &[(String, String)]) -> bool {
    extern_paths.iter().any(|(proto, _)| {
        let proto = proto.trim_start_matches('.');
        proto.is_empty()
            || full_name == proto
            || full_name
                .strip_prefix(proto)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extern_path_covers_a_type_or_a_package_by_whole_segments() {
        let externs = [(".google.rpc".to_owned(), "::g::rpc".to_owned())];
        assert!(is_extern("google.rpc.Status", &externs));
        assert!(is_extern("google.rpc", &externs));
        assert!(!is_extern("google.rpcx.Status", &externs));
        assert!(!is_extern("google.type.Date", &externs));
        let one_type = [(".google.type.Date".to_owned(), "::d::Date".to_owned())];
        assert!(is_extern("google.type.Date", &one_type));
        assert!(!is_extern("google.type.Money", &one_type));
    }
}
