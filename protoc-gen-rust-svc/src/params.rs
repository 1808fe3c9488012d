//! Plugin parameters: `opt:` in buf.gen.yaml, `--rust-svc_opt=` for protoc, `--opt` for
//! `generate`, or the builder API.
//!
//! Parameters are comma-separated `key=value` pairs; `\,` is a comma inside a value (protoc and buf
//! join repeated options with commas, so a bare comma always separates). Every key is known; an
//! unknown key or a bad value is an error, never ignored, because a typo that silently changes
//! output is worse than a failed run.
//!
//! The parameters themselves are [`PARAMETERS`], the one table they are described in: the
//! unknown-key error lists its keys, [`Params::parse`] refuses a key it does not have, and the
//! guide's parameter reference (docs/src/reference/parameters.md) is rendered from it by
//! [`reference_markdown`] (`cargo generate-docs`; a test fails when the page is stale).

use std::collections::BTreeSet;

use crate::error::Error;

mod reference;
mod table;

pub use reference::reference_markdown;
pub use table::{PARAMETERS, Parameter};

/// The artifacts that implement or serve the domain trait, so need `domain` beside them.
const NEEDS_DOMAIN: [Artifact; 5] = [
    Artifact::Stub,
    Artifact::Server,
    Artifact::Client,
    Artifact::Fake,
    Artifact::Gateway,
];

/// How the OpenAPI document names its schemas (`openapi_naming_strategy`), as
/// protoc-gen-openapiv2's strategies of the same names do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SchemaNaming {
    /// The full proto name: `inventory.v1.Item` (the default).
    #[default]
    Fqn,
    /// The fewest last components that tell it from the document's other schemas, one more,
    /// joined in camelCase: `v1Item`, `rpcStatus` (protoc-gen-openapiv2's default).
    Legacy,
    /// The fewest last components that tell it apart, joined with `.`: `Item`, `v1.Item`.
    Simple,
    /// As `Simple`, a nested type's path kept whole: `Outer.Inner`.
    Package,
}

/// A per-service artifact the generator can emit (messages are switched separately). More may
/// be added in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Artifact {
    /// The transport-agnostic domain trait and its `Dyn…` companion.
    Domain,
    /// An implementation answering UNIMPLEMENTED for every method.
    Stub,
    /// The gRPC adapter: serves the domain trait as a tonic service, routed and coded by the
    /// runtime over tonic's own `server::Grpc`.
    Server,
    /// The client wrapper implementing the domain trait. With `Server`, also the adapter's
    /// test-harness entry points that return it.
    Client,
    /// A programmable, recording fake implementing the domain trait, for tests.
    Fake,
    /// tonic's own wire-level client (`foo_service_client::FooServiceClient<T>`): no deadlines,
    /// retries or breaker, for callers that need raw control of the wire. Not emitted by
    /// default: `Client` covers what callers need, and compiling tonic's generic client took
    /// 9 % of the instructions of building the example system's generated code
    /// (bench/RESULTS.md).
    TonicClient,
    /// tonic's own wire-level server module (`foo_service_server`: the `FooService` trait over
    /// `tonic::Request`s and `FooServiceServer<T>`), for who implements tonic's trait by hand.
    /// Not emitted by default: `Server` serves the domain trait without it, at a tenth of its
    /// code per rpc.
    TonicServer,
    /// The REST/JSON gateway of every service with `google.api.http` rules: a static route
    /// table and a router serving the domain trait. It needs proto3 JSON, so with it the
    /// messages the rpcs carry (every message with `json_all_messages`) get proto3 JSON (serde)
    /// impls, printed by the generator, which the adapter's Connect `application/json` uses
    /// too, and the well-known types become the runtime's (`rust_svc_runtime::wkt`, which have
    /// them).
    Gateway,
    /// An OpenAPI 3.1 document per proto package with http rules (`<package>.openapi.json`).
    OpenApi,
}

