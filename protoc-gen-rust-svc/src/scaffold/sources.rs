//! Where a scaffolded crate gets the runtime and the generator (`new --runtime`,
//! `--vendor-runtime`), written so that the crate builds where it is built: on the developer's
//! machine, in its container image (`COPY . .`) and in its CI.
//!
//! - a version: crates.io (`rust-svc-runtime = "0.6.0"`);
//! - `git=URL[,rev=R|,tag=T|,branch=B]`: a git dependency on a repository of this project;
//! - `vendor[=CHECKOUT]`: copies inside the crate (`vendor/`, made by `scaffold/vendor.rs`) of the
//!   runtime, the template crate and the generator, from a checkout of this project;
//! - a path: the runtime crate of a checkout on this machine (the generator beside it), which
//!   neither the image nor CI can reach: for working on the runtime itself.
//!
//! Without `--runtime`, a release on crates.io is named by its version; until this version is
//! published there ([`ON_CRATES_IO`]), the crate gets copies from the checkout the generator was
//! built from, since a crates.io version would not resolve.

use std::path::{Path, PathBuf};

use super::context::Sources;
use super::vendor;
use crate::error::Error;

/// Whether this version of the runtime and the generator is on crates.io. `false` until it is
/// published: `new` then vendors by default instead of naming a version that does not resolve.
/// The release that publishes sets it.
pub const ON_CRATES_IO: bool = false;

/// Where the runtime and the generator come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// crates.io, this version requirement.
    CratesIo(String),
    /// A git repository of this project, at a revision, tag or branch (`reference`: the key
    /// and its value), or its default branch.
    Git {
        url: String,
        reference: Option<(&'static str, String)>,
    },
    /// Copies inside the crate, from this checkout's root.
    Vendor(PathBuf),
    /// The runtime crate at this absolute path, and the generator beside it if it is there.
    Path {
        runtime: PathBuf,
        generator: Option<PathBuf>,
    },
}

