//! What hedging costs and what it buys, against a server with a slow tail: 5 % of its answers
//! are 50 ms late. The same generated client calls `CheckStock` sequentially without hedging and
//! with it (2 attempts, the second after 5 ms), interleaved round by round.
//!
//! `cargo run --release -p rust-svc-bench --bin hedging [rounds]`; prints a Markdown table for
//! bench/RESULTS.md: latency percentiles, and the attempts the server saw per call (the load
//! hedging adds).

use std::time::{Duration, Instant};

use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient, InventoryServiceGrpc,
};
use rust_svc_bench::{Sample, Slowed};
use rust_svc_runtime::Code;
use rust_svc_runtime::Context;
use rust_svc_runtime::client::HedgingPolicy;

/// Sequential calls per client per round.
const CALLS: usize = 2_000;
/// The share of answers that are late, and by how much.
const TAIL_SHARE: f64 = 0.05;
const TAIL_DELAY: Duration = Duration::from_millis(50);
/// When the hedge goes out: above the fast answers' p99, far below the tail.
const HEDGING_DELAY: Duration = Duration::from_millis(5);

async fn round(client: &InventoryServiceClient, server: &Slowed, sample: &mut Sample) {
    let before = server.calls();
    for _ in 0..CALLS {
        let request = CheckStockRequest {
            sku: "SKU-10042".to_owned(),
            warehouse_id: String::new(),
        };
        let start = Instant::now();
        let reply = client.check_stock(&Context::new(), request).await;
        sample.latencies.push(start.elapsed());
        assert_eq!(reply.expect("the call succeeds").available, 7);
    }
    // The losing attempts of the last calls may still be running: let them land.
    tokio::time::sleep(TAIL_DELAY * 2).await;
    sample.counted += server.calls() - before;
    sample.calls += CALLS as u64;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(5, |rounds| rounds.parse().expect("rounds is a number"));
    // Late now and then: 5 % of the answers.
    let server = Slowed::new(|| {
        if fastrand::f64() < TAIL_SHARE {
            TAIL_DELAY
        } else {
            Duration::ZERO
        }
    });
    let harness = InventoryServiceGrpc::serve_loopback(server.clone())
        .await
        .expect("the server starts");
    let url = harness.base_url().expect("a loopback harness has a URL");
    let plain = InventoryServiceClient::connect_lazy([url.as_str()]).unwrap();
    let hedged = InventoryServiceClient::builder()
        .method_hedging_policy(
            "CheckStock",
            HedgingPolicy::with_non_fatal_codes(2, HEDGING_DELAY, &[Code::Unavailable]),
        )
        .connect_lazy([url.as_str()])
        .unwrap();
    let (mut without, mut with) = (Sample::default(), Sample::default());
    for number in 0..rounds {
        if number % 2 == 0 {
            round(&plain, &server, &mut without).await;
            round(&hedged, &server, &mut with).await;
        } else {
            round(&hedged, &server, &mut with).await;
            round(&plain, &server, &mut without).await;
        }
    }
    println!(
        "loopback, {rounds} interleaved rounds of {CALLS} sequential calls per client; \
         {:.0} % of answers {} ms late; hedge after {} ms, 2 attempts at most\n",
        TAIL_SHARE * 100.0,
        TAIL_DELAY.as_millis(),
        HEDGING_DELAY.as_millis()
    );
    println!("| client | p50 | p90 | p99 | p99.9 | server calls per call |");
    println!("|---|---|---|---|---|---|");
    for (name, sample) in [
        ("without hedging", &mut without),
        ("with hedging", &mut with),
    ] {
        let load = sample.counted as f64 / sample.calls as f64;
        println!(
            "| {name} | {:.2?} | {:.2?} | {:.2?} | {:.2?} | {load:.3} |",
            sample.percentile(0.50),
            sample.percentile(0.90),
            sample.percentile(0.99),
            sample.percentile(0.999),
        );
    }
}
