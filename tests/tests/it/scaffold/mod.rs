//! `protoc-gen-rust-svc new` end to end: a crate scaffolded from each example proto builds,
//! passes clippy with `-D warnings`, `cargo fmt --check` and its own tests, and its binary
//! serves health, reflection and an rpc by gRPC and by REST until SIGTERM. A changed proto
//! fails the build only in the user's handlers, `check` names each change, and no user file
//! changes. Real-world protos scaffold as well (`real_world`); a buf scaffold generates with
//! buf, and the scaffold's Kubernetes manifest and Dockerfile pass their checks (`packaging`).
//!
//! The scaffolded crates build in this workspace's target directory (with its profile), so
//! that the dependencies they share with the workspace are not built again.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use example_services::dispatch::v1::{
    DispatchService, DispatchServiceClient, GetCourierStatusRequest,
};
use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient,
};
use example_services::orders::v1::{GetOrderRequest, OrderService, OrderServiceClient};
use protoc_gen_rust_svc::scaffold::{self, Manifest, NewOptions};
use rust_svc_runtime::{Code, Context, Status};

mod outside;
mod packaging;
mod real_world;

/// The workspace's root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The target directory this test was built in (`…/target/debug/deps/it-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// `cargo ARGS` in `dir`, in the workspace's target directory and with its dev profile.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    cargo_command(dir, args).output().expect("cargo runs")
}

/// [`cargo`] with clippy's lints, warnings denied, run by the compiler that builds the crate:
/// what `cargo clippy --all-targets -- -D warnings` checks, without the check-mode build of
/// every dependency that `cargo clippy` needs beside the real build (a minute and a half on
/// 2 cores). `cargo clippy` itself does it this way, over `cargo check`: clippy-driver as the
/// workspace members' compiler wrapper, the lint flags in `CLIPPY_ARGS`. Only the scaffolded
/// crate is compiled by clippy-driver; its dependencies are the builds the plain commands share.
fn cargo_linted(dir: &Path, args: &[&str]) -> Output {
    cargo_command(dir, args)
        .env("RUSTC_WORKSPACE_WRAPPER", clippy_driver())
        .env(
            "CLIPPY_ARGS",
            ["-D", "warnings"].join(CLIPPY_ARGS_SEPARATOR),
        )
        .output()
        .expect("cargo runs")
}

/// How `cargo clippy` separates the arguments it hands clippy-driver in `CLIPPY_ARGS`.
const CLIPPY_ARGS_SEPARATOR: &str = "__CLIPPY_HACKERY__";

/// clippy-driver of the toolchain running the tests: beside its cargo, else on the `PATH`.
fn clippy_driver() -> PathBuf {
    std::env::var_os("CARGO")
        .map(|cargo| Path::new(&cargo).with_file_name("clippy-driver"))
        .filter(|driver| driver.exists())
        .unwrap_or_else(|| PathBuf::from("clippy-driver"))
}

fn cargo_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = cargo_as_written(dir, args);
    // A scaffold turns on only the runtime features its artifacts use (and TLS is its own
    // feature): built so, the runtime, tonic and axum would be compiled a second time beside
    // the workspace's builds of them, with all the features. Here the scaffold builds with the
    // workspace's features, sharing those builds; `outside.rs` (CI) and
    // bench/scaffold_build.sh build it as written.
    if matches!(args.first(), Some(&("build" | "test" | "run" | "check"))) {
        command.args(["--features", "tls,rust-svc-runtime/default"]);
    }
    command
}

/// [`cargo_command`] with the crate's own features, as a user builds it.
fn cargo_as_written(dir: &Path, args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .args([
            "--config",
            "profile.dev.debug=\"line-tables-only\"",
            "--config",
            "profile.dev.package.\"*\".debug=false",
        ])
        .args(args)
        .stdin(Stdio::null())
        // Lints are [`cargo_linted`]'s to ask for: not inherited from a CI that builds the
        // workspace with clippy as its compiler (.ci/run).
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS");
    command
}

fn must(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// An example proto to scaffold from, and how to reach its first rpc.
struct Example {
    name: &'static str,
    protos: &'static [&'static str],
    clients: &'static [&'static str],
    rest_path: &'static str,
}

const EXAMPLES: [Example; 3] = [
    Example {
        name: "inventory-svc",
        protos: &["inventory"],
        clients: &[],
        rest_path: "/v1/items/SKU-1/stock",
    },
    Example {
        name: "orders-svc",
        protos: &["orders", "inventory", "dispatch"],
        clients: &[
            "inventory.v1.InventoryService",
            "dispatch.v1.DispatchService",
        ],
        rest_path: "/v1/orders/o-1",
    },
    Example {
        name: "dispatch-svc",
        protos: &["dispatch"],
        clients: &[],
        rest_path: "/v1/couriers/c-1/status",
    },
];

