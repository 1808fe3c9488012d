//! The REST gateway end to end, request and response bodies: `body: "*"`, `body: "field"`, a
//! path variable inside the body field, every well-known type in a JSON body, `response_body`
//! and `Empty`, over real HTTP/1.1 on loopback against an echoing domain.

use rust_svc_runtime::Code;
use serde_json::json;

use crate::gateway_common::serve;

#[tokio::test]
async fn the_whole_body_with_every_well_known_type_round_trips() {
    let served = serve().await;
    let sent = json!({
        "id": "new",
        "small": 1,
        "big": "-12",
        "unsignedBig": "13",
        "ratio": 0.5,
        "weight": 1.25,
        "flag": true,
        "blob": "++//",
        "colour": "COLOUR_GREEN",
        "tags": ["x", "y"],
        "colours": ["COLOUR_RED", "COLOUR_GREEN"],
        "inner": {"label": "in", "count": 2, "leaf": {"note": "deep"}},
        "labels": {"k": "v"},
        "counters": {"5": "6"},
        "wait": "-1.500s",
        "mask": "inner.label,unsignedBig",
        "maybeBig": "7",
        "maybeName": "",
        "maybeFlag": false,
        "extra": {"a": 1.5, "b": [true, null, "x"], "c": {"d": "e"}},
        "anything": [2.5, "two", {"three": false}],
        "choiceText": "t",
        "maybeNote": "",
        "otherName": "o",
        "inners": [{"label": "a", "count": 1}, {"leaf": {"note": "n"}}],
        "maybeRatio": 0.75,
        "maybeBlob": "AQI=",
    });
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(reply.ok_json(), sent);
    served.domain.last("create_everything");
}

#[tokio::test]
async fn whole_numbers_written_as_floats_are_read_as_integers() {
    // As protobuf-go's protojson (under grpc-gateway) and C++ (under the Envoy transcoder) read
    // them, which the protobuf conformance suite requires: Python's `json.dumps(2.0)` is `2.0`.
    let served = serve().await;
    let sent = json!({"small": 1e5, "big": 2.0, "unsignedBig": 4.294967295e9});
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(
        reply.ok_json(),
        json!({"small": 100000, "big": "2", "unsignedBig": "4294967295"})
    );
    // A fraction is still no integer.
    let reply = served
        .rest
        .json("POST", "/v1/everything", &json!({"small": 2.5}))
        .await;
    reply.error(400, Code::InvalidArgument, &["small"]);
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn an_enum_number_without_a_value_goes_through_as_a_number() {
    // A client (or, behind a proxy, a server) newer than these protos: proto3 enums are open,
    // and grpc-gateway's protojson passes such a number on and writes it back as one.
    let served = serve().await;
    let sent = json!({"colour": 9, "colours": ["COLOUR_RED", 40]});
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(reply.ok_json(), sent);
}

#[tokio::test]
async fn a_body_in_other_accepted_forms_is_written_canonically() {
    let served = serve().await;
    let sent = json!({
        // Proto names instead of JSON names.
        "unsigned_big": 13,
        "maybe_note": "x",
        "renamed": "r",
        "choice_number": 4,
        // Enums by number, 64-bit integers as numbers, URL-safe base64, a duration without
        // fraction, numbers as strings where proto3 JSON allows (a whole one as a float too).
        "colour": 1,
        "colours": [2, "COLOUR_RED"],
        "big": 42,
        "blob": "-_8",
        "wait": "2s",
        "mask": "inner.leaf.note,maybeBig",
        "maybe_big": 9,
        "small": "3",
        "inner": {"count": "2e0"},
    });
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(
        reply.ok_json(),
        json!({
            "unsignedBig": "13",
            "maybeNote": "x",
            "otherName": "r",
            "choiceNumber": 4,
            "colour": "COLOUR_RED",
            "colours": ["COLOUR_GREEN", "COLOUR_RED"],
            "big": "42",
            "blob": "+/8=",
            "wait": "2s",
            "mask": "inner.leaf.note,maybeBig",
            "maybeBig": "9",
            "small": 3,
            "inner": {"count": 2},
        })
    );
}

#[tokio::test]
async fn base64_with_line_breaks_is_read_as_protojson_reads_it() {
    // Go's base64 decoder, under protojson, skips `\r` and `\n`: MIME-style text as
    // `openssl base64` wraps it is accepted, in the body as in the query.
    let served = serve().await;
    let sent = json!({ "blob": "YWJj\r\nZGVm\n" });
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(reply.ok_json(), json!({ "blob": "YWJjZGVm" }));
    let reply = served
        .rest
        .get("/v1/everything/q?blob=YWJj%0D%0AZGVm")
        .await;
    assert_eq!(reply.ok_json(), json!({ "id": "q", "blob": "YWJjZGVm" }));
}

#[tokio::test]
async fn timestamps_in_the_body_are_read_with_offsets_and_written_z_normalized() {
    let served = serve().await;
    // proto3 JSON: "generated output will always be Z-normalized and uses 0, 3, 6 or 9
    // fractional digits. Offsets other than "Z" are also accepted."
    for (sent, written) in [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05.5+01:00", "2024-01-02T02:04:05.500Z"),
        (
            "2024-01-02T03:04:05.000001-00:30",
            "2024-01-02T03:34:05.000001Z",
        ),
    ] {
        let reply = served
            .rest
            .json("POST", "/v1/everything", &json!({"at": sent}))
            .await;
        assert_eq!(reply.ok_json(), json!({"at": written}), "{sent}");
    }
}

#[tokio::test]
async fn non_finite_floats_in_the_body_are_read_and_written_as_strings() {
    let served = serve().await;
    let sent = json!({"ratio": "NaN", "weight": "-Infinity", "maybeRatio": "Infinity"});
    let reply = served.rest.json("POST", "/v1/everything", &sent).await;
    assert_eq!(reply.ok_json(), sent);
}

#[tokio::test]
async fn a_json_null_for_a_value_field_is_the_null_value() {
    let served = serve().await;
    // proto3 JSON: `null` is the default of every field except google.protobuf.Value, where
    // it is `NullValue`: the field is set, and written back as `null`.
    let reply = served
        .rest
        .json(
            "POST",
            "/v1/everything",
            &json!({"anything": null, "extra": null}),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"anything": null}));
}