impl Origin {
    /// Reads `--runtime` (`None`: not given), as the module docs describe it.
    pub(crate) fn parse(spec: Option<&str>) -> Result<Self, Error> {
        let Some(spec) = spec else {
            return Self::default_origin();
        };
        if let Some(git) = spec.strip_prefix("git=") {
            return parse_git(spec, git);
        }
        if spec == "vendor" {
            return Self::default_checkout().map(Self::Vendor);
        }
        if let Some(path) = spec.strip_prefix("vendor=") {
            return checkout_at(spec, Path::new(path)).map(Self::Vendor);
        }
        let looks_like_version = spec
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '^' | '~' | '=' | '*'));
        if looks_like_version && spec.chars().any(|c| c.is_ascii_digit()) {
            return Ok(Self::CratesIo(spec.to_owned()));
        }
        let absolute = std::fs::canonicalize(spec).map_err(|error| {
            Error::new(format!(
                "--runtime {spec}: not a version, `git=URL[,rev=…]`, `vendor[=CHECKOUT]` or the \
                 runtime crate's directory ({error})"
            ))
        })?;
        if !absolute.join("Cargo.toml").is_file() {
            return Err(Error::new(format!(
                "--runtime {spec}: no Cargo.toml there; give the rust-svc-runtime crate's \
                 directory, a version, `git=URL[,rev=…]` or `vendor[=CHECKOUT]`"
            )));
        }
        let generator = absolute
            .parent()
            .map(|parent| parent.join("protoc-gen-rust-svc"))
            .filter(|dir| dir.join("Cargo.toml").is_file());
        Ok(Self::Path {
            runtime: absolute,
            generator,
        })
    }

    /// `--runtime` not given: crates.io once this version is there, copies until then.
    fn default_origin() -> Result<Self, Error> {
        if ON_CRATES_IO {
            return Ok(Self::CratesIo(env!("CARGO_PKG_VERSION").to_owned()));
        }
        Self::default_checkout().map(Self::Vendor)
    }

    /// The checkout this generator was built from, to vendor from.
    fn default_checkout() -> Result<PathBuf, Error> {
        vendor::own_checkout().ok_or_else(|| {
            Error::new(format!(
                "rust-svc-runtime {version} is not on crates.io yet, and the checkout this \
                 generator was built from is gone, so there is nothing to copy into the crate: \
                 give --runtime git=URL[,rev=…] (a repository of protoc-gen-rust-svc), \
                 --runtime vendor=CHECKOUT or the path of a checkout's runtime/ directory",
                version = env!("CARGO_PKG_VERSION")
            ))
        })
    }

    /// The keys of the runtime's Cargo dependency: `version = "0.6.0"`,
    /// `git = "…", rev = "…"`, `path = "…"`.
    pub(crate) fn runtime_source(&self) -> String {
        match self {
            Self::CratesIo(version) => format!("version = {version:?}"),
            Self::Git { .. } => self.git_keys(),
            Self::Vendor(_) => format!("path = {:?}", vendor::path_of(vendor::RUNTIME)),
            Self::Path { runtime, .. } => format!("path = {:?}", runtime.display().to_string()),
        }
    }

    /// The keys of the generator's Cargo dependency (build.rs), in the same form.
    pub(crate) fn generator_source(&self) -> String {
        match self {
            Self::Vendor(_) => format!("path = {:?}", vendor::path_of(vendor::GENERATOR)),
            Self::Path {
                generator: Some(generator),
                ..
            } => format!("path = {:?}", generator.display().to_string()),
            Self::Path {
                generator: None, ..
            } => Self::CratesIo(env!("CARGO_PKG_VERSION").to_owned()).runtime_source(),
            _ => self.runtime_source(),
        }
    }

    fn git_keys(&self) -> String {
        let Self::Git { url, reference } = self else {
            unreachable!("only called for a git origin")
        };
        match reference {
            Some((key, value)) => format!("git = {url:?}, {key} = {value:?}"),
            None => format!("git = {url:?}"),
        }
    }

    /// What the templates are told.
    pub(crate) fn sources(&self) -> Sources {
        let (origin, install) = match self {
            Self::CratesIo(version) => (
                "crates.io",
                format!(
                    "cargo install protoc-gen-rust-svc --version {} --locked",
                    shell_word(version)
                ),
            ),
            Self::Git { url, reference } => {
                let reference = reference
                    .as_ref()
                    .map(|(key, value)| format!(" --{key} {value}"))
                    .unwrap_or_default();
                (
                    "git",
                    format!("cargo install --git {url}{reference} protoc-gen-rust-svc --locked"),
                )
            }
            Self::Vendor(_) => (
                "vendor",
                format!(
                    "cargo install --path {}",
                    vendor::path_of(vendor::GENERATOR)
                ),
            ),
            Self::Path { generator, .. } => (
                "path",
                match generator {
                    Some(generator) => {
                        format!("cargo install --path {}", generator.display())
                    }
                    None => format!(
                        "cargo install protoc-gen-rust-svc --version {} --locked",
                        env!("CARGO_PKG_VERSION")
                    ),
                },
            ),
        };
        Sources {
            origin: origin.to_owned(),
            install_generator: install,
        }
    }

    /// Why the crate would not build where it is taken (its image, its CI), if it would not.
    pub(crate) fn caveat(&self) -> Option<String> {
        match self {
            Self::Path { runtime, .. } => Some(format!(
                "the crate depends on the runtime at {} by absolute path, which its Dockerfile \
                 (`COPY . .`) and CI workflow cannot reach; scaffold with --vendor-runtime (copies \
                 inside the crate) or --runtime git=URL to build it elsewhere",
                runtime.display()
            )),
            _ => None,
        }
    }
}

/// Why a crate scaffolded with `runtime` (as [`NewOptions::runtime`] takes it) would not
/// build where it is taken (its image, its CI), if it would not: for `new` to say so.
///
/// [`NewOptions::runtime`]: super::NewOptions::runtime
pub fn caveat(runtime: Option<&str>) -> Option<String> {
    Origin::parse(runtime).ok()?.caveat()
}

