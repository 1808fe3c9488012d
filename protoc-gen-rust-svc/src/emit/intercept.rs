//! The domain trait for `rust_svc_runtime::interceptors::Intercepted<T>`: one generic impl per
//! service, so that a stack of interceptors around any implementation (a domain, a fake, a
//! client) is an implementation itself. Each method names its rpc in a `MethodInfo` constant and
//! hands the call to the runtime, which does all the work.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Settings, domain_signature_with, ident, method_attrs, method_ident, request_arg,
    unshadowed_type,
};
use crate::model::{Idempotency, Method, Service, Streaming};

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let trait_ident = ident(&service.names.domain_trait);
    let methods = service.methods.iter().map(|method| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        // Inside `impl<T> …`, where a message called `T` would be the type parameter.
        let (request, response) = domain_signature_with(method, runtime, unshadowed_type);
        let arg = request_arg(method);
        let info = method_info(service, method, runtime);
        let run = ident(match method.streaming {
            Streaming::Unary => "intercept_unary",
            Streaming::Server => "intercept_server_streaming",
            Streaming::Client => "intercept_client_streaming",
            Streaming::Bidi => "intercept_bidi_streaming",
        });
        quote! {
            #used
            fn #name(&self, ctx: &#runtime::Context, #request) -> impl ::core::future::Future<
                Output = ::core::result::Result<#response, #runtime::Status>,
            > + ::core::marker::Send {
                const METHOD: #runtime::interceptors::MethodInfo = #info;
                #runtime::interceptors::Intercepted::#run(
                    self, &METHOD, ctx, #arg, <T as #trait_ident>::#name,
                )
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

fn method_info(service: &Service, method: &Method, runtime: &syn::Path) -> TokenStream {
    let service_name = &service.full_name;
    let method_name = &method.proto_name;
    let path = format!("/{}/{}", service.full_name, method.proto_name);
    let kind = ident(match method.streaming {
        Streaming::Unary => "Unary",
        Streaming::Server => "ServerStreaming",
        Streaming::Client => "ClientStreaming",
        Streaming::Bidi => "BidiStreaming",
    });
    let idempotency = ident(match method.idempotency {
        Idempotency::Unknown => "Unknown",
        Idempotency::NoSideEffects => "NoSideEffects",
        Idempotency::Idempotent => "Idempotent",
    });
    quote! {
        #runtime::interceptors::MethodInfo {
            service: #service_name,
            method: #method_name,
            path: #path,
            kind: #runtime::interceptors::MethodKind::#kind,
            idempotency: #runtime::interceptors::Idempotency::#idempotency,
        }
    }
}