#[tokio::test]
async fn with_body_star_the_query_is_not_read() {
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "POST",
            "/v1/everything?small=9&tags=q",
            &json!({"small": 1}),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"small": 1}));
}

#[tokio::test]
async fn an_empty_body_is_an_empty_message() {
    let served = serve().await;
    let reply = served
        .rest
        .raw("POST", "/v1/everything", "application/json", Vec::new())
        .await;
    assert_eq!(reply.ok_json(), json!({}));
    // No Content-Type at all is read as JSON too.
    let reply = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/everything")
                .body(r#"{"id":"x"}"#),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "x"}));
}

#[tokio::test]
async fn the_path_overrides_the_same_field_in_a_whole_body() {
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "POST",
            "/v1/everything/abc:echo",
            &json!({"id": "from-body", "small": 3, "inner": {"label": "x"}}),
        )
        .await;
    assert_eq!(
        reply.ok_json(),
        json!({"id": "abc", "small": 3, "inner": {"label": "x"}})
    );
}

#[tokio::test]
async fn a_body_field_with_the_rest_from_path_and_query() {
    let served = serve().await;
    // `item.small` and `item.id` are under the body field, `id` is path-bound: the query
    // cannot set them. `validate_only` is neither, so it comes from the query.
    let reply = served
        .rest
        .json(
            "PUT",
            "/v1/everything/abc?validate_only=true&item.small=9&item.id=q&id=zzz",
            &json!({"small": 1, "id": "inner-id", "tags": ["t"]}),
        )
        .await;
    assert_eq!(
        reply.ok_json(),
        json!({
            "id": "abc",
            "item": {"small": 1, "id": "inner-id", "tags": ["t"]},
            "validateOnly": true,
        })
    );
    served.domain.last("put_everything");
    // No body: the body field is absent.
    let reply = served
        .rest
        .raw(
            "PUT",
            "/v1/everything/abc?validateOnly=1",
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "abc", "validateOnly": true}));
}

