//! What a package's module already holds: whether prost-build writes it a messages file, and the
//! names its types and sub-packages take, which the generated services' names must avoid.

use std::collections::BTreeSet;

use prost_reflect::DescriptorPool;

use crate::names::{self, Scope};
use crate::prepare::StandIns;

/// Whether any file of `package_name` in the request defines a message or an enum, so that
/// prost-build writes a messages file for it.
pub(super) fn package_has_types(pool: &DescriptorPool, package_name: &str) -> bool {
    pool.files()
        .filter(|file| file.package_name() == package_name)
        .any(|file| file.messages().len() > 0 || file.enums().len() > 0)
}

/// Names prost-build and sub-packages already use in a package's module (a type with a
/// stand-in is known to prost-build by it).
pub(super) fn package_scope(
    pool: &DescriptorPool,
    package_name: &str,
    all_packages: &BTreeSet<String>,
    stand_ins: &StandIns,
) -> Scope {
    let name = |full_name: &str, name: &'_ str| {
        stand_ins
            .get(full_name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    };
    let mut taken = Vec::new();
    for file in pool
        .files()
        .filter(|file| file.package_name() == package_name)
    {
        for message in file.messages() {
            let name = name(message.full_name(), message.name());
            taken.push(names::upper_camel(&name));
            taken.push(names::snake(&name));
        }
        for enumeration in file.enums() {
            taken.push(names::upper_camel(&name(
                enumeration.full_name(),
                enumeration.name(),
            )));
        }
    }
    let prefix = if package_name.is_empty() {
        String::new()
    } else {
        format!("{package_name}.")
    };
    for other in all_packages {
        if let Some(rest) = other.strip_prefix(&prefix).filter(|rest| !rest.is_empty()) {
            let child = rest.split('.').next().unwrap_or(rest);
            taken.push(names::snake(child));
        }
    }
    Scope::with_taken(taken)
}
