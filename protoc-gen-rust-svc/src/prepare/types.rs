//! Messages and enums whose Rust names would clash (`Fb` and `FB` in one package are both
//! `Fb`): prost-build has no rename hook, so the later one is given to it, and to the JSON impls,
//! under a stand-in proto name (`FB_2`, which both make `Fb2`), with every reference to it
//! rewritten to match. The proto name stays everywhere it is visible: the model, the gateway's
//! schemas and the descriptors users get are built from the original pool, and the few strings
//! the JSON impls write with a message's name are restored ([`RenamedType`]).

use std::collections::{BTreeMap, HashMap};

use heck::ToSnakeCase;
use prost_build::Module;
use prost_reflect::DescriptorPool;
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};
use syn::ext::IdentExt;

use crate::names;
use crate::params::Params;

/// Stand-in names by full proto name (`pkg.FB` → `FB_2`), for every type whose Rust name an
/// earlier sibling has. Siblings are the top-level types of a package, files taken by name and
/// each file's messages before its enums, or the types nested in one message.
pub type StandIns = HashMap<String, String>;

/// Every stand-in the types of `pool` need; empty for nearly every set of protos.
pub fn stand_ins(pool: &DescriptorPool) -> StandIns {
    let mut stand_ins = StandIns::new();
    let mut record = |scope: &str, siblings: &[(&str, bool)]| {
        if siblings.len() < 2 {
            return;
        }
        for (&(name, _), stand_in) in siblings.iter().zip(names::type_stand_ins(siblings)) {
            if let Some(stand_in) = stand_in {
                stand_ins.insert(qualify(scope, name), stand_in);
            }
        }
    };
    // Names are read from the raw descriptors: prost-reflect's child iterators look every child
    // up by its full name, which at googleapis scale cost more than the whole check.
    let mut packages: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for file in pool.files() {
        let package = file.package_name().to_owned();
        packages.entry(package).or_default().push(file);
    }
    for (package, mut files) in packages {
        files.sort_by(|a, b| a.name().cmp(b.name()));
        let siblings: Vec<(&str, bool)> = files
            .iter()
            .flat_map(|file| {
                let file = file.file_descriptor_proto();
                let messages = file.message_type.iter().map(|m| (m.name(), true));
                messages.chain(file.enum_type.iter().map(|e| (e.name(), false)))
            })
            .collect();
        record(&package, &siblings);
    }
    for message in pool.all_messages() {
        let proto = message.descriptor_proto();
        if proto.nested_type.len() + proto.enum_type.len() < 2 {
            continue;
        }
        // Map entries become `HashMap`s, not items.
        let nested = proto.nested_type.iter().filter(|m| !is_map_entry(m));
        let siblings: Vec<(&str, bool)> = nested
            .map(|m| (m.name(), true))
            .chain(proto.enum_type.iter().map(|e| (e.name(), false)))
            .collect();
        record(message.full_name(), &siblings);
    }
    stand_ins
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message.options.as_ref().is_some_and(|o| o.map_entry())
}

/// A message prost-build knows under a stand-in path; the JSON impls name it by its proto path
/// (`serialize_struct("pkg.FB", …)`, `"struct pkg.FB"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamedType {
    pub module: Module,
    /// The path within the package as prost-build got it, e.g. `FB_2` or `Outer_2.Inner`.
    pub stand_in: String,
    /// The path within the package in the proto, e.g. `FB` or `OUTER.Inner`.
    pub proto_name: String,
}

/// prost-build documents the module of a message's nested types with the message's name
/// (``/// Nested message and enum types in `FB_2`.``): the modules of `renamed` (one package's)
/// get the proto name back.
pub fn restore_module_docs(file: &mut syn::File, renamed: &[&RenamedType]) {
    // By the module path prost-build writes (`outer_2::fb_2`), for each renamed message.
    let docs: HashMap<Vec<String>, String> = renamed
        .iter()
        .filter_map(|renamed| {
            let proto = renamed.proto_name.rsplit('.').next()?;
            let stand_in = renamed.stand_in.rsplit('.').next()?;
            let path = renamed.stand_in.split('.').map(|part| part.to_snake_case());
            (proto != stand_in).then(|| (path.collect(), proto.to_owned()))
        })
        .collect();
    if !docs.is_empty() {
        restore_in(&mut file.items, &mut Vec::new(), &docs);
    }
}

