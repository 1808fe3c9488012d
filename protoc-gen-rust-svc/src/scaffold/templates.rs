//! The built-in templates (askama, compiled in from templates/crate) and the user's overrides
//! (`new --templates DIR`, rendered by minijinja from the same context).
//!
//! The built-in templates keep to the syntax both engines share (no `not`, no `!`, no method
//! calls, no filters), so that a user can copy one into their directory and edit it; a test
//! renders every one with both engines and compares.

use std::path::{Path, PathBuf};

use askama::Template;
use serde::Serialize;

use super::context::{Project, ServiceContext, Sources};
use crate::error::Error;

/// One built-in template.
pub struct Builtin {
    /// Its path under templates/crate, which is also the file it renders (per-service ones are
    /// renamed after the service: `src/service.rs` becomes `src/inventory.rs`).
    pub name: &'static str,
    /// Whether it renders once per service.
    pub per_service: bool,
    /// Its text, for the tests and for users who start an override from it.
    pub source: &'static str,
    render: fn(&Project, &Sources, Option<&ServiceContext>) -> askama::Result<String>,
    /// Whether the project gets this file.
    wanted: fn(&Project) -> bool,
}

macro_rules! templates {
    ($($name:literal at $path:literal => $ty:ident, $per_service:literal, $wanted:expr;)*) => {
        $(
            #[derive(Template)]
            #[template(path = $path, escape = "none")]
            // Not every template reads both.
            #[allow(dead_code)]
            struct $ty<'a> {
                project: &'a Project,
                sources: &'a Sources,
                service: &'a ServiceContext,
            }
        )*

        /// Every built-in template, in the order files are written.
        pub static BUILTINS: &[Builtin] = &[$(
            Builtin {
                name: $name,
                per_service: $per_service,
                source: include_str!(concat!("../../templates/", $path)),
                render: |project, sources, service| {
                    $ty {
                        project,
                        sources,
                        service: service.unwrap_or(&project.services[0]),
                    }
                    .render()
                },
                wanted: $wanted,
            },
        )*];
    };
}

templates! {
    "Cargo.toml" at "crate/Cargo.toml.in" => CargoToml, false, |_| true;
    "build.rs" at "crate/build.rs" => BuildRs, false, |project| !project.buf;
    "buf.yaml" at "crate/buf.yaml" => BufYaml, false, |_| true;
    "buf.gen.yaml" at "crate/buf.gen.yaml" => BufGenYaml, false, |project| project.buf;
    "src/main.rs" at "crate/src/main.rs" => MainRs, false, |_| true;
    "src/lib.rs" at "crate/src/lib.rs" => LibRs, false, |_| true;
    "src/config.rs" at "crate/src/config.rs" => ConfigRs, false, |_| true;
    "src/proto.rs" at "crate/src/proto.rs" => ProtoRs, false, |_| true;
    "src/server.rs" at "crate/src/server.rs" => ServerRs, false, |_| true;
    "src/service.rs" at "crate/src/service.rs" => ServiceRs, true, |_| true;
    "tests/service.rs" at "crate/tests/service.rs" => ServiceTestRs, true, |_| true;
    "README.md" at "crate/README.md" => Readme, false, |_| true;
    "Dockerfile" at "crate/Dockerfile" => Dockerfile, false, |_| true;
    ".dockerignore" at "crate/.dockerignore" => DockerIgnore, false, |_| true;
    ".gitignore" at "crate/.gitignore" => GitIgnore, false, |_| true;
    "deploy/kubernetes.yaml" at "crate/deploy/kubernetes.yaml" => Kubernetes, false, |_| true;
    ".github/workflows/ci.yml" at "crate/.github/workflows/ci.yml" => Workflow, false, |_| true;
}

/// A rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Its path in the crate, `/`-separated.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// The file `builtin` renders for `service`.
fn output_path(builtin: &Builtin, service: Option<&ServiceContext>) -> String {
    match service {
        Some(service) => {
            let (dir, _) = builtin.name.rsplit_once('/').unwrap_or(("", builtin.name));
            format!("{dir}/{}.rs", service.file)
        }
        None => builtin.name.to_owned(),
    }
}

/// What a user's template sees: `project`, `sources`, and `service` in per-service templates.
#[derive(Serialize)]
struct UserContext<'a> {
    project: &'a Project,
    sources: &'a Sources,
    service: Option<&'a ServiceContext>,
}

/// The user's templates, by name: the files of `dir` that override a built-in one.
pub struct Overrides {
    dir: PathBuf,
    env: minijinja::Environment<'static>,
}

