#!/usr/bin/env bash
# Validates every Kubernetes manifest under examples/deploy/k8s/ offline, against the OpenAPI
# schemas that the kubernetes-validate package bundles (PyPI `kubernetes-validate`; no cluster,
# no network). Strict mode: an unknown or misspelt field is an error, not silently dropped.
#
#     python3 -m venv /tmp/kv && /tmp/kv/bin/pip install kubernetes-validate
#     KV_VENV=/tmp/kv examples/deploy/validate.sh
#
# Environment:
#   KUBERNETES_VALIDATE  the kubernetes-validate executable; else
#   KV_VENV              a virtualenv that has it installed ($KV_VENV/bin/kubernetes-validate);
#                        else `kubernetes-validate` on PATH.
#   K8S_VERSION          the schema version to validate against (default 1.30.0; the manifests
#                        need 1.24 or later for the gRPC probes, and kubernetes-validate 1.37
#                        bundles 1.25.0 to 1.37.0, see `kubernetes-validate --help`).
#
# Exits non-zero if any document of any manifest fails, or if there is no manifest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${K8S_VERSION:-1.30.0}

if [[ -n ${KUBERNETES_VALIDATE:-} ]]; then
    validate=$KUBERNETES_VALIDATE
elif [[ -n ${KV_VENV:-} ]]; then
    validate=$KV_VENV/bin/kubernetes-validate
else
    validate=$(command -v kubernetes-validate || true)
fi
if [[ -z $validate || ! -x $validate ]]; then
    echo "validate.sh: kubernetes-validate not found (${validate:-not on PATH});" \
        "set KUBERNETES_VALIDATE or KV_VENV, or: python3 -m venv /tmp/kv &&" \
        "/tmp/kv/bin/pip install kubernetes-validate" >&2
    exit 2
fi

shopt -s nullglob
manifests=("$here"/k8s/*.yaml "$here"/k8s/*.yml)
if ((${#manifests[@]} == 0)); then
    echo "validate.sh: no manifests in $here/k8s" >&2
    exit 1
fi

echo "validate.sh: $("$validate" --version 2>&1), Kubernetes $version, strict"
failed=0
for manifest in "${manifests[@]}"; do
    # Every document of the file is checked; the exit status is non-zero if any fails.
    if ! "$validate" --kubernetes-version "$version" --strict "$manifest"; then
        echo "validate.sh: FAILED: ${manifest#"$here"/}" >&2
        failed=1
    fi
done
if ((failed)); then
    exit 1
fi
echo "validate.sh: ${#manifests[@]} manifest(s) valid"