impl Artifact {
    /// Every artifact.
    pub const ALL: [Artifact; 9] = [
        Self::Domain,
        Self::Stub,
        Self::Server,
        Self::Client,
        Self::Fake,
        Self::TonicClient,
        Self::TonicServer,
        Self::Gateway,
        Self::OpenApi,
    ];

    /// What is emitted when `artifacts` is not given.
    pub const DEFAULT: [Artifact; 6] = [
        Self::Domain,
        Self::Stub,
        Self::Server,
        Self::Client,
        Self::Fake,
        Self::Gateway,
    ];

    /// Its name in `artifacts=`, e.g. `tonic_client`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Stub => "stub",
            Self::Server => "server",
            Self::Client => "client",
            Self::Fake => "fake",
            Self::TonicClient => "tonic_client",
            Self::TonicServer => "tonic_server",
            Self::Gateway => "gateway",
            Self::OpenApi => "openapi",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|artifact| artifact.name() == name)
    }
}

/// Typed, validated plugin parameters: from [`Params::parse`], [`Params::default`] or the
/// [`Builder`](crate::Builder). Non-exhaustive, so that a new parameter is not a breaking
/// change: set fields on a default value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Params {
    /// Which per-service artifacts to emit.
    pub artifacts: BTreeSet<Artifact>,
    /// Whether to emit prost messages.
    pub messages: bool,
    /// Path of the runtime crate in generated code, e.g. `::rust_svc_runtime`.
    pub runtime_crate: String,
    /// Name of the include file, or `None` for no include file.
    pub include_file: Option<String>,
    /// `(proto path, Rust path)` pairs handed to prost-build.
    pub extern_paths: Vec<(String, String)>,
    /// `(proto path, attributes)` pairs handed to prost-build's `type_attribute`.
    pub type_attributes: Vec<(String, String)>,
    /// `(proto path, attributes)` pairs handed to prost-build's `field_attribute`.
    pub field_attributes: Vec<(String, String)>,
    /// Whether every method of a domain trait gets a default body answering UNIMPLEMENTED.
    pub default_stubs: bool,
    /// Whether the include file gets the encoded `FileDescriptorSet` as `FILE_DESCRIPTOR_SET`.
    pub file_descriptor_set: bool,
    /// Whether what grpc-gateway serves but the Envoy transcoder refuses stops generation: two
    /// rpcs of a service bound to the same (HTTP method, path template), and a path template
    /// with a `*` or a variable after its `**` (`/v1/{parent=docs/**}/{id}`, as firestore's
    /// protos have). By default each is a warning naming its file and line: the gateway serves
    /// the later of two rpcs, as grpc-gateway v2 does, and `**` takes what the fixed number of
    /// segments after it leave.
    pub strict_http_rules: bool,
    /// Whether every message gets proto3 JSON (serde) impls with the gateway. By default only
    /// the messages and enums an rpc carries get them.
    pub json_all_messages: bool,
    /// Whether the proto3 JSON impls refuse an object with a field the message does not have.
    /// By default they skip it, as grpc-gateway and the Envoy transcoder do (and as a client
    /// newer than the server needs); with this, the gateway answers 400 naming the first
    /// unknown field of the body.
    pub reject_unknown_fields: bool,
    /// Whether the proto3 JSON impls write fields at their default value too. By default they
    /// leave them out, as proto3 JSON and the Envoy transcoder do; with this every field but an
    /// unset oneof member or `optional` field is written (an unset message field as `null`),
    /// as grpc-gateway's default marshaler (protojson's `EmitUnpopulated`) writes them.
    pub emit_unpopulated: bool,
    /// Whether the proto3 JSON impls write fields under their proto names (`display_name`)
    /// rather than their JSON names (`displayName`), as protojson's `UseProtoNames` does (a
    /// grpc-gateway marshaler option many of its users set). Reading takes either name either
    /// way.
    pub use_proto_names: bool,
    /// Whether the proto3 JSON impls write enum values as their numbers (`2`) rather than
    /// their names (`"COLOUR_GREEN"`), as protojson's `UseEnumNumbers` does (a grpc-gateway
    /// marshaler option; `EnumsAsInts` in its first version). Reading takes names and numbers
    /// either way; `google.protobuf.NullValue` is written as `null` either way.
    pub use_enum_numbers: bool,
    /// Whether a `delete` rule may have a `body`, as grpc-gateway's `allow_delete_body` option
    /// allows it. By default it stops generation, as a DELETE has no body by HTTP's semantics
    /// and grpc-gateway's default.
    pub allow_delete_body: bool,
    /// Whether an rpc without an HTTP rule gets one: `post` on its gRPC path
    /// (`/pkg.v1.Service/Method`) with the whole request as the body, as grpc-gateway's
    /// `generate_unbound_methods` option routes it.
    pub generate_unbound_methods: bool,
    /// How the OpenAPI document names its schemas.
    pub openapi_naming_strategy: SchemaNaming,
    /// Deprecated, no effect. A path template with a `*` or a variable after its `**` is now
    /// accepted by default (a warning) and refused with [`strict_http_rules`]; the parameter
    /// is still read so that no build that sets it breaks.
    ///
    /// [`strict_http_rules`]: Params::strict_http_rules
    pub wildcards_after_double_wildcard: bool,
    /// A gRPC API configuration (a `google.api.Service` YAML file) whose `http.rules` give rpcs
    /// routes beside (before) their `google.api.http` annotations, as grpc-gateway's option of
    /// the same name reads it; relative to the working directory.
    pub grpc_api_configuration: Option<std::path::PathBuf>,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            artifacts: Artifact::DEFAULT.into_iter().collect(),
            messages: true,
            runtime_crate: "::rust_svc_runtime".to_owned(),
            include_file: Some("mod.rs".to_owned()),
            extern_paths: Vec::new(),
            type_attributes: Vec::new(),
            field_attributes: Vec::new(),
            default_stubs: false,
            file_descriptor_set: false,
            strict_http_rules: false,
            json_all_messages: false,
            reject_unknown_fields: false,
            emit_unpopulated: false,
            use_proto_names: false,
            use_enum_numbers: false,
            allow_delete_body: false,
            generate_unbound_methods: false,
            openapi_naming_strategy: SchemaNaming::Fqn,
            wildcards_after_double_wildcard: false,
            grpc_api_configuration: None,
        }
    }
}

