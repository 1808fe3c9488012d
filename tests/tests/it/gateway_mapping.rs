//! The REST gateway end to end, request mapping from the path and the query: each rule of
//! google/api/http.proto and grpc-gateway's query parameters, over real HTTP/1.1 on loopback,
//! against a domain that echoes the request it got (so the JSON response shows what the
//! gateway made of the URL).

use serde_json::{Value, json};

use crate::gateway_common::{Rest, serve};

/// `GET path` answered 200 with JSON: that JSON.
async fn get_json(rest: &Rest, path: &str) -> Value {
    let reply = rest.get(path).await;
    assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
    reply.ok_json()
}

#[tokio::test]
async fn a_path_variable_and_scalars_of_every_kind_from_the_query() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/abc?small=-5&big=-9223372036854775808\
         &unsigned_big=18446744073709551615&ratio=1.5&weight=0.25&flag=true&colour=COLOUR_RED\
         &choice_number=7&maybe_note=note",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "abc",
            "small": -5,
            "big": "-9223372036854775808",
            "unsignedBig": "18446744073709551615",
            "ratio": 1.5,
            "weight": 0.25,
            "flag": true,
            "colour": "COLOUR_RED",
            "choiceNumber": 7,
            "maybeNote": "note",
        })
    );
    let seen = served.domain.last("get_everything");
    assert!(seen.had_peer, "{seen:?}");
}

#[tokio::test]
async fn proto_names_lower_camel_names_and_json_name_are_all_accepted() {
    let served = serve().await;
    let cases = [
        ("unsigned_big=1", json!({"unsignedBig": "1"})),
        ("unsignedBig=1", json!({"unsignedBig": "1"})),
        ("maybe_note=x", json!({"maybeNote": "x"})),
        ("maybeNote=x", json!({"maybeNote": "x"})),
        ("choice_text=t", json!({"choiceText": "t"})),
        ("choiceText=t", json!({"choiceText": "t"})),
        // json_name = "otherName": the JSON name is the declared one, the proto name works too.
        ("otherName=o", json!({"otherName": "o"})),
        ("renamed=o", json!({"otherName": "o"})),
        (
            "inner.leaf.note=n",
            json!({"inner": {"leaf": {"note": "n"}}}),
        ),
        (
            "maybe_name=w&maybeBig=2",
            json!({"maybeName": "w", "maybeBig": "2"}),
        ),
    ];
    for (query, mut expected) in cases {
        expected["id"] = json!("n");
        let body = get_json(&served.rest, &format!("/v1/everything/n?{query}")).await;
        assert_eq!(body, expected, "?{query}");
    }
}

#[tokio::test]
async fn nested_dotted_paths_and_plus_as_a_space() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?inner.label=hello+wide%20world&inner.count=3&inner.leaf.note=a%2Bb+c",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "n",
            "inner": {"label": "hello wide world", "count": 3, "leaf": {"note": "a+b c"}},
        })
    );
}

#[tokio::test]
async fn path_variables_take_comma_separated_lists_and_well_known_types() {
    // grpc-gateway's testABERepeated and its Timestamp / Duration / wrapper path parameters.
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/w/tags/a,b%20b,/colours/COLOUR_GREEN,1/at/2026-11-27T12:00:00Z\
         /wait/1.5s/big/-42?tags=ignored",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "w",
            "tags": ["a", "b b", ""],
            "colours": ["COLOUR_GREEN", "COLOUR_RED"],
            "at": "2026-11-27T12:00:00Z",
            "wait": "1.500s",
            "maybeBig": "-42",
        })
    );
    let reply = served
        .rest
        .get("/v1/everything/w/tags/a/colours/COLOUR_GREEN,PURPLE/at/2026-11-27T12:00:00Z/wait/1s/big/1")
        .await;
    reply.error(
        400,
        rust_svc_runtime::Code::InvalidArgument,
        &["path variable \"colours\"", "PURPLE"],
    );
}

#[tokio::test]
async fn repeated_fields_take_repeated_keys() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?tags=a&tags=b+b&tags=&colours=COLOUR_GREEN&colours=1&tags=c",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "n",
            "tags": ["a", "b b", "", "c"],
            "colours": ["COLOUR_GREEN", "COLOUR_RED"],
        })
    );
}

#[tokio::test]
async fn maps_take_bracketed_keys() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?labels[env]=prod&labels%5Btier%5D=web+front&counters[1]=2\
         &counters[-3]=9007199254740993",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "n",
            "labels": {"env": "prod", "tier": "web front"},
            "counters": {"1": "2", "-3": "9007199254740993"},
        })
    );
}

