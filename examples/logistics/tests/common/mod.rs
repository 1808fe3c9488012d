//! What the tests share: the real `logistics` binary, spawned on ephemeral ports and stopped
//! with SIGTERM, and clients for what it serves. Each test binary uses a part of it, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

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

    /// `logistics <args>`, once it has announced every service of `labels`.
    pub fn spawn(args: &[&str], labels: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logistics"))
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

    /// The base URL of a service, `http://127.0.0.1:PORT`.
    pub fn url(&self, label: &str) -> String {
        self.urls[label].clone()
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
