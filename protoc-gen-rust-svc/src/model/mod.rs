//! The resolved model between descriptors and emitters.
//!
//! Built and validated once: every name is computed, every option decoded and checked, every
//! type path resolved. Emitters take `&Model` and cannot fail. Problems in the user's protos
//! become errors naming `file:line` and the element.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use prost_build::Module;
use prost_reflect::{DescriptorPool, FileDescriptor};

use crate::comments::SourceInfos;
use crate::error::{Error, Location, Warning};
use crate::names::ServiceNames;
use crate::params::Params;
use crate::prepare::StandIns;

mod build;
pub(crate) mod closure;
mod http;
pub(crate) mod json_reach;
#[cfg(feature = "openapi")]
pub mod openapi;
mod package;
mod policy;
pub(crate) mod service_config;
mod shedding;

pub use http::{FieldCardinality, FieldKind, FieldSchema, MessageSchema};

use build::{BuildContext, build_package, option_location};
use package::{package_has_types, package_scope};
use service_config::ServiceConfig;

/// Everything to generate, one entry per proto package, sorted by package name.
#[derive(Debug, Clone)]
pub struct Model {
    /// The packages of the files to generate.
    pub packages: Vec<Package>,
    /// What the protos do that generation works around, for the user to hear of.
    pub warnings: Vec<Warning>,
}

/// One proto package: one Rust module.
#[derive(Debug, Clone)]
pub struct Package {
    /// `inventory.v1`, or empty for files without a package.
    pub proto_name: String,
    /// The Rust module path, as prost-build names it.
    pub module: Module,
    /// Whether the package defines messages or enums, so that a messages file exists for it
    /// (ours, or protoc-gen-prost's when messages are off).
    pub has_types: bool,
    /// The services of the package, in file then declaration order.
    pub services: Vec<Service>,
    /// The runtime items its services file imports (`names::RUNTIME_IMPORTS` that no type of
    /// the package module is named).
    pub runtime_imports: Vec<&'static str>,
    /// What its OpenAPI document needs: only with the `openapi` artifact, and only if a
    /// service has http rules.
    pub openapi: Option<OpenApiModel>,
}

/// A package's OpenAPI model ([`openapi::OpenApi`]); nothing in a generator built without the
/// `openapi` feature.
#[cfg(feature = "openapi")]
pub type OpenApiModel = openapi::OpenApi;

/// A package's OpenAPI model: nothing in a generator built without the `openapi` feature.
#[cfg(not(feature = "openapi"))]
pub type OpenApiModel = std::convert::Infallible;

/// A proto service.
#[derive(Debug, Clone)]
pub struct Service {
    /// `InventoryService`.
    pub proto_name: String,
    /// `inventory.v1.InventoryService`.
    pub full_name: String,
    /// Every Rust name generated for the service.
    pub names: ServiceNames,
    /// Sanitized rustdoc lines.
    pub doc: Vec<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// The rpcs, in declaration order.
    pub methods: Vec<Method>,
    /// Retry throttling, which the service's methods share.
    pub retry_throttling: Option<RetryThrottling>,
    /// Load shedding when serving, as the service's option sets it.
    pub load_shedding: Option<LoadShedding>,
    /// The gateway's schemas of the request messages of rpcs with http rules and of the messages
    /// they reach; empty without http rules.
    pub schemas: Vec<MessageSchema>,
}

/// The four shapes of an rpc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    Server,
    /// A stream of requests, one response.
    Client,
    /// Streams both ways.
    Bidi,
}

impl Streaming {
    /// Whether the client sends a stream.
    pub fn client_streaming(self) -> bool {
        matches!(self, Self::Client | Self::Bidi)
    }

    /// Whether the server sends a stream.
    pub fn server_streaming(self) -> bool {
        matches!(self, Self::Server | Self::Bidi)
    }

    /// The runtime's name of the shape as a function, e.g. `server_streaming`: the gRPC and
    /// gateway calls and the interceptors' entry points are named after it.
    pub fn snake_name(self) -> &'static str {
        match self {
            Self::Unary => "unary",
            Self::Server => "server_streaming",
            Self::Client => "client_streaming",
            Self::Bidi => "bidi_streaming",
        }
    }

    /// The runtime's name of the shape as a type or variant, e.g. `ServerStreaming`
    /// (`rpc::MethodKind`'s variants, the fakes).
    pub fn camel_name(self) -> &'static str {
        match self {
            Self::Unary => "Unary",
            Self::Server => "ServerStreaming",
            Self::Client => "ClientStreaming",
            Self::Bidi => "BidiStreaming",
        }
    }
}

/// Whether an rpc may be retried, from the standard `idempotency_level` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Not declared: never retried unless the request carries an idempotency key.
    Unknown,
    /// Reads only.
    NoSideEffects,
    /// Repeating it has the effect of doing it once.
    Idempotent,
}