#[tokio::test]
async fn enums_by_name_and_by_number() {
    let served = serve().await;
    for (value, name) in [
        ("COLOUR_GREEN", "COLOUR_GREEN"),
        ("2", "COLOUR_GREEN"),
        ("1", "COLOUR_RED"),
        ("COLOUR_RED", "COLOUR_RED"),
    ] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?colour={value}")).await;
        assert_eq!(body, json!({"id": "n", "colour": name}), "colour={value}");
    }
    // The default value is not written, by name or number.
    for value in ["COLOUR_UNSPECIFIED", "0"] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?colour={value}")).await;
        assert_eq!(body, json!({"id": "n"}), "colour={value}");
    }
}

#[tokio::test]
async fn bools_in_every_spelling_strconv_accepts() {
    let served = serve().await;
    for value in ["true", "1", "t", "T", "TRUE", "True"] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?flag={value}")).await;
        assert_eq!(body, json!({"id": "n", "flag": true}), "flag={value}");
    }
    // A wrapper shows a false that was given.
    for value in ["false", "0", "f", "F", "FALSE", "False"] {
        let body = get_json(
            &served.rest,
            &format!("/v1/everything/n?maybe_flag={value}"),
        )
        .await;
        assert_eq!(
            body,
            json!({"id": "n", "maybeFlag": false}),
            "maybe_flag={value}"
        );
    }
}

#[tokio::test]
async fn non_finite_floats_are_written_as_the_special_strings() {
    let served = serve().await;
    // proto3 JSON: a float or double is "a number or one of the special string values
    // \"NaN\", \"Infinity\", and \"-Infinity\"". JSON has no other way to write them.
    let body = get_json(
        &served.rest,
        "/v1/everything/n?ratio=NaN&weight=Infinity&maybe_ratio=-Infinity",
    )
    .await;
    assert_eq!(
        body,
        json!({"id": "n", "ratio": "NaN", "weight": "Infinity", "maybeRatio": "-Infinity"})
    );
}

#[tokio::test]
async fn sixty_four_bit_integers_keep_every_digit() {
    let served = serve().await;
    // 2^53 + 1 does not survive a trip through a double.
    let body = get_json(
        &served.rest,
        "/v1/everything/n?big=9007199254740993&unsignedBig=18446744073709551615&maybe_big=-7",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "n",
            "big": "9007199254740993",
            "unsignedBig": "18446744073709551615",
            "maybeBig": "-7",
        })
    );
}

#[tokio::test]
async fn bytes_in_standard_and_url_safe_base64() {
    let served = serve().await;
    // The bytes fb ef ff are `++//` in standard base64 and `--__` in the URL-safe alphabet;
    // fb ff needs padding: `+/8=`.
    let cases = [
        ("blob=%2B%2B%2F%2F", "++//"),
        ("blob=--__", "++//"),
        ("blob=%2B%2F8%3D", "+/8="),
        ("blob=-_8%3D", "+/8="),
        ("blob=-_8", "+/8="),
    ];
    for (query, canonical) in cases {
        let body = get_json(&served.rest, &format!("/v1/everything/n?{query}")).await;
        assert_eq!(body, json!({"id": "n", "blob": canonical}), "?{query}");
    }
    let body = get_json(&served.rest, "/v1/everything/n?maybe_blob=AQI").await;
    assert_eq!(body, json!({"id": "n", "maybeBlob": "AQI="}));
}

#[tokio::test]
async fn timestamps_in_rfc_3339_are_written_z_normalized() {
    let served = serve().await;
    let cases = [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        // `+` must be percent-encoded in a query: a raw one is a space.
        ("2024-01-02T03:04:05.5%2B01:00", "2024-01-02T02:04:05.500Z"),
        (
            "1970-01-01T00:00:00.000000001Z",
            "1970-01-01T00:00:00.000000001Z",
        ),
    ];
    for (value, canonical) in cases {
        let body = get_json(&served.rest, &format!("/v1/everything/n?at={value}")).await;
        assert_eq!(body, json!({"id": "n", "at": canonical}), "at={value}");
    }
}

#[tokio::test]
async fn durations_in_seconds_and_as_go_writes_them() {
    let served = serve().await;
    for (value, canonical) in [
        ("1.5s", "1.500s"),
        ("-0.25s", "-0.250s"),
        ("3s", "3s"),
        ("1m30s", "90s"),
    ] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?wait={value}")).await;
        assert_eq!(body, json!({"id": "n", "wait": canonical}), "wait={value}");
    }
}

#[tokio::test]
async fn field_masks_are_comma_separated_in_either_case() {
    let served = serve().await;
    for value in [
        "inner.label,unsignedBig",
        "inner.label,unsigned_big",
        "inner.label%2CunsignedBig",
    ] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?mask={value}")).await;
        assert_eq!(
            body,
            json!({"id": "n", "mask": "inner.label,unsignedBig"}),
            "mask={value}"
        );
    }
}