#[tokio::test]
async fn a_body_field_inside_a_field() {
    // `body: "item.inner"`: the body is the value of `item.inner` (Envoy's
    // request_message_translator_test NestedPrefix, grpc-gateway's nested body field path);
    // the query still sets what is outside it, even beside it in `item`, not inside it.
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "PUT",
            "/v1/everything/abc/inner?item.small=3&item.inner.count=9&validate_only=true",
            &json!({"label": "from-body", "leaf": {"note": "deep"}}),
        )
        .await;
    assert_eq!(
        reply.ok_json(),
        json!({
            "id": "abc",
            "item": {"small": 3, "inner": {"label": "from-body", "leaf": {"note": "deep"}}},
            "validateOnly": true,
        })
    );
    // An error inside the body is named from the body's own root, as for a top-level field.
    let reply = served
        .rest
        .json("PUT", "/v1/everything/abc/inner", &json!({"count": "many"}))
        .await;
    let error = reply.error(400, Code::InvalidArgument, &[]);
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("body field \"count\": "), "{message}");
    // No body: nothing of `item.inner` is set.
    let reply = served
        .rest
        .raw(
            "PUT",
            "/v1/everything/abc/inner",
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "abc"}));
}

#[tokio::test]
async fn a_path_variable_inside_the_body_field() {
    let served = serve().await;
    let reply = served
        .rest
        .json(
            "PATCH",
            "/v1/items/p1?validateOnly=true",
            &json!({"id": "from-body", "small": 2}),
        )
        .await;
    // The mask is what the body set, `id` included: the path's value overrides it.
    assert_eq!(
        reply.ok_json(),
        json!({"item": {"id": "p1", "small": 2}, "validateOnly": true, "updateMask": "id,small"})
    );
    let reply = served
        .rest
        .raw("PATCH", "/v1/items/p%2F2", "application/json", Vec::new())
        .await;
    assert_eq!(reply.ok_json(), json!({"item": {"id": "p/2"}}));
    served.domain.last("patch_everything");
}

#[tokio::test]
async fn a_patch_without_a_mask_updates_what_its_body_sets() {
    // grpc-gateway v2's default: proto names, nested objects as dotted paths, lists and maps
    // as a whole, sorted.
    let served = serve().await;
    let body = json!({
        "small": 2,
        "unsignedBig": "5",
        "inner": {"label": "x", "leaf": {}},
        "tags": ["a"],
        "labels": {"k": "v"},
    });
    let reply = served.rest.json("PATCH", "/v1/items/p1", &body).await;
    assert_eq!(
        reply.ok_json()["updateMask"],
        "inner.label,inner.leaf,labels,small,tags,unsignedBig"
    );
    // An explicit mask is kept, from the query under either name.
    for query in ["updateMask=small", "update_mask=small"] {
        let reply = served
            .rest
            .json("PATCH", &format!("/v1/items/p1?{query}"), &body)
            .await;
        assert_eq!(reply.ok_json()["updateMask"], "small", "{query}");
    }
    // Only PATCH: the same body by PUT leaves the mask empty.
    let reply = served.rest.json("PUT", "/v1/everything/p1", &body).await;
    assert!(reply.ok_json().get("updateMask").is_none());
    // A key the message does not have can name no path: 400, as grpc-gateway answers.
    let reply = served
        .rest
        .json("PATCH", "/v1/items/p1", &json!({"small": 1, "nope": 2}))
        .await;
    reply.error(
        400,
        rust_svc_runtime::Code::InvalidArgument,
        &["cannot build the update mask", "`nope`"],
    );
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn response_body_sends_the_field_alone() {
    let served = serve().await;
    let reply = served.rest.get("/v1/everything?small=3&tags=a").await;
    // The page token is not in the body: only `items` is.
    assert_eq!(
        reply.ok_json(),
        json!([{"small": 3, "tags": ["a"]}, {"id": "second"}])
    );
    served.domain.last("list_everything");
    // A field inside a field (`response_body: "inner.leaf"`, a path as grpc-gateway resolves
    // one); with its parent unset, the field's default.
    let reply = served
        .rest
        .get("/v1/everything/abc/leaf?inner.leaf.note=deep&inner.label=x")
        .await;
    assert_eq!(reply.ok_json(), json!({"note": "deep"}));
    let reply = served.rest.get("/v1/everything/abc/leaf").await;
    assert_eq!(reply.ok_json(), json!({}));
}

#[tokio::test]
async fn an_empty_response_is_an_empty_object() {
    let served = serve().await;
    let reply = served
        .rest
        .send(served.rest.request("DELETE", "/v1/everything/abc"))
        .await;
    assert_eq!(reply.ok_json(), json!({}));
    assert_eq!(reply.text, "{}");
    served.domain.last("delete_everything");
}

#[tokio::test]
async fn json_content_types_with_parameters_and_suffixes_are_accepted() {
    let served = serve().await;
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let reply = served
            .rest
            .raw(
                "POST",
                "/v1/everything",
                content_type,
                br#"{"id":"c"}"#.to_vec(),
            )
            .await;
        assert_eq!(reply.ok_json(), json!({"id": "c"}), "{content_type}");
    }
}