/// Scaffolds `example` under `parent`, depending on this workspace's runtime, with this
/// workspace's lock file (the same dependency versions, nothing to resolve).
fn scaffold(example: &Example, parent: &Path) -> PathBuf {
    scaffold_as(example, example.name, parent)
}

/// [`scaffold`] under another crate name: crates built at the same time in one target
/// directory must not share a name, or they share the build script's output.
fn scaffold_as(example: &Example, name: &str, parent: &Path) -> PathBuf {
    let root = workspace();
    let out = parent.join(name);
    let options = NewOptions {
        name: name.to_owned(),
        protos: example
            .protos
            .iter()
            .map(|name| root.join(format!("proto/{name}/v1/{name}.proto")))
            .collect(),
        includes: vec![root.join("proto")],
        clients: example
            .clients
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
        out: Some(out.clone()),
        runtime: Some(root.join("runtime").to_str().unwrap().to_owned()),
        ..Default::default()
    };
    scaffold::new_crate(&options).unwrap_or_else(|error| panic!("{}: {error}", example.name));
    std::fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock")).unwrap();
    out
}

/// The flags naming the services `example` calls; never called, as the handlers are the
/// skeleton's.
fn client_urls(example: &Example) -> Vec<&'static str> {
    example
        .clients
        .iter()
        .flat_map(|client| {
            let flag = if client.starts_with("inventory") {
                "--inventory-url"
            } else {
                "--dispatch-url"
            };
            [flag, "http://127.0.0.1:9"]
        })
        .collect()
}

/// The scaffolded binary, started on a free loopback port; its address once it listens.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    fn start(example: &Example) -> Self {
        Self::start_binary(example.name, &client_urls(example))
    }

    /// The scaffolded binary `name`, with `args` after `--listen`.
    fn start_binary(name: &str, args: &[&str]) -> Self {
        let binary = target_dir().join("debug").join(name);
        let mut child = Command::new(&binary)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("{}: {error}", binary.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{name}: printed {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGTERM, then the exit status, waiting at most 20 s.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        must(
            "kill",
            Command::new("kill").args(["-TERM", &pid]).output().unwrap(),
        );
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The first rpc of `example`'s service, called by gRPC through the example's generated client
/// (the same proto).
async fn call_by_grpc(example: &Example, url: &str) -> Status {
    let ctx = Context::new().with_timeout(Duration::from_secs(5));
    let result = match example.name {
        "inventory-svc" => InventoryServiceClient::connect_lazy([url])
            .unwrap()
            .check_stock(&ctx, CheckStockRequest::default())
            .await
            .map(drop),
        "orders-svc" => OrderServiceClient::connect_lazy([url])
            .unwrap()
            .get_order(&ctx, GetOrderRequest::default())
            .await
            .map(drop),
        _ => DispatchServiceClient::connect_lazy([url])
            .unwrap()
            .get_courier_status(&ctx, GetCourierStatusRequest::default())
            .await
            .map(drop),
    };
    result.expect_err("the skeleton answers UNIMPLEMENTED")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_example_proto_scaffolds_a_crate_that_builds_lints_tests_and_serves() {
    let parent = tempfile::tempdir().unwrap();
    for example in &EXAMPLES {
        let dir = scaffold(example, parent.path());
        // Built and tested with clippy's lints: every target `cargo test` builds (the
        // library, the binary, the build script, the tests and examples) is linted.
        must("cargo build (linted)", cargo_linted(&dir, &["build"]));
        let tests = must("cargo test (linted)", cargo_linted(&dir, &["test"]));
        let report = String::from_utf8_lossy(&tests.stdout);
        assert!(report.contains("called_directly ... ok"), "{report}");
        assert!(report.contains("over_grpc ... ok"), "{report}");
        must("cargo fmt --check", cargo(&dir, &["fmt", "--check"]));

        let running = Running::start(example);
        let url = running.url();
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(health.status, 1, "{}: SERVING", example.name);
        let services = reflection_services(channel).await;
        let service = format!("{}.v1.", example.protos[0]);
        assert!(
            services.iter().any(|name| name.starts_with(&service)),
            "{}: reflection lists {services:?}",
            example.name
        );
        assert_eq!(
            call_by_grpc(example, &url).await.code(),
            Code::Unimplemented
        );
        let response = reqwest::get(format!("{url}{}", example.rest_path))
            .await
            .unwrap();
        assert_eq!(response.status(), 501, "{}", example.rest_path);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], 12, "{body}");
        // A second process on the same port ends at once, saying why.
        let binary = target_dir().join("debug").join(example.name);
        let refused = Command::new(&binary)
            .args(["--listen", &running.addr])
            .args(client_urls(example))
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(1));
        let message = String::from_utf8_lossy(&refused.stderr);
        assert!(
            message.contains(&format!(
                "cannot listen on {}: address already in use",
                running.addr
            )),
            "{message}"
        );
        let status = running.terminate();
        assert!(
            status.success(),
            "{}: exit {status:?} after SIGTERM",
            example.name
        );
    }
    lints_are_checked(&parent.path().join(EXAMPLES[0].name));
}

/// The linted build fails on a clippy lint: the check above is not vacuous (a missing or
/// ignored clippy-driver would pass every crate).
fn lints_are_checked(dir: &Path) {
    std::fs::write(
        dir.join("tests/lint_probe.rs"),
        "#[test]\nfn probe() {\n    let empty: Vec<u8> = Vec::new();\n    assert!(empty.len() == 0);\n}\n",
    )
    .unwrap();
    let probe = cargo_linted(dir, &["test", "--no-run", "--test", "lint_probe"]);
    let stderr = String::from_utf8_lossy(&probe.stderr);
    assert!(!probe.status.success(), "the probe passed clippy: {stderr}");
    assert!(stderr.contains("clippy::len_zero"), "{stderr}");
}

/// The services reflection (v1) lists on `channel`.
async fn reflection_services(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("not a list of services: {other:?}"),
    }
}

