//! Building the model of one package from its descriptors: its services, their rpcs, and
//! where in the proto files each came from, for errors that name `file:line`.

use prost_build::Module;
use prost_reflect::{DescriptorPool, FileDescriptor, MethodDescriptor, ServiceDescriptor};
use prost_types::method_options::IdempotencyLevel;

use super::package::package_has_types;
use super::policy::{
    check_own_retry, idempotency_key_field, validate_method_policy, validate_service_policy,
};
use super::service_config::ServiceConfig;
use super::{
    FILE_SERVICE, Idempotency, METHOD_OPTIONS, Method, Package, Policy, ResolvedTypes,
    SERVICE_METHOD, SERVICE_OPTIONS, Service, Streaming, http,
};
use crate::comments::SourceInfos;
use crate::error::{Error, Location, Warning};
use crate::names::{self, Scope, ServiceNames};
use crate::options::{self, HttpRule};
use crate::params::{Artifact, Params};

/// What building a package reads.
pub(super) struct BuildContext<'a> {
    pub(super) pool: &'a DescriptorPool,
    pub(super) sources: &'a SourceInfos,
    pub(super) types: &'a ResolvedTypes,
    pub(super) params: &'a Params,
    /// The HTTP rules of the `grpc_api_configuration` file (none without one).
    pub(super) service_config: &'a ServiceConfig,
}

pub(super) fn build_package(
    cx: &BuildContext<'_>,
    package_name: &str,
    files: &[FileDescriptor],
    mut scope: Scope,
    warnings: &mut Vec<Warning>,
) -> Result<Package, Error> {
    let mut services = Vec::new();
    for file in files {
        for service in file.services() {
            services.push(build_service(cx, file, &service, &mut scope, warnings)?);
        }
    }
    let runtime_imports = names::runtime_imports(&mut scope);
    Ok(Package {
        proto_name: package_name.to_owned(),
        module: Module::from_protobuf_package_name(package_name),
        // The package's other files count: prost-build writes them all into its module.
        has_types: package_has_types(cx.pool, package_name),
        services,
        runtime_imports,
        openapi: None,
    })
}

fn location(sources: &SourceInfos, file: &FileDescriptor, path: &[i32]) -> Location {
    let (_, line) = sources.find(file.name(), path);
    Location {
        file: file.name().to_owned(),
        line,
    }
}

/// The location of an option if the source info has it, else of its element.
pub(super) fn option_location(
    sources: &SourceInfos,
    file: &FileDescriptor,
    element: &[i32],
    options_field: i32,
    number: Option<u32>,
) -> Location {
    if let Some(number) = number {
        let mut path = element.to_vec();
        path.extend([options_field, number as i32]);
        let precise = location(sources, file, &path);
        if precise.line.is_some() {
            return precise;
        }
    }
    location(sources, file, element)
}

fn build_service(
    cx: &BuildContext<'_>,
    file: &FileDescriptor,
    service: &ServiceDescriptor,
    scope: &mut Scope,
    warnings: &mut Vec<Warning>,
) -> Result<Service, Error> {
    let (pool, sources, types) = (cx.pool, cx.sources, cx.types);
    let element = format!("service {}", service.full_name());
    let (comments, _) = sources.find(file.name(), service.path());
    let service_policy = options::read_message::<options::ServicePolicy>(
        pool,
        &service.options(),
        options::SERVICE_POLICY,
    )
    .and_then(|policy| policy.map(|p| validate_service_policy(&p)).transpose())
    .map_err(|message| {
        let number = options::extension_number(pool, options::SERVICE_POLICY);
        Error::at(
            option_location(sources, file, service.path(), SERVICE_OPTIONS, number),
            &element,
            message,
        )
    })?
    .unwrap_or_default();

    let resolved = types.get(service.full_name()).ok_or_else(|| {
        Error::new(format!(
            "internal error: prost-build resolved no types for {}",
            service.full_name()
        ))
    })?;
    let proto_names: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
    let rust_names = names::method_names(proto_names.iter().map(String::as_str));
    let dyn_names = names::dyn_method_names(&rust_names);
    let mut methods = Vec::new();
    for (index, method) in service.methods().enumerate() {
        let (input_type, output_type) = resolved.get(index).cloned().ok_or_else(|| {
            Error::new(format!(
                "internal error: prost-build resolved no types for {}",
                method.full_name()
            ))
        })?;
        methods.push(build_method(
            cx,
            file,
            &method,
            &service_policy,
            (rust_names[index].clone(), dyn_names[index].clone()),
            (input_type, output_type),
            warnings,
        )?);
    }
    http::resolve_shared_routes(&mut methods, cx.params.strict_http_rules, warnings)?;
    let routed_inputs: Vec<_> = service
        .methods()
        .zip(&methods)
        .filter(|(_, method)| !method.http.is_empty())
        .map(|(descriptor, _)| descriptor.input())
        .collect();
    Ok(Service {
        proto_name: service.name().to_owned(),
        full_name: service.full_name().to_owned(),
        names: ServiceNames::assign(service.name(), scope),
        doc: comments.rustdoc(),
        deprecated: service
            .service_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| o.deprecated()),
        methods,
        retry_throttling: service_policy.retry_throttling,
        load_shedding: service_policy.load_shedding,
        schemas: http::schemas(&routed_inputs),
    })
}