#[tokio::test]
async fn binary_protobuf_bodies_and_answers_beside_json() {
    use prost::Message;
    use rust_svc_tests::tests::gateway::{Everything, Inner};

    let served = serve().await;
    let sent = Everything {
        id: "bin".to_owned(),
        small: 7,
        tags: vec!["a".to_owned()],
        inner: Some(Inner {
            label: "x".to_owned(),
            ..Inner::default()
        }),
        ..Everything::default()
    };
    for content_type in ["application/protobuf", "application/x-protobuf"] {
        // Encoded both ways.
        let request = served
            .rest
            .request("POST", "/v1/everything")
            .header("content-type", content_type)
            .header("accept", "application/protobuf")
            .body(sent.encode_to_vec());
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/protobuf",
            "{content_type}"
        );
        let bytes = response.bytes().await.unwrap();
        assert_eq!(Everything::decode(bytes).unwrap(), sent, "{content_type}");
        // Encoded in, JSON out: `Accept` says nothing of protobuf.
        let reply = served
            .rest
            .raw("POST", "/v1/everything", content_type, sent.encode_to_vec())
            .await;
        assert_eq!(
            reply.ok_json(),
            json!({"id": "bin", "small": 7, "tags": ["a"], "inner": {"label": "x"}})
        );
    }
    // JSON in, encoded out.
    let request = served
        .rest
        .request("POST", "/v1/everything")
        .header("accept", "application/x-protobuf, application/json")
        .json(&json!({"id": "j", "small": 2}));
    let bytes = request.send().await.unwrap().bytes().await.unwrap();
    let answered = Everything::decode(bytes).unwrap();
    assert_eq!((answered.id.as_str(), answered.small), ("j", 2));
    // Bytes that are no message are a 400; a body that is one field of the request is JSON
    // only (the route knows no field numbers): a 415 that says so.
    let reply = served
        .rest
        .raw(
            "POST",
            "/v1/everything",
            "application/protobuf",
            vec![0xff, 0xff],
        )
        .await;
    reply.error(
        400,
        rust_svc_runtime::Code::InvalidArgument,
        &["not a protobuf message"],
    );
    let reply = served
        .rest
        .raw(
            "PUT",
            "/v1/everything/p1",
            "application/protobuf",
            sent.encode_to_vec(),
        )
        .await;
    reply.error(
        415,
        rust_svc_runtime::Code::InvalidArgument,
        &["`item`", "JSON"],
    );
    served.rest.assert_serving().await;
}

#[tokio::test]
async fn head_is_get_without_the_content_over_http1_and_http2() {
    // RFC 9110 9.3.2: `curl -I` and uptime checks send HEAD. Over HTTP/2 a HEAD response with
    // content is a protocol error that resets the stream (RFC 9113 8.1.1).
    let served = crate::gateway_common::serve().await;
    let h2 = crate::gateway_common::Rest::with_client(
        &served.harness,
        reqwest::Client::builder().http2_prior_knowledge(),
    );
    for rest in [&served.rest, &h2] {
        let get = rest.get("/v1/everything/abc").await;
        let head = rest.send(rest.request("HEAD", "/v1/everything/abc")).await;
        assert_eq!(head.status, 200, "{head:?}");
        assert_eq!(head.text, "");
        assert_eq!(head.header("content-type"), get.header("content-type"));
        assert_eq!(
            head.header("content-length"),
            Some(get.text.len().to_string().as_str())
        );
        let missing = rest.send(rest.request("HEAD", "/v1/nowhere")).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.text, "");
    }
}
