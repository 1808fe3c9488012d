#!/usr/bin/env bash
# REST/JSON gateway: the generated gateway (InventoryServiceGateway::router around a domain impl)
# against a hand-written axum + serde front calling the same domain, both served by
# `rest_server`'s `axum::serve` over HTTP/1.1, loaded by wrk on two routes:
#   GET  /v1/items/{sku}/stock?warehouse_id=…   path + query bindings → CheckStock
#   POST /v1/reservations, a JSON body            body "*"              → ReserveItems
# The gateway is also served as a tower service without the axum `Router` that `router()` wraps
# it in, to tell that wrapper's cost apart, and on a `Host` port beside the gRPC adapter, as the
# example system and scaffolded servers serve it. Optionally also grpc-gateway (Go) in front of the
# generated tonic adapter, and our gateway in front of the generated client to the same adapter
# (a proxy, like grpc-gateway).
#
# Needs: cargo, python3, curl, taskset (util-linux), wrk:
#   apt-get install wrk
# For the grpc-gateway v2 peer, build it first (Go modules from the module proxy; see that script):
#   GRPC_GATEWAY=$(bench/grpc_gateway_peer.sh) bench/gateway.sh
#
# Run from anywhere (it works from the repository root):
#   bench/gateway.sh                              # final run: ~6 minutes (~8.5 with the peer)
#   ROUNDS=2 SECONDS=2 WARMUP=1 bench/gateway.sh  # smoke test
#
# Settings (environment): ROUNDS (7), SECONDS per server and route per round (5; DURATION is
# an alias), WARMUP seconds before each measurement (1), CONNECTIONS (64), PORT (50161; the
# others use PORT+1…PORT+7), SERVER_CPU (0), CLIENT_CPU (1), GRPC_GATEWAY (path of the peer's
# binary; unset: no peer), CALLGRIND=1 also counts the user-space instructions per request of
# the four in-process servers (valgrind; deterministic where the wrk figures on a shared
# machine are not; about 1.5 minutes more), KEEP_WORKDIR=1 keeps the raw wrk output,
# BACKEND (the gRPC server both proxies call: `host`, the generated adapter on a `Host` port as
# the example system and scaffolded servers serve gRPC, the default; or `grpc`, the same adapter
# under tonic's bare `transport::Server`), FEATURES (rust-svc-bench's cargo features: `jemalloc`
# makes every server allocate with jemalloc, as scaffolded servers do).
#
# Server CPU per request is the servers' user and system time over the requests served, with
# the user part beside it: with one request per HTTP/1.1 round trip, the kernel's read and write
# are most of an in-process front's CPU and the same work for every front, so the user time is
# where the fronts' own code differs.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

# SECONDS is bash's own clock, which counts up from whatever the caller set it to, so the value
# asked for is read from the environment the script started with.
seconds_from_env=$(tr '\0' '\n' </proc/$$/environ | sed -n 's/^SECONDS=//p')
round_seconds=${DURATION:-${seconds_from_env:-5}}
rounds=${ROUNDS:-7}
warmup=${WARMUP:-1}
connections=${CONNECTIONS:-64}
port_base=${PORT:-50161}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
grpc_gateway=${GRPC_GATEWAY:-}
callgrind=${CALLGRIND:-0}
backend=${BACKEND:-host}
features=${FEATURES:-}

die() {
	echo "gateway: $*" >&2
	exit 1
}
note() { echo "gateway: $*" >&2; }

for tool in cargo python3 curl taskset wrk; do
	command -v "$tool" >/dev/null || case $tool in
	wrk) die "wrk not found: apt-get install wrk" ;;
	taskset) die "taskset not found: apt-get install util-linux" ;;
	*) die "$tool not found" ;;
	esac