impl Overrides {
    /// Loads every file under `dir`; a file that matches no built-in template is an error
    /// naming it and the names it could have (a misspelt override would silently do nothing).
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let mut env = minijinja::Environment::new();
        env.set_keep_trailing_newline(true);
        // A misspelt field is an error naming it, not an empty string in the output.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files)?;
        for name in files {
            if !BUILTINS.iter().any(|builtin| builtin.name == name) {
                let known: Vec<&str> = BUILTINS.iter().map(|builtin| builtin.name).collect();
                return Err(Error::new(format!(
                    "--templates {}: {name} overrides no built-in template; the templates are {}",
                    dir.display(),
                    known.join(", ")
                )));
            }
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path).map_err(|error| {
                Error::new(format!(
                    "--templates: cannot read {}: {error}",
                    path.display()
                ))
            })?;
            env.add_template_owned(name.clone(), text)
                .map_err(|error| {
                    Error::new(format!(
                        "--templates: {}: {}",
                        path.display(),
                        describe(&error)
                    ))
                })?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            env,
        })
    }

    /// No overrides.
    pub fn none() -> Self {
        Self {
            dir: PathBuf::new(),
            env: minijinja::Environment::new(),
        }
    }

    fn render(
        &self,
        name: &str,
        project: &Project,
        sources: &Sources,
        service: Option<&ServiceContext>,
    ) -> Option<Result<String, Error>> {
        let template = self.env.get_template(name).ok()?;
        Some(
            template
                .render(UserContext {
                    project,
                    sources,
                    service,
                })
                .map_err(|error| {
                    Error::new(format!(
                        "--templates: {}: {}",
                        self.dir.join(name).display(),
                        describe(&error)
                    ))
                }),
        )
    }
}

/// minijinja's error with its line and the error under it.
fn describe(error: &minijinja::Error) -> String {
    let mut text = match error.line() {
        Some(line) => format!("line {line}: {error}"),
        None => error.to_string(),
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Every file under `dir`, as `/`-separated paths relative to `root`.
fn collect_files(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        Error::new(format!(
            "--templates: cannot read {}: {error}",
            dir.display()
        ))
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| Error::new(format!("--templates: {error}")))?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, files)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let name: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push(name.join("/"));
        }
    }
    Ok(())
}

/// Every file of `project`, rendered by the built-in templates or the user's overrides, each
/// ending in one newline; `sources` as `project`'s dependency keys say (see
/// [`render_all_with`]).
pub fn render_all(project: &Project, overrides: &Overrides) -> Result<Vec<Rendered>, Error> {
    let sources =
        super::sources::of_dependency_keys(&project.runtime_source, &project.generator_source);
    render_all_with(project, &sources, overrides)
}

/// [`render_all`], telling the templates where the runtime and the generator come from.
pub fn render_all_with(
    project: &Project,
    sources: &Sources,
    overrides: &Overrides,
) -> Result<Vec<Rendered>, Error> {
    let mut rendered = Vec::new();
    for builtin in BUILTINS.iter().filter(|builtin| (builtin.wanted)(project)) {
        let services: Vec<Option<&ServiceContext>> = if builtin.per_service {
            project.services.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for service in services {
            let text = match overrides.render(builtin.name, project, sources, service) {
                Some(text) => text?,
                None => (builtin.render)(project, sources, service).map_err(|error| {
                    Error::new(format!(
                        "internal error rendering the template {}: {error}",
                        builtin.name
                    ))
                })?,
            };
            rendered.push(Rendered {
                path: output_path(builtin, service),
                text: format!("{}\n", text.trim_end()),
            });
        }
    }
    Ok(rendered)
}

/// Renders `builtin` with minijinja, as an override with the same text would be.
#[cfg(test)]
fn render_as_override(
    builtin: &Builtin,
    project: &Project,
    sources: &Sources,
    service: Option<&ServiceContext>,
) -> String {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template(builtin.name, builtin.source).unwrap();
    let text = env
        .get_template(builtin.name)
        .unwrap()
        .render(UserContext {
            project,
            sources,
            service,
        })
        .unwrap_or_else(|error| panic!("{}: {}", builtin.name, describe(&error)));
    format!("{}\n", text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::tests::{example_project, example_sources};

    #[test]
    fn every_builtin_renders_the_same_with_both_engines() {
        // With and without buf, and with plugin parameters (`new --opt`) in the second round;
        // with each origin of the runtime.
        for (buf, sources) in [false, true].into_iter().zip(example_sources()).chain(
            example_sources()
                .into_iter()
                .map(|sources| (false, sources)),
        ) {
            let mut project = example_project();
            project.buf = buf;
            if buf {
                project.parameters = vec!["a=1".to_owned(), "b=2".to_owned()];
            }
            for builtin in BUILTINS {
                let services: Vec<Option<&ServiceContext>> = if builtin.per_service {
                    project.services.iter().map(Some).collect()
                } else {
                    vec![None]
                };
                for service in services {
                    let askama = (builtin.render)(&project, &sources, service).unwrap();
                    let askama = format!("{}\n", askama.trim_end());
                    assert_eq!(
                        render_as_override(builtin, &project, &sources, service),
                        askama,
                        "{} (buf: {buf})",
                        builtin.name
                    );
                }
            }
        }
    }

    #[test]
    fn per_service_files_are_named_after_the_service() {
        let project = example_project();
        let files = render_all(&project, &Overrides::none()).unwrap();
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert!(paths.contains(&"src/order.rs"), "{paths:?}");
        assert!(paths.contains(&"tests/order.rs"), "{paths:?}");
        assert!(!paths.contains(&"src/service.rs"), "{paths:?}");
        assert!(paths.contains(&"build.rs") && !paths.contains(&"buf.gen.yaml"));
    }
}
