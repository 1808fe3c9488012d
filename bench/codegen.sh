#!/usr/bin/env bash
# Codegen speed, peak memory and volume at googleapis scale, each plugin fed the same saved
# CodeGeneratorRequest, with `protoc --descriptor_set_out` over the same files as the floor
# (what protoc itself spends before any plugin runs). Two comparisons:
# - what a user gets by default: protoc-gen-rust-svc's default artifacts (the gateway and its
#   proto3 JSON included) against protoc-gen-prost + protoc-gen-tonic + protoc-gen-prost-serde,
#   what a tonic user runs for the same messages, services and JSON;
# - like for like: `artifacts=domain+stub+server+client` against protoc-gen-prost +
#   protoc-gen-tonic.
#
# Needs: cargo, python3, hyperfine, GNU time (/usr/bin/time), protoc with the well-known types,
# and the two peers:
#   apt-get install hyperfine time protobuf-compiler libprotobuf-dev
#   cargo install protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0 protoc-gen-prost-serde@0.4.0
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

for tool in cargo python3 hyperfine protoc protoc-gen-prost protoc-gen-tonic protoc-gen-prost-serde; do
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
# Ours gets the request with the default artifacts, and the request asking for what prost +
# tonic write: field 2, `parameter`, appended; a later field wins in protobuf's encoding. The
# default one says `wildcards_after_double_wildcard=true`, which changes no output of a file
# that generates without it: firestore's templates have a variable after `**`, which the
# gateway refuses by default (as the Envoy transcoder does) and this accepts.
request_ours="$scratch/request-ours.bin"
request_services="$scratch/request-services.bin"
python3 - "$request" "$request_ours" "$request_services" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
for out, parameter in [
    (sys.argv[2], b"wildcards_after_double_wildcard=true"),
    (sys.argv[3], b"artifacts=domain+stub+server+client"),
]:
    assert len(parameter) < 128, "a one-byte length"
    open(out, "wb").write(data + bytes([2 << 3 | 2, len(parameter)]) + parameter)
PY

# Every plugin must succeed on the request before anything is timed.
# The bytes of Rust each writes are summed from its response (CodeGeneratorResponse.File
# contents, field 15 of field 15).
: >"$scratch/bytes.txt"
for run in ours:$request_ours ours-services:$request_services prost:$request tonic:$request \
	prost-serde:$request; do
	name=${run%%:*} input=${run#*:}
	plugin=$ours
	[[ $name == ours* ]] || plugin=$(command -v "protoc-gen-$name")
	"$plugin" <"$input" >"$scratch/response.bin" || die "$plugin failed on the request"
	python3 - "$scratch/response.bin" "$name" >>"$scratch/bytes.txt" <<'PY' || exit 1
import sys
data = open(sys.argv[1], "rb").read()
def varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]; i += 1
        result |= (byte & 0x7F) << shift; shift += 7
        if byte < 0x80:
            return result, i
def fields(data):
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        if key & 7 == 2:
            length, i = varint(data, i)
            yield key >> 3, data[i:i + length]
            i += length
        else:
            _, i = varint(data, i)
            yield key >> 3, None
files, rust, error = 0, 0, None
for number, value in fields(data):
    if number == 1:
        error = value.decode()
    elif number == 15:
        files += 1
        parts = dict((n, v) for n, v in fields(value) if v is not None)
        if parts.get(1, b"").endswith(b".rs"):
            rust += len(parts.get(15, b""))
if error or not files:
    sys.exit(f"codegen: {sys.argv[2]} answered with {error or 'no files'}")
print(f"codegen: {sys.argv[2]}: {files} files, {rust} bytes of Rust", file=sys.stderr)
print(sys.argv[2], rust)
PY
done

