//! Where the interceptor stack's time goes, without HTTP/2 or sockets: unary `CheckStock` calls
//! made in a loop straight into the tower service a tonic server would run (the generated
//! adapter's `into_service()`), bare, with the full interceptor stack, with the tower-http
//! layers of `adapter_server --impl tower` around it, and with the stack less one interceptor
//! or with one interceptor alone. Each call builds the HTTP request, awaits the response and
//! reads its body to the trailers. A companion to bench/adapter_overhead.sh (issue 15): that
//! measures the stacks over the network, this tells which part of them costs what.
//!
//! ```text
//! stack_overhead [--calls N] [--rounds R] [--spans off|live] [--only NAME]
//! ```
//!
//! Defaults: 200,000 calls per variant per round, 7 rounds (the order rotates each round),
//! spans `off`. The subscriber and the Prometheus recorder of adapter_server's stacks are
//! installed for every variant (once per process: `--spans live` needs a run of its own).
//! `--only NAME` times one variant, e.g. under a profiler. Prints Markdown on stdout.

use std::fmt::Debug;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use example_services::inventory::v1::{CheckStockRequest, InventoryServiceGrpc};
use http_body_util::{BodyExt, Full};
use prost::Message;
use rust_svc_bench::stacks::{
    Part, Spans, TOKEN, install_recorder, install_subscriber, interceptor_stack_of,
};
use rust_svc_bench::{Stock, check_stock_reply, tower_layers};
use tower_service::Service;

/// A way of serving the calls.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Variant {
    /// The generated adapter around the bare domain.
    Bare,
    /// The generated adapter around the domain in a stack of these interceptors.
    Stack(Vec<Part>),
    /// The generated adapter around the bare domain, inside the tower-http layers.
    Tower,
}

impl Variant {
    fn all() -> Vec<Variant> {
        let mut all = vec![
            Variant::Bare,
            Variant::Stack(Part::ALL.to_vec()),
            Variant::Tower,
        ];
        for left_out in Part::ALL {
            all.push(Variant::Stack(
                Part::ALL.into_iter().filter(|p| *p != left_out).collect(),
            ));
        }
        for alone in Part::ALL {
            all.push(Variant::Stack(vec![alone]));
        }
        all
    }

    fn name(&self) -> String {
        match self {
            Variant::Bare => "bare".to_owned(),
            Variant::Tower => "tower".to_owned(),
            Variant::Stack(parts) if parts.len() == Part::ALL.len() => "stack".to_owned(),
            Variant::Stack(parts) if parts.len() == 1 => format!("only {}", parts[0].name()),
            Variant::Stack(parts) => {
                let left_out = Part::ALL
                    .into_iter()
                    .find(|part| !parts.contains(part))
                    .expect("a part is left out");
                format!("stack - {}", left_out.name())
            }
        }
    }
}

struct Settings {
    calls: u32,
    rounds: u32,
    spans: Spans,
    only: Option<String>,
}

