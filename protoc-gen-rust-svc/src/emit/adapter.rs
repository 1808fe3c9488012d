//! The gRPC adapter: serves any domain implementation as a tonic service. The runtime's
//! `GrpcServer` routes a call by path to its rpc's position in the service description; the
//! adapter's one `match` names the domain method and its call shape, and the runtime's `server`
//! module turns the request into `(Context, message)`, calls the domain inside the deadline, and
//! wraps the result, coded by tonic's own `server::Grpc`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Settings, ident, method_attrs, method_ident, service_link};
use crate::model::Service;
use crate::params::{Artifact, Params};

/// Whether the adapter serves Connect's `application/json`: with the gateway every rpc's messages
/// have proto3 JSON impls (ours, model::json_reach, or protoc-gen-prost-serde's beside
/// `messages=false`).
pub fn serves_json(params: &Params) -> bool {
    params.emits(Artifact::Gateway)
}

pub fn emit(service: &Service, settings: &Settings<'_>, json: bool) -> TokenStream {
    let runtime = &settings.runtime;
    let names = &service.names;
    let trait_ident = ident(&names.domain_trait);
    let adapter = ident(&names.grpc_adapter);
    let info = ident(&names.info);

    let call = match json {
        true => quote!(call.json()),
        false => quote!(call),
    };
    let arms = service.methods.iter().enumerate().map(|(index, method)| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        let shape = ident(method.streaming.snake_name());
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        quote! {
            #used
            #index => #call.#shape(&self.inner, T::#name),
        }
    });
    // A service without rpcs has nothing to match (a lone `_` arm is a clippy warning).
    let (rpc, body) = match service.methods.is_empty() {
        true => (quote!(_rpc), quote!(call.unimplemented())),
        false => (
            quote!(rpc),
            quote! {
                match rpc {
                    #(#arms)*
                    _ => call.unimplemented(),
                }
            },
        ),
    };
    let doc = format!(
        " Serves an implementation of {} over gRPC: add [`{}::into_service`] to a tonic \
         `Server`. Deadlines come from `grpc-timeout`; a call whose deadline has passed is answered \
         `DEADLINE_EXCEEDED` without reaching the domain, and a slow one is cut at its deadline.",
        service_link(service),
        names.grpc_adapter,
    );
    let harness = settings
        .params
        .emits(Artifact::Client)
        .then(|| harness_entry_points(service, runtime));
    quote! {
        #[doc = #doc]
        pub struct #adapter<T> {
            inner: ::std::sync::Arc<T>,
            wire: #runtime::server::WireSettings,
        }

        impl<T> ::core::clone::Clone for #adapter<T> {
            fn clone(&self) -> Self {
                Self { inner: ::std::sync::Arc::clone(&self.inner), wire: self.wire.clone() }
            }
        }

        // A binary uses some of these only (no harness, default limits): see the stub's emitter.
        #[allow(dead_code)]
        impl<T: #trait_ident> #adapter<T> {
            /// Serves `domain`.
            pub fn new(domain: T) -> Self {
                Self::from_arc(::std::sync::Arc::new(domain))
            }

            /// Serves a shared `domain`.
            pub fn from_arc(domain: ::std::sync::Arc<T>) -> Self {
                Self { inner: domain, wire: ::core::default::Default::default() }
            }

            /// Limits a request message to `limit` bytes (default 4 MiB); a larger one is
            /// answered `RESOURCE_EXHAUSTED` and the server serves on.
            #[must_use]
            pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                self.wire.max_decoding_message_size = limit;
                self
            }

            /// Limits a response message to `limit` bytes (default 4 MiB); a larger one ends the
            /// call with `RESOURCE_EXHAUSTED`.
            #[must_use]
            pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                self.wire.max_encoding_message_size = limit;
                self
            }

            /// Compresses responses with `encoding` for clients that accept it.
            #[must_use]
            pub fn send_compressed(mut self, encoding: #runtime::CompressionEncoding) -> Self {
                self.wire.send_compressed.push(encoding);
                self
            }

            /// The service to add to a tonic `Server` or `Routes`; requests compressed with gzip
            /// or zstd are accepted. Its calls share one adaptive limit with the gateway of the
            /// same domain (`rust_svc_runtime::call::admission`).
            pub fn into_service(self) -> #runtime::server::GrpcServer<Self> {
                let domain = ::std::sync::Arc::clone(&self.inner);
                #runtime::server::GrpcServer::for_domain(self, &domain)
            }

            #harness
        }

        impl<T: #trait_ident> #runtime::server::GrpcDispatch for #adapter<T> {
            const SERVICE: &'static #runtime::rpc::ServiceInfo = &#info;

            fn wire(&self) -> &#runtime::server::WireSettings {
                &self.wire
            }

            fn dispatch(
                &self,
                #rpc: usize,
                call: #runtime::server::GrpcCall,
            ) -> #runtime::server::GrpcFuture {
                #body
            }
        }
    }
}

/// Typed entry points into the runtime's test harness: serve a domain implementation over real
/// HTTP/2 and get the generated client back (only when the client is generated too).
fn harness_entry_points(service: &Service, runtime: &syn::Path) -> TokenStream {
    let client = ident(&service.names.client);
    quote! {
        /// Serves `domain` over real HTTP/2 through in-memory pipes, for tests, and returns
        /// the generated client with the policies of options.proto. Paused tokio time works
        /// across it. Dropping the harness stops the server. Must be called inside a tokio
        /// runtime.
        pub fn serve_in_memory(domain: T) -> #runtime::harness::Harness<#client> {
            #runtime::harness::in_memory(Self::new(domain).into_service())
        }

        /// Serves `domain` over HTTP/2 on an ephemeral loopback port, for tests, and returns
        /// the generated client with the policies of options.proto. Dropping the harness stops
        /// the server.
        pub async fn serve_loopback(
            domain: T,
        ) -> ::std::io::Result<#runtime::harness::Harness<#client>> {
            #runtime::harness::loopback(Self::new(domain).into_service()).await
        }
    }
}
