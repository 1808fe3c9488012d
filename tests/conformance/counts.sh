#!/usr/bin/env bash
# Counts the cases connectconformance passes per mode and protocol, for the table in README.md:
# each protocol runs alone (its config with the other protocols taken out), with every case and
# no lists, so a count is what the code under test passes of what the suite asks of it. Run
# run.sh first (it builds the binaries and checks the runner's version).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
here=tests/conformance
runner="${CONNECTCONFORMANCE:-$(command -v connectconformance || echo "$(go env GOPATH)/bin/connectconformance")}"
bin="${CARGO_TARGET_DIR:-target}/debug"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

printf '| mode | protocol | passed | total |\n|---|---|---|---|\n'
for mode in server client; do
    for protocol in PROTOCOL_GRPC PROTOCOL_GRPC_WEB PROTOCOL_CONNECT; do
        config="$scratch/$mode-$protocol.yaml"
        # The protocols list keeps only this one.
        awk -v keep="$protocol" '
            /^  protocols:/ { print; inlist = 1; next }
            inlist && /^    - / { if ($2 == keep) print; next }
            { inlist = 0; print }
        ' "$here/$mode-config.yaml" >"$config"
        log="$scratch/$mode-$protocol.log"
        "$runner" --mode "$mode" --conf "$config" -- "$bin/conformance_$mode" >"$log" 2>&1 || true
        total="$(grep -Eo '^Total cases: [0-9]+' "$log" | grep -Eo '[0-9]+' || echo '?')"
        passed="$(grep -Eo '^[0-9]+ passed' "$log" | grep -Eo '[0-9]+' || echo '?')"
        printf '| %s | %s | %s | %s |\n' "$mode" "${protocol#PROTOCOL_}" "$passed" "$total"
    done
done
