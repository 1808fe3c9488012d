//! The stub: an implementation of the domain trait whose every method answers UNIMPLEMENTED,
//! to start from or to fill in piece by piece.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Settings, compiled_where_used, domain_future, domain_signature, ident, method_attrs,
    method_ident, service_link,
};
use crate::model::Service;

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let trait_ident = ident(&service.names.domain_trait);
    let context = settings.item("Context");
    let stub_ident = ident(&service.names.stub);
    let inline = compiled_where_used();
    let info = ident(&service.names.info);
    let methods = service.methods.iter().enumerate().map(|(index, method)| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        let (request, _) = domain_signature(method, settings);
        let future = domain_future(method, settings);
        let unused = rename_unused(request);
        quote! {
            #used
            #inline
            fn #name(&self, _ctx: &#context, #unused) -> #future {
                #info.methods[#index].not_implemented()
            }
        }
    });
    let doc = format!(
        " An implementation of {} whose every method answers `UNIMPLEMENTED`: a starting point, \
         and a stand-in for a dependency a test does not exercise.",
        service_link(service)
    );
    // Items a binary may leave unused (this stub, the domain traits, the fake, the adapter's
    // methods, the client and the gateway) allow dead_code, so `-D warnings` builds pass, as
    // tonic-build's modules allow it. An allowed item is a live root, so what only it uses (the
    // messages of an rpc never called, private helpers) stays quiet too.
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default)]
        #[allow(dead_code)]
        pub struct #stub_ident;

        impl #trait_ident for #stub_ident {
            #(#methods)*
        }
    }
}

/// Prefixes the parameter name with `_` (the stub ignores it).
fn rename_unused(parameter: TokenStream) -> TokenStream {
    let mut tokens = parameter.into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Ident(name)) => {
            let unused = quote::format_ident!("_{}", name);
            let rest: TokenStream = tokens.collect();
            quote!(#unused #rest)
        }
        other => other.into_iter().chain(tokens).collect(),
    }
}
