//! The include file: the module tree of every generated package, `include!`-ing its files.
//!
//! A package's module can already exist: prost-build writes `pub mod outer` for the nested types
//! of a message `Outer`, and the sub-package `….outer` needs a module of that name too. Rust
//! cannot open a module twice, so such a sub-package is included *inside* prost's module, which
//! means patching that messages file. prost's own paths keep working (`outer::Leaf` from the
//! parent, `super::Outer` from the sub-package), because the module sits where both expect it.

use std::collections::{BTreeMap, HashMap};

use crate::error::Error;
use crate::model::Model;
use crate::params::Params;

#[derive(Default)]
struct Node {
    /// Files included in this module, messages first.
    files: Vec<String>,
    children: BTreeMap<String, Node>,
}

/// The include file, and the messages files it had to patch (name → new syntax tree).
pub struct IncludeFile {
    pub file: syn::File,
    pub patched: BTreeMap<String, syn::File>,
}

/// Builds the include file. `messages` are the messages files by name, as prost-build wrote them;
/// `descriptor_set`, if given, becomes its `FILE_DESCRIPTOR_SET`.
pub fn include_file(
    model: &Model,
    params: &Params,
    messages: &HashMap<&str, &str>,
    descriptor_set: Option<Vec<u8>>,
) -> Result<IncludeFile, Error> {
    let mut root = Node::default();
    for package in &model.packages {
        let mut node = &mut root;
        for part in package.module.parts() {
            node = node.children.entry(part.to_owned()).or_default();
        }
        if package.has_types {
            node.files
                .push(crate::layout::messages_file_name(&package.module));
        }
        if crate::layout::emits_services(package, params) {
            node.files
                .push(crate::layout::services_file_name(&package.module));
        }
    }
    let mut merger = Merger {
        messages,
        patched: BTreeMap::new(),
    };
    let mut items = Vec::new();
    merger.fill(&root, &mut items)?;
    items.extend(descriptor_set.map(|set| descriptor_set_const(&set)));
    Ok(IncludeFile {
        file: syn::File {
            shebang: None,
            attrs: Vec::new(),
            items,
        },
        patched: merger.patched,
    })
}

struct Merger<'a> {
    messages: &'a HashMap<&'a str, &'a str>,
    patched: BTreeMap<String, syn::File>,
}

