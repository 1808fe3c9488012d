#!/usr/bin/env bash
# Proto3 JSON encode and decode throughput of the example's messages: the generator's serde
# impls (as committed in examples/services/src/generated) against pbjson's
# (protoc-gen-prost-serde, what a tonic user runs for JSON), on the same messages, with
# serde_json both ways, release builds.
#
# Each workload is one message, built once on our side and carried to the peer's type through
# the protobuf wire form, so both encode the very same content:
# - orders: a `ListOrdersResponse` of 50 orders of 3 line items each (strings, a 64-bit total,
#   an enum, a timestamp);
# - reserve: a `ReserveItemsRequest` of 20 line items (strings, 32-bit quantities);
# - courier: a `CourierStatus` (an enum, two doubles, a timestamp).
# Decoding reads the JSON our side wrote (pbjson writes the same bytes but for the timestamp's
# digits).
#
# Needs: cargo, python3 (3.11+), protoc with the well-known types, and the peer plugins:
#   apt-get install protobuf-compiler libprotobuf-dev
#   cargo install protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0 protoc-gen-prost-serde@0.4.0
#
# Run from anywhere: bench/json_codec.sh. Settings (environment): ROUNDS (15) rounds, each
# timing every workload on both sides for at least 200 ms, in alternating order; the median
# round is reported. KEEP_WORKDIR=1 keeps the scratch workspace.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

rounds=${ROUNDS:-15}

die() {
	echo "json_codec: $*" >&2
	exit 1
}
note() { echo "json_codec: $*" >&2; }

for tool in cargo python3 protoc protoc-gen-prost protoc-gen-tonic protoc-gen-prost-serde; do
	command -v "$tool" >/dev/null || die "$tool not found on PATH (see the top of this script)"
done
[[ $rounds =~ ^[0-9]+$ && $rounds -gt 0 ]] || die "ROUNDS must be a positive integer"

cd "$(dirname "$0")/.."
repo=$(pwd)
protos=(proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto proto/dispatch/v1/dispatch.proto)
packages=(inventory orders dispatch)

# shellcheck source=bench/generated_crates.sh
source bench/generated_crates.sh
make_scratch json_codec

workspace_dependency_versions

mkdir -p "$scratch/ours/src/generated" "$scratch/peer-json/src/generated" "$scratch/codec/src"
cat >"$scratch/Cargo.toml" <<'TOML'
[workspace]
resolver = "3"
members = ["ours", "peer-json", "codec"]

[profile.release]
debug = "line-tables-only"
TOML
cp Cargo.lock "$scratch/Cargo.lock"

