//! `new --vendor-runtime`: copies of the runtime, the template crate and the generator inside
//! the scaffolded crate (`vendor/`), so that it builds from its own directory alone (its
//! Dockerfile's `COPY . .`, its CI) before they are on crates.io.
//!
//! A copy has what its build needs: its `src/`, its licence, and for the generator its
//! templates (which the binary compiles in). Its `Cargo.toml` is the checkout's with what the
//! workspace lent it written out, as `cargo package` writes a published one: the `[package]`
//! keys and dependencies inherited with `workspace = true` (features merged), the sibling crates
//! by path to their copies; tests, benchmarks, examples and dev-dependencies, which are not
//! copied, are left out. The generator is copied for the build.rs way and for CI either way:
//! CI installs its binary from the copy to run `check`.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use crate::error::Error;

/// The template crate: its directory in a checkout, its package name.
pub(crate) const TEMPLATE: (&str, &str) = ("http-template", "rust-svc-http-template");
/// The runtime.
pub(crate) const RUNTIME: (&str, &str) = ("runtime", "rust-svc-runtime");
/// The generator.
pub(crate) const GENERATOR: (&str, &str) = ("protoc-gen-rust-svc", "protoc-gen-rust-svc");

/// What is copied, dependencies first.
const CRATES: [(&str, &str); 3] = [TEMPLATE, RUNTIME, GENERATOR];

/// Where a copied crate lives in the scaffolded crate, `/`-separated: `vendor/<package>`.
pub(crate) fn path_of((_, package): (&str, &str)) -> String {
    format!("vendor/{package}")
}

/// Whether `root` is a checkout of this project: a workspace with the three crates.
pub(crate) fn is_checkout(root: &Path) -> bool {
    root.join("Cargo.toml").is_file()
        && CRATES
            .iter()
            .all(|(dir, _)| root.join(dir).join("Cargo.toml").is_file())
}

/// The checkout this generator was built from, if it is still where it was built.
pub(crate) fn own_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let root = std::fs::canonicalize(root).ok()?;
    is_checkout(&root).then_some(root)
}

/// Copies the crates of `checkout` into `crate_dir/vendor`, replacing earlier copies; returns
/// what was written, crate-relative (one entry per copied crate).
pub(crate) fn vendor(checkout: &Path, crate_dir: &Path) -> Result<Vec<String>, Error> {
    let workspace = read(&checkout.join("Cargo.toml"))?;
    let workspace: DocumentMut = workspace.parse().map_err(|error| {
        Error::new(format!(
            "{}: {error}",
            checkout.join("Cargo.toml").display()
        ))
    })?;
    let mut written = Vec::new();
    for krate in CRATES {
        let (dir, _) = krate;
        let from = checkout.join(dir);
        let to = crate_dir.join(path_of(krate));
        if to.exists() {
            std::fs::remove_dir_all(&to).map_err(|error| io_error(&to, &error))?;
        }
        copy_tree(&from.join("src"), &to.join("src"))?;
        copy_file(&from.join("LICENSE"), &to.join("LICENSE"))?;
        if krate == GENERATOR {
            copy_tree(&from.join("templates"), &to.join("templates"))?;
        }
        let manifest_path = from.join("Cargo.toml");
        let manifest = normalized(&read(&manifest_path)?, &workspace)
            .map_err(|problem| Error::new(format!("{}: {problem}", manifest_path.display())))?;
        write(&to.join("Cargo.toml"), &manifest)?;
        written.push(format!("{}/", path_of(krate)));
    }
    Ok(written)
}