impl Merger<'_> {
    /// Puts `node`'s files and sub-modules into the module whose items are `items`.
    fn fill(&mut self, node: &Node, items: &mut Vec<syn::Item>) -> Result<(), Error> {
        for file in &node.files {
            items.push(syn::parse_quote! { include!(#file); });
        }
        for (name, child) in &node.children {
            // A module already in this target (one of prost's, when the target is inside a
            // patched file)...
            if let Some(content) = module_content(items, name) {
                self.fill(child, content)?;
                continue;
            }
            // ...or one declared at the top of a messages file included here...
            if let Some(file_name) = self.declaring_file(&node.files, name) {
                let mut file = self.parsed(&file_name)?;
                let result = match module_content(&mut file.items, name) {
                    Some(content) => self.fill(child, content).map(|()| true),
                    None => Ok(false),
                };
                self.patched.insert(file_name, file);
                if result? {
                    continue;
                }
            }
            // ...or a new one.
            let ident = super::ident(name);
            items.push(syn::parse_quote! { pub mod #ident {} });
            if let Some(syn::Item::Mod(module)) = items.last_mut()
                && let Some((_, content)) = module.content.as_mut()
            {
                self.fill(child, content)?;
            }
        }
        Ok(())
    }

    /// The messages file among `files` that declares `pub mod name` at its top level.
    fn declaring_file(&self, files: &[String], name: &str) -> Option<String> {
        // prost-build's output is formatted, so a top-level module starts a line: only a file
        // with such a line is parsed, and googleapis-sized requests parse none.
        let declaration = format!("pub mod {name} {{");
        files
            .iter()
            .find(|file_name| match self.patched.get(*file_name) {
                Some(file) => file.items.iter().any(|item| declares(item, name)),
                None => self.messages.get(file_name.as_str()).is_some_and(|text| {
                    text.starts_with(&declaration) || text.contains(&format!("\n{declaration}"))
                }),
            })
            .cloned()
    }

    /// A messages file's syntax tree, taken out of `patched` if it was parsed before.
    fn parsed(&mut self, file_name: &str) -> Result<syn::File, Error> {
        if let Some(file) = self.patched.remove(file_name) {
            return Ok(file);
        }
        let text = self.messages.get(file_name).copied().unwrap_or("");
        syn::parse_file(text).map_err(|error| {
            Error::new(format!(
                "internal error: prost-build's {file_name} does not parse ({error})"
            ))
        })
    }
}

/// `pub const FILE_DESCRIPTOR_SET: &[u8]`, the set inline.
///
/// Inline rather than `include_bytes!` of a file beside it: a plugin's output files are strings,
/// and protoc 3.x logs an error for one that is not UTF-8. Module names are snake case and type
/// names camel case, so the constant's name cannot clash with a generated item at the root.
fn descriptor_set_const(set: &[u8]) -> syn::Item {
    let literal = byte_string_literal(set);
    syn::parse_quote! {
        /// The encoded `google.protobuf.FileDescriptorSet` of the generated files and every file
        /// they import, source locations included (protoc's `--include_imports
        /// --include_source_info`): what server reflection serves, e.g. tonic-reflection's
        /// `Builder::register_encoded_file_descriptor_set`.
        #[allow(dead_code)] // a binary may not serve reflection in every build
        pub const FILE_DESCRIPTOR_SET: &[u8] = #literal;
    }
}

/// `bytes` as a byte string literal broken into lines (a `\` at the end of a line continues the
/// literal and skips the next line's indentation), so that the file diffs line by line.
fn byte_string_literal(bytes: &[u8]) -> proc_macro2::Literal {
    use std::fmt::Write as _;
    const WIDTH: usize = 96;
    let mut text = String::with_capacity(bytes.len() * 2 + 3);
    text.push_str("b\"");
    let mut line_start = text.len();
    for (index, &byte) in bytes.iter().enumerate() {
        if text.len() - line_start >= WIDTH {
            text.push_str("\\\n    ");
            line_start = text.len();
        }
        match byte {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            // `\0` then a digit reads as an octal escape (clippy's `octal_escapes`).
            b'\0' if !bytes.get(index + 1).is_some_and(u8::is_ascii_digit) => {
                text.push_str("\\0");
            }
            // A space starting a continued line would be skipped with the indentation.
            b' ' if text.len() == line_start => text.push_str("\\x20"),
            b' '..=b'~' => text.push(char::from(byte)),
            _ => {
                let _ = write!(text, "\\x{byte:02x}");
            }
        }
    }
    text.push('"');
    text.parse().expect("an escaped byte string is a literal")
}

fn declares(item: &syn::Item, name: &str) -> bool {
    matches!(item, syn::Item::Mod(module) if module.content.is_some() && module.ident == super::ident(name))
}

/// The items of the inline module `name` among `items`, if there is one.
fn module_content<'a>(items: &'a mut [syn::Item], name: &str) -> Option<&'a mut Vec<syn::Item>> {
    let item = items.iter_mut().find(|item| declares(item, name))?;
    match item {
        syn::Item::Mod(module) => module.content.as_mut().map(|(_, items)| items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_reads_back_as_the_bytes() {
        // Every byte value, and runs of spaces and quotes that straddle line breaks (a space
        // starting a continued line must not be skipped with the indentation).
        let mut bytes: Vec<u8> = (0..=255).collect();
        bytes.extend(b" \" \\ ".repeat(200));
        bytes.extend([b' '; 300]);
        bytes.extend(b"\x001\x00a\x00");
        let literal = byte_string_literal(&bytes);
        let parsed: syn::LitByteStr = syn::parse_str(&literal.to_string()).unwrap();
        assert_eq!(parsed.value(), bytes);
        let text = literal.to_string();
        assert!(text.lines().count() > 10);
        assert!(text.ends_with(r#"\x001\0a\0""#), "{text}");
    }
}
