//! The README's commands, run as printed: every shell line of the root README's "Try the example
//! system" section and of examples/logistics/README.md, each through `sh -c` from the
//! repository's root, so that a README change that breaks a command fails CI.
//!
//! Lines that build or run `logistics` through cargo run the binary this test was built with
//! instead: a nested `cargo run --release -p logistics` under `cargo test --workspace` would
//! compile the whole tree again in the release profile (minutes on 2 cores) for the same code,
//! and even without `--release` it resolves the dependencies' features for that one package,
//! unlike the workspace build. So `cargo run [--release] -p logistics --` and
//! `target/{release,debug}/logistics` name that binary, and `cargo build [--release] -p
//! logistics` checks it exists. The commands behave the same in either build; only their speed
//! differs.
//!
//! A line that starts a server (`logistics all`, `inventory`, `orders`, `dispatch`, by
//! `cargo run` or the built binary, with or without a trailing `&`) runs in the background
//! until it has announced every service it serves, as a second terminal or the shell's job
//! control would have it; the servers of a block are stopped with SIGTERM before the next block.
//! Every other line must exit 0 and print what the README says it prints. The ports are the
//! README's own (50051 to 50053, 50061 and 50071), so the blocks run one after the other in
//! this one test.
//!
//! `buf` and `curl` missing from `PATH` skip the test with a message, unless
//! `RUST_SVC_REQUIRE_TOOLS=1` (CI) makes that a failure.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;

use crate::common::{HANG_GUARD, on_path, output_within, parse_listening, skip};

