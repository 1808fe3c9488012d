//! The tonic adapter: implements tonic's generated server trait for any domain implementation.
//! Each method hands the wire request and the domain method to the runtime's `server` module,
//! which turns the request into `(Context, message)`, calls the domain inside the deadline, and
//! wraps the result.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Settings, ident, method_attrs, method_ident, nested_type, service_link};
use crate::model::{Service, Streaming};
use crate::params::Artifact;

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let names = &service.names;
    let trait_ident = ident(&names.domain_trait);
    let adapter = ident(&names.grpc_adapter);
    let server_module = ident(&names.server_module);
    let tonic_trait = ident(&names.tonic_base);
    let server_struct = ident(&crate::names::tonic_server_struct(&names.tonic_base));
    let adapter_module = ident(&names.adapter_module);

    let methods = service.methods.iter().map(|method| {
        let name = method_ident(method);
        let used = method_attrs(method, false);
        let input = nested_type(&method.input_type);
        let output = nested_type(&method.output_type);
        let response = match method.streaming.server_streaming() {
            true => quote!(#runtime::BoxStream<#output>),
            false => output,
        };
        let wire_request = match method.streaming.client_streaming() {
            false => quote!(::tonic::Request<#input>),
            true => quote!(::tonic::Request<::tonic::Streaming<#input>>),
        };
        let serve = ident(match method.streaming {
            Streaming::Unary => "unary",
            Streaming::Server => "server_streaming",
            Streaming::Client => "client_streaming",
            Streaming::Bidi => "bidi_streaming",
        });
        // The signature `#[async_trait]` gives the trait's method, written out: the body is a
        // call, not an `async` block, so there is no state machine per method to check.
        let method_fn = |response: TokenStream| {
            quote! {
                #used
                fn #name<'life0, 'async_trait>(&'life0 self, request: #wire_request)
                    -> #runtime::server::WireFuture<'async_trait, #response>
                where
                    'life0: 'async_trait,
                    Self: 'async_trait,
                {
                    #runtime::server::#serve(
                        &*self.inner,
                        request,
                        <T as super::#trait_ident>::#name,
                    )
                }
            }
        };
        match method.streaming {
            Streaming::Unary | Streaming::Client => method_fn(response),
            Streaming::Server | Streaming::Bidi => {
                let stream_type = ident(&crate::names::tonic_stream_type(&method.proto_name));
                let method_fn = method_fn(quote!(Self::#stream_type));
                quote! {
                    #used
                    type #stream_type = #response;

                    #method_fn
                }
            }
        }
    });
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
            /// or zstd are accepted.
            pub fn into_service(self) -> #runtime::server::GrpcServer<#server_module::#server_struct<Self>> {
                let wire = self.wire.clone();
                let mut server = #server_module::#server_struct::new(self)
                    .max_decoding_message_size(wire.max_decoding_message_size)
                    .max_encoding_message_size(wire.max_encoding_message_size);
                for encoding in wire.accept_compressed {
                    server = server.accept_compressed(encoding);
                }
                for encoding in wire.send_compressed {
                    server = server.send_compressed(encoding);
                }
                #runtime::server::GrpcServer::new(server)
            }

            #harness
        }

        mod #adapter_module {
            impl<T: super::#trait_ident> super::#server_module::#tonic_trait for super::#adapter<T> {
                #(#methods)*
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