names=(floor ours peers-json ours-services peers)
commands=(
	"protoc --descriptor_set_out=/dev/null --include_imports --include_source_info -I. @$scratch/files.txt"
	"$ours < $request_ours > /dev/null"
	"protoc-gen-prost < $request > /dev/null && protoc-gen-tonic < $request > /dev/null && protoc-gen-prost-serde < $request > /dev/null"
	"$ours < $request_services > /dev/null"
	"protoc-gen-prost < $request > /dev/null && protoc-gen-tonic < $request > /dev/null"
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
	for name in ours prost tonic prost-serde; do
		input=$request
		case $name in
		ours) command=("$ours") input=$request_ours ;;
		*) command=("protoc-gen-$name") ;;
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

rust = {}
for line in open(f"{scratch}/bytes.txt"):
    name, count = line.split()
    rust[name] = int(count)

labels = {
    "floor": "`protoc --descriptor_set_out` (parsing only, whole run)",
    "ours": "protoc-gen-rust-svc, default artifacts (gateway and its JSON included)",
    "peers-json": "protoc-gen-prost, protoc-gen-tonic, protoc-gen-prost-serde",
    "ours-services": "protoc-gen-rust-svc, `artifacts=domain+stub+server+client`",
    "peers": "protoc-gen-prost then protoc-gen-tonic",
}
print(f"Request: {file_count} files, {request_bytes / 2**20:.1f} MiB. Wall time: median (min–max) "
      f"of {len(times['ours'])} runs per command; CPU: user + system, mean of the per-round means; "
      f"peak RSS: median (min–max) of {len(rss['ours'])} runs.\n")
print("| command | wall time | CPU time | Rust written |")
print("|---|---|---|---|")
written = {
    "ours": rust["ours"],
    "peers-json": rust["prost"] + rust["tonic"] + rust["prost-serde"],
    "ours-services": rust["ours-services"],
    "peers": rust["prost"] + rust["tonic"],
}
for name in ["floor", "ours", "peers-json", "ours-services", "peers"]:
    volume = f"{written[name] / 1e6:.1f} MB" if name in written else "–"
    print(f"| {labels[name]} | {spread(times[name], 'ms', 1000, 0)} | "
          f"{statistics.mean(users[name]) * 1000:.0f} ms | {volume} |")

median = lambda name: statistics.median(times[name])
cpu = lambda name: statistics.mean(users[name])
peak = lambda name: statistics.median(rss[name])
print()
print(f"Peak RSS: ours {spread(rss['ours'], 'MiB', digits=0)}; protoc-gen-prost "
      f"{spread(rss['prost'], 'MiB', digits=0)}, protoc-gen-tonic {spread(rss['tonic'], 'MiB', digits=0)}, "
      f"protoc-gen-prost-serde {spread(rss['prost-serde'], 'MiB', digits=0)}.")
print()
print("| ratio | value | target |")
print("|---|---|---|")
print(f"| default artifacts, wall, ours / (prost + tonic + prost-serde) | {median('ours') / median('peers-json'):.2f}× | ≤ 1.0× |")
print(f"| default artifacts, CPU, ours / (prost + tonic + prost-serde) | {cpu('ours') / cpu('peers-json'):.2f}× | ≤ 1.0× |")
print(f"| default artifacts, Rust written, ours / (prost + tonic + prost-serde) | {written['ours'] / written['peers-json']:.3f}× | ≤ 1.0× |")
print(f"| domain+stub+server+client, wall, ours / (prost + tonic) | {median('ours-services') / median('peers'):.2f}× | |")
print(f"| domain+stub+server+client, CPU, ours / (prost + tonic) | {cpu('ours-services') / cpu('peers'):.2f}× | ≤ 1.0× |")
print(f"| domain+stub+server+client, Rust written, ours / (prost + tonic) | {written['ours-services'] / written['peers']:.2f}× | |")
print(f"| peak RSS, ours / the largest peer (run one after the other, as protoc does) | "
      f"{peak('ours') / max(peak('prost'), peak('tonic'), peak('prost-serde')):.2f}× | ≤ 1.5× |")
PY
