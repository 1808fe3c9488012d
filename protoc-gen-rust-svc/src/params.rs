//! Plugin parameters: `opt:` in buf.gen.yaml, `--rust-svc_opt=` for protoc, or the builder API.
//!
//! Parameters are comma-separated `key=value` pairs. Every key is known; an unknown key or a bad
//! value is an error, never ignored, because a typo that silently changes output is worse than a
//! failed run.
//!
//! | key | value | default |
//! | --- | --- | --- |
//! | `artifacts` | `+`-separated list of `domain`, `stub`, `server`, `client`, `fake`, `gateway`, `openapi`, `tonic_client` | all but `openapi` and `tonic_client` |
//! | `messages` | `true` or `false`: emit prost messages (turn off to pair with protoc-gen-prost) | `true` |
//! | `runtime_crate` | Rust path of the runtime crate | `::rust_svc_runtime` |
//! | `include_file` | name of the file that assembles the module tree; empty for none | `mod.rs` |
//! | `extern_path` | `.proto.path=::rust::path`, passed to prost-build; repeatable | none |

use std::collections::BTreeSet;

use crate::error::Error;

/// A per-service artifact the generator can emit (messages are switched separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Artifact {
    /// The transport-agnostic domain trait and its `Dyn…` companion.
    Domain,
    /// An implementation answering UNIMPLEMENTED for every method.
    Stub,
    /// The tonic server adapter (and tonic's wire-level server).
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
    /// The REST/JSON gateway of every service with `google.api.http` rules: a static route
    /// table and a router serving the domain trait. It needs proto3 JSON, so with it every
    /// message gets pbjson's serde impls and the well-known types become the runtime's
    /// (`rust_svc_runtime::wkt`, which have them).
    Gateway,
    /// An OpenAPI 3.1 document per proto package with http rules (`<package>.openapi.json`).
    OpenApi,
}

impl Artifact {
    /// Every artifact.
    pub const ALL: [Artifact; 8] = [
        Self::Domain,
        Self::Stub,
        Self::Server,
        Self::Client,
        Self::Fake,
        Self::TonicClient,
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

    fn name(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Stub => "stub",
            Self::Server => "server",
            Self::Client => "client",
            Self::Fake => "fake",
            Self::TonicClient => "tonic_client",
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

/// Typed, validated plugin parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for Params {
    fn default() -> Self {
        Self {
            artifacts: Artifact::DEFAULT.into_iter().collect(),
            messages: true,
            runtime_crate: "::rust_svc_runtime".to_owned(),
            include_file: Some("mod.rs".to_owned()),
            extern_paths: Vec::new(),
        }
    }
}

const KNOWN_KEYS: &str = "artifacts, messages, runtime_crate, include_file, extern_path";

impl Params {
    /// Parses the `parameter` string of a CodeGeneratorRequest.
    pub fn parse(parameter: &str) -> Result<Self, Error> {
        let mut params = Params::default();
        for entry in parameter
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                Error::new(format!(
                    "plugin parameter `{entry}` has no value: expected `key=value` (keys: {KNOWN_KEYS})"
                ))
            })?;
            let (key, value) = (key.trim(), value.trim());
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
                unknown => {
                    return Err(Error::new(format!(
                        "unknown plugin parameter `{unknown}` (known: {KNOWN_KEYS})"
                    )));
                }
            }
        }
        params.check_dependencies()?;
        Ok(params)
    }

    /// Whether an artifact is to be emitted.
    pub fn emits(&self, artifact: Artifact) -> bool {
        self.artifacts.contains(&artifact)
    }

    fn check_dependencies(&self) -> Result<(), Error> {
        for needs_domain in [
            Artifact::Stub,
            Artifact::Server,
            Artifact::Client,
            Artifact::Fake,
            Artifact::Gateway,
        ] {
            if self.emits(needs_domain) && !self.emits(Artifact::Domain) {
                return Err(Error::new(format!(
                    "artifact `{}` implements or serves the domain trait: add `domain` to `artifacts`",
                    needs_domain.name()
                )));
            }
        }
        Ok(())
    }

    /// Whether messages get proto3 JSON (serde) impls: the gateway needs them.
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
mod tests {
    use super::*;

    #[test]
    fn empty_parameter_gives_defaults() {
        assert_eq!(Params::parse("").unwrap(), Params::default());
        assert!(!Params::default().emits(Artifact::TonicClient));
    }

    #[test]
    fn tonic_client_stands_alone_or_joins_the_rest() {
        let alone = Params::parse("artifacts=tonic_client").unwrap();
        assert_eq!(
            alone.artifacts,
            [Artifact::TonicClient].into_iter().collect()
        );
        let every =
            Params::parse("artifacts=domain+stub+server+client+fake+tonic_client+gateway+openapi")
                .unwrap();
        assert_eq!(every.artifacts, Artifact::ALL.into_iter().collect());
    }

    #[test]
    fn every_key_parses() {
        let params = Params::parse(
            "artifacts=domain+server, messages=false,runtime_crate=crate::rt,include_file=lib_gen.rs,\
             extern_path=.google.type=::google_types,extern_path=.acme=crate::acme",
        )
        .unwrap();
        assert_eq!(
            params.artifacts,
            [Artifact::Domain, Artifact::Server].into_iter().collect()
        );
        assert!(!params.messages);
        assert_eq!(params.runtime_crate, "crate::rt");
        assert_eq!(params.include_file.as_deref(), Some("lib_gen.rs"));
        assert_eq!(
            params.extern_paths,
            vec![
                (".google.type".to_owned(), "::google_types".to_owned()),
                (".acme".to_owned(), "crate::acme".to_owned())
            ]
        );
        assert_eq!(Params::parse("include_file=").unwrap().include_file, None);
    }

    #[test]
    fn bad_parameters_are_errors_that_name_them() {
        let cases = [
            ("colour=blue", "unknown plugin parameter `colour`"),
            ("messages", "has no value"),
            ("messages=yes", "`messages=yes` must be `true` or `false`"),
            ("artifacts=domain+rest", "unknown artifact `rest`"),
            (
                "artifacts=gateway",
                "artifact `gateway` implements or serves",
            ),
            ("artifacts=server", "add `domain`"),
            (
                "artifacts=domain+tonic-client",
                "unknown artifact `tonic-client`",
            ),
            (
                "artifacts=fake",
                "artifact `fake` implements or serves the domain trait",
            ),
            ("runtime_crate=not a path", "is not an absolute Rust path"),
            ("runtime_crate=rt", "is not an absolute Rust path"),
            ("include_file=../x.rs", "without directories"),
            ("extern_path=google=::g", "must start with `.`"),
            ("extern_path=.google", "must be `.proto.path=::rust::path`"),
        ];
        for (parameter, expected) in cases {
            let error = Params::parse(parameter).unwrap_err().to_string();
            assert!(error.contains(expected), "{parameter}: {error}");
        }
    }
}
