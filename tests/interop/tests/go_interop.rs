//! grpc-go's interop programs against the generated code, both ways (issue 30): grpc-go's
//! `interop/client` runs every test case it has for a plain-TCP, credential-free client against
//! `interop_server`, and `interop_client` runs every case it has against grpc-go's
//! `interop/server`. Each case is a process of its own with a time limit, so a hang fails the
//! case instead of blocking the run; every failure is reported, not only the first.
//!
//! grpc-go's programs are `client` and `server` in the directory `RUST_SVC_GO_INTEROP_BIN`
//! names, else in `$(go env GOPATH)/bin`, as
//!
//! ```sh
//! GOBIN="$DIR" go install google.golang.org/grpc/interop/client@v1.85.0 \
//!     google.golang.org/grpc/interop/server@v1.85.0
//! ```
//!
//! installs them. Without them the two Go tests print "skipped" and pass, unless
//! `RUST_SVC_REQUIRE_GO_INTEROP=1` (CI) makes that a failure. The compression cases, which
//! grpc-go's server does not support, run between our own two programs and need no Go.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "GOBIN=\"$DIR\" go install google.golang.org/grpc/interop/client@v1.85.0 \
                       google.golang.org/grpc/interop/server@v1.85.0";

/// How long one case (one client process) may take.
const CASE_TIMEOUT: Duration = Duration::from_secs(90);

/// What both clients run against the other side's server: every case of the spec that needs
/// neither TLS nor credentials, and that grpc-go's server supports.
const COMMON_CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
];

/// grpc-go's client runs these against our server too: `pick_first_unary` (100 calls that
/// must all reach one server, by `fill_server_id`), the two soak tests (large unary calls on
/// one channel, and on a channel each) and `orca_per_rpc` (a load report in a trailer, read by
/// grpc-go's test balancer, which [`ORCA_SERVICE_CONFIG`] picks). Not run: the credential and
/// ALTS cases (TLS and Google credentials), and `orca_oob`, whose out-of-band load reports come
/// from a service (`xds.service.orca.v3.OpenRcaService`) the interop protos do not have.
const GO_CLIENT_ONLY_CASES: &[&str] = &[
    "pick_first_unary",
    "rpc_soak",
    "channel_soak",
    "orca_per_rpc",
];

/// The service config grpc-go's own interop script gives its client for the ORCA cases.
const ORCA_SERVICE_CONFIG: &str =
    r#"{"loadBalancingConfig": [{"test_backend_metrics_load_balancer": {}}]}"#;

/// Our client runs these against grpc-go's server too. They check what the generated client
/// can see: that the calls succeed with the right payloads (not the compressed flag of each
/// response, which the client does not show; grpc-go's server never compresses).
const SERVER_COMPRESSION_CASES: &[&str] =
    &["server_compressed_unary", "server_compressed_streaming"];

/// Our client runs these against our server only: grpc-go's interop server has no gzip
/// decompressor (it answers a compressed request `UNIMPLEMENTED`) and does not check
/// `expect_compressed` (the cases' probe, which must fail, succeeds).
const CLIENT_COMPRESSION_CASES: &[&str] =
    &["client_compressed_unary", "client_compressed_streaming"];

/// Kills the process when dropped, so that a failing test leaves no server behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory for the clients' logs, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("go_interop-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("creating {dir:?}: {error}"));
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// grpc-go's interop `client` and `server`.
struct GoInterop {
    client: PathBuf,
    server: PathBuf,
}

impl GoInterop {
    /// The two programs, or `None` (after saying why) when they are missing and not required.
    fn find(test: &str) -> Option<Self> {
        match Self::locate() {
            Ok(found) => Some(found),
            Err(why) => {
                let why = format!(
                    "{why}: install them with `{INSTALL}` and set RUST_SVC_GO_INTEROP_BIN=\"$DIR\""
                );
                if std::env::var("RUST_SVC_REQUIRE_GO_INTEROP").as_deref() == Ok("1") {
                    panic!("RUST_SVC_REQUIRE_GO_INTEROP=1 but {why}");
                }
                eprintln!("skipped: {test}: {why}");
                None
            }
        }
    }

    fn locate() -> Result<Self, String> {
        let dir = match std::env::var_os("RUST_SVC_GO_INTEROP_BIN") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let output = Command::new("go")
                    .args(["env", "GOPATH"])
                    .output()
                    .map_err(|error| {
                        format!(
                            "RUST_SVC_GO_INTEROP_BIN is not set and `go` does not run ({error})"
                        )
                    })?;
                let gopath = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                if !output.status.success() || gopath.is_empty() {
                    return Err(
                        "RUST_SVC_GO_INTEROP_BIN is not set and `go env GOPATH` says nothing"
                            .into(),
                    );
                }
                // GOPATH may list several directories; `go install` writes to the first.
                let first = std::env::split_paths(&gopath).next().unwrap_or_default();
                first.join("bin")
            }
        };
        let found = Self {
            client: dir.join("client"),
            server: dir.join("server"),
        };
        for (program, flag) in [(&found.client, "-test_case"), (&found.server, "-use_alts")] {
            if !program.is_file() {
                return Err(format!(
                    "grpc-go's interop {} is not there",
                    program.display()
                ));
            }
            // `client` and `server` are common names: check that they are grpc-go's, whose
            // usage (Go's flag package, on -help) lists their flags.
            let usage = Command::new(program)
                .arg("-help")
                .output()
                .map_err(|error| format!("{} does not run ({error})", program.display()))?;
            if !String::from_utf8_lossy(&usage.stderr).contains(flag) {
                return Err(format!(
                    "{} is not grpc-go's interop program (its usage has no {flag})",
                    program.display()
                ));
            }
        }
        Ok(found)
    }
}