/// Every file the manifest of `dir` records, with its text now.
fn user_files(dir: &Path) -> BTreeMap<String, String> {
    let manifest = Manifest::read(dir).unwrap().unwrap();
    manifest
        .files
        .keys()
        .map(|file| {
            (
                file.clone(),
                std::fs::read_to_string(dir.join(file)).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_changed_proto_fails_the_build_only_where_the_user_acts() {
    let parent = tempfile::tempdir().unwrap();
    let dir = scaffold_as(&EXAMPLES[0], "inventory-changed", parent.path());
    must("cargo build", cargo(&dir, &["build"]));
    let before = user_files(&dir);

    // Add an rpc, remove one, and change the request of a third.
    let proto_file = "proto/inventory/v1/inventory.proto";
    let proto = before[proto_file].clone();
    let start = proto.find("  rpc ReleaseReservation(").unwrap();
    let end = start + proto[start..].find("\n  }\n").unwrap() + "\n  }\n".len();
    let changed = format!("{}{}", &proto[..start], &proto[end..])
        .replace(
            "rpc WatchStockLevels(WatchStockLevelsRequest)",
            "rpc WatchStockLevels(CheckStockRequest)",
        )
        .replacen(
            "  rpc CheckStock(",
            "  // Counts the SKUs a warehouse stocks.\n  rpc CountSkus(CheckStockRequest) returns (CheckStockResponse);\n\n  rpc CheckStock(",
            1,
        );
    std::fs::write(dir.join(proto_file), &changed).unwrap();

    let build = cargo(&dir, &["build", "--message-format", "short"]);
    assert!(!build.status.success(), "the build must fail");
    let errors: Vec<String> = String::from_utf8_lossy(&build.stderr)
        .lines()
        .filter(|line| line.contains(": error"))
        .map(str::to_owned)
        .collect();
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|line| line.starts_with("src/inventory.rs:")),
        "errors outside the handlers: {errors:#?}"
    );
    for (code, what) in [
        ("E0046", "count_skus"),
        ("E0407", "release_reservation"),
        ("E0053", "watch_stock_levels"),
    ] {
        assert!(
            errors
                .iter()
                .any(|line| line.contains(code) && line.contains(what)),
            "no {code} about {what}: {errors:#?}"
        );
    }

    let report = scaffold::check::check_crate(&dir).unwrap();
    let findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(findings.iter().any(|f| f.contains("/inventory.v1.InventoryService/CountSkus has no handler")
        && f.contains("async fn count_skus(&self, ctx: &Context, request: pb::CheckStockRequest) -> Result<pb::CheckStockResponse, Status>")));
    assert!(
        findings
            .iter()
            .any(|f| f.contains("`release_reservation` handles no rpc"))
    );
    assert!(findings.iter().any(
        |f| f.contains("`watch_stock_levels` does not have the signature")
            && f.contains(
                "the request is `WatchStockLevelsRequest`, the proto's `CheckStockRequest`"
            )
    ));

    let mut after = user_files(&dir);
    assert_eq!(after.remove(proto_file).as_deref(), Some(changed.as_str()));
    let mut unchanged = before;
    unchanged.remove(proto_file);
    assert_eq!(after, unchanged, "no user file changed");
}
