//! Round robin against least request (gRFC A48) when one of three servers is ten times slower
//! than the others: the share of the calls each policy sends the slow server, and the latency
//! callers see. Three `CheckStock` servers on loopback (2 ms and 20 ms a call), one generated
//! client per policy over the three, `CALLERS` tasks calling at once; the policies take turns
//! round by round.
//!
//! `cargo run --release -p rust-svc-bench --bin balancing [rounds]`; prints a Markdown table
//! for bench/RESULTS.md.

use std::time::{Duration, Instant};

use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient, InventoryServiceGrpc,
};
use rust_svc_bench::{Sample, Slowed};
use rust_svc_runtime::Context;
use rust_svc_runtime::client::LoadBalancing;

/// Calls per policy per round, and the tasks making them at once.
const CALLS: usize = 3_000;
const CALLERS: usize = 30;
/// How long a call takes on the fast servers and on the slow one.
const FAST: Duration = Duration::from_millis(2);
const SLOW: Duration = Duration::from_millis(20);

async fn round(client: &InventoryServiceClient, slow: &Slowed, sample: &mut Sample) {
    let before = slow.calls();
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let client = client.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(CALLS / CALLERS);
            for _ in 0..CALLS / CALLERS {
                let request = CheckStockRequest {
                    sku: "SKU-10042".to_owned(),
                    warehouse_id: String::new(),
                };
                let start = Instant::now();
                let reply = client.check_stock(&Context::new(), request).await;
                latencies.push(start.elapsed());
                assert_eq!(reply.expect("the call succeeds").available, 7);
            }
            latencies
        }));
    }
    for caller in callers {
        sample
            .latencies
            .extend(caller.await.expect("a caller finishes"));
    }
    sample.counted += slow.calls() - before;
    sample.calls += (CALLS / CALLERS * CALLERS) as u64;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(5, |rounds| rounds.parse().expect("rounds is a number"));
    let servers = [FAST, FAST, SLOW].map(|delay| Slowed::new(move || delay));
    let mut urls = Vec::new();
    let mut harnesses = Vec::new();
    for server in &servers {
        let harness = InventoryServiceGrpc::serve_loopback(server.clone())
            .await
            .expect("the server starts");
        urls.push(harness.base_url().expect("a loopback harness has a URL"));
        harnesses.push(harness);
    }
    let client = |policy| {
        InventoryServiceClient::builder()
            .load_balancing(policy)
            .connect_lazy(&urls)
            .unwrap()
    };
    let policies = [
        ("round_robin", client(LoadBalancing::round_robin())),
        ("least_request", client(LoadBalancing::least_request())),
    ];
    let mut samples = [Sample::default(), Sample::default()];
    for number in 0..rounds {
        for turn in 0..2 {
            let which = (number + turn) % 2;
            round(&policies[which].1, &servers[2], &mut samples[which]).await;
        }
    }
    println!(
        "loopback, {rounds} interleaved rounds of {CALLS} calls per policy from {CALLERS} tasks \
         at once; three servers, {} ms, {} ms and {} ms a call\n",
        FAST.as_millis(),
        FAST.as_millis(),
        SLOW.as_millis()
    );
    println!("| policy | share of calls to the slow server | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for ((name, _), sample) in policies.iter().zip(samples.iter_mut()) {
        let share = sample.counted as f64 / sample.calls as f64 * 100.0;
        println!(
            "| {name} | {share:.1} % | {:.2?} | {:.2?} | {:.2?} |",
            sample.percentile(0.50),
            sample.percentile(0.90),
            sample.percentile(0.99),
        );
    }
}