#[tokio::test]
async fn wrappers_take_their_scalar_and_keep_defaults_given() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?maybe_big=0&maybe_name=&maybe_flag=false&maybe_ratio=2.5\
         &maybe_blob=AQI%3D",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "id": "n",
            "maybeBig": "0",
            "maybeName": "",
            "maybeFlag": false,
            "maybeRatio": 2.5,
            "maybeBlob": "AQI=",
        })
    );
}

#[tokio::test]
async fn struct_and_value_take_json_text() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?extra=%7B%22a%22%3A1.5%2C%22b%22%3A%5Btrue%2Cnull%5D%7D\
         &anything=%5B2.5%2C%22two%22%5D",
    )
    .await;
    assert_eq!(
        body,
        json!({"id": "n", "extra": {"a": 1.5, "b": [true, null]}, "anything": [2.5, "two"]})
    );
    for (value, json) in [
        ("%22text%22", json!("text")),
        ("false", json!(false)),
        ("0.5", json!(0.5)),
    ] {
        let body = get_json(&served.rest, &format!("/v1/everything/n?anything={value}")).await;
        assert_eq!(
            body,
            json!({"id": "n", "anything": json}),
            "anything={value}"
        );
    }
}

#[tokio::test]
async fn query_parameters_never_override_path_variables() {
    let served = serve().await;
    let body = get_json(&served.rest, "/v1/everything/abc?id=zzz").await;
    assert_eq!(body, json!({"id": "abc"}));
    // A parameter beside a path-bound nested field is taken; the bound field itself is not.
    let body = get_json(
        &served.rest,
        "/v1/nested/lbl/everything/abc?inner.label=other&inner.count=3&id=x&inner.leaf.note=n",
    )
    .await;
    assert_eq!(
        body,
        json!({"id": "abc", "inner": {"label": "lbl", "count": 3, "leaf": {"note": "n"}}})
    );
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored_like_grpc_gateway() {
    let served = serve().await;
    let body = get_json(
        &served.rest,
        "/v1/everything/n?utm_source=mail&_=123&small=2",
    )
    .await;
    assert_eq!(body, json!({"id": "n", "small": 2}));
}

#[tokio::test]
async fn single_segment_variables_are_fully_percent_decoded() {
    let served = serve().await;
    for (path, id) in [
        ("/v1/everything/a%2Fb%20c", "a/b c"),
        ("/v1/everything/caf%C3%A9", "café"),
        ("/v1/everything/a+b", "a+b"),
        // No GET rule has the verb `echo`: the whole last segment is the variable, as in
        // grpc-gateway.
        ("/v1/everything/abc:echo", "abc:echo"),
    ] {
        let body = get_json(&served.rest, path).await;
        assert_eq!(body, json!({"id": id}), "{path}");
    }
}

#[tokio::test]
async fn additional_bindings_reach_the_same_rpc() {
    let served = serve().await;
    let body = get_json(&served.rest, "/v1/nested/lbl/everything/abc").await;
    assert_eq!(body, json!({"id": "abc", "inner": {"label": "lbl"}}));
    let body = get_json(&served.rest, "/v1/everything/abc").await;
    assert_eq!(body, json!({"id": "abc"}));
    let reply = served
        .rest
        .json("POST", "/v1/everything/abc:echo", &json!({"small": 4}))
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "abc", "small": 4}));
    let rpcs: Vec<_> = served.domain.calls().iter().map(|seen| seen.rpc).collect();
    assert_eq!(rpcs, ["get_everything"; 3]);
}

#[tokio::test]
async fn a_multi_segment_variable_keeps_reserved_characters_encoded() {
    let served = serve().await;
    let body = get_json(&served.rest, "/v1/shelves/1/books/2").await;
    assert_eq!(body, json!({"name": "shelves/1/books/2"}));
    let body = get_json(&served.rest, "/v1/shelves/a%2Fb/books/c%20d").await;
    assert_eq!(body, json!({"name": "shelves/a%2Fb/books/c d"}));
    // One segment too many, or too few: no rule matches.
    let reply = served.rest.get("/v1/shelves/1/books/2/3").await;
    reply.error(
        404,
        rust_svc_runtime::Code::NotFound,
        &["/v1/shelves/1/books/2/3"],
    );
    let reply = served.rest.get("/v1/shelves/1").await;
    reply.error(404, rust_svc_runtime::Code::NotFound, &[]);
}

