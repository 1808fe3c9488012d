//! `logistics all` through the tools people reach for first: `buf curl`, which learns the
//! schema through server reflection, and plain `curl` against the REST gateway, its idempotency
//! key and its Server-Sent Events stream.
//!
//! The tools run for real (`std::process::Command`). A tool missing from `PATH` skips its test
//! with a message, unless `RUST_SVC_REQUIRE_TOOLS=1` (CI) makes that a failure.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};

use crate::common::{HANG_GUARD, Logistics, on_path, output_within, skip};

const REQUIRE: &str = "RUST_SVC_REQUIRE_TOOLS";

/// Whether `tool` is on `PATH`; says why the test `test` is skipped when it is not.
fn have(tool: &str, test: &str) -> bool {
    let found = on_path(tool);
    if !found {
        skip(test, REQUIRE, &format!("`{tool}` is not on PATH"));
    }
    found
}

/// `tool args…` to its end, with the test's hang guard.
fn run(tool: &str, args: &[&str]) -> Output {
    let mut command = Command::new(tool);
    command.args(args);
    output_within(command, &format!("{tool} {args:?}"), HANG_GUARD)
}

/// The stdout of a run that must succeed.
fn stdout_of(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}); stdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("the output is UTF-8")
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: not JSON: {text}"))
}

/// `buf curl` of a unary method, over gRPC (HTTP/2 without TLS) or gRPC-Web (HTTP/1.1).
fn buf_curl(protocol: &str, url: &str, body: &Value) -> Output {
    let body = body.to_string();
    let mut args = vec!["curl", "--protocol", protocol];
    if protocol == "grpc" {
        args.push("--http2-prior-knowledge");
    }
    args.extend(["-d", &body, url]);
    run("buf", &args)
}

#[test]
fn buf_curl_calls_inventory_through_reflection_over_grpc_and_grpc_web() {
    if !have("buf", "buf curl") {
        return;
    }
    let system = Logistics::all(&[]);
    let check_stock = format!(
        "{}/inventory.v1.InventoryService/CheckStock",
        system.url("inventory")
    );
    for protocol in ["grpc", "grpcweb"] {
        let output = buf_curl(protocol, &check_stock, &json!({"sku": "SKU-10042"}));
        let mut stock = json_of(&stdout_of(&output, &format!("buf curl ({protocol})")));
        let updated_at = stock
            .as_object_mut()
            .and_then(|fields| fields.remove("updatedAt"));
        assert!(
            updated_at.as_ref().is_some_and(Value::is_string),
            "{protocol}: {updated_at:?}"
        );
        // proto3 JSON leaves out `reserved`, at 0.
        assert_eq!(
            stock,
            json!({"sku": "SKU-10042", "available": 150, "state": "STOCK_STATE_IN_STOCK"}),
            "{protocol}"
        );
    }

    // An error is the status, as JSON on stderr, and a non-zero exit.
    let output = buf_curl("grpc", &check_stock, &json!({"sku": "SKU-404"}));
    assert!(!output.status.success(), "{output:?}");
    let error = json_of(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        error,
        json!({"code": "not_found", "message": "SKU SKU-404 not found"})
    );
}

#[test]
fn buf_curl_lists_each_ports_services_and_methods_through_reflection() {
    if !have("buf", "buf curl --list-methods") {
        return;
    }
    let system = Logistics::all(&[]);
    let common = [
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ];
    let ports = [
        (
            "inventory",
            "inventory.v1.InventoryService",
            &[
                "CheckStock",
                "ReserveItems",
                "ReleaseReservation",
                "WatchStockLevels",
            ][..],
        ),
        (
            "orders",
            "orders.v1.OrderService",
            &[
                "CreateOrder",
                "GetOrder",
                "ListOrders",
                "UpdateOrder",
                "CancelOrder",
                "StreamOrderUpdates",
                "UploadOrderItems",
            ],
        ),
        (
            "dispatch",
            "dispatch.v1.DispatchService",
            &["GetCourierStatus", "RequestCourier", "StreamAssignments"],
        ),
    ];
    for (label, service, methods) in ports {
        let url = system.url(label);
        // The client's default reflection protocol (v1), and the older v1alpha.
        for reflection in ["grpc-v1", "grpc-v1alpha"] {
            let listed = |list: &str| -> BTreeSet<String> {
                let args = [
                    "curl",
                    "--protocol",
                    "grpc",
                    "--http2-prior-knowledge",
                    "--reflect-protocol",
                    reflection,
                    list,
                    &url,
                ];
                let what = format!("buf curl {list} ({label}, {reflection})");
                stdout_of(&run("buf", &args), &what)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            };
            let expected: BTreeSet<String> = common
                .iter()
                .map(|method| (*method).to_owned())
                .chain(methods.iter().map(|method| format!("{service}/{method}")))
                .collect();
            assert_eq!(listed("--list-methods"), expected, "{label}, {reflection}");
            let services: BTreeSet<String> = expected
                .iter()
                .map(|method| method.split('/').next().unwrap().to_owned())
                .collect();
            assert_eq!(listed("--list-services"), services, "{label}, {reflection}");
        }
    }
}

