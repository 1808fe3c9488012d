//! A `retry` policy of an rpc's own where the client never retries it (not idempotent and no
//! idempotency key, or a client or bidi stream) is a generation error naming the file, the line
//! of the option, the rpc and the fix (tests/protos/invalid/retry_*.proto). An inherited service
//! policy is fine, and the client's docs then say "never retried" without listing attempts.

use protoc_gen_rust_svc::Builder;

use crate::common::root;

fn generate(file: &str) -> Result<Vec<protoc_gen_rust_svc::GeneratedFile>, String> {
    let root = root();
    Builder::new()
        .include(root.join("tests/protos"))
        .include(root.join("proto"))
        .file(root.join("tests/protos").join(file))
        .generate()
        .map_err(|error| error.to_string())
}

#[test]
fn own_retry_on_an_rpc_never_retried_is_an_error_naming_the_fix() {
    let cases = [
        (
            "retry_not_retried",
            23,
            "NotIdempotent.Create",
            "mark it `option idempotency_level = IDEMPOTENT;` (or NO_SIDE_EFFECTS) if repeating \
             it is safe, or add a `(rust_svc.v1.idempotency_key)` field to \
             tests.invalid.retry_not_retried.Req",
        ),
        (
            "retry_client_stream",
            19,
            "Upload.Send",
            "a request stream is sent again only when the method is declared \
             `option idempotency_level = IDEMPOTENT;` (or NO_SIDE_EFFECTS)",
        ),
        (
            "retry_bidi_stream",
            16,
            "Chat.Talk",
            "a request stream is sent again only",
        ),
    ];
    for (name, line, rpc, fix) in cases {
        let error = generate(&format!("invalid/{name}.proto")).expect_err(name);
        let place = format!("invalid/{name}.proto:{line}");
        assert!(
            error.contains(&place),
            "{name}: expected `{place}` in: {error}"
        );
        let element = format!("rpc tests.invalid.{name}.{rpc}: retry is set");
        assert!(
            error.contains(&element),
            "{name}: expected `{element}` in: {error}"
        );
        assert!(error.contains(fix), "{name}: expected `{fix}` in: {error}");
    }
}

#[test]
fn inherited_retry_on_an_rpc_never_retried_is_documented_as_never_retried() {
    let files = generate("resilience.proto").expect("resilience.proto generates");
    let svc = files
        .iter()
        .find(|file| file.name.ends_with(".svc.rs"))
        .expect("a .svc.rs file");
    let never: Vec<&str> = svc
        .content
        .lines()
        .filter(|line| line.contains("; never retried ("))
        .collect();
    // The service's policy (4 attempts) reaches these rpcs, but they never use it.
    assert!(!never.is_empty(), "{}", svc.content);
    for line in never {
        assert!(!line.contains("attempts"), "{line}");
    }
    // Rpcs that are retried still list theirs.
    assert!(
        svc.content
            .contains("retried (no side effects); up to 4 attempts on UNAVAILABLE"),
        "{}",
        svc.content
    );
}

#[test]
fn load_shedding_options_that_cannot_work_are_errors_at_their_line() {
    let cases = [
        (
            "shedding_bounds",
            13,
            "service tests.invalid.shedding_bounds.Crossed",
            "load_shedding.min_limit (50) is above max_limit (40)",
        ),
        (
            "shedding_method_limit",
            13,
            "rpc tests.invalid.shedding_method_limit.Own.Get",
            "load_shedding on a method may only set `disabled`",
        ),
    ];
    for (name, line, element, message) in cases {
        let error = generate(&format!("invalid/{name}.proto")).expect_err(name);
        for expected in [&format!("invalid/{name}.proto:{line}"), element, message] {
            assert!(
                error.contains(expected),
                "{name}: expected `{expected}` in: {error}"
            );
        }
    }
}
