//! Code generated with `default_stubs`, `type_attribute`, `field_attribute` and
//! `reject_unknown_fields` (the module `with_options`, tests/build.rs) compiles and behaves: an
//! implementation of one method serves it and answers the others UNIMPLEMENTED, as the stub
//! would, and its JSON refuses fields its messages do not have.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::stream;
use rust_svc_runtime::{Code, Context, Status};
use rust_svc_tests::with_options::tests::streaming::{
    DynStreaming, Ping, Pong, Streaming, StreamingGrpc, UnimplementedStreaming,
};
use serde_json::json;

/// Implements `unary` only: the other methods are the trait's defaults.
struct UnaryOnly;

impl Streaming for UnaryOnly {
    async fn unary(&self, _ctx: &Context, request: Ping) -> Result<Pong, Status> {
        Ok(Pong {
            seq: request.seq + 1,
        })
    }
}

/// The message of an UNIMPLEMENTED status, checking the code.
fn unimplemented<T>(result: Result<T, Status>) -> String {
    match result {
        Ok(_) => panic!("expected UNIMPLEMENTED, got a response"),
        Err(status) => {
            assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
            status.message().to_owned()
        }
    }
}

fn pings() -> rust_svc_runtime::BoxStream<Ping> {
    Box::pin(stream::iter([Ok(Ping { seq: 1 })]))
}

#[tokio::test]
async fn a_partial_implementation_serves_its_method_and_defaults_the_rest_like_the_stub() {
    let ctx = Context::new();
    let stub = UnimplementedStreaming;
    let harness = StreamingGrpc::serve_in_memory(UnaryOnly);
    let client = harness.client();

    assert_eq!(client.unary(&ctx, Ping { seq: 41 }).await.unwrap().seq, 42);
    // Over the wire and in process, each default answers with the stub's text.
    let expected = [
        unimplemented(stub.server_stream(&ctx, Ping { seq: 1 }).await),
        unimplemented(stub.client_stream(&ctx, pings()).await),
        unimplemented(stub.bidi(&ctx, pings()).await),
    ];
    assert_eq!(
        expected[0],
        "tests.streaming.Streaming/ServerStream is not implemented"
    );
    let in_process = [
        unimplemented(UnaryOnly.server_stream(&ctx, Ping { seq: 1 }).await),
        unimplemented(UnaryOnly.client_stream(&ctx, pings()).await),
        unimplemented(UnaryOnly.bidi(&ctx, pings()).await),
    ];
    assert_eq!(in_process, expected);
    let over_the_wire = [
        unimplemented(client.server_stream(&ctx, Ping { seq: 1 }).await),
        unimplemented(client.client_stream(&ctx, pings()).await),
        unimplemented(client.bidi(&ctx, pings()).await),
    ];
    assert_eq!(over_the_wire, expected);

    // The object-safe companion carries the defaults too.
    let shared: Arc<dyn DynStreaming> = Arc::new(UnaryOnly);
    assert_eq!(
        unimplemented(shared.dyn_server_stream(&ctx, Ping { seq: 1 }).await),
        expected[0]
    );
    assert_eq!(shared.unary(&ctx, Ping { seq: 1 }).await.unwrap().seq, 2);
}

#[test]
fn type_attributes_reach_the_messages() {
    // `#[derive(PartialOrd, Ord)]` on Ping only: ordered sets of it compile.
    let set: BTreeSet<Ping> = [3, 1, 2].into_iter().map(|seq| Ping { seq }).collect();
    let order: Vec<u64> = set.into_iter().map(|ping| ping.seq).collect();
    assert_eq!(order, [1, 2, 3]);
}

#[test]
fn unknown_json_fields_are_skipped_by_default_and_refused_when_asked() {
    // The main module: the default, as grpc-gateway and the Envoy transcoder read JSON.
    let skipped: rust_svc_tests::tests::streaming::Ping =
        serde_json::from_str(r#"{"colour": "red", "seq": "7", "zebra": {"a": [1]}}"#).unwrap();
    assert_eq!(skipped.seq, 7);
    // `reject_unknown_fields`: the first unknown field in document order.
    let error = serde_json::from_str::<Ping>(r#"{"seq": "7", "zebra": 1, "colour": "red"}"#)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("unknown field `zebra`"), "{error}");
}

#[test]
fn use_proto_names_writes_proto_names_and_reads_both() {
    use rust_svc_tests::proto_names::tests::gateway::Everything;

    // protojson's UseProtoNames (with EmitUnpopulated, as grpc-gateway users often set both):
    // `unsigned_big`, not `unsignedBig`; a field with a json_name of its own under its proto
    // name; floats still in proto3 JSON's form.
    let everything = Everything {
        unsigned_big: 7,
        renamed: "r".to_owned(),
        ratio: f64::NAN,
        ..Everything::default()
    };
    let json = serde_json::to_value(&everything).unwrap();
    let object = json.as_object().unwrap();
    for (key, value) in [
        ("unsigned_big", json!("7")),
        ("renamed", json!("r")),
        ("ratio", json!("NaN")),
        ("maybe_big", json!(null)),
        ("inners", json!([])),
    ] {
        assert_eq!(object.get(key), Some(&value), "{key} in {json}");
    }
    for absent in ["unsignedBig", "otherName", "maybeBig", "maybe_note"] {
        assert!(!object.contains_key(absent), "{absent} in {json}");
    }
    // Either name reads.
    for body in [
        json!({"unsigned_big": "7", "renamed": "r"}),
        json!({"unsignedBig": "7", "otherName": "r"}),
    ] {
        let read: Everything = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            (read.unsigned_big, read.renamed.as_str()),
            (7, "r"),
            "{body}"
        );
    }
}

#[test]
fn use_enum_numbers_writes_numbers_and_reads_names_and_numbers() {
    use rust_svc_tests::proto_names::tests::gateway::{Colour, Everything};

    // protojson's UseEnumNumbers: a singular and a repeated enum field as numbers, one the enum
    // has no value for too; the default value written as 0 (EmitUnpopulated).
    let everything = Everything {
        colour: Colour::Green as i32,
        colours: vec![Colour::Red as i32, 7],
        ..Everything::default()
    };
    let json = serde_json::to_value(&everything).unwrap();
    assert_eq!(json["colour"], json!(2), "{json}");
    assert_eq!(json["colours"], json!([1, 7]), "{json}");
    let unset = serde_json::to_value(Everything::default()).unwrap();
    assert_eq!(unset["colour"], json!(0), "{unset}");
    // Names and numbers read alike, and a name the enum lacks is skipped as before.
    for body in [
        json!({"colour": "COLOUR_GREEN", "colours": ["COLOUR_RED", 7]}),
        json!({"colour": 2, "colours": [1, "COLOUR_BLUE", 7]}),
    ] {
        let read: Everything = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            (read.colour, read.colours.as_slice()),
            (2, &[1, 7][..]),
            "{body}"
        );
    }
}