/// What the templates are told of a project whose runtime and generator dependencies have the
/// keys `runtime` and `generator` (as [`Origin::runtime_source`] and
/// [`Origin::generator_source`] write them): for [`render_all`](super::templates::render_all),
/// which is given only the project.
pub(crate) fn of_dependency_keys(runtime: &str, generator: &str) -> Sources {
    let quoted = |keys: &str, key: &str| -> Option<String> {
        let rest = keys.split(&format!("{key} = \"")).nth(1)?;
        rest.split('"').next().map(str::to_owned)
    };
    let origin = if let Some(url) = quoted(runtime, "git") {
        let reference = ["rev", "tag", "branch"]
            .into_iter()
            .find_map(|key| quoted(runtime, key).map(|value| (key, value)));
        Origin::Git { url, reference }
    } else if let Some(path) = quoted(runtime, "path") {
        if path == vendor::path_of(vendor::RUNTIME) {
            Origin::Vendor(PathBuf::new())
        } else {
            Origin::Path {
                runtime: PathBuf::from(path),
                generator: quoted(generator, "path").map(PathBuf::from),
            }
        }
    } else {
        let version = quoted(runtime, "version");
        Origin::CratesIo(version.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()))
    };
    origin.sources()
}

/// `word` as one shell word: as it is when it is digits and dots, else single-quoted (a version
/// requirement such as `>=0.6, <0.8`).
fn shell_word(word: &str) -> String {
    if word.chars().all(|c| c.is_ascii_digit() || c == '.') {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `git=URL[,rev=R|,tag=T|,branch=B]` (`spec` whole, `git` after `git=`).
fn parse_git(spec: &str, git: &str) -> Result<Origin, Error> {
    let mut parts = git.split(',');
    let url = parts.next().unwrap_or_default().trim();
    if url.is_empty() {
        return Err(Error::new(format!(
            "--runtime {spec}: give the repository, `git=URL[,rev=…]`"
        )));
    }
    let mut reference = None;
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(Error::new(format!(
                "--runtime {spec}: `{part}` is not `rev=…`, `tag=…` or `branch=…`"
            )));
        };
        let key = match key.trim() {
            "rev" => "rev",
            "tag" => "tag",
            "branch" => "branch",
            other => {
                return Err(Error::new(format!(
                    "--runtime {spec}: unknown key `{other}`; a git source takes one of `rev`, \
                     `tag` or `branch`"
                )));
            }
        };
        if reference.is_some() {
            return Err(Error::new(format!(
                "--runtime {spec}: give one of `rev`, `tag` or `branch`, not several"
            )));
        }
        reference = Some((key, value.trim().to_owned()));
    }
    Ok(Origin::Git {
        url: url.to_owned(),
        reference,
    })
}

