//! `protoc-gen-rust-svc new`: a service crate from a `.proto`, rendered from templates; and
//! `check`: how a scaffolded crate's handlers compare with its protos today.
//!
//! Scaffolded files are the user's: they are written once. Generated code is not among them (it
//! is rewritten from the protos on every build, or by `buf generate`), so regenerating never
//! touches a line the user wrote. The manifest (`.rust-svc-scaffold.json`) records each file
//! written with its SHA-256, so that `new --force` can tell a file the user changed from one
//! they did not, and `check` knows the protos and services of the crate.

pub mod check;
pub mod context;
mod manifest;
pub mod sources;
pub mod templates;
mod vendor;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::Builder;
use crate::error::Error;
use crate::model::Model;
use crate::params::Artifact;
use context::{ClientContext, Project, ServiceContext};
pub use manifest::{MANIFEST, Manifest, ScaffoldedService};
use sources::Origin;
use templates::{Overrides, render_all_with};

/// What `new` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct NewOptions {
    /// The crate name.
    pub name: String,
    /// The `.proto` files to generate and implement.
    pub protos: Vec<PathBuf>,
    /// Where imports are looked up (protoc's `-I`); the current directory when empty.
    pub includes: Vec<PathBuf>,
    /// The services to implement (`pkg.Service`); every service not called as a client when
    /// empty.
    pub services: Vec<String>,
    /// Services the implementations call through generated clients.
    pub clients: Vec<String>,
    /// The crate's directory; `./NAME` when `None`.
    pub out: Option<PathBuf>,
    /// Where the runtime and generator crates come from (see [`sources`]): a version
    /// (`0.6.0`, crates.io), `git=URL[,rev=R|,tag=T|,branch=B]`, `vendor` or
    /// `vendor=CHECKOUT` (copies inside the crate, `--vendor-runtime`), or the path of a
    /// checkout's runtime crate (the generator is then its sibling `protoc-gen-rust-svc`
    /// directory). `None`: crates.io once this version is published there, copies of the
    /// checkout this generator was built from until then.
    pub runtime: Option<String>,
    /// Generate with `buf generate` into src/generated instead of build.rs.
    pub buf: bool,
    /// Write into a directory that is not empty (never over a file the user changed).
    pub force: bool,
    /// Files (crate-relative paths) to overwrite even though the user changed them.
    pub overwrite: Vec<String>,
    /// A directory of templates overriding the built-in ones file by file.
    pub templates: Option<PathBuf>,
    /// Plugin parameters for the crate's generated code (`allow_delete_body=true`), as
    /// `generate --opt` takes them: used to read the protos now, and
    /// written into build.rs (or buf.gen.yaml) and the manifest, which `check` reads.
    pub parameters: Vec<String>,
}

/// What `new` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewReport {
    /// The crate's directory.
    pub dir: PathBuf,
    /// Files written (crate-relative).
    pub written: Vec<String>,
    /// Files left as they were because the user changed them, crate-relative.
    pub kept: Vec<String>,
}

/// Names Cargo refuses for a package, or that would shadow a crate every Rust crate sees.
const RESERVED_CRATE_NAMES: &[&str] = &[
    "alloc",
    "core",
    "proc-macro",
    "proc_macro",
    "std",
    "test",
    "build",
    "deps",
    "examples",
];

/// The port a scaffolded service listens on by default.
const DEFAULT_PORT: u16 = 50051;

/// Checks a crate name as Cargo does, with an error saying what is wrong with it.
pub fn validate_crate_name(name: &str) -> Result<(), Error> {
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(format!(
            "{bad:?} is not allowed (letters, digits, `-` and `_` only)"
        ))
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit".to_owned())
    } else if RESERVED_CRATE_NAMES.contains(&name) {
        Some("Cargo reserves it".to_owned())
    } else if crate::names::escape(&name.replace('-', "_")) != name.replace('-', "_") {
        Some("it is a Rust keyword".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::new(format!(
            "invalid crate name {name:?}: {problem}"
        ))),
        None => Ok(()),
    }
}

