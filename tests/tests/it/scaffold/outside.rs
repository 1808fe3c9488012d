//! Installed as the README prints it, scaffolded where a new user's crate would be: outside the
//! checkout, depending on the runtime as `new` names it (copies inside the crate by default
//! until the crates are on crates.io, or a git repository). The crate builds, its README's
//! commands answer against its binary, and its CI's commands run.
//!
//! Slow (the copies of the runtime and the generator are built again, as their own packages):
//! `#[ignore]`d here, run by CI (`.ci/run`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use protoc_gen_rust_svc::scaffold::{self, NewOptions};

use super::packaging::have;
use super::{Running, cargo, cargo_as_written, must, target_dir, workspace};

/// The line of the README's ```sh block that starts with `prefix`.
fn readme_line(readme: &str, prefix: &str) -> String {
    readme
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in the README"))
        .to_owned()
}

/// The generator installed into `root` by the README's install line, from this checkout (a
/// debug build, sharing this workspace's target directory: the line is the README's, the
/// profile the tests'); the path of its binary.
fn install_as_the_readme_says(root: &Path) -> PathBuf {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let line = readme_line(&readme, "cargo install ");
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("cargo"), "{line}");
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo_bin)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .args(words)
        .args(["--debug", "--root"])
        .arg(root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    must(&line, output);
    let binary = root.join("bin/protoc-gen-rust-svc");
    assert!(binary.is_file(), "{line} installed no {}", binary.display());
    binary
}

