#!/usr/bin/env bash
# Builds the grpc-gateway v2 (Go) peer of bench/gateway.sh with Go modules from the module
# proxy: the current grpc-gateway v2 release, grpc-go and protobuf-go, pinned below. Everything
# it writes (the plugins, the generated Go, the module cache and the build cache) goes to
# GGW_DIR (default /tmp/ggw), outside the repository; it prints the path of the binary.
#
# Needs: go (1.24 or newer), protoc with the well-known types (apt-get install
# protobuf-compiler libprotobuf-dev), python3.
#
# The proto is the example's inventory.proto without the rust_svc options (they mean nothing to
# grpc-gateway, and would need a Go package of their own); its google.api.http rules are
# unchanged. The proxy (main.go below) keeps v2's default marshaler except for
# EmitUnpopulated: v2 writes every zero field by default, rust-svc's gateway and proto3 JSON
# leave them out, and bench/gateway.sh compares the bodies byte for byte as JSON.
set -euo pipefail

ggw_version=v2.33.0
grpc_version=v1.85.0
protobuf_version=v1.36.12
protoc_gen_go_grpc_version=v1.6.0

die() {
	echo "grpc_gateway_peer: $*" >&2
	exit 1
}

for tool in go protoc python3; do
	command -v "$tool" >/dev/null || die "$tool not found (see the top of this script)"
done
[[ -f /usr/include/google/protobuf/timestamp.proto ]] ||
	die "the well-known types are missing: apt-get install libprotobuf-dev"

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${GGW_DIR:-/tmp/ggw}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $out/ in "$repo"/*) die "GGW_DIR must be outside the repository" ;; esac

export GOBIN="$out/bin" GOMODCACHE="$out/gomod" GOCACHE="$out/gocache" GOFLAGS=-buildvcs=false
export PATH="$GOBIN:$PATH"
mkdir -p "$out/proto/inventory/v1" "$out/src/cmd/gw" "$GOBIN"

echo "grpc_gateway_peer: installing the protoc plugins" >&2
go install "google.golang.org/protobuf/cmd/protoc-gen-go@$protobuf_version"
go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$protoc_gen_go_grpc_version"
go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$ggw_version"

python3 - "$repo/proto/inventory/v1/inventory.proto" "$out/proto/inventory/v1/inventory.proto" <<'PY'
import re, sys

source, target = sys.argv[1:]
text = open(source).read().replace('import "rust_svc/v1/options.proto";\n', "")
# `option (rust_svc.v1.…) = { … };` blocks nest braces: cut each by counting them.
opening = re.compile(r"\n\s*option \(rust_svc\.v1\.[a-z_]+\) = \{")
kept, at = [], 0
while (match := opening.search(text, at)):
    kept.append(text[at:match.start()])
    end, depth = match.end(), 1
    while depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    if text[end] != ";":
        sys.exit(f"unexpected text after a rust_svc option at {end}")
    at = end + 1
kept.append(text[at:])
text = "".join(kept).replace(" [(rust_svc.v1.idempotency_key) = true]", "")
if "(rust_svc." in text:
    sys.exit("a rust_svc option is left in the proto")
text = text.replace("package inventory.v1;\n",
                    'package inventory.v1;\n\noption go_package = "ggw/inventorypb";\n')
open(target, "w").write(text)
PY

# google/api comes from the repository's proto tree; its go_package names genproto's
# annotations package, which the module below requires.
protoc -I "$out/proto" -I "$repo/proto" -I /usr/include \
	--go_out="$out/src" --go_opt=module=ggw \
	--go-grpc_out="$out/src" --go-grpc_opt=module=ggw \
	--grpc-gateway_out="$out/src" --grpc-gateway_opt=module=ggw \
	"$out/proto/inventory/v1/inventory.proto"

cat >"$out/src/cmd/gw/main.go" <<'GO'
// grpc-gateway v2 in front of a gRPC InventoryService: the peer of rust-svc's generated REST/JSON
// gateway in bench/gateway.sh. Usage: gw -listen 127.0.0.1:PORT -backend 127.0.0.1:PORT
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	pb "ggw/inventorypb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve REST/JSON on")
	backend := flag.String("backend", "127.0.0.1:9090", "gRPC server to proxy to")
	flag.Parse()

	// v2's default marshaler with one change: EmitUnpopulated off, so zero fields are left out
	// as proto3 JSON and rust-svc's gateway leave them out, and the bodies can be compared.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
		&runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}}))
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := pb.RegisterInventoryServiceHandlerFromEndpoint(context.Background(), mux, *backend, opts); err != nil {
		log.Fatalf("registering the gateway: %v", err)
	}
	log.Fatal(http.ListenAndServe(*listen, mux))
}
GO

cd "$out/src"
[[ -f go.mod ]] || go mod init ggw >/dev/null 2>&1
go get "github.com/grpc-ecosystem/grpc-gateway/v2@$ggw_version" "google.golang.org/grpc@$grpc_version" \
	"google.golang.org/protobuf@$protobuf_version" >/dev/null ||
	die "go get failed (its error is above; is the Go module proxy reachable?)"
go mod tidy >/dev/null || die "go mod tidy failed (its error is above)"
go build -o "$GOBIN/gw" ./cmd/gw
echo "$GOBIN/gw"