/// `curl` of a REST call: the response body and the HTTP status.
fn curl(args: &[&str]) -> (String, u16) {
    let args: Vec<&str> = ["-sS", "-w", "\n%{http_code}"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let stdout = stdout_of(&run("curl", &args), &format!("curl {args:?}"));
    let (body, status) = stdout.rsplit_once('\n').expect("curl wrote the status");
    (body.to_owned(), status.parse().expect("an HTTP status"))
}

/// Places an order with `curl -X POST`, with `idempotencyKey` in the query.
fn place(system: &Logistics, key: &str, quantity: i32) -> (Value, u16) {
    let order = json!({
        "customerId": "c_curl",
        "items": [{"sku": "SKU-10042", "quantity": quantity, "unitPriceCents": "1250"}],
        "currency": "USD",
    });
    let url = format!("{}/v1/orders?idempotencyKey={key}", system.url("orders"));
    let (body, status) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &order.to_string(),
        &url,
    ]);
    (json_of(&body), status)
}

#[test]
fn curl_places_an_order_once_per_idempotency_key_and_reads_it_back() {
    if !have("curl", "curl against the gateway") {
        return;
    }
    let system = Logistics::all(&[]);
    let (placed, status) = place(&system, "curl-key-1", 2);
    assert_eq!(status, 200, "{placed}");
    let id = placed["orderId"].as_str().expect("an order id").to_owned();
    assert!(id.starts_with("ord_"), "{id}");
    assert_eq!(placed["status"], "ORDER_STATUS_PENDING");
    assert_eq!(placed["totalCents"], "2500");
    assert_eq!(placed["customerId"], "c_curl");

    // The same key again (with another quantity, even): the first order, not a second one.
    let (again, status) = place(&system, "curl-key-1", 5);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, placed);
    let (other, _) = place(&system, "curl-key-2", 1);
    assert_ne!(other["orderId"], placed["orderId"]);

    let (read, status) = curl(&[&format!("{}/v1/orders/{id}", system.url("orders"))]);
    assert_eq!(status, 200, "{read}");
    assert_eq!(json_of(&read), placed);

    let (missing, status) = curl(&[&format!("{}/v1/orders/ord_99999999", system.url("orders"))]);
    assert_eq!(status, 404, "{missing}");
}

/// A running `curl -N`, its stdout read line by line; killed when dropped.
struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new("curl")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("curl starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The next Server-Sent Event's `data:`, `None` when curl's output ended.
    fn next_event(&mut self) -> Option<Value> {
        let mut data = None;
        loop {
            let line = match self.lines.recv_timeout(HANG_GUARD) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    assert!(data.is_none(), "an event cut short: {data:?}");
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("no event within {HANG_GUARD:?}"),
            };
            if line.is_empty() {
                if data.is_some() {
                    return data;
                }
            } else if let Some(payload) = line.strip_prefix("data: ") {
                assert!(data.is_none(), "one data line per event: {line}");
                data = Some(json_of(payload));
            } else {
                panic!("not a data line of an event: {line:?}");
            }
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn curl_follows_an_order_as_server_sent_events_until_it_is_final() {
    if !have("curl", "curl -N on the update stream") {
        return;
    }
    let system = Logistics::all(&[]);
    let (placed, _) = place(&system, "curl-sse", 1);
    let id = placed["orderId"].as_str().expect("an order id").to_owned();
    let orders = system.url("orders");

    let stream_url = format!("{orders}/v1/orders:stream?orderIds={id}");
    let mut events = Streaming::start(&[
        "-sS",
        "-N",
        "--fail",
        "-H",
        "accept: text/event-stream",
        &stream_url,
    ]);
    // First the order as it is (previous status = status), then each change.
    let current = events.next_event().expect("the current status");
    assert_eq!(current["orderId"], id.as_str());
    assert_eq!(current["status"], "ORDER_STATUS_PENDING");
    assert_eq!(current["previousStatus"], "ORDER_STATUS_PENDING");

    let (cancelled, status) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"reason": "changed my mind"}"#,
        &format!("{orders}/v1/orders/{id}:cancel"),
    ]);
    assert_eq!(status, 200, "{cancelled}");
    let change = events.next_event().expect("the cancellation");
    assert_eq!(change["orderId"], id.as_str());
    assert_eq!(change["previousStatus"], "ORDER_STATUS_PENDING");
    assert_eq!(change["status"], "ORDER_STATUS_CANCELLED");

    // Nothing can change a cancelled order any more: the server ends the stream, and curl
    // exits by itself, successfully.
    assert_eq!(events.next_event(), None);
    let exit = events.child.wait().expect("curl can be waited on");
    assert!(exit.success(), "{exit:?}");
}
