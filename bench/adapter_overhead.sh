#!/usr/bin/env bash
# Server adapter overhead: the generated tonic adapter (InventoryServiceGrpc around a domain
# `impl InventoryService`) against a hand-written implementation of tonic's generated server
# trait with the same CheckStock handler, both driven by h2load with unary gRPC calls.
#
# Needs: cargo, python3, taskset (util-linux), and h2load + nghttp:
#   apt-get install nghttp2-client
#
# Run from anywhere (it works from the repository root):
#   bench/adapter_overhead.sh                      # final run: 10 rounds, ~5 minutes
#   ROUNDS=2 SECONDS=2 WARMUP=1 bench/adapter_overhead.sh   # smoke test
#
# Settings (environment): ROUNDS (10), SECONDS per implementation per round (10; DURATION is an
# alias), WARMUP seconds before each measurement (3), CONNECTIONS (8), STREAMS per connection
# (16), PORT (50151; the tonic server uses PORT+1), SERVER_CPU (0), CLIENT_CPU (1),
# GRPC_TIMEOUT (unset; e.g. `300m` sends that grpc-timeout on every call, which makes both
# servers arm deadline timers), KEEP_WORKDIR=1 keeps the raw h2load output.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

# SECONDS is bash's own clock, which counts up from whatever the caller set it to, so the value
# asked for is read from the environment the script started with.
seconds_from_env=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^SECONDS=//p')
round_seconds=${DURATION:-${seconds_from_env:-10}}
rounds=${ROUNDS:-10}
warmup=${WARMUP:-3}
connections=${CONNECTIONS:-8}
streams=${STREAMS:-16}
port_generated=${PORT:-50151}
port_tonic=$((port_generated + 1))
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
grpc_timeout=${GRPC_TIMEOUT:-}

die() {
	echo "adapter_overhead: $*" >&2
	exit 1
}
note() { echo "adapter_overhead: $*" >&2; }

for tool in cargo python3 taskset h2load nghttp; do
	command -v "$tool" >/dev/null || case $tool in
	h2load | nghttp) die "$tool not found: apt-get install nghttp2-client" ;;
	taskset) die "taskset not found: apt-get install util-linux" ;;
	*) die "$tool not found" ;;
	esac
done
for value in "$round_seconds" "$rounds" "$warmup" "$connections" "$streams" "$port_generated"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "settings must be positive integers, got '$value'"
done
(($(nproc) >= 2)) || die "needs 2 CPUs: the server and h2load each get one"
[[ -z $grpc_timeout || $grpc_timeout =~ ^[0-9]{1,8}[HMSmun]$ ]] || die "GRPC_TIMEOUT must look like 300m"

cd "$(dirname "$0")/.."
note "building adapter_server (release)"
cargo build --release --quiet -p rust-svc-bench --bin adapter_server
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
server_bin=$target_dir/release/adapter_server