/// An rpc.
#[derive(Debug, Clone)]
pub struct Method {
    /// `CheckStock`.
    pub proto_name: String,
    /// `inventory.v1.InventoryService.CheckStock`.
    pub full_name: String,
    /// `check_stock`, after escaping and reserved-name renames.
    pub rust_name: String,
    /// Its name on the object-safe companion trait, `dyn_check_stock`.
    pub dyn_name: String,
    /// The shape of the rpc.
    pub streaming: Streaming,
    /// Rust path of the request message, relative to the package module (prost-build's).
    pub input_type: String,
    /// Rust path of the response message, relative to the package module.
    pub output_type: String,
    /// Sanitized rustdoc lines.
    pub doc: Vec<String>,
    /// `option deprecated = true` on the rpc.
    pub deprecated: bool,
    /// Whether the rpc or its request or response message is deprecated, so code naming them
    /// needs `#[allow(deprecated)]`.
    pub touches_deprecated: bool,
    /// From `idempotency_level`.
    pub idempotency: Idempotency,
    /// The request field marked `(rust_svc.v1.idempotency_key)`, if any.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The client policy: the method's own settings over the service's.
    pub policy: Policy,
    /// `google.api.http` bindings: the rule, then its additional bindings.
    pub http: Vec<HttpBinding>,
    /// Where the `google.api.http` option is, for errors found across rpcs.
    pub http_location: Location,
    /// Full proto name of the request message, e.g. `inventory.v1.CheckStockRequest`.
    pub input_proto: String,
}

/// The request field that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The field's name in prost's struct, e.g. `idempotency_key`.
    pub rust_field: String,
    /// Whether prost generates `Option<String>` (proto3 `optional`, proto2 `optional`).
    pub optional: bool,
}

/// Client policy of one rpc, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Deadline of one call.
    pub deadline: Option<Duration>,
    /// Retry settings; `None` means no retries.
    pub retry: Option<RetryPolicy>,
    /// Retry throttling of the service.
    pub retry_throttling: Option<RetryThrottling>,
    /// Circuit breaker settings.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Hedging, in place of retries.
    pub hedging: Option<HedgingPolicy>,
    /// Load shedding when serving: the service's on a service, and on a method its own
    /// (which can only turn it off for the method).
    pub load_shedding: Option<LoadShedding>,
}

/// Validated `rust_svc.v1.LoadShedding`; `None` fields take the runtime's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadShedding {
    /// `disabled: true`.
    pub disabled: bool,
    /// `initial_limit`, if set.
    pub initial_limit: Option<u32>,
    /// `min_limit`, if set.
    pub min_limit: Option<u32>,
    /// `max_limit`, if set.
    pub max_limit: Option<u32>,
    /// `tolerance`, if set.
    pub tolerance: Option<f64>,
    /// `max_queue_wait`, if set.
    pub max_queue_wait: Option<Duration>,
}

/// Validated `rust_svc.v1.HedgingPolicy`.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgingPolicy {
    /// Attempts in all, at least 1 (the client caps it at run time).
    pub max_attempts: u32,
    /// Wait before the next attempt.
    pub hedging_delay: Duration,
    /// gRPC code names after which the next attempt goes at once, upper case.
    pub non_fatal_codes: Vec<String>,
}

/// Validated `rust_svc.v1.RetryPolicy`, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts including the first, at least 1 (the client caps it at run time).
    pub max_attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of the backoff.
    pub max_backoff: Duration,
    /// Growth of the backoff per attempt, at least 1.
    pub backoff_multiplier: f64,
    /// gRPC code names that may be retried.
    pub retryable_codes: Vec<String>,
}

/// Validated `rust_svc.v1.RetryThrottling`, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryThrottling {
    /// Token bucket size.
    pub max_tokens: u32,
    /// Tokens refilled per success.
    pub token_ratio: f64,
}

/// Validated `rust_svc.v1.CircuitBreakerPolicy`, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    /// Failure rate in `(0, 1]` at which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Calls in the sliding window.
    pub sliding_window_size: u32,
    /// Calls needed before the rate is judged.
    pub minimum_calls: u32,
    /// How long the breaker stays open.
    pub open_duration: Duration,
    /// Probe calls allowed while half-open.
    pub half_open_max_calls: u32,
}

/// One REST binding of an rpc, validated against its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBinding {
    /// `GET`, `POST`…, or the custom verb.
    pub method: String,
    /// The path template, e.g. `/v1/items/{sku}/stock`; it parses.
    pub path: String,
    /// The request field bound to the body, `*`, or empty.
    pub body: String,
    /// The response field sent as the body, or empty for the whole response.
    pub response_body: String,
    /// The proto3 JSON name of `response_body`.
    pub response_body_json: String,
    /// The JSON of `response_body` when it has its default value (which pbjson omits).
    pub response_body_default: String,
    /// The body (the whole request or the `body` field) is a `google.api.HttpBody`.
    pub request_http_body: bool,
    /// The response (or its `response_body` field) is a `google.api.HttpBody`.
    pub response_http_body: bool,
    /// The field paths the template's variables bind, e.g. `sku` or `order.id`.
    pub variables: Vec<String>,
    /// `path`, parsed.
    pub template: rust_svc_http_template::PathTemplate,
    /// Full names of the earlier rpcs of the service bound to the same (method, template),
    /// which this binding shadows: the gateway serves this one there, as grpc-gateway does.
    pub shadows: Vec<String>,
}

