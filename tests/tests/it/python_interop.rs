//! Per-call metadata against another gRPC implementation, Python's grpcio (tests/python): the
//! generated client's request metadata (ASCII and base64-encoded `-bin`) reaches a grpcio server
//! and that server's headers and trailers reach `ctx.response()`; headers and trailers a Rust
//! handler sets reach a grpcio client.
//!
//! The interpreter is `RUST_SVC_PYTHON` (default `python3`) and needs grpcio, grpcio-tools and
//! googleapis-common-protos. Without them the tests print "skipped" and pass, unless
//! `RUST_SVC_REQUIRE_PYTHON=1` (CI) makes that a failure.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;
use rust_svc_runtime::Code;
use rust_svc_tests::tests::metadata::{Blob, MetadataEcho, MetadataEchoClient, MetadataEchoGrpc};
use serde_json::Value;

use crate::metadata_common::{Echo, bytes, tenant_context, text};

const INSTALL: &str = "pip install grpcio grpcio-tools googleapis-common-protos";

/// Kills the process when dropped, so that a failing test leaves no Python behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory under cargo's scratch space for integration tests, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("python_interop-{}-{test}", std::process::id()));
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

/// A Python interpreter with grpcio, and the stubs of tests/protos/metadata.proto it imports.
struct Python {
    interpreter: String,
    scratch: Scratch,
}

