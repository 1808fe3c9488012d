//! The include file: the module tree of every generated package, `include!`-ing its files.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use crate::model::Model;
use crate::params::Params;

#[derive(Default)]
struct Node {
    files: Vec<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn tokens(&self) -> TokenStream {
        let files = &self.files;
        let children = self.children.iter().map(|(name, child)| {
            let name = ident(name);
            let body = child.tokens();
            quote! { pub mod #name { #body } }
        });
        quote! {
            #(include!(#files);)*
            #(#children)*
        }
    }
}

/// The include file's tokens.
pub fn include_file(model: &Model, params: &Params) -> TokenStream {
    let mut root = Node::default();
    for package in &model.packages {
        let mut node = &mut root;
        for part in package.module.parts() {
            node = node.children.entry(part.to_owned()).or_default();
        }
        if package.has_types {
            node.files.push(crate::messages_file_name(&package.module));
        }
        if crate::emits_services(package, params) {
            node.files.push(crate::services_file_name(&package.module));
        }
    }
    root.tokens()
}
