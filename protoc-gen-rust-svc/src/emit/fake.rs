//! The fake: an implementation of the domain trait for tests, with one public field per rpc
//! holding the runtime's programmable, recording method fake. All behaviour lives in the
//! runtime's `fake` module; this emits the struct, its constructors and the trait impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Settings, compiled_where_used, domain_future, domain_signature, ident, method_attrs,
    method_ident, request_arg, service_link, type_tokens,
};
use crate::model::{Service, Streaming};

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let trait_ident = ident(&service.names.domain_trait);
    let context = settings.item("Context");
    let fake = ident(&service.names.fake);

    let fields = service.methods.iter().map(|method| {
        let name = method_ident(method);
        let input = type_tokens(&method.input_type);
        let output = type_tokens(&method.output_type);
        let kind = fake_kind(method.streaming);
        let allow_deprecated = method
            .touches_deprecated
            .then(|| quote!(#[allow(deprecated)]));
        let path = format!("{}::{}", service.names.domain_trait, method.rust_name);
        // rustdoc cannot resolve a link to a raw identifier (`r#type`): such a name is written,
        // not linked.
        let doc = if method.rust_name.starts_with("r#") {
            format!(" Programs and records `{path}`.")
        } else {
            format!(" Programs and records [`{path}`].")
        };
        quote! {
            #[doc = #doc]
            #allow_deprecated
            pub #name: #runtime::fake::#kind<#input, #output>,
        }
    });
    let info = ident(&service.names.info);
    let constructors = service.methods.iter().enumerate().map(|(index, method)| {
        let name = method_ident(method);
        let kind = fake_kind(method.streaming);
        quote!(#name: #runtime::fake::#kind::new(#info.methods[#index].full_name()),)
    });
    let defaults = service.methods.iter().map(|method| {
        let name = method_ident(method);
        quote!(fake.#name.returns_default();)
    });
    // A service without methods has nothing to program (and clippy dislikes `let x; x`).
    let with_defaults = match service.methods.is_empty() {
        true => quote!(Self::new()),
        false => quote! {
            let fake = Self::new();
            #(#defaults)*
            fake
        },
    };
    let inline = compiled_where_used();
    let methods = service.methods.iter().map(|method| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        let (request, _) = domain_signature(method, settings);
        let future = domain_future(method, settings);
        let arg = request_arg(method);
        quote! {
            #used
            #inline
            fn #name(&self, ctx: &#context, #request) -> #future {
                self.#name.call(ctx, #arg)
            }
        }
    });
    let runtime_path = quote!(#runtime).to_string().replace(' ', "");
    let doc = [
        format!(
            " A programmable fake of {} for tests. Every method answers `UNIMPLEMENTED` until it \
             is programmed through its field (`fake.method.returns(…)`, `.fails(…)`, \
             `.responds_with(…)`, `.queue(…)`, `.streams(…)`), and every call is recorded with \
             its request, metadata and deadline (`fake.method.calls()`).",
            service_link(service)
        ),
        String::new(),
        format!(
            " Clones share the program and the record: hand one to the code under test and keep \
             one to program and inspect. See `{runtime_path}::fake` for what each kind of method \
             can do."
        ),
    ];
    // Only the tests that use a fake compile its constructors and methods, and through them the
    // runtime's generic method fakes for each request and response type.
    quote! {
        #(#[doc = #doc])*
        #[derive(Debug, Clone)]
        #[allow(dead_code)] // unused in a binary: see the stub's emitter
        pub struct #fake {
            #(#fields)*
        }

        #[allow(dead_code)]
        impl #fake {
            /// A fake whose every method answers `UNIMPLEMENTED` until programmed.
            #inline
            pub fn new() -> Self {
                Self { #(#constructors)* }
            }

            /// A fake whose every method answers an empty message, or an empty stream, until
            /// programmed.
            #inline
            pub fn with_default_responses() -> Self {
                #with_defaults
            }
        }

        impl ::core::default::Default for #fake {
            #inline
            fn default() -> Self {
                Self::new()
            }
        }

        impl #trait_ident for #fake {
            #(#methods)*
        }
    }
}

/// The runtime's fake type for a streaming shape.
fn fake_kind(streaming: Streaming) -> proc_macro2::Ident {
    let kind = streaming.camel_name();
    ident(kind)
}
