//! The REST/JSON gateway of a service with `google.api.http` rules: data plus one dispatch.
//! The routes are the bindings in the service's description (`describe.rs`); the dispatch
//! matches the rpc of a matched route and calls the runtime's `gateway::{unary,
//! server_streaming, …}` with the domain method and the static schema of its request message.
//! Matching, request mapping, JSON and errors are the runtime's.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Settings, ident, method_attrs, method_ident, service_link};
use crate::model::{FieldCardinality, FieldKind, FieldSchema, MessageSchema, Service};
use crate::params::Artifact;

/// Whether the service gets a gateway: it has at least one http rule.
pub fn applies(service: &Service) -> bool {
    service.methods.iter().any(|method| !method.http.is_empty())
}

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let names = &service.names;
    let trait_ident = ident(&names.domain_trait);
    let gateway = ident(&names.gateway);
    let module = ident(&names.gateway_module);

    let info = ident(&names.info);
    let arms = service
        .methods
        .iter()
        .enumerate()
        .filter(|(_, method)| !method.http.is_empty())
        .map(|(index, method)| {
            let name = method_ident(method);
            let used = method_attrs(method, false);
            let serve = ident(method.streaming.snake_name());
            let schema = schema_ident(
                service
                    .schemas
                    .iter()
                    .position(|schema| schema.full_name == method.input_proto)
                    .unwrap_or_default(),
            );
            let index = proc_macro2::Literal::usize_unsuffixed(index);
            quote! {
                #used
                #index => gateway::#serve(domain, call, &#schema, T::#name),
            }
        });
    let imports = schema_imports(&service.schemas, runtime);
    let schemas = service
        .schemas
        .iter()
        .enumerate()
        .map(|(index, schema)| schema_static(index, schema));

    let route_docs = service.methods.iter().flat_map(|method| {
        let trait_name = &names.domain_trait;
        let rust_name = &method.rust_name;
        method.http.iter().map(move |binding| {
            let mut line = format!(
                " - `{} {}` → [`{rust_name}`]({trait_name}::{rust_name})",
                binding.method,
                binding.path.replace('`', "'"),
            );
            if !binding.shadows.is_empty() {
                let shadowed: Vec<_> = binding
                    .shadows
                    .iter()
                    .map(|rpc| format!("`{rpc}`"))
                    .collect();
                line.push_str(&format!(
                    " (also bound by {}, which this route shadows: the later rpc in the proto \
                     wins, as in grpc-gateway)",
                    shadowed.join(", ")
                ));
            }
            line
        })
    });
    let doc = format!(
        " Serves {} as REST/JSON from its `google.api.http` rules, through the same domain trait \
         the gRPC adapter serves: give it the real implementation, a fake, or the generated \
         client (a reverse proxy with the client's deadlines, retries and breaker).",
        service_link(service),
    );
    let harness = (settings.params.emits(Artifact::Server)
        && settings.params.emits(Artifact::Client))
    .then(|| harness_entry_point(service, runtime));

    quote! {
        #[doc = #doc]
        ///
        /// Routes:
        #(#[doc = #route_docs])*
        #[derive(Debug, Clone, Copy)]
        #[allow(dead_code)] // unused in a gRPC-only binary: see the stub's emitter
        pub struct #gateway;

        #[allow(dead_code)]
        impl #gateway {
            /// `domain`'s routes, to serve with other services' in one
            /// `Gateway::builder()…build()`.
            pub fn routes<T: #trait_ident>(domain: T) -> #runtime::gateway::ServiceRoutes {
                Self::routes_from_arc(::std::sync::Arc::new(domain))
            }

            /// [`Self::routes`] of a shared `domain`.
            pub fn routes_from_arc<T: #trait_ident>(
                domain: ::std::sync::Arc<T>,
            ) -> #runtime::gateway::ServiceRoutes {
                #runtime::gateway::ServiceRoutes::new(&#info, domain, #module::dispatch::<T>)
            }

            /// An axum `Router` serving `domain` over REST/JSON alone, with the gateway's
            /// defaults (no CORS, 4 MiB bodies), to merge with routes of your own. The
            /// `Router` serves the gateway as its fallback (a catch-all match and a boxed
            /// service per request); served alone, `Gateway::from_service(Self::routes(domain))`
            /// is the same gateway as a tower service without it.
            pub fn router<T: #trait_ident>(domain: T) -> #runtime::gateway::Router {
                #runtime::gateway::Gateway::from_service(Self::routes(domain)).into_router()
            }

            #harness
        }

        mod #module {
            use #runtime::gateway;
            #imports

            pub(super) fn dispatch<T: super::#trait_ident>(
                domain: &::std::sync::Arc<T>,
                call: gateway::Call,
            ) -> gateway::ResponseFuture {
                match call.rpc_index() {
                    #(#arms)*
                    _ => gateway::unknown_rpc(call),
                }
            }

            #(#schemas)*
        }
    }
}

