#!/usr/bin/env bash
# Codegen speed and peak memory at googleapis scale: protoc-gen-rust-svc (every artifact) against
# protoc-gen-prost + protoc-gen-tonic, each fed the same saved CodeGeneratorRequest, with
# `protoc --descriptor_set_out` over the same files as the floor (what protoc itself spends
# before any plugin runs).
#
# Needs: cargo, python3, hyperfine, GNU time (/usr/bin/time), protoc with the well-known types,
# and the two peers:
#   apt-get install hyperfine time protobuf-compiler libprotobuf-dev
#   cargo install protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0
#
# Run from anywhere:
#   bench/codegen.sh                     # the 285-file request of ../shared/corpus/medium-files.txt
#   FILES=full bench/codegen.sh          # every googleapis file protoc accepts (7,202)
#   ROUNDS=2 RUNS=2 bench/codegen.sh     # smoke test
#
# Settings (environment): CORPUS (the googleapis tarball; default
# ../shared/corpus/googleapis-protos.tar.gz beside the repository), FILES (medium | full),
# ROUNDS (5), RUNS per command per round (5), RSS_RUNS per plugin for peak memory (5).
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

rounds=${ROUNDS:-5}
runs=${RUNS:-5}
rss_runs=${RSS_RUNS:-5}
files=${FILES:-medium}

die() {
	echo "codegen: $*" >&2
	exit 1
}
note() { echo "codegen: $*" >&2; }

for tool in cargo python3 hyperfine protoc protoc-gen-prost protoc-gen-tonic; do
	command -v "$tool" >/dev/null || die "$tool not found on PATH (see the top of this script)"
done
[[ -x /usr/bin/time ]] || die "GNU time not found: apt-get install time"
for value in "$rounds" "$runs" "$rss_runs"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "ROUNDS, RUNS and RSS_RUNS must be positive integers, got '$value'"
done

cd "$(dirname "$0")/.."
repo=$(pwd)
corpus=${CORPUS:-$repo/../shared/corpus/googleapis-protos.tar.gz}
[[ -f $corpus ]] || die "googleapis tarball not found at $corpus (set CORPUS)"
medium_list="$(dirname "$corpus")/medium-files.txt"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/codegen.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

note "building the plugin (release)"
cargo build --quiet --release -p protoc-gen-rust-svc
ours="$repo/target/release/protoc-gen-rust-svc"

note "extracting the corpus"
mkdir -p "$scratch/protos"
tar -xzf "$corpus" -C "$scratch/protos"
cd "$scratch/protos"
case $files in
medium)
	[[ -f $medium_list ]] || die "$medium_list not found"
	cp "$medium_list" "$scratch/files.txt"
	;;
full)
	# Two files import grafeas/, which googleapis does not contain. (grep -L exits with 1 when
	# it lists nothing, so its status is not the judge: the count below is.)
	{ grep -rL --include='*.proto' '^import "grafeas/' google || true; } | sort >"$scratch/files.txt"
	[[ $(wc -l <"$scratch/files.txt") -gt 7000 ]] || die "listing the corpus files failed"
	;;
*) die "FILES must be medium or full, got '$files'" ;;
esac
file_count=$(wc -l <"$scratch/files.txt")

# The request is captured once, by a stand-in plugin that saves its standard input; protoc
# then complains that it wrote no response, which is expected.
request="$scratch/request.bin"
printf '#!/bin/sh\ncat > "%s"\n' "$request" >"$scratch/capture"
chmod +x "$scratch/capture"
# The file list goes in an argument file: xargs would split the full corpus into several protoc
# runs, each with part of the request.
protoc --plugin=protoc-gen-capture="$scratch/capture" --capture_out="$scratch" -I. \
	@"$scratch/files.txt" 2>/dev/null || true
[[ -s $request ]] || die "capturing the request failed"
note "request: $file_count files, $(($(stat -c %s "$request") / 1024)) KiB"
# Ours gets the same request asking for every artifact, tonic's own client included (it is not
# a default one): field 2, `parameter`, appended; a later field wins in protobuf's encoding.
request_ours="$scratch/request-ours.bin"
python3 - "$request" "$request_ours" <<'PY'
import sys
parameter = b"artifacts=domain+stub+server+client+fake+tonic_client"
assert len(parameter) < 128, "a one-byte length"
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data + bytes([2 << 3 | 2, len(parameter)]) + parameter)
PY

# Every plugin must succeed on the request before anything is timed.
for plugin in "$ours" "$(command -v protoc-gen-prost)" "$(command -v protoc-gen-tonic)"; do
	input=$request
	[[ $plugin == "$ours" ]] && input=$request_ours
	"$plugin" <"$input" >"$scratch/response.bin" || die "$plugin failed on the request"
	python3 - "$scratch/response.bin" "$plugin" <<'PY' || exit 1
import sys
data = open(sys.argv[1], "rb").read()
def varint(i):
    result = shift = 0
    while True:
        byte = data[i]; i += 1
        result |= (byte & 0x7F) << shift; shift += 7
        if byte < 0x80:
            return result, i
i, files, error = 0, 0, None
while i < len(data):
    key, i = varint(i)
    if key & 7 == 2:
        length, i = varint(i)
        if key >> 3 == 1:
            error = data[i:i + length].decode()
        files += key >> 3 == 15
        i += length
    else:
        _, i = varint(i)
