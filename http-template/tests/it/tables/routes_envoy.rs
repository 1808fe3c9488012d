//! Envoy's `test/path_matcher_test.cc` cases (grpc-httpjson-transcoding), as route groups.

use super::Group;
use super::Want::*;

pub const GROUPS: &[Group] = &[
    Group {
        name: "envoy: WildCardMatchesRoot",
        routes: &[("GET", "/**")],
        cases: &[
            ("GET", "/", Match("GET /**", &[])),
            ("GET", "/a", Match("GET /**", &[])),
            ("GET", "/a/", Match("GET /**", &[])),
            // Envoy keeps empty segments, and `**` takes them (its
            // WildCardMatchesManyWithoutStackOverflow); a literal or a `*` never matches one.
            ("GET", "/a//b", Match("GET /**", &[])),
        ],
    },
    Group {
        name: "envoy: WildCardMatches",
        routes: &[
            ("GET", "/a/**"),
            ("GET", "/b/*"),
            ("GET", "/c/*/d/**"),
            ("GET", "/c/*/d/e"),
            ("GET", "/c/f/d/e"),
            ("GET", "/"),
        ],
        cases: &[
            ("GET", "/a/b", Match("GET /a/**", &[])),
            ("GET", "/a/b/c", Match("GET /a/**", &[])),
            ("GET", "/b/c", Match("GET /b/*", &[])),
            ("GET", "b/c/d", NoRoute),
            ("GET", "/c/u/d/v", Match("GET /c/*/d/**", &[])),
            ("GET", "/c/v/d/w/x", Match("GET /c/*/d/**", &[])),
            ("GET", "/c/x/y/d/z", NoRoute),
            ("GET", "/c//v/d/w/x", NoRoute),
            ("GET", "/c/x/d/e", Match("GET /c/*/d/e", &[])),
            ("GET", "/c/f/d/e", Match("GET /c/f/d/e", &[])),
            ("GET", "/", Match("GET /", &[])),
            ("GET", "//", NoRoute),
            ("GET", "", NoRoute),
        ],
    },
    Group {
        name: "envoy: VariableBindings",
        routes: &[
            ("GET", "/a/{x}/c/d/e"),
            ("GET", "/{x=a/*}/b/{y=*}/c"),
            ("GET", "/a/{x=b/*}/{y=d/**}"),
            ("GET", "/alpha/{x=*}/beta/{y=**}/gamma"),
            ("GET", "/{x=*}/a"),
            ("GET", "/{x=**}/a/b"),
            ("GET", "/a/b/{x=*}"),
            ("GET", "/a/b/c/{x=**}"),
            ("GET", "/{x=*}/d/e/f/{y=**}"),
        ],
        cases: &[
            (
                "GET",
                "/a/book/c/d/e",
                Match("GET /a/{x}/c/d/e", &[("x", "book")]),
            ),
            (
                "GET",
                "/a/hello/b/world/c",
                Match(
                    "GET /{x=a/*}/b/{y=*}/c",
                    &[("x", "a/hello"), ("y", "world")],
                ),
            ),
            (
                "GET",
                "/a/b/zoo/d/animal/tiger",
                Match(
                    "GET /a/{x=b/*}/{y=d/**}",
                    &[("x", "b/zoo"), ("y", "d/animal/tiger")],
                ),
            ),
            (
                "GET",
                "/alpha/dog/beta/eat/bones/gamma",
                Match(
                    "GET /alpha/{x=*}/beta/{y=**}/gamma",
                    &[("x", "dog"), ("y", "eat/bones")],
                ),
            ),
            ("GET", "/foo/a", Match("GET /{x=*}/a", &[("x", "foo")])),
            (
                "GET",
                "/foo/bar/a/b",
                Match("GET /{x=**}/a/b", &[("x", "foo/bar")]),
            ),
            ("GET", "/a/b/foo", Match("GET /a/b/{x=*}", &[("x", "foo")])),
            (
                "GET",
                "/a/b/c/foo/bar/baz",
                Match("GET /a/b/c/{x=**}", &[("x", "foo/bar/baz")]),
            ),
            (
                "GET",
                "/foo/d/e/f/bar/baz",
                Match("GET /{x=*}/d/e/f/{y=**}", &[("x", "foo"), ("y", "bar/baz")]),
            ),
            // `**` may match nothing: the variable is then empty.
            ("GET", "/a/b", Match("GET /{x=**}/a/b", &[("x", "")])),
            ("GET", "/a/b/c", Match("GET /a/b/c/{x=**}", &[("x", "")])),
        ],
    },
    Group {
        name: "envoy: percent-decoding",
        routes: &[
            ("GET", "/a/{x}/c"),
            ("GET", "/a/{x=p/*/q/*}/c"),
            ("GET", "/b/{x=**}/c"),
            ("GET", "/r/{x=*}/{y=**}/c"),
        ],
        cases: &[
            (
                "GET",
                "/a/p%20q%2Fr+/c",
                Match("GET /a/{x}/c", &[("x", "p q/r+")]),
            ),
            (
                "GET",
                "/a/p/foo%20foo/q/bar%2Fbar/c",
                Match("GET /a/{x=p/*/q/*}/c", &[("x", "p/foo foo/q/bar%2Fbar")]),
            ),
            (
                "GET",
                "/b/p/foo%20foo/q/bar%2Fbar+/c",
                Match("GET /b/{x=**}/c", &[("x", "p/foo foo/q/bar%2Fbar+")]),
            ),
            (
                "GET",
                "/r/%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D/%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D/c",
                Match(
                    "GET /r/{x=*}/{y=**}/c",
                    &[
                        ("x", "!#$&'()*+,/:;=?@[]"),
                        (
                            "y",
                            "%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D",
                        ),
                    ],
                ),
            ),
            // Unreserved and non-ASCII escapes decode in both kinds; reserved ones keep their case.
            (
                "GET",
                "/b/caf%C3%A9/%7e%2f/c",
                Match("GET /b/{x=**}/c", &[("x", "café/~%2f")]),
            ),
            (
                "GET",
                "/a/caf%c3%a9/c",
                Match("GET /a/{x}/c", &[("x", "café")]),
            ),
            ("GET", "/a/%00/c", Match("GET /a/{x}/c", &[("x", "\0")])),
            (
                "GET",
                "/a/%2/c",
                BadEncoding(
                    "x",
                    "malformed percent-encoding `%2` at byte 0 of the value",
                ),
            ),
            (
                "GET",
                "/a/ab%zz/c",
                BadEncoding(
                    "x",
                    "malformed percent-encoding `%zz` at byte 2 of the value",
                ),
            ),
            (
                "GET",
                "/a/%FF/c",
                BadEncoding("x", "percent-decoded value is not valid UTF-8"),
            ),
            (
                "GET",
                "/b/x/%C3/c",
                BadEncoding("x", "percent-decoded value is not valid UTF-8"),
            ),
            (
                "GET",
                "/b/x/%/c",
                BadEncoding("x", "malformed percent-encoding `%` at byte 2 of the value"),
            ),
        ],
    },
    Group {
        name: "envoy: CustomVerbIssue",
        routes: &[
            ("GET", "/person"),
            ("GET", "/person/{id=*}"),
            ("GET", "/{x=**}:verb"),
        ],
        cases: &[
            (
                "GET",
                "/person:verb",
                Match("GET /{x=**}:verb", &[("x", "person")]),
            ),
            (
                "GET",
                "/person/jason:verb",
                Match("GET /{x=**}:verb", &[("x", "person/jason")]),
            ),
            (
                "GET",
                "/animal:verb",
                Match("GET /{x=**}:verb", &[("x", "animal")]),
            ),
            (
                "GET",
                "/animal/cat:verb",
                Match("GET /{x=**}:verb", &[("x", "animal/cat")]),
            ),
            ("GET", "/person", Match("GET /person", &[])),
            (
                "GET",
                "/person/jason",
                Match("GET /person/{id=*}", &[("id", "jason")]),
            ),
            ("GET", "/animal", NoRoute),
            ("GET", "/animal/cat", NoRoute),
            ("GET", "/person:other", NoRoute),
            (
                "GET",
                "/person/jason:other",
                Match("GET /person/{id=*}", &[("id", "jason:other")]),
            ),
            ("GET", "/animal:other", NoRoute),
            ("GET", "/animal/cat:other", NoRoute),
            // Nothing before the colon: not a verb, and no route takes `:verb` as a value here.
            ("GET", "/:verb", NoRoute),
        ],
    },
    Group {
        name: "envoy: VariableBindingsWithCustomVerb",
        routes: &[
            ("GET", "/a/{y=*}:verb"),
            ("GET", "/a/{y=d/**}:verb"),
            ("GET", "/{x=*}/a:verb"),
            ("GET", "/{x=**}/b:verb"),
            ("GET", "/e/{x=*}/f:verb"),
            ("GET", "/g/{x=**}/h:verb"),
        ],
        cases: &[
            (
                "GET",
                "/a/world:verb",
                Match("GET /a/{y=*}:verb", &[("y", "world")]),
            ),
            (
                "GET",
                "/a/d/animal/tiger:verb",
                Match("GET /a/{y=d/**}:verb", &[("y", "d/animal/tiger")]),
            ),
            (
                "GET",
                "/foo/a:verb",
                Match("GET /{x=*}/a:verb", &[("x", "foo")]),
            ),
            (
                "GET",
                "/foo/bar/baz/b:verb",
                Match("GET /{x=**}/b:verb", &[("x", "foo/bar/baz")]),
            ),
            (
                "GET",
                "/e/foo/f:verb",
                Match("GET /e/{x=*}/f:verb", &[("x", "foo")]),
            ),
            (
                "GET",
                "/g/foo/bar/h:verb",
                Match("GET /g/{x=**}/h:verb", &[("x", "foo/bar")]),
            ),
            ("GET", "/a/world", NoRoute),
        ],
    },
    Group {
        name: "envoy: ConstantSuffixesWithVariable",
        routes: &[
            ("GET", "/a/{x=b/**}"),
            ("GET", "/a/{x=b/**}/z"),
            ("GET", "/a/{x=b/**}/y/z"),
            ("GET", "/a/{x=b/**}:verb"),
            ("GET", "/a/{x=**}"),
            ("GET", "/c/{x=*}/{y=d/**}/e"),
            ("GET", "/c/{x=*}/{y=d/**}/e:verb"),
            ("GET", "/f/{x=*}/{y=**}/g"),
            ("GET", "/f/{x=*}/{y=**}/g:verb"),
            ("GET", "/a/{x=b/*/y/z/**}/foo"),
            ("GET", "/a/{x=b/*/**/y/z}/foo"),
        ],
        cases: &[
            (
                "GET",
                "/a/b/hello/world/c",
                Match("GET /a/{x=b/**}", &[("x", "b/hello/world/c")]),
            ),
            (
                "GET",
                "/a/b/world/c/z",
                Match("GET /a/{x=b/**}/z", &[("x", "b/world/c")]),
            ),
            (
                "GET",
                "/a/b/world/c/y/z",
                Match("GET /a/{x=b/**}/y/z", &[("x", "b/world/c")]),
            ),
            (
                "GET",
                "/a/b/world/c:verb",
                Match("GET /a/{x=b/**}:verb", &[("x", "b/world/c")]),
            ),
            (
                "GET",
                "/a/hello/b/world/c",
                Match("GET /a/{x=**}", &[("x", "hello/b/world/c")]),
            ),
            (
                "GET",
                "/c/hello/d/esp/world/e",
                Match(
                    "GET /c/{x=*}/{y=d/**}/e",
                    &[("x", "hello"), ("y", "d/esp/world")],
                ),
            ),
            (
                "GET",
                "/c/hola/d/esp/mundo/e:verb",
                Match(
                    "GET /c/{x=*}/{y=d/**}/e:verb",
                    &[("x", "hola"), ("y", "d/esp/mundo")],
                ),
            ),
            (
                "GET",
                "/f/foo/bar/baz/g",
                Match("GET /f/{x=*}/{y=**}/g", &[("x", "foo"), ("y", "bar/baz")]),
            ),
            (
                "GET",
                "/f/foo/bar/baz/g:verb",
                Match(
                    "GET /f/{x=*}/{y=**}/g:verb",
                    &[("x", "foo"), ("y", "bar/baz")],
                ),
            ),
            (
                "GET",
                "/a/b/foo/y/z/bar/baz/foo",
                Match("GET /a/{x=b/*/y/z/**}/foo", &[("x", "b/foo/y/z/bar/baz")]),
            ),
            (
                "GET",
                "/a/b/foo/bar/baz/y/z/foo",
                Match("GET /a/{x=b/*/**/y/z}/foo", &[("x", "b/foo/bar/baz/y/z")]),
            ),
            // `**` over nothing: `/a/b` is `b/**` with an empty rest.
            ("GET", "/a/b", Match("GET /a/{x=b/**}", &[("x", "b")])),
            ("GET", "/a/b/z", Match("GET /a/{x=b/**}/z", &[("x", "b")])),
        ],
    },
    Group {
        name: "envoy: CustomVerbMatches",
        routes: &[
            ("GET", "/some/const:verb"),
            ("GET", "/some/*:verb"),
            ("GET", "/some/*/foo:verb"),
            ("GET", "/other/**:verb"),
            ("GET", "/other/**/const:verb"),
        ],
        cases: &[
            (
                "GET",
                "/some/const:verb",
                Match("GET /some/const:verb", &[]),
            ),
            ("GET", "/some/other:verb", Match("GET /some/*:verb", &[])),
            ("GET", "/some/other:verb/", NoRoute),
            (
                "GET",
                "/some/bar/foo:verb",
                Match("GET /some/*/foo:verb", &[]),
            ),
            ("GET", "/some/foo1/foo2/foo:verb", NoRoute),
            ("GET", "/some/foo/bar:verb", NoRoute),
            (
                "GET",
                "/other/bar/foo:verb",
                Match("GET /other/**:verb", &[]),
            ),
            (
                "GET",
                "/other/bar/foo/const:verb",
                Match("GET /other/**/const:verb", &[]),
            ),
            ("GET", "/some/const", NoRoute),
        ],
    },
    Group {
        name: "envoy: CustomVerbMatch2",
        routes: &[("GET", "/{a=*}/{b=*}:verb")],
        cases: &[(
            "GET",
            "/some:verb/const:verb",
            Match(
                "GET /{a=*}/{b=*}:verb",
                &[("a", "some:verb"), ("b", "const")],
            ),
        )],
    },
    Group {
        name: "envoy: CustomVerbMatch3",
        routes: &[("GET", "/foo/{a=*}")],
        cases: &[(
            "GET",
            "/foo/other:verb",
            Match("GET /foo/{a=*}", &[("a", "other:verb")]),
        )],
    },
    Group {
        name: "envoy: CustomVerbMatch4",
        routes: &[("GET", "/foo/*/hello")],
        cases: &[(
            "GET",
            "/foo/other:verb/hello",
            Match("GET /foo/*/hello", &[]),
        )],
    },
    Group {
        name: "envoy: CustomVerbMatch5",
        routes: &[("GET", "/{a=**}:verb"), ("GET", "/{a=**}")],
        cases: &[
            (
                "GET",
                "/some:verb/const:verb",
                Match("GET /{a=**}:verb", &[("a", "some:verb/const")]),
            ),
            (
                "GET",
                "/some:verb/const",
                Match("GET /{a=**}", &[("a", "some:verb/const")]),
            ),
            (
                "GET",
                "/some:verb2/const:verb2",
                Match("GET /{a=**}", &[("a", "some:verb2/const:verb2")]),
            ),
        ],
    },
    Group {
        name: "envoy: partial, simple, over- and underspecified paths",
        routes: &[
            ("GET", "/prefix/middle/suffix"),
            ("GET", "/prefix/middle"),
            ("GET", "/prefix"),
            ("GET", "/prefix/middle/othersuffix"),
            ("GET", "/prefix/othermiddle/suffix"),
            ("GET", "/otherprefix/middle/suffix"),
            ("GET", "/otherprefix/suffix"),
        ],
        cases: &[
            (
                "GET",
                "/prefix/middle/suffix",
                Match("GET /prefix/middle/suffix", &[]),
            ),
            ("GET", "/prefix/middle", Match("GET /prefix/middle", &[])),
            ("GET", "/prefix", Match("GET /prefix", &[])),
            ("GET", "/prefix/middle/suffix/other", NoRoute),
            ("GET", "/prefix/middle/other", NoRoute),
            ("GET", "/prefix/other", NoRoute),
            ("GET", "/other", NoRoute),
            ("GET", "/prefix/not/a/path", NoRoute),
            ("GET", "/prefix/not/othermiddle", NoRoute),
            ("GET", "/otherprefix/suffix/othermiddle", NoRoute),
            (
                "GET",
                "/prefix/middle/othersuffix",
                Match("GET /prefix/middle/othersuffix", &[]),
            ),
            (
                "GET",
                "/prefix/othermiddle/suffix",
                Match("GET /prefix/othermiddle/suffix", &[]),
            ),
            (
                "GET",
                "/otherprefix/middle/suffix",
                Match("GET /otherprefix/middle/suffix", &[]),
            ),
            (
                "GET",
                "/otherprefix/suffix",
                Match("GET /otherprefix/suffix", &[]),
            ),
            (
                "GET",
                "/otherprefix/suffix?foo=bar",
                Match("GET /otherprefix/suffix", &[]),
            ),
            // One trailing slash is ignored, as in Envoy; grpc-gateway would 404.
            ("GET", "/prefix/middle/", Match("GET /prefix/middle", &[])),
            ("GET", "/prefix/middle//", NoRoute),
            // Envoy answers "not found" for another method; we say which methods exist.
            ("POST", "/prefix/middle", NotAllowed(&["GET"])),
        ],
    },
];
