//! `new` and `check` through the binary: what the scaffold writes (golden snapshots of every
//! file for the orders example), refusing to overwrite, `--force` with a file the user changed,
//! bad names and protos, user templates, and `check`'s exit status. Building and running the
//! scaffolded crates is in the workspace's tests crate (`tests/tests/scaffold.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::root;

const BINARY: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-svc");

fn run(args: &[&str]) -> Output {
    Command::new(BINARY)
        .current_dir(root())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// `new orders-svc` from the orders proto, calling inventory and dispatch, into `out`, with
/// `extra` arguments.
fn new_orders(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "new",
        "orders-svc",
        "-I",
        "proto",
        "--proto",
        "proto/orders/v1/orders.proto",
        "--proto",
        "proto/inventory/v1/inventory.proto",
        "--proto",
        "proto/dispatch/v1/dispatch.proto",
        "--client",
        "inventory.v1.InventoryService",
        "--client",
        "dispatch.v1.DispatchService",
        // A version, not a path, so that the snapshots hold no path of this machine.
        "--runtime",
        "0.1.0",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn failed(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}

/// Every file under `dir`, crate-relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn every_rendered_file_is_as_reviewed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("orders-svc");
    succeeded(&new_orders(&out, &[]));
    for file in files(&out) {
        // The protos are copies of proto/, not rendered.
        if file.starts_with("proto/") {
            assert_eq!(read(out.join(&file)), read(root().join(&file)), "{file}");
            continue;
        }
        let name = format!("orders_{}", file.replace(['/', '.'], "_"));
        insta::assert_snapshot!(name, read(out.join(&file)));
    }
    // With --buf: buf.gen.yaml instead of build.rs, and the code under src/generated.
    let buf = dir.path().join("buf-svc");
    succeeded(&new_orders(&buf, &["--buf"]));
    let written = files(&buf);
    assert!(!written.contains(&"build.rs".to_owned()), "{written:?}");
    insta::assert_snapshot!("orders_buf_buf_gen_yaml", read(buf.join("buf.gen.yaml")));
    insta::assert_snapshot!("orders_buf_src_proto_rs", read(buf.join("src/proto.rs")));
}

#[test]
fn a_directory_with_files_is_refused_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let error = failed(&new_orders(dir.path(), &[]));
    assert!(
        error.contains("is not empty") && error.contains("--force"),
        "{error}"
    );
    assert_eq!(files(dir.path()), ["notes.txt"]);
    // --force adds the scaffold beside what is there.
    succeeded(&new_orders(dir.path(), &["--force"]));
    assert_eq!(read(dir.path().join("notes.txt")), "mine");
    assert!(dir.path().join("src/order.rs").is_file());
}

#[test]
fn force_never_overwrites_a_file_the_user_changed_unless_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("orders-svc");
    succeeded(&new_orders(&out, &[]));
    let handler = out.join("src/order.rs");
    let scaffolded = read(handler.clone());
    let edited = scaffolded.replace("is not implemented yet", "is coming soon");
    std::fs::write(&handler, &edited).unwrap();
    std::fs::remove_file(out.join("Dockerfile")).unwrap();
    let readme = read(out.join("README.md"));

    let stdout = succeeded(&new_orders(&out, &["--force"]));
    assert!(
        stdout.contains("kept src/order.rs: you changed it") && stdout.contains("wrote Dockerfile"),
        "{stdout}"
    );
    assert_eq!(read(handler.clone()), edited, "the user's file is kept");
    assert!(
        out.join("Dockerfile").is_file(),
        "a missing file is written again"
    );
    assert_eq!(read(out.join("README.md")), readme);
    // Kept twice: the manifest still knows the file as changed.
    let stdout = succeeded(&new_orders(&out, &["--force"]));
    assert!(stdout.contains("kept src/order.rs"), "{stdout}");

    let stdout = succeeded(&new_orders(
        &out,
        &["--force", "--overwrite", "src/order.rs"],
    ));
    assert!(stdout.contains("wrote src/order.rs"), "{stdout}");
    assert_eq!(read(handler), scaffolded);

    let error = failed(&new_orders(
        &out,
        &["--force", "--overwrite", "src/nope.rs"],
    ));
    assert!(
        error.contains("--overwrite src/nope.rs: the scaffold writes no such file"),
        "{error}"
    );
}

