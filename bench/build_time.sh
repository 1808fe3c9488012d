#!/usr/bin/env bash
# Build time of generated code: protoc-gen-rust-svc's output for the example protos against
# the peers' output for the same protos, each compiled as the only code of a library crate.
# Two comparisons, as bench/codegen.sh makes them:
# - what a user gets by default: our default artifacts (as committed in
#   examples/services/src/generated: the gateway and the JSON impls its routes reach included)
#   against protoc-gen-prost + protoc-gen-tonic + protoc-gen-prost-serde (pbjson), what a tonic
#   user runs for messages, services and JSON (`peer-json`);
# - like for like: `artifacts=domain+stub+server+client` (`ours-lfl`) against protoc-gen-prost
#   + protoc-gen-tonic (`peer`).
# The first pair also has apps (below); the rows of the earlier runs, ours by default against
# prost + tonic without JSON, are kept for comparison.
#
# Needs: cargo, python3 (3.11+), hyperfine, and protoc with the well-known types:
#   apt-get install hyperfine protobuf-compiler libprotobuf-dev
#   cargo install protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0 protoc-gen-prost-serde@0.4.0
#
# Run from anywhere (it works from the repository root):
#   bench/build_time.sh                         # final run: 10 rounds x 3 builds per crate
#   ROUNDS=1 RUNS=1 bench/build_time.sh         # smoke test
#
# Settings (environment): ROUNDS (10), RUNS per crate per round (3), RELEASE=1 also measures
# the release profile, CHECK=1 also measures `cargo check`, INCREMENTAL=1 keeps incremental
# compilation on in the dev profile (see below), CALLGRIND=1 also counts the instructions of one
# dev build of each crate (valgrind; deterministic where wall time on a shared machine is not;
# about 5 minutes), SPLIT=1 with CALLGRIND=1 also counts `ours` and `peer-json` with their
# service files emptied (the messages and their JSON alone: what is left is the service code's
# share; about 3 minutes more), KEEP_WORKDIR=1 keeps the scratch workspace.
#
# The two crates live in a scratch workspace outside the repository, with the repository's
# Cargo.lock copied in so that both build against the very dependency versions the workspace
# uses. The peer's code comes from protoc with the plugins rather than from tonic-prost-build in
# a build script: then neither side pays for code generation inside the measured build, and both
# sides' output can be counted and read.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

rounds=${ROUNDS:-10}
runs=${RUNS:-3}
release=${RELEASE:-0}
check=${CHECK:-0}
callgrind=${CALLGRIND:-0}
split=${SPLIT:-0}
incremental=${INCREMENTAL:-0}

die() {
	echo "build_time: $*" >&2
	exit 1
}
note() { echo "build_time: $*" >&2; }

for tool in cargo python3 hyperfine protoc protoc-gen-prost protoc-gen-tonic protoc-gen-prost-serde; do
	command -v "$tool" >/dev/null || case $tool in
	hyperfine) die "hyperfine not found: apt-get install hyperfine" ;;
	protoc) die "protoc not found: apt-get install protobuf-compiler libprotobuf-dev" ;;
	protoc-gen-*) die "$tool not found on PATH: cargo install $tool@0.5.0 (then add ~/.cargo/bin to PATH)" ;;
	*) die "$tool not found" ;;
	esac
done
[[ $callgrind != 1 ]] || command -v valgrind >/dev/null || die "valgrind not found: apt-get install valgrind"
python3 -c 'import sys, tomllib' 2>/dev/null || die "python3 3.11 or later is needed (tomllib)"
for value in "$rounds" "$runs"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "ROUNDS and RUNS must be positive integers, got '$value'"
done

cd "$(dirname "$0")/.."
repo=$(pwd)
protos=(proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto proto/dispatch/v1/dispatch.proto)
packages=(inventory orders dispatch)

# shellcheck source=bench/generated_crates.sh
source bench/generated_crates.sh
make_scratch build_time

workspace_dependency_versions

