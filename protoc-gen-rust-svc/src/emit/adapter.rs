//! The tonic adapter: implements tonic's generated server trait for any domain implementation.
//! Each method turns the wire request into `(Context, message)`, calls the domain inside the
//! deadline, and wraps the result; the logic lives in the runtime's `server` module.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Settings, ident, method_attrs, method_ident, nested_type, request_arg, service_link};
use crate::model::{Service, Streaming};
use crate::params::Artifact;

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let names = &service.names;
    let trait_ident = ident(&names.domain_trait);
    let adapter = ident(&names.grpc_adapter);
    let server_module = ident(&names.server_module);
    let tonic_trait = ident(&names.tonic_base);
    let server_struct = format_ident!("{}Server", names.tonic_base);
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
        let arg = request_arg(method);
        let call = quote! {
            #runtime::server::within_deadline(
                &ctx,
                <T as super::#trait_ident>::#name(&self.inner, &ctx, #arg),
            )
            .await?
        };
        let accept = match method.streaming.client_streaming() {
            false => quote!(let (ctx, #arg) = #runtime::server::accept(request)?;),
            true => quote!(let (ctx, #arg) = #runtime::server::accept_streaming(request)?;),
        };
        let wire_request = match method.streaming.client_streaming() {
            false => quote!(::tonic::Request<#input>),
            true => quote!(::tonic::Request<::tonic::Streaming<#input>>),
        };
        match method.streaming {
            Streaming::Unary | Streaming::Client => quote! {
                #used
                async fn #name(&self, request: #wire_request)
                    -> ::core::result::Result<::tonic::Response<#response>, ::tonic::Status> {
                    #accept
                    let response = #call;
                    ::core::result::Result::Ok(::tonic::Response::new(response))
                }
            },
            Streaming::Server | Streaming::Bidi => {
                let stream_type = format_ident!("{}Stream", method.proto_name);
                quote! {
                    #used
                    type #stream_type = #response;

                    #used
                    async fn #name(&self, request: #wire_request)
                        -> ::core::result::Result<::tonic::Response<Self::#stream_type>, ::tonic::Status> {
                        #accept
                        let responses = #call;
                        ::core::result::Result::Ok(::tonic::Response::new(
                            #runtime::server::stream_within_deadline(&ctx, responses),
                        ))
                    }
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
        }

        impl<T> ::core::clone::Clone for #adapter<T> {
            fn clone(&self) -> Self {
                Self { inner: ::std::sync::Arc::clone(&self.inner) }
            }
        }

        impl<T: #trait_ident> #adapter<T> {
            /// Serves `domain`.
            pub fn new(domain: T) -> Self {
                Self::from_arc(::std::sync::Arc::new(domain))
            }

            /// Serves a shared `domain`.
            pub fn from_arc(domain: ::std::sync::Arc<T>) -> Self {
                Self { inner: domain }
            }

            /// The service to add to a tonic `Server` or `Routes`.
            pub fn into_service(self) -> #runtime::server::GrpcServer<#server_module::#server_struct<Self>> {
                #runtime::server::GrpcServer::new(#server_module::#server_struct::new(self))
            }

            #harness
        }

        mod #adapter_module {
            #[::tonic::async_trait]
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