exec 9>&2 # the terminal's stderr, for errors inside redirected blocks
workdir=$(mktemp -d "${TMPDIR:-/tmp}/adapter_overhead.XXXXXX")
server_pids=()
cleanup() {
	local status=$?
	for pid in "${server_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# Kept after a failure too: the error messages point into it.
	if [[ $status -ne 0 || ${KEEP_WORKDIR:-} == 1 ]]; then
		note "raw output kept in $workdir"
	else
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

request=$workdir/check_stock.grpc
# The binary writes the request with the real prost type and prints the size of the framed
# reply, which every counted response must carry (a gRPC error is trailers only, no DATA).
response_bytes=$("$server_bin" --write-request "$request")

headers=(-H 'content-type: application/grpc' -H 'te: trailers')
[[ -n $grpc_timeout ]] && headers+=(-H "grpc-timeout: $grpc_timeout")
url() { echo "http://127.0.0.1:$1/inventory.v1.InventoryService/CheckStock"; }

declare -A port_of=([generated]=$port_generated [tonic]=$port_tonic)
declare -A pid_of
for impl in generated tonic; do
	port=${port_of[$impl]}
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is already in use; set PORT"
	fi
	# exec'd by taskset, so $! is the server itself (its /proc/PID/stat covers all threads).
	taskset -c "$server_cpu" "$server_bin" --impl "$impl" --port "$port" &
	server_pids+=($!)
	pid_of[$impl]=$!
done

# Both servers must give real gRPC successes: a call through tonic's client, then the very
# request h2load sends, through nghttp, whose grpc-status trailer must be 0.
check_servers() {
	for impl in generated tonic; do
		"$server_bin" --check --port "${port_of[$impl]}" >&2 || die "$impl server failed its check"
		nghttp -v -d "$request" "${headers[@]}" "$(url "${port_of[$impl]}")" >"$workdir/nghttp.$impl" 2>&1 ||
			die "nghttp failed against the $impl server: see $workdir/nghttp.$impl"
		grep -q 'grpc-status: 0$' "$workdir/nghttp.$impl" ||
			die "$impl server did not answer grpc-status 0: $(grep -m1 grpc-status "$workdir/nghttp.$impl")"
	done
}
check_servers

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

h2load_run() { # port seconds output [extra h2load args]
	local port=$1 secs=$2 out=$3
	shift 3
	taskset -c "$client_cpu" h2load -t 1 -c "$connections" -m "$streams" -D "$secs" \
		-d "$request" "${headers[@]}" "$@" "$(url "$port")" >"$out" 2>&1 ||
		die "h2load failed: see $out"
}

results=$workdir/results.jsonl
measure() { # impl round
	local impl=$1 round=$2 port=${port_of[$1]} pid=${pid_of[$1]}
	local out=$workdir/h2load.$impl.$round log=$workdir/log.$impl.$round
	kill -0 "$pid" 2>/dev/null || die "the $impl server has exited"
	# A separate warm-up run rather than --warm-up-time: h2load's byte counts include the
	# warm-up, and the exact DATA byte count is what proves every response carried a message.
	h2load_run "$port" "$warmup" "$out.warmup"
	rm -f "$log" # h2load appends to an existing log file
	local ticks_before ticks_after TIMEFORMAT='%R %U %S'
	ticks_before=$(cpu_ticks "$pid")
	# `time` gives the wall time and h2load's own CPU time, to tell which side was the
	# bottleneck; fd 9 keeps h2load_run's own errors on the terminal.
	{ time h2load_run "$port" "$round_seconds" "$out" --log-file="$log" 2>&9; } 2>"$out.time"
	ticks_after=$(cpu_ticks "$pid")
	python3 - "$impl" "$round" "$out" "$log" "$response_bytes" \
		"$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$(cat "$out.time")" \
		>>"$results" <<'PY'
import json, math, re, sys

impl, round_, out_path, log_path, response_bytes, ticks, clk_tck, times = sys.argv[1:]
wall, client_user, client_sys = map(float, times.split())
text = open(out_path).read()


def fail(why):
    sys.exit(f"adapter_overhead: {impl} round {round_}: {why}; see {out_path}")


m = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text) or fail("no req/s line")
rps = float(m.group(1))
m = re.search(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout", text) or fail("no requests line")
total, started, done, succeeded, failed, errored, timeout = map(int, m.groups())
m = re.search(r"status codes: (\d+) 2xx", text) or fail("no status codes line")
ok_http = int(m.group(1))
m = re.search(r"\((\d+)\) data", text) or fail("no traffic line")
data = int(m.group(1))
if done == 0 or failed or errored or timeout or succeeded != done or ok_http != done:
    fail(f"{done} done, {succeeded} succeeded, {ok_http} 2xx, {failed} failed, "
         f"{errored} errored, {timeout} timed out")
# One framed CheckStockResponse per counted response, exactly: a response that was a gRPC
# error (HTTP 200 with trailers only) would have no DATA and show as a shortfall.
if data != done * int(response_bytes):
    fail(f"{data} DATA bytes for {done} responses, expected {response_bytes} each "
         "(some calls did not return a message)")

latencies = []
with open(log_path) as log:
    for line in log:
        _start, status, micros = line.split("\t")[:3]
        if status != "200":
            fail(f"HTTP status {status} in the log")
        latencies.append(int(micros))
if len(latencies) != done:
    fail(f"{len(latencies)} log lines for {done} responses")
latencies.sort()


def percentile(p):  # nearest rank
    return latencies[max(0, math.ceil(p * len(latencies)) - 1)]


cpu = int(ticks) / int(clk_tck)
print(json.dumps({
    "impl": impl, "round": int(round_), "rps": rps, "calls": done,
    "p50_us": percentile(0.50), "p99_us": percentile(0.99),
    "cpu_busy": cpu / wall, "cpu_us_per_call": cpu * 1e6 / done,
    "client_busy": (client_user + client_sys) / wall,
}))
PY
	note "round $((round + 1))/$rounds $impl: $(tail -n1 "$results")"
}

note "${rounds} rounds of ${round_seconds}s per implementation (+${warmup}s warm-up each)"
for ((round = 0; round < rounds; round++)); do
	# Alternate who goes first, so that drift during the run hits both alike.
	if ((round % 2 == 0)); then order=(generated tonic); else order=(tonic generated); fi
	for impl in "${order[@]}"; do measure "$impl" "$round"; done
done
check_servers

tonic_version=$(awk '/^name = "tonic"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
versions="$(date -u +%Y-%m-%d). $(rustc --version | cut -d' ' -f1-2), tonic $tonic_version, h2load $(h2load --version | sed -n 's|.*nghttp2/||p'); \`--release\`. Machine: $(nproc) vCPU $cpu_model, Linux $(uname -r)."
VERSIONS=$versions SERVER_CPU=$server_cpu CLIENT_CPU=$client_cpu CONNECTIONS=$connections \
	STREAMS=$streams GRPC_TIMEOUT=$grpc_timeout ROUND_SECONDS=$round_seconds WARMUP=$warmup \
	python3 - "$results" <<'PY'
import json, os, statistics, sys

env = os.environ
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {impl: [r for r in rows if r["impl"] == impl] for impl in ("generated", "tonic")}


def summary(values, fmt, unit=""):
    median = f"{fmt(statistics.median(values))}{unit}"
    return f"{median} ({fmt(min(values))}–{fmt(max(values))})"


def per_round_ratios(key):
    tonic = {r["round"]: r[key] for r in by["tonic"]}
    return [r[key] / tonic[r["round"]] for r in by["generated"]]


in_flight = int(env["CONNECTIONS"]) * int(env["STREAMS"])
timeout = f"`grpc-timeout: {env['GRPC_TIMEOUT']}`" if env["GRPC_TIMEOUT"] else "no `grpc-timeout`"
print(env["VERSIONS"])
print()
print(
    "Unary `inventory.v1.InventoryService/CheckStock`, answered at once. Each server runs a tokio "
    f"multi-thread runtime with 1 worker thread, pinned to CPU {env['SERVER_CPU']}; h2load runs "
    f"on CPU {env['CLIENT_CPU']} (`h2load -t 1 -c {env['CONNECTIONS']} -m {env['STREAMS']}`, "
    f"{in_flight} calls in flight, {timeout}). Per round and server: {env['WARMUP']} s of "
    f"warm-up, then {env['ROUND_SECONDS']} s measured; {len(by['tonic'])} interleaved rounds "
    "(the first server alternates). Figures are the median (min–max) of rounds; every counted "
    "response carried the CheckStockResponse."
)
print()
print("| server | throughput | p50 latency | p99 latency | server CPU per call | server CPU busy |")
print("|---|---|---|---|---|---|")
names = {"generated": "generated adapter", "tonic": "hand-written tonic service"}
for impl in ("generated", "tonic"):
    rs = by[impl]
    print(
        f"| {names[impl]} "
        f"| {summary([r['rps'] for r in rs], '{:,.0f}'.format, ' calls/s')} "
        f"| {summary([r['p50_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
        f"| {summary([r['p99_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
        f"| {summary([r['cpu_us_per_call'] for r in rs], '{:.2f}'.format, ' µs')} "
        f"| {summary([100 * r['cpu_busy'] for r in rs], '{:.0f}'.format, ' %')} |"
    )
busy = statistics.median(r["cpu_busy"] for r in rows)
client_busy = statistics.median(r["client_busy"] for r in rows)
print()
print(f"h2load used {100 * client_busy:.0f} % of its core (median of all runs).")
if busy < 0.9:
    print(
        f"**The server's core was only {100 * busy:.0f} % busy**: the load generator or other "
        "processes on the machine limited the load, so throughput and latency say little about "
        "the servers; server CPU per call is the more telling figure."
    )
print()
print("| generated / tonic | ratio of medians | per-round ratios | target |")
print("|---|---|---|---|")
for key, label, target, ok in (
    ("rps", "throughput", "≥ 0.98×", lambda x: x >= 0.98),
    ("p50_us", "p50 latency", "", None),
    ("p99_us", "p99 latency", "≤ 1.05×", lambda x: x <= 1.05),
    ("cpu_us_per_call", "server CPU per call", "", None),
):
    ratio = statistics.median(r[key] for r in by["generated"]) / statistics.median(
        r[key] for r in by["tonic"]
    )
    verdict = "" if ok is None else (": met" if ok(ratio) else ": **missed**")
    print(
        f"| {label} | {ratio:.3f}× | {summary(per_round_ratios(key), '{:.3f}'.format, '×')} "
        f"| {target}{verdict} |"
    )
PY
