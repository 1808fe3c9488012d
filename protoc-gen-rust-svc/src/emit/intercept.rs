//! The domain trait for `rust_svc_runtime::interceptors::Intercepted<T>`: one generic impl per
//! service, so that a stack of interceptors around any implementation (a domain, a fake, a
//! client) is an implementation itself. Each method hands the call, with its rpc's entry in the
//! service's description (`describe.rs`), to the runtime, which does all the work.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::describe::method_info;
use super::{
    Settings, domain_signature_with, ident, method_attrs, method_ident, request_arg,
    unshadowed_type,
};
use crate::model::Service;

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let trait_ident = ident(&service.names.domain_trait);
    let context = settings.item("Context");
    let reply = settings.item("Reply");
    let methods = service.methods.iter().enumerate().map(|(index, method)| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        // Inside `impl<T> …`, where a message called `T` would be the type parameter.
        let (request, response) = domain_signature_with(method, settings, unshadowed_type);
        let arg = request_arg(method);
        let info = method_info(service, index);
        let run = format_ident!("intercept_{}", method.streaming.snake_name());
        quote! {
            #used
            fn #name(&self, ctx: &#context, #request) -> impl #reply<#response> {
                self.#run(#info, ctx, #arg, T::#name)
            }
        }
    });
    let doc = format!(
        " Every call runs through the interceptor stack the implementation was wrapped in \
         (`{}::interceptors`), then reaches the implementation.",
        quote!(#runtime).to_string().replace(' ', "")
    );
    quote! {
        #[doc = #doc]
        impl<T: #trait_ident> #trait_ident for #runtime::interceptors::Intercepted<T> {
            #(#methods)*
        }
    }
}