done
for value in "$round_seconds" "$rounds" "$warmup" "$connections" "$port_base"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "settings must be positive integers, got '$value'"
done
(($(nproc) >= 2)) || die "needs 2 CPUs: the servers and wrk each get one"
[[ $backend == host || $backend == grpc ]] || die "BACKEND must be host or grpc, got '$backend'"
[[ -z $grpc_gateway || -x $grpc_gateway ]] || die "GRPC_GATEWAY=$grpc_gateway is not an executable"
if [[ $callgrind == 1 ]]; then
	for tool in valgrind callgrind_control callgrind_annotate; do
		command -v "$tool" >/dev/null || die "$tool not found: apt-get install valgrind"
	done
fi

cd "$(dirname "$0")/.."
# shellcheck source=bench/ports.sh
source bench/ports.sh
note "building rest_server (release)"
cargo build --release --quiet -p rust-svc-bench --bin rest_server ${features:+--features "$features"}
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
server_bin=$target_dir/release/rest_server

exec 9>&2 # the terminal's stderr, for errors inside redirected blocks
workdir=$(mktemp -d "${TMPDIR:-/tmp}/gateway.XXXXXX")
server_pids=()
cleanup() {
	local status=$?
	for pid in "${server_pids[@]}"; do
		[[ -n $pid ]] || continue
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

# The two requests. The SKU and the query value are ones the domain echoes or acts on, so a
# front that dropped a binding would answer differently (the checks below compare bodies).
get_path='/v1/items/SKU-10042/stock?warehouse_id=wh_us_east'
post_path='/v1/reservations'
post_body='{"orderId":"ord-20260101-0042","items":[{"sku":"SKU-10042","quantity":2},{"sku":"SKU-20077","quantity":1}],"idempotencyKey":"8d1c7a52-checkout"}'

# wrk's Lua hooks: the POST request, and a machine-readable summary (wrk's text output rounds
# latencies to two digits). Without a `request` or `response` hook wrk keeps its fast path.
cat >"$workdir/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
LUA
{
	echo 'wrk.method = "POST"'
	echo 'wrk.headers["Content-Type"] = "application/json"'
	printf 'wrk.body = [[%s]]\n' "$post_body"
	cat "$workdir/report.lua"
} >"$workdir/post.lua"
declare -A script_of=([get]=$workdir/report.lua [post]=$workdir/post.lua)
declare -A path_of=([get]=$get_path [post]=$post_path)

# Servers. Every process of the server side is pinned to SERVER_CPU: a proxy and its gRPC
# backend share that one core, so that each implementation gets the same CPU.
impls=(gateway gateway-service host handwritten)
declare -A port_of=([gateway]=$port_base [handwritten]=$((port_base + 1)) [gateway-service]=$((port_base + 5))
	[host]=$((port_base + 7)))
declare -A pids_of
backend_port=$((port_base + 2))
start() { # name port command...
	local name=$1 port=$2
	shift 2
	if port_in_use "$port"; then
		die "port $port is already in use; set PORT"
	fi
	# exec'd by taskset, so $! is the server itself (its /proc/PID/stat covers all threads).
	taskset -c "$server_cpu" "$@" 2>"$workdir/server.$name.log" &
	server_pids+=($!)
	pids_of[$name]="${pids_of[$name]:-} $!"
}
start gateway "${port_of[gateway]}" "$server_bin" --impl gateway --port "${port_of[gateway]}"
start handwritten "${port_of[handwritten]}" "$server_bin" --impl handwritten --port "${port_of[handwritten]}"
start gateway-service "${port_of[gateway-service]}" "$server_bin" --impl gateway-service --port "${port_of[gateway-service]}"
start host "${port_of[host]}" "$server_bin" --impl host --port "${port_of[host]}"
if [[ -n $grpc_gateway ]]; then
	impls+=(proxy grpc-gateway)
	port_of[proxy]=$((port_base + 3))
	port_of[grpc-gateway]=$((port_base + 4))
	start backend "$backend_port" "$server_bin" --impl "$backend" --port "$backend_port"
	start proxy "${port_of[proxy]}" "$server_bin" --impl proxy --port "${port_of[proxy]}" --backend "$backend_port"
	# One OS thread running Go code, as our servers have one tokio worker.
	start grpc-gateway "${port_of[grpc-gateway]}" env GOMAXPROCS=1 "$grpc_gateway" \
		-listen "127.0.0.1:${port_of[grpc-gateway]}" -backend "127.0.0.1:$backend_port"
	# The backend's CPU counts for both proxies: it is part of serving their requests.
	pids_of[proxy]+=" ${pids_of[backend]}"
	pids_of[grpc-gateway]+=" ${pids_of[backend]}"
fi

request() { # impl route output: the response, status line and headers included
	local url="http://127.0.0.1:${port_of[$1]}${path_of[$2]}"
	if [[ $2 == post ]]; then
		curl -sS -i --max-time 5 -H 'Content-Type: application/json' --data-binary "$post_body" "$url" >"$3"
	else
		curl -sS -i --max-time 5 "$url" >"$3"
	fi
}

# Every server must answer both routes 200 with the same JSON as the hand-written front: ours
# byte for byte, grpc-gateway as equal JSON (its marshaler may space or format a value
# otherwise). The response sizes, headers included, are kept to check every measured response
# against.
check_servers() {
	local impl route started
	for impl in "${impls[@]}"; do
		for route in get post; do
			started=$SECONDS
			until request "$impl" "$route" "$workdir/check.$impl.$route" 2>/dev/null; do
				((SECONDS - started < 15)) || die "$impl does not answer: see $workdir/server.$impl.log"
				sleep 0.2
			done
		done
	done
	python3 - "$workdir" "${impls[@]}" <<'PY' >&9 || die "the servers do not answer alike"
import json, sys

workdir, impls = sys.argv[1], sys.argv[2:]
failed = False
for route in ("get", "post"):
    bodies = {}
    for impl in impls:
        raw = open(f"{workdir}/check.{impl}.{route}", "rb").read()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        if " 200 " not in status + " ":
            print(f"gateway: {impl} {route}: {status}: {body.decode(errors='replace')}")
            failed = True
        bodies[impl] = body
        size = len(raw)
        open(f"{workdir}/size.{impl}.{route}", "w").write(f"{size}\n")
    reference = bodies["handwritten"]
    for impl, body in bodies.items():
        exact = impl != "grpc-gateway"
        same = body == reference if exact else json.loads(body) == json.loads(reference)
        if not same:
            print(f"gateway: {impl} {route} answered {body!r}, the hand-written front {reference!r}")
            failed = True
sys.exit(1 if failed else 0)
PY
}
check_servers
note "every server answers both routes alike: $(cat "$workdir/check.gateway.get" | tail -n1)"

ticks() { # user|cpu pids...: the processes' user CPU ticks, or user and system together
	local which=$1 pid total=0
	shift
	for pid in "$@"; do
		total=$((total + $(awk -v which="$which" \
			'{ print which == "user" ? $14 : $14 + $15 }' "/proc/$pid/stat")))
	done
	echo "$total"
}

wrk_run() { # impl route seconds output [extra wrk args]
	local impl=$1 route=$2 secs=$3 out=$4
	shift 4
	taskset -c "$client_cpu" wrk -t 1 -c "$connections" -d "${secs}s" --latency \
		-s "${script_of[$route]}" "$@" "http://127.0.0.1:${port_of[$impl]}${path_of[$route]}" \
		>"$out" 2>&1 || die "wrk failed: see $out"
}

results=$workdir/results.jsonl
measure() { # impl route round
	local impl=$1 route=$2 round=$3 out=$workdir/wrk.$1.$2.$3 pid
	# shellcheck disable=SC2086 # a list of pids
	for pid in ${pids_of[$impl]}; do
		kill -0 "$pid" 2>/dev/null || die "a $impl server process has exited"
	done
	# Fresh connections every run: the warm-up opens them too, and wakes the server.
	wrk_run "$impl" "$route" "$warmup" "$out.warmup"
	local ticks_before ticks_after user_before user_after front front_before front_after
	local TIMEFORMAT='%R %U %S'
	# The front alone is the first process of the list (a proxy's backend follows it).
	read -r front _ <<<"${pids_of[$impl]}"
	front_before=$(ticks cpu "$front")
	# shellcheck disable=SC2086
	ticks_before=$(ticks cpu ${pids_of[$impl]})
	# shellcheck disable=SC2086
	user_before=$(ticks user ${pids_of[$impl]})
	# `time` gives the wall time and wrk's own CPU time, to tell which side was the
	# bottleneck; fd 9 keeps wrk_run's own errors on the terminal.
	{ time wrk_run "$impl" "$route" "$round_seconds" "$out" 2>&9; } 2>"$out.time"
	# shellcheck disable=SC2086
	ticks_after=$(ticks cpu ${pids_of[$impl]})
	# shellcheck disable=SC2086
	user_after=$(ticks user ${pids_of[$impl]})
	front_after=$(ticks cpu "$front")
	python3 - "$impl" "$route" "$round" "$out" "$(cat "$workdir/size.$impl.$route")" \
		"$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$(cat "$out.time")" \
		"$((front_after - front_before))" "$((user_after - user_before))" \
		>>"$results" <<'PY'
import json, re, sys

impl, route, round_, out_path, size, ticks, clk_tck, times, front_ticks, user_ticks = sys.argv[1:]
wall, client_user, client_sys = map(float, times.split())
text = open(out_path).read()


def fail(why):
    sys.exit(f"gateway: {impl} {route} round {round_}: {why}; see {out_path}")


m = re.search(r"^RESULT (.*)$", text, re.M) or fail("no RESULT line")
r = {k: int(v) for k, v in (pair.split("=") for pair in m.group(1).split())}
errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
if r["requests"] == 0 or errors or "Non-2xx" in text:
    fail(f"{r['requests']} requests, errors {errors}")
# Every response has the size of the checked one (the Date header has a fixed width), give or
# take what was in flight when wrk stopped: a response that was an error or carried another
# body would show as a difference.
per_response = r["bytes"] / r["requests"]
if abs(per_response - int(size)) > 1:
    fail(f"{per_response:.2f} bytes per response, the checked response had {size}")
seconds = r["duration_us"] / 1e6
cpu = int(ticks) / int(clk_tck)
print(json.dumps({
    "impl": impl, "route": route, "round": int(round_),
    "rps": r["requests"] / seconds, "requests": r["requests"],
    "p50_us": r["p50_us"], "p99_us": r["p99_us"],
    "cpu_busy": cpu / wall, "cpu_us_per_request": cpu * 1e6 / r["requests"],
    "user_us_per_request": int(user_ticks) / int(clk_tck) * 1e6 / r["requests"],
    "front_cpu_us_per_request": int(front_ticks) / int(clk_tck) * 1e6 / r["requests"],
    "client_busy": (client_user + client_sys) / wall,
}))
PY
	note "round $((round + 1))/$rounds $impl $route: $(tail -n1 "$results")"
}

note "${rounds} rounds of ${round_seconds}s per server and route (+${warmup}s warm-up each): ${impls[*]}"
for ((round = 0; round < rounds; round++)); do
	# Rotate who goes first, so that drift during the run hits every server alike.
	count=${#impls[@]}
	for route in get post; do
		for ((i = 0; i < count; i++)); do
			measure "${impls[$(((round + i) % count))]}" "$route" "$round"
		done
	done
done
check_servers

# Instructions per request (CALLGRIND=1): each REST front alone under callgrind, its counters
# zeroed once it has answered both routes (start-up left out), then wrk for a while on one
# route, a dump, and the dump's total over wrk's count of responses. valgrind runs the server
# about 50 times slower, so few connections are enough to keep it busy; what is counted is the
# whole process in user space (hyper, tokio, the front), not the kernel's share.
instructions=$workdir/instructions.txt
: >"$instructions"
if [[ $callgrind == 1 ]]; then
	cg_port=$((port_base + 6))
	for impl in gateway gateway-service host handwritten; do
		for route in get post; do
			note "callgrind: $impl $route"
			valgrind --tool=callgrind --callgrind-out-file="$workdir/callgrind.$impl.$route.%p" \
				"$server_bin" --impl "$impl" --port "$cg_port" 2>"$workdir/valgrind.$impl.$route.log" &
			cg_pid=$!
			server_pids+=("$cg_pid")
			port_of[callgrind]=$cg_port
			started=$SECONDS
			until request callgrind get "$workdir/cg.check" 2>/dev/null; do
				((SECONDS - started < 60)) || die "$impl does not start under valgrind"
				sleep 0.5
			done
			request callgrind post "$workdir/cg.check" || die "$impl under valgrind failed a POST"
			callgrind_control --zero "$cg_pid" >/dev/null 2>&1
			taskset -c "$client_cpu" wrk -t 1 -c 4 -d "$((2 * round_seconds))s" -s "${script_of[$route]}" \
				"http://127.0.0.1:$cg_port${path_of[$route]}" >"$workdir/wrk.callgrind.$impl.$route" 2>&1 ||
				die "wrk failed: see $workdir/wrk.callgrind.$impl.$route"
			callgrind_control --dump "$cg_pid" >/dev/null 2>&1
			# The dump is written asynchronously, by the process itself.
			started=$SECONDS
			until compgen -G "$workdir/callgrind.$impl.$route.$cg_pid.*" >/dev/null; do
				((SECONDS - started < 30)) || die "no callgrind dump from $impl"
				sleep 0.5
			done
			sleep 1
			kill "$cg_pid"
			wait "$cg_pid" 2>/dev/null || true
			server_pids=("${server_pids[@]/#$cg_pid/}") # gone: not to be killed again
			total=$(callgrind_annotate "$workdir/callgrind.$impl.$route.$cg_pid".* 2>/dev/null |
				awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
			responses=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$workdir/wrk.callgrind.$impl.$route")
			[[ -n $total && -n $responses ]] || die "no count for $impl $route under callgrind"
			echo "$impl $route $total $responses" >>"$instructions"
		done
	done
fi

axum_version=$(awk '/^name = "axum"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
hyper_version=$(awk '/^name = "hyper"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
# `wrk --version` exits 1 after printing its version.
wrk_version=$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2 || true)
versions="$(date -u +%Y-%m-%d). $(rustc --version | cut -d' ' -f1-2), axum $axum_version, hyper $hyper_version, $wrk_version"
# The peer's versions come from its binary's build information (`go version -m`).
[[ -n $grpc_gateway ]] && versions+=", grpc-gateway $(go version -m "$grpc_gateway" 2>/dev/null | awk '$2 == "github.com/grpc-ecosystem/grpc-gateway/v2" { print $3 }' || echo '?'), grpc-go $(go version -m "$grpc_gateway" 2>/dev/null | awk '$2 == "google.golang.org/grpc" { print $3 }' || echo '?') ($(go version "$grpc_gateway" 2>/dev/null | awk '{ print $2 }'))"
versions+="; \`--release\`. Machine: $(nproc) vCPU $cpu_model, Linux $(uname -r)."
[[ -n $features ]] && versions+=" Servers built with \`--features $features\`."
VERSIONS=$versions BACKEND=$backend SERVER_CPU=$server_cpu CLIENT_CPU=$client_cpu CONNECTIONS=$connections \
	ROUND_SECONDS=$round_seconds WARMUP=$warmup GET_PATH=$get_path POST_BODY=$post_body \
	python3 - "$results" "$instructions" "${impls[@]}" <<'PY'
import json, os, statistics, sys

env = os.environ
all_rows = [json.loads(line) for line in open(sys.argv[1])]
counted = [line.split() for line in open(sys.argv[2])]
impls = sys.argv[3:]
names = {
    "gateway": "generated gateway",
    "gateway-service": "generated gateway without axum's `Router`",
    "host": "generated gateway on a `Host` port",
    "handwritten": "hand-written axum + serde",
    "proxy": "generated gateway → generated client → gRPC backend",
    "grpc-gateway": "grpc-gateway → gRPC backend",
}
routes = {"get": f"`GET {env['GET_PATH']}`", "post": "`POST /v1/reservations`"}
# The servers compared with the targets: in-process fronts of the same domain.
REST = ("gateway", "gateway-service", "host", "handwritten")
BACKENDS = {
    "host": "served on a `Host` port as the example system serves gRPC",
    "grpc": "served by tonic's bare `transport::Server`",
}
BUSY = 0.9


def of(rows, impl, route):
    return [r for r in rows if r["impl"] == impl and r["route"] == route]


def summary(values, fmt, unit=""):
    return f"{fmt(statistics.median(values))}{unit} ({fmt(min(values))}–{fmt(max(values))})"


def median(rows, impl, route, key):
    return statistics.median(r[key] for r in of(rows, impl, route))


def per_round(rows, impl, base, route, key):
    baseline = {r["round"]: r[key] for r in of(rows, base, route)}
    return [r[key] / baseline[r["round"]] for r in of(rows, impl, route)]


def server_tables(rows, shown):
    for route in ("get", "post"):
        print()
        print(f"{routes[route]}:")
        print()
        print("| server | throughput | p50 latency | p99 latency | server CPU per request | of which user | server CPU busy |")
        print("|---|---|---|---|---|---|---|")
        for impl in shown:
            rs = of(rows, impl, route)
            print(
                f"| {names[impl]} "
                f"| {summary([r['rps'] for r in rs], '{:,.0f}'.format, ' req/s')} "
                f"| {summary([r['p50_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
                f"| {summary([r['p99_us'] for r in rs], '{:,.0f}'.format, ' µs')} "
                f"| {summary([r['cpu_us_per_request'] for r in rs], '{:.2f}'.format, ' µs')} "
                f"| {summary([r['user_us_per_request'] for r in rs], '{:.2f}'.format, ' µs')} "
                f"| {summary([100 * r['cpu_busy'] for r in rs], '{:.0f}'.format, ' %')} |"
            )


def ratio_table(rows, impl, base, targets):
    print()
    print(f"| {names[impl]} / {names[base]} | route | ratio of medians | per-round ratios | target |")
    print("|---|---|---|---|---|")
    for route in ("get", "post"):
        keys = [("rps", "throughput"), ("p99_us", "p99 latency"),
                ("cpu_us_per_request", "server CPU per request"),
                ("user_us_per_request", "server user CPU per request")]
        if impl == "proxy":
            keys.append(("front_cpu_us_per_request", "the proxy's own CPU per request"))
        for key, label in keys:
            ratio = median(rows, impl, route, key) / median(rows, base, route, key)
            target, ok = targets.get(key, ("", None))
            verdict = "" if ok is None else (": met" if ok(ratio) else ": **missed**")
            print(
                f"| {label} | {route.upper()} | {ratio:.3f}× "
                f"| {summary(per_round(rows, impl, base, route, key), '{:.3f}'.format, '×')} "
                f"| {target}{verdict} |"
            )


# Issue 28's targets: in-process at least the hand-written front's throughput and 5× grpc-gateway
# v2's, the proxy 2× grpc-gateway v2's (issue 14 asked for 0.90× of the hand-written front).
TARGETS = {
    "rps": ("≥ 1.00×", lambda x: x >= 1.0),
    "p99_us": ("≤ 1.2×", lambda x: x <= 1.2),
}
n = len(of(all_rows, "gateway", "get"))
print(env["VERSIONS"])
print()
print(
    "Each server runs a tokio multi-thread runtime with 1 worker thread (`axum::serve`, HTTP/1.1, "
    f"`TCP_NODELAY`), pinned to CPU {env['SERVER_CPU']}; wrk runs on CPU {env['CLIENT_CPU']} "
    f"(`wrk -t 1 -c {env['CONNECTIONS']} --latency`, {env['CONNECTIONS']} requests in flight). "
    f"Per round, server and route: {env['WARMUP']} s of warm-up, then {env['ROUND_SECONDS']} s "
    f"measured; {n} interleaved rounds (the first server rotates). Figures are the median "
    "(min–max) of rounds; every counted response was a 200 of the checked size, and before and "
    "after the run every server's body was compared with the hand-written front's."
)
if "grpc-gateway" in impls:
    print()
    print(
        "The proxies (grpc-gateway, with `GOMAXPROCS=1`, and ours with the generated client as "
        "its domain) share CPU " + env["SERVER_CPU"] + " with the gRPC server they call (the "
        "generated adapter around the same domain, " + BACKENDS[env["BACKEND"]] + "); their "
        "server CPU figures count both processes, \"the proxy's own CPU\" the proxy alone."
    )
server_tables(all_rows, impls)
busy = statistics.median(r["cpu_busy"] for r in all_rows)
client_busy = statistics.median(r["client_busy"] for r in all_rows)
print()
print(f"wrk used {100 * client_busy:.0f} % of its core (median of all runs).")
if busy < BUSY:
    print(
        f"**The server's core was only {100 * busy:.0f} % busy**: the load generator or other "
        "processes on the machine limited the load, so throughput and latency say little about "
        "the servers; server CPU per request is the more telling figure."
    )
ratio_table(all_rows, "gateway", "handwritten", TARGETS)
ratio_table(all_rows, "gateway-service", "handwritten", TARGETS)
ratio_table(all_rows, "host", "handwritten", TARGETS)
if "grpc-gateway" in impls:
    ratio_table(all_rows, "gateway", "grpc-gateway", {"rps": ("≥ 5×", lambda x: x >= 5.0)})
    ratio_table(all_rows, "proxy", "grpc-gateway", {"rps": ("≥ 2×", lambda x: x >= 2.0)})

# A round in which another process took CPU from a server measures that process, and the
# servers of one round are measured one after the other, so such a round skews the ratios.
# The rounds in which every in-process server kept its core busy on both routes are shown
# apart: the same comparison on a quiet machine, without choosing rounds by their result.
quiet = sorted({
    r["round"] for r in all_rows
    if all(q["cpu_busy"] >= BUSY for q in all_rows if q["round"] == r["round"] and q["impl"] in REST)
})
if len(quiet) < n:
    print()
    print(
        f"Rounds in which each of the four in-process servers kept its core ≥ {100 * BUSY:.0f} % "
        f"busy on both routes (no other process took a share of it): {len(quiet)} of {n}."
    )
    if quiet:
        rows = [r for r in all_rows if r["round"] in quiet and r["impl"] in REST]
        server_tables(rows, REST)
        ratio_table(rows, "gateway", "handwritten", TARGETS)
        ratio_table(rows, "gateway-service", "handwritten", TARGETS)
        ratio_table(rows, "host", "handwritten", TARGETS)

if counted:
    per = {(impl, route): int(total) / int(responses) for impl, route, total, responses in counted}
    count = {(impl, route): int(responses) for impl, route, _, responses in counted}
    print()
    print(
        "Instructions per request (callgrind, the whole server process in user space, after "
        "start-up; `wrk -t 1 -c 4`):"
    )
    print()
    print("| route | " + " | ".join(names[front] for front in REST) + " |")
    print("|---" * (len(REST) + 1) + "|")
    for route in ("get", "post"):
        cells = []
        for front in REST:
            ratio = per[(front, route)] / per[("handwritten", route)]
            cells.append(f"{per[(front, route)]:,.0f} ({ratio:.3f}×; {count[(front, route)]:,} requests)")
        print(f"| {route.upper()} | " + " | ".join(cells) + " |")
PY