fn restore_in(
    items: &mut [syn::Item],
    path: &mut Vec<String>,
    docs: &HashMap<Vec<String>, String>,
) {
    for item in items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        path.push(module.ident.unraw().to_string());
        if let Some(proto) = docs.get(path.as_slice()) {
            let doc = format!(" Nested message and enum types in `{proto}`.");
            for attr in &mut module.attrs {
                if attr.path().is_ident("doc") {
                    *attr = syn::parse_quote!(#[doc = #doc]);
                }
            }
        }
        if let Some((_, content)) = &mut module.content {
            restore_in(content, path, docs);
        }
        path.pop();
    }
}

/// Gives the types of `files` their stand-in names and rewrites every reference to them.
/// Returns the messages whose path changed (a renamed parent moves its nested types too) and,
/// by changed full name, the original full name of every type, for looking it up in the pool.
pub fn rename(
    files: &mut [(Module, FileDescriptorProto)],
    stand_ins: &StandIns,
) -> (Vec<RenamedType>, HashMap<String, String>) {
    let mut renamed = Vec::new();
    let mut originals = HashMap::new();
    if stand_ins.is_empty() {
        return (renamed, originals);
    }
    for (module, file) in files.iter_mut() {
        let mut declarations = Declarations {
            stand_ins,
            package: file.package().to_owned(),
            module,
            renamed: &mut renamed,
            originals: &mut originals,
        };
        for message in &mut file.message_type {
            declarations.message(message, "", "");
        }
        for enumeration in &mut file.enum_type {
            let name = enumeration.name().to_owned();
            if let Some(stand_in) = declarations.renamed_name("", "", &name) {
                enumeration.name = Some(stand_in);
            }
        }
        for field in &mut file.extension {
            rename_reference(field, stand_ins);
        }
        for method in file.service.iter_mut().flat_map(|s| s.method.iter_mut()) {
            for type_name in [&mut method.input_type, &mut method.output_type] {
                rename_type_name(type_name, stand_ins);
            }
        }
    }
    (renamed, originals)
}

/// Renames declarations in one file, tracking each type's original and stand-in paths.
struct Declarations<'a> {
    stand_ins: &'a StandIns,
    package: String,
    module: &'a Module,
    renamed: &'a mut Vec<RenamedType>,
    originals: &'a mut HashMap<String, String>,
}

impl Declarations<'_> {
    /// The stand-in of `name` declared at `original` (a path within the package), if it has
    /// one; records the type if its path changed either way.
    fn renamed_name(&mut self, original: &str, current: &str, name: &str) -> Option<String> {
        let full_name = qualify(&self.package, &qualify(original, name));
        let stand_in = self.stand_ins.get(&full_name);
        let (original, current) = (
            qualify(original, name),
            qualify(current, stand_in.map_or(name, String::as_str)),
        );
        if original != current {
            self.originals.insert(
                qualify(&self.package, &current),
                qualify(&self.package, &original),
            );
        }
        stand_in.cloned()
    }

    fn message(&mut self, message: &mut DescriptorProto, original: &str, current: &str) {
        let name = message.name().to_owned();
        if let Some(stand_in) = self.renamed_name(original, current, &name) {
            message.name = Some(stand_in);
        }
        let (original, current) = (qualify(original, &name), qualify(current, message.name()));
        if original != current {
            self.renamed.push(RenamedType {
                module: self.module.clone(),
                stand_in: current.clone(),
                proto_name: original.clone(),
            });
        }
        for field in message.field.iter_mut().chain(&mut message.extension) {
            rename_reference(field, self.stand_ins);
        }
        for nested in &mut message.nested_type {
            self.message(nested, &original, &current);
        }
        for enumeration in &mut message.enum_type {
            let name = enumeration.name().to_owned();
            if let Some(stand_in) = self.renamed_name(&original, &current, &name) {
                enumeration.name = Some(stand_in);
            }
        }
    }
}

