#!/usr/bin/env bash
# Each documented artifact set builds with only the runtime features it needs (issue 74).
#
# For each set: the code of tests/protos/shapes/every_kind.proto (one rpc of each kind, with
# HTTP rules) generated with those artifacts, in a crate of its own whose rust-svc-runtime has
# `default-features = false` and the set's features (the ones lib.rs's table and the scaffold
# name), checked with warnings denied. A feature that no longer compiles alone, or an artifact
# that needs one more feature than documented, fails here. Then the generator library as build
# scripts depend on it (`default-features = false`: no CLI, templates or OpenAPI), and the one
# error: the gRPC set without `fake` must fail with exactly one error, naming the feature.
#
# The crates share a target directory (${CARGO_TARGET_DIR:-target}/features), so the
# dependencies every set builds alike are checked once. Run from anywhere; about 4 minutes on
# 2 cores from an empty target directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
export CARGO_TARGET_DIR=$target/features
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The whole workspace, not `-p`: alone, a package's dependencies resolve other features than in
# the workspace, and CI's test build of them would be built again.
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --quiet --workspace)
generator=$target/debug/protoc-gen-rust-svc

# name | artifacts | runtime features
sets=(
	"domain|domain+stub|"
	"client|domain+client|client"
	"server|domain+server|server"
	"fake|domain+fake|fake"
	"gateway|domain+gateway|gateway"
	"grpc|domain+stub+server+client+fake|server,client,fake,host"
	"grpc-scaffold|domain+stub+server+client+fake|server,client,fake,host,connect,grpc-web,gzip"
	"default-scaffold|domain+stub+server+client+fake+gateway|server,client,fake,gateway,host,connect,grpc-web,gzip"
)

# crate NAME ARTIFACTS FEATURES: a crate of the generated code; prints its directory.
crate() {
	local name=$1 artifacts=$2 features=$3 dir=$work/$1
	mkdir -p "$dir/src"
	"$generator" generate -I "$root/tests/protos/shapes" -I "$root/proto" \
		--out "$dir/src/generated" --opt "artifacts=$artifacts" \
		"$root/tests/protos/shapes/every_kind.proto"
	local quoted=
	if [[ -n $features ]]; then
		quoted=$(sed 's/[^,]*/"&"/g; s/,/, /g' <<<"$features")
	fi
	cat >"$dir/Cargo.toml" <<EOF
[package]
name = "features-$name"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
rust-svc-runtime = { path = "$root/runtime", default-features = false, features = [$quoted] }
prost = "0.14"
EOF
	echo '//! The generated code alone.' >"$dir/src/lib.rs"
	echo '#![allow(missing_docs)]' >>"$dir/src/lib.rs"
	echo 'pub mod generated;' >>"$dir/src/lib.rs"
	cp "$root/Cargo.lock" "$dir/"
	echo "$dir"
}

for set in "${sets[@]}"; do
	IFS='|' read -r name artifacts features <<<"$set"
	dir=$(crate "$name" "$artifacts" "$features")
	echo "== $name: artifacts=$artifacts, features [$features]"
	(cd "$dir" && RUSTFLAGS="-D warnings" cargo check --quiet --offline) || {
		echo "FAILED: artifacts=$artifacts with the runtime's features [$features]" >&2
		exit 1
	}
done

echo "== the generator library as build scripts use it (default-features = false)"
(cd "$root" && RUSTFLAGS="-D warnings" cargo check --quiet --offline -p protoc-gen-rust-svc \
	--no-default-features --lib)

echo "== one error: the gRPC set without \`fake\`"
dir=$(crate missing-fake domain+stub+server+client+fake server,client,host)
if (cd "$dir" && RUSTFLAGS="-D warnings" cargo check --quiet --offline 2>"$work/errors"); then
	echo "FAILED: the fake artifact built without the runtime's \`fake\` feature" >&2
	exit 1
fi
errors=$(grep -c '^error' "$work/errors" || true)
# The error itself and cargo's closing "could not compile … due to 1 previous error".
if [[ $errors -ne 2 ]] || ! grep -q "turn on rust-svc-runtime's \`fake\` feature" "$work/errors" ||
	! grep -q 'due to 1 previous error' "$work/errors"; then
	echo "FAILED: expected one error naming the \`fake\` feature, got:" >&2
	cat "$work/errors" >&2
	exit 1
fi
head -1 "$work/errors"
echo "every artifact set builds with only its features"
