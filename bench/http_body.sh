#!/usr/bin/env bash
# google.api.HttpBody through the generated gateway: a 64 MiB upload as a client stream of raw
# chunks (POST /v1/streams) and a 64 MiB download as a server stream of them
# (GET /v1/files/64:chunks?chunks=1024), both with curl over HTTP/1.1, against
# bench/src/bin/http_body_server.rs, which keeps none of what it receives and makes what it
# sends as it goes. What it shows: the server's peak memory (VmHWM) stays flat while the bytes
# pass, and the throughput of each way.
#
# Needs: cargo, curl, python3.
#   bench/http_body.sh                 # 5 rounds of 64 MiB each way
#   SIZE_MIB=256 ROUNDS=3 bench/http_body.sh
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

die() {
	echo "http_body: $*" >&2
	exit 1
}
note() { echo "http_body: $*" >&2; }

for tool in cargo curl python3; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
size_mib=${SIZE_MIB:-64}
rounds=${ROUNDS:-5}
port=${PORT:-50191}

cd "$(dirname "$0")/.."
note "building http_body_server (release)"
cargo build --release --quiet -p rust-svc-bench --bin http_body_server
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

scratch=$(mktemp -d "${TMPDIR:-/tmp}/http_body.XXXXXX")
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT

head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$scratch/upload.bin"
"$target_dir/release/http_body_server" --port "$port" >"$scratch/server.out" &
server_pid=$!
for _ in $(seq 100); do
	grep -q listening "$scratch/server.out" 2>/dev/null && break
	sleep 0.1
done
grep -q listening "$scratch/server.out" || die "the server did not start"
base="http://127.0.0.1:$port"
rss() { awk "/^$1:/ { print \$2 }" "/proc/$server_pid/status"; } # KiB

# Warm up both ways with 1 MiB, then read the resident size the server settles at.
curl -sf -o /dev/null -H 'content-type: application/octet-stream' --data-binary @<(head -c 1048576 /dev/zero) "$base/v1/streams"
curl -sf -o /dev/null "$base/v1/files/1:chunks?chunks=16"
before_rss=$(rss VmRSS)
before_hwm=$(rss VmHWM)

: >"$scratch/times.txt"
for ((round = 1; round <= rounds; round++)); do
	up=$(curl -sf -o "$scratch/up.json" -w '%{time_total}' -H 'content-type: application/octet-stream' \
		--data-binary @"$scratch/upload.bin" "$base/v1/streams") || die "the upload failed"
	python3 - "$scratch/up.json" "$((size_mib * 1024 * 1024))" <<'PY' || die "the upload's answer is wrong: $(cat "$scratch/up.json")"
import json, sys
answer = json.load(open(sys.argv[1]))
assert answer["size"] == sys.argv[2], answer
PY
	down=$(curl -sf -o "$scratch/down.bin" -w '%{time_total}' "$base/v1/files/$size_mib:chunks?chunks=1024") ||
		die "the download failed"
	[[ $(stat -c %s "$scratch/down.bin") -eq $((size_mib * 1024 * 1024)) ]] || die "the download is short"
	echo "$up $down" >>"$scratch/times.txt"
	note "round $round/$rounds: up ${up}s, down ${down}s"
done
after_hwm=$(rss VmHWM)

python3 - "$scratch/times.txt" "$size_mib" "$rounds" "$before_rss" "$before_hwm" "$after_hwm" <<'PY'
import statistics, sys
times = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
size, rounds = int(sys.argv[2]), int(sys.argv[3])
before_rss, before_hwm, after_hwm = (int(v) / 1024 for v in sys.argv[4:7])
def rate(values):
    mbps = sorted(size / t for t in values)
    return f"{statistics.median(mbps):.0f} MiB/s ({mbps[0]:.0f}–{mbps[-1]:.0f})"
print(f"{size} MiB each way per round, {rounds} rounds; curl over HTTP/1.1 on loopback. "
      "Median (min–max) of rounds.\n")
print("| way | throughput |")
print("|---|---|")
print(f"| upload, `POST /v1/streams` (a client stream of HttpBody, one per chunk) | {rate([t[0] for t in times])} |")
print(f"| download, `GET /v1/files/{size}:chunks?chunks=1024` (a server stream of HttpBody) | {rate([t[1] for t in times])} |")
print()
print(f"Server memory: resident {before_rss:.1f} MiB after warm-up; peak {before_hwm:.1f} MiB before "
      f"the rounds, {after_hwm:.1f} MiB after {rounds} × {size} MiB up and down "
      f"(+{after_hwm - before_hwm:.1f} MiB).")
PY
