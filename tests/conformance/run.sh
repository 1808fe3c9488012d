#!/usr/bin/env bash
# Runs the Connect conformance suite (connectconformance from connectrpc/conformance v1.0.7)
# against the server and the client generated from the suite's protos (tests/conformance):
#
#   --mode server: the reference clients call conformance_server (server-config.yaml)
#   --mode client: conformance_client calls the reference servers (client-config.yaml)
#
# Cases that fail because of the runtime are listed in known-failing-*.txt, each under its
# finding in FINDINGS.md: the runner fails on any other failure, and on a listed case that
# passes. skip-*.txt lists cases not run, because running them makes other cases fail (see
# there). `--strict` runs every case without those lists. The runner is found on PATH, else in
# $(go env GOPATH)/bin, else CONNECTCONFORMANCE names it. Debug builds: the suite waits on
# delays and timeouts, not on the CPU, so an optimised build would only take longer to build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
here=tests/conformance
version=v1.0.7

strict=false
if [ "${1:-}" = "--strict" ]; then
    strict=true
fi

runner="${CONNECTCONFORMANCE:-}"
if [ -z "$runner" ]; then
    runner="$(command -v connectconformance || true)"
fi
if [ -z "$runner" ] && command -v go >/dev/null 2>&1; then
    runner="$(go env GOPATH)/bin/connectconformance"
fi
if [ -z "$runner" ] || [ ! -x "$runner" ]; then
    echo "connectconformance not found: go install connectrpc.com/conformance/cmd/connectconformance@$version" >&2
    exit 1
fi
found="$("$runner" --version)"
if [ "$found" != "connectconformance $version" ]; then
    echo "$runner is $found; the configs and lists here are for $version" >&2
    exit 1
fi

# Built for the whole workspace, as buf.gen.yaml's `cargo run --bin` builds the plugin: one
# feature set of the dependencies for every script and buf. A package built alone (`-p`)
# resolves its dependencies' features differently, and cargo rebuilds dozens of them (one to
# two minutes on 2 cores for each distinct set).
cargo build --quiet --workspace
bin="${CARGO_TARGET_DIR:-target}/debug"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

status=0
summary=()
# run MODE BINARY: one mode of the suite. Its output is printed in full when it fails (every
# failure with its HTTP trace), else its last lines; its counts go to the summary.
run() {
    local mode="$1" binary="$2" lists=()
    if [ "$strict" = false ]; then
        if [ -f "$here/known-failing-$mode.txt" ]; then
            lists+=(--known-failing "@$here/known-failing-$mode.txt")
        fi
        if [ -f "$here/skip-$mode.txt" ]; then
            lists+=(--skip "@$here/skip-$mode.txt")
        fi
    fi
    local log="$scratch/$mode.log" started=$SECONDS outcome=passed
    printf '\n---- connectconformance --mode %s ----\n' "$mode"
    if ! "$runner" --mode "$mode" --conf "$here/$mode-config.yaml" "${lists[@]}" --trace \
        -- "$bin/$binary" >"$log" 2>&1; then
        outcome=FAILED
        status=1
        cat "$log"
    else
        tail -n 3 "$log"
    fi
    local total counts known
    total="$(grep -Eo '^Total cases: [0-9]+' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)"
    counts="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
    known="$(grep -Eo '[0-9]+ failed as expected' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)"
    summary+=("$(printf '%-6s %-6s %s cases: %s, %s known to fail (FINDINGS.md); %ss' \
        "$mode" "$outcome" "${total:-?}" "${counts:-no result}" "${known:-0}" \
        "$((SECONDS - started))")")
}

run server conformance_server
run client conformance_client

printf '\n==== connectconformance %s ====\n' "$version"
printf '%s\n' "${summary[@]}"
exit "$status"
