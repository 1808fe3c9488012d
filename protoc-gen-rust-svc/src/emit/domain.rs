//! The domain trait: the contract users implement, with no transport types in it; and its
//! object-safe `Dyn…` companion so a service can also be used as `Arc<dyn Dyn…>`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Settings, compiled_where_used, doc_attrs, domain_future, domain_signature,
    domain_signature_with, ident, method_attrs, method_ident, request_arg, service_link,
    unshadowed_type,
};
use crate::model::Service;

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let context = settings.item("Context");
    let box_reply = settings.item("BoxReply");
    let dyn_reply = settings.item("dyn_reply");
    let inline = compiled_where_used();
    let trait_ident = ident(&service.names.domain_trait);
    let dyn_ident = ident(&service.names.dyn_trait);
    let doc = doc_attrs(&service.doc);
    let deprecated = service.deprecated.then(|| quote!(#[deprecated]));

    let mut trait_methods = Vec::new();
    let mut dyn_methods = Vec::new();
    let mut blanket_methods = Vec::new();
    let mut arc_methods = Vec::new();
    let info = ident(&service.names.info);
    for (index, method) in service.methods.iter().enumerate() {
        let name = method_ident(method);
        // The companion's methods get their own names: with both traits in scope (the blanket
        // impl makes every implementation a `Dyn…` too), shared names would make every method
        // call ambiguous.
        let dyn_name = ident(&method.dyn_name);
        let doc = doc_attrs(&method.doc);
        let declared = method_attrs(method, true);
        let used = method_attrs(method, false);
        let (request, response) = domain_signature(method, settings);
        let future = domain_future(method, settings);
        let arg = request_arg(method);
        // `default_stubs`: a body answering as the stub does (its text, stub.rs), so that an
        // implementation writes only the methods it serves.
        let body = if settings.params.default_stubs {
            quote! {{
                let _ = (ctx, #arg);
                #info.methods[#index].not_implemented()
            }}
        } else {
            quote!(;)
        };
        trait_methods.push(quote! {
            #doc
            #declared
            fn #name(&self, ctx: &#context, #request) -> #future #body
        });
        // The trait's docs are linked, not repeated (rustdoc cannot link a raw identifier).
        let path = format!("{}::{}", service.names.domain_trait, method.rust_name);
        let dyn_doc = match method.rust_name.starts_with("r#") {
            true => format!(" `{path}`, boxed."),
            false => format!(" [`{path}`], boxed."),
        };
        dyn_methods.push(quote! {
            #[doc = #dyn_doc]
            #declared
            fn #dyn_name<'a>(&'a self, ctx: &'a #context, #request)
                -> #box_reply<'a, #response>;
        });
        // Inside `impl<T> … for T`, where a message called `T` would be the type parameter.
        let (generic_request, generic_response) =
            domain_signature_with(method, settings, unshadowed_type);
        blanket_methods.push(quote! {
            #used
            fn #dyn_name<'a>(&'a self, ctx: &'a #context, #generic_request)
                -> #box_reply<'a, #generic_response> {
                ::std::boxed::Box::pin(T::#name(self, ctx, #arg))
            }
        });
        // A future of the runtime's that borrows `self` and `ctx` each for its own lifetime, as
        // the trait's signature says (the boxed one borrows both for one); the runtime's, not an
        // `async` block here, as the user's crate then builds no coroutine per method.
        arc_methods.push(quote! {
            #used
            #inline
            fn #name(&self, ctx: &#context, #request) -> #future {
                #dyn_reply(&**self, ctx, #arg, #dyn_ident::#dyn_name)
            }
        });
    }
    let dyn_doc = format!(
        " The object-safe form of {}, implemented for every implementation of it, so that a \
         service can be held as `Arc<dyn {}>`; that `Arc` implements {} in turn. Its methods are \
         prefixed with `dyn_` so that both traits can be in scope at once.",
        service_link(service),
        service.names.dyn_trait,
        service_link(service),
    );
    let defaults_doc = settings.params.default_stubs.then(|| {
        let paragraph = (!service.doc.is_empty()).then(|| quote!(#[doc = ""]));
        quote! {
            #paragraph
            #[doc = " Every method answers `UNIMPLEMENTED` unless implemented (`default_stubs`)."]
        }
    });
    quote! {
        #doc
        #defaults_doc
        #deprecated
        #[allow(dead_code)] // a binary may leave services unused: see the stub's emitter
        pub trait #trait_ident: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#trait_methods)*
        }

        #[doc = #dyn_doc]
        #[allow(dead_code)]
        pub trait #dyn_ident: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#dyn_methods)*
        }

        impl<T: #trait_ident> #dyn_ident for T {
            #(#blanket_methods)*
        }

        impl #trait_ident for ::std::sync::Arc<dyn #dyn_ident> {
            #(#arc_methods)*
        }
    }
}
