#!/usr/bin/env bash
# Embedded generate of the example system, end to end: `protoc-gen-rust-svc generate` (the
# command behind `cargo generate-examples`) compiles the three example protos with the embedded
# protox compiler, generates every artifact and writes the files. Target: under 150 ms.
#
# Needs: cargo, hyperfine (apt-get install hyperfine).
#
# Run from anywhere:
#   bench/embedded_generate.sh              # 5 rounds x 20 runs
#   ROUNDS=1 RUNS=3 bench/embedded_generate.sh
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

rounds=${ROUNDS:-5}
runs=${RUNS:-20}

die() {
	echo "embedded_generate: $*" >&2
	exit 1
}

for tool in cargo hyperfine python3; do
	command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
for value in "$rounds" "$runs"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "ROUNDS and RUNS must be positive integers, got '$value'"
done

cd "$(dirname "$0")/.."
scratch=$(mktemp -d "${TMPDIR:-/tmp}/embedded_generate.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "embedded_generate: building the plugin (release)" >&2
cargo build --quiet --release -p protoc-gen-rust-svc
plugin="$(pwd)/target/release/protoc-gen-rust-svc"
protos=(proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto proto/dispatch/v1/dispatch.proto)
command="$plugin generate -I proto --out $scratch/out ${protos[*]}"

# The output must be what is committed, or the timing is of something else.
$command
diff -r "$scratch/out" examples/services/src/generated >/dev/null ||
	die "the output differs from examples/services/src/generated: run cargo generate-examples"

for ((round = 0; round < rounds; round++)); do
	echo "embedded_generate: round $((round + 1))/$rounds" >&2
	hyperfine --style none --warmup 3 --runs "$runs" --command-name generate \
		--export-json "$scratch/round-$round.json" "$command" >/dev/null
done

python3 - "$scratch" "$rounds" "$(find "$scratch/out" -type f | wc -l)" \
	"$(cat "$scratch"/out/* | wc -l)" <<'PY'
import json, statistics, sys

scratch, rounds, files, lines = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
times, cpu = [], []
for round in range(rounds):
    result = json.load(open(f"{scratch}/round-{round}.json"))["results"][0]
    times += result["times"]
    cpu.append(result["user"] + result["system"])
ms = [t * 1000 for t in times]
print(f"`protoc-gen-rust-svc generate` of the three example protos ({files} files, "
      f"{lines} lines written): median of {len(ms)} runs (min–max).\n")
print("| wall time | CPU time | target |")
print("|---|---|---|")
print(f"| {statistics.median(ms):.1f} ms ({min(ms):.1f}–{max(ms):.1f}) | "
      f"{statistics.mean(cpu) * 1000:.1f} ms | < 150 ms |")
PY
