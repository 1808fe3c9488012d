//! The header rules, both ways.

use std::time::Duration;

use super::*;
use crate::ResponseMetadata;
use crate::rpc::MethodKind;

/// The rpc the gateway calls in these tests.
static RPC: MethodInfo = MethodInfo::new("/test.Svc/Get", MethodKind::Unary);
static ROUTE: crate::rpc::HttpBinding = crate::rpc::HttpBinding::new("GET", "/v1/get");

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    headers
}

#[test]
fn forwards_the_call_headers_under_their_own_names() {
    let ctx = context_from_headers(
        &headers(&[
            ("Authorization", b"Bearer t0ken"),
            ("X-Request-Id", b"req-1"),
            (
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", b"vendor=1"),
            ("content-type", b"application/json"),
            ("user-agent", b"curl/8"),
            ("x-forwarded-for", b"10.0.0.1"),
        ]),
        None,
    )
    .unwrap();
    let metadata = ctx.metadata();
    assert_eq!(metadata.get("authorization").unwrap(), "Bearer t0ken");
    assert_eq!(metadata.get("x-request-id").unwrap(), "req-1");
    assert_eq!(metadata.get("tracestate").unwrap(), "vendor=1");
    assert!(metadata.get("traceparent").is_some());
    // grpc-gateway's permanent headers, prefixed; `authorization` both ways, as there.
    assert_eq!(
        metadata.get("grpcgateway-authorization").unwrap(),
        "Bearer t0ken"
    );
    assert_eq!(
        metadata.get("grpcgateway-content-type").unwrap(),
        "application/json"
    );
    assert_eq!(metadata.get("grpcgateway-user-agent").unwrap(), "curl/8");
    // `x-forwarded-for` is only passed on with the peer's address added (see below).
    assert_eq!(metadata.len(), 7, "{metadata:?}");
}

#[test]
fn forwarded_host_and_for_as_grpc_gateway_adds_them() {
    let peer: SocketAddr = "192.0.2.7:4711".parse().unwrap();
    let ctx = context_from_headers(
        &headers(&[("host", b"api.example"), ("x-forwarded-for", b"10.0.0.1")]),
        Some(peer),
    )
    .unwrap();
    let metadata = ctx.metadata();
    assert_eq!(metadata.get("x-forwarded-host").unwrap(), "api.example");
    assert_eq!(
        metadata.get("x-forwarded-for").unwrap(),
        "10.0.0.1, 192.0.2.7"
    );
    let ctx = context_from_headers(
        &headers(&[
            ("host", b"api.example"),
            ("x-forwarded-host", b"front.example"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(
        ctx.metadata().get("x-forwarded-host").unwrap(),
        "front.example"
    );
    assert!(ctx.metadata().get("x-forwarded-for").is_none());
    // Several lines: all of them, in order, then the peer.
    let ctx = context_from_headers(
        &headers(&[
            ("x-forwarded-for", b"192.0.2.100"),
            ("x-forwarded-for", b""),
            ("x-forwarded-for", b"192.0.2.101, 192.0.2.102"),
        ]),
        Some(peer),
    )
    .unwrap();
    assert_eq!(
        ctx.metadata().get("x-forwarded-for").unwrap(),
        "192.0.2.100, 192.0.2.101, 192.0.2.102, 192.0.2.7"
    );
}

#[test]
fn rules_replace_the_mapping_both_ways() {
    let rules = HeaderRules::new()
        .incoming(|name| name.strip_prefix("x-app-").map(str::to_owned))
        .outgoing(|key| Some(format!("x-out-{key}")))
        .outgoing_trailers(|key| (key != "secret").then(|| format!("x-end-{key}")));
    let ctx = rules
        .context(
            &headers(&[
                ("x-app-tenant", b"acme"),
                ("grpc-metadata-ignored", b"x"),
                ("authorization", b"Bearer t"),
                ("x-app-grpc-status", b"0"),
            ]),
            None,
        )
        .unwrap();
    let metadata = ctx.metadata();
    assert_eq!(metadata.get("tenant").unwrap(), "acme");
    // `authorization` is passed on whatever the rule says, as grpc-gateway does; a key in
    // gRPC's namespace never is.
    assert_eq!(metadata.get("authorization").unwrap(), "Bearer t");
    assert_eq!(metadata.len(), 2, "{metadata:?}");

    let response = ResponseMetadata::default();
    response.headers().insert("tenant", "acme".parse().unwrap());
    response.trailers().insert("count", "3".parse().unwrap());
    response.trailers().insert("secret", "s".parse().unwrap());
    let mut written = HeaderMap::new();
    rules.write_response_metadata(&response, &mut written);
    assert_eq!(written.get("x-out-tenant").unwrap(), "acme");
    assert_eq!(written.get("x-end-count").unwrap(), "3");
    assert_eq!(written.len(), 2, "{written:?}");
    // No rule writes HTTP's framing headers.
    let framing = HeaderRules::new().outgoing(|_| Some("content-length".to_owned()));
    let mut written = HeaderMap::new();
    framing.write_response_metadata(&response, &mut written);
    assert!(written.get("content-length").is_none());
    // The defaults: `Grpc-Metadata-` and `Grpc-Trailer-`.
    let mut written = HeaderMap::new();
    HeaderRules::new().write_response_metadata(&response, &mut written);
    assert_eq!(written.get("grpc-metadata-tenant").unwrap(), "acme");
    assert_eq!(written.get("grpc-trailer-count").unwrap(), "3");
}

#[test]
fn grpc_metadata_headers_become_metadata_without_the_prefix() {
    let ctx = context_from_headers(
        &headers(&[
            ("Grpc-Metadata-Tenant", b"acme"),
            ("grpc-metadata-tenant", b"other"),
            ("Grpc-Metadata-Trace-Bin", b"AAEC"),
            ("Grpc-Metadata-Blob-Bin", b"AAECAw"),
        ]),
        None,
    )
    .unwrap();
    let metadata = ctx.metadata();
    let tenants: Vec<_> = metadata.get_all("tenant").iter().collect();
    assert_eq!(tenants, ["acme", "other"]);
    let trace = metadata.get_bin("trace-bin").unwrap().to_bytes().unwrap();
    assert_eq!(&trace[..], [0, 1, 2]);
    // Unpadded base64 is accepted, as grpc-gateway's decodeBinHeader does.
    let blob = metadata.get_bin("blob-bin").unwrap().to_bytes().unwrap();
    assert_eq!(&blob[..], [0, 1, 2, 3]);
}

#[test]
fn a_binary_header_that_is_not_base64_is_an_invalid_argument_naming_it() {
    let status =
        context_from_headers(&headers(&[("Grpc-Metadata-Trace-Bin", b"!!!")]), None).unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("grpc-metadata-trace-bin"),
        "{}",
        status.message()
    );
}

#[test]
fn skips_what_is_not_valid_text_metadata_or_is_reserved() {
    let ctx = context_from_headers(
        &headers(&[
            ("grpc-metadata-", b"empty key"),
            ("grpc-metadata-grpc-status", b"0"),
            ("grpc-metadata-latin", b"caf\xe9"),
            ("authorization", b"caf\xe9"),
            ("grpc-metadata-ok", b"fine value"),
        ]),
        None,
    )
    .unwrap();
    let metadata = ctx.metadata();
    assert_eq!(metadata.len(), 1, "{metadata:?}");
    assert_eq!(metadata.get("ok").unwrap(), "fine value");
}

#[tokio::test(start_paused = true)]
async fn grpc_timeout_sets_the_deadline() {
    let ctx = context_from_headers(&headers(&[("Grpc-Timeout", b"250m")]), None).unwrap();
    assert_eq!(ctx.remaining(), Some(Duration::from_millis(250)));
    let ctx = context_from_headers(&headers(&[]), None).unwrap();
    assert_eq!(ctx.deadline(), None);
    // grpc-gateway's TestAnnotateContext_SupportsTimeouts: Go's ParseInt takes any number of
    // digits (gRPC allows eight), and an empty header is no timeout.
    for (value, timeout) in [
        (&b"17H"[..], Duration::from_secs(17 * 3600)),
        (b"1000003u", Duration::from_micros(1_000_003)),
        (b"100000007n", Duration::from_nanos(100_000_007)),
        (b"+5S", Duration::from_secs(5)),
    ] {
        let ctx = context_from_headers(&headers(&[("Grpc-Timeout", value)]), None).unwrap();
        assert_eq!(ctx.remaining(), Some(timeout), "{value:?}");
    }
    let ctx = context_from_headers(&headers(&[("Grpc-Timeout", b"")]), None).unwrap();
    assert_eq!(ctx.deadline(), None);
    // Longer than an `Instant` can hold: no deadline, as for a gRPC call.
    let ctx = context_from_headers(
        &headers(&[("Grpc-Timeout", b"99999999999999999999H")]),
        None,
    )
    .unwrap();
    assert_eq!(ctx.deadline(), None);
}

#[test]
fn a_malformed_grpc_timeout_is_an_invalid_argument_naming_the_header() {
    for bad in [&b"soon"[..], b"10", b"1.5S", b"-1S", b"+S", b"5s"] {
        let status = context_from_headers(&headers(&[("grpc-timeout", bad)]), None).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("grpc-timeout"),
            "{}",
            status.message()
        );
    }
}

#[test]
fn the_peer_address_is_kept() {
    let peer: SocketAddr = "192.0.2.7:4711".parse().unwrap();
    let ctx = context_from_headers(&HeaderMap::new(), Some(peer)).unwrap();
    assert_eq!(ctx.peer_addr(), Some(peer));
    assert_eq!(ctx.metadata().get("x-forwarded-for").unwrap(), "192.0.2.7");
    assert_eq!(ctx.metadata().len(), 1);
}

#[test]
fn the_default_rule_made_in_advance_is_the_string_rule() {
    // Every name the default rule knows, and some it does not, through the names made once
    // and through `default_incoming` given as a rule of the user's.
    let mut pairs: Vec<(String, &[u8])> = PERMANENT_HEADERS
        .iter()
        .chain(FORWARDED_HEADERS)
        .map(|name| ((*name).to_owned(), &b"v1"[..]))
        .collect();
    pairs.extend([
        ("grpc-metadata-tenant".to_owned(), &b"acme"[..]),
        ("grpc-metadata-blob-bin".to_owned(), &b"AAEC"[..]),
        ("grpc-metadata-grpc-status".to_owned(), &b"0"[..]),
        ("grpc-metadata-".to_owned(), &b"empty key"[..]),
        ("x-tenant".to_owned(), &b"not passed"[..]),
        ("user-agent".to_owned(), &b"caf\xc3\xa9"[..]),
    ]);
    let pairs: Vec<(&str, &[u8])> = pairs.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let request = headers(&pairs);
    let made = HeaderRules::new().context(&request, None).unwrap();
    let asked = HeaderRules::new()
        .incoming(HeaderRules::default_incoming)
        .context(&request, None)
        .unwrap();
    let sorted = |ctx: &Context| {
        let mut all: Vec<String> = ctx
            .metadata()
            .as_ref()
            .iter()
            .map(|(name, value)| format!("{name}: {value:?}"))
            .collect();
        all.sort();
        all
    };
    assert_eq!(sorted(&made), sorted(&asked));
    assert!(
        sorted(&made).len() > PERMANENT_HEADERS.len(),
        "{:?}",
        sorted(&made)
    );
}

#[tokio::test(start_paused = true)]
async fn a_context_that_takes_the_headers_has_what_one_made_from_them_has() {
    let peer: SocketAddr = "10.1.2.3:5555".parse().unwrap();
    let sent = headers(&[
        ("Authorization", b"Bearer t0ken"),
        ("X-Request-Id", b"req-1"),
        ("grpc-metadata-tenant", b"acme"),
        ("grpc-metadata-blob-bin", b"AAEC"),
        ("grpc-timeout", b"250m"),
        ("host", b"api.example.com"),
        ("x-session", b"secret"),
    ]);
    let rules = HeaderRules::new();
    let made = rules.context(&sent, Some(peer)).unwrap();
    let taken = rules
        .context_taking(sent.clone(), Present::of(&sent), Some(peer), (&RPC, &ROUTE))
        .unwrap();
    assert_eq!(taken.deadline(), made.deadline());
    assert_eq!(taken.peer_addr(), Some(peer));
    assert_eq!(
        format!("{:?}", taken.metadata()),
        format!("{:?}", made.metadata())
    );

    // Without the binary header the metadata is made only when read, and is the same.
    let mut text_only = sent.clone();
    text_only.remove("grpc-metadata-blob-bin");
    let made = rules.context(&text_only, Some(peer)).unwrap();
    let present = Present::of(&text_only);
    let taken = rules
        .context_taking(text_only, present, Some(peer), (&RPC, &ROUTE))
        .unwrap();
    assert_eq!(taken.deadline(), made.deadline());
    assert_eq!(
        format!("{:?}", taken.metadata()),
        format!("{:?}", made.metadata())
    );
    assert_eq!(taken.metadata().get("tenant").unwrap(), "acme");
    assert!(taken.metadata().get("x-session").is_none());
}

#[test]
fn a_context_that_takes_the_headers_still_refuses_what_the_rules_refuse() {
    let rules = HeaderRules::new();
    let malformed = headers(&[("grpc-metadata-blob-bin", b"not base64!")]);
    assert_eq!(
        rules
            .context_taking(
                malformed.clone(),
                Present::of(&malformed),
                None,
                (&RPC, &ROUTE)
            )
            .unwrap_err()
            .code(),
        crate::Code::InvalidArgument
    );
    let timeout = headers(&[("grpc-timeout", b"soon")]);
    assert_eq!(
        rules
            .context_taking(timeout.clone(), Present::of(&timeout), None, (&RPC, &ROUTE))
            .unwrap_err()
            .code(),
        crate::Code::InvalidArgument
    );
    // Rules of the user's own are applied at once, whatever they map.
    let custom = HeaderRules::new().incoming(|name| (name == "x-tenant").then(|| "tenant".into()));
    let sent = headers(&[("x-tenant", b"acme")]);
    let ctx = custom
        .context_taking(sent.clone(), Present::of(&sent), None, (&RPC, &ROUTE))
        .unwrap();
    assert_eq!(ctx.metadata().get("tenant").unwrap(), "acme");
}

#[test]
fn peer_addresses_are_written_as_display_writes_them() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    let addresses = [
        IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)),
        IpAddr::V4(Ipv4Addr::new(10, 100, 9, 99)),
        IpAddr::V4(Ipv4Addr::new(1, 22, 133, 204)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)),
        "::ffff:192.0.2.1".parse().unwrap(),
    ];
    for ip in addresses {
        assert_eq!(super::ip_value(ip), ip.to_string().as_str(), "{ip}");
    }
    // Every octet value in every position.
    for position in 0..4 {
        for octet in 0..=255u8 {
            let mut octets = [10, 0, 99, 200];
            octets[position] = octet;
            let ip = IpAddr::V4(Ipv4Addr::from(octets));
            assert_eq!(super::ip_value(ip), ip.to_string().as_str(), "{ip}");
        }
    }
}
