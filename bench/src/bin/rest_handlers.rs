//! The REST fronts of bench/gateway.sh without HTTP: each router is called as a tower service
//! with a ready-made request, and the response body collected, in a loop on a current-thread
//! runtime. What is left is the fronts' own work (routing, mapping the request, the domain
//! call, writing the JSON), which under wrk is a small part beside hyper and the kernel; run
//! under `valgrind --tool=callgrind` it tells where that work goes.
//!
//! ```text
//! rest_handlers [ITERATIONS [ROUNDS [FRONT [ROUTE]]]]
//! ```
//!
//! 200000 calls per front and route and 5 rounds by default; FRONT (`gateway`, `handwritten`)
//! and ROUTE (`get`, `post`) run only those, to count one front's instructions on one route:
//!
//! ```text
//! valgrind --tool=callgrind target/release/rest_handlers 20000 1 gateway get
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use example_services::inventory::v1::InventoryServiceGateway;
use http_body_util::BodyExt;
use rust_svc_bench::rest::{Inventory, handwritten_router};
use tower_service::Service;

const GET_URI: &str = "/v1/items/SKU-10042/stock?warehouse_id=wh_us_east";
const POST_URI: &str = "/v1/reservations";
const POST_BODY: &str = r#"{"orderId":"ord-20260101-0042","items":[{"sku":"SKU-10042","quantity":2},{"sku":"SKU-20077","quantity":1}],"idempotencyKey":"8d1c7a52-checkout"}"#;

/// A request as hyper would hand it over: the headers wrk sends.
fn request(post: bool) -> http::Request<Body> {
    let builder = http::Request::builder()
        .uri(if post { POST_URI } else { GET_URI })
        .header(http::header::HOST, "127.0.0.1:50161");
    if post {
        builder
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, POST_BODY.len())
            .body(Body::from(POST_BODY))
    } else {
        builder.body(Body::empty())
    }
    .expect("a valid request")
}

/// One call: the response's status and body length, so that nothing is optimized away and a
/// failing front is noticed.
async fn call(router: &mut axum::Router, post: bool) -> (u16, usize) {
    let response = router
        .call(request(post))
        .await
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an in-memory body")
        .to_bytes();
    (status, body.len())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: u32| {
        args.get(index)
            .map_or(Ok(default), |arg| arg.parse::<u32>().map_err(drop))
    };
    let only = args.get(2).map(String::as_str);
    let route = args.get(3).map(String::as_str);
    let (
        Ok(iterations),
        Ok(rounds),
        None | Some("gateway" | "handwritten"),
        None | Some("get" | "post"),
    ) = (number(0, 200_000), number(1, 5), only, route)
    else {
        eprintln!("usage: rest_handlers [ITERATIONS [ROUNDS [gateway|handwritten [get|post]]]]");
        return ExitCode::FAILURE;
    };
    let posts: Vec<bool> = [false, true]
        .into_iter()
        .filter(|post| route.is_none_or(|route| (route == "post") == *post))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut fronts: Vec<_> = [
            ("gateway", InventoryServiceGateway::router(Inventory)),
            ("handwritten", handwritten_router(Arc::new(Inventory))),
        ]
        .into_iter()
        .filter(|(name, _)| only.is_none_or(|only| only == *name))
        .collect();
        for (name, router) in &mut fronts {
            for &post in &posts {
                let (status, length) = call(router, post).await;
                if status != 200 {
                    eprintln!("rest_handlers: {name} answered {status}");
                    return ExitCode::FAILURE;
                }
                println!(
                    "{name} {}: {length} bytes",
                    if post { "POST" } else { "GET" }
                );
            }
        }
        for round in 0..rounds {
            for &post in &posts {
                for index in 0..fronts.len() {
                    // Alternate which front goes first.
                    let count = fronts.len();
                    let (name, router) = &mut fronts[(index + round as usize) % count];
                    let started = Instant::now();
                    for _ in 0..iterations {
                        black_box(call(router, post).await);
                    }
                    let per_call = started.elapsed().as_secs_f64() * 1e9 / f64::from(iterations);
                    let route = if post { "POST" } else { "GET" };
                    println!("round {round} {name} {route}: {per_call:.0} ns per call");
                }
            }
        }
        ExitCode::SUCCESS
    })
}