/// The keys of [`PARAMETERS`], for the errors that list them.
fn known_keys() -> String {
    PARAMETERS
        .iter()
        .map(|parameter| parameter.key)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Params {
    /// Parses the `parameter` string of a CodeGeneratorRequest.
    pub fn parse(parameter: &str) -> Result<Self, Error> {
        let mut params = Params::default();
        for entry in split_entries(parameter) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                Error::new(format!(
                    "plugin parameter `{entry}` has no value: expected `key=value` (keys: {})",
                    known_keys()
                ))
            })?;
            let (key, value) = (key.trim(), value.trim());
            // The table is the authority: a key it does not have is refused before the match
            // below, whose arms only parse the values.
            if !PARAMETERS.iter().any(|parameter| parameter.key == key) {
                return Err(Error::new(format!(
                    "unknown plugin parameter `{key}` (known: {})",
                    known_keys()
                )));
            }
            match key {
                "artifacts" => params.artifacts = parse_artifacts(value)?,
                "messages" => params.messages = parse_bool(key, value)?,
                "runtime_crate" => {
                    // Generated code names the runtime from nested modules too: only an
                    // absolute path resolves the same everywhere.
                    let absolute = value.starts_with("::") || value.starts_with("crate::");
                    if !absolute || syn::parse_str::<syn::Path>(value).is_err() {
                        return Err(Error::new(format!(
                            "plugin parameter `runtime_crate={value}` is not an absolute Rust path (`::name` or `crate::path`)"
                        )));
                    }
                    params.runtime_crate = value.to_owned();
                }
                "include_file" => {
                    params.include_file = match value {
                        "" => None,
                        name if name.ends_with(".rs") && !name.contains(['/', '\\']) => {
                            Some(name.to_owned())
                        }
                        name => {
                            return Err(Error::new(format!(
                                "plugin parameter `include_file={name}` must be a file name ending in `.rs`, without directories"
                            )));
                        }
                    }
                }
                "extern_path" => {
                    let (proto, rust) = value.split_once('=').ok_or_else(|| {
                        Error::new(format!(
                            "plugin parameter `extern_path={value}` must be `.proto.path=::rust::path`"
                        ))
                    })?;
                    if !proto.starts_with('.') || syn::parse_str::<syn::Path>(rust).is_err() {
                        return Err(Error::new(format!(
                            "plugin parameter `extern_path={value}`: the proto path must start with `.` and the Rust path must be a path"
                        )));
                    }
                    params
                        .extern_paths
                        .push((proto.to_owned(), rust.to_owned()));
                }
                "type_attribute" => params.type_attributes.push(parse_attribute(key, value)?),
                "field_attribute" => params.field_attributes.push(parse_attribute(key, value)?),
                "default_stubs" => params.default_stubs = parse_bool(key, value)?,
                "file_descriptor_set" => params.file_descriptor_set = parse_bool(key, value)?,
                "strict_http_rules" => params.strict_http_rules = parse_bool(key, value)?,
                "json_all_messages" => params.json_all_messages = parse_bool(key, value)?,
                "reject_unknown_fields" => params.reject_unknown_fields = parse_bool(key, value)?,
                "emit_unpopulated" => params.emit_unpopulated = parse_bool(key, value)?,
                "use_proto_names" => params.use_proto_names = parse_bool(key, value)?,
                "use_enum_numbers" => params.use_enum_numbers = parse_bool(key, value)?,
                "allow_delete_body" => params.allow_delete_body = parse_bool(key, value)?,
                "generate_unbound_methods" => {
                    params.generate_unbound_methods = parse_bool(key, value)?;
                }
                "openapi_naming_strategy" => {
                    params.openapi_naming_strategy = match value {
                        "fqn" => SchemaNaming::Fqn,
                        "legacy" => SchemaNaming::Legacy,
                        "simple" => SchemaNaming::Simple,
                        "package" => SchemaNaming::Package,
                        other => {
                            return Err(Error::new(format!(
                                "plugin parameter `openapi_naming_strategy`: `{other}` is not a \
                                 strategy (fqn, legacy, simple or package)"
                            )));
                        }
                    };
                }
                "wildcards_after_double_wildcard" => {
                    params.wildcards_after_double_wildcard = parse_bool(key, value)?;
                }
                "grpc_api_configuration" if !value.is_empty() => {
                    params.grpc_api_configuration = Some(value.into());
                }
                "grpc_api_configuration" => {
                    return Err(Error::new(
                        "plugin parameter `grpc_api_configuration` needs a file: \
                         `grpc_api_configuration=path/to/service.yaml`",
                    ));
                }
                // In PARAMETERS but not parsed here: a bug of ours, which the tests catch.
                other => {
                    return Err(Error::new(format!(
                        "internal error: plugin parameter `{other}` is known but not read; \
                         please report this"
                    )));
                }
            }
        }
        params.check()?;
        Ok(params)
    }

    /// Checks what a parameter string or the [`Builder`](crate::Builder)'s setters may get
    /// wrong: artifacts missing what they need, attributes that are not attributes.
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (path, attribute) in &self.type_attributes {
            check_attribute("type_attribute", path, attribute)?;
        }
        for (path, attribute) in &self.field_attributes {
            check_attribute("field_attribute", path, attribute)?;
        }
        self.check_dependencies()
    }

    /// Whether an artifact is to be emitted.
    pub fn emits(&self, artifact: Artifact) -> bool {
        self.artifacts.contains(&artifact)
    }

    fn check_dependencies(&self) -> Result<(), Error> {
        if cfg!(not(feature = "openapi")) && self.emits(Artifact::OpenApi) {
            return Err(Error::new(
                "artifact `openapi` needs protoc-gen-rust-svc's `openapi` feature, which this \
                 build leaves out (a build script's `default-features = false`): add \
                 `features = [\"openapi\"]` to its entry in [build-dependencies]",
            ));
        }
        if self.file_descriptor_set && self.include_file.is_none() {
            return Err(Error::new(
                "plugin parameter `file_descriptor_set=true` puts the constant in the include file: \
                 it needs one (`include_file` is empty)",
            ));
        }
        for needs_domain in NEEDS_DOMAIN {
            if self.emits(needs_domain) && !self.emits(Artifact::Domain) {
                return Err(Error::new(format!(
                    "artifact `{}` implements or serves the domain trait: add `domain` to `artifacts`",
                    needs_domain.name()
                )));
            }
        }
        Ok(())
    }

    /// Whether messages get proto3 JSON (serde) impls: the gateway needs them (those its routes
    /// reach, or all with `json_all_messages`).
    pub fn emits_json(&self) -> bool {
        self.messages && self.emits(Artifact::Gateway)
    }
}