/// The repository's root, where the README's commands run.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The ```sh blocks of `markdown`, each as its commands: continuation lines (`\` at the end)
/// joined, blank lines dropped.
fn sh_blocks(markdown: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```sh" {
            continue;
        }
        let mut commands = Vec::new();
        let mut pending = String::new();
        for line in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            match line.trim_end().strip_suffix('\\') {
                Some(start) => pending.push_str(start),
                None => {
                    pending.push_str(line);
                    if !pending.trim().is_empty() {
                        commands.push(std::mem::take(&mut pending));
                    }
                    pending.clear();
                }
            }
        }
        blocks.push(commands);
    }
    blocks
}

/// The text of `markdown` from the heading `heading` to the next heading of its level.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has no `{heading}` section"));
    let rest = &markdown[start + heading.len() + 2..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// The services a command starts, as `logistics` names them when it announces them: `None`
/// for a command that is not a server.
fn served_by(command: &str) -> Option<&'static [&'static str]> {
    let words: Vec<&str> = command
        .split_whitespace()
        .take_while(|word| !word.starts_with('#'))
        .collect();
    let at = words.iter().position(|word| {
        word.ends_with("/logistics") || *word == "--" && words.contains(&"logistics")
    })?;
    match words.get(at + 1).copied()? {
        "all" => Some(&["inventory", "orders", "dispatch"]),
        "inventory" => Some(&["inventory"]),
        "orders" => Some(&["orders"]),
        "dispatch" => Some(&["dispatch"]),
        _ => None,
    }
}

/// A server a README line started, in a process group of its own (`cargo run` and the shell
/// stand between the test and `logistics`); stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    command: String,
}

impl Server {
    /// Runs `command` in the background; returns once it has announced `services`.
    fn start(command: &str, services: &[&str]) -> Self {
        let mut child = Command::new("sh")
            .args(["-c", command])
            .current_dir(root())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `{command}`: {error}"));
        let (lines, announced) = mpsc::channel();
        let pipe = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let server = Self {
            child,
            command: command.to_owned(),
        };
        let mut seen = Vec::new();
        while seen.len() < services.len() {
            let line = announced
                .recv_timeout(HANG_GUARD)
                .unwrap_or_else(|_| panic!("`{command}` did not announce {services:?}"));
            if let Some((label, _)) = parse_listening(&line) {
                seen.push(label.to_owned());
            }
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole group: the shell, `cargo run` and `logistics`, which drains and exits.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        if self.child.wait().is_err() {
            eprintln!("`{}` did not exit", self.command);
        }
        // `cargo run` returns before `logistics` has let go of its ports; wait for the group.
        for _ in 0..200 {
            let alive = Command::new("kill")
                .args(["-0", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if !alive {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// Runs `command` to its end from the root and checks what it printed.
fn run_line(command: &str) {
    let mut shell = Command::new("sh");
    shell.args(["-c", command]).current_dir(root());
    let output = output_within(shell, command, HANG_GUARD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "`{command}` failed ({}); stdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    check_output(command, &stdout);
}

/// What the README says each command prints.
fn check_output(command: &str, stdout: &str) {
    let json = || -> Value {
        serde_json::from_str(stdout)
            .unwrap_or_else(|error| panic!("`{command}` printed no JSON ({error}): {stdout}"))
    };
    if command.contains(" demo") {
        // "prints every hop of the order ... with the request id it carried".
        assert!(stdout.contains("CreateOrder request-id="), "{stdout}");
        assert!(
            stdout.lines().any(|line| line.starts_with("placed ord_")),
            "{stdout}"
        );
    } else if command.contains("InventoryService/CheckStock") {
        let stock = json();
        assert_eq!(stock["sku"], "SKU-10042", "`{command}`: {stock}");
    } else if command.contains("/v1/orders") {
        // An order, not an error status (curl exits 0 on any HTTP status).
        let order = json();
        assert!(order.get("code").is_none(), "`{command}`: {order}");
        let id = order["orderId"].as_str().unwrap_or_default();
        assert!(id.starts_with("ord_"), "`{command}`: {order}");
    }
}

/// `command` with its ways of building and running `logistics` pointed at `binary` (see the
/// module docs).
fn with_built_binary(command: &str, binary: &str) -> String {
    if [
        "cargo build -p logistics",
        "cargo build --release -p logistics",
    ]
    .contains(&command.trim())
    {
        return format!("test -x {binary}");
    }
    let ways = [
        "cargo run -p logistics --",
        "cargo run --release -p logistics --",
        "target/debug/logistics",
        "target/release/logistics",
    ];
    for way in ways {
        if let Some(rest) = command.trim_start().strip_prefix(way) {
            return format!("{binary}{rest}");
        }
    }
    command.to_owned()
}

/// Runs one README block: servers in the background, the rest to their end; then stops the
/// servers.
fn run_block(commands: &[String]) {
    let binary = env!("CARGO_BIN_EXE_logistics");
    let mut servers = Vec::new();
    for command in commands {
        let command = with_built_binary(command, binary);
        let foreground = command.trim_end().trim_end_matches('&').trim_end();
        match served_by(&command) {
            Some(services) => servers.push(Server::start(foreground, services)),
            None => run_line(foreground),
        }
    }
    // Stopped in reverse: orders before the inventories and dispatch it calls.
    while let Some(server) = servers.pop() {
        drop(server);
    }
}

#[test]
fn the_readme_commands_run_as_printed() {
    let test = "the README's commands";
    for tool in ["buf", "curl"] {
        if !on_path(tool) {
            skip(
                test,
                "RUST_SVC_REQUIRE_TOOLS",
                &format!("`{tool}` is not on PATH"),
            );
            return;
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let logistics = std::fs::read_to_string(root().join("examples/logistics/README.md")).unwrap();
    // The files block 2 of the logistics README writes; left over, they would hold a run's
    // orders into the next.
    let scratch = [
        "/tmp/inventory-a.db",
        "/tmp/inventory-b.db",
        "/tmp/orders.db",
    ];
    let remove_scratch = || {
        for file in scratch {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
    };
    remove_scratch();

    // The root README: `all` and `demo` in one block, then buf curl and curl in the next,
    // against the same servers (the "second terminal").
    let blocks = sh_blocks(section(&readme, "## Try the example system"));
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let mut both = blocks[0].clone();
    both.extend(blocks[1].iter().cloned());
    assert!(both.iter().any(|c| c.starts_with("buf curl")), "{both:?}");
    assert!(both.iter().any(|c| c.starts_with("curl ")), "{both:?}");
    run_block(&both);

    // examples/logistics/README.md: each block on its own.
    let blocks = sh_blocks(&logistics);
    assert!(blocks.len() >= 2, "{blocks:?}");
    for block in &blocks {
        run_block(block);
    }
    remove_scratch();
}

#[test]
fn readme_blocks_are_split_into_commands() {
    let markdown = "text\n```sh\na \\\n    b\n\nc &\n```\n```rust\nnot sh\n```\n";
    assert_eq!(
        sh_blocks(markdown),
        [vec!["a     b".to_owned(), "c &".to_owned()]]
    );
    assert_eq!(
        served_by("cargo run -p logistics -- all   # ports"),
        Some(&["inventory", "orders", "dispatch"][..])
    );
    assert_eq!(
        served_by("target/debug/logistics orders --listen 127.0.0.1:50052 &"),
        Some(&["orders"][..])
    );
    assert_eq!(served_by("target/debug/logistics demo"), None);
    assert_eq!(served_by("cargo run -p logistics -- demo   # places"), None);
    assert_eq!(served_by("cargo build -p logistics"), None);
    assert_eq!(
        with_built_binary("cargo run -p logistics -- demo   # x", "/b/logistics"),
        "/b/logistics demo   # x"
    );
    assert_eq!(
        with_built_binary("target/debug/logistics dispatch &", "/b/logistics"),
        "/b/logistics dispatch &"
    );
    assert_eq!(
        with_built_binary("cargo build -p logistics", "/b/logistics"),
        "test -x /b/logistics"
    );
    assert_eq!(
        with_built_binary(
            "cargo run --release -p logistics -- all   # x",
            "/b/logistics"
        ),
        "/b/logistics all   # x"
    );
    assert_eq!(
        with_built_binary("target/release/logistics demo", "/b/logistics"),
        "/b/logistics demo"
    );
    assert_eq!(
        with_built_binary("cargo build --release -p logistics", "/b/logistics"),
        "test -x /b/logistics"
    );
    assert_eq!(
        served_by("cargo run --release -p logistics -- all"),
        Some(&["inventory", "orders", "dispatch"][..])
    );
}