/// `protoc-gen-rust-svc new NAME` of the inventory proto, run in `parent` with `extra` flags.
fn new(generator: &Path, parent: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let proto = workspace().join("proto");
    let output = Command::new(generator)
        .current_dir(parent)
        .args(["new", name, "-I"])
        .arg(&proto)
        .arg("--proto")
        .arg(proto.join("inventory/v1/inventory.proto"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    must("protoc-gen-rust-svc new", output);
    let dir = parent.join(name);
    // This workspace's lock file: the same dependency versions, built once in the shared
    // target directory (a new user's first build resolves the same way, to newer versions).
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

#[test]
#[ignore = "slow: builds copies of the runtime and the generator; CI runs it"]
fn installed_as_printed_a_crate_scaffolded_outside_the_checkout_builds_and_serves_its_readme() {
    let home = tempfile::tempdir().unwrap();
    let generator = install_as_the_readme_says(&home.path().join("cargo"));
    let projects = home.path().join("projects");
    std::fs::create_dir(&projects).unwrap();
    let dir = new(&generator, &projects, "inventory-outside", &[]);

    // Not on crates.io yet: the crate has copies of what it builds with, by relative path, and
    // nothing that points into the checkout (its image's `COPY . .` and CI take them along).
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"rust-svc-runtime = { path = "vendor/rust-svc-runtime""#),
        "{manifest}"
    );
    let checkout = workspace();
    for file in [
        "Cargo.toml",
        ".github/workflows/ci.yml",
        "Dockerfile",
        "README.md",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            !text.contains(checkout.to_str().unwrap()),
            "{file} names the checkout: {text}"
        );
    }
    must(
        "cargo build",
        cargo_as_written(&dir, &["build"])
            .output()
            .expect("cargo runs"),
    );

    // The README's commands, against the binary (on a free port rather than the default).
    let running = Running::start_binary("inventory-outside", &[]);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let lines: Vec<String> = readme
        .lines()
        .filter(|line| line.starts_with("buf curl ") || line.starts_with("curl "))
        .map(|line| line.replace("127.0.0.1:50051", &running.addr))
        .collect();
    assert!(lines.len() >= 4, "{readme}");
    let buf = have("buf");
    for line in &lines {
        if line.starts_with("buf ") && !buf {
            continue;
        }
        let output = must(
            line,
            Command::new("sh")
                .args(["-c", line])
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let expected = if line.contains("--list-methods") {
            "inventory.v1.InventoryService/CheckStock"
        } else if line.contains("grpc.health.v1.Health/Check") {
            "SERVING"
        } else if line.contains("/metrics") {
            "grpc_server_started_total"
        } else {
            // The skeleton's handlers, over Connect and REST.
            "not implemented yet"
        };
        assert!(text.contains(expected), "{line}: {text}");
    }
    drop(running);

    // CI's steps: the generator's binary from the copy, then `check`.
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap();
    let install = workflow
        .lines()
        .find_map(|line| line.trim().strip_prefix("- run: cargo install "))
        .expect("CI installs the generator");
    assert_eq!(install, "--path vendor/protoc-gen-rust-svc", "{workflow}");
    let ci_bin = home.path().join("ci");
    must(
        "CI's cargo install",
        cargo_as_written(
            &dir,
            &[
                "install",
                "--path",
                "vendor/protoc-gen-rust-svc",
                "--debug",
                "--root",
                ci_bin.to_str().unwrap(),
            ],
        )
        .output()
        .expect("cargo runs"),
    );
    let check = Command::new(ci_bin.join("bin/protoc-gen-rust-svc"))
        .current_dir(&dir)
        .arg("check")
        .output()
        .unwrap();
    must("protoc-gen-rust-svc check (CI's)", check);
}

/// A git repository of the checkout as it is (its tracked files, uncommitted changes
/// included), at `path`; its commit.
fn repository_of_the_checkout(path: &Path) -> String {
    let git = |dir: &Path, args: &[&str]| {
        let output = Command::new("git")
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        must(&format!("git {args:?}"), output).stdout
    };
    let checkout = workspace();
    let files = git(
        &checkout,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    for name in files
        .split(|byte| *byte == 0)
        .filter(|name| !name.is_empty())
    {
        let name = std::str::from_utf8(name).unwrap();
        let from = checkout.join(name);
        let to = path.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        match std::fs::read_link(&from) {
            Ok(link) => std::os::unix::fs::symlink(link, &to).unwrap(),
            // Deleted in the working tree but still tracked: left out.
            Err(_) if !from.exists() => {}
            Err(_) => {
                std::fs::copy(&from, &to).unwrap();
            }
        }
    }
    git(path, &["init", "--quiet"]);
    git(path, &["add", "--all"]);
    git(
        path,
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "--quiet",
            "-m",
            "the checkout",
        ],
    );
    String::from_utf8(git(path, &["rev-parse", "HEAD"]))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
#[ignore = "slow: copies the checkout into a git repository; CI runs it"]
fn a_crate_scaffolded_with_a_git_runtime_resolves_it_from_the_repository() {
    let home = tempfile::tempdir().unwrap();
    let repository = home.path().join("repository");
    let rev = repository_of_the_checkout(&repository);
    let url = format!("file://{}", repository.display());
    let projects = home.path().join("projects");
    std::fs::create_dir(&projects).unwrap();
    // `new` through the library (the binary's `new` is the installed one's, above).
    let proto = workspace().join("proto");
    let dir = projects.join("inventory-git");
    let options = NewOptions {
        name: "inventory-git".to_owned(),
        protos: vec![proto.join("inventory/v1/inventory.proto")],
        includes: vec![proto],
        out: Some(dir.clone()),
        runtime: Some(format!("git={url},rev={rev}")),
        ..Default::default()
    };
    scaffold::new_crate(&options).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let source = format!(r#"git = "{url}", rev = "{rev}""#);
    assert!(manifest.contains(&source), "{manifest}");
    assert!(!dir.join("vendor").exists());
    let workflow = std::fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap();
    assert!(
        workflow.contains(&format!(
            "cargo install --git {url} --rev {rev} protoc-gen-rust-svc --locked"
        )),
        "{workflow}"
    );
    // Cargo resolves both crates from the repository (its workspace's inheritance included)
    // and the crate builds with them.
    let metadata = must(
        "cargo metadata",
        cargo_as_written(&dir, &["metadata", "--format-version", "1"])
            .output()
            .expect("cargo runs"),
    );
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    for package in [
        "rust-svc-runtime",
        "protoc-gen-rust-svc",
        "rust-svc-http-template",
    ] {
        let found = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|found| found["name"] == package)
            .unwrap_or_else(|| panic!("{package} is not in the graph"));
        let source = found["source"].as_str().unwrap();
        assert!(
            source.starts_with(&format!("git+{url}?rev={rev}")),
            "{package}: {source}"
        );
    }
    // With the workspace's features, sharing its builds of what the copies depend on: the
    // crate as written, with the runtime's features it names, builds in the test above.
    must("cargo build", cargo(&dir, &["build"]));
}
