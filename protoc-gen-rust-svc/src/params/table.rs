//! The one table of plugin parameters: what [`Params::parse`](super::Params::parse) accepts,
//! and what the guide's parameter reference is rendered from.

/// One plugin parameter, as [`PARAMETERS`] describes it. The texts are markdown (inline only:
/// they are table cells). Non-exhaustive, so that the table may say more in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Parameter {
    /// The key, as in `key=value`.
    pub key: &'static str,
    /// The values it accepts.
    pub value: &'static str,
    /// What it is when not given.
    pub default: &'static str,
    /// What it does.
    pub description: &'static str,
    /// The [`Builder`](crate::Builder) method(s) that set it from build.rs, e.g.
    /// ``"`Builder::artifacts`"``; empty when only [`Builder::parameter`](crate::Builder::parameter)
    /// (or [`Builder::params`](crate::Builder::params)) sets it.
    pub builder: &'static str,
    /// A value it accepts that is not its default (`key=example` parses).
    pub example: &'static str,
}

/// Every plugin parameter, in the order the reference lists them: the one table [`Params::parse`](super::Params::parse)
/// takes its keys from, and the guide's parameter reference is rendered from
/// ([`reference_markdown`](super::reference_markdown)).
pub const PARAMETERS: &[Parameter] = &[
    Parameter {
        key: "artifacts",
        value: "`+`-separated list of `domain`, `stub`, `server`, `client`, `fake`, `gateway`, \
                `openapi`, `tonic_client`, `tonic_server`",
        default: "all but `openapi`, `tonic_client` and `tonic_server`",
        description: "the per-service code to emit (the messages are switched by `messages`): \
                      `domain` (the transport-agnostic domain trait and its `Dyn…` companion), \
                      `stub` (an implementation answering `UNIMPLEMENTED` for every method), \
                      `server` (the gRPC adapter serving the domain trait as a tonic service), \
                      `client` (the client implementing the domain trait, with deadlines, \
                      retries and breaker), `fake` (a programmable, recording fake for tests), \
                      `gateway` (REST/JSON for services with http rules, and proto3 JSON impls, \
                      printed by the generator, for the messages the rpcs carry, which Connect's \
                      JSON uses too), `openapi` (an OpenAPI 3.1 document per package with http \
                      rules, `<package>.openapi.json`; a build script needs the generator's \
                      `openapi` feature), `tonic_client` (tonic's own wire-level client, without \
                      policies), `tonic_server` (tonic's own server trait and service, to \
                      implement by hand)",
        builder: "`Builder::artifacts`",
        example: "domain+server+tonic_server",
    },
    Parameter {
        key: "messages",
        value: "`true` or `false`",
        default: "`true`",
        description: "emit the prost messages (turn off to pair with protoc-gen-prost)",
        builder: "`Builder::messages`",
        example: "false",
    },
    Parameter {
        key: "runtime_crate",
        value: "an absolute Rust path: `::name` or `crate::path`",
        default: "`::rust_svc_runtime`",
        description: "the path by which generated code names the runtime crate \
                      (rust-svc-runtime), from nested modules too: hence absolute",
        builder: "",
        example: "crate::rt",
    },
    Parameter {
        key: "include_file",
        value: "a file name ending in `.rs`, without directories; empty for none",
        default: "`mod.rs`",
        description: "the file that assembles the module tree from the generated files",
        builder: "",
        example: "lib.rs",
    },
    Parameter {
        key: "extern_path",
        value: "`.proto.path=::rust::path`; repeatable",
        default: "none",
        description: "a proto package or type that is not generated but taken from the Rust path \
                      (prost-build's `extern_path`)",
        builder: "`Builder::extern_path`",
        example: ".google.type=::google_types",
    },
    Parameter {
        key: "type_attribute",
        value: "`PATH=#[attribute]`; repeatable",
        default: "none",
        description: "attributes for the messages, enums and oneofs `PATH` matches (prost-build's \
                      `type_attribute`; see below)",
        builder: "`Builder::type_attribute`",
        example: ".my.pkg.Message=#[derive(Hash)]",
    },
    Parameter {
        key: "field_attribute",
        value: "`PATH=#[attribute]`; repeatable",
        default: "none",
        description: "attributes for the fields `PATH` matches (prost-build's `field_attribute`; \
                      see below)",
        builder: "`Builder::field_attribute`",
        example: ".my.pkg.Message.name=#[doc = \"The name.\"]",
    },
    Parameter {
        key: "default_stubs",
        value: "`true` or `false`",
        default: "`false`",
        description: "every domain trait method gets a default body answering `UNIMPLEMENTED`, so \
                      that an implementation writes only the methods it serves (tonic-build's \
                      `generate_default_stubs`)",
        builder: "`Builder::default_stubs`",
        example: "true",
    },
    Parameter {
        key: "file_descriptor_set",
        value: "`true` or `false`",
        default: "`false`",
        description: "the include file gets `FILE_DESCRIPTOR_SET: &[u8]`, the encoded \
                      `FileDescriptorSet` of the generated files and all their imports with \
                      source info, for server reflection (see below; build.rs can write it to a \
                      file instead with `Builder::file_descriptor_set_path`)",
        builder: "`Builder::file_descriptor_set`",
        example: "true",
    },
    Parameter {
        key: "strict_http_rules",
        value: "`true` or `false`",
        default: "`false`",
        description: "what grpc-gateway serves but the Envoy transcoder refuses stops generation \
                      instead of warning (naming the file and line): two rpcs of a service bound \
                      to the same (HTTP method, path template), of which the gateway serves the \
                      later, as grpc-gateway v2 does; a `*` or a variable after a template's `**` \
                      (as firestore's protos have), which the gateway matches as grpc-gateway \
                      does",
        builder: "`Builder::strict_http_rules`",
        example: "true",
    },
    Parameter {
        key: "json_all_messages",
        value: "`true` or `false`",
        default: "`false`",
        description: "with the gateway, every message gets proto3 JSON impls, not only the \
                      messages and enums an rpc carries (for code of one's own that serializes \
                      the others)",
        builder: "`Builder::json_all_messages`",
        example: "true",
    },
    Parameter {
        key: "reject_unknown_fields",
        value: "`true` or `false`",
        default: "`false`",
        description: "the proto3 JSON impls refuse a field the message does not have (the gateway \
                      answers 400 naming the body's first unknown field) instead of skipping it, \
                      as grpc-gateway and the Envoy transcoder skip it by default",
        builder: "`Builder::reject_unknown_fields`",
        example: "true",
    },
    Parameter {
        key: "emit_unpopulated",
        value: "`true` or `false`",
        default: "`false`",
        description: "the proto3 JSON impls write every field, those at their default value too \
                      (`0`, `\"\"`, `[]`, `{}`; an unset message field or proto2 `optional` field \
                      as `null`; an unset oneof or proto3 `optional` field still left out), as \
                      grpc-gateway's default marshaler (protojson's `EmitUnpopulated`) writes \
                      responses; by default they are left out, as proto3 JSON and the Envoy \
                      transcoder leave them out",
        builder: "`Builder::emit_unpopulated`",
        example: "true",
    },
    Parameter {
        key: "grpc_api_configuration",
        value: "the path of a `google.api.Service` YAML file, relative to the working directory",
        default: "none",
        description: "its `http.rules` give rpcs routes, before those of their `google.api.http` \
                      annotations, as grpc-gateway's option of the same name and the Envoy \
                      transcoder's service config read it; every selector must name an rpc being \
                      generated",
        builder: "`Builder::grpc_api_configuration`",
        example: "api/service.yaml",
    },
    Parameter {
        key: "use_proto_names",
        value: "`true` or `false`",
        default: "`false`",
        description: "the proto3 JSON impls write fields under their proto names \
                      (`display_name`), as protojson's `UseProtoNames` (a grpc-gateway marshaler \
                      option) does; `response_body` and the OpenAPI schemas follow, and reading \
                      takes either name either way",
        builder: "`Builder::use_proto_names`",
        example: "true",
    },
    Parameter {
        key: "use_enum_numbers",
        value: "`true` or `false`",
        default: "`false`",
        description: "the proto3 JSON impls write enum values as their numbers (`2`), as \
                      protojson's `UseEnumNumbers` (a grpc-gateway marshaler option; \
                      `EnumsAsInts` in its first version) does; reading takes names and numbers \
                      either way, `google.protobuf.NullValue` is still `null`, and the OpenAPI \
                      schema of an enum admits both forms either way",
        builder: "`Builder::use_enum_numbers`",
        example: "true",
    },
    Parameter {
        key: "allow_delete_body",
        value: "`true` or `false`",
        default: "`false`",
        description: "a `delete` rule may have a `body` (read as a POST's is), as grpc-gateway's \
                      option of that name allows; by default it stops generation naming \
                      file:line",
        builder: "`Builder::allow_delete_body`",
        example: "true",
    },
    Parameter {
        key: "generate_unbound_methods",
        value: "`true` or `false`",
        default: "`false`",
        description: "an rpc without an HTTP rule (annotation or `grpc_api_configuration`) is \
                      routed as `post` on its gRPC path (`/pkg.v1.Service/Method`) with the whole \
                      request as the JSON body, as grpc-gateway's option of that name routes it; \
                      served there beside gRPC and Connect, which the gateway tells apart",
        builder: "`Builder::generate_unbound_methods`",
        example: "true",
    },
    Parameter {
        key: "openapi_naming_strategy",
        value: "`fqn`, `legacy`, `simple` or `package`",
        default: "`fqn` (`inventory.v1.Item`)",
        description: "how the OpenAPI document names its schemas, as protoc-gen-openapiv2's \
                      strategies of those names do (`legacy`, its default: `v1Item`, \
                      `rpcStatus`; `simple`: `Item`; `package`: as `simple`, a nested type's \
                      path kept whole), so that clients generated from a grpc-gateway team's \
                      documents keep their type names; told apart among every message and enum \
                      of the request, imports included, as protoc-gen-openapiv2 does (two that \
                      would still meet keep their full names)",
        builder: "`Builder::openapi_naming_strategy`",
        example: "legacy",
    },
    Parameter {
        key: "wildcards_after_double_wildcard",
        value: "`true` or `false`",
        default: "`false`",
        description: "deprecated, no effect (still accepted so that no build breaks): a `*` or a \
                      variable after `**` is served by default, with a warning, and refused with \
                      `strict_http_rules`",
        builder: "`Builder::wildcards_after_double_wildcard`",
        example: "true",
    },
];
