//! One emitter per artifact. Each takes the validated model and returns tokens; none can fail.
//! [`version_check`] and [`service_items`] make up a package's services file; [`include_file`]
//! assembles the module tree; [`openapi_file`] is a package's OpenAPI document, JSON. Printing
//! Rust happens once, in [`crate::render`].

mod adapter;
mod client;
mod describe;
mod domain;
mod fake;
mod files;
mod gateway;
mod include;
mod intercept;
#[cfg(feature = "openapi")]
mod openapi;
mod stub;
mod wire;

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

use crate::model::{Method, Package, Service, Streaming};
use crate::names;
use crate::params::{Artifact, Params};

pub(crate) use files::{Resolved, files};
pub use include::include_file;
#[cfg(feature = "openapi")]
pub use openapi::file as openapi_file;

/// Paths and settings every emitter needs.
pub struct Settings<'a> {
    /// The runtime crate, e.g. `::rust_svc_runtime`.
    pub runtime: syn::Path,
    /// The plugin parameters.
    pub params: &'a Params,
    /// The runtime items the services file imports ([`Package::runtime_imports`]).
    pub imports: &'a [&'static str],
}

impl Settings<'_> {
    /// A runtime item named in the package module: bare where the file imports it, else by
    /// its full path.
    pub fn item(&self, name: &'static str) -> TokenStream {
        let item = ident(name);
        if self.imports.contains(&name) {
            quote!(#item)
        } else {
            let runtime = &self.runtime;
            quote!(#runtime::#item)
        }
    }
}

/// The runtime items that `items` name bare: those of `settings.imports` that occur as an
/// identifier that does not continue a path, outside nested modules (which have imports of
/// their own: tonic-build's name `std::task::Context`).
pub fn runtime_items_named(settings: &Settings<'_>, items: &TokenStream) -> BTreeSet<&'static str> {
    let mut named = BTreeSet::new();
    bare_idents(items, settings.imports, &mut named);
    named
}

fn bare_idents(tokens: &TokenStream, wanted: &[&'static str], named: &mut BTreeSet<&'static str>) {
    let mut continues_path = false;
    // The previous token was the first `:` of a `::`; a lone `:` (`requests: BoxStream<…>`)
    // ends a name, it does not continue a path.
    let mut after_joint_colon = false;
    let mut in_module_head = false;
    for token in tokens.clone() {
        match &token {
            TokenTree::Group(_) if in_module_head => in_module_head = false,
            TokenTree::Group(group) => bare_idents(&group.stream(), wanted, named),
            TokenTree::Ident(name) if name == "mod" => in_module_head = true,
            TokenTree::Punct(punct) if punct.as_char() == ';' => in_module_head = false,
            TokenTree::Ident(name) if !continues_path => {
                if let Some(name) = wanted.iter().find(|wanted| name == *wanted) {
                    named.insert(*name);
                }
            }
            _ => {}
        }
        let colon = matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ':');
        continues_path = colon && after_joint_colon;
        after_joint_colon = matches!(
            &token,
            TokenTree::Punct(punct)
                if punct.as_char() == ':' && punct.spacing() == proc_macro2::Spacing::Joint
        );
    }
}

/// The `use` of the runtime items a services file names bare.
pub fn runtime_use(
    settings: &Settings<'_>,
    named: impl IntoIterator<Item = &'static str>,
) -> TokenStream {
    let named: BTreeSet<_> = named.into_iter().collect();
    if named.is_empty() {
        return TokenStream::new();
    }
    let runtime = &settings.runtime;
    let named = named.into_iter().map(ident);
    quote! { use #runtime::{#(#named),*}; }
}

/// The first items of a services file: the build fails early, with a message saying what to
/// upgrade, when the runtime crate is older than the generator, and with one error naming each
/// feature of the runtime the artifacts use that it was built without (`require!`).
pub fn version_check(settings: &Settings<'_>) -> TokenStream {
    let runtime = &settings.runtime;
    let version = env!("CARGO_PKG_VERSION");
    let parts = runtime_parts(settings.params);
    quote! {
        const _: () = #runtime::version::require(#version);
        #runtime::require!(#(#parts),*);
    }
}

/// The parts of the runtime (its features) the artifacts of a services file use.
fn runtime_parts(params: &Params) -> Vec<proc_macro2::Ident> {
    let emits = |artifact| params.emits(artifact);
    [
        ("server", emits(Artifact::Server)),
        ("client", emits(Artifact::Client)),
        // The adapter's test harness (`serve_in_memory`): a port of the runtime's host.
        (
            "harness",
            emits(Artifact::Server) && emits(Artifact::Client),
        ),
        ("fake", emits(Artifact::Fake)),
        ("gateway", emits(Artifact::Gateway)),
    ]
    .into_iter()
    .filter(|(_, used)| *used)
    .map(|(part, _)| ident(part))
    .collect()
}

/// Every requested artifact of one service of `package`, in the order of the services file.
pub fn service_items(package: &Package, service: &Service, settings: &Settings<'_>) -> TokenStream {
    let params = settings.params;
    let described = params
        .emits(Artifact::Domain)
        .then(|| describe::emit(service, settings));
    let domain = params
        .emits(Artifact::Domain)
        .then(|| domain::emit(service, settings));
    let intercepted = params
        .emits(Artifact::Domain)
        .then(|| intercept::emit(service, settings));
    let stub = params
        .emits(Artifact::Stub)
        .then(|| stub::emit(service, settings));
    let adapter = params
        .emits(Artifact::Server)
        .then(|| adapter::emit(service, settings, adapter::serves_json(params)));
    let wire_server = params
        .emits(Artifact::TonicServer)
        .then(|| wire::server(service, &package.proto_name, settings));
    let wire_client = params
        .emits(Artifact::TonicClient)
        .then(|| wire::client(service, &package.proto_name, settings));
    let client = params
        .emits(Artifact::Client)
        .then(|| client::emit(service, settings));
    let fake = params
        .emits(Artifact::Fake)
        .then(|| fake::emit(service, settings));
    let gateway = (params.emits(Artifact::Gateway) && gateway::applies(service))
        .then(|| gateway::emit(service, settings));
    let items = quote! { #described #domain #intercepted #stub #fake #adapter #wire_server #client #wire_client #gateway };
    if service.deprecated {
        allow_deprecated_uses(items, &service.names.domain_trait)
    } else {
        items
    }
}

/// A deprecated service's trait is `#[deprecated]`, which warns its users; the items we generate
/// around it are not users, so each of them but the trait gets `#[allow(deprecated)]` (found by
/// compiling googleapis, where some services are deprecated).
fn allow_deprecated_uses(items: TokenStream, trait_name: &str) -> TokenStream {
    let Ok(mut file) = syn::parse2::<syn::File>(items.clone()) else {
        return items; // The render step reports tokens that do not parse.
    };
    for item in &mut file.items {
        let attrs = match item {
            syn::Item::Trait(item) if item.ident == trait_name => continue,
            syn::Item::Trait(item) => &mut item.attrs,
            syn::Item::Impl(item) => &mut item.attrs,
            syn::Item::Struct(item) => &mut item.attrs,
            // tonic's modules allow `deprecated` inside, beside their own inner lints (wire.rs):
            // an outer attribute next to inner ones is a clippy warning.
            syn::Item::Mod(item)
                if item
                    .attrs
                    .iter()
                    .any(|attr| matches!(attr.style, syn::AttrStyle::Inner(_))) =>
            {
                continue;
            }
            syn::Item::Mod(item) => &mut item.attrs,
            syn::Item::Fn(item) => &mut item.attrs,
            syn::Item::Const(item) => &mut item.attrs,
            syn::Item::Static(item) => &mut item.attrs,
            syn::Item::Type(item) => &mut item.attrs,
            syn::Item::Enum(item) => &mut item.attrs,
            _ => continue,
        };
        attrs.push(syn::parse_quote!(#[allow(deprecated)]));
    }
    quote! { #file }
}

/// `#[doc = "…"]` attributes from sanitized rustdoc lines.
fn doc_attrs(lines: &[String]) -> TokenStream {
    quote! { #(#[doc = #lines])* }
}

/// Attributes of a method item: `#[deprecated]` where it is declared (`declares`), and the
/// lints its name or types trip, allowed on that item only.
fn method_attrs(method: &Method, declares: bool) -> TokenStream {
    let deprecated = (declares && method.deprecated).then(|| quote!(#[deprecated]));
    let allow_deprecated = method
        .touches_deprecated
        .then(|| quote!(#[allow(deprecated)]));
    // An rpc named `IntoCart` or `FromCache` keeps its name; clippy would want `self` by value.
    let allow_conversion = wire::conversion_named(&method.rust_name)
        .then(|| quote!(#[allow(clippy::wrong_self_convention)]));
    quote! { #deprecated #allow_deprecated #allow_conversion }
}

fn type_tokens(path: &str) -> TokenStream {
    // `Model::build` rejects type paths that do not parse, so nothing is dropped here.
    syn::parse_str::<syn::Type>(path)
        .map(|ty| quote!(#ty))
        .unwrap_or_default()
}

/// A message type named from a module one level below the package module (tonic-build's
/// modules and the adapter's): relative paths gain `super::`.
fn nested_type(path: &str) -> TokenStream {
    let ty = type_tokens(path);
    let relative = !path.starts_with("::") && !path.starts_with('(');
    if relative { quote!(super::#ty) } else { ty }
}

/// A message type named from an impl generic over `T` in the package module: a path that starts
/// with a name (not `::`, `super::` or `crate::`) gains `self::`, so that a message called `T`
/// is not taken for the type parameter.
fn unshadowed_type(path: &str) -> TokenStream {
    let ty = type_tokens(path);
    let starts_with_name = path.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && !["super::", "crate::", "self::"]
            .iter()
            .any(|keyword| path.starts_with(keyword));
    if starts_with_name {
        quote!(self::#ty)
    } else {
        ty
    }
}

/// The request parameter and the `Ok` type of a domain method, per streaming shape.
fn domain_signature(method: &Method, settings: &Settings<'_>) -> (TokenStream, TokenStream) {
    domain_signature_with(method, settings, type_tokens)
}

/// [`domain_signature`], with message types named by `type_of`.
fn domain_signature_with(
    method: &Method,
    settings: &Settings<'_>,
    type_of: fn(&str) -> TokenStream,
) -> (TokenStream, TokenStream) {
    let input = type_of(&method.input_type);
    let output = type_of(&method.output_type);
    let stream = settings.item("BoxStream");
    let request = match method.streaming {
        Streaming::Unary | Streaming::Server => quote!(request: #input),
        Streaming::Client | Streaming::Bidi => quote!(requests: #stream<#input>),
    };
    let response = if method.streaming.server_streaming() {
        quote!(#stream<#output>)
    } else {
        output
    };
    (request, response)
}

/// `#[inline]`, for the methods of non-generic generated impls (the client's, the fake's, the
/// stub's, `Arc<dyn …>`'s): they are then compiled in the crates that call them, and only if
/// they do, as generic code is. Without it every crate that generates a service compiles every
/// rpc's client call, prost encoding and decoding included, used or not: 15 % of the compile
/// instructions of the example system's generated code (bench/RESULTS.md).
fn compiled_where_used() -> TokenStream {
    quote!(#[inline])
}

/// The return type of a domain method, `impl Future<Output = Result<…, Status>> + Send`, for
/// implementations that hand back a future instead of being `async fn`s: those build no state
/// machine of their own, which the compiler would type-check, borrow-check and lay out once
/// per method.
fn domain_future(method: &Method, settings: &Settings<'_>) -> TokenStream {
    let (_, response) = domain_signature(method, settings);
    let reply = settings.item("Reply");
    quote!(impl #reply<#response>)
}

/// The name under which the request is passed on (matches [`domain_signature`]).
fn request_arg(method: &Method) -> TokenStream {
    if method.streaming.client_streaming() {
        quote!(requests)
    } else {
        quote!(request)
    }
}

fn ident(name: &str) -> proc_macro2::Ident {
    names::ident(name)
}

fn method_ident(method: &Method) -> proc_macro2::Ident {
    ident(&method.rust_name)
}

fn service_link(service: &Service) -> String {
    format!("[`{}`]", service.names.domain_trait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_that_start_with_a_name_are_unshadowed() {
        let cases = [
            ("T", "self :: T"),
            ("outer::Leaf", "self :: outer :: Leaf"),
            ("r#type::Leaf", "self :: r#type :: Leaf"),
            ("super::common::Money", "super :: common :: Money"),
            ("crate::common::Money", "crate :: common :: Money"),
            ("::prost_types::Timestamp", ":: prost_types :: Timestamp"),
            ("()", "()"),
        ];
        for (path, expected) in cases {
            assert_eq!(unshadowed_type(path).to_string(), expected, "{path}");
        }
    }

    #[test]
    fn only_bare_runtime_names_outside_nested_modules_are_imported() {
        let params = Params::default();
        let settings = Settings {
            runtime: syn::parse_quote!(::rust_svc_runtime),
            params: &params,
            imports: &["BoxStream", "Context", "Reply", "Status"],
        };
        let items = quote! {
            fn a(ctx: &Context) -> impl Reply<::rust_svc_runtime::Status> {}
            mod inner { fn poll(cx: &mut BoxStream<'_>) {} }
            fn b(requests: BoxStream<u8>) {}
            mod declared;
            struct S(::rust_svc_runtime::BoxStream<u8>);
        };
        let named = runtime_items_named(&settings, &items);
        assert_eq!(
            named.iter().copied().collect::<Vec<_>>(),
            ["BoxStream", "Context", "Reply"]
        );
        assert_eq!(
            runtime_use(&settings, named).to_string(),
            "use :: rust_svc_runtime :: { BoxStream , Context , Reply } ;"
        );
        assert_eq!(settings.item("Status").to_string(), "Status");
        assert_eq!(
            settings.item("BoxReply").to_string(),
            ":: rust_svc_runtime :: BoxReply"
        );
    }
}
