#!/usr/bin/env bash
# Route lookups in the gateway's table for a whole googleapis API: one table for all its
# services, as a `Host` (the example system, a scaffolded server) builds it. The HTTP rules of
# the API's protos (additional bindings included) are read from the googleapis corpus, and
# bench/src/bin/route_lookup.rs looks up, for every route, a path its template matches ("hit")
# and the same path with its last literal changed ("miss"). Instructions a lookup are counted
# with callgrind (a run of ROUNDS rounds less a run of none, over the lookups made); the time a
# lookup took comes from a run of TIMED_ROUNDS rounds on the noisy host, for scale only.
#
# Needs: cargo, valgrind, tar, grep, sed.
#
#   bench/route_table.sh                                # google/cloud/aiplatform/v1
#   API=google/pubsub/v1 bench/route_table.sh
#   CORPUS=/path/to/googleapis-protos.tar.gz bench/route_table.sh
#
# Prints Markdown for bench/RESULTS.md on stdout.
set -euo pipefail

die() {
	echo "route_table: $*" >&2
	exit 1
}

for tool in cargo valgrind tar grep sed; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

repo=$(cd "$(dirname "$0")/.." && pwd)
corpus=${CORPUS:-$repo/../shared/corpus/googleapis-protos.tar.gz}
api=${API:-google/cloud/aiplatform/v1}
rounds=${ROUNDS:-20}
timed_rounds=${TIMED_ROUNDS:-2000}
[[ -f $corpus ]] || die "googleapis tarball not found at $corpus (set CORPUS)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$corpus" -C "$work" --wildcards "$api/*.proto" || die "no protos under $api in $corpus"
# `get: "/v1/…"` and the other verbs of an HttpRule, its additional bindings included; a
# `custom` kind is left out.
grep -rhoE '(get|put|post|delete|patch): *"[^"]+"' "$work/$api"/*.proto |
	sed -E 's/^(get|put|post|delete|patch): *"(.*)"$/\1 \2/' |
	sed -E 's/^get /GET /; s/^put /PUT /; s/^post /POST /; s/^delete /DELETE /; s/^patch /PATCH /' \
		>"$work/routes.txt"
[[ -s $work/routes.txt ]] || die "no HTTP rules in $api"

(cd "$repo" && cargo build --release -q -p rust-svc-bench --bin route_lookup)
bin=$repo/target/release/route_lookup

instructions() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$work/routes.txt" "$1" "$2" 2>&1 |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "Routes of \`$api\` ($(wc -l <"$work/routes.txt") HTTP rules), \`bench/route_table.sh\`:"
echo
echo "| lookup | routes | instructions a lookup | ns a lookup (noisy host) |"
echo "|---|---|---|---|"
for mode in hit miss; do
	summary=$("$bin" "$work/routes.txt" "$mode" "$timed_rounds")
	routes=$(sed -n 's/.*routes=\([0-9]*\).*/\1/p' <<<"$summary")
	lookups=$(sed -n 's/.*lookups_per_round=\([0-9]*\).*/\1/p' <<<"$summary")
	found=$(sed -n 's/.*found=\([0-9]*\).*/\1/p' <<<"$summary")
	nanos=$(sed -n 's/.*ns_per_lookup=\([0-9]*\).*/\1/p' <<<"$summary")
	none=$(instructions "$mode" 0)
	some=$(instructions "$mode" "$rounds")
	per=$(((some - none) / (rounds * lookups)))
	echo "| $mode ($found of $lookups found) | $routes | $per | $nanos |"
done