mkdir -p "$scratch/ours/src/generated" "$scratch/peer/src/generated" \
	"$scratch/ours-lfl/src/generated" "$scratch/peer-json/src/generated" \
	"$scratch/ours-app/src" "$scratch/peer-app/src"
cat >"$scratch/Cargo.toml" <<'TOML'
[workspace]
resolver = "3"
members = ["ours", "peer", "ours-lfl", "peer-json", "ours-app", "peer-app", "ours-msg", "peer-json-msg"]
TOML
cp Cargo.lock "$scratch/Cargo.lock"

# ours: the committed output of `cargo generate-examples` (the default artifacts), mod.rs
# included.
cp examples/services/src/generated/*.rs "$scratch/ours/src/generated/"
generated_crate_manifest "$scratch/ours" ours ours
cat >"$scratch/ours/src/lib.rs" <<'RS'
//! protoc-gen-rust-svc's output for the example protos.
pub mod generated;
RS

# peer: protoc with the two plugins, default options. The prost file of each package includes
# its .tonic.rs file itself (through protoc's insertion point); the options protos and
# google/api are only imported, as for ours.
protoc --plugin=protoc-gen-prost="$(command -v protoc-gen-prost)" \
	--plugin=protoc-gen-tonic="$(command -v protoc-gen-tonic)" \
	--prost_out="$scratch/peer/src/generated" --tonic_out="$scratch/peer/src/generated" \
	-I proto "${protos[@]}" || die "protoc failed (are the well-known types installed? apt-get install libprotobuf-dev)"
{
	echo "// The module tree, written by bench/build_time.sh."
	for package in "${packages[@]}"; do
		echo "pub mod $package { pub mod v1 { include!(\"$package/v1/$package.v1.rs\"); } }"
	done
} >"$scratch/peer/src/generated/mod.rs"
generated_crate_manifest "$scratch/peer" peer peer
cat >"$scratch/peer/src/lib.rs" <<'RS'
//! protoc-gen-prost + protoc-gen-tonic's output for the example protos.
pub mod generated;
RS

# ours-lfl: what prost + tonic write, from us: messages, the domain trait, the stub, the
# adapter and the client; no gateway, no JSON, no fake.
note "generating the like-for-like code (release build of the plugin)"
cargo build --quiet --release -p protoc-gen-rust-svc
"$repo/target/release/protoc-gen-rust-svc" generate -I proto --opt artifacts=domain+stub+server+client \
	--out "$scratch/ours-lfl/src/generated" "${protos[@]}" || die "generating the like-for-like code failed"
generated_crate_manifest "$scratch/ours-lfl" ours-lfl ours
cat >"$scratch/ours-lfl/src/lib.rs" <<'RS'
//! protoc-gen-rust-svc's output for the example protos, `artifacts=domain+stub+server+client`.
pub mod generated;
RS

# peer-json: the same two plugins and protoc-gen-prost-serde in one protoc run.
protoc_peers_with_json "$scratch/peer-json/src/generated" -I proto "${protos[@]}" ||
	die "protoc with protoc-gen-prost-serde failed"
cp "$scratch/peer/src/generated/mod.rs" "$scratch/peer-json/src/generated/mod.rs"
generated_crate_manifest "$scratch/peer-json" peer-json peer-json
cat >"$scratch/peer-json/src/lib.rs" <<'RS'
//! protoc-gen-prost + protoc-gen-tonic + protoc-gen-prost-serde's output for the example protos.
pub mod generated;
RS

# ours-msg and peer-json-msg (counted with SPLIT=1): the same crates with every service file
# emptied (ours' `*.svc.rs`, the peer's `*.tonic.rs`), the messages and their JSON impls alone.
for side in ours peer-json; do
	mkdir -p "$scratch/$side-msg"
	cp -r "$scratch/$side/src" "$scratch/$side-msg/"
	find "$scratch/$side-msg/src/generated" \( -name '*.svc.rs' -o -name '*.tonic.rs' \) \
		-exec sh -c ': >"$1"' _ {} \;
	generated_crate_manifest "$scratch/$side-msg" "$side-msg" "$side"
done

# The apps: what a user builds on the generated code, the same on both sides. Each serves
# InventoryService with a handler for CheckStock (the other rpcs unimplemented) and calls it
# through the generated client, so that the generic code of both sides (tonic's server and
# client, our adapter) is instantiated and compiled as it would be in a real service.
for side in ours peer; do
	case $side in
	ours) extra="rust-svc-runtime = { path = \"$repo/runtime\" }" ;;
	peer) extra='tokio-stream = "0.1"' ;;
	esac
	cat >"$scratch/$side-app/Cargo.toml" <<TOML
[package]
name = "$side-app"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$side = { path = "../$side" }
prost = "$prost_req"
tonic = "$tonic_req"
tokio = { version = "1", features = ["macros", "rt-multi-thread", "net"] }
$extra
TOML
done
cat >"$scratch/ours-app/src/main.rs" <<'RS'
use ours::generated::inventory::v1::*;
use rust_svc_runtime::{BoxStream, Context, Status};

struct Stock;

impl InventoryService for Stock {
    async fn check_stock(&self, _: &Context, request: CheckStockRequest) -> Result<CheckStockResponse, Status> {
        Ok(CheckStockResponse { sku: request.sku, available: 7, ..Default::default() })
    }
    async fn reserve_items(&self, ctx: &Context, request: ReserveItemsRequest) -> Result<ReserveItemsResponse, Status> {
        UnimplementedInventoryService.reserve_items(ctx, request).await
    }
    async fn release_reservation(&self, ctx: &Context, request: ReleaseReservationRequest) -> Result<ReleaseReservationResponse, Status> {
        UnimplementedInventoryService.release_reservation(ctx, request).await
    }
    async fn watch_stock_levels(&self, ctx: &Context, request: WatchStockLevelsRequest) -> Result<BoxStream<StockUpdate>, Status> {
        UnimplementedInventoryService.watch_stock_levels(ctx, request).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(InventoryServiceGrpc::new(Stock).into_service())
            .serve_with_incoming(incoming),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?.connect_lazy();
    let client = InventoryServiceClient::new(channel);
    let reply = client.check_stock(&Context::default(), CheckStockRequest { sku: "A".into(), ..Default::default() }).await?;
    println!("{}", reply.available);
    Ok(())
}
RS
cat >"$scratch/peer-app/src/main.rs" <<'RS'
use peer::generated::inventory::v1::inventory_service_client::InventoryServiceClient;
use peer::generated::inventory::v1::inventory_service_server::{InventoryService, InventoryServiceServer};
use peer::generated::inventory::v1::*;
use tonic::{Request, Response, Status};

struct Stock;

#[tonic::async_trait]
impl InventoryService for Stock {
    async fn check_stock(&self, request: Request<CheckStockRequest>) -> Result<Response<CheckStockResponse>, Status> {
        Ok(Response::new(CheckStockResponse { sku: request.into_inner().sku, available: 7, ..Default::default() }))
    }
    async fn reserve_items(&self, _: Request<ReserveItemsRequest>) -> Result<Response<ReserveItemsResponse>, Status> {
        Err(Status::unimplemented("ReserveItems"))
    }
    async fn release_reservation(&self, _: Request<ReleaseReservationRequest>) -> Result<Response<ReleaseReservationResponse>, Status> {
        Err(Status::unimplemented("ReleaseReservation"))
    }
    type WatchStockLevelsStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<StockUpdate, Status>> + Send>>;
    async fn watch_stock_levels(&self, _: Request<WatchStockLevelsRequest>) -> Result<Response<Self::WatchStockLevelsStream>, Status> {
        Err(Status::unimplemented("WatchStockLevels"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(InventoryServiceServer::new(Stock))
            .serve_with_incoming(incoming),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?.connect_lazy();
    let mut client = InventoryServiceClient::new(channel);
    let reply = client.check_stock(CheckStockRequest { sku: "A".into(), ..Default::default() }).await?;
    println!("{}", reply.into_inner().available);
    Ok(())
}
RS

# Lines of generated Rust, split into prost messages and the rest (services).
count_lines() { # dir
	find "$1" -name '*.rs' -print0 | xargs -0 cat | wc -l
}
lines_ours=$(count_lines "$scratch/ours/src/generated")
lines_peer=$(count_lines "$scratch/peer/src/generated")
lines_ours_lfl=$(count_lines "$scratch/ours-lfl/src/generated")
lines_peer_json=$(count_lines "$scratch/peer-json/src/generated")
messages_ours=$(cat "$scratch"/ours/src/generated/{inventory,orders,dispatch}.v1.rs | wc -l)
messages_peer=$(cat "$scratch"/peer/src/generated/{inventory,orders,dispatch}/v1/*.v1.rs | wc -l)

export CARGO_TARGET_DIR=$scratch/target
# Incremental compilation would turn a touch into a check of cached query results: what is
# measured then is the cache, not the cost of compiling the code. Off unless asked for.
export CARGO_INCREMENTAL=$incremental
manifest=$scratch/Cargo.toml

profiles=(dev)
[[ $check == 1 ]] && profiles+=(check)
[[ $release == 1 ]] && profiles+=(release)
cargo_command() { # profile crate: a shell command line, for hyperfine
	local subcommand
	case $1 in
	dev) subcommand="build" ;;
	check) subcommand="check" ;;
	release) subcommand="build --release" ;;
	esac
	echo "cargo $subcommand --quiet --manifest-path $(printf %q "$manifest") -p $2"
}
crates=(ours peer ours-lfl peer-json ours-app peer-app)
for profile in "${profiles[@]}"; do
	for crate in "${crates[@]}"; do
		note "building $crate and its dependencies ($profile)"
		bash -c "$(cargo_command "$profile" "$crate")" || die "$crate does not build ($profile)"
	done
done

results=$scratch/results
mkdir -p "$results"
for profile in "${profiles[@]}"; do
	for ((round = 0; round < rounds; round++)); do
		# hyperfine runs each command's builds back to back; rotating which crate goes first
		# from round to round keeps drift from favouring one. An app is rebuilt after touching
		# its side's library: the generated code and what instantiates it.
		order=()
		for ((k = 0; k < ${#crates[@]}; k++)); do
			order+=("${crates[(k + round) % ${#crates[@]}]}")
		done
		args=()
		for crate in "${order[@]}"; do
			args+=(--prepare "touch $(printf %q "$scratch/${crate%-app}/src/lib.rs")"
				--command-name "$crate"
				"$(cargo_command "$profile" "$crate")")
		done
		note "round $((round + 1))/$rounds ($profile): ${order[*]}"
		hyperfine --style basic --warmup 1 --runs "$runs" \
			--export-json "$results/$profile.$round.json" "${args[@]}" >&2
	done
done

# Instructions of one dev build per crate: the rustc invocation cargo makes (taken from
# `cargo build -v`), run again under callgrind with its children (the linker, for the apps).
instructions=$scratch/instructions.txt
: >"$instructions"
counted=("${crates[@]}")
[[ $split == 1 ]] && counted+=(ours-msg peer-json-msg)
if [[ $callgrind == 1 ]]; then
	for crate in "${counted[@]}"; do
		note "counting the instructions of building $crate"
		touch "$scratch/${crate%-app}/src/lib.rs"
		rustc_line=$(rustc_command "$manifest" "$crate")
		rm -f "$scratch"/callgrind.*
		(cd "$scratch" && valgrind --tool=callgrind --trace-children=yes --cache-sim=no \
			--branch-sim=no --callgrind-out-file="$scratch/callgrind.%p" \
			bash -c "$rustc_line" >/dev/null 2>"$scratch/valgrind.log") ||
			die "$crate does not build under valgrind (see $scratch/valgrind.log)"
		for out in "$scratch"/callgrind.*; do
			process=$(sed -n 's/^cmd: *\([^ ]*\).*/\1/p' "$out")
			echo "$crate ${process##*/} $(sed -n 's/^summary: *//p' "$out")"
		done >>"$instructions"
	done
