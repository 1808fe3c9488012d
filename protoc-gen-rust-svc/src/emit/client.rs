//! The client wrapper: a struct over the runtime's `ClientCore` that implements the domain trait,
//! whose policies are the options.proto ones of the service's description (`describe.rs`).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{
    Settings, compiled_where_used, domain_future, domain_signature, ident, method_attrs,
    method_ident, service_link,
};
use crate::model::{Idempotency, Method, Service, Streaming};

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let client = ident(&service.names.client);
    let trait_ident = ident(&service.names.domain_trait);
    let info = ident(&service.names.info);
    let methods = service
        .methods
        .iter()
        .enumerate()
        .map(|(index, method)| trait_method(index, method, settings));
    let doc = client_doc(service);
    quote! {
        #(#[doc = #doc])*
        #[derive(Debug, Clone)]
        #[allow(dead_code)] // unused in a server binary: see the stub's emitter
        pub struct #client {
            core: #runtime::client::ClientCore,
        }

        #[allow(dead_code)]
        impl #client {
            /// A client over `channel`, with the policies of options.proto.
            pub fn new(channel: #runtime::client::Channel) -> Self {
                Self {
                    core: #runtime::client::ClientCore::new(
                        &#info,
                        channel,
                    ),
                }
            }

            /// A client that connects to `endpoints` on first use (several are load-balanced),
            /// with the policies of options.proto. Must be called inside a tokio runtime.
            pub fn connect_lazy<I, S>(
                endpoints: I,
            ) -> ::core::result::Result<Self, #runtime::client::ClientError>
            where
                I: ::core::iter::IntoIterator<Item = S>,
                S: ::core::convert::AsRef<::core::primitive::str>,
            {
                Self::builder().connect_lazy(endpoints)
            }

            /// A builder that overrides the policies of options.proto: deadlines, retries,
            /// throttling, circuit breakers, propagated headers.
            pub fn builder() -> #runtime::client::ClientBuilder<Self> {
                #runtime::client::ClientBuilder::new()
            }

            /// The state of the circuit breaker of the rpc named `method` (as in the .proto
            /// file), or `None` for an unknown name or a disabled breaker. With several
            /// endpoints: closed while any endpoint's breaker is.
            pub fn breaker_state(
                &self,
                method: &::core::primitive::str,
            ) -> ::core::option::Option<#runtime::client::BreakerState> {
                self.core.breaker_state(method)
            }

            /// The state of each endpoint's circuit breaker of the rpc named `method`, with the
            /// endpoint's URL: a client of several endpoints has a breaker per endpoint. Empty
            /// for an unknown name or a disabled breaker.
            pub fn breaker_states(
                &self,
                method: &::core::primitive::str,
            ) -> ::std::vec::Vec<(::std::string::String, #runtime::client::BreakerState)> {
                self.core.breaker_states(method)
            }

            /// Whether the servers this client calls have asked it to pause (they refused a
            /// call for load): a server whose rpcs need this one sheds them at its door
            /// meanwhile with `Admission::shed_while`.
            pub fn backoff(&self) -> #runtime::client::Backoff {
                self.core.backoff()
            }

            /// The endpoints the client calls now: the URLs it was given, or the addresses
            /// (`ip:port`) its named target (`dns:///…`) resolves to, as last put in force.
            pub fn endpoints(&self) -> ::std::vec::Vec<::std::string::String> {
                self.core.endpoints()
            }
        }

        impl #runtime::client::GeneratedClient for #client {
            const SERVICE: &'static #runtime::client::ServiceInfo = &#info;

            fn from_core(core: #runtime::client::ClientCore) -> Self {
                Self { core }
            }
        }

        impl #trait_ident for #client {
            #(#methods)*
        }
    }
}