/// `params` for prost-build and the JSON impls, which know renamed types by their stand-ins: the
/// fully qualified proto paths of `extern_path`, `type_attribute` and `field_attribute` that
/// name a renamed type (or something in it) are renamed alike.
pub fn params_for_stand_ins(params: &Params, stand_ins: &StandIns) -> Params {
    let mut params = params.clone();
    let lists = [
        &mut params.extern_paths,
        &mut params.type_attributes,
        &mut params.field_attributes,
    ];
    for (path, _) in lists.into_iter().flatten() {
        let mut renamed = Some(std::mem::take(path));
        rename_type_name(&mut renamed, stand_ins);
        *path = renamed.unwrap_or_default();
    }
    params
}

fn rename_reference(field: &mut FieldDescriptorProto, stand_ins: &StandIns) {
    rename_type_name(&mut field.type_name, stand_ins);
    rename_type_name(&mut field.extendee, stand_ins);
}

/// `.pkg.OUTER.FB` → `.pkg.OUTER_2.FB_2`: each part of a fully qualified name that names a
/// renamed type (looked up by its original full name) becomes its stand-in.
fn rename_type_name(type_name: &mut Option<String>, stand_ins: &StandIns) {
    let Some(qualified) = type_name.as_deref().and_then(|name| name.strip_prefix('.')) else {
        return;
    };
    let mut original = String::new();
    let mut current = String::new();
    for part in qualified.split('.') {
        original = qualify(&original, part);
        let part = stand_ins.get(&original).map_or(part, String::as_str);
        current = qualify(&current, part);
    }
    if current != qualified {
        *type_name = Some(format!(".{current}"));
    }
}

/// The full name (no leading dot) prost-build and the JSON impls know the type `full_name` by.
pub fn stand_in_name(full_name: &str, stand_ins: &StandIns) -> String {
    let mut name = Some(format!(".{full_name}"));
    rename_type_name(&mut name, stand_ins);
    name.unwrap_or_default()[1..].to_owned()
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
    fn references_follow_renamed_parents_and_types() {
        let stand_ins: StandIns = [
            ("p.OUTER".to_owned(), "OUTER_2".to_owned()),
            ("p.OUTER.FB".to_owned(), "FB_2".to_owned()),
        ]
        .into();
        let renamed = |name: &str| {
            let mut type_name = Some(name.to_owned());
            rename_type_name(&mut type_name, &stand_ins);
            type_name.unwrap()
        };
        assert_eq!(renamed(".p.OUTER.FB"), ".p.OUTER_2.FB_2");
        assert_eq!(renamed(".p.OUTER.Inner"), ".p.OUTER_2.Inner");
        assert_eq!(renamed(".p.Outer.FB"), ".p.Outer.FB");
        assert_eq!(renamed(".q.OUTER"), ".q.OUTER");

        let params = Params {
            extern_paths: vec![(".p.OUTER.FB".into(), "::x::Fb".into())],
            field_attributes: vec![(".p.OUTER.name".into(), "#[a]".into())],
            type_attributes: vec![(".".into(), "#[b]".into()), ("FB".into(), "#[c]".into())],
            ..Params::default()
        };
        let renamed = params_for_stand_ins(&params, &stand_ins);
        assert_eq!(renamed.extern_paths[0].0, ".p.OUTER_2.FB_2");
        assert_eq!(renamed.field_attributes[0].0, ".p.OUTER_2.name");
        // Paths that are not fully qualified match by suffix, and are left as written.
        assert_eq!(renamed.type_attributes, params.type_attributes);
    }
}