fi

versions=$(python3 - "$scratch/Cargo.lock" <<'PY'
import sys, tomllib
lock = {p["name"]: p["version"] for p in tomllib.load(open(sys.argv[1], "rb"))["package"]}
print(", ".join(f"{name} {lock[name]}" for name in ("prost", "tonic", "tonic-prost")))
PY
)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
HEADER="$(date -u +%Y-%m-%d). $(rustc --version | cut -d' ' -f1-2), $versions; protoc $(protoc --version | cut -d' ' -f2), protoc-gen-prost $(protoc-gen-prost --version), protoc-gen-tonic $(protoc-gen-tonic --version). Machine: $(nproc) vCPU $cpu_model, Linux $(uname -r)." \
	ROUNDS=$rounds RUNS=$runs INCREMENTAL=$incremental PROFILES="${profiles[*]}" \
	LINES_OURS=$lines_ours LINES_PEER=$lines_peer MESSAGES_OURS=$messages_ours MESSAGES_PEER=$messages_peer \
	LINES_OURS_LFL=$lines_ours_lfl LINES_PEER_JSON=$lines_peer_json \
	python3 - "$results" "$instructions" <<'PY'
import json, os, statistics, sys
from pathlib import Path

env = os.environ
profiles = env["PROFILES"].split()
# times[profile][crate] = every measured build; per_round[profile][crate][round] = their median
times, per_round = {}, {}
for profile in profiles:
    times[profile] = {crate: [] for crate in ("ours", "peer", "ours-lfl", "peer-json", "ours-app", "peer-app")}
    per_round[profile] = {crate: {} for crate in times[profile]}
    for path in sorted(Path(sys.argv[1]).glob(f"{profile}.*.json")):
        round_ = int(path.stem.split(".")[1])
        for result in json.load(open(path))["results"]:
            times[profile][result["command"]] += result["times"]
            per_round[profile][result["command"]][round_] = statistics.median(result["times"])


