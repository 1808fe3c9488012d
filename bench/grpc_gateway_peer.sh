#!/usr/bin/env bash
# Builds the grpc-gateway (Go) peer of bench/gateway.sh from Debian's packages only: no module
# downloads (GOPATH mode over /usr/share/gocode, GOPROXY=off). Everything it writes goes to
# GGW_DIR (default /tmp/ggw), outside the repository; it prints the path of the binary.
#
# Needs (Debian 12; these versions are what the packages hold, and they fit one another):
#   apt-get install golang-go protobuf-compiler protoc-gen-go-1-3 golang-grpc-gateway \
#     golang-github-grpc-ecosystem-grpc-gateway-dev golang-google-grpc-dev golang-google-genproto-dev
# - golang-grpc-gateway / -dev are grpc-gateway 1.6.4 (v1; bookworm has no v2), built on
#   golang/protobuf's API v1 (golang-goprotobuf-dev 1.3.5), so the messages come from
#   protoc-gen-go-1-3 (`plugins=grpc` writes the gRPC stubs too). Debian's protoc-gen-go
#   (API v2) and protoc-gen-go-grpc conflict with golang-goprotobuf-dev 1.3.5 and cannot be
#   installed beside it.
#
# The proto is the example's inventory.proto without the rust_svc options (they mean nothing to
# grpc-gateway, and would need a Go package of their own); its google.api.http rules are
# unchanged. The proxy (main.go below) sets the marshaler to lowerCamelCase names: v1's default
# writes proto names, v2 and proto3 JSON write lowerCamelCase.
set -euo pipefail

die() {
	echo "grpc_gateway_peer: $*" >&2
	exit 1
}

for tool in go protoc protoc-gen-go protoc-gen-grpc-gateway python3; do
	command -v "$tool" >/dev/null || die "$tool not found (see the top of this script)"
done
[[ -d /usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/runtime ]] ||
	die "grpc-gateway sources missing: apt-get install golang-github-grpc-ecosystem-grpc-gateway-dev"

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${GGW_DIR:-/tmp/ggw}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $out/ in "$repo"/*) die "GGW_DIR must be outside the repository" ;; esac

mkdir -p "$out/proto/inventory/v1" "$out/gopath/src/ggw/inventorypb" "$out/gopath/src/ggw/cmd/gw" "$out/bin"
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

# The well-known types and google.api map to the API v1 packages Debian ships: the .proto files
# in /usr/include name API v2 packages, which golang-goprotobuf-dev 1.3.5 does not have.
mapping="Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"
mapping+=",Mgoogle/api/annotations.proto=google.golang.org/genproto/googleapis/api/annotations"
protoc -I "$out/proto" -I "$repo/proto" -I /usr/include \
	--go_out="plugins=grpc,$mapping:$out/gopath/src" \
	--grpc-gateway_out="logtostderr=true,$mapping:$out/gopath/src" \
	"$out/proto/inventory/v1/inventory.proto"

cat >"$out/gopath/src/ggw/cmd/gw/main.go" <<'GO'
// grpc-gateway v1 in front of a gRPC InventoryService: the peer of rust-svc's generated REST/JSON
// gateway in bench/gateway.sh. Usage: gw -listen 127.0.0.1:PORT -backend 127.0.0.1:PORT
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"

	pb "ggw/inventorypb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve REST/JSON on")
	backend := flag.String("backend", "127.0.0.1:9090", "gRPC server to proxy to")
	flag.Parse()

	// v1's default marshaler writes proto field names (OrigName); proto3 JSON, grpc-gateway v2
	// and rust-svc's gateway write lowerCamelCase, so the bodies can be compared.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
		&runtime.JSONPb{OrigName: false}))
	opts := []grpc.DialOption{grpc.WithInsecure()}
	if err := pb.RegisterInventoryServiceHandlerFromEndpoint(context.Background(), mux, *backend, opts); err != nil {
		log.Fatalf("registering the gateway: %v", err)
	}
	log.Fatal(http.ListenAndServe(*listen, mux))
}
GO

(cd "$out" && GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOPROXY=off GOFLAGS= \
	GOCACHE="$out/gocache" go build -o "$out/bin/gw" ggw/cmd/gw)
echo "$out/bin/gw"