fn parse_artifacts(value: &str) -> Result<BTreeSet<Artifact>, Error> {
    value
        .split('+')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            Artifact::parse(name).ok_or_else(|| {
                let known: Vec<_> = Artifact::ALL.iter().map(|a| a.name()).collect();
                Error::new(format!(
                    "unknown artifact `{name}` in `artifacts` (known: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The entries of a parameter string: split at commas, except escaped ones (`\,`), which
/// become commas inside the entry.
fn split_entries(parameter: &str) -> Vec<String> {
    let mut entries = vec![String::new()];
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                entries.last_mut().expect("never empty").push(',');
            }
            ',' => entries.push(String::new()),
            c => entries.last_mut().expect("never empty").push(c),
        }
    }
    entries
}

/// `PATH=#[attr]` of `type_attribute` / `field_attribute`.
fn parse_attribute(key: &str, value: &str) -> Result<(String, String), Error> {
    let (path, attribute) = value
        .split_once('=')
        .ok_or_else(|| attribute_shape_error(key, value))?;
    let (path, attribute) = (path.trim().to_owned(), attribute.trim().to_owned());
    check_attribute(key, &path, &attribute)?;
    Ok((path, attribute))
}

/// A proto path as prost-build matches them and one or more outer attributes: checked, so that
/// a typo fails generation naming the parameter instead of breaking the generated code.
fn check_attribute(key: &str, path: &str, attribute: &str) -> Result<(), Error> {
    let value = format!("{path}={attribute}");
    if path.is_empty() || path.contains(char::is_whitespace) {
        return Err(attribute_shape_error(key, &value));
    }
    match syn::parse::Parser::parse_str(syn::Attribute::parse_outer, attribute) {
        Ok(attributes) if !attributes.is_empty() => Ok(()),
        Ok(_) => Err(attribute_shape_error(key, &value)),
        Err(error) => Err(Error::new(format!(
            "plugin parameter `{key}={value}`: `{attribute}` is not a Rust attribute ({error}); \
             write a comma inside it as `\\,`"
        ))),
    }
}

fn attribute_shape_error(key: &str, value: &str) -> Error {
    Error::new(format!(
        "plugin parameter `{key}={value}` must be `PATH=#[attribute]`, e.g. \
         `{key}=.my.pkg.Message=#[derive(Hash)]` (write a comma inside the attribute as `\\,`)"
    ))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, Error> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::new(format!(
            "plugin parameter `{key}={other}` must be `true` or `false`"
        ))),
    }
}

#[cfg(test)]
mod tests;