fn parse_args() -> Result<Settings, String> {
    let mut settings = Settings {
        calls: 200_000,
        rounds: 7,
        spans: Spans::Off,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--calls" => {
                let text = value("--calls")?;
                settings.calls = text.parse().map_err(|_| format!("bad --calls `{text}`"))?;
            }
            "--rounds" => {
                let text = value("--rounds")?;
                settings.rounds = text.parse().map_err(|_| format!("bad --rounds `{text}`"))?;
            }
            "--spans" => {
                settings.spans = match value("--spans")?.as_str() {
                    "off" => Spans::Off,
                    "live" => Spans::Live,
                    other => return Err(format!("--spans off|live, not `{other}`")),
                }
            }
            "--only" => settings.only = Some(value("--only")?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if settings.calls == 0 || settings.rounds == 0 {
        return Err("--calls and --rounds must be positive".to_owned());
    }
    Ok(settings)
}

/// What a call sends: the request h2load sends in adapter_overhead.sh, as an `http::Request`.
fn request(frame: &Bytes) -> http::Request<tonic::body::Body> {
    http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/inventory.v1.InventoryService/CheckStock")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(tonic::body::Body::new(Full::new(frame.clone())))
        .expect("a valid request")
}

/// Makes `calls` calls into `service`; checks the first one's answer.
async fn time_calls<S, B>(mut service: S, frame: &Bytes, expected: &Bytes, calls: u32) -> Duration
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
    S::Error: Debug,
    B: http_body::Body,
    B::Error: Debug,
{
    let started = Instant::now();
    for call in 0..calls {
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .expect("the service is ready");
        let response = service.call(request(frame)).await.expect("a response");
        let body = response.into_body().collect().await.expect("a body");
        if call == 0 {
            let status = body
                .trailers()
                .and_then(|trailers| trailers.get("grpc-status"));
            assert_eq!(status.map(|s| s.as_bytes()), Some(&b"0"[..]), "grpc-status");
            assert_eq!(&body.to_bytes(), expected, "the response message");
        }
    }
    started.elapsed()
}

async fn time_variant(variant: &Variant, frame: &Bytes, expected: &Bytes, calls: u32) -> Duration {
    match variant {
        Variant::Bare => {
            let service = InventoryServiceGrpc::new(Stock).into_service();
            time_calls(service, frame, expected, calls).await
        }
        Variant::Stack(parts) => {
            let service = InventoryServiceGrpc::new(interceptor_stack_of(parts, Stock));
            time_calls(service.into_service(), frame, expected, calls).await
        }
        Variant::Tower => {
            let service = tower_layers!().service(InventoryServiceGrpc::new(Stock).into_service());
            time_calls(service, frame, expected, calls).await
        }
    }
}

fn grpc_frame(message: &impl Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&body);
    frame.into()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn run(settings: Settings) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building the tokio runtime: {e}"))?;
    runtime.block_on(async {
        install_subscriber(settings.spans);
        let _metrics = install_recorder();
        let request = CheckStockRequest {
            sku: "SKU-10042".to_owned(),
            ..Default::default()
        };
        let frame = grpc_frame(&request);
        let expected = grpc_frame(&check_stock_reply(request));

        let mut variants = Variant::all();
        if let Some(only) = &settings.only {
            variants.retain(|variant| variant.name() == *only);
            if variants.is_empty() {
                let names: Vec<String> = Variant::all().iter().map(Variant::name).collect();
                return Err(format!("--only: one of {}", names.join(", ")));
            }
        }
        // Warm-up: every variant once, so that the recorder has registered every metric.
        for variant in &variants {
            time_variant(variant, &frame, &expected, settings.calls / 10 + 1).await;
        }
        // ns per call, per variant, per round.
        let mut per_call = vec![Vec::new(); variants.len()];
        for round in 0..settings.rounds as usize {
            for i in 0..variants.len() {
                let index = (round + i) % variants.len();
                let elapsed =
                    time_variant(&variants[index], &frame, &expected, settings.calls).await;
                per_call[index].push(elapsed.as_nanos() as f64 / f64::from(settings.calls));
            }
            eprintln!(
                "stack_overhead: round {}/{} done",
                round + 1,
                settings.rounds
            );
        }

        let spans = match settings.spans {
            Spans::Off => "off (a `WARN` filter)",
            Spans::Live => "live (an `INFO` filter, no layer)",
        };
        println!(
            "{} calls per variant per round, {} rounds (the order rotates), spans {spans}. Median \
             (min–max) of rounds; \"added\" is the median of the per-round differences from \
             `bare`.",
            settings.calls, settings.rounds
        );
        println!();
        println!("| variant | time per call | added to bare |");
        println!("|---|---|---|");
        let bare = variants
            .iter()
            .position(|variant| *variant == Variant::Bare);
        for (variant, times) in variants.iter().zip(&per_call) {
            let min = times.iter().copied().fold(f64::INFINITY, f64::min);
            let max = times.iter().copied().fold(0.0, f64::max);
            let added = match bare {
                Some(bare) if *variant != Variant::Bare => {
                    let diffs = times.iter().zip(&per_call[bare]).map(|(t, b)| t - b);
                    format!("{:+.0} ns", median(diffs.collect()))
                }
                _ => String::new(),
            };
            println!(
                "| {} | {:.0} ns ({:.0}–{:.0}) | {added} |",
                variant.name(),
                median(times.clone()),
                min,
                max
            );
        }
        Ok(())
    })
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stack_overhead: {message}");
            ExitCode::FAILURE
        }
    }
}
