#!/usr/bin/env bash
# Instructions per call of the servers bench/adapter_overhead.sh compares, counted by callgrind:
# deterministic where the throughput of a shared 2-core machine is not (the same binary, timed
# minutes apart, moves by ±20 %). Each server (adapter_server) runs under callgrind; h2load sends
# WARMUP calls, callgrind's counters are dumped and zeroed, h2load sends CALLS more, and the
# second dump's total over CALLS is the figure. The load generator runs outside valgrind.
#
# Needs: cargo, valgrind (callgrind_control), h2load (apt-get install nghttp2-client valgrind).
#
#   bench/adapter_instructions.sh                 # generated and tonic, 20,000 calls each
#   IMPLS="generated tonic stack" CALLS=5000 bench/adapter_instructions.sh
#   KEEP=/tmp/cg IMPLS=stack bench/adapter_instructions.sh   # keeps the counted profile of each
#                                                            # server (callgrind_annotate it)
#
# Prints a Markdown table on stdout; progress goes to stderr.
set -euo pipefail

read -r -a impls <<<"${IMPLS:-generated tonic}"
calls=${CALLS:-20000}
warmup=${WARMUP:-2000}
port=${PORT:-50171}

note() { echo "adapter_instructions: $*" >&2; }
for tool in cargo valgrind callgrind_control h2load; do
	command -v "$tool" >/dev/null || {
		note "$tool not found"
		exit 1
	}
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
note "building adapter_server (release)"
cargo build --release --quiet -p rust-svc-bench --bin adapter_server ${FEATURES:+--features "$FEATURES"}
server_bin=target/release/adapter_server
workdir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$workdir"' EXIT

request=$workdir/check_stock.grpc
"$server_bin" --write-request "$request" >/dev/null
headers=(-H 'content-type: application/grpc' -H 'te: trailers' -H 'authorization: Bearer bench')
url="http://127.0.0.1:$port/inventory.v1.InventoryService/CheckStock"

total_of() { # callgrind output file → instructions
	awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

declare -A per_call
for impl in "${impls[@]}"; do
	note "$impl: starting under callgrind"
	valgrind --tool=callgrind --callgrind-out-file="$workdir/cg.$impl.%p" \
		"$server_bin" --impl "$impl" --port "$port" >/dev/null 2>"$workdir/valgrind.$impl" &
	pid=$!
	for _ in $(seq 600); do
		"$server_bin" --check --port "$port" >/dev/null 2>&1 && break
		sleep 0.5
	done
	h2load -t 1 -c 8 -m 16 -n "$warmup" -d "$request" "${headers[@]}" "$url" >"$workdir/warmup.$impl"
	callgrind_control --dump=warm "$pid" >/dev/null
	h2load -t 1 -c 8 -m 16 -n "$calls" -d "$request" "${headers[@]}" "$url" >"$workdir/h2load.$impl"
	grep -q "$calls succeeded" "$workdir/h2load.$impl" || {
		note "$impl: not every call succeeded: $(grep requests: "$workdir/h2load.$impl")"
		exit 1
	}
	callgrind_control --dump=measured "$pid" >/dev/null
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	measured=$(ls "$workdir"/cg."$impl".*.2 2>/dev/null | head -1)
	[[ -n $measured ]] || measured=$(ls -t "$workdir"/cg."$impl".* | sed -n 2p)
	instructions=$(total_of "$measured")
	if [[ -n ${KEEP:-} ]]; then
		mkdir -p "$KEEP"
		cp "$measured" "$KEEP/cg.$impl"
	fi
	per_call[$impl]=$((instructions / calls))
	note "$impl: ${per_call[$impl]} instructions a call"
done

echo "$(date -u +%F). callgrind (valgrind $(valgrind --version | sed 's/valgrind-//')), \`--release\`; $warmup calls of warm-up, then $calls counted (h2load -c 8 -m 16, unary CheckStock)."
echo
echo "| server | instructions per call | against ${impls[1]:-${impls[0]}} |"
echo "|---|---|---|"
base=${per_call[${impls[1]:-${impls[0]}}]}
for impl in "${impls[@]}"; do
	ratio=$(python3 -c "print(f'{$base / ${per_call[$impl]}:.3f}')")
	echo "| \`$impl\` | ${per_call[$impl]} | $ratio× (throughput at equal cycles per instruction) |"
done