#[test]
fn bad_names_are_errors_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let inventory = [
        "--proto",
        "proto/inventory/v1/inventory.proto",
        "-I",
        "proto",
    ];
    let with = |args: &[&str]| {
        let mut all = vec!["new"];
        all.extend_from_slice(args);
        all.extend_from_slice(&inventory);
        all.extend_from_slice(&["--out", out]);
        failed(&run(&all))
    };
    let error = with(&["1inventory"]);
    assert!(
        error.contains("invalid crate name \"1inventory\": it starts with a digit"),
        "{error}"
    );
    let error = with(&["inventory svc"]);
    assert!(error.contains("' ' is not allowed"), "{error}");
    let error = with(&["inventory", "--service", "inventory.v1.Nope"]);
    assert!(
        error.contains("--service inventory.v1.Nope: no such service")
            && error.contains("they define inventory.v1.InventoryService"),
        "{error}"
    );
    let error = with(&["inventory", "--client", "dispatch.v1.DispatchService"]);
    assert!(
        error.contains("--client dispatch.v1.DispatchService: no such service"),
        "{error}"
    );
    let error = with(&["inventory", "--client", "inventory.v1.InventoryService"]);
    assert!(error.contains("no service left to implement"), "{error}");
    assert!(!Path::new(out).exists(), "nothing is written on an error");
}

#[test]
fn a_proto_without_services_or_an_unwritable_place_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("types.proto"),
        "syntax = \"proto3\";\npackage types.v1;\nmessage Money { int64 units = 1; }\n",
    )
    .unwrap();
    let include = dir.path().to_str().unwrap();
    let proto = dir.path().join("types.proto");
    let out = dir.path().join("types-svc");
    let error = failed(&run(&[
        "new",
        "types-svc",
        "-I",
        include,
        "--proto",
        proto.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(error.contains("types.proto defines no service"), "{error}");

    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let error = failed(&new_orders(&blocker.join("orders-svc"), &[]));
    assert!(
        error.contains("cannot create the directory") && error.contains("a-file"),
        "{error}"
    );
}

#[test]
fn a_user_template_overrides_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("README.md"),
        "# {{ project.name }}, our way\n{% for service in project.services %}\n- {{ service.full_name }}: {{ service.methods|length }} rpcs{% endfor %}\n",
    )
    .unwrap();
    let custom = dir.path().join("custom");
    let plain = dir.path().join("plain");
    let templates_arg = templates.to_str().unwrap();
    succeeded(&new_orders(&custom, &["--templates", templates_arg]));
    succeeded(&new_orders(&plain, &[]));
    assert_eq!(
        read(custom.join("README.md")),
        "# orders-svc, our way\n\n- orders.v1.OrderService: 7 rpcs\n"
    );
    for file in files(&plain) {
        // The manifest differs by the README's hash.
        if file != "README.md" && file != ".rust-svc-scaffold.json" {
            assert_eq!(read(custom.join(&file)), read(plain.join(&file)), "{file}");
        }
    }

    // A misspelt field names the file and line; a file that overrides nothing is refused.
    std::fs::write(templates.join("README.md"), "# {{ project.nmae }}\n").unwrap();
    let error = failed(&new_orders(
        &dir.path().join("typo"),
        &["--templates", templates_arg],
    ));
    assert!(error.contains("README.md: line 1"), "{error}");
    std::fs::remove_file(templates.join("README.md")).unwrap();
    std::fs::write(templates.join("src_main.rs"), "").unwrap();
    let error = failed(&new_orders(
        &dir.path().join("stray"),
        &["--templates", templates_arg],
    ));
    assert!(
        error.contains("src_main.rs overrides no built-in template")
            && error.contains("src/main.rs"),
        "{error}"
    );
}

#[test]
fn check_passes_on_a_fresh_scaffold_and_fails_naming_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("orders-svc");
    succeeded(&new_orders(&out, &[]));
    let crate_dir = out.to_str().unwrap();
    let stdout = succeeded(&run(&["check", "--crate", crate_dir]));
    assert!(
        stdout.contains("orders.v1.OrderService: every one of its 7 rpcs has its handler"),
        "{stdout}"
    );

    let handler = out.join("src/order.rs");
    let source =
        read(handler.clone()).replacen("async fn list_orders(", "async fn list_all_orders(", 1);
    std::fs::write(&handler, source).unwrap();
    let output = run(&["check", "--crate", crate_dir]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("/orders.v1.OrderService/ListOrders has no handler"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("async fn list_orders(&self, ctx: &Context, request: pb::ListOrdersRequest)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`list_all_orders` handles no rpc"),
        "{stdout}"
    );
    assert!(stdout.contains("2 difference(s)"), "{stdout}");

    let error = failed(&run(&["check", "--crate", dir.path().to_str().unwrap()]));
    assert!(error.contains("has no .rust-svc-scaffold.json"), "{error}");
}
