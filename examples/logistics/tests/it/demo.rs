//! `logistics demo` against the system in one process and split into three: it places an
//! order and prints the hops, with the request id it sent quoted by every server.

use crate::common::{self, Logistics, run};

/// The demo's output for one call: the request id it sent, and its hop lines as
/// `(service, request id)`.
#[derive(Debug)]
struct Call {
    request_id: String,
    hops: Vec<(String, String)>,
}

/// Splits the demo's stdout into its calls (`CreateOrder request-id=…`, then hop lines).
fn calls(stdout: &str) -> Vec<(String, Call)> {
    let mut calls: Vec<(String, Call)> = Vec::new();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        let (Some(first), Some(second)) = (words.next(), words.next()) else {
            continue;
        };
        if let Some(request_id) = second.strip_prefix("request-id=") {
            if matches!(first, "CreateOrder" | "GetOrder") {
                let call = Call {
                    request_id: request_id.to_owned(),
                    hops: Vec::new(),
                };
                calls.push((first.to_owned(), call));
            } else if let Some((_, call)) = calls.last_mut() {
                let deadline = words.next().unwrap_or_default();
                assert!(deadline.starts_with("deadline-left="), "{line}");
                assert!(deadline.ends_with("ms"), "a deadline on every hop: {line}");
                call.hops.push((first.to_owned(), request_id.to_owned()));
            }
        }
    }
    calls
}

fn assert_demo_output(stdout: &str) {
    let calls = calls(stdout);
    let names: Vec<&str> = calls.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["CreateOrder", "GetOrder"], "{stdout}");
    let (_, create) = &calls[0];
    let services: Vec<&str> = create.hops.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(services, ["orders", "inventory", "dispatch"], "{stdout}");
    let (_, get) = &calls[1];
    let services: Vec<&str> = get.hops.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(services, ["orders"], "{stdout}");
    for (name, call) in &calls {
        for (service, request_id) in &call.hops {
            assert_eq!(request_id, &call.request_id, "{name} at {service}");
        }
    }
    assert_ne!(calls[0].1.request_id, calls[1].1.request_id);
    assert!(
        stdout.lines().any(|line| line.starts_with("placed ord_")),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_demo_prints_three_hops_quoting_its_request_id() {
    let system = Logistics::all(&[]);
    let output = run(&["demo", "--orders", &system.url("orders")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_demo_output(&stdout);
}

#[tokio::test]
async fn the_services_run_as_separate_processes() {
    let inventory = Logistics::spawn(&["inventory", "--listen", "127.0.0.1:0"], &["inventory"]);
    let dispatch = Logistics::spawn(&["dispatch", "--listen", "127.0.0.1:0"], &["dispatch"]);
    let orders = Logistics::spawn(
        &[
            "orders",
            "--listen",
            "127.0.0.1:0",
            "--inventory",
            &inventory.url("inventory"),
            "--dispatch",
            &dispatch.url("dispatch"),
        ],
        &["orders"],
    );
    let output = run(&["demo", "--orders", &orders.url("orders")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_demo_output(&stdout);
}

#[test]
fn the_demo_fails_naming_the_orders_url_it_could_not_reach() {
    // A port nothing listens on: bound, then released.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let output = run(&["demo", "--orders", &url]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("CreateOrder at {url} failed: Unavailable")),
        "{stderr}"
    );
}

/// examples/logistics/demo.sh: two inventory processes behind one orders process; the orders'
/// reservations are balanced over both, and every process drains and exits 0 on SIGTERM.
#[test]
fn the_demo_script_balances_orders_over_two_inventories() {
    if !common::on_path("curl") || !common::on_path("bash") {
        common::skip(
            "the_demo_script_balances_orders_over_two_inventories",
            "RUST_SVC_REQUIRE_TOOLS",
            "`curl` or `bash` is not on PATH",
        );
        return;
    }
    let mut script = std::process::Command::new("bash");
    script
        .arg(common::workspace_root().join("examples/logistics/demo.sh"))
        .env("LOGISTICS", env!("CARGO_BIN_EXE_logistics"))
        .env("ORDERS", "4");
    let output = common::output_within(script, "demo.sh", common::HANG_GUARD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo.sh failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Round robin over the two: each reserved for two of the four orders.
    for inventory in ["A", "B"] {
        let line = format!("inventory {inventory} reserved stock for 2 orders");
        assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
    }
    assert_eq!(stdout.matches("placed ord_").count(), 4, "{stdout}");
    // Two inventories, dispatch and orders, each stopped and waited for: the script once
    // started them inside `$(…)`, lost their pids, stopped none and still said they drained.
    assert!(
        stdout.contains("all 4 processes drained and exited 0"),
        "{stdout}"
    );
}