/// The manifest `text` of a crate of the `workspace`, standing on its own in `vendor/`.
fn normalized(text: &str, workspace: &DocumentMut) -> Result<String, String> {
    let mut manifest: DocumentMut = text.parse().map_err(|error| format!("{error}"))?;
    let inherited = |section: &str| {
        workspace
            .get("workspace")
            .and_then(|workspace| workspace.get(section))
            .and_then(Item::as_table_like)
    };
    let package_keys = inherited("package");
    let dependencies = inherited("dependencies");

    let package = manifest
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .ok_or("no [package]")?;
    let keys: Vec<String> = package.iter().map(|(key, _)| key.to_owned()).collect();
    for key in keys {
        if !inherits(package.get(&key)) {
            continue;
        }
        // Read from the workspace root, which a copy does not have.
        if key == "readme" {
            package.remove(&key);
            continue;
        }
        let value = package_keys
            .and_then(|keys| keys.get(&key))
            .and_then(Item::as_value)
            .ok_or_else(|| format!("`{key}` inherits from the workspace, which does not set it"))?;
        package.insert(&key, Item::Value(value.clone()));
    }

    for section in ["dev-dependencies", "test", "bench", "example", "lints"] {
        manifest.remove(section);
    }
    let mut tables: Vec<&mut Table> = Vec::new();
    let (plain, targets) = split_dependency_tables(&mut manifest);
    tables.extend(plain);
    tables.extend(targets);
    for table in tables {
        let names: Vec<String> = table.iter().map(|(name, _)| name.to_owned()).collect();
        for name in names {
            let entry = table.get(&name).expect("listed above");
            if !inherits(Some(entry)) {
                continue;
            }
            let base = dependencies
                .and_then(|dependencies| dependencies.get(&name))
                .ok_or_else(|| {
                    format!(
                        "dependency `{name}` inherits from the workspace, which does not list it"
                    )
                })?;
            let merged = merge_dependency(&name, base, entry)?;
            table.insert(&name, Item::Value(Value::InlineTable(merged)));
        }
    }
    Ok(manifest.to_string())
}

