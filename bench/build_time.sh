#!/usr/bin/env bash
# Build time of generated code: protoc-gen-rust-svc's output for the example protos (as
# committed in examples/services/src/generated) against protoc-gen-prost + protoc-gen-tonic's
# output for the same protos, each compiled as the only code of a library crate.
#
# Needs: cargo, python3 (3.11+), hyperfine, and protoc with the well-known types:
#   apt-get install hyperfine protobuf-compiler libprotobuf-dev
#   cargo install protoc-gen-prost@0.5.0 protoc-gen-tonic@0.5.0
#
# Run from anywhere (it works from the repository root):
#   bench/build_time.sh                         # final run: 10 rounds x 3 builds per crate
#   ROUNDS=1 RUNS=1 bench/build_time.sh         # smoke test
#
# Settings (environment): ROUNDS (10), RUNS per crate per round (3), RELEASE=1 also measures
# the release profile, CHECK=1 also measures `cargo check`, INCREMENTAL=1 keeps incremental compilation on in the dev profile (see
# below), KEEP_WORKDIR=1 keeps the scratch workspace.
#
# The two crates live in a scratch workspace outside the repository, with the repository's
# Cargo.lock copied in so that both build against the very dependency versions the workspace
# uses. The peer's code comes from protoc with the plugins rather than from tonic-prost-build in
# a build script: then neither side pays for code generation inside the measured build, and both
# sides' output can be counted and read.
#
# Prints Markdown for bench/RESULTS.md on stdout; progress goes to stderr.
set -euo pipefail

rounds=${ROUNDS:-10}
runs=${RUNS:-3}
release=${RELEASE:-0}
check=${CHECK:-0}
incremental=${INCREMENTAL:-0}

die() {
	echo "build_time: $*" >&2
	exit 1
}
note() { echo "build_time: $*" >&2; }

for tool in cargo python3 hyperfine protoc protoc-gen-prost protoc-gen-tonic; do
	command -v "$tool" >/dev/null || case $tool in
	hyperfine) die "hyperfine not found: apt-get install hyperfine" ;;
	protoc) die "protoc not found: apt-get install protobuf-compiler libprotobuf-dev" ;;
	protoc-gen-*) die "$tool not found on PATH: cargo install $tool@0.5.0 (then add ~/.cargo/bin to PATH)" ;;
	*) die "$tool not found" ;;
	esac
done
python3 -c 'import sys, tomllib' 2>/dev/null || die "python3 3.11 or later is needed (tomllib)"
for value in "$rounds" "$runs"; do
	[[ $value =~ ^[0-9]+$ && $value -gt 0 ]] || die "ROUNDS and RUNS must be positive integers, got '$value'"
done

