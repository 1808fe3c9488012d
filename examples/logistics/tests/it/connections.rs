//! Connections, not only calls: each port keeps at most its bound of connections open, closes
//! the ones that send nothing or idle, and backs off when accepting fails, so a flood of silent
//! connections takes neither the process's descriptors nor its CPU, and the calls of clients
//! already connected go on being served.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::common::{Logistics, http, sample};

/// How long a connection the server should close may take to be seen closed: a guard against
/// a hang, far above the timeouts the tests set, not a measurement.
const GUARD: Duration = Duration::from_secs(60);

/// `n` connections to `addr` that send nothing.
async fn silent(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        streams.push(TcpStream::connect(addr).await.expect("the port accepts"));
    }
    streams
}

/// Waits for the server to close `stream` (end of stream or reset).
async fn closed(stream: &mut TcpStream) {
    let mut buf = [0; 256];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept a connection open for {GUARD:?}"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {} // an HTTP/1.1 error answer before the close, say
        }
    }
}

/// Whether the server has closed `stream` already: a read that does not end within a moment
/// finds it open. Asked only once the server has said (in its metrics) what it closed.
async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A health check of the inventory over `client`'s connection.
async fn healthy(client: &mut HealthClient<tonic::transport::Channel>) {
    let status = client
        .check(HealthCheckRequest {
            service: "inventory.v1.InventoryService".into(),
        })
        .await
        .expect("the health check is answered")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
}

/// A counter or gauge of the inventory port from `/metrics`, fetched by `client` (whose
/// kept-alive connection is reused), 0 when absent.
async fn port_sample(
    client: &reqwest::Client,
    system: &Logistics,
    name: &str,
    extra_labels: &str,
) -> f64 {
    let text = client
        .get(format!("{}/metrics", system.url("inventory")))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics has a text body");
    sample(&text, name, &format!("port=\"inventory\"{extra_labels}")).unwrap_or(0.0)
}

/// CPU time (user + system) the process `pid` has used, from /proc (in clock ticks of 10 ms,
/// Linux's USER_HZ).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // After the command name in parentheses: state, ppid, …; utime and stime are the 12th and
    // 13th fields from there.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test]
async fn connections_over_the_bound_are_closed_at_once_and_connected_clients_are_still_served() {
    let system = Logistics::inventory(&["--max-connections", "8", "--preface-timeout", "1h"]);
    let addr = system.addr("inventory");
    // Clients connected before the flood: gRPC over one HTTP/2 connection, and HTTP/1.1 for
    // /metrics over one kept-alive connection.
    let mut client = HealthClient::new(system.channel("inventory"));
    healthy(&mut client).await;
    let scraper = http();
    assert_eq!(
        port_sample(&scraper, &system, "server_connections_open", "").await,
        2.0
    );

    // 20 connections that send nothing: 6 fit under the bound beside the two clients', the
    // other 14 are closed as they arrive.
    let mut flood = silent(&addr, 20).await;
    let mut refused = 0.0;
    for _ in 0..600 {
        refused = port_sample(&scraper, &system, "server_connections_refused_total", "").await;
        if refused >= 14.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused, 14.0);
    let mut closed_count = 0;
    for stream in &mut flood {
        closed_count += usize::from(is_closed(stream).await);
    }
    assert_eq!(closed_count, 14, "connections closed of the 20");
    assert_eq!(
        port_sample(&scraper, &system, "server_connections_open", "").await,
        8.0
    );

    // The bound is full, and the clients already connected are served all the same.
    healthy(&mut client).await;

    // Once the silent connections go, new ones are served again.
    drop(flood);
    let mut served = false;
    for _ in 0..600 {
        if let Ok(response) = http()
            .get(format!(
                "{}/v1/items/SKU-10042/stock",
                system.url("inventory")
            ))
            .header("connection", "close")
            .send()
            .await
        {
            assert!(response.status().is_success(), "{}", response.status());
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a new connection is served once the bound has room");
}

#[tokio::test]
async fn connections_that_send_nothing_or_half_a_preface_are_closed_and_idle_ones_too() {
    let system = Logistics::inventory(&["--preface-timeout", "1s", "--idle-timeout", "2s"]);
    let addr = system.addr("inventory");

    let mut waiting = silent(&addr, 5).await;
    // Half the HTTP/2 preface, then nothing: the protocol is never known.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    waiting.push(half);
    for stream in &mut waiting {
        closed(stream).await;
    }

    // A kept-alive HTTP/1.1 connection that goes quiet after one request.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /v1/items/SKU-10042/stock HTTP/1.1\r\nHost: inventory\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    closed(&mut kept).await;

    let scraper = http();
    let preface = port_sample(
        &scraper,
        &system,
        "server_connections_timed_out_total",
        ",reason=\"preface\"",
    )
    .await;
    assert_eq!(preface, 6.0);
    let idle = port_sample(
        &scraper,
        &system,
        "server_connections_timed_out_total",
        ",reason=\"idle\"",
    )
    .await;
    assert_eq!(idle, 1.0);
}

#[tokio::test]
async fn out_of_descriptors_the_server_backs_off_instead_of_spinning_and_recovers() {
    if !crate::common::on_path("prlimit") {
        crate::common::skip(
            "out_of_descriptors_the_server_backs_off_instead_of_spinning_and_recovers",
            "RUST_SVC_REQUIRE_TOOLS",
            "prlimit (util-linux) is not installed",
        );
        return;
    }
    // 64 descriptors, and a bound above them, so that accepting runs out of descriptors.
    let system = Logistics::spawn_under(
        &["prlimit", "--nofile=64:64", "--"],
        &[
            "inventory",
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            "1000",
            "--preface-timeout",
            "3s",
        ],
        &["inventory"],
    );
    let addr = system.addr("inventory");
    // Far more silent connections than the process may hold: the kernel queues the rest.
    let mut flood = silent(&addr, 100).await;
    let before = cpu_time(system.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_time(system.pid()) - before;
    // A busy loop of failed accepts spends the whole 2 s; backing off, almost nothing.
    assert!(
        spent < Duration::from_millis(500),
        "the server spent {spent:?} of CPU in 2 s out of descriptors"
    );

    // As the silent connections time out, descriptors come back and the queued ones are
    // accepted (and time out in their turn).
    for stream in &mut flood {
        closed(stream).await;
    }
    let response = http()
        .get(format!(
            "{}/v1/items/SKU-10042/stock",
            system.url("inventory")
        ))
        .send()
        .await
        .expect("the port serves again");
    assert!(response.status().is_success(), "{}", response.status());

    // One line when a burst of failed accepts starts and one when it ends, however many
    // accepts failed in between.
    let stderr = system.stderr();
    let failures = stderr.matches("accepting a connection failed").count();
    let recoveries = stderr.matches("accepting connections again").count();
    assert!(
        failures >= 1,
        "the process never ran out of descriptors:\n{stderr}"
    );
    assert!(
        recoveries >= 1 && failures <= recoveries + 1,
        "{failures} failure lines against {recoveries} recoveries:\n{stderr}"
    );
}
