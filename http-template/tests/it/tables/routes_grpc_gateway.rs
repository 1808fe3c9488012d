//! grpc-gateway's `runtime/pattern_test.go` and `runtime/mux_test.go` cases, as route groups.

use super::Group;
use super::Want::*;

pub const GROUPS: &[Group] = &[
    Group {
        name: "grpc-gateway: pattern_test TestMatch/TestMatchWithBinding",
        routes: &[
            ("GET", "/v1/bucket/{name}"),
            ("GET", "/v1/{name=o/**}"),
            ("GET", "/v2/{name=b/*}/o/{oname}"),
            ("GET", "/v3:LOCK"),
            ("GET", "/v4/bucket/{name}:LOCK"),
            ("GET", "/v5/{name=o/**/.ext}/tail"),
            ("GET", "/foo/{id}/bar"),
            ("GET", "/foo/{id=**}"),
            ("GET", "/**/tail"),
        ],
        cases: &[
            (
                "GET",
                "/v1/bucket/my-bucket",
                Match("GET /v1/bucket/{name}", &[("name", "my-bucket")]),
            ),
            (
                "GET",
                "/v1/bucket/our-bucket",
                Match("GET /v1/bucket/{name}", &[("name", "our-bucket")]),
            ),
            ("GET", "/v1/bucket", NoRoute),
            ("GET", "/v1", NoRoute),
            ("GET", "/v2/bucket/my-bucket", NoRoute),
            ("GET", "/v1/pubsub/my-topic", NoRoute),
            (
                "GET",
                "/v1/o",
                Match("GET /v1/{name=o/**}", &[("name", "o")]),
            ),
            (
                "GET",
                "/v1/o/my-bucket/dir/dir2/obj",
                Match(
                    "GET /v1/{name=o/**}",
                    &[("name", "o/my-bucket/dir/dir2/obj")],
                ),
            ),
            ("GET", "/v1/b/my-bucket", NoRoute),
            (
                "GET",
                "/v2/b/my-bucket/o/obj",
                Match(
                    "GET /v2/{name=b/*}/o/{oname}",
                    &[("name", "b/my-bucket"), ("oname", "obj")],
                ),
            ),
            ("GET", "/v2/b/my-bucket/o", NoRoute),
            ("GET", "/v2/b", NoRoute),
            ("GET", "/v3:LOCK", Match("GET /v3:LOCK", &[])),
            ("GET", "/v3", NoRoute),
            ("GET", "/LOCK", NoRoute),
            (
                "GET",
                "/v4/bucket/my-bucket:LOCK",
                Match("GET /v4/bucket/{name}:LOCK", &[("name", "my-bucket")]),
            ),
            (
                "GET",
                "/v5/o/my-bucket/dir/dir2/obj/.ext/tail",
                Match(
                    "GET /v5/{name=o/**/.ext}/tail",
                    &[("name", "o/my-bucket/dir/dir2/obj/.ext")],
                ),
            ),
            (
                "GET",
                "/foo/part1%2Fpart2/bar",
                Match("GET /foo/{id}/bar", &[("id", "part1/part2")]),
            ),
            (
                "GET",
                "/foo/test%2Fbar",
                Match("GET /foo/{id=**}", &[("id", "test%2Fbar")]),
            ),
            ("GET", "/tail", Match("GET /**/tail", &[])),
            ("GET", "/abc/def/tail", Match("GET /**/tail", &[])),
            ("GET", "/abc/tail/extra", NoRoute),
        ],
    },
    Group {
        name: "grpc-gateway: mux_test TestMuxServeHTTP",
        routes: &[
            ("GET", "/*"),
            ("GET", "/foo"),
            ("POST", "/foo"),
            ("POST", "/bar/{id}:archive"),
            ("POST", "/baz:bar"),
            ("GET", "/qux/{id}"),
            ("GET", "/qux/{id}:verb"),
            ("POST", "/quux/{id}"),
            ("POST", "/quux/{id}:verb:subverb"),
            ("GET", "/s/{id}/bar"),
            ("GET", "/t/{id=**}"),
            ("POST", "/api/v1/{name=organizations/*}:action"),
            ("POST", "/api/v2/organizations:verb"),
            ("POST", "/api/v2/organizations"),
            ("POST", "/api/v2/dummies:verb"),
        ],
        cases: &[
            ("GET", "/foo", Match("GET /foo", &[])),
            ("GET", "/bar", Match("GET /*", &[])),
            ("POST", "/foo", Match("POST /foo", &[])),
            // grpc-gateway answers these with 501 (its routing error handler maps 405 to
            // UNIMPLEMENTED); the table reports the 405 and the allowed methods.
            ("DELETE", "/foo", NotAllowed(&["GET", "POST"])),
            ("DELETE", "/bar/x:archive", NotAllowed(&["POST"])),
            ("POST", "/baz:bar", Match("POST /baz:bar", &[])),
            (
                "GET",
                "/qux/bar:verb",
                Match("GET /qux/{id}:verb", &[("id", "bar")]),
            ),
            ("GET", "/qux/bar", Match("GET /qux/{id}", &[("id", "bar")])),
            (
                "GET",
                "/qux/bar:123",
                Match("GET /qux/{id}", &[("id", "bar:123")]),
            ),
            (
                "POST",
                "/quux/bar:verb:subverb",
                Match("POST /quux/{id}:verb:subverb", &[("id", "bar")]),
            ),
            (
                "POST",
                "/quux/bar:verb",
                Match("POST /quux/{id}", &[("id", "bar:verb")]),
            ),
            ("POST", "foo", NoRoute),
            (
                "GET",
                "/s/success%2fwith%2Fspace/bar",
                Match("GET /s/{id}/bar", &[("id", "success/with/space")]),
            ),
            (
                "GET",
                "/t/success%2fwith%2Fspace",
                Match("GET /t/{id=**}", &[("id", "success%2fwith%2Fspace")]),
            ),
            // An encoded `/` is not a separator: `organizations%2Ffoo` is one segment.
            ("POST", "/api/v1/organizations%2Ffoo:action", NoRoute),
            (
                "POST",
                "/api/v1/organizations/foo:action",
                Match(
                    "POST /api/v1/{name=organizations/*}:action",
                    &[("name", "organizations/foo")],
                ),
            ),
            (
                "POST",
                "/api/v2/organizations:verb",
                Match("POST /api/v2/organizations:verb", &[]),
            ),
            (
                "POST",
                "/api/v2/organizations",
                Match("POST /api/v2/organizations", &[]),
            ),
            // grpc-gateway sees Go's decoded path here and answers 400; the raw `%25` is a `%`.
            ("GET", "/qux/%25", Match("GET /qux/{id}", &[("id", "%")])),
            (
                "GET",
                "/qux/%",
                BadEncoding(
                    "id",
                    "malformed percent-encoding `%` at byte 0 of the value",
                ),
            ),
        ],
    },
];
