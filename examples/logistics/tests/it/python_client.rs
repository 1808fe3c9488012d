//! `logistics all` called from another gRPC implementation, Python's grpcio, as a Python team
//! would: tests/python/logistics_client.py, with stubs grpcio-tools generates here from the
//! same protos, exercises the four kinds of rpc, idempotent retries, error codes and deadlines,
//! and prints what it observed as JSON, checked field by field.
//!
//! The interpreter is `RUST_SVC_PYTHON` (default `python3`) and needs grpcio, grpcio-tools
//! and googleapis-common-protos. Without them the test prints "skipped" and passes, unless
//! `RUST_SVC_REQUIRE_PYTHON=1` (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Logistics, fresh_dir, output_within, python_with, skip, workspace_root};

const INSTALL: &str = "pip install grpcio grpcio-tools googleapis-common-protos";

/// The protos the client imports, under proto/. google/api comes from
/// googleapis-common-protos: a generated `google` package would shadow protobuf's.
const PROTOS: [&str; 4] = [
    "inventory/v1/inventory.proto",
    "orders/v1/orders.proto",
    "dispatch/v1/dispatch.proto",
    "rust_svc/v1/options.proto",
];

/// A bound on the script's run, so that a broken server fails the test instead of hanging it
/// (the script's own calls have 30 s deadlines).
const SCRIPT_GUARD: Duration = Duration::from_secs(120);

/// `*_pb2.py` and `*_pb2_grpc.py` of [`PROTOS`] in `out`.
fn generate_stubs(python: &str, out: &Path) {
    let proto = workspace_root().join("proto");
    let mut command = Command::new(python);
    command
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", proto.display()))
        .arg(format!("--python_out={}", out.display()))
        .arg(format!("--grpc_python_out={}", out.display()))
        .args(PROTOS.map(|file| proto.join(file)));
    let output = output_within(command, "grpc_tools.protoc", SCRIPT_GUARD);
    assert!(
        output.status.success(),
        "grpc_tools.protoc failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the client against `system` and returns the JSON it printed.
fn run_client(python: &str, stubs: &Path, system: &Logistics) -> Value {
    let script: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/logistics_client.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .args(["orders", "inventory", "dispatch"].map(|label| system.addr(label)))
        .env("PYTHONPATH", stubs);
    let output = output_within(command, "logistics_client.py", SCRIPT_GUARD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "logistics_client.py failed ({}); stdout:\n{stdout}\nstderr:\n{}\nserver stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        system.stderr()
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: not JSON: {stdout}"))
}

/// The string at `pointer` (`/unary/order_id`).
fn text<'a>(report: &'a Value, pointer: &str) -> &'a str {
    report
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {report:#}"))
}

#[test]
fn a_grpcio_client_sees_the_services_as_the_protos_describe_them() {
    let test = "python_client";
    let python = match python_with(&["grpc", "grpc_tools", "google.api.annotations_pb2"]) {
        Ok(python) => python,
        Err(why) => {
            let why = format!("{why}: run `{INSTALL}` for it, or set RUST_SVC_PYTHON");
            return skip(test, "RUST_SVC_REQUIRE_PYTHON", &why);
        }
    };
    let stubs = fresh_dir(test);
    generate_stubs(&python, &stubs);
    let system = Logistics::all(&[]);
    let report = run_client(&python, &stubs, &system);

    // Unary, with an idempotency key: the repeat returns the first call's order; the request
    // id the client sent is echoed in the response headers (RequestIds on the server stack).
    let order_id = text(&report, "/unary/order_id");
    let assignment_id = text(&report, "/unary/assignment_id");
    assert!(order_id.starts_with("ord_"), "{order_id}");
    assert!(assignment_id.starts_with("asg_"), "{assignment_id}");
    let sent_request_id = text(&report, "/unary/sent_request_id");
    assert!(sent_request_id.starts_with("py-"), "{sent_request_id}");
    assert_eq!(
        report["unary"],
        json!({
            "order_id": order_id,
            "status": "ORDER_STATUS_PENDING",
            "assignment_id": assignment_id,
            "total_cents": 1250,
            "retried_order_id": order_id,
            "fetched_order_id": order_id,
            "sent_request_id": sent_request_id,
            "echoed_request_id": sent_request_id,
        })
    );

    assert_eq!(
        report["errors"],
        json!({
            "missing_order": "NOT_FOUND",
            "empty_order": "INVALID_ARGUMENT",
            "out_of_stock": "FAILED_PRECONDITION",
            "missing_sku": "INVALID_ARGUMENT",
        })
    );

    // Following one order: its current status first, then the cancellation, then the end.
    assert_eq!(
        report["server_streaming"],
        json!({
            "first_order_id": order_id,
            "first_is_current": true,
            "first_status": "ORDER_STATUS_PENDING",
            "then": ["ORDER_STATUS_CANCELLED"],
        })
    );

    assert_eq!(
        report["client_streaming"],
        json!({
            "accepted": 2,
            "rejected": 1,
            "errors": ["item 3.quantity: must be at least 1, got 0"],
        })
    );

    // The courier on shift is offered the assignment waiting longest: the first order's,
    // requested while nobody was on shift (cancelling the order did not withdraw it).
    assert_eq!(
        report["bidi"],
        json!({
            "offer_kind": "offer",
            "offered_to": "cour_2",
            "offered_order_id": order_id,
            "offered_assignment_id": assignment_id,
            "confirmed_assignment_id": assignment_id,
            "courier_state": "COURIER_STATE_TO_PICKUP",
            "current_assignment_id": assignment_id,
            "stream_end": "OK",
            "placed_while_on_shift": "ORDER_STATUS_PENDING",
        })
    );

    // The tiny deadline: DEADLINE_EXCEEDED, from grpcio's timer or the server's deadline, and
    // never tonic's own CANCELLED "Timeout expired" (the server stamps deadlines on arrival,
    // see `StampDeadlines`).
    let tiny = text(&report, "/deadlines/tiny_unary");
    let details = text(&report, "/deadlines/tiny_unary_details");
    assert_eq!(
        tiny, "DEADLINE_EXCEEDED",
        "the tiny deadline ended with {tiny}: {details}"
    );
    // Following the customer: the current status of their two orders (the cancelled first
    // one, the one placed during the shift), then nothing until the deadline.
    assert_eq!(
        report["deadlines"],
        json!({
            "tiny_unary": tiny,
            "tiny_unary_details": details,
            "stream_end": "DEADLINE_EXCEEDED",
            "stream_messages": 2,
        })
    );

    let sections = report.as_object().expect("the report is an object").len();
    assert_eq!(sections, 6, "a section not checked here: {report:#}");
    let _ = std::fs::remove_dir_all(&stubs);
}