#[tokio::test]
async fn a_double_wildcard_with_the_custom_verb_read() {
    let served = serve().await;
    for (path, expected) in [
        ("/v1/files/a/b%2Fc/d.txt:read", "a/b%2Fc/d.txt"),
        ("/v1/files/one:read", "one"),
        ("/v1/files/my%20dir/x:read", "my dir/x"),
    ] {
        let body = get_json(&served.rest, path).await;
        assert_eq!(body, json!({"path": expected}), "{path}");
    }
    // `**` takes empty segments, as many as a request line carries (Envoy's
    // WildCardMatchesManyWithoutStackOverflow: 64,000 slashes), without recursion.
    let slashes = "/".repeat(64000);
    let body = get_json(&served.rest, &format!("/v1/files/a{slashes}b:read")).await;
    assert_eq!(body, json!({"path": format!("a{slashes}b")}));
    // The verb is part of the match.
    let reply = served.rest.get("/v1/files/a/b").await;
    reply.error(404, rust_svc_runtime::Code::NotFound, &[]);
    let reply = served.rest.get("/v1/files/a/b:write").await;
    reply.error(404, rust_svc_runtime::Code::NotFound, &[]);
}

#[tokio::test]
async fn the_custom_method_search() {
    let served = serve().await;
    let reply = served
        .rest
        .send(served.rest.request("SEARCH", "/v1/shelves/7/books"))
        .await;
    assert_eq!(reply.ok_json(), json!({"name": "shelves/7"}));
    // GET on that path is a known path with the wrong method.
    let reply = served.rest.get("/v1/shelves/7/books").await;
    reply.error(405, rust_svc_runtime::Code::Unimplemented, &["GET"]);
    assert_eq!(reply.header("allow"), Some("SEARCH"));
    // Only the SEARCH reached the domain.
    let calls = served.domain.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
}

/// The unannotated service's domain: every rpc echoes its note.
#[derive(Clone)]
struct Notes;

impl rust_svc_tests::unannotated::tests::unannotated::Notes for Notes {
    async fn echo(
        &self,
        _: &rust_svc_runtime::Context,
        note: rust_svc_tests::unannotated::tests::unannotated::Note,
    ) -> Result<rust_svc_tests::unannotated::tests::unannotated::Note, rust_svc_runtime::Status>
    {
        Ok(note)
    }

    async fn echo_text(
        &self,
        _: &rust_svc_runtime::Context,
        note: rust_svc_tests::unannotated::tests::unannotated::Note,
    ) -> Result<rust_svc_tests::unannotated::tests::unannotated::Note, rust_svc_runtime::Status>
    {
        Ok(note)
    }

    async fn quiet(
        &self,
        _: &rust_svc_runtime::Context,
        note: rust_svc_tests::unannotated::tests::unannotated::Note,
    ) -> Result<rust_svc_tests::unannotated::tests::unannotated::Note, rust_svc_runtime::Status>
    {
        Ok(note)
    }
}

#[tokio::test]
async fn a_service_without_annotations_is_routed_by_its_grpc_api_configuration() {
    // grpc-gateway's UnannotatedEchoService, routed by a google.api.Service YAML file
    // (tests/protos/http/unannotated.yaml, given to the generator as `grpc_api_configuration`).
    let router = rust_svc_tests::unannotated::tests::unannotated::NotesGateway::router(Notes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let json = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{response:?}");
        response.json::<Value>().await.unwrap()
    };
    assert_eq!(
        json(
            http.post(format!("{base}/v1/notes/n1"))
                .json(&json!({"text": "hi", "num": "3"}))
        )
        .await,
        json!({"id": "n1", "num": "3", "text": "hi"})
    );
    assert_eq!(
        json(http.get(format!("{base}/v1/notes/n2/7?text=q"))).await,
        json!({"id": "n2", "num": "7", "text": "q"})
    );
    let search = reqwest::Method::from_bytes(b"SEARCH").unwrap();
    assert_eq!(
        json(http.request(search, format!("{base}/v1/notes?id=n3"))).await,
        json!({"id": "n3"})
    );
    // A DELETE with a body (`allow_delete_body=true`, as grpc-gateway allows it).
    assert_eq!(
        json(
            http.delete(format!("{base}/v1/notes/n5"))
                .json(&json!("gone"))
        )
        .await,
        json!({"id": "n5", "text": "gone"})
    );
    // The rpc the file leaves out, on its gRPC path (`generate_unbound_methods`), the request
    // as the body.
    assert_eq!(
        json(
            http.post(format!("{base}/tests.unannotated.Notes/Quiet"))
                .json(&json!({"id": "q", "num": "1"}))
        )
        .await,
        json!({"id": "q", "num": "1"})
    );
    // `responseBody` (lowerCamelCase in the file) sends the field alone.
    assert_eq!(
        json(http.get(format!("{base}/v1/notes/n4:text?text=alone"))).await,
        json!("alone")
    );
}