/// Scaffolds a crate as `options` say.
pub fn new_crate(options: &NewOptions) -> Result<NewReport, Error> {
    validate_crate_name(&options.name)?;
    if options.protos.is_empty() {
        return Err(Error::new("--proto: give the .proto file to scaffold from"));
    }
    let includes = if options.includes.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        options.includes.clone()
    };
    let builder = includes
        .iter()
        .fold(Builder::new(), |builder, dir| builder.include(dir))
        .files(options.protos.iter().cloned());
    let input = builder.input()?;
    let model = crate::model(input.clone(), &parameters(&options.parameters)?)?;
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(&options.name));
    let overrides = match &options.templates {
        Some(dir) => Overrides::load(dir)?,
        None => Overrides::none(),
    };
    let origin = Origin::parse(options.runtime.as_deref())?;
    let (project, scaffolded) = project(options, &model, &input.files_to_generate, &origin)?;
    let mut files = render_all_with(&project, &origin.sources(), &overrides)?;
    for file in &mut files {
        if file.path.ends_with(".rs") {
            file.text = rustfmt(&file.text).unwrap_or_else(|| file.text.clone());
        }
    }
    // The protos come along, so that the crate builds (and its image) on its own.
    for name in proto_files_to_copy(&input) {
        let source = includes
            .iter()
            .map(|dir| dir.join(&name))
            .find(|path| path.is_file());
        // Not on disk: a well-known type, which the compilers carry.
        let Some(source) = source else { continue };
        let text = std::fs::read_to_string(&source)
            .map_err(|error| Error::new(format!("cannot read {}: {error}", source.display())))?;
        files.push(templates::Rendered {
            path: format!("proto/{name}"),
            text,
        });
    }
    let manifest = Manifest {
        generator: env!("CARGO_PKG_VERSION").to_owned(),
        protos: project.protos.clone(),
        includes: vec!["proto".to_owned()],
        services: scaffolded,
        files: Default::default(),
        parameters: options.parameters.clone(),
    };
    let mut report = manifest::write_crate(&dir, files, manifest, options)?;
    if let Origin::Vendor(checkout) = &origin {
        report.written.extend(vendor::vendor(checkout, &dir)?);
    }
    Ok(report)
}

/// The files of `input` to copy into proto/: the files to generate and every import.
fn proto_files_to_copy(input: &crate::Input) -> Vec<String> {
    let mut names = BTreeSet::new();
    for bytes in &input.proto_files {
        if let Ok(split) = crate::request::split_source_code_info(bytes) {
            names.insert(split.name);
        }
    }
    names.into_iter().collect()
}