fn build_method(
    cx: &BuildContext<'_>,
    file: &FileDescriptor,
    method: &MethodDescriptor,
    service_policy: &Policy,
    (rust_name, dyn_name): (String, String),
    (input_type, output_type): (String, String),
    warnings: &mut Vec<Warning>,
) -> Result<Method, Error> {
    let (pool, sources) = (cx.pool, cx.sources);
    let element = format!("rpc {}", method.full_name());
    let path = method.path().to_vec();
    debug_assert_eq!(path.first(), Some(&FILE_SERVICE));
    debug_assert_eq!(path.get(2), Some(&SERVICE_METHOD));
    let (comments, _) = sources.find(file.name(), &path);
    let raw_options = method
        .method_descriptor_proto()
        .options
        .clone()
        .unwrap_or_default();
    let options = method.options();

    let policy_location = || {
        let number = options::extension_number(pool, options::METHOD_POLICY);
        option_location(sources, file, &path, METHOD_OPTIONS, number)
    };
    let method_policy =
        options::read_message::<options::MethodPolicy>(pool, &options, options::METHOD_POLICY)
            .and_then(|policy| policy.map(|p| validate_method_policy(&p)).transpose())
            .map_err(|message| Error::at(policy_location(), &element, message))?;
    let own_retry = method_policy
        .as_ref()
        .is_some_and(|own| own.retry.is_some());
    let own_hedging = method_policy
        .as_ref()
        .is_some_and(|own| own.hedging.is_some());
    let policy = match method_policy {
        None => Policy {
            load_shedding: None,
            ..service_policy.clone()
        },
        Some(own) => Policy {
            deadline: own.deadline.or(service_policy.deadline),
            // A method's own retry or hedging replaces whichever the service set.
            retry: match (&own.retry, &own.hedging) {
                (Some(_), _) => own.retry.clone(),
                (None, Some(_)) => None,
                (None, None) => service_policy.retry.clone(),
            },
            hedging: match (&own.retry, &own.hedging) {
                (_, Some(_)) => own.hedging.clone(),
                (Some(_), None) => None,
                (None, None) => service_policy.hedging.clone(),
            },
            retry_throttling: service_policy.retry_throttling.clone(),
            circuit_breaker: own
                .circuit_breaker
                .or_else(|| service_policy.circuit_breaker.clone()),
            // The method's own only: the service's is the service's to carry.
            load_shedding: own.load_shedding,
        },
    };

    for rust_type in [&input_type, &output_type] {
        if syn::parse_str::<syn::Type>(rust_type).is_err() {
            return Err(Error::at(
                location(sources, file, &path),
                &element,
                format!(
                    "internal error: prost-build resolved the type `{rust_type}`, which is not a Rust type"
                ),
            ));
        }
    }
    let idempotency_key = idempotency_key_field(pool, sources, method)?;
    let streaming = match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => Streaming::Unary,
        (false, true) => Streaming::Server,
        (true, false) => Streaming::Client,
        (true, true) => Streaming::Bidi,
    };
    let idempotency = match raw_options.idempotency_level() {
        IdempotencyLevel::IdempotencyUnknown => Idempotency::Unknown,
        IdempotencyLevel::NoSideEffects => Idempotency::NoSideEffects,
        IdempotencyLevel::Idempotent => Idempotency::Idempotent,
    };
    for (own, what) in [(own_retry, "retry"), (own_hedging, "hedging")] {
        if own {
            let (key, request) = (idempotency_key.is_some(), method.input());
            check_own_retry(what, streaming, idempotency, key, request.full_name())
                .map_err(|message| Error::at(policy_location(), &element, message))?;
        }
    }
    let http_number = options::extension_number(pool, options::HTTP);
    let annotation_location = option_location(sources, file, &path, METHOD_OPTIONS, http_number);
    // The rules of the gRPC API configuration first, then the annotation's, as grpc-gateway
    // takes them; each checked where it is written.
    let external = cx.service_config.rules_for(method.full_name());
    let annotation = options::read_message::<HttpRule>(pool, &options, options::HTTP)
        .map_err(|message| Error::at(annotation_location.clone(), &element, message))?;
    let http_location = match (&annotation, external.first()) {
        (None, Some((_, location))) => location.clone(),
        _ => annotation_location.clone(),
    };
    // An rpc no rule routes gets `post` on its own gRPC path with the request as the body, as
    // grpc-gateway's `generate_unbound_methods` routes it (served there beside gRPC and
    // Connect, which the gateway tells apart).
    let unbound = (cx.params.generate_unbound_methods
        && annotation.is_none()
        && external.is_empty())
    .then(|| HttpRule {
        selector: String::new(),
        pattern: Some(options::HttpPattern::Post(format!(
            "/{}/{}",
            method.parent_service().full_name(),
            method.name()
        ))),
        body: "*".to_owned(),
        response_body: String::new(),
        additional_bindings: Vec::new(),
    });
    let rules = external
        .iter()
        .map(|(rule, location)| (rule, location))
        .chain(annotation.as_ref().map(|rule| (rule, &annotation_location)))
        .chain(unbound.as_ref().map(|rule| (rule, &annotation_location)));
    // Only what serves or describes the routes has to follow Envoy's template rule, or any
    // rule: without them a rule the gateway could not serve is a warning, and the rpc is
    // generated without its bindings (a gRPC-only build of a grpc-gateway proto).
    let routed = cx.params.emits(Artifact::Gateway) || cx.params.emits(Artifact::OpenApi);
    let leniency = http::Leniency {
        tails: !cx.params.strict_http_rules || !routed,
        delete_body: cx.params.allow_delete_body || !routed,
    };
    let mut http = Vec::new();
    let mut notes = Vec::new();
    for (rule, location) in rules {
        let bound = http::bindings(
            rule,
            &method.input(),
            &method.output(),
            streaming,
            leniency,
            &mut notes,
        );
        if routed {
            for note in notes.drain(..) {
                warnings.push(Warning::at(location.clone(), &element, note));
            }
        }
        notes.clear();
        match bound {
            Ok(bindings) => http.extend(bindings),
            Err(message) if !routed => {
                warnings.push(Warning::at(
                    location.clone(),
                    &element,
                    format!(
                        "{message}; the rpc is generated without these HTTP bindings (no \
                         gateway or OpenAPI artifact reads them)"
                    ),
                ));
            }
            Err(message) => return Err(Error::at(location.clone(), &element, message)),
        }
    }
    // With proto names in the JSON, a `response_body` path is found by them: as written.
    if cx.params.use_proto_names {
        for binding in &mut http {
            binding
                .response_body_json
                .clone_from(&binding.response_body);
        }
    }
    let message_deprecated = |message: prost_reflect::MessageDescriptor| {
        message
            .descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| o.deprecated())
    };
    let deprecated = raw_options.deprecated();
    Ok(Method {
        proto_name: method.name().to_owned(),
        full_name: method.full_name().to_owned(),
        rust_name,
        dyn_name,
        streaming,
        input_type,
        output_type,
        doc: comments.rustdoc(),
        deprecated,
        touches_deprecated: deprecated
            || message_deprecated(method.input())
            || message_deprecated(method.output()),
        idempotency,
        idempotency_key,
        policy,
        http,
        http_location,
        input_proto: method.input().full_name().to_owned(),
    })
}
