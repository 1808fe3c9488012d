//! The wire layer: tonic-build's own server and client codegen, fed from our model through its
//! `Service`/`Method` traits, so codecs, routing and compression are tonic's and not rewritten.

use proc_macro2::TokenStream;
use quote::quote;
use tonic_build::CodeGenBuilder;

use super::{Settings, nested_type};
use crate::model::Service;

struct WireService<'a> {
    service: &'a Service,
    package: &'a str,
    methods: Vec<WireMethod>,
}

struct WireMethod {
    name: String,
    identifier: String,
    codec_path: String,
    client_streaming: bool,
    server_streaming: bool,
    doc: Vec<String>,
    deprecated: bool,
    input: TokenStream,
    output: TokenStream,
}

impl tonic_build::Service for WireService<'_> {
    type Comment = String;
    type Method = WireMethod;

    fn name(&self) -> &str {
        &self.service.names.tonic_base
    }

    fn package(&self) -> &str {
        self.package
    }

    fn identifier(&self) -> &str {
        &self.service.proto_name
    }

    fn methods(&self) -> &[WireMethod] {
        &self.methods
    }

    fn comment(&self) -> &[String] {
        &self.service.doc
    }
}

impl tonic_build::Method for WireMethod {
    type Comment = String;

    fn name(&self) -> &str {
        &self.name
    }

    fn identifier(&self) -> &str {
        &self.identifier
    }

    fn codec_path(&self) -> &str {
        &self.codec_path
    }

    fn client_streaming(&self) -> bool {
        self.client_streaming
    }

    fn server_streaming(&self) -> bool {
        self.server_streaming
    }

    fn comment(&self) -> &[String] {
        &self.doc
    }

    fn deprecated(&self) -> bool {
        self.deprecated
    }

    fn request_response_name(
        &self,
        _proto_path: &str,
        _compile_wkt: bool,
    ) -> (TokenStream, TokenStream) {
        (self.input.clone(), self.output.clone())
    }
}

fn wire_service<'a>(
    service: &'a Service,
    package: &'a str,
    settings: &Settings<'_>,
) -> WireService<'a> {
    let runtime = &settings.runtime;
    let codec_path = quote!(#runtime::codegen::ProstCodec)
        .to_string()
        .replace(' ', "");
    let methods = service
        .methods
        .iter()
        .map(|method| WireMethod {
            name: method.rust_name.clone(),
            identifier: method.proto_name.clone(),
            codec_path: codec_path.clone(),
            client_streaming: method.streaming.client_streaming(),
            server_streaming: method.streaming.server_streaming(),
            doc: method.doc.clone(),
            deprecated: method.deprecated,
            input: nested_type(&method.input_type),
            output: nested_type(&method.output_type),
        })
        .collect();
    WireService {
        service,
        package,
        methods,
    }
}

fn builder() -> CodeGenBuilder {
    let mut builder = CodeGenBuilder::new();
    builder
        .emit_package(true)
        .build_transport(true)
        .compile_well_known_types(false)
        .generate_default_stubs(false);
    builder
}

/// Lints tonic-build's code trips on for some protos, allowed only where they occur. They go
/// inside the module, next to tonic's own `#![allow(..)]`: an outer attribute beside an inner
/// one is itself a clippy warning.
fn allowed_lints(service: &Service) -> Vec<TokenStream> {
    let mut lints = Vec::new();
    if service.deprecated
        || service
            .methods
            .iter()
            .any(|method| method.touches_deprecated)
    {
        lints.push(quote!(deprecated));
    }
    if service.methods.is_empty() {
        // The router is a `match` with only the fallback arm.
        lints.push(quote!(clippy::match_single_binding));
    }
    if service
        .methods
        .iter()
        .any(|method| conversion_named(&method.rust_name))
    {
        lints.push(quote!(clippy::wrong_self_convention));
    }
    lints
}

/// Whether clippy expects a method of this name to take `self` by value (or no self).
pub fn conversion_named(name: &str) -> bool {
    name.starts_with("into_") || name.starts_with("from_")
}

fn with_allowed_lints(module: TokenStream, service: &Service) -> TokenStream {
    let lints = allowed_lints(service);
    if lints.is_empty() {
        return module;
    }
    match syn::parse2::<syn::ItemMod>(module.clone()) {
        Ok(mut item) => {
            item.attrs.push(syn::parse_quote!(#![allow(#(#lints),*)]));
            quote!(#item)
        }
        // Left as it is; rendering reports code that does not parse.
        Err(_) => module,
    }
}

/// tonic's server module: the wire trait the adapter implements, and the tower service.
pub fn server(service: &Service, package: &str, settings: &Settings<'_>) -> TokenStream {
    let module = builder().generate_server(&wire_service(service, package, settings), "");
    with_allowed_lints(module, service)
}

/// tonic's client module.
pub fn client(service: &Service, package: &str, settings: &Settings<'_>) -> TokenStream {
    let module = builder().generate_client(&wire_service(service, package, settings), "");
    with_allowed_lints(module, service)
}