/// The `[dependencies]` and `[build-dependencies]` tables, and those of each `[target.…]`.
fn split_dependency_tables(manifest: &mut DocumentMut) -> (Vec<&mut Table>, Vec<&mut Table>) {
    let mut plain = Vec::new();
    let mut targets = Vec::new();
    for (key, item) in manifest.iter_mut() {
        match key.get() {
            "dependencies" | "build-dependencies" => {
                if let Some(table) = item.as_table_mut() {
                    plain.push(table);
                }
            }
            "target" => {
                let Some(platforms) = item.as_table_mut() else {
                    continue;
                };
                for (_, platform) in platforms.iter_mut() {
                    let Some(platform) = platform.as_table_mut() else {
                        continue;
                    };
                    platform.remove("dev-dependencies");
                    for (section, table) in platform.iter_mut() {
                        if matches!(section.get(), "dependencies" | "build-dependencies")
                            && let Some(table) = table.as_table_mut()
                        {
                            targets.push(table);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (plain, targets)
}

/// Whether `item` is `{ workspace = true, … }` (or the dotted `key.workspace = true`).
fn inherits(item: Option<&Item>) -> bool {
    item.and_then(Item::as_table_like)
        .and_then(|table| table.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}

/// The workspace's `base` entry of dependency `name` with what the crate's `entry` adds
/// (`features` added to the workspace's, `optional`, …); a sibling crate by the path of its copy.
fn merge_dependency(name: &str, base: &Item, entry: &Item) -> Result<InlineTable, String> {
    let mut merged = match base {
        Item::Value(Value::String(version)) => {
            let mut table = InlineTable::new();
            table.insert("version", Value::from(version.value().as_str()));
            table
        }
        other => {
            let table = other
                .as_table_like()
                .ok_or_else(|| format!("the workspace's dependency `{name}` is not a table"))?;
            let mut inline = InlineTable::new();
            for (key, value) in table.iter() {
                if let Some(value) = value.as_value() {
                    inline.insert(key, value.clone());
                }
            }
            inline
        }
    };
    if merged.contains_key("path") {
        let (_, package) = CRATES
            .iter()
            .copied()
            .find(|(_, package)| *package == name)
            .ok_or_else(|| format!("`{name}` is a path dependency of the workspace not copied"))?;
        merged.insert("path", Value::from(format!("../{package}")));
    }
    let entry = entry
        .as_table_like()
        .expect("an inheriting entry is a table");
    for (key, value) in entry.iter() {
        let Some(value) = value.as_value() else {
            continue;
        };
        match key {
            "workspace" => {}
            "features" => {
                let mut features = merged
                    .get("features")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for feature in value.as_array().into_iter().flatten() {
                    if !features
                        .iter()
                        .any(|have| have.as_str() == feature.as_str())
                    {
                        features.push(feature.clone());
                    }
                }
                merged.insert("features", Value::Array(features));
            }
            _ => {
                merged.insert(key, value.clone());
            }
        }
    }
    merged.fmt();
    Ok(merged)
}

/// Copies the directory `from` to `to`, following symbolic links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(|error| io_error(to, &error))?;
    let entries = std::fs::read_dir(from).map_err(|error| io_error(from, &error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io_error(from, &error))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        let metadata = std::fs::metadata(&path).map_err(|error| io_error(&path, &error))?;
        if metadata.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            copy_file(&path, &target)?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|error| io_error(from, &error))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|error| io_error(path, &error))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|error| io_error(path, &error))
}

fn io_error(path: &Path, error: &std::io::Error) -> Error {
    Error::new(format!("--vendor-runtime: {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = r#"
[workspace]
members = ["a", "b"]

[workspace.package]
version = "0.6.0"
edition = "2024"
license = "Apache-2.0"
readme = "README.md"

[workspace.dependencies]
rust-svc-http-template = { path = "http-template", version = "0.6.1" }
tonic = "0.14"
serde = { version = "1", default-features = false }
"#;

    #[test]
    fn a_manifest_stands_on_its_own() {
        let crate_manifest = r#"[package]
name = "rust-svc-runtime"
version.workspace = true
edition.workspace = true
license = { workspace = true }
readme.workspace = true
autotests = false

[dependencies]
tonic = { workspace = true, features = ["gzip"] }
serde = { workspace = true, features = ["derive"], optional = true }
rust-svc-http-template.workspace = true
h2 = "0.4"

[target.'cfg(unix)'.dependencies]
tonic.workspace = true

[target.'cfg(unix)'.dev-dependencies]
tempfile = "3"

[features]
default = []

[[test]]
name = "it"
path = "tests/it/main.rs"

[dev-dependencies]
insta = "1"
"#;
        let workspace: DocumentMut = WORKSPACE.parse().unwrap();
        let normalized = normalized(crate_manifest, &workspace).unwrap();
        let expected = r#"[package]
name = "rust-svc-runtime"
version = "0.6.0"
edition = "2024"
license = "Apache-2.0"
autotests = false

[dependencies]
tonic = { version = "0.14", features = ["gzip"] }
serde = { version = "1", default-features = false, features = ["derive"], optional = true }
rust-svc-http-template = { path = "../rust-svc-http-template", version = "0.6.1" }
h2 = "0.4"

[target.'cfg(unix)'.dependencies]
tonic = { version = "0.14" }

[features]
default = []
"#;
        assert_eq!(normalized, expected);
    }

    #[test]
    fn what_the_workspace_does_not_lend_is_an_error_naming_it() {
        let workspace: DocumentMut = WORKSPACE.parse().unwrap();
        let missing_key = "[package]\nname = \"x\"\nrust-version.workspace = true\n";
        assert!(
            normalized(missing_key, &workspace)
                .unwrap_err()
                .contains("`rust-version` inherits")
        );
        let missing_dependency = "[package]\nname = \"x\"\n[dependencies]\nfoo.workspace = true\n";
        assert!(
            normalized(missing_dependency, &workspace)
                .unwrap_err()
                .contains("dependency `foo`")
        );
    }

    #[test]
    fn the_checkout_s_crates_are_copied_with_manifests_cargo_can_read() {
        let checkout = own_checkout().expect("the tests run in a checkout");
        let dir = tempfile::tempdir().unwrap();
        let written = vendor(&checkout, dir.path()).unwrap();
        assert_eq!(
            written,
            [
                "vendor/rust-svc-http-template/",
                "vendor/rust-svc-runtime/",
                "vendor/protoc-gen-rust-svc/"
            ]
        );
        let runtime = dir.path().join("vendor/rust-svc-runtime");
        assert!(runtime.join("src/lib.rs").is_file());
        assert!(runtime.join("LICENSE").is_file());
        let generator = dir.path().join("vendor/protoc-gen-rust-svc");
        assert!(generator.join("templates/crate/Cargo.toml.in").is_file());
        for krate in CRATES {
            let text = std::fs::read_to_string(dir.path().join(path_of(krate)).join("Cargo.toml"))
                .unwrap();
            assert!(
                !text.contains("workspace = true") && !text.contains(".workspace"),
                "{text}"
            );
            text.parse::<DocumentMut>().unwrap();
        }
        let runtime_manifest = std::fs::read_to_string(runtime.join("Cargo.toml")).unwrap();
        assert!(
            runtime_manifest.contains(r#"path = "../rust-svc-http-template""#),
            "{runtime_manifest}"
        );
        // Copying again replaces the copies.
        std::fs::write(runtime.join("src/stale.rs"), "").unwrap();
        vendor(&checkout, dir.path()).unwrap();
        assert!(!runtime.join("src/stale.rs").exists());
    }
}