impl Python {
    /// The interpreter with stubs generated for `test`, or `None` (after saying why) when it
    /// lacks the packages and they are not required.
    fn find(test: &str) -> Option<Self> {
        let interpreter = std::env::var("RUST_SVC_PYTHON").unwrap_or_else(|_| "python3".into());
        // Names each module that does not import, so that the message says what to install.
        let probe = "import importlib\n\
                     missing = []\n\
                     for name in ('grpc', 'grpc_tools', 'google.api.annotations_pb2'):\n    \
                         try: importlib.import_module(name)\n    \
                         except ImportError: missing.append(name)\n\
                     print(' '.join(missing))";
        let missing = match Command::new(&interpreter).args(["-c", probe]).output() {
            Ok(output) if output.status.success() => {
                String::from_utf8_lossy(&output.stdout).trim().to_owned()
            }
            Ok(output) => format!(
                "a working interpreter ({}: {})",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => format!("the interpreter itself ({error})"),
        };
        if !missing.is_empty() {
            let why = format!(
                "`{interpreter}` lacks {missing}: run `{INSTALL}` for it, or point \
                 RUST_SVC_PYTHON at an interpreter that has them"
            );
            if std::env::var("RUST_SVC_REQUIRE_PYTHON").as_deref() == Ok("1") {
                panic!("RUST_SVC_REQUIRE_PYTHON=1 but {why}");
            }
            eprintln!("skipped: {test}: {why}");
            return None;
        }
        let python = Self {
            interpreter,
            scratch: Scratch::new(test),
        };
        python.generate_stubs();
        Some(python)
    }

    /// metadata_pb2 and metadata_pb2_grpc in the scratch directory. google/api/annotations_pb2
    /// comes from googleapis-common-protos: a generated `google` package there would shadow
    /// protobuf's.
    fn generate_stubs(&self) {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = self.scratch.0.display();
        let output = Command::new(&self.interpreter)
            .args(["-m", "grpc_tools.protoc"])
            .arg(format!("-I{}", tests.join("protos").display()))
            .arg(format!("-I{}", tests.join("../proto").display()))
            .arg(format!("--python_out={out}"))
            .arg(format!("--grpc_python_out={out}"))
            .arg(tests.join("protos/metadata.proto"))
            .output()
            .expect("running grpc_tools.protoc");
        assert!(
            output.status.success(),
            "grpc_tools.protoc failed on metadata.proto ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// tests/python/`script` with the stubs importable and its stderr in a scratch file (read
    /// back for failure messages; a file cannot fill up and block it as a pipe can).
    fn command(&self, script: &str) -> (Command, PathBuf) {
        let stderr = self.scratch.0.join(format!("{script}.stderr"));
        let mut command = Command::new(&self.interpreter);
        command
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("python")
                    .join(script),
            )
            .env("PYTHONPATH", &self.scratch.0)
            .stderr(File::create(&stderr).expect("creating the stderr file"));
        (command, stderr)
    }

    /// Starts metadata_echo_server.py and returns it with the port it printed once listening.
    fn serve(&self) -> (KillOnDrop, u16) {
        let (mut command, stderr) = self.command("metadata_echo_server.py");
        // The server serves until its stdin closes: held open by the child handle, and closed
        // by the OS should this test process die before killing it.
        let mut server = KillOnDrop(
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting the Python server"),
        );
        let mut line = String::new();
        BufReader::new(server.0.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("reading the Python server's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "the Python server printed {line:?} instead of its port ({:?}); its stderr:\n{}",
                server.0.try_wait(),
                read(&stderr)
            )
        });
        (server, port)
    }

    /// Runs metadata_echo_client.py against `addr` and returns the JSON object it printed.
    async fn run_client(&self, addr: SocketAddr) -> Value {
        let (mut command, stderr) = self.command("metadata_echo_client.py");
        let client = KillOnDrop(
            command
                .arg(addr.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting the Python client"),
        );
        // Off the runtime: the server the client calls runs on it.
        let (status, stdout) = tokio::task::spawn_blocking(move || {
            let mut client = client;
            let mut stdout = String::new();
            std::io::Read::read_to_string(&mut client.0.stdout.take().unwrap(), &mut stdout)
                .expect("reading the Python client's output");
            (
                client.0.wait().expect("waiting for the Python client"),
                stdout,
            )
        })
        .await
        .unwrap();
        assert!(
            status.success(),
            "the Python client failed ({status}); its stderr:\n{}",
            read(&stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|error| panic!("the Python client printed {stdout:?}: {error}"))
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| format!("({path:?} unreadable: {error})"))
}

#[tokio::test]
async fn grpcio_receives_per_call_metadata_and_its_headers_and_trailers_reach_the_context() {
    let Some(python) = Python::find("grpcio_server") else {
        return;
    };
    let (_server, port) = python.serve();
    let client = MetadataEchoClient::connect_lazy([format!("http://127.0.0.1:{port}")]).unwrap();

    // Four bytes: their base64 needs padding, which grpcio leaves out when it answers; 0xff is
    // not valid UTF-8.
    let ctx = tenant_context("rust", &[0, 255, 10, 13]);
    let reply = client
        .echo(
            &ctx,
            Blob {
                data: b"abcd".to_vec(),
                ..Blob::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reply.data, b"abcd");
    let headers = ctx.response().headers().clone();
    assert_eq!(
        text(&headers, "x-seen-tenant"),
        Some("rust"),
        "headers: {headers:?}"
    );
    assert_eq!(
        bytes(&headers, "x-seen-blob-bin").as_deref(),
        Some(&[0, 255, 10, 13][..]),
        "grpcio decodes the -bin value we base64-encoded and re-encodes it; headers: {headers:?}"
    );
    let trailers = ctx.response().trailers().clone();
    assert_eq!(
        text(&trailers, "x-received-bytes"),
        Some("4"),
        "trailers: {trailers:?}"
    );
    assert_eq!(
        bytes(&trailers, "x-trailer-bin").as_deref(),
        Some(&[1, 2, 3][..]),
        "trailers: {trailers:?}"
    );

    // A stream: headers before the messages, trailers after the last.
    let ctx = tenant_context("streamer", b"\x01");
    let items: Vec<_> = client
        .repeat(
            &ctx,
            Blob {
                count: 3,
                ..Blob::default()
            },
        )
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(
        text(&ctx.response().headers(), "x-seen-tenant"),
        Some("streamer")
    );
    assert_eq!(text(&ctx.response().trailers(), "x-sent"), Some("3"));

    // A failed call: grpcio sends the status and metadata in one trailers-only response.
    let ctx = tenant_context("umbrella", b"x");
    let status = client
        .echo(
            &ctx,
            Blob {
                fail_with: Code::NotFound as i32,
                ..Blob::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let trailers = ctx.response().trailers().clone();
    assert_eq!(
        text(&trailers, "x-seen-tenant"),
        Some("umbrella"),
        "trailers: {trailers:?}"
    );
    assert_eq!(
        text(&trailers, "x-received-bytes"),
        Some("0"),
        "trailers: {trailers:?}"
    );
}

#[tokio::test]
async fn a_grpcio_client_sees_the_headers_and_trailers_a_rust_handler_set() {
    let Some(python) = Python::find("grpcio_client") else {
        return;
    };
    let harness = MetadataEchoGrpc::serve_loopback(Echo).await.unwrap();
    let got = python.run_client(harness.local_addr().unwrap()).await;

    // The client sends "hello", `x-tenant: python` and `x-blob-bin: 00 ff`; -bin values are
    // printed as hex.
    let echo = &got["echo"];
    assert_eq!(echo["data"], "68656c6c6f", "{got:#}");
    assert_eq!(
        echo["initial_metadata"]["x-seen-tenant"], "python",
        "{got:#}"
    );
    assert_eq!(
        echo["initial_metadata"]["x-seen-blob-bin"], "00ff",
        "{got:#}"
    );
    assert_eq!(
        echo["trailing_metadata"]["x-received-bytes"], "5",
        "{got:#}"
    );
    assert_eq!(
        echo["trailing_metadata"]["x-trailer-bin"], "010203",
        "{got:#}"
    );
    let repeat = &got["repeat"];
    assert_eq!(repeat["messages"], 2, "{got:#}");
    assert_eq!(
        repeat["initial_metadata"]["x-seen-tenant"], "python",
        "{got:#}"
    );
    assert_eq!(repeat["trailing_metadata"]["x-sent"], "2", "{got:#}");
}