#[test]
fn emit_unpopulated_writes_every_field_as_grpc_gateways_default_marshaler_does() {
    use rust_svc_tests::emit_unpopulated::tests::gateway::{Everything, Inner, everything};

    // protojson's EmitUnpopulated: every field at its default value, an unset message field
    // (well-known types included) as `null`; an unset oneof and an unset `optional` field
    // are still left out.
    let json = serde_json::to_value(Everything::default()).unwrap();
    let object = json.as_object().unwrap();
    for (key, value) in [
        ("id", json!("")),
        ("small", json!(0)),
        ("big", json!("0")),
        ("unsignedBig", json!("0")),
        ("flag", json!(false)),
        ("blob", json!("")),
        ("colour", json!("COLOUR_UNSPECIFIED")),
        ("tags", json!([])),
        ("inner", json!(null)),
        ("labels", json!({})),
        ("at", json!(null)),
        ("maybeBig", json!(null)),
        ("anything", json!(null)),
        ("otherName", json!("")),
        ("inners", json!([])),
    ] {
        assert_eq!(object.get(key), Some(&value), "{key} in {json}");
    }
    assert_eq!(object["ratio"].as_f64(), Some(0.0), "{json}");
    for absent in ["choiceText", "choiceNumber", "maybeNote"] {
        assert!(!object.contains_key(absent), "{absent} in {json}");
    }
    // Set fields are written as without the parameter, and the JSON reads back.
    let set = Everything {
        small: 7,
        inner: Some(Inner {
            label: "x".to_owned(),
            ..Inner::default()
        }),
        choice: Some(everything::Choice::ChoiceNumber(0)),
        maybe_note: Some(String::new()),
        ..Everything::default()
    };
    let json = serde_json::to_value(&set).unwrap();
    assert_eq!(json["small"], json!(7));
    assert_eq!(
        json["inner"],
        json!({"label": "x", "count": 0, "leaf": null})
    );
    assert_eq!(json["choiceNumber"], json!(0));
    assert_eq!(json["maybeNote"], json!(""));
    // Read back, the same message; but for an unset `google.protobuf.Value`, whose `null`
    // reads as the null value, as protojson reads it.
    let back: Everything = serde_json::from_value(json).unwrap();
    assert!(back.anything.is_some(), "{back:?}");
    assert_eq!(
        Everything {
            anything: None,
            ..back
        },
        set
    );
}

#[test]
fn emit_unpopulated_writes_unset_proto2_optional_fields_as_null_as_protojson_does() {
    use rust_svc_tests::emit_unpopulated::tests::proto2::{Request, Response, request};

    // protojson's EmitUnpopulated skips only oneof members (a proto3 `optional` field's
    // synthetic oneof included): a proto2 `optional` field without a value is `null`, whatever
    // its type's form (a plain number, an enum by name, a float, base64).
    assert_eq!(
        serde_json::to_value(Request::default()).unwrap(),
        json!({
            "id": "",
            "limit": null,
            "locale": null,
            "mode": null,
            "tags": [],
            "verbose": null,
        })
    );
    assert_eq!(
        serde_json::to_value(Response::default()).unwrap(),
        json!({"id": "", "score": null, "blob": null})
    );
    let set = Response {
        id: "r".to_owned(),
        score: Some(f64::INFINITY),
        blob: Some(vec![1]),
    };
    assert_eq!(
        serde_json::to_value(&set).unwrap(),
        json!({"id": "r", "score": "Infinity", "blob": "AQ=="})
    );
    let request = Request {
        mode: Some(request::Mode::Thorough as i32),
        ..Request::default()
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap()["mode"],
        "MODE_THOROUGH"
    );
    // And it reads back, `null` as unset.
    let back: Request = serde_json::from_value(serde_json::to_value(&request).unwrap()).unwrap();
    assert_eq!(back, request);
}
