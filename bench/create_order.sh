#!/usr/bin/env bash
# CreateOrder end to end: h2load sends orders.v1.OrderService/CreateOrder over gRPC to the
# `logistics all` binary (release build), whose orders service reserves the stock through the
# generated inventory client and asks for a courier through the generated dispatch client, over
# loopback, with SQLite in memory. Measures throughput and latency percentiles (from h2load's
# per-request log) and, with perf sampling the server process during the load, where its CPU
# time goes: generated code, the runtime crate, the domain code (with SQLite), the transport
# (tonic, hyper, h2, tokio, axum, tower), the allocator and libc, and the kernel.
#
# Needs: cargo, protoc (to encode the request), h2load (apt-get install nghttp2-client), perf
# (apt-get install linux-perf; root, or kernel.perf_event_paranoid <= 1), python3, curl.
#
#   bench/create_order.sh                  # 30 s of load, then the profile (~1 minute + build)
#   SECONDS=5 bench/create_order.sh        # smoke test
#
# Settings (environment): SECONDS of load (30; DURATION is an alias), CONNECTIONS (8), STREAMS
# per connection (16), PROFILE=0 skips perf, KEEP_WORKDIR=1 keeps the raw output,
# LOGISTICS_BIN=PATH runs a binary built elsewhere (an older commit's, say) instead.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

seconds_from_env=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^SECONDS=//p')
load_seconds=${DURATION:-${seconds_from_env:-30}}
connections=${CONNECTIONS:-8}
streams=${STREAMS:-16}
profile=${PROFILE:-1}

die() {
	echo "create_order: $*" >&2
	exit 1
}
note() { echo "create_order: $*" >&2; }

tools=(cargo protoc h2load python3 curl)
[ "$profile" = 1 ] && tools+=(perf)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "needs $tool on PATH (see the header of this script)"
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	if [ "${KEEP_WORKDIR:-0}" = 1 ]; then note "raw output kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

binary=${LOGISTICS_BIN:-}
if [ -z "$binary" ]; then
	note "building logistics (release)"
	cargo build --release --quiet -p logistics --manifest-path "$root/Cargo.toml"
	binary="$root/target/release/logistics"
fi

# The request, framed as one gRPC message: a 0 flag byte, the 4-byte big-endian length, then the
# protobuf encoding. No idempotency key, so that every request places a new order.
printf '%s\n' 'order { customer_id: "c_bench" currency: "USD" items { sku: "SKU-10042" quantity: 1 unit_price_cents: 1250 } }' |
	protoc --encode=orders.v1.CreateOrderRequest -I "$root/proto" -I /usr/include \
		"$root/proto/orders/v1/orders.proto" >"$work/request.pb"
python3 - "$work/request.pb" "$work/request.grpc" <<'EOF'
import struct, sys
message = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b"\0" + struct.pack(">I", len(message)) + message)
EOF

note "starting logistics all"
# Enough stock for every order of the run; logging at warn so that the log is not measured.
RUST_LOG=warn "$binary" all --inventory-listen 127.0.0.1:0 --orders-listen 127.0.0.1:0 \
	--dispatch-listen 127.0.0.1:0 --seed-units 100000000 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do
	grep -q '^dispatch listening on' "$work/stdout" 2>/dev/null && break
	sleep 0.1
done
orders=$(sed -n 's/^orders listening on //p' "$work/stdout")
[ -n "$orders" ] || die "logistics did not start: $(cat "$work/stderr")"

h2load_run() { # seconds log-file
	h2load --duration="$1" --clients="$connections" --max-concurrent-streams="$streams" \
		--threads=1 --header='content-type: application/grpc' --header='te: trailers' \
		--data="$work/request.grpc" --log-file="$2" \
		"$orders/orders.v1.OrderService/CreateOrder" >"$work/h2load.out"
}

note "warming up (3 s)"
h2load_run 3 "$work/warmup.log"

note "loading for ${load_seconds} s"
if [ "$profile" = 1 ]; then
	# Sampled during the middle of the load, user and kernel, with call graphs off: the self
	# time of each symbol is what is bucketed below.
	(sleep 2 && perf record --quiet -F 999 -p "$server_pid" -o "$work/perf.data" \
		-- sleep $((load_seconds > 6 ? load_seconds - 4 : 2)) >/dev/null 2>&1) &
	perf_pid=$!