/// The checkout at `path`: its root, or its runtime/ directory.
fn checkout_at(spec: &str, path: &Path) -> Result<PathBuf, Error> {
    let absolute = std::fs::canonicalize(path).map_err(|error| {
        Error::new(format!(
            "--runtime {spec}: cannot read {}: {error}",
            path.display()
        ))
    })?;
    [absolute.clone(), absolute.join("..")]
        .into_iter()
        .filter_map(|candidate| std::fs::canonicalize(candidate).ok())
        .find(|candidate| vendor::is_checkout(candidate))
        .ok_or_else(|| {
            Error::new(format!(
                "--runtime {spec}: {} is not a checkout of protoc-gen-rust-svc (its root, or its \
                 runtime/ directory, with runtime/, http-template/ and protoc-gen-rust-svc/)",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()
            .unwrap()
    }

    #[test]
    fn a_version_is_crates_io() {
        let origin = Origin::parse(Some("0.6.0")).unwrap();
        assert_eq!(origin, Origin::CratesIo("0.6.0".to_owned()));
        assert_eq!(origin.runtime_source(), r#"version = "0.6.0""#);
        assert_eq!(origin.generator_source(), r#"version = "0.6.0""#);
        assert_eq!(origin.sources().origin, "crates.io");
        assert_eq!(
            origin.sources().install_generator,
            "cargo install protoc-gen-rust-svc --version 0.6.0 --locked"
        );
        assert_eq!(origin.caveat(), None);
        let requirement = Origin::parse(Some("^0.6")).unwrap();
        assert_eq!(
            requirement.sources().install_generator,
            "cargo install protoc-gen-rust-svc --version '^0.6' --locked"
        );
    }

    #[test]
    fn a_git_source_names_its_repository_and_reference() {
        let origin = Origin::parse(Some("git=file:///srv/repo.git,rev=0a1b2c")).unwrap();
        assert_eq!(
            origin.runtime_source(),
            r#"git = "file:///srv/repo.git", rev = "0a1b2c""#
        );
        assert_eq!(origin.generator_source(), origin.runtime_source());
        assert_eq!(
            origin.sources().install_generator,
            "cargo install --git file:///srv/repo.git --rev 0a1b2c protoc-gen-rust-svc --locked"
        );
        let branch = Origin::parse(Some("git=https://example.com/x.git,branch=main")).unwrap();
        assert_eq!(
            branch.runtime_source(),
            r#"git = "https://example.com/x.git", branch = "main""#
        );
        let bare = Origin::parse(Some("git=https://example.com/x.git")).unwrap();
        assert_eq!(
            bare.runtime_source(),
            r#"git = "https://example.com/x.git""#
        );
        for (spec, problem) in [
            ("git=", "give the repository"),
            ("git=u,commit=1", "unknown key `commit`"),
            ("git=u,rev", "`rev` is not"),
            ("git=u,rev=1,tag=2", "not several"),
        ] {
            let error = Origin::parse(Some(spec)).unwrap_err().to_string();
            assert!(
                error.contains(&format!("--runtime {spec}")) && error.contains(problem),
                "{spec}: {error}"
            );
        }
    }

    #[test]
    fn the_keys_of_a_dependency_tell_the_templates_the_same() {
        let root = checkout();
        for spec in [
            "0.6.0".to_owned(),
            "git=file:///srv/repo.git,tag=v0.6.0".to_owned(),
            "git=file:///srv/repo.git".to_owned(),
            format!("vendor={}", root.display()),
            root.join("runtime").display().to_string(),
        ] {
            let origin = Origin::parse(Some(&spec)).unwrap();
            assert_eq!(
                of_dependency_keys(&origin.runtime_source(), &origin.generator_source()),
                origin.sources(),
                "{spec}"
            );
        }
    }

    #[test]
    fn vendor_copies_from_a_checkout_named_by_its_root_or_its_runtime() {
        let root = checkout();
        for spec in [
            format!("vendor={}", root.display()),
            format!("vendor={}", root.join("runtime").display()),
            "vendor".to_owned(),
        ] {
            let origin = Origin::parse(Some(&spec)).unwrap();
            assert_eq!(origin, Origin::Vendor(root.clone()), "{spec}");
            assert_eq!(
                origin.runtime_source(),
                r#"path = "vendor/rust-svc-runtime""#
            );
            assert_eq!(
                origin.generator_source(),
                r#"path = "vendor/protoc-gen-rust-svc""#
            );
            assert_eq!(
                origin.sources().install_generator,
                "cargo install --path vendor/protoc-gen-rust-svc"
            );
        }
        let error = Origin::parse(Some("vendor=/")).unwrap_err().to_string();
        assert!(error.contains("is not a checkout"), "{error}");
        // Not published yet: the default is the copies of this checkout.
        if !ON_CRATES_IO {
            assert_eq!(Origin::parse(None).unwrap(), Origin::Vendor(root));
        }
    }

    #[test]
    fn a_path_is_the_runtime_with_the_generator_beside_it_and_a_caveat() {
        let root = checkout();
        let origin = Origin::parse(Some(root.join("runtime").to_str().unwrap())).unwrap();
        assert!(origin.runtime_source().starts_with("path = "));
        assert!(origin.runtime_source().ends_with("runtime\""));
        assert!(
            origin.generator_source().ends_with("protoc-gen-rust-svc\""),
            "{}",
            origin.generator_source()
        );
        assert!(origin.caveat().unwrap().contains("--vendor-runtime"));
        let error = Origin::parse(Some("/nowhere/at/all"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--runtime /nowhere/at/all"), "{error}");
    }
}
