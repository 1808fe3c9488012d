#!/usr/bin/env bash
# The load ladder of issue 29: `logistics all` as the README starts it (release build, default
# logging, enough stock for every order), orders placed over REST (`POST /v1/orders`, a new order
# per call, no idempotency key) by wrk at a growing number of connections, STEP seconds a step on
# the machine that serves. Per step: goodput (answers 2xx per second: placed orders), answers not
# 2xx, wrk's p50 / p99, how long refused calls took (a curl probe every 200 ms during the step),
# the server's resident memory at the end of the step, and how many times a breaker opened.
# After the ladder: one placement a second after the load ended.
#
# Needs: cargo, wrk (apt-get install wrk), curl, python3.
#
#   bench/overload.sh                       # 16 64 256 1024 4096 connections, 15 s each
#   STEPS="16 4096" STEP=5 bench/overload.sh
#   LOGISTICS_ARGS="--no-load-shedding" bench/overload.sh   # the ladder without shedding
#   LOGISTICS_BIN=/tmp/logistics-before bench/overload.sh    # a binary built elsewhere
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

steps=${STEPS:-16 64 256 1024 4096}
step_seconds=${STEP:-15}
extra_args=${LOGISTICS_ARGS:-}

die() {
	echo "overload: $*" >&2
	exit 1
}
note() { echo "overload: $*" >&2; }

for tool in cargo wrk curl python3; do
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

body='{"customerId": "c_bench", "currency": "USD", "items": [{"sku": "SKU-10042", "quantity": 1, "unitPriceCents": 1250}]}'
cat >"$work/place.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

note "starting logistics all $extra_args"
# shellcheck disable=SC2086 # LOGISTICS_ARGS is a list of flags
"$binary" all --inventory-listen 127.0.0.1:0 --orders-listen 127.0.0.1:0 \
	--dispatch-listen 127.0.0.1:0 --seed-units 100000000 $extra_args \
	>"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 100); do
	grep -q '^dispatch listening on' "$work/stdout" 2>/dev/null && break
	sleep 0.1
done
orders=$(sed -n 's/^orders listening on //p' "$work/stdout")
[ -n "$orders" ] || die "logistics did not start: $(cat "$work/stderr")"

place() { # curl's "code seconds" for one placement
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 -X POST \
		-H 'content-type: application/json' -d "$body" "$orders/v1/orders" || echo "000 5"
}

breaker_opens() {
	curl -s "$orders/metrics" |
		awk '/^grpc_client_breaker_transitions_total/ && /to="open"/ { n += $NF } END { print n + 0 }'
}

rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status"; }

# Warm up: connections made, SQLite pages in.
wrk -t2 -c16 -d3s -s "$work/place.lua" "$orders/v1/orders" >/dev/null

echo "| connections | placed/s | answers not 2xx | p50 | p99 | refusals (probe) | refusal time p50 / max | server RSS | breaker opens |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
best=0
for connections in $steps; do
	note "$connections connections, ${step_seconds}s"
	opens_before=$(breaker_opens)
	: >"$work/probe"
	(
		end=$((SECONDS + step_seconds - 1))
		sleep 1
		while [ "$SECONDS" -lt "$end" ]; do
			place >>"$work/probe"
			sleep 0.2
		done
	) &
	probe_pid=$!
	threads=2
	wrk -t"$threads" -c"$connections" -d"${step_seconds}s" --timeout 10s --latency \
		-s "$work/place.lua" "$orders/v1/orders" >"$work/wrk.$connections" 2>&1 || true
	wait "$probe_pid" || true
	rss=$(rss_mib)
	opens=$(($(breaker_opens) - opens_before))
	python3 - "$work/wrk.$connections" "$work/probe" "$connections" "$rss" "$opens" <<'EOF'
import re, sys
wrk, probe, connections, rss, opens = sys.argv[1:]
text = open(wrk).read()
def number(pattern, default="0"):
    m = re.search(pattern, text)
    return m.group(1) if m else default
requests = int(number(r"(\d+) requests in"))
seconds = float(number(r"requests in ([\d.]+)s", "1"))
non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", number(r"Socket errors: (.*)", "")))
p50 = number(r"(?m)^\s+50%\s+(\S+)", "-")
p99 = number(r"(?m)^\s+99%\s+(\S+)", "-")
placed = (requests - non2xx) / seconds
refused = [float(t) * 1000 for code, t in (line.split() for line in open(probe)) if code != "200"]
probes = sum(1 for _ in open(probe))
refusal_time = "-"
if refused:
    refused.sort()
    refusal_time = f"{refused[len(refused) // 2]:.1f} / {refused[-1]:.1f} ms"
socket = f" (+{errors} socket errors)" if errors else ""
print(f"| {connections} | {placed:,.0f} | {non2xx:,} of {requests:,}{socket} | {p50} | {p99} | {len(refused)} of {probes} | {refusal_time} | {rss} MiB | {opens} |")
EOF
	sleep 2
done

sleep 1
after=$(place)
note "a placement 1 s after the ladder: $after"
echo
echo "A placement 1 s after the ladder: HTTP ${after% *} in $(python3 -c "print(f'{float(\"${after#* }\") * 1000:.0f}')") ms."
echo "Server log: $(wc -c <"$work/stderr" | awk '{ printf "%.1f MB", $1 / 1e6 }') on stderr."
echo "Machine: $(nproc) cores; wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'); ${step_seconds} s a step."