/// A free loopback port (free when this returns: the listener is closed).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// Waits until `port` accepts connections, failing if `server` exits first.
fn wait_for_port(server: &mut Child, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!("{what} exited ({status}) before listening on port {port}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} does not listen on port {port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts our interop_server on a free port and returns it with the port it listens on.
fn start_rust_server() -> (KillOnDrop, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_interop_server"))
        .args(["--port=0", "--use_tls=false"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting interop_server");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading interop_server's first line");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("interop_server said {line:?}, not `listening on …:PORT`"));
    (server, port)
}

/// Runs `command` for at most [`CASE_TIMEOUT`], its output in `log`: its exit status, or
/// `None` when it had to be killed.
fn run_with_timeout(mut command: Command, log: &Path) -> Option<ExitStatus> {
    let file = File::create(log).expect("creating a log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("cloning the log file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|error| panic!("starting {command:?}: {error}"));
    let deadline = Instant::now() + CASE_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a client") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `client` once per case against the server on `port` and fails with every failed case.
fn run_cases(direction: &str, scratch: &Scratch, cases: &[&str], client: impl Fn(&str) -> Command) {
    let mut failures = Vec::new();
    for case in cases {
        let log = scratch.0.join(format!("{case}.log"));
        let started = Instant::now();
        let status = run_with_timeout(client(case), &log);
        let output = fs::read_to_string(&log).unwrap_or_default();
        match status {
            Some(status) if status.success() => {
                eprintln!("{direction}: {case} ok ({:.1?})", started.elapsed());
            }
            Some(status) => failures.push(format!("{case}: {status}\n{}", output.trim_end())),
            None => failures.push(format!(
                "{case}: no result within {CASE_TIMEOUT:?}, killed\n{}",
                output.trim_end()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{direction}: {} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Our client, for `case`, against the server on `port`.
fn rust_client(port: u16, case: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop_client"));
    command.args([
        "--server_host=127.0.0.1".to_owned(),
        format!("--server_port={port}"),
        format!("--test_case={case}"),
        "--use_tls=false".to_owned(),
    ]);
    command
}

#[test]
fn grpc_go_client_passes_every_case_against_the_generated_server() {
    let test = "go_client_rust_server";
    let Some(go) = GoInterop::find(test) else {
        return;
    };
    let scratch = Scratch::new(test);
    let (_server, port) = start_rust_server();
    let cases: Vec<&str> = COMMON_CASES
        .iter()
        .chain(GO_CLIENT_ONLY_CASES)
        .copied()
        .collect();
    run_cases(
        "grpc-go client -> interop_server",
        &scratch,
        &cases,
        |case| {
            let mut command = Command::new(&go.client);
            command.args([
                "--server_host=127.0.0.1".to_owned(),
                format!("--server_port={port}"),
                format!("--test_case={case}"),
                "--use_tls=false".to_owned(),
            ]);
            if case.starts_with("orca_") {
                command.arg(format!("--service_config_json={ORCA_SERVICE_CONFIG}"));
            }
            command
        },
    );
}

#[test]
fn generated_client_passes_every_case_against_grpc_go_server() {
    let test = "rust_client_go_server";
    let Some(go) = GoInterop::find(test) else {
        return;
    };
    let scratch = Scratch::new(test);
    let port = free_port();
    let mut child = Command::new(&go.server)
        .args([format!("--port={port}"), "--use_tls=false".to_owned()])
        .stdin(Stdio::null())
        .spawn()
        .expect("starting grpc-go's interop server");
    wait_for_port(&mut child, port, "grpc-go's interop server");
    let _server = KillOnDrop(child);
    let cases: Vec<&str> = COMMON_CASES
        .iter()
        .chain(SERVER_COMPRESSION_CASES)
        .copied()
        .collect();
    run_cases(
        "interop_client -> grpc-go server",
        &scratch,
        &cases,
        |case| rust_client(port, case),
    );
}

/// The whole of our client's list against our server, the compression cases grpc-go's server
/// cannot take included; no Go needed.
#[test]
fn generated_client_passes_every_case_against_the_generated_server() {
    let scratch = Scratch::new("rust_client_rust_server");
    let (_server, port) = start_rust_server();
    let cases: Vec<&str> = COMMON_CASES
        .iter()
        .chain(SERVER_COMPRESSION_CASES)
        .chain(CLIENT_COMPRESSION_CASES)
        .copied()
        .collect();
    run_cases(
        "interop_client -> interop_server",
        &scratch,
        &cases,
        |case| rust_client(port, case),
    );
}