/// Every selector of the gRPC API configuration must name an rpc of the files being generated,
/// as grpc-gateway requires: a rule for no rpc is a typo, or a file left out of the request.
fn check_selectors(
    config: &ServiceConfig,
    by_package: &BTreeMap<String, Vec<FileDescriptor>>,
) -> Result<(), Error> {
    let known: BTreeSet<String> = by_package
        .values()
        .flatten()
        .flat_map(|file| file.services().collect::<Vec<_>>())
        .flat_map(|service| {
            service
                .methods()
                .map(|method| method.full_name().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    match config
        .selectors()
        .find(|(selector, _)| !known.contains(*selector))
    {
        None => Ok(()),
        Some((selector, location)) => Err(Error::at(
            location.clone(),
            format!("rule for {selector}"),
            format!(
                "the selector names no rpc of the files being generated (a service's full \
                 name and the rpc's name: `pkg.v1.Service.Method`){}",
                near(selector, &known)
            ),
        )),
    }
}

/// `; did you mean …?` for the known rpc that differs from `selector` only in case, if any.
fn near(selector: &str, known: &BTreeSet<String>) -> String {
    known
        .iter()
        .find(|name| name.eq_ignore_ascii_case(selector))
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}

/// Rust types prost-build resolved for each rpc: service full name → `(input, output)` per method.
pub type ResolvedTypes = HashMap<String, Vec<(String, String)>>;

// Field numbers in descriptor.proto, for source locations.
const FILE_SERVICE: i32 = 6;
const SERVICE_METHOD: i32 = 2;
const SERVICE_OPTIONS: i32 = 3;
const METHOD_OPTIONS: i32 = 4;
const FIELD_OPTIONS: i32 = 8;

impl Model {
    /// Builds and validates the model of `files_to_generate`.
    pub fn build(
        pool: &DescriptorPool,
        sources: &SourceInfos,
        files_to_generate: &[String],
        message_packages: &BTreeSet<String>,
        types: &ResolvedTypes,
        stand_ins: &StandIns,
        params: &Params,
    ) -> Result<Self, Error> {
        let mut by_package: BTreeMap<String, Vec<FileDescriptor>> = BTreeMap::new();
        for name in files_to_generate {
            let file = pool.get_file_by_name(name).ok_or_else(|| {
                Error::new(format!(
                    "file to generate `{name}` is not among the request's descriptors"
                ))
            })?;
            by_package
                .entry(file.package_name().to_owned())
                .or_default()
                .push(file);
        }
        let all_packages: BTreeSet<String> = pool
            .files()
            .map(|file| file.package_name().to_owned())
            .collect();
        let service_config = match &params.grpc_api_configuration {
            Some(path) => ServiceConfig::load(path)?,
            None => ServiceConfig::default(),
        };
        check_selectors(&service_config, &by_package)?;
        let mut packages = Vec::new();
        let mut warnings = Vec::new();
        for (package_name, mut files) in by_package {
            files.sort_by(|a, b| a.name().cmp(b.name()));
            let scope = package_scope(pool, &package_name, &all_packages, stand_ins);
            let cx = BuildContext {
                pool,
                sources,
                types,
                params,
                service_config: &service_config,
            };
            let package = build_package(&cx, &package_name, &files, scope, &mut warnings)?;
            #[cfg(feature = "openapi")]
            let package = Package {
                openapi: params
                    .emits(crate::params::Artifact::OpenApi)
                    .then(|| {
                        openapi::build(
                            sources,
                            &package_name,
                            &files,
                            &package.services,
                            (params.use_proto_names, params.openapi_naming_strategy),
                            &mut warnings,
                        )
                    })
                    .flatten(),
                ..package
            };
            packages.push(package);
        }
        // Packages only reached by the generated ones' types: messages alone.
        for package_name in message_packages {
            if packages
                .iter()
                .all(|package| package.proto_name != *package_name)
            {
                packages.push(Package {
                    proto_name: package_name.clone(),
                    module: Module::from_protobuf_package_name(package_name),
                    has_types: package_has_types(pool, package_name),
                    services: Vec::new(),
                    runtime_imports: Vec::new(),
                    openapi: None,
                });
            }
        }
        packages.sort_by(|a, b| a.proto_name.cmp(&b.proto_name));
        Ok(Self { packages, warnings })
    }
}
