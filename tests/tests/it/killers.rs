//! Generator killers from the prost and tonic trackers (tests/protos/misc.proto, big_enum.proto,
//! alias_default.proto, enum_case.proto, case_clash.proto, module_clash*.proto): that they compile is the first
//! test; these check they also behave.

use rust_svc_runtime::Context;
use rust_svc_tests::killers::alias::{Level, Setting};
use rust_svc_tests::killers::big::Huge;
use rust_svc_tests::killers::case_clash::{
    CaseClash, CaseClashGrpc, FakeCaseClash, Fb, Fb2, Mode, Mode2, fb_2,
};
use rust_svc_tests::killers::clash::outer::leaf::Bud;
use rust_svc_tests::killers::clash::outer::{FakeLeaves, Inner, Leaf, Leaves, LeavesGrpc};
use rust_svc_tests::killers::clash::{Clash, ClashGrpc, FakeClash, Outer};
use rust_svc_tests::killers::enum_case::holder::Mode as HolderMode;
use rust_svc_tests::killers::enum_case::{Flag, Holder};
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

/// `Fb` and `FB` (and `FLAG_BAR` and `BAR`) would be one variant; the later value gets a numbered
/// variant, while its proto name, which JSON and `from_str_name` use, stays as written.
#[test]
fn enum_values_differing_only_in_case_are_distinct_variants_with_their_proto_names() {
    let expected = [
        (Flag::Fb, 1, "Fb"),
        (Flag::Fb3, 2, "FB"),
        (Flag::Fb2, 3, "Fb2"),
        (Flag::Bar, 4, "FLAG_BAR"),
        (Flag::Bar2, 5, "BAR"),
    ];
    for (variant, number, proto_name) in expected {
        assert_eq!(variant as i32, number);
        assert_eq!(variant.as_str_name(), proto_name);
        assert_eq!(Flag::from_str_name(proto_name), Some(variant));
    }
    assert_eq!(
        Flag::from_str_name("FB_2"),
        None,
        "the stand-in name leaks nowhere"
    );
    assert_eq!(HolderMode::On2.as_str_name(), "ON");
    // Defaults naming the renamed values keep their numbers.
    let holder = Holder::default();
    assert_eq!((holder.flag(), holder.mode()), (Flag::Fb3, HolderMode::On2));
}

/// Package `killers.clash.outer` lives inside prost's module for `Outer`'s nested types: both
/// kinds of type are reachable under one path, and both packages' services serve.
#[tokio::test]
async fn a_sub_package_shares_the_module_of_a_nested_message() {
    let outer = Outer {
        inner: Some(Inner { name: "in".into() }),
        leaf: Some(Leaf {
            value: "leaf".into(),
            bud: Some(Bud { name: "bud".into() }),
        }),
    };
    let fake = FakeClash::new();
    fake.get
        .responds_with(|_, outer: Outer| Ok(outer.leaf.unwrap_or_default()));
    let harness = ClashGrpc::serve_in_memory(fake);
    let leaf = harness.client().get(&Context::new(), outer).await.unwrap();
    assert_eq!(leaf.bud.unwrap().name, "bud");

    let leaves = FakeLeaves::new();
    leaves.grow.responds_with(|_, leaf: Leaf| Ok(leaf));
    let harness = LeavesGrpc::serve_in_memory(leaves);
    let grown = harness
        .client()
        .grow(&Context::new(), Leaf::default())
        .await;
    assert_eq!(grown.unwrap(), Leaf::default());
}

/// `Fb` and `FB` (and `FB.Leaf` and `FB.LEAF`, `Mode` and `MODE`) would each be one Rust type;
/// the later one is numbered, each rpc takes and returns its own, and the proto name is what
/// JSON says.
#[tokio::test]
async fn types_differing_only_in_case_are_distinct_types_with_their_proto_names() {
    let fake = FakeCaseClash::new();
    fake.lower.responds_with(|_, request: Fb| {
        Ok(Fb2 {
            name: request.id,
            mode: Some(Mode2::ModeFast as i32),
            ..Default::default()
        })
    });
    fake.upper.responds_with(|_, request: Fb2| {
        Ok(Fb {
            id: request.name,
            mode: Some(Mode::On as i32),
            ..Default::default()
        })
    });
    fake.nested.responds_with(|_, inner: fb_2::Inner| {
        Ok(fb_2::Leaf2 {
            set: Some(inner.count() > 0),
        })
    });
    let harness = CaseClashGrpc::serve_in_memory(fake);
    let client = harness.client();
    let ctx = Context::new();
    let lower = Fb {
        id: Some("a".into()),
        ..Default::default()
    };
    let upper = client.lower(&ctx, lower).await.unwrap();
    assert_eq!((upper.name(), upper.mode()), ("a", Mode2::ModeFast));
    let back = client.upper(&ctx, upper).await.unwrap();
    assert_eq!((back.id(), back.mode()), ("a", Mode::On));
    let inner = fb_2::Inner { count: Some(1) };
    assert!(client.nested(&ctx, inner).await.unwrap().set());

    // The alias default is its number's first name, in the renamed enum.
    assert_eq!(Fb::default().upper_mode(), Mode2::ModeFast);
    assert_eq!(Mode2::ModeFast.as_str_name(), "MODE_FAST");
    // JSON names the proto's type, not the stand-in prost-build was given.
    let error = serde_json::from_str::<Fb2>("[]").unwrap_err().to_string();
    assert!(error.contains("struct killers.case_clash.FB"), "{error}");
    let error = serde_json::from_str::<fb_2::Leaf2>("[]")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("struct killers.case_clash.FB.LEAF"),
        "{error}"
    );
}