cp examples/services/src/generated/*.rs "$scratch/ours/src/generated/"
generated_crate_manifest "$scratch/ours" ours ours
echo "pub mod generated;" >"$scratch/ours/src/lib.rs"

protoc_peers_with_json "$scratch/peer-json/src/generated" -I proto "${protos[@]}" ||
	die "protoc with protoc-gen-prost-serde failed"
{
	for package in "${packages[@]}"; do
		echo "pub mod $package { pub mod v1 { include!(\"$package/v1/$package.v1.rs\"); } }"
	done
} >"$scratch/peer-json/src/generated/mod.rs"
generated_crate_manifest "$scratch/peer-json" peer-json peer-json
echo "pub mod generated;" >"$scratch/peer-json/src/lib.rs"

cat >"$scratch/codec/Cargo.toml" <<TOML
[package]
name = "codec"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
ours = { path = "../ours" }
peer-json = { path = "../peer-json" }
prost = "$prost_req"
serde = "$serde_req"
serde_json = "1"
rust-svc-runtime = { path = "$repo/runtime" }
TOML

cat >"$scratch/codec/src/main.rs" <<'RS'
//! One round: every workload encoded and decoded on both sides, each for at least 200 ms;
//! prints `workload side op ns_per_op bytes` lines.
use std::hint::black_box;
use std::time::{Duration, Instant};

use ours::generated as o;
use peer_json::generated as p;
use prost::Message;
use rust_svc_runtime::wkt::Timestamp;

fn timestamp(n: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: 1_764_400_000 + n, nanos: 250_000_000 })
}

fn orders() -> o::orders::v1::ListOrdersResponse {
    let orders = (0..50)
        .map(|n| o::orders::v1::Order {
            order_id: format!("ord_{n:08x}"),
            customer_id: format!("cus_{:06}", n * 7),
            items: (0..3)
                .map(|i| o::orders::v1::LineItem {
                    sku: format!("SKU-{:05}", n * 3 + i),
                    quantity: i + 1,
                    unit_price_cents: 1999 + i64::from(i),
                })
                .collect(),
            status: 1 + n % 4,
            created_at: timestamp(i64::from(n)),
            total_cents: 9_999_000_000 + i64::from(n),
            currency: "USD".to_owned(),
            assignment_id: format!("asg_{n}"),
        })
        .collect();
    o::orders::v1::ListOrdersResponse { orders, next_page_token: "page-2".to_owned() }
}

fn reserve() -> o::inventory::v1::ReserveItemsRequest {
    o::inventory::v1::ReserveItemsRequest {
        order_id: "ord_8f14e45f".to_owned(),
        items: (0..20)
            .map(|n| o::inventory::v1::LineItem { sku: format!("SKU-{n:05}"), quantity: n + 1 })
            .collect(),
        idempotency_key: "key-1".to_owned(),
    }
}

fn courier() -> o::dispatch::v1::CourierStatus {
    o::dispatch::v1::CourierStatus {
        courier_id: "cou_42".to_owned(),
        state: 2,
        location: Some(o::dispatch::v1::GeoPoint { latitude: 52.520008, longitude: 13.404954 }),
        location_at: timestamp(3),
        current_assignment_id: "asg_7".to_owned(),
    }
}

/// Nanoseconds per call of `f`, over at least 200 ms.
fn time(mut f: impl FnMut()) -> f64 {
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(200) {
        for _ in 0..16 {
            f();
        }
        calls += 16;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn run<O, P>(name: &str, ours: O, flip: bool)
where
    O: Message + serde::Serialize + serde::de::DeserializeOwned,
    P: Message + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    let peer = P::decode(ours.encode_to_vec().as_slice()).expect("the peer reads our wire form");
    let json = serde_json::to_vec(&ours).unwrap();
    let measure = |side: &str| match side {
        "ours" => {
            let encode = time(|| drop(black_box(serde_json::to_vec(black_box(&ours)).unwrap())));
            let decode = time(|| drop(black_box(serde_json::from_slice::<O>(black_box(&json)).unwrap())));
            (encode, decode)
        }
        _ => {
            let encode = time(|| drop(black_box(serde_json::to_vec(black_box(&peer)).unwrap())));
            let decode = time(|| drop(black_box(serde_json::from_slice::<P>(black_box(&json)).unwrap())));
            (encode, decode)
        }
    };
    let sides = if flip { ["peer", "ours"] } else { ["ours", "peer"] };
    for side in sides {
        let (encode, decode) = measure(side);
        println!("{name} {side} encode {encode:.1} {}", json.len());
        println!("{name} {side} decode {decode:.1} {}", json.len());
    }
}

fn main() {
    let flip = std::env::args().nth(1).is_some_and(|arg| arg == "flip");
    run::<_, p::orders::v1::ListOrdersResponse>("orders", orders(), flip);
    run::<_, p::inventory::v1::ReserveItemsRequest>("reserve", reserve(), flip);
    run::<_, p::dispatch::v1::CourierStatus>("courier", courier(), flip);
}
RS

note "building the codec benchmark (release)"
cargo build --quiet --release --manifest-path "$scratch/Cargo.toml" -p codec
binary=$scratch/target/release/codec
results=$scratch/results.txt
: >"$results"
for round in $(seq 1 "$rounds"); do
	note "round $round of $rounds"
	if ((round % 2)); then "$binary" >>"$results"; else "$binary" flip >>"$results"; fi
done

COMMIT=$(git -C "$repo" rev-parse --short HEAD) ROUNDS=$rounds python3 - "$results" <<'PY'
import os, statistics, sys
from collections import defaultdict

runs = defaultdict(list)
sizes = {}
for line in open(sys.argv[1]):
    workload, side, op, ns, size = line.split()
    runs[(workload, side, op)].append(float(ns))
    sizes[workload] = int(size)
print(f"Medians of {os.environ['ROUNDS']} rounds at `{os.environ['COMMIT']}`, release builds, serde_json:")
print()
print("| workload | JSON bytes | op | ours ns | pbjson ns | ours MB/s | pbjson MB/s | ours / pbjson throughput |")
print("|---|---|---|---|---|---|---|---|")
for workload in ("orders", "reserve", "courier"):
    for op in ("encode", "decode"):
        ours = statistics.median(runs[(workload, "ours", op)])
        peer = statistics.median(runs[(workload, "peer", op)])
        size = sizes[workload]
        print(f"| {workload} | {size:,} | {op} | {ours:,.0f} | {peer:,.0f} | {size / ours * 1e3:,.0f} | {size / peer * 1e3:,.0f} | {peer / ours:.2f}× |")
PY
