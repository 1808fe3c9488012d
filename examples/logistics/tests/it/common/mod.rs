//! What the tests share: the real `logistics` binary, spawned on ephemeral ports and stopped
//! with SIGTERM, and clients for what it serves.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

pub mod dns;

/// How long a process may take to announce its ports or to exit before a test gives up. Not
/// a performance expectation: only so that a broken build fails instead of hanging CI.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// The arguments of `logistics all` on ephemeral loopback ports.
pub const ALL_ON_ANY_PORT: [&str; 7] = [
    "all",
    "--inventory-listen",
    "127.0.0.1:0",
    "--orders-listen",
    "127.0.0.1:0",
    "--dispatch-listen",
    "127.0.0.1:0",
];

/// A running `logistics` process; killed when dropped.
pub struct Logistics {
    child: Child,
    urls: HashMap<String, String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Logistics {
    /// `logistics all` on ephemeral ports, with `extra` arguments.
    pub fn all(extra: &[&str]) -> Self {
        let args: Vec<&str> = ALL_ON_ANY_PORT.iter().chain(extra).copied().collect();
        Self::spawn(&args, &["inventory", "orders", "dispatch"])
    }

    /// `logistics inventory` alone on an ephemeral port, with `extra` arguments.
    pub fn inventory(extra: &[&str]) -> Self {
        let args: Vec<&str> = ["inventory", "--listen", "127.0.0.1:0"]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        Self::spawn(&args, &["inventory"])
    }

    /// `logistics dispatch` alone on an ephemeral port.
    pub fn dispatch() -> Self {
        Self::spawn(&["dispatch", "--listen", "127.0.0.1:0"], &["dispatch"])
    }

    /// `logistics orders` alone on an ephemeral port, calling the inventories at
    /// `inventories` and dispatch at `dispatch`, with `extra` arguments.
    pub fn orders(inventories: &[String], dispatch: &str, extra: &[&str]) -> Self {
        let inventory = inventories.join(",");
        let args: Vec<&str> = [
            "orders",
            "--listen",
            "127.0.0.1:0",
            "--inventory",
            &inventory,
            "--dispatch",
            dispatch,
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect();
        Self::spawn(&args, &["orders"])
    }

    /// `logistics <args>`, once it has announced every service of `labels`.
    pub fn spawn(args: &[&str], labels: &[&str]) -> Self {
        Self::spawn_under(&[], args, labels)
    }

    /// `logistics <args>` run by `wrapper` (a program that execs the rest of its command line,
    /// such as `prlimit --nofile=64 --`; none when empty), once it has announced every service
    /// of `labels`.
    pub fn spawn_under(wrapper: &[&str], args: &[&str], labels: &[&str]) -> Self {
        let binary = env!("CARGO_BIN_EXE_logistics");
        let mut command = match wrapper.split_first() {
            None => Command::new(binary),
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(binary);
                command
            }
        };
        let mut child = command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the logistics binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("stderr is piped");
        // Read continuously, or the process would block once the pipe is full.
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let (lines, announced) = mpsc::channel();
        let pipe = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                // Later lines have no reader; keep draining the pipe all the same.
                let _ = lines.send(line);
            }
        });
        let mut running = Self {
            child,
            urls: HashMap::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        while running.urls.len() < labels.len() {
            let line = match announced.recv_timeout(HANG_GUARD) {
                Ok(line) => line,
                Err(_) => panic!(
                    "logistics {args:?} did not announce {labels:?}; stderr:\n{}",
                    running.stderr()
                ),
            };
            let (label, url) =
                parse_listening(&line).unwrap_or_else(|| panic!("not an address line: {line:?}"));
            assert!(labels.contains(&label), "unexpected service in {line:?}");
            running.urls.insert(label.to_owned(), url.to_owned());
        }
        running
    }

    /// The process id (of the binary itself: a wrapper execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The base URL of a service, `http://127.0.0.1:PORT`.
    pub fn url(&self, label: &str) -> String {
        self.urls[label].clone()
    }

    /// The address of a service, `127.0.0.1:PORT`, as non-Rust clients and `--listen` take it.
    pub fn addr(&self, label: &str) -> String {
        let url = &self.urls[label];
        url.strip_prefix("http://").unwrap_or(url).to_owned()
    }

    /// A lazily connecting gRPC channel to a service's port.
    pub fn channel(&self, label: &str) -> Channel {
        Endpoint::from_shared(self.url(label))
            .expect("the announced URL is valid")
            .connect_lazy()
    }

    /// What the process wrote to stderr so far (all of it once [`Logistics::exit`] returned).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as `kill`, systemd and container runtimes do.
    pub fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child's,
        // which is not reaped before `exit` or drop, so it names no other process.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM could not be sent");
    }

    /// Kills the process at once (SIGKILL), as a crash or the OOM killer would, and reaps it:
    /// its port is free again when this returns.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit, without blocking the async runtime (the test's clients
    /// may have to close their streams for the drain to end).
    pub async fn exit(&mut self) -> ExitStatus {
        let give_up = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                // The pipe is at its end: once the reader is done, `stderr` has every line.
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "logistics did not exit; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Logistics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `("inventory", "http://127.0.0.1:50051")` from `inventory listening on http://127.0.0.1:50051`.
pub fn parse_listening(line: &str) -> Option<(&str, &str)> {
    let (label, url) = line.split_once(" listening on ")?;
    url.starts_with("http://").then_some((label, url))
}

/// Runs `logistics <args>` to completion (the demo, or a server expected to fail at once).
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logistics"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the logistics binary runs")
}

