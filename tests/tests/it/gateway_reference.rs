//! The gateway against grpc-gateway v2 itself, case by case: seeded random query strings and
//! JSON bodies go to the generated gateway over HTTP/1.1 and to a Go program built on
//! grpc-gateway's `runtime.PopulateQueryParameters` (after Go's `url.ParseQuery`, as its
//! generated handlers call them) and on `protojson` with `DiscardUnknown` (grpc-gateway's
//! default marshaler). Both must refuse a case, or both decode it to the same message.
//!
//! The Go program is `tests/reference/grpc-gateway` (`.ci/run` builds it and names it in
//! `RUST_SVC_GRPC_GATEWAY_REFERENCE`). Without it the tests say so and pass, unless
//! `RUST_SVC_REQUIRE_GRPC_GATEWAY_REFERENCE=1` (CI) makes that a failure.
//!
//! Where the two differ on purpose, [`known_difference`] names the case and why; everything
//! else that differs fails the test, listing the cases.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use base64::Engine;
use serde_json::Value;

use crate::gateway_common::{Rest, serve};

mod cases;

use cases::{random_body, random_query};

/// What one side made of a case.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// The request message, as proto3 JSON.
    Decoded(Value),
    /// Refused, with this message.
    Refused(String),
}

/// The Go reference program, asked one case per line.
struct Reference {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// The descriptor set written for the program, removed with it.
    descriptors: std::path::PathBuf,
}

impl Reference {
    /// The program named by `RUST_SVC_GRPC_GATEWAY_REFERENCE`, decoding `message` with the fields
    /// `bound` to the path left out of the query; `None` when the variable is unset.
    fn start(message: &str, bound: &[&str]) -> Option<Self> {
        let Some(program) = std::env::var_os("RUST_SVC_GRPC_GATEWAY_REFERENCE") else {
            assert!(
                std::env::var("RUST_SVC_REQUIRE_GRPC_GATEWAY_REFERENCE").as_deref() != Ok("1"),
                "RUST_SVC_GRPC_GATEWAY_REFERENCE is not set: .ci/run builds \
                 tests/reference/grpc-gateway"
            );
            eprintln!("skipped: RUST_SVC_GRPC_GATEWAY_REFERENCE is not set (see tests/reference)");
            return None;
        };
        // One file per program: the tests run side by side, and each removes its own.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let started = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let descriptors = std::env::temp_dir().join(format!(
            "rust-svc-reference-{}-{started}.binpb",
            std::process::id()
        ));
        std::fs::write(&descriptors, rust_svc_tests::FILE_DESCRIPTOR_SET).unwrap();
        let mut child = Command::new(program)
            .arg(&descriptors)
            .arg(message)
            .args(bound)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("GRPC_GATEWAY_REFERENCE runs");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Some(Self {
            child,
            input,
            output,
            descriptors,
        })
    }

    fn ask(&mut self, kind: &str, argument: &str) -> Answer {
        assert!(!argument.contains(['\n', '\t']), "{argument:?}");
        writeln!(self.input, "{kind}\t{argument}").unwrap();
        self.input.flush().unwrap();
        // Go's error messages may quote invalid UTF-8 as it came.
        let mut line = Vec::new();
        self.output.read_until(b'\n', &mut line).unwrap();
        let line = String::from_utf8_lossy(&line);
        match line.trim_end().split_once('\t') {
            Some(("ok", json)) => Answer::Decoded(serde_json::from_str(json).unwrap()),
            Some(("err", message)) => Answer::Refused(message.to_owned()),
            _ => panic!("the reference answered {line:?}"),
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.descriptors);
    }
}

/// What the gateway answered: 200 with the echoed message, or 400 with its message.
async fn ours(rest: &Rest, request: reqwest::RequestBuilder) -> Answer {
    let reply = rest.send(request).await;
    match reply.status.as_u16() {
        200 => {
            let mut message = reply.json();
            // The echo's path variable, which the reference never sees.
            message.as_object_mut().unwrap().remove("id");
            Answer::Decoded(message)
        }
        400 => Answer::Refused(reply.json()["message"].as_str().unwrap().to_owned()),
        // Decoded, but the echo cannot be written as JSON (a field mask path that is not a
        // field name), as with the reference.
        500 if reply.json()["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("failed to marshal response")) =>
        {
            Answer::Decoded(Value::Null)
        }
        status => panic!("unexpected {status}: {reply:?}"),
    }
}

/// Whether two decoded messages are the same: equal JSON, but for `float` fields, which Go
/// writes with 32-bit precision and serde_json reads back as the nearest double.
fn same(ours: &Value, reference: &Value) -> bool {
    match (ours, reference) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a == b || (a as f32) == (b as f32),
            _ => a == b,
        },
        // The reference decoded a message that proto3 JSON cannot write.
        (_, Value::Null) => true,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same(a, b)))
        }
        _ => ours == reference,
    }
}