def summary(values):
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


incremental = "on" if env["INCREMENTAL"] == "1" else "off (`CARGO_INCREMENTAL=0`), so the whole crate is recompiled"
print(env["HEADER"])
print()
print(
    "Touch-and-rebuild of a library crate whose only code is the generated code for "
    "inventory.proto, orders.proto and dispatch.proto (`touch src/lib.rs; cargo build -p …`, "
    f"dependencies prebuilt; incremental compilation {incremental}). {env['ROUNDS']} rounds of "
    f"{env['RUNS']} builds per crate after one warm-up build, the first crate alternating; "
    "median (min–max) of all builds. `ours` (our default artifacts) has, besides the prost "
    "messages, the proto3 JSON impls the gateway's routes reach, and per service the domain trait "
    "and its object-safe form, the stub, the fake, the adapter, the gateway and the client with "
    "its policies; `peer-json` has tonic's server and client modules and pbjson's impls for every "
    "message; `ours-lfl` (`artifacts=domain+stub+server+client`) leaves out the gateway, the JSON "
    "and the fake, and `peer` the JSON. Generic code (tonic's server and client over any `T`, our adapter over any domain "
    "type) and `#[inline]` methods (our client's, fake's and stub's) are compiled where they are "
    "used, so the library rows leave that part of both sides' cost out; the app rows (touch the "
    "library, rebuild it and a small binary that serves InventoryService and calls CheckStock "
    "through the generated client) count it on both sides."
)
print()
names = {"dev": "dev build", "check": "`cargo check`", "release": "release build"}
columns = " | ".join(names[p] for p in profiles)
print(f"| crate | generated Rust | {columns} |")
print("|---|---|" + "---|" * len(profiles))
for crate, label, lines, messages in (
    ("ours", "ours (protoc-gen-rust-svc), library", int(env["LINES_OURS"]), int(env["MESSAGES_OURS"])),
    ("peer", "peer (protoc-gen-prost + protoc-gen-tonic), library", int(env["LINES_PEER"]), int(env["MESSAGES_PEER"])),
    ("peer-json", "peer-json (protoc-gen-prost + protoc-gen-tonic + protoc-gen-prost-serde), library", int(env["LINES_PEER_JSON"]), None),
    ("ours-lfl", "ours-lfl (`artifacts=domain+stub+server+client`), library", int(env["LINES_OURS_LFL"]), None),
    ("ours-app", "ours, library + app", None, None),
    ("peer-app", "peer, library + app", None, None),
):
    builds = " | ".join(summary(times[p][crate]) for p in profiles)
    size = f"{lines:,} lines" if lines else ""
    if messages:
        size += f" ({messages:,} in the message files)"
    print(f"| {label} | {size} | {builds} |")
