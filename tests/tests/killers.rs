//! Generator killers from the prost and tonic trackers (tests/protos/misc.proto, big_enum.proto,
//! alias_default.proto): that they compile is the first test; these check they also behave.

use rust_svc_runtime::Context;
use rust_svc_tests::killers::alias::{Level, Setting};
use rust_svc_tests::killers::big::Huge;
use rust_svc_tests::killers::misc::{FakeThing2, Thing, Thing2, Thing2Grpc};

#[test]
fn an_alias_default_is_the_aliased_value() {
    assert_eq!(Setting::default().level(), Level::Low);
    assert_eq!(
        Level::from_str_name("MINIMAL"),
        None,
        "prost keeps the first name only"
    );
}

#[test]
fn a_large_enum_round_trips() {
    assert_eq!(Huge::try_from(1000), Ok(Huge::V1000));
    assert_eq!(Huge::V1000.as_str_name(), "HUGE_V1000");
}

/// `GetThing`, `Getthing` and `GETTHING` share a snake-case name; each must still reach its own
/// rpc over the wire, and `Connect` must not clash with tonic's constructor.
#[tokio::test]
async fn rpcs_differing_only_in_case_stay_distinct_over_http2() {
    let fake = FakeThing2::new();
    let thing = |id: &str| Thing { id: id.into() };
    fake.get_thing.returns(thing("GetThing"));
    fake.getthing.returns(thing("Getthing"));
    fake.getthing_2.returns(thing("GETTHING"));
    fake.connect_rpc.returns_default();
    let harness = Thing2Grpc::serve_in_memory(fake.clone());
    let client = harness.client();
    let ctx = Context::new();
    let answers = [
        client.get_thing(&ctx, thing("a")).await.unwrap().id,
        client.getthing(&ctx, thing("b")).await.unwrap().id,
        client.getthing_2(&ctx, thing("c")).await.unwrap().id,
    ];
    assert_eq!(answers, ["GetThing", "Getthing", "GETTHING"]);
    client.connect_rpc(&ctx, Default::default()).await.unwrap();
    assert_eq!(fake.connect_rpc.call_count(), 1);
}
