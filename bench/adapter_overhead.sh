#!/usr/bin/env bash
# Server adapter overhead: the generated tonic adapter (InventoryServiceGrpc around a domain
# `impl InventoryService`) against a hand-written implementation of tonic's generated server
# trait with the same CheckStock handler, both driven by h2load with unary gRPC calls. IMPLS
# picks other servers of adapter_server (see its docs): the interceptor stack of issue 15
# against tower-http layers, for instance.
#
# Needs: cargo, python3, taskset (util-linux), and h2load + nghttp:
#   apt-get install nghttp2-client
#
# Run from anywhere (it works from the repository root):
#   bench/adapter_overhead.sh                      # final run: 10 rounds, ~5 minutes
#   ROUNDS=2 SECONDS=2 WARMUP=1 bench/adapter_overhead.sh   # smoke test
#   IMPLS="generated stack tower stack-spans tower-spans" \
#     RATIOS="stack/generated stack/tower stack-spans/generated stack-spans/tower-spans" \
#     ROUNDS=6 SECONDS=8 bench/adapter_overhead.sh         # issue 15, ~10 minutes
#
# Settings (environment): IMPLS, the servers to compare (`generated tonic`; any of generated,
# tonic, stack, tower, stack-spans, tower-spans, and stack-without-PART, the stack less one
# interceptor: auth, request-ids, tracing, metrics or logging), RATIOS, the `a/b` pairs whose ratios are
# tabled (`generated/tonic` for the default IMPLS, else every server over the first), ROUNDS
# (10), SECONDS per implementation per round (10; DURATION is an alias), WARMUP seconds before
# each measurement (3), CONNECTIONS (8), STREAMS per connection (16), PORT (50151; the n-th
# server of IMPLS uses PORT+n), SERVER_CPU (0), CLIENT_CPU (1), GRPC_TIMEOUT (unset; e.g. `300m`
# sends that grpc-timeout on every call, which makes the servers arm deadline timers),
# FEATURES (rust-svc-bench's cargo features: `jemalloc` makes the servers allocate with jemalloc,
# as scaffolded servers do), KEEP_WORKDIR=1 keeps the raw h2load output.
#
# Every request carries `authorization: Bearer bench` (the stacks' auth checks it; the bare
# servers ignore it), so that all servers get the same bytes.
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
base_port=${PORT:-50151}
read -r -a impls <<<"${IMPLS:-generated tonic}"
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
for value in "$round_seconds" "$rounds" "$warmup" "$connections" "$streams" "$base_port"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "settings must be positive integers, got '$value'"
done
(($(nproc) >= 2)) || die "needs 2 CPUs: the server and h2load each get one"
[[ -z $grpc_timeout || $grpc_timeout =~ ^[0-9]{1,8}[HMSmun]$ ]] || die "GRPC_TIMEOUT must look like 300m"
((${#impls[@]} >= 1)) || die "IMPLS is empty"
declare -A port_of
for ((i = 0; i < ${#impls[@]}; i++)); do
	impl=${impls[i]}
	[[ $impl =~ ^(generated|tonic|stack|tower|stack-spans|tower-spans)$ ||
		$impl =~ ^stack-without-(auth|request-ids|tracing|metrics|logging)$ ]] ||
		die "unknown server '$impl' in IMPLS"
	[[ -z ${port_of[$impl]:-} ]] || die "'$impl' is twice in IMPLS"
	port_of[$impl]=$((base_port + i))
done
if [[ -n ${RATIOS:-} ]]; then
	ratios=$RATIOS
elif [[ ${impls[*]} == "generated tonic" ]]; then
	ratios=generated/tonic
else
	ratios=$(for impl in "${impls[@]:1}"; do printf '%s/%s ' "$impl" "${impls[0]}"; done)
fi
for pair in $ratios; do
	[[ $pair =~ ^([a-z-]+)/([a-z-]+)$ && -n ${port_of[${BASH_REMATCH[1]}]:-} &&
		-n ${port_of[${BASH_REMATCH[2]}]:-} ]] || die "RATIOS: '$pair' is not a/b of two servers in IMPLS"
done
# The servers with an interceptor stack or layers: they check the token, answer an
# x-request-id, and record metrics.
stacked() { [[ $1 == stack* || $1 == tower* ]]; }
has() { stacked "$1" && [[ $1 != *-without-$2 ]]; } # server part
server_args() { # impl
	if [[ $1 =~ ^stack-without-(.*)$ ]]; then
		echo "--impl stack --without ${BASH_REMATCH[1]}"
	else
		echo "--impl $1"
	fi
}

cd "$(dirname "$0")/.."
# shellcheck source=bench/ports.sh
source bench/ports.sh
note "building adapter_server (release)"
cargo build --release --quiet -p rust-svc-bench --bin adapter_server ${FEATURES:+--features "$FEATURES"}
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

headers=(-H 'content-type: application/grpc' -H 'te: trailers' -H 'authorization: Bearer bench')
[[ -n $grpc_timeout ]] && headers+=(-H "grpc-timeout: $grpc_timeout")
url() { echo "http://127.0.0.1:$1/inventory.v1.InventoryService/CheckStock"; }

declare -A pid_of
for impl in "${impls[@]}"; do
	port=${port_of[$impl]}
	if port_in_use "$port"; then
		die "port $port is already in use; set PORT"
	fi
	metrics_out=()
	stacked "$impl" && metrics_out=(--metrics-out "$workdir/metrics.$impl")
	# exec'd by taskset, so $! is the server itself (its /proc/PID/stat covers all threads).
	# shellcheck disable=SC2046 # server_args is words
	taskset -c "$server_cpu" "$server_bin" $(server_args "$impl") --port "$port" "${metrics_out[@]}" &
	server_pids+=($!)
	pid_of[$impl]=$!
done

# Every server must give real gRPC successes: a call through tonic's client, then the very
# request h2load sends, through nghttp, whose grpc-status trailer must be 0. A server with a
# stack must also turn away a call without a token, and answer an x-request-id.
check_servers() {
	for impl in "${impls[@]}"; do
		local expect_auth=()
		has "$impl" auth && expect_auth=(--expect-auth)
		"$server_bin" --check --port "${port_of[$impl]}" "${expect_auth[@]}" >&2 ||
			die "$impl server failed its check"
		nghttp -v -d "$request" "${headers[@]}" "$(url "${port_of[$impl]}")" >"$workdir/nghttp.$impl" 2>&1 ||
			die "nghttp failed against the $impl server: see $workdir/nghttp.$impl"
		grep -aq 'grpc-status: 0$' "$workdir/nghttp.$impl" ||
			die "$impl server did not answer grpc-status 0: $(grep -a -m1 grpc-status "$workdir/nghttp.$impl")"
		if has "$impl" request-ids; then
			grep -aq 'x-request-id: ' "$workdir/nghttp.$impl" ||
				die "$impl server answered no x-request-id: see $workdir/nghttp.$impl"
		fi
	done
}
check_servers

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Busy ticks of the whole machine (user, nice, system, irq, softirq, steal), to tell how much
# CPU other processes took during a measurement.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

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
	local ticks_before ticks_after machine_before machine_after TIMEFORMAT='%R %U %S'
	machine_before=$(machine_ticks)
	ticks_before=$(cpu_ticks "$pid")
	# `time` gives the wall time and h2load's own CPU time, to tell which side was the
	# bottleneck; fd 9 keeps h2load_run's own errors on the terminal.
	{ time h2load_run "$port" "$round_seconds" "$out" --log-file="$log" 2>&9; } 2>"$out.time"
	ticks_after=$(cpu_ticks "$pid")
	machine_after=$(machine_ticks)
	python3 - "$impl" "$round" "$out" "$log" "$response_bytes" \
		"$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$(cat "$out.time")" \
		"$((machine_after - machine_before))" "$out.warmup" \
		>>"$results" <<'PY'
import json, math, re, sys

(impl, round_, out_path, log_path, response_bytes, ticks, clk_tck, times, machine_ticks,
 warmup_path) = sys.argv[1:]
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
client_cpu = client_user + client_sys
# What neither the server nor h2load used, in cores (tick rounding makes it a little noisy).
other = max(0.0, int(machine_ticks) / int(clk_tck) - cpu - client_cpu) / wall
m = re.search(r"requests: \d+ total, \d+ started, (\d+) done", open(warmup_path).read())
print(json.dumps({
    "impl": impl, "round": int(round_), "rps": rps, "calls": done,
    "warmup_calls": int(m.group(1)) if m else 0,
    "p50_us": percentile(0.50), "p99_us": percentile(0.99),
    "cpu_busy": cpu / wall, "cpu_us_per_call": cpu * 1e6 / done,
    "client_busy": client_cpu / wall, "other_busy": other,
}))
PY
	note "round $((round + 1))/$rounds $impl: $(tail -n1 "$results")"
}

note "${rounds} rounds of ${round_seconds}s per implementation (+${warmup}s warm-up each)"
for ((round = 0; round < rounds; round++)); do
	# Rotate who goes first (with two servers: alternate), so that drift during the run hits
	# all alike.
	n=${#impls[@]}
	for ((i = 0; i < n; i++)); do measure "${impls[(round + i) % n]}" "$round"; done
done
check_servers

# The recorders of the stacked servers, rendered at SIGTERM: every call h2load counted must
# have been recorded as handled OK (the server may have answered a few more, whose responses
# h2load stopped reading at the end of a run, and the checks').
for impl in "${impls[@]}"; do
	stacked "$impl" || continue
	kill -TERM "${pid_of[$impl]}"
	wait "${pid_of[$impl]}" 2>/dev/null || true
	has "$impl" metrics || continue
	handled=$(sed -n 's/^grpc_server_handled_total{.*grpc_code="OK".*} //p' "$workdir/metrics.$impl")
	counted=$(python3 -c 'import json,sys; print(sum(r["calls"] + r["warmup_calls"] for r in map(json.loads, open(sys.argv[1])) if r["impl"] == sys.argv[2]))' "$results" "$impl")
	[[ -n $handled ]] && ((handled >= counted)) ||
		die "$impl: the metrics recorded ${handled:-no} calls handled OK, h2load counted $counted"
	note "$impl: metrics recorded $handled calls handled OK; h2load counted $counted"
done

tonic_version=$(awk '/^name = "tonic"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
versions="$(date -u +%Y-%m-%d). $(rustc --version | cut -d' ' -f1-2), tonic $tonic_version, h2load $(h2load --version | sed -n 's|.*nghttp2/||p'); \`--release\`. Machine: $(nproc) vCPU $cpu_model, Linux $(uname -r)."
VERSIONS=$versions SERVER_CPU=$server_cpu CLIENT_CPU=$client_cpu CONNECTIONS=$connections \
	STREAMS=$streams GRPC_TIMEOUT=$grpc_timeout ROUND_SECONDS=$round_seconds WARMUP=$warmup \
	IMPLS="${impls[*]}" RATIOS="$ratios" python3 - "$results" <<'PY'
import json, os, statistics, sys

env = os.environ
impls = env["IMPLS"].split()
pairs = [pair.split("/") for pair in env["RATIOS"].split()]
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {impl: [r for r in rows if r["impl"] == impl] for impl in impls}


def summary(values, fmt, unit=""):
    median = f"{fmt(statistics.median(values))}{unit}"
    return f"{median} ({fmt(min(values))}–{fmt(max(values))})"


def per_round_ratios(key, a, b):
    other = {r["round"]: r[key] for r in by[b]}
    return [r[key] / other[r["round"]] for r in by[a]]


in_flight = int(env["CONNECTIONS"]) * int(env["STREAMS"])
timeout = f"`grpc-timeout: {env['GRPC_TIMEOUT']}`" if env["GRPC_TIMEOUT"] else "no `grpc-timeout`"
order = "the first server alternates" if len(impls) == 2 else "the order rotates"
print(env["VERSIONS"])
print()
print(
    "Unary `inventory.v1.InventoryService/CheckStock`, answered at once. Each server runs a tokio "
    f"multi-thread runtime with 1 worker thread, pinned to CPU {env['SERVER_CPU']}; h2load runs "
    f"on CPU {env['CLIENT_CPU']} (`h2load -t 1 -c {env['CONNECTIONS']} -m {env['STREAMS']}`, "
    f"{in_flight} calls in flight, {timeout}). Per round and server: {env['WARMUP']} s of "
    f"warm-up, then {env['ROUND_SECONDS']} s measured; {len(by[impls[0]])} interleaved rounds "
    f"({order}). Figures are the median (min–max) of rounds; every counted response carried the "
    "CheckStockResponse."
)
print()
print("| server | throughput | p50 latency | p99 latency | server CPU per call | server CPU busy |")
print("|---|---|---|---|---|---|")
names = {
    "generated": "generated adapter",
    "tonic": "hand-written tonic service",
    "stack": "generated adapter + interceptor stack",
    "tower": "generated adapter + tower-http layers",
    "stack-spans": "generated adapter + interceptor stack, spans live",
    "tower-spans": "generated adapter + tower-http layers, spans live",
}
for impl in impls:
    rs = by[impl]
    name = names.get(impl) or f"generated adapter + interceptor stack without {impl.split('-', 2)[2]}"
    print(
        f"| {name} (`{impl}`) "
        f"| {summary([r['rps'] for r in rs], '{:,.0f}'.format, ' calls/s')} "
        f"| {summary([r['p50_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
        f"| {summary([r['p99_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
        f"| {summary([r['cpu_us_per_call'] for r in rs], '{:.2f}'.format, ' µs')} "
        f"| {summary([100 * r['cpu_busy'] for r in rs], '{:.0f}'.format, ' %')} |"
    )
busy = statistics.median(r["cpu_busy"] for r in rows)
client_busy = statistics.median(r["client_busy"] for r in rows)
other = [r["other_busy"] for r in rows]
print()
print(
    f"h2load used {100 * client_busy:.0f} % of its core (median of all runs); other processes "
    f"{100 * statistics.median(other):.0f} % of a core (median; {100 * max(other):.0f} % at most)."
)
if busy < 0.9:
    print(
        f"**The server's core was only {100 * busy:.0f} % busy**: the load generator or other "
        "processes on the machine limited the load, so throughput and latency say little about "
        "the servers; server CPU per call is the more telling figure."
    )

# The targets of the issues, by pair: (metric, bound, at least?).
targets = {
    ("generated", "tonic"): {"rps": (0.98, True), "p99_us": (1.05, False)},
    ("stack", "generated"): {"rps": (0.90, True)},
    ("stack-spans", "generated"): {"rps": (0.90, True)},
    ("stack", "tower"): {"rps": (1.0, True)},
    ("stack-spans", "tower-spans"): {"rps": (1.0, True)},
}
for a, b in pairs:
    goals = targets.get((a, b), {})
    print()
    print(f"| {a} / {b} | ratio of medians | per-round ratios | target |")
    print("|---|---|---|---|")
    for key, label in (
        ("rps", "throughput"),
        ("p50_us", "p50 latency"),
        ("p99_us", "p99 latency"),
        ("cpu_us_per_call", "server CPU per call"),
    ):
        ratio = statistics.median(r[key] for r in by[a]) / statistics.median(r[key] for r in by[b])
        target = ""
        if key in goals:
            bound, at_least = goals[key]
            met = ratio >= bound if at_least else ratio <= bound
            target = f"{'≥' if at_least else '≤'} {bound:.2f}×: {'met' if met else '**missed**'}"
        print(
            f"| {label} | {ratio:.3f}× | {summary(per_round_ratios(key, a, b), '{:.3f}'.format, '×')} "
            f"| {target} |"
        )
PY