fn schema_ident(index: usize) -> proc_macro2::Ident {
    format_ident!("SCHEMA_{index}")
}

/// The `use` of the runtime's schema types, naming those the module's statics use (an unused
/// import would warn).
fn schema_imports(schemas: &[MessageSchema], runtime: &syn::Path) -> TokenStream {
    if schemas.is_empty() {
        return TokenStream::new();
    }
    let fields = || schemas.iter().flat_map(|schema| &schema.fields);
    let scalar = fields().any(|field| {
        matches!(
            field.kind,
            FieldKind::Scalar(_) | FieldKind::WellKnown(_, Some(_))
        ) || matches!(field.cardinality, FieldCardinality::Map(_))
    });
    let well_known = fields().any(|field| matches!(field.kind, FieldKind::WellKnown(..)));
    // In rustfmt's order.
    let mut names = Vec::new();
    if fields().next().is_some() {
        names.push(quote!(FieldSchema));
    }
    names.push(quote!(MessageSchema));
    if scalar {
        names.push(quote!(ScalarKind));
    }
    if well_known {
        names.push(quote!(WellKnown));
    }
    quote! { use #runtime::gateway::schema::{#(#names),*}; }
}

/// A request message's schema: one line per field, written with the runtime's `const`
/// constructors rather than as struct literals (a field was eight lines; googleapis has
/// thousands).
fn schema_static(index: usize, schema: &MessageSchema) -> TokenStream {
    let name = schema_ident(index);
    let full_name = &schema.full_name;
    let fields = schema.fields.iter().map(field_schema);
    quote! {
        static #name: MessageSchema = MessageSchema::new(#full_name, &[#(#fields),*]);
    }
}

fn field_schema(field: &FieldSchema) -> TokenStream {
    let (name, json_name) = (&field.name, &field.json_name);
    let single = match &field.kind {
        FieldKind::Scalar(scalar) => {
            let scalar = ident(scalar);
            quote!(FieldSchema::scalar(#name, #json_name, ScalarKind::#scalar))
        }
        FieldKind::Enum(full_name) => {
            quote!(FieldSchema::enumeration(#name, #json_name, #full_name))
        }
        FieldKind::Message(index) => {
            let target = schema_ident(*index);
            quote!(FieldSchema::message(#name, #json_name, &#target))
        }
        FieldKind::WellKnown(kind, None) => {
            let kind = ident(kind);
            quote!(FieldSchema::well_known(#name, #json_name, WellKnown::#kind))
        }
        FieldKind::WellKnown(kind, Some(scalar)) => {
            let (kind, scalar) = (ident(kind), ident(scalar));
            quote!(FieldSchema::well_known(#name, #json_name, WellKnown::#kind(ScalarKind::#scalar)))
        }
    };
    match &field.cardinality {
        FieldCardinality::Single => single,
        FieldCardinality::Repeated => quote!(#single.repeated()),
        FieldCardinality::Map(key) => {
            let key = ident(key);
            quote!(#single.map(ScalarKind::#key))
        }
    }
}

/// Serves gRPC and REST on one loopback port for tests, and hands back the generated client.
fn harness_entry_point(service: &Service, runtime: &syn::Path) -> TokenStream {
    let names = &service.names;
    let (trait_ident, client, adapter) = (
        ident(&names.domain_trait),
        ident(&names.client),
        ident(&names.grpc_adapter),
    );
    quote! {
        /// Serves `domain` over gRPC and REST/JSON on one ephemeral loopback port, for tests:
        /// the harness's `base_url()` is the gateway's, its `client()` the generated gRPC
        /// client. Dropping the harness stops the server.
        pub async fn serve_loopback<T: #trait_ident>(
            domain: T,
        ) -> ::std::io::Result<#runtime::harness::Harness<#client>> {
            let domain = ::std::sync::Arc::new(domain);
            let gateway = #runtime::gateway::Gateway::from_service(
                Self::routes_from_arc(::std::sync::Arc::clone(&domain)),
            );
            #runtime::harness::loopback_with_gateway(
                #adapter::from_arc(domain).into_service(),
                gateway,
            )
            .await
        }
    }
}