if error or not files:
    sys.exit(f"codegen: {sys.argv[2]} answered with {error or 'no files'}")
print(f"codegen: {sys.argv[2].rsplit('/', 1)[-1]}: {files} files", file=sys.stderr)
PY
	if [[ $plugin == "$ours" ]] && ! grep -qa 'pub mod [a-z0-9_]*_client' "$scratch/response.bin"; then
		die "ours did not emit tonic's client: was the parameter appended to the request?"
	fi
done

names=(floor ours ours-1-thread peers prost tonic)
commands=(
	"protoc --descriptor_set_out=/dev/null --include_imports --include_source_info -I. @$scratch/files.txt"
	"$ours < $request_ours > /dev/null"
	"RAYON_NUM_THREADS=1 $ours < $request_ours > /dev/null"
	"protoc-gen-prost < $request > /dev/null && protoc-gen-tonic < $request > /dev/null"
	"protoc-gen-prost < $request > /dev/null"
	"protoc-gen-tonic < $request > /dev/null"
)
# hyperfine runs each command's runs back to back; rounds with a rotating order interleave the
# commands, so that a slow minute of the machine does not land on one of them.
for ((round = 0; round < rounds; round++)); do
	note "round $((round + 1))/$rounds"
	args=()
	for ((k = 0; k < ${#names[@]}; k++)); do
		index=$(((k + round) % ${#names[@]}))
		args+=(--command-name "${names[index]}" "${commands[index]}")
	done
	hyperfine --style none --warmup 1 --runs "$runs" \
		--export-json "$scratch/round-$round.json" "${args[@]}" >/dev/null
done

# Peak RSS, the plugins interleaved the same way.
: >"$scratch/rss.txt"
for ((run = 0; run < rss_runs; run++)); do
	for name in ours ours-1-thread prost tonic; do
		input=$request_ours
		case $name in
		ours) command=("$ours") ;;
		ours-1-thread) command=(env RAYON_NUM_THREADS=1 "$ours") ;;
		*) command=("protoc-gen-$name") input=$request ;;
		esac
		/usr/bin/time -f "$name %M" -a -o "$scratch/rss.txt" "${command[@]}" <"$input" >/dev/null
	done
done

python3 - "$scratch" "$rounds" "$file_count" "$(stat -c %s "$request")" <<'PY'
import json, statistics, sys
from collections import defaultdict

scratch, rounds, file_count, request_bytes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
times, users = defaultdict(list), defaultdict(list)
for round in range(rounds):
    for result in json.load(open(f"{scratch}/round-{round}.json"))["results"]:
        times[result["command"]] += result["times"]
        users[result["command"]].append(result["user"] + result["system"])
rss = defaultdict(list)
for line in open(f"{scratch}/rss.txt"):
    name, kib = line.split()
    rss[name].append(int(kib) / 1024)

def spread(values, unit, scale=1.0, digits=2):
    values = [v * scale for v in values]
    return (f"{statistics.median(values):.{digits}f} {unit} "
            f"({min(values):.{digits}f}–{max(values):.{digits}f})")

labels = {
    "floor": "`protoc --descriptor_set_out` (parsing only, whole run)",
    "ours": "protoc-gen-rust-svc, every artifact",
    "ours-1-thread": "protoc-gen-rust-svc, `RAYON_NUM_THREADS=1`",
    "peers": "protoc-gen-prost then protoc-gen-tonic",
    "prost": "protoc-gen-prost",
    "tonic": "protoc-gen-tonic",
}
print(f"Request: {file_count} files, {request_bytes / 2**20:.1f} MiB. Wall time: median (min–max) "
      f"of {len(times['ours'])} runs per command; CPU: user + system, mean of the per-round means; "
      f"peak RSS: median (min–max) of {len(rss['ours'])} runs.\n")
print("| command | wall time | CPU time | peak RSS |")
print("|---|---|---|---|")
for name in ["floor", "ours", "ours-1-thread", "peers", "prost", "tonic"]:
    memory = spread(rss[name], "MiB", digits=0) if name in rss else "–"
    print(f"| {labels[name]} | {spread(times[name], 'ms', 1000, 0)} | "
          f"{statistics.mean(users[name]) * 1000:.0f} ms | {memory} |")

median = lambda name: statistics.median(times[name])
peak = lambda name: statistics.median(rss[name])
print()
print("| ratio | value | target |")
print("|---|---|---|")
print(f"| wall time, ours / (prost + tonic) | {median('ours') / median('peers'):.2f}× | ≤ 1.0× |")
print(f"| wall time on one thread, ours / (prost + tonic) | {median('ours-1-thread') / median('peers'):.2f}× | |")
print(f"| CPU time, ours / (prost + tonic) | {statistics.mean(users['ours']) / statistics.mean(users['peers']):.2f}× | |")
print(f"| peak RSS, ours / the larger peer (run one after the other, as protoc does) | "
      f"{peak('ours') / max(peak('prost'), peak('tonic')):.2f}× | ≤ 1.5× |")
print(f"| peak RSS, ours / both peers at once (buf runs plugins in parallel) | "
      f"{peak('ours') / (peak('prost') + peak('tonic')):.2f}× | |")
PY
