//! The route-lookup tables for `routes.rs` (also replayed by `fuzz_regressions.rs`): Envoy's in
//! `routes_envoy.rs`, grpc-gateway's in `routes_grpc_gateway.rs`, the others here.

/// What a lookup must give.
#[derive(Debug)]
pub enum Want {
    /// This route ("METHOD template"), with these (field path, decoded value) bindings.
    Match(&'static str, &'static [(&'static str, &'static str)]),
    /// 404.
    NoRoute,
    /// 405 with these allowed methods.
    NotAllowed(&'static [&'static str]),
    /// 400: this variable, this message.
    BadEncoding(&'static str, &'static str),
}

use Want::*;

pub struct Group {
    pub name: &'static str,
    pub routes: &'static [(&'static str, &'static str)],
    pub cases: &'static [(&'static str, &'static str, Want)],
}

#[path = "routes_envoy.rs"]
mod envoy;
#[path = "routes_grpc_gateway.rs"]
mod grpc_gateway;

/// Every group, Envoy's first, then grpc-gateway's.
pub fn groups() -> impl Iterator<Item = &'static Group> {
    envoy::GROUPS
        .iter()
        .chain(grpc_gateway::GROUPS)
        .chain(GROUPS)
}

const GROUPS: &[Group] = &[
    Group {
        name: "http.proto: messages",
        routes: &[
            ("GET", "/v1/messages/{message_id}"),
            ("GET", "/v1/users/{user_id}/messages/{message_id}"),
            ("PATCH", "/v1/messages/{message_id}"),
            ("GET", "/v1/messages/{message_id}/{sub.subfield}"),
        ],
        cases: &[
            (
                "GET",
                "/v1/messages/123456",
                Match("GET /v1/messages/{message_id}", &[("message_id", "123456")]),
            ),
            (
                "GET",
                "/v1/messages/123456?revision=2&sub.subfield=foo",
                Match("GET /v1/messages/{message_id}", &[("message_id", "123456")]),
            ),
            (
                "GET",
                "/v1/users/me/messages/123456",
                Match(
                    "GET /v1/users/{user_id}/messages/{message_id}",
                    &[("user_id", "me"), ("message_id", "123456")],
                ),
            ),
            (
                "PATCH",
                "/v1/messages/123456",
                Match(
                    "PATCH /v1/messages/{message_id}",
                    &[("message_id", "123456")],
                ),
            ),
            (
                "GET",
                "/v1/messages/123456/foo",
                Match(
                    "GET /v1/messages/{message_id}/{sub.subfield}",
                    &[("message_id", "123456"), ("sub.subfield", "foo")],
                ),
            ),
            (
                "DELETE",
                "/v1/messages/123456",
                NotAllowed(&["GET", "PATCH"]),
            ),
            ("get", "/v1/messages/123456", NotAllowed(&["GET", "PATCH"])),
            ("GET", "/v1/messages", NoRoute),
            ("GET", "/v2/messages/1", NoRoute),
        ],
    },
    Group {
        name: "http.proto: resource names",
        routes: &[
            ("GET", "/v1/{name=messages/*}"),
            ("GET", "/v1/{name=shelves/*/books/*}"),
            ("POST", "/v1/{resource=**}:getIamPolicy"),
        ],
        cases: &[
            (
                "GET",
                "/v1/messages/123456",
                Match("GET /v1/{name=messages/*}", &[("name", "messages/123456")]),
            ),
            (
                "GET",
                "/v1/shelves/s1/books/b2",
                Match(
                    "GET /v1/{name=shelves/*/books/*}",
                    &[("name", "shelves/s1/books/b2")],
                ),
            ),
            (
                "POST",
                "/v1/projects/p/topics/t:getIamPolicy",
                Match(
                    "POST /v1/{resource=**}:getIamPolicy",
                    &[("resource", "projects/p/topics/t")],
                ),
            ),
            (
                "POST",
                "/v1/t:getIamPolicy",
                Match("POST /v1/{resource=**}:getIamPolicy", &[("resource", "t")]),
            ),
            ("POST", "/v1/projects/p/topics/t:setIamPolicy", NoRoute),
            ("GET", "/v1/projects/p:getIamPolicy", NotAllowed(&["POST"])),
            ("GET", "/v1/shelves/s1/books", NoRoute),
        ],
    },
    Group {
        name: "verbs are tried first",
        routes: &[
            ("GET", "/{a=*}/{b=*}:verb"),
            ("GET", "/foo/{a=*}"),
            ("GET", "/v1/{id}:b"),
            ("GET", "/v1/{id}:a:b"),
        ],
        cases: &[
            // The verb split wins over a more literal route that would take the whole segment.
            (
                "GET",
                "/foo/other:verb",
                Match("GET /{a=*}/{b=*}:verb", &[("a", "foo"), ("b", "other")]),
            ),
            (
                "GET",
                "/foo/other:verbs",
                Match("GET /foo/{a=*}", &[("a", "other:verbs")]),
            ),
            // Two verbs that both fit: the longer one.
            (
                "GET",
                "/v1/x:a:b",
                Match("GET /v1/{id}:a:b", &[("id", "x")]),
            ),
            ("GET", "/v1/x:b", Match("GET /v1/{id}:b", &[("id", "x")])),
            ("GET", "/v1/:a:b", Match("GET /v1/{id}:b", &[("id", ":a")])),
            ("GET", "/v1/x:", NoRoute),
        ],
    },
    Group {
        name: "precedence: literal over * over **, then longer",
        routes: &[
            ("GET", "/v1/**"),
            ("GET", "/v1/*"),
            ("GET", "/v1/*/b"),
            ("GET", "/v1/a/*"),
            ("GET", "/v1/a/b"),
            ("GET", "/v1/{x=**}/z"),
            ("GET", "/v1/{x=**}/y/z"),
            ("GET", "/v1/a/**"),
            ("GET", "/{x}/c/{y}"),
            ("GET", "/v1/c/**"),
        ],
        cases: &[
            ("GET", "/v1/a/b", Match("GET /v1/a/b", &[])),
            ("GET", "/v1/a/c", Match("GET /v1/a/*", &[])),
            ("GET", "/v1/d/b", Match("GET /v1/*/b", &[])),
            // Segment by segment from the left: the literal `c` decides before `b` is looked at.
            ("GET", "/v1/c/b", Match("GET /v1/c/**", &[])),
            ("GET", "/v1/e", Match("GET /v1/*", &[])),
            // `**` may match nothing, and the literal before it still outranks `*`.
            ("GET", "/v1/c", Match("GET /v1/c/**", &[])),
            ("GET", "/v1/a", Match("GET /v1/a/**", &[])),
            ("GET", "/v1/a/b/c", Match("GET /v1/a/**", &[])),
            ("GET", "/v1/c/d/e", Match("GET /v1/c/**", &[])),
            // A literal at the second segment beats `*` there, even if `*` is followed by literals.
            ("GET", "/v1/c/d", Match("GET /v1/c/**", &[])),
            (
                "GET",
                "/v2/c/d",
                Match("GET /{x}/c/{y}", &[("x", "v2"), ("y", "d")]),
            ),
            (
                "GET",
                "/v1/q/r/z",
                Match("GET /v1/{x=**}/z", &[("x", "q/r")]),
            ),
            (
                "GET",
                "/v1/q/y/z",
                Match("GET /v1/{x=**}/y/z", &[("x", "q")]),
            ),
            ("GET", "/v1/y/z", Match("GET /v1/{x=**}/y/z", &[("x", "")])),
            // `*` outranks `**` even when the `**` route would end on a literal.
            ("GET", "/v1/z", Match("GET /v1/*", &[])),
            ("GET", "/v1/q/r/s", Match("GET /v1/**", &[])),
            ("GET", "/v1", Match("GET /v1/**", &[])),
            ("GET", "/v2", NoRoute),
        ],
    },
    Group {
        name: "googleapis: `*` and variables after `**`",
        routes: &[
            // devtools/remoteworkers/v1test2/bots.proto UpdateBotSession
            ("PATCH", "/v1test2/{name=**/botSessions/*}"),
            // firestore/v1/firestore.proto GetDocument, ListDocuments (two bindings),
            // CreateDocument, RunQuery (two bindings)
            ("GET", "/v1/{name=projects/*/databases/*/documents/*/**}"),
            (
                "GET",
                "/v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}",
            ),
            (
                "GET",
                "/v1/{parent=projects/*/databases/*/documents}/{collection_id}",
            ),
            (
                "POST",
                "/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
            ),
            (
                "POST",
                "/v1/{parent=projects/*/databases/*/documents/*/**}:runQuery",
            ),
            (
                "POST",
                "/v1/{parent=projects/*/databases/*/documents}:runQuery",
            ),
        ],
        cases: &[
            (
                "PATCH",
                "/v1test2/a/b/botSessions/c",
                Match(
                    "PATCH /v1test2/{name=**/botSessions/*}",
                    &[("name", "a/b/botSessions/c")],
                ),
            ),
            // `**` may match nothing, or a segment that looks like the literal after it.
            (
                "PATCH",
                "/v1test2/botSessions/c",
                Match(
                    "PATCH /v1test2/{name=**/botSessions/*}",
                    &[("name", "botSessions/c")],
                ),
            ),
            (
                "PATCH",
                "/v1test2/botSessions/botSessions/c",
                Match(
                    "PATCH /v1test2/{name=**/botSessions/*}",
                    &[("name", "botSessions/botSessions/c")],
                ),
            ),
            // Multi-segment: `%2F` stays escaped, `%20` is decoded, in the tail's `*` too.
            (
                "PATCH",
                "/v1test2/a%2Fb/botSessions/c%2Fd%20e",
                Match(
                    "PATCH /v1test2/{name=**/botSessions/*}",
                    &[("name", "a%2Fb/botSessions/c%2Fd e")],
                ),
            ),
            // The tail is fixed: `botSessions` is the second last segment, `*` the last.
            ("PATCH", "/v1test2/a/b/botSessions", NoRoute),
            ("PATCH", "/v1test2/a/botSessions/c/d", NoRoute),
            ("PATCH", "/v1test2/botSessions", NoRoute),
            ("PATCH", "/v1test2/a/b/c", NoRoute),
            (
                "PATCH",
                "/v1test2/a/botSessions/c/",
                Match(
                    "PATCH /v1test2/{name=**/botSessions/*}",
                    &[("name", "a/botSessions/c")],
                ),
            ),
            ("PATCH", "/v1test2/a/botSessions//c", NoRoute),
            ("GET", "/v1test2/a/botSessions/c", NotAllowed(&["PATCH"])),
            (
                "GET",
                "/v1/projects/p/databases/d/documents/x/y/z/coll",
                Match(
                    "GET /v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}",
                    &[
                        ("parent", "projects/p/databases/d/documents/x/y/z"),
                        ("collection_id", "coll"),
                    ],
                ),
            ),
            // GetDocument matches too, with `name` the whole path: the longer template wins.
            // Templates cannot tell a document (`documents/c/d`) from a collection
            // (`documents/c/d/c2`): Firestore alternates them, which no template says.
            (
                "GET",
                "/v1/projects/p/databases/d/documents/x/coll",
                Match(
                    "GET /v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}",
                    &[
                        ("parent", "projects/p/databases/d/documents/x"),
                        ("collection_id", "coll"),
                    ],
                ),
            ),
            // Here GetDocument (`**` matching nothing) is the longer one. Envoy would pick the
            // second ListDocuments binding: its trie prefers a template that ends with the path
            // to a `**` that matches nothing.
            (
                "GET",
                "/v1/projects/p/databases/d/documents/coll",
                Match(
                    "GET /v1/{name=projects/*/databases/*/documents/*/**}",
                    &[("name", "projects/p/databases/d/documents/coll")],
                ),
            ),
            ("GET", "/v1/projects/p/databases/d/documents", NoRoute),
            (
                "POST",
                "/v1/projects/p/databases/d/documents/coll",
                Match(
                    "POST /v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
                    &[
                        ("parent", "projects/p/databases/d/documents"),
                        ("collection_id", "coll"),
                    ],
                ),
            ),
            (
                "POST",
                "/v1/projects/p/databases/d/documents/a/b/coll",
                Match(
                    "POST /v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
                    &[
                        ("parent", "projects/p/databases/d/documents/a/b"),
                        ("collection_id", "coll"),
                    ],
                ),
            ),
            // A single-segment variable after `**` decodes everything, the `**` one does not.
            (
                "POST",
                "/v1/projects/p/databases/d/documents/x%2Fy/c%2Fd",
                Match(
                    "POST /v1/{parent=projects/*/databases/*/documents/**}/{collection_id}",
                    &[
                        ("parent", "projects/p/databases/d/documents/x%2Fy"),
                        ("collection_id", "c/d"),
                    ],
                ),
            ),
            // The verb routes come first; without them `y:runQuery` would be a collection id.
            (
                "POST",
                "/v1/projects/p/databases/d/documents/x/y:runQuery",
                Match(
                    "POST /v1/{parent=projects/*/databases/*/documents/*/**}:runQuery",
                    &[("parent", "projects/p/databases/d/documents/x/y")],
                ),
            ),
            (
                "POST",
                "/v1/projects/p/databases/d/documents:runQuery",
                Match(
                    "POST /v1/{parent=projects/*/databases/*/documents}:runQuery",
                    &[("parent", "projects/p/databases/d/documents")],
                ),
            ),
            (
                "DELETE",
                "/v1/projects/p/databases/d/documents/a/b",
                NotAllowed(&["GET", "POST"]),
            ),
        ],
    },
    Group {
        name: "precedence past `**`: by template segment, then longer",
        routes: &[
            ("GET", "/v1/**/x"),
            ("GET", "/v1/**/*/x"),
            ("GET", "/v1/{a=**}/{b}"),
            ("GET", "/v1/q/**"),
            ("GET", "/v2/{a=**}/{b}/c:run"),
            ("GET", "/v2/{a=**}/{b}"),
        ],
        cases: &[
            // All three `/v1/**...` routes match; the literal at the third template segment
            // beats `*` there, whichever path segments the `**` took.
            ("GET", "/v1/a/x/x", Match("GET /v1/**/x", &[])),
            ("GET", "/v1/a/b/x", Match("GET /v1/**/x", &[])),
            ("GET", "/v1/x", Match("GET /v1/**/x", &[])),
            (
                "GET",
                "/v1/a/b",
                Match("GET /v1/{a=**}/{b}", &[("a", "a"), ("b", "b")]),
            ),
            (
                "GET",
                "/v1/b",
                Match("GET /v1/{a=**}/{b}", &[("a", ""), ("b", "b")]),
            ),
            (
                "GET",
                "/v1/y/x/z",
                Match("GET /v1/{a=**}/{b}", &[("a", "y/x"), ("b", "z")]),
            ),
            ("GET", "/v1", NoRoute),
            ("GET", "/v1/q/x", Match("GET /v1/q/**", &[])),
            ("GET", "/v1/q/r/s", Match("GET /v1/q/**", &[])),
            (
                "GET",
                "/v2/a/b/c:run",
                Match("GET /v2/{a=**}/{b}/c:run", &[("a", "a"), ("b", "b")]),
            ),
            (
                "GET",
                "/v2/b/c:run",
                Match("GET /v2/{a=**}/{b}/c:run", &[("a", ""), ("b", "b")]),
            ),
            // Too short for the verb route's tail: the verb is then part of the value.
            (
                "GET",
                "/v2/c:run",
                Match("GET /v2/{a=**}/{b}", &[("a", ""), ("b", "c:run")]),
            ),
            (
                "GET",
                "/v2/a/b:run",
                Match("GET /v2/{a=**}/{b}", &[("a", "a"), ("b", "b:run")]),
            ),
            (
                "GET",
                "/v2/x%2Fy/b%2Fc",
                Match("GET /v2/{a=**}/{b}", &[("a", "x%2Fy"), ("b", "b/c")]),
            ),
        ],
    },
    Group {
        name: "any-method routes",
        routes: &[
            ("*", "/any/{x}"),
            ("GET", "/any/{x}"),
            ("*", "/wild/**"),
            ("GET", "/wild/a"),
            ("POST", "/only/post"),
        ],
        cases: &[
            ("GET", "/any/1", Match("GET /any/{x}", &[("x", "1")])),
            ("LIST", "/any/1", Match("* /any/{x}", &[("x", "1")])),
            ("DELETE", "/wild/a", Match("* /wild/**", &[])),
            ("GET", "/wild/a", Match("GET /wild/a", &[])),
            // A more specific exact route still loses to a more specific any-method route.
            ("GET", "/wild/b", Match("* /wild/**", &[])),
            ("GET", "/only/post", NotAllowed(&["POST"])),
        ],
    },
];