/// The template context of `options` over `model`, and the services the manifest records.
fn project(
    options: &NewOptions,
    model: &Model,
    files_to_generate: &[String],
    origin: &Origin,
) -> Result<(Project, Vec<ScaffoldedService>), Error> {
    let all: Vec<_> = context::services(model).collect();
    if all.is_empty() {
        let files: Vec<String> = options
            .protos
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        return Err(Error::new(format!(
            "{} defines no service: a scaffold implements services, so add one (`service Foo {{ rpc … }}`)",
            files.join(", ")
        )));
    }
    let available = || {
        all.iter()
            .map(|(_, service)| service.full_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |flag: &str, name: &str| {
        all.iter()
            .find(|(_, service)| service.full_name == name)
            .copied()
            .ok_or_else(|| {
                Error::new(format!(
                    "{flag} {name}: no such service in the protos given; they define {}",
                    available()
                ))
            })
    };
    let clients = options
        .clients
        .iter()
        .enumerate()
        .map(|(index, name)| {
            find("--client", name)
                .map(|(package, service)| ClientContext::new(package, service, index))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chosen: Vec<_> = if options.services.is_empty() {
        all.iter()
            .filter(|(_, service)| !options.clients.contains(&service.full_name))
            .copied()
            .collect()
    } else {
        options
            .services
            .iter()
            .map(|name| find("--service", name))
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(Error::new(format!(
            "no service left to implement: every service is a --client ({})",
            available()
        )));
    }
    let params = parameters(&options.parameters)?;
    let runtime_features = runtime_features(&params, !clients.is_empty())?;
    let mut services: Vec<ServiceContext> = Vec::new();
    for (package, service) in chosen {
        let calls = clients
            .iter()
            .filter(|client| client.full_name != service.full_name)
            .cloned()
            .collect();
        let mut context = ServiceContext::new(package, service, calls);
        if !params.emits(Artifact::Gateway) {
            // Rules, but no gateway generated to serve them.
            context.has_gateway = false;
            context.gateway.clear();
        }
        // Two services may want one file name (`v1.Inventory` and `v2.Inventory`).
        while services.iter().any(|other| other.file == context.file) {
            context.file.push('_');
            context.struct_name.push('_');
        }
        services.push(context);
    }
    let scaffolded = services
        .iter()
        .map(|service| ScaffoldedService {
            service: service.full_name.clone(),
            file: format!("src/{}.rs", service.file),
            implementation: service.struct_name.clone(),
        })
        .collect();
    let (runtime_source, generator_source) = (origin.runtime_source(), origin.generator_source());
    let has_gateway = services.iter().any(|service| service.has_gateway);
    let project = Project {
        name: options.name.clone(),
        lib: options.name.replace('-', "_"),
        generator_version: env!("CARGO_PKG_VERSION").to_owned(),
        runtime_source,
        generator_source,
        buf: options.buf,
        protos: files_to_generate.to_vec(),
        has_clients: !clients.is_empty(),
        clients,
        services,
        has_gateway,
        runtime_features,
        generator_features: params
            .emits(Artifact::OpenApi)
            .then(|| "openapi".to_owned())
            .into_iter()
            .collect(),
        port: DEFAULT_PORT,
        parameters: options
            .parameters
            .iter()
            .flat_map(|parameter| parameter.split(','))
            .filter(|parameter| !parameter.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    Ok((project, scaffolded))
}

/// The features of the runtime a scaffold turns on (its `default-features = false`): the
/// parts its artifacts use, and what its port serves beside gRPC (Connect, gRPC-Web, gzip).
/// zstd (a C library, 6 % of a cold build) is left out, and TLS is the crate's own feature.
/// A scaffold serves its services (`server`), tests them through their clients over the
/// harness (`client`) and, calling other services, with their fakes (`fake`): `artifacts`
/// without them is refused here, not with a crate that does not build.
fn runtime_features(params: &crate::Params, has_clients: bool) -> Result<Vec<String>, Error> {
    // (The domain trait, which these need, the parameters' own check asks for.)
    let mut needed = vec![Artifact::Server, Artifact::Client];
    if has_clients {
        needed.push(Artifact::Fake);
    }
    if let Some(missing) = needed.iter().find(|artifact| !params.emits(**artifact)) {
        return Err(Error::new(format!(
            "--opt artifacts=…: a scaffold needs `{}` (it serves its services with \
             `server`, its tests call them with `client`, and fake what they call with \
             `fake`); add it, or generate without `new`",
            missing.name()
        )));
    }
    let mut features = vec!["server", "client"];
    if params.emits(Artifact::Fake) {
        features.push("fake");
    }
    if params.emits(Artifact::Gateway) {
        features.push("gateway");
    }
    features.extend(["host", "connect", "grpc-web", "gzip"]);
    Ok(features.into_iter().map(str::to_owned).collect())
}

/// The plugin parameters `new` was given (repeated ones add up, as `generate --opt`'s do), as
/// the generator reads them.
pub(crate) fn parameters(parameters: &[String]) -> Result<crate::Params, Error> {
    if parameters.is_empty() {
        return Ok(crate::Params::default());
    }
    crate::Params::parse(&parameters.join(","))
        .map_err(|error| Error::new(format!("--opt: {error}")))
}

/// `text` formatted by rustfmt (edition 2024), when rustfmt is installed and the text parses.
fn rustfmt(text: &str) -> Option<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    /// The project of the orders example, calling inventory and dispatch.
    pub fn example_project() -> Project {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let options = NewOptions {
            name: "orders-svc".to_owned(),
            protos: ["orders", "inventory", "dispatch"]
                .map(|name| root.join(format!("proto/{name}/v1/{name}.proto")))
                .to_vec(),
            includes: vec![root.join("proto")],
            clients: vec![
                "inventory.v1.InventoryService".to_owned(),
                "dispatch.v1.DispatchService".to_owned(),
            ],
            ..Default::default()
        };
        let builder = options
            .includes
            .iter()
            .fold(Builder::new(), |builder, dir| builder.include(dir))
            .files(options.protos.iter().cloned());
        let input = builder.input().unwrap();
        let model = crate::model(input.clone(), &crate::Params::default()).unwrap();
        let origin = Origin::parse(Some("0.6.0")).unwrap();
        project(&options, &model, &input.files_to_generate, &origin)
            .unwrap()
            .0
    }

    /// What the templates are told of each origin of the runtime.
    pub fn example_sources() -> Vec<context::Sources> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        [
            "0.6.0".to_owned(),
            "git=https://example.com/protoc-gen-rust-svc.git,rev=0a1b2c".to_owned(),
            format!("vendor={}", root.display()),
            root.join("runtime").display().to_string(),
        ]
        .iter()
        .map(|spec| Origin::parse(Some(spec)).unwrap().sources())
        .collect()
    }

    /// The project `new` makes of one proto file, written from `source`.
    fn project_of(source: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let proto = dir.path().join("scaffolded.proto");
        std::fs::write(&proto, source).unwrap();
        let options = NewOptions {
            name: "scaffolded-svc".to_owned(),
            protos: vec![proto.clone()],
            includes: vec![dir.path().to_owned()],
            ..Default::default()
        };
        let input = Builder::new()
            .include(dir.path())
            .file(&proto)
            .input()
            .unwrap();
        let model = crate::model(input.clone(), &crate::Params::default()).unwrap();
        let origin = Origin::parse(Some("0.6.0")).unwrap();
        project(&options, &model, &input.files_to_generate, &origin)
            .unwrap()
            .0
    }

    #[test]
    fn a_service_or_rpc_named_with_a_keyword_gets_names_a_crate_can_have() {
        // aiplatform's `MatchService` and compute's `rpc Move`: `match` can name neither a
        // file nor a test target, so the module is `match_service`; the handler is `r#move`.
        let project = project_of(
            "syntax = \"proto3\";\npackage kw.v1;\nmessage M {}\n\
             service MatchService { rpc Move(M) returns (M); }\n",
        );
        let service = &project.services[0];
        assert_eq!(service.file, "match_service");
        assert_eq!(service.methods[0].rust_name, "r#move");
        assert_eq!(service.methods[0].plain_name, "move");
    }

    #[test]
    fn plugin_parameters_reach_the_model_build_rs_and_check() {
        // A DELETE with a body needs `allow_delete_body=true`, which `new --opt` passes on.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        let protos = dir.path().join("protos");
        std::fs::create_dir(&protos).unwrap();
        let proto = protos.join("docs.proto");
        std::fs::write(
            &proto,
            "syntax = \"proto3\";\npackage docs.v1;\nimport \"google/api/annotations.proto\";\n\
             message DeleteRequest { string name = 1; string etag = 2; }\n\
             message DeleteResponse {}\n\
             service Documents {\n  rpc Delete(DeleteRequest) returns (DeleteResponse) {\n    \
             option (google.api.http) = { delete: \"/v1/{name=docs/*}\" body: \"*\" };\n  }\n}\n",
        )
        .unwrap();
        let options = |parameters: Vec<String>| NewOptions {
            name: "docs-svc".to_owned(),
            protos: vec![proto.clone()],
            includes: vec![protos.clone(), root.join("proto")],
            out: Some(dir.path().join("docs-svc")),
            parameters,
            ..Default::default()
        };
        let refused = new_crate(&options(Vec::new())).unwrap_err().to_string();
        assert!(refused.contains("allow_delete_body=true"), "{refused}");
        new_crate(&options(vec!["allow_delete_body=true".to_owned()])).unwrap();
        let build = std::fs::read_to_string(dir.path().join("docs-svc/build.rs")).unwrap();
        assert!(
            build.contains(".parameter(\"allow_delete_body=true\")?"),
            "{build}"
        );
        let report = check::check_crate(&dir.path().join("docs-svc")).unwrap();
        assert_eq!(report.findings, [], "check reads the parameters back");
    }

    #[test]
    fn deprecated_and_empty_services_allow_and_import_only_what_they_use() {
        // datacatalog's deprecated services, and sql's SqlRegions with no rpc: what the crate's
        // CI runs under `clippy -D warnings` allows what it must and imports only what it uses.
        let project = project_of(
            "syntax = \"proto3\";\npackage old.v1;\nmessage M {}\n\
             service Old {\n  option deprecated = true;\n  rpc Get(M) returns (M);\n}\n\
             service Current {\n  rpc Get(M) returns (M) { option deprecated = true; }\n}\n\
             service Empty {}\n",
        );
        let files = render_all_with(&project, &example_sources()[0], &Overrides::none()).unwrap();
        let file = |path: &str| {
            files
                .iter()
                .find(|file| file.path == path)
                .unwrap_or_else(|| panic!("{path}"))
                .text
                .clone()
        };
        let old = file("src/old.rs");
        assert!(old.contains("#[allow(deprecated)]\nimpl pb::"), "{old}");
        assert_eq!(
            file("tests/old.rs").matches("#[allow(deprecated)]").count(),
            3
        );
        assert!(!file("src/current.rs").contains("#[allow(deprecated)]"));
        assert_eq!(
            file("tests/current.rs")
                .matches("#[allow(deprecated)]")
                .count(),
            2
        );
        assert!(!file("src/empty.rs").contains("use rust_svc_runtime"));
        assert!(!file("tests/empty.rs").contains("use rust_svc_runtime"));
    }

    #[test]
    fn crate_names_are_checked_as_cargo_does() {
        for good in ["orders", "orders-svc", "orders_svc", "a1"] {
            validate_crate_name(good).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("1orders", "digit"),
            ("orders svc", "not allowed"),
            ("orders.svc", "not allowed"),
            ("test", "reserves"),
            ("std", "reserves"),
            ("fn", "keyword"),
        ] {
            let error = validate_crate_name(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }

    #[test]
    fn services_default_to_those_not_called() {
        let project = example_project();
        let names: Vec<&str> = project
            .services
            .iter()
            .map(|service| service.full_name.as_str())
            .collect();
        assert_eq!(names, ["orders.v1.OrderService"]);
        let fields: Vec<&str> = project.services[0]
            .clients
            .iter()
            .map(|client| client.field.as_str())
            .collect();
        assert_eq!(fields, ["inventory", "dispatch"]);
        assert_eq!(project.clients[1].flag, "dispatch-url");
        assert_eq!(project.clients[1].env, "DISPATCH_URL");
    }
}