/// A reqwest client for the REST, CORS, metrics and page tests.
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The text of `/metrics` on a service's port.
pub async fn metrics(system: &Logistics, label: &str) -> String {
    let response = http()
        .get(format!("{}/metrics", system.url(label)))
        .send()
        .await
        .expect("/metrics answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.expect("/metrics has a text body")
}

/// The value of the sample `name{labels}` in a Prometheus text exposition, `labels` written
/// as they are there (`breaker="…"`); `None` when there is no such sample.
pub fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let series = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map(|value| value.trim().parse().expect("a sample value is a number"))
}

/// The `grpc_client_breaker_state` gauge of `breaker` (`service/Method@target`): 0 closed,
/// 1 half-open, 2 open.
pub fn breaker_gauge(text: &str, breaker: &str) -> Option<f64> {
    sample(
        text,
        "grpc_client_breaker_state",
        &format!("breaker=\"{breaker}\""),
    )
}

/// An empty directory of the test `name`'s own under cargo's scratch space for integration
/// tests.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("logistics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("creating {dir:?}: {error}"));
    dir
}

/// The workspace's root, where `proto/` is.
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Whether `RUST_SVC_REQUIRE_<what>=1` asks for a test to run rather than be skipped.
fn required(variable: &str) -> bool {
    std::env::var(variable).as_deref() == Ok("1")
}

/// Says why the test `test` is skipped (a prerequisite is missing), or fails it when
/// `variable=1` requires it to run: the caller returns after this.
pub fn skip(test: &str, variable: &str, why: &str) {
    assert!(!required(variable), "{variable}=1 but {why}");
    // Straight to the process's stderr: the test harness captures `eprintln!` and shows it only
    // for failing tests, and a skip should be seen in the log of a passing run.
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

/// The Python interpreter of `RUST_SVC_PYTHON` (default `python3`) if it imports every one of
/// `modules`; else why not: which modules it lacks, or that it does not run.
pub fn python_with(modules: &[&str]) -> Result<String, String> {
    let interpreter = std::env::var("RUST_SVC_PYTHON").unwrap_or_else(|_| "python3".into());
    // Names each module that does not import, so that the message says what to install.
    let probe = format!(
        "import importlib\n\
         missing = []\n\
         for name in {modules:?}:\n    \
             try: importlib.import_module(name)\n    \
             except ImportError: missing.append(name)\n\
         print(' '.join(missing))"
    );
    let named = format!("`{interpreter}` (RUST_SVC_PYTHON)");
    match Command::new(&interpreter).args(["-c", &probe]).output() {
        Ok(output) if output.status.success() => {
            match String::from_utf8_lossy(&output.stdout).trim() {
                "" => Ok(interpreter),
                missing => Err(format!("{named} cannot import {missing}")),
            }
        }
        Ok(output) => Err(format!(
            "{named} does not run ({}: {})",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Err(format!("{named} does not run: {error}")),
    }
}

/// Whether `program` is an executable on `PATH` (or, with a slash, at that path).
pub fn on_path(program: &str) -> bool {
    let executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(program)))
    })
}

/// Runs `command` to its end, killing it after `guard` (a hang guard, not a performance
/// expectation); its output, or a panic naming `what` when it hung.
pub fn output_within(mut command: Command, what: &str, guard: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {what}: {error}"));
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(guard).is_err() {
        // Not reaped by the waiter yet (it would have said so), so the pid is still the child's.
        let pid = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; see `Logistics::terminate`.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let output = waiter.join().expect("the waiter does not panic");
        let output = output.expect("the child can be waited on");
        panic!(
            "{what} did not finish within {guard:?}; stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    waiter
        .join()
        .expect("the waiter does not panic")
        .unwrap_or_else(|error| panic!("waiting for {what}: {error}"))
}

/// Units of `sku` an inventory has available (its demo stock less what is reserved).
pub async fn available(
    inventory: &example_services::inventory::v1::InventoryServiceClient,
    sku: &str,
) -> i32 {
    use example_services::inventory::v1::{CheckStockRequest, InventoryService};
    let request = CheckStockRequest {
        sku: sku.into(),
        ..Default::default()
    };
    inventory
        .check_stock(&rust_svc_runtime::Context::new(), request)
        .await
        .expect("the demo SKUs are known")
        .available
}
