#!/usr/bin/env bash
# Runs schemathesis (PyPI: `pip install schemathesis`, 4.32 or later) against the running REST
# gateway of the example system and the OpenAPI documents the generator writes for its protos.
# Fails on any response that is a 5xx, that its document does not allow (status, body schema,
# or, for newline-delimited JSON streams, any line), or on any error schemathesis runs into.
#
#   tests/openapi/schemathesis.sh
#
# Steps: build the generator and the `example_gateway` binary (debug, as the tests build them);
# write `<package>.openapi.json` for inventory, orders and dispatch into a scratch directory;
# start the gateway on a free loopback port (stopped on exit); run schemathesis on each
# document with schemathesis.toml (demo ids that get calls past NOT_FOUND) and
# schemathesis_hooks.py (NDJSON bodies and responses).
#
# Every request carries `Grpc-Timeout: 250m`: a watch stream only ends at its deadline, and the
# gateway cuts it there with a DEADLINE_EXCEEDED line, which the documents allow. The streaming
# operations are run a second time with `Accept: text/event-stream`.
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 100) bounds the cases per operation and phase;
# the default takes about 1.5 minutes on 2 cores after the build. Schemathesis prints the seed
# of each run; `schemathesis run --seed N ...` replays it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "schemathesis is not installed: pip install schemathesis" >&2
    exit 1
fi

max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
target="${CARGO_TARGET_DIR:-target}"
scratch="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# Built for the whole workspace, as buf.gen.yaml's `cargo run --bin` builds the plugin: one
# feature set of the dependencies for every script and buf. A package built alone (`-p`)
# resolves its dependencies' features differently, and cargo rebuilds dozens of them (one to
# two minutes on 2 cores for each distinct set).
cargo build --quiet --workspace

"$target/debug/protoc-gen-rust-svc" generate --out "$scratch/openapi" --opt artifacts=openapi \
    -I proto proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto \
    proto/dispatch/v1/dispatch.proto
documents=("$scratch"/openapi/*.openapi.json)
if [ "${#documents[@]}" -ne 3 ]; then
    echo "expected 3 OpenAPI documents, got: ${documents[*]}" >&2
    exit 1
fi

# Port 0: the gateway picks a free port and prints the address it listens on.
"$target/debug/example_gateway" --listen 127.0.0.1:0 >"$scratch/gateway.log" 2>&1 &
server=$!
base=""
for _ in $(seq 1 100); do
    base="$(sed -n 's/^example_gateway listening on //p' "$scratch/gateway.log")"
    if [ -n "$base" ]; then
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        cat "$scratch/gateway.log" >&2
        echo "example_gateway did not start" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$base" ]; then
    echo "example_gateway did not say where it listens within 10 s" >&2
    exit 1
fi
echo "example_gateway at $base"

failed=0
# One schemathesis run: the document, then extra arguments.
run() {
    local document="$1"
    shift
    SCHEMATHESIS_DOCUMENT="$document" \
        SCHEMATHESIS_HOOKS="tests/openapi/schemathesis_hooks.py" \
        schemathesis --no-color --config-file tests/openapi/schemathesis.toml run \
        --url "$base" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ndjson_lines_conform \
        --header 'Grpc-Timeout: 250m' \
        --max-examples "$max_examples" \
        --request-timeout 10 \
        "$@" "$document"
}
for document in "${documents[@]}"; do
    echo
    echo "==== schemathesis: $(basename "$document") ===="
    run "$document" || failed=1
    # The server streams again as Server-Sent Events, which schemathesis checks event by event.
    if grep -q 'text/event-stream' "$document"; then
        echo
        echo "==== schemathesis: $(basename "$document"), streams as Server-Sent Events ===="
        run "$document" --include-path-regex ':(watch|stream)$' \
            --header 'Accept: text/event-stream' || failed=1
    fi
done

if ! kill -0 "$server" 2>/dev/null; then
    echo "example_gateway died during the run:" >&2
    cat "$scratch/gateway.log" >&2
    failed=1
fi
if [ "$failed" -ne 0 ]; then
    echo "schemathesis FAILED: findings above" >&2
    exit 1
fi
echo
echo "schemathesis: no findings."