print()
print("| ours / peer | ratio of medians | per-round ratios | target |")
print("|---|---|---|---|")
for profile in profiles:
    for ours, peer, what, limit in (
        ("ours", "peer-json", "default artifacts / prost + tonic + prost-serde, library", 1.0),
        ("ours-lfl", "peer", "domain+stub+server+client / prost + tonic, library", 1.0),
        ("ours", "peer", "default artifacts / prost + tonic (no JSON), library", 1.3),
        ("ours-app", "peer-app", "default artifacts / prost + tonic (no JSON), library + app", 1.3),
    ):
        t = times[profile]
        ratio = statistics.median(t[ours]) / statistics.median(t[peer])
        rounds = [per_round[profile][ours][r] / per_round[profile][peer][r]
                  for r in per_round[profile][ours]]
        target = f"≤ {limit:.1f}×: " + ("met" if ratio <= limit else "**missed**")
        print(f"| {names[profile]}, {what} | {ratio:.2f}× | {statistics.median(rounds):.2f}× "
              f"({min(rounds):.2f}–{max(rounds):.2f}) | {target} |")
print(f"| lines of generated Rust, ours / peer-json | {int(env['LINES_OURS']) / int(env['LINES_PEER_JSON']):.2f}× | | |")
print(f"| lines of generated Rust, ours-lfl / peer | {int(env['LINES_OURS_LFL']) / int(env['LINES_PEER']):.2f}× | | |")

