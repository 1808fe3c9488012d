#!/usr/bin/env bash
# Validates the OpenAPI documents the generator writes (`openapi` artifact) against the OpenAPI
# 3.1 schema, with openapi-spec-validator (PyPI: `pip install openapi-spec-validator`).
#
#   tests/openapi/validate.sh                  the example system, the gateway's test service,
#                                              the OpenAPI edge cases and annotations
#   tests/openapi/validate.sh -I DIR FILE...   these protos instead (e.g. a googleapis package)
#
# Each group of protos is generated with the embedded compiler (`protoc-gen-rust-svc generate`)
# into a scratch directory; every `*.openapi.json` written is validated. Fails if a group
# writes no document, or if any document is invalid.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v openapi-spec-validator >/dev/null 2>&1; then
    echo "openapi-spec-validator is not installed: pip install openapi-spec-validator" >&2
    exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Built for the whole workspace, as buf.gen.yaml's `cargo run --bin` builds the plugin: one
# feature set of the dependencies for every script and buf. A package built alone (`-p`)
# resolves its dependencies' features differently, and cargo rebuilds dozens of them (one to
# two minutes on 2 cores for each distinct set).
cargo build --quiet --workspace
generator="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/protoc-gen-rust-svc"

group=0
failed=0
# Generates one group (generate's arguments) and validates its documents.
validate() {
    group=$((group + 1))
    local out="$scratch/$group"
    "$generator" generate --out "$out" --opt artifacts=domain+openapi "$@"
    local documents=("$out"/*.openapi.json)
    if [ ! -e "${documents[0]}" ]; then
        echo "no OpenAPI document written for: $*" >&2
        failed=1
        return
    fi
    for document in "${documents[@]}"; do
        if ! openapi-spec-validator "$document"; then
            failed=1
        fi
    done
}

if [ "$#" -gt 0 ]; then
    validate "$@"
else
    # Apart: routes must be unique among the packages generated together, and the edge cases
    # bind some of the gateway test service's.
    validate -I proto \
        proto/inventory/v1/inventory.proto proto/orders/v1/orders.proto \
        proto/dispatch/v1/dispatch.proto
    validate -I proto -I tests/protos tests/protos/gateway.proto
    validate -I proto -I tests/protos/openapi \
        tests/protos/openapi/library.proto tests/protos/openapi/unpackaged.proto
    # grpc-gateway's annotations carried over.
    validate -I proto -I tests/data/grpc-gateway -I tests/data/googleapis -I tests/protos/openapi \
        tests/protos/openapi/annotated.proto
fi

if [ "$failed" -ne 0 ]; then
    echo "OpenAPI validation FAILED" >&2
    exit 1
fi
echo "OpenAPI documents valid."
