//! The one description of a service and its rpcs: a `static` `ServiceInfo` (path, call shape,
//! idempotency, the options.proto policies and the `google.api.http` bindings of every rpc) that
//! the interceptor impl, the client and the gateway all read, so that nothing about an rpc is
//! written twice. A policy several rpcs share (their service's, mostly) is written once, as a
//! `const` of the initializer.

use std::time::Duration;

use heck::ToUpperCamelCase;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{Settings, ident, service_link};
use crate::model::{CircuitBreaker, HedgingPolicy, Idempotency, RetryPolicy, Service};

pub fn emit(service: &Service, settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let info = ident(&service.names.info);
    let name = &service.full_name;
    // Inside the initializer, the runtime's `rpc` module is imported once: its paths were a
    // quarter of the description's text.
    let rpc = quote!(rpc);

    // Each policy kind: the value most rpcs share, when two or more do, becomes a `const`.
    let retries: Vec<_> = service
        .methods
        .iter()
        .map(|method| {
            method
                .policy
                .retry
                .as_ref()
                .map(|retry| retry_policy(retry, &rpc))
        })
        .collect();
    let breakers: Vec<_> = service
        .methods
        .iter()
        .map(|method| {
            (method.policy.circuit_breaker.as_ref()).map(|breaker| sliding_window(breaker, &rpc))
        })
        .collect();
    let hedgings: Vec<_> = service
        .methods
        .iter()
        .map(|method| (method.policy.hedging.as_ref()).map(|hedging| hedging_policy(hedging, &rpc)))
        .collect();
    let retry = Shared::find("RETRY", quote!(#rpc::RetryPolicy), &retries);
    let breaker = Shared::find("BREAKER", quote!(#rpc::SlidingWindow), &breakers);
    let hedging = Shared::find("HEDGING", quote!(#rpc::HedgingPolicy), &hedgings);

    let methods = service.methods.iter().enumerate().map(|(index, method)| {
        let path = format!("/{}/{}", service.full_name, method.proto_name);
        let kind = ident(method.streaming.camel_name());
        let idempotency = match method.idempotency {
            Idempotency::Unknown => None,
            Idempotency::NoSideEffects => Some(quote!(NoSideEffects)),
            Idempotency::Idempotent => Some(quote!(Idempotent)),
        }
        .map(|level| quote!(.idempotency(#rpc::Idempotency::#level)));
        let deadline = method.policy.deadline.map(|deadline| {
            let deadline = duration(deadline);
            quote!(.deadline(#deadline))
        });
        let retry = retry.setter("retry", &retries[index]);
        let hedging = hedging.setter("hedging", &hedgings[index]);
        let breaker = breaker.setter("circuit_breaker", &breakers[index]);
        let http = (!method.http.is_empty()).then(|| {
            let bindings = method.http.iter().map(|binding| {
                let (verb, template) = (&binding.method, &binding.path);
                let body = (!binding.body.is_empty()).then(|| {
                    let body = &binding.body;
                    quote!(.body(#body))
                });
                let response_body = (!binding.response_body.is_empty()).then(|| {
                    let field = &binding.response_body;
                    let json = &binding.response_body_json;
                    let default = &binding.response_body_default;
                    quote!(.response_body(#field, #json, #default))
                });
                let request_raw = binding
                    .request_http_body
                    .then(|| quote!(.request_http_body()));
                let response_raw = binding
                    .response_http_body
                    .then(|| quote!(.response_http_body()));
                quote!(#rpc::HttpBinding::new(#verb, #template) #body #response_body #request_raw #response_raw)
            });
            quote!(.http(&[#(#bindings),*]))
        });
        let exempt = method
            .policy
            .load_shedding
            .as_ref()
            .is_some_and(|own| own.disabled)
            .then(|| quote!(.shed(false)));
        quote! {
            #rpc::MethodInfo::new(#path, #rpc::MethodKind::#kind)
                #idempotency #deadline #retry #hedging #breaker #http #exempt
        }
    });
    let count = Literal::usize_unsuffixed(service.methods.len());
    let throttling = service.retry_throttling.as_ref().map(|throttling| {
        let max_tokens = Literal::u32_unsuffixed(throttling.max_tokens);
        let token_ratio = Literal::f64_unsuffixed(throttling.token_ratio);
        quote!(.retry_throttling(#rpc::RetryThrottling::new(#max_tokens, #token_ratio)))
    });
    let shedding = service.load_shedding.as_ref().map(|shedding| {
        let limit = |setter: &str, value: Option<u32>| {
            let setter = format_ident!("{setter}");
            value.map(|value| {
                let value = Literal::u32_unsuffixed(value);
                quote!(.#setter(#value))
            })
        };
        let setters = [
            limit("initial_limit", shedding.initial_limit),
            limit("min_limit", shedding.min_limit),
            limit("max_limit", shedding.max_limit),
            shedding.tolerance.map(|tolerance| {
                let tolerance = Literal::f64_unsuffixed(tolerance);
                quote!(.tolerance(#tolerance))
            }),
            shedding.max_queue_wait.map(|wait| {
                let wait = duration(wait);
                quote!(.max_queue_wait(#wait))
            }),
        ];
        let base = if shedding.disabled {
            quote!(#rpc::LoadShedding::OFF)
        } else {
            quote!(#rpc::LoadShedding::DEFAULT)
        };
        quote!(.load_shedding(#base #(#setters)*))
    });
    let consts = [&retry, &breaker, &hedging].map(Shared::item);
    let doc = format!(
        " {} and its rpcs, described once: path, call shape, idempotency, what options.proto \
         says of deadlines, retries, hedging, breakers and load shedding, and the `google.api.http` bindings. \
         The interceptors, the client and the gateway read it; so can your code.",
        service_link(service)
    );
    quote! {
        #[doc = #doc]
        pub static #info: #runtime::rpc::ServiceInfo = {
            use #runtime::rpc;
            #(#consts)*
            // A `static` of its own: an initializer does not promote `&[…]` of values with a
            // destructor to `'static`.
            static METHODS: [#rpc::MethodInfo; #count] = [#(#methods),*];
            #rpc::ServiceInfo::new(#name, &METHODS) #throttling #shedding
        };
    }
}

/// A policy value two or more rpcs share, written once as a `const`.
struct Shared {
    name: proc_macro2::Ident,
    ty: TokenStream,
    value: Option<TokenStream>,
}

impl Shared {
    /// The value of `values` that occurs most often (the first of a tie), if it occurs twice.
    fn find(name: &str, ty: TokenStream, values: &[Option<TokenStream>]) -> Self {
        let printed: Vec<_> = values
            .iter()
            .map(|value| value.as_ref().map(ToString::to_string))
            .collect();
        let count = |text: &String| {
            printed
                .iter()
                .flatten()
                .filter(|other| *other == text)
                .count()
        };
        let mut best: Option<(usize, usize)> = None;
        for (index, text) in printed.iter().enumerate() {
            let Some(text) = text else { continue };
            let uses = count(text);
            if uses >= 2 && best.is_none_or(|(_, most)| uses > most) {
                best = Some((index, uses));
            }
        }
        Self {
            name: format_ident!("{name}"),
            ty,
            value: best.and_then(|(index, _)| values[index].clone()),
        }
    }

    /// The `const` item, if a value is shared.
    fn item(&self) -> Option<TokenStream> {
        let Self { name, ty, value } = self;
        value
            .as_ref()
            .map(|value| quote!(const #name: #ty = #value;))
    }

    /// `.setter(…)` for one rpc's value: the shared `const` when it is that value.
    fn setter(&self, setter: &str, value: &Option<TokenStream>) -> Option<TokenStream> {
        let setter = ident(setter);
        let value = value.as_ref()?;
        let shared = self.value.as_ref().map(ToString::to_string);
        if shared.as_deref() == Some(value.to_string().as_str()) {
            let name = &self.name;
            Some(quote!(.#setter(#name)))
        } else {
            Some(quote!(.#setter(#value)))
        }
    }
}

fn retry_policy(retry: &RetryPolicy, rpc: &TokenStream) -> TokenStream {
    let max_attempts = Literal::u32_unsuffixed(retry.max_attempts);
    let initial_backoff = duration(retry.initial_backoff);
    let max_backoff = duration(retry.max_backoff);
    let multiplier = Literal::f64_unsuffixed(retry.backoff_multiplier);
    let codes = codes(&retry.retryable_codes, rpc);
    quote! {
        #rpc::RetryPolicy::new(&[#(#codes),*])
            .max_attempts(#max_attempts)
            .initial_backoff(#initial_backoff)
            .max_backoff(#max_backoff)
            .backoff_multiplier(#multiplier)
    }
}

/// `Code::Unavailable`… for canonical code names (the model accepts no others), whose camel
/// case is tonic's variant.
fn codes<'a>(names: &'a [String], rpc: &'a TokenStream) -> impl Iterator<Item = TokenStream> + 'a {
    names.iter().map(move |code| {
        let variant = ident(&code.to_upper_camel_case());
        quote!(#rpc::Code::#variant)
    })
}

fn hedging_policy(hedging: &HedgingPolicy, rpc: &TokenStream) -> TokenStream {
    let max_attempts = Literal::u32_unsuffixed(hedging.max_attempts);
    let delay = duration(hedging.hedging_delay);
    let codes = codes(&hedging.non_fatal_codes, rpc);
    quote! {
        #rpc::HedgingPolicy::with_non_fatal_codes(#max_attempts, #delay, &[#(#codes),*])
    }
}

fn sliding_window(breaker: &CircuitBreaker, rpc: &TokenStream) -> TokenStream {
    let threshold = Literal::f64_unsuffixed(breaker.failure_rate_threshold);
    let window_size = Literal::u32_unsuffixed(breaker.sliding_window_size);
    let minimum_calls = Literal::u32_unsuffixed(breaker.minimum_calls);
    let open_duration = duration(breaker.open_duration);
    let half_open = Literal::u32_unsuffixed(breaker.half_open_max_calls);
    // What options.proto does not set (slow calls, time windows, growing waits) keeps the
    // defaults.
    quote! {
        #rpc::SlidingWindow::DEFAULT
            .failure_rate_threshold(#threshold)
            .window_size(#window_size)
            .minimum_calls(#minimum_calls)
            .open_duration(#open_duration)
            .half_open_max_calls(#half_open)
    }
}

fn duration(duration: Duration) -> TokenStream {
    let secs = Literal::u64_unsuffixed(duration.as_secs());
    let nanos = Literal::u32_unsuffixed(duration.subsec_nanos());
    quote!(::core::time::Duration::new(#secs, #nanos))
}

/// The Rust expression of `method`'s entry in its service's description, for the items that
/// hand it to the runtime: `&INVENTORY_SERVICE.methods[0]`.
pub fn method_info(service: &Service, index: usize) -> TokenStream {
    let info = ident(&service.names.info);
    let index = Literal::usize_unsuffixed(index);
    quote!(&#info.methods[#index])
}