# Instructions (CALLGRIND=1): crate -> {"rustc": n, "linker": n}
counts = {}
for line in open(sys.argv[2]):
    crate, process, number = line.split()
    kind = "rustc" if process == "rustc" else "linker"
    counts.setdefault(crate, {"rustc": 0, "linker": 0})[kind] += int(number)
if counts:
    print()
    print("Instructions of one dev build (callgrind; rustc, and for the apps the linker it runs):")
    print()
    print("| crate | rustc | linker | rustc against | ratio |")
    print("|---|---|---|---|---|")
    rows = (
        ("ours", "peer-json"),
        ("peer-json", None),
        ("ours-lfl", "peer"),
        ("peer", None),
        ("ours", "peer"),
        ("ours-app", "peer-app"),
        ("peer-app", None),
    )
    for crate, peer in rows:
        c = counts[crate]
        against = f"{peer}" if peer else ""
        ratio = f"{c['rustc'] / counts[peer]['rustc']:.3f}×" if peer else ""
        linker = f"{c['linker'] / 1e9:.2f} G" if c["linker"] else "–"
        print(f"| {crate} | {c['rustc'] / 1e9:.3f} G | {linker} | {against} | {ratio} |")
if "ours-msg" in counts:
    print()
    print("The same two crates split (SPLIT=1): the messages and their JSON impls alone (the service "
          "files emptied), and the service code as the difference:")
    print()
    print("| part | ours | peer-json | ratio |")
    print("|---|---|---|---|")
    ours_msg, peer_msg = counts["ours-msg"]["rustc"], counts["peer-json-msg"]["rustc"]
    ours_all, peer_all = counts["ours"]["rustc"], counts["peer-json"]["rustc"]
    for part, o, p in (
        ("messages and JSON (service files emptied)", ours_msg, peer_msg),
        ("service code (the difference)", ours_all - ours_msg, peer_all - peer_msg),
        ("whole crate", ours_all, peer_all),
    ):
        print(f"| {part} | {o / 1e9:.3f} G | {p / 1e9:.3f} G | {o / p:.3f}× |")
PY
