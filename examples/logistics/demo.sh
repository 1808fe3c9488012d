#!/usr/bin/env bash
# The logistics system as separate processes on loopback: two inventories behind one orders
# service, and dispatch. Places ORDERS orders with `logistics demo` (each prints its hops), then
# reads every inventory's /metrics to show that orders balanced its reservations over both, and
# stops everything with SIGTERM, as an orchestrator would.
#
#   examples/logistics/demo.sh                     # builds the release binary with cargo first
#   LOGISTICS=target/debug/logistics ORDERS=10 examples/logistics/demo.sh
#
# Needs curl. Exits non-zero if a process does not start, an order fails, or a process does
# not stop cleanly.
set -euo pipefail

orders_to_place=${ORDERS:-4}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${LOGISTICS:-}" ]; then
	cargo build --quiet --release -p logistics --manifest-path "$root/Cargo.toml"
	LOGISTICS="$root/target/release/logistics"
fi

work=$(mktemp -d)
pids=()
stop_all() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap stop_all EXIT

# start NAME ARGS...: runs `logistics ARGS...` in the background, its pid kept for the stop.
# Not inside `$(…)`: a subshell's `pids` would be lost, and the processes never stopped.
start() {
	local name=$1
	shift
	"$LOGISTICS" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
}

# url_of NAME: the URL that NAME announces (`<service> listening on http://…`) once it listens.
url_of() {
	local name=$1
	for _ in $(seq 300); do
		if grep -q ' listening on ' "$work/$name.out" 2>/dev/null; then
			sed -n 's/^.* listening on //p' "$work/$name.out" | head -n 1
			return
		fi
		sleep 0.1
	done
	echo "demo: $name did not start: $(cat "$work/$name.err")" >&2
	exit 1
}

start inventory-a inventory --listen 127.0.0.1:0
start inventory-b inventory --listen 127.0.0.1:0
start dispatch dispatch --listen 127.0.0.1:0
inventory_a=$(url_of inventory-a)
inventory_b=$(url_of inventory-b)
dispatch=$(url_of dispatch)
start orders orders --listen 127.0.0.1:0 --inventory "$inventory_a,$inventory_b" --dispatch "$dispatch"
orders=$(url_of orders)
echo "inventory A $inventory_a, inventory B $inventory_b, dispatch $dispatch, orders $orders"

for n in $(seq "$orders_to_place"); do
	echo
	echo "== order $n"
	"$LOGISTICS" demo --orders "$orders"
done

# The reservations each inventory answered, from its own metrics.
reserved() {
	curl -sf "$1/metrics" | awk '
		/^grpc_server_handled_total\{/ && /grpc_method="ReserveItems"/ && /grpc_code="OK"/ {
			sum += $NF
		}
		END { print sum + 0 }'
}
echo
echo "inventory A reserved stock for $(reserved "$inventory_a") orders"
echo "inventory B reserved stock for $(reserved "$inventory_b") orders"

# SIGTERM each process and check that it drained and exited 0.
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
stopped=${#pids[@]}
pids=()
if [ "$status" -ne 0 ]; then
	echo "demo: a process did not stop cleanly (exit $status)" >&2
	exit 1
fi
echo "all $stopped processes drained and exited 0"