/// Where this gateway answers otherwise on purpose, and why; `None` for any other difference.
fn known_difference(ours: &Answer, theirs: &Answer) -> Option<&'static str> {
    match (ours, theirs) {
        (Answer::Decoded(ours), Answer::Decoded(theirs)) => {
            // grpc-gateway sets the message on the way to a nested parameter it then finds
            // unknown (`inner.nope=1` leaves `inner` empty but present); and protojson keeps a
            // float's -0, which prost does not write (it writes a proto3 field unless it is
            // == 0). What else the two decoded must be the same.
            same(ours, &without_extras(theirs, ours))
                .then_some("an empty parent of an unknown parameter, or -0 in a float")
        }
        (Answer::Refused(ours), Answer::Decoded(_))
            if ours.contains("invalid google.protobuf.FieldMask path") =>
        {
            // grpc-gateway passes any text on as a path, for the server to refuse.
            Some("a field mask path that names no field is refused here")
        }
        (Answer::Refused(ours), Answer::Decoded(Value::Null))
            if ours.contains("not valid UTF-8") =>
        {
            // grpc-gateway keeps the bytes in the string, and fails to marshal the request.
            Some("a string that is not UTF-8 is refused here, not when the request is sent")
        }
        (Answer::Decoded(_), Answer::Refused(theirs)) if theirs.contains("duplicate field") => {
            // The generated impls tell a member given twice by the value kept, and a `null`
            // or an enum name that is discarded keeps none.
            Some("a member given twice, once with no value (null, an unknown enum name), is read")
        }
        (Answer::Decoded(_), Answer::Refused(theirs)) if theirs.contains(" key: \"") => {
            // Map keys share the number reader, which takes a whole number written as a float
            // in a string (`"1e2"`), as protojson does for values but not for keys.
            Some("an integer map key written as a float is read")
        }
        _ => None,
    }
}

/// `theirs` without the members `ours` lacks that are empty objects or -0.
fn without_extras(theirs: &Value, ours: &Value) -> Value {
    match (theirs, ours) {
        (Value::Object(theirs), Value::Object(ours)) => Value::Object(
            theirs
                .iter()
                .filter(|(key, value)| {
                    ours.contains_key(*key)
                        || !(value.as_object().is_some_and(|object| object.is_empty())
                            || value.as_f64() == Some(0.0))
                })
                .map(|(key, value)| {
                    let kept = match ours.get(key) {
                        Some(ours) => without_extras(value, ours),
                        None => value.clone(),
                    };
                    (key.clone(), kept)
                })
                .collect(),
        ),
        _ => theirs.clone(),
    }
}

/// Runs `cases` through both and fails listing every unexplained difference.
async fn compare(
    reference: &mut Reference,
    rest: &Rest,
    kind: &str,
    cases: impl IntoIterator<Item = String>,
    request: impl Fn(&str) -> (String, reqwest::RequestBuilder),
) {
    let mut differences = Vec::new();
    let mut count = 0;
    for case in cases {
        count += 1;
        let (argument, built) = request(&case);
        let theirs = reference.ask(kind, &argument);
        let ours = ours(rest, built).await;
        let agree = match (&ours, &theirs) {
            (Answer::Decoded(a), Answer::Decoded(b)) => same(a, b),
            (Answer::Refused(_), Answer::Refused(_)) => true,
            _ => false,
        };
        if !agree && known_difference(&ours, &theirs).is_none() {
            differences.push(format!(
                "{case}\n    ours:   {ours:?}\n    theirs: {theirs:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {count} {kind} cases differ from grpc-gateway:\n{}",
        differences.len(),
        differences[..differences.len().min(40)].join("\n")
    );
}

#[tokio::test]
async fn query_parameters_decode_as_grpc_gateway_decodes_them() {
    let Some(mut reference) = Reference::start("tests.gateway.Everything", &["id"]) else {
        return;
    };
    let served = serve().await;
    let mut rng = fastrand::Rng::with_seed(0x09a7_e3a1);
    let cases: Vec<String> = (0..5_000).map(|_| random_query(&mut rng)).collect();
    let rest = &served.rest;
    compare(&mut reference, rest, "query", cases, |query| {
        let request = rest.request("GET", &format!("/v1/everything/x?{query}"));
        let sent = request.try_clone().unwrap().build().unwrap();
        // reqwest's URL parser percent-encodes a few characters the cases never use.
        assert_eq!(sent.url().query(), Some(query), "sent as written");
        (query.to_owned(), request)
    })
    .await;
}

#[tokio::test]
async fn json_bodies_decode_as_grpc_gateway_decodes_them() {
    let Some(mut reference) = Reference::start("tests.gateway.Everything", &[]) else {
        return;
    };
    let served = serve().await;
    let mut rng = fastrand::Rng::with_seed(0x00b0_d1e5);
    let cases: Vec<String> = (0..3_000).map(|_| random_body(&mut rng)).collect();
    let rest = &served.rest;
    compare(&mut reference, rest, "body", cases, |body| {
        let argument = base64::engine::general_purpose::STANDARD.encode(body);
        let request = rest
            .request("POST", "/v1/everything")
            .header("content-type", "application/json")
            .body(body.to_owned());
        (argument, request)
    })
    .await;
}