fi
h2load_run "$load_seconds" "$work/load.log"
[ "$profile" = 1 ] && wait "$perf_pid"
cp "$work/h2load.out" "$work/load.out"

# The server's own count of CreateOrder outcomes: h2load sees HTTP 200 for gRPC errors too.
curl -s "$orders/metrics" >"$work/metrics"

python3 - "$work/load.log" "$work/load.out" "$work/metrics" "$load_seconds" \
	"$connections" "$streams" <<'EOF'
import re, sys
log, out, metrics, seconds, connections, streams = sys.argv[1:]
# h2load's log: start time (us), HTTP status, request time (us), one request per line.
durations = sorted(int(line.split()[2]) for line in open(log) if line.strip())
def percentile(p):
    return durations[min(len(durations) - 1, int(p / 100 * len(durations)))] / 1000
handled = {}
for line in open(metrics):
    m = re.match(r'grpc_server_handled_total\{(.*)\} (\d+)', line)
    if m and 'grpc_method="CreateOrder"' in m.group(1):
        code = re.search(r'grpc_code="(\w+)"', m.group(1)).group(1)
        handled[code] = handled.get(code, 0) + int(m.group(2))
rate = re.search(r'finished in [^,]+, ([\d.]+) req/s', open(out).read())
print(f"{seconds} s, {connections} connections x {streams} streams, h2load on the same 2 cores.\n")
print("| requests | throughput | p50 | p90 | p99 | max | CreateOrder outcomes (server) |")
print("|---|---|---|---|---|---|---|")
outcomes = ", ".join(f"{code} {count}" for code, count in sorted(handled.items()))
print(f"| {len(durations)} | {float(rate.group(1)):,.0f} calls/s | {percentile(50):.2f} ms | "
      f"{percentile(90):.2f} ms | {percentile(99):.2f} ms | {durations[-1] / 1000:.2f} ms | "
      f"{outcomes} (warm-up included) |")
EOF

[ "$profile" = 1 ] || exit 0
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
	>"$work/perf.txt" || die "perf report failed"
python3 - "$work/perf.txt" <<'EOF'
import re, sys
# Buckets by the demangled symbol's path; first match wins. Generated code is the code under
# the example crate's generated modules (the adapters, clients and gateways it includes);
# inlining moves some of it into its callers, so the shares are approximate.
buckets = [
    ("kernel", lambda dso, sym: dso.startswith("[kernel")),
    # The only C code linked into the binary is SQLite (rusqlite's bundled build), whose
    # functions have no Rust path.
    ("SQLite", lambda dso, sym: dso == "logistics" and "::" not in sym),
    ("domain code", lambda dso, sym: re.search(
        r"example_services::(order_desk|inventory_store|courier_directory|db|watch|errors)|"
        r"rusqlite", sym)),
    ("generated code", lambda dso, sym: re.search(
        r"example_services::generated::|"
        r"(OrderService|InventoryService|DispatchService)(Grpc|Client|Gateway|Server)", sym)),
    ("runtime crate", lambda dso, sym: "rust_svc_runtime" in sym),
    ("logistics binary (interceptor, wiring)", lambda dso, sym: "logistics::" in sym),
    ("protobuf (prost)", lambda dso, sym: "prost::" in sym),
    ("transport (tonic, hyper, h2, tokio, tower, axum)", lambda dso, sym: re.search(
        r"\b(tonic|hyper|hyper_util|h2|tokio|tower|axum|http|bytes|futures_\w+)::", sym)),
    ("tracing and metrics", lambda dso, sym: re.search(r"\b(tracing\w*|metrics\w*)::", sym)),
    ("allocator and libc", lambda dso, sym: re.search(
        r"malloc|free|realloc|memcpy|memmove|memset|cfree|_int_|libc", sym) or "libc" in dso),
]
shares = {name: 0.0 for name, _ in buckets}
shares["other"] = 0.0
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)", line)
    if not m:
        continue
    percent, dso, sym = float(m.group(1)), m.group(2), m.group(3)
    if line.split()[2] == "[k]":
        dso = "[kernel]"
    name = next((name for name, test in buckets if test(dso, sym)), "other")
    shares[name] += percent
print("\nWhere the server's CPU time goes (perf, self time by symbol):\n")
print("| part | share |")
print("|---|---|")
for name, share in sorted(shares.items(), key=lambda item: -item[1]):
    print(f"| {name} | {share:.1f} % |")
EOF