cd "$(dirname "$0")/.."
repo=$(pwd)
protos=(proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto proto/dispatch/v1/dispatch.proto)
packages=(inventory orders dispatch)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/build_time.XXXXXX")
cleanup() {
	local status=$?
	# Kept after a failure too: the error messages point into it.
	if [[ $status -ne 0 || ${KEEP_WORKDIR:-} == 1 ]]; then
		note "scratch workspace kept in $scratch"
	else
		rm -rf "$scratch"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The versions of the workspace's own dependency declarations, so that both crates ask for
# what the generated code is written against.
read -r prost_req prost_types_req tonic_req tonic_prost_req < <(python3 - <<'PY'
import tomllib
deps = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["dependencies"]
print(*(deps[name] if isinstance(deps[name], str) else deps[name]["version"]
        for name in ("prost", "prost-types", "tonic", "tonic-prost")))
PY
)
[[ -n ${tonic_prost_req:-} ]] || die "could not read the dependency versions from Cargo.toml"

mkdir -p "$scratch/ours/src/generated" "$scratch/peer/src/generated"
cat >"$scratch/Cargo.toml" <<'TOML'
[workspace]
resolver = "3"
members = ["ours", "peer"]
TOML
cp Cargo.lock "$scratch/Cargo.lock"

# ours: the committed output of `cargo generate-examples`, mod.rs included.
cp examples/services/src/generated/*.rs "$scratch/ours/src/generated/"
cat >"$scratch/ours/Cargo.toml" <<TOML
[package]
name = "ours"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
rust-svc-runtime = { path = "$repo/runtime" }
prost = "$prost_req"
prost-types = "$prost_types_req"
tonic = "$tonic_req"
TOML
cat >"$scratch/ours/src/lib.rs" <<'RS'
//! protoc-gen-rust-svc's output for the example protos.
pub mod generated;
RS

# peer: protoc with the two plugins, default options. The prost file of each package includes
# its .tonic.rs file itself (through protoc's insertion point); the options protos and
# google/api are only imported, as for ours.
protoc --plugin=protoc-gen-prost="$(command -v protoc-gen-prost)" \
	--plugin=protoc-gen-tonic="$(command -v protoc-gen-tonic)" \
	--prost_out="$scratch/peer/src/generated" --tonic_out="$scratch/peer/src/generated" \
	-I proto "${protos[@]}" || die "protoc failed (are the well-known types installed? apt-get install libprotobuf-dev)"
{
	echo "// The module tree, written by bench/build_time.sh."
	for package in "${packages[@]}"; do
		echo "pub mod $package { pub mod v1 { include!(\"$package/v1/$package.v1.rs\"); } }"
	done
} >"$scratch/peer/src/generated/mod.rs"
cat >"$scratch/peer/Cargo.toml" <<TOML
[package]
name = "peer"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
prost = "$prost_req"
prost-types = "$prost_types_req"
tonic = "$tonic_req"
tonic-prost = "$tonic_prost_req"
TOML
cat >"$scratch/peer/src/lib.rs" <<'RS'
//! protoc-gen-prost + protoc-gen-tonic's output for the example protos.
pub mod generated;
RS

# Lines of generated Rust, split into prost messages and the rest (services).
count_lines() { # dir
	find "$1" -name '*.rs' -print0 | xargs -0 cat | wc -l
}
lines_ours=$(count_lines "$scratch/ours/src/generated")
lines_peer=$(count_lines "$scratch/peer/src/generated")
messages_ours=$(cat "$scratch"/ours/src/generated/{inventory,orders,dispatch}.v1.rs | wc -l)
messages_peer=$(cat "$scratch"/peer/src/generated/{inventory,orders,dispatch}/v1/*.v1.rs | wc -l)

export CARGO_TARGET_DIR=$scratch/target
# Incremental compilation would turn a touch into a check of cached query results: what is
# measured then is the cache, not the cost of compiling the code. Off unless asked for.
export CARGO_INCREMENTAL=$incremental
manifest=$scratch/Cargo.toml

profiles=(dev)
[[ $check == 1 ]] && profiles+=(check)
[[ $release == 1 ]] && profiles+=(release)
cargo_command() { # profile crate: a shell command line, for hyperfine
	local subcommand
	case $1 in
	dev) subcommand="build" ;;
	check) subcommand="check" ;;
	release) subcommand="build --release" ;;
	esac
	echo "cargo $subcommand --quiet --manifest-path $(printf %q "$manifest") -p $2"
}
for profile in "${profiles[@]}"; do
	for crate in ours peer; do
		note "building $crate and its dependencies ($profile)"
		bash -c "$(cargo_command "$profile" "$crate")" || die "$crate does not build ($profile)"
	done
done

results=$scratch/results
mkdir -p "$results"
for profile in "${profiles[@]}"; do
	for ((round = 0; round < rounds; round++)); do
		# hyperfine runs each command's builds back to back; alternating which crate goes first
		# from round to round keeps drift from favouring one.
		if ((round % 2 == 0)); then order=(ours peer); else order=(peer ours); fi
		args=()
		for crate in "${order[@]}"; do
			args+=(--prepare "touch $(printf %q "$scratch/$crate/src/lib.rs")"
				--command-name "$crate"
				"$(cargo_command "$profile" "$crate")")
		done
		note "round $((round + 1))/$rounds ($profile): ${order[*]}"
		hyperfine --style basic --warmup 1 --runs "$runs" \
			--export-json "$results/$profile.$round.json" "${args[@]}" >&2
	done
done

versions=$(python3 - "$scratch/Cargo.lock" <<'PY'
import sys, tomllib
lock = {p["name"]: p["version"] for p in tomllib.load(open(sys.argv[1], "rb"))["package"]}
print(", ".join(f"{name} {lock[name]}" for name in ("prost", "tonic", "tonic-prost")))
PY
)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
HEADER="$(date -u +%Y-%m-%d). $(rustc --version | cut -d' ' -f1-2), $versions; protoc $(protoc --version | cut -d' ' -f2), protoc-gen-prost $(protoc-gen-prost --version), protoc-gen-tonic $(protoc-gen-tonic --version). Machine: $(nproc) vCPU $cpu_model, Linux $(uname -r)." \
	ROUNDS=$rounds RUNS=$runs INCREMENTAL=$incremental PROFILES="${profiles[*]}" \
	LINES_OURS=$lines_ours LINES_PEER=$lines_peer MESSAGES_OURS=$messages_ours MESSAGES_PEER=$messages_peer \
	python3 - "$results" <<'PY'
import json, os, statistics, sys
from pathlib import Path

env = os.environ
profiles = env["PROFILES"].split()
# times[profile][crate] = every measured build; per_round[profile][crate][round] = their median
times, per_round = {}, {}
for profile in profiles:
    times[profile] = {"ours": [], "peer": []}
    per_round[profile] = {"ours": {}, "peer": {}}
    for path in sorted(Path(sys.argv[1]).glob(f"{profile}.*.json")):
        round_ = int(path.stem.split(".")[1])
        for result in json.load(open(path))["results"]:
            times[profile][result["command"]] += result["times"]
            per_round[profile][result["command"]][round_] = statistics.median(result["times"])


def summary(values):
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


incremental = "on" if env["INCREMENTAL"] == "1" else "off (`CARGO_INCREMENTAL=0`), so the whole crate is recompiled"
print(env["HEADER"])
print()
print(
    "Touch-and-rebuild of a library crate whose only code is the generated code for "
    "inventory.proto, orders.proto and dispatch.proto (`touch src/lib.rs; cargo build -p …`, "
    f"dependencies prebuilt; incremental compilation {incremental}). {env['ROUNDS']} rounds of "
    f"{env['RUNS']} builds per crate after one warm-up build, the first crate alternating; "
    "median (min–max) of all builds. `ours` carries more: besides the prost messages and tonic's "
    "wire modules, per service the domain trait and its object-safe form, the stub, the fake, "
    "the adapter and the client with its policies. Generic code (tonic's server and client over "
    "any `T`, our adapter over any domain type) is compiled where it is instantiated, in the "
    "crate that uses it, so that part of either side's cost is not measured here."
)
print()
names = {"dev": "dev build", "check": "`cargo check`", "release": "release build"}
columns = " | ".join(names[p] for p in profiles)
print(f"| crate | generated Rust | {columns} |")
print("|---|---|" + "---|" * len(profiles))
for crate, label, lines, messages in (
    ("ours", "ours (protoc-gen-rust-svc)", int(env["LINES_OURS"]), int(env["MESSAGES_OURS"])),
    ("peer", "peer (protoc-gen-prost + protoc-gen-tonic)", int(env["LINES_PEER"]), int(env["MESSAGES_PEER"])),
):
    builds = " | ".join(summary(times[p][crate]) for p in profiles)
    print(f"| {label} | {lines:,} lines ({messages:,} in the message files) | {builds} |")
print()
print("| ours / peer | ratio of medians | per-round ratios | target |")
print("|---|---|---|---|")
for profile in profiles:
    t = times[profile]
    ratio = statistics.median(t["ours"]) / statistics.median(t["peer"])
    rounds = [per_round[profile]["ours"][r] / per_round[profile]["peer"][r]
              for r in per_round[profile]["ours"]]
    target = "≤ 1.3×: " + ("met" if ratio <= 1.3 else "**missed**")
    print(f"| {names[profile]} | {ratio:.2f}× | {statistics.median(rounds):.2f}× "
          f"({min(rounds):.2f}–{max(rounds):.2f}) | {target} |")
print(f"| lines of generated Rust | {int(env['LINES_OURS']) / int(env['LINES_PEER']):.2f}× | | |")
PY