fn trait_method(index: usize, method: &Method, settings: &Settings<'_>) -> TokenStream {
    let name = method_ident(method);
    let attrs = method_attrs(method, false);
    let (request, _) = domain_signature(method, settings);
    let future = domain_future(method, settings);
    let context = settings.item("Context");
    let index = Literal::usize_unsuffixed(index);
    // The core reads the key and encodes the request before it returns its future, so both are
    // lent for the call only.
    let key = match &method.idempotency_key {
        Some(field) if !method.streaming.client_streaming() => {
            let field = ident(&field.rust_field);
            if field_is_optional(method) {
                quote!(request.#field.as_deref())
            } else {
                quote!(::core::option::Option::Some(request.#field.as_str()))
            }
        }
        _ => quote!(::core::option::Option::None),
    };
    let call = match method.streaming {
        Streaming::Unary => quote!(self.core.unary(#index, ctx, &request, #key)),
        Streaming::Server => quote!(self.core.server_streaming(#index, ctx, &request, #key)),
        Streaming::Client => quote!(self.core.client_streaming(#index, ctx, requests)),
        Streaming::Bidi => quote!(self.core.bidi_streaming(#index, ctx, requests)),
    };
    let inline = compiled_where_used();
    quote! {
        #attrs
        #inline
        fn #name(&self, ctx: &#context, #request) -> #future {
            #call
        }
    }
}

fn field_is_optional(method: &Method) -> bool {
    method
        .idempotency_key
        .as_ref()
        .is_some_and(|key| key.optional)
}

/// The client's rustdoc: what it is, then each method's effective policy from options.proto.
fn client_doc(service: &Service) -> Vec<String> {
    let mut lines = vec![
        format!(
            " A gRPC client for {} that implements the trait itself, so it can stand wherever \
             the trait is expected.",
            service_link(service)
        ),
        String::new(),
        " Every call gets a deadline, forwards the caller's request id and trace context, is \
         retried only where that is safe, and fails fast while its method's circuit breaker is \
         open (see `rust_svc_runtime::client`). Cheap to clone: clones share the connection and \
         the breakers."
            .to_owned(),
        String::new(),
        " From options.proto (where a method says nothing, the runtime's defaults apply):"
            .to_owned(),
        String::new(),
    ];
    for method in &service.methods {
        lines.push(format!(
            " - `{}`: {}",
            method.proto_name,
            policy_summary(method)
        ));
    }
    lines
}

fn policy_summary(method: &Method) -> String {
    let mut parts = Vec::new();
    parts.push(match method.policy.deadline {
        Some(deadline) => format!("deadline {deadline:?}"),
        None => "default deadline".to_owned(),
    });
    let retried = match (
        method.streaming.client_streaming(),
        method.idempotency,
        &method.idempotency_key,
    ) {
        // A stream has no one request to carry a key: only the method's idempotency counts.
        (true, Idempotency::Unknown, _) => "never retried (not idempotent)".to_owned(),
        (true, _, _) => "retried while what it sent fits the retry buffer".to_owned(),
        (false, Idempotency::Unknown, None) => "never retried (not idempotent)".to_owned(),
        (false, Idempotency::Unknown, Some(key)) => {
            format!("retried only when `{}` is set", key.rust_field)
        }
        (false, Idempotency::NoSideEffects, _) => "retried (no side effects)".to_owned(),
        (false, Idempotency::Idempotent, _) => "retried (idempotent)".to_owned(),
    };
    // An rpc that is never retried may still inherit its service's retry policy (it applies to
    // the other rpcs), but listing its attempts here would contradict "never retried".
    let never_retried = method.idempotency == Idempotency::Unknown
        && (method.idempotency_key.is_none() || method.streaming.client_streaming());
    parts.push(retried);
    if let Some(retry) = method.policy.retry.as_ref().filter(|_| !never_retried) {
        parts.push(format!(
            "up to {} attempts on {}",
            retry.max_attempts,
            retry.retryable_codes.join(", ")
        ));
    }
    if let Some(hedging) = method.policy.hedging.as_ref().filter(|_| !never_retried) {
        parts.push(format!(
            "hedged: up to {} attempts, one every {:?}",
            hedging.max_attempts, hedging.hedging_delay
        ));
    }
    if let Some(breaker) = &method.policy.circuit_breaker {
        parts.push(format!(
            "breaker opens at {}% failures of the last {} calls",
            breaker.failure_rate_threshold * 100.0,
            breaker.sliding_window_size
        ));
    }
    parts.join("; ")
}
