# Sourced by bench/build_time.sh, bench/build_time_googleapis.sh and bench/json_codec.sh, from
# the repository root:
# what both need to build generated code as crates of its own.

# The versions the workspace asks for (Cargo.toml's [workspace.dependencies]), so that the
# scratch crates ask for what the generated code is written against: sets prost_req,
# prost_types_req, tonic_req, tonic_prost_req, pbjson_req, pbjson_types_req and serde_req.
workspace_dependency_versions() {
	read -r prost_req prost_types_req tonic_req tonic_prost_req pbjson_types_req serde_req < <(python3 - <<'PY'
import tomllib
deps = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["dependencies"]
print(*(deps[name] if isinstance(deps[name], str) else deps[name]["version"]
        for name in ("prost", "prost-types", "tonic", "tonic-prost", "pbjson-types", "serde")))
PY
	)
	# The workspace no longer depends on pbjson itself (only on pbjson-types, its well-known
	# types); the peer's impls name pbjson of the same release.
	pbjson_req=$pbjson_types_req
	[[ -n ${serde_req:-} ]] || die "could not read the dependency versions from Cargo.toml"
}

# The manifest of a crate holding generated code: `generated_crate_manifest DIR NAME SIDE`, SIDE
# one of `ours` (the runtime, prost, tonic), `peer` (prost, tonic, tonic-prost) and
# `peer-json` (the peer's, and pbjson with its well-known types and serde).
generated_crate_manifest() {
	local dependencies
	case $3 in
	ours) dependencies="rust-svc-runtime = { path = \"$repo/runtime\" }" ;;
	peer | peer-json) dependencies="tonic-prost = \"$tonic_prost_req\"" ;;
	*) die "generated_crate_manifest: unknown side '$3'" ;;
	esac
	if [[ $3 == peer-json ]]; then
		dependencies+=$'\n'"pbjson = \"$pbjson_req\""$'\n'"pbjson-types = \"$pbjson_types_req\""$'\n'"serde = \"$serde_req\""
	fi
	cat >"$1/Cargo.toml" <<TOML
[package]
name = "$2"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
prost = "$prost_req"
prost-types = "$prost_types_req"
tonic = "$tonic_req"
$dependencies
TOML
}

# protoc with protoc-gen-prost, protoc-gen-tonic and protoc-gen-prost-serde in one run, as
# prost-serde's README sets them up: prost and prost-serde map the well-known types to
# pbjson-types, whose types have proto3 JSON, and each prost file includes its .tonic.rs and
# .serde.rs files. `protoc_peers_with_json OUT PROTOC_ARGS…` (the include paths and files).
protoc_peers_with_json() {
	local out=$1
	shift
	protoc --plugin=protoc-gen-prost="$(command -v protoc-gen-prost)" \
		--plugin=protoc-gen-tonic="$(command -v protoc-gen-tonic)" \
		--plugin=protoc-gen-prost-serde="$(command -v protoc-gen-prost-serde)" \
		--prost_out="$out" \
		--prost_opt=compile_well_known_types --prost_opt=extern_path=.google.protobuf=::pbjson_types \
		--tonic_out="$out" \
		--prost-serde_opt=extern_path=.google.protobuf=::pbjson_types \
		--prost-serde_out="$out" \
		"$@"
}

# The rustc command line cargo runs to build crate NAME of the workspace at MANIFEST
# (`rustc_command MANIFEST NAME`, from `cargo build -v`, so the crate is built once on the
# way), for counting that build's instructions under callgrind.
rustc_command() {
	local line
	line=$(cargo build -v --manifest-path "$1" -p "$2" 2>&1 |
		sed -n "s/^ *Running \`\(.*--crate-name ${2//-/_} .*\)\`\$/\1/p" | tail -n1)
	[[ -n $line ]] || die "no rustc command line for $2 in cargo's output"
	echo "$line"
}

# A scratch directory for the run in `$scratch` (`make_scratch NAME`): removed at exit, kept
# after a failure (the error messages point into it) or with KEEP_WORKDIR=1. Uses the
# script's `note`.
make_scratch() {
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap scratch_cleanup EXIT
	trap 'exit 130' INT TERM
}

scratch_cleanup() {
	local status=$?
	if [[ $status -ne 0 || ${KEEP_WORKDIR:-} == 1 ]]; then
		note "scratch workspace kept in $scratch"
	else
		rm -rf "$scratch"
	fi
}
