//! Real-world protos through `new`: crates whose services span several files of a package.

use super::{Running, cargo, must, workspace};
use protoc_gen_rust_svc::scaffold::{self, NewOptions};

/// Real-world protos, vendored under `tests/data` (see its README): a service whose messages
/// live in sibling files of its package, and packages of several files whose types reach
/// other packages. Each scaffolds into a crate that builds, passes its own tests (every rpc
/// called directly and over gRPC) and that `check` finds in step with its protos; its binary
/// serves a REST route of its gateway, where it has one.
#[tokio::test(flavor = "multi_thread")]
async fn real_world_protos_scaffold_into_crates_that_build_test_and_check_clean() {
    let data = workspace().join("tests/data");
    let cases = [
        // grpc.testing.TestService: test.proto holds the services, messages.proto and
        // empty.proto of the same package the messages. No http rules.
        (
            "interop-svc",
            data.join("grpc-interop"),
            "grpc/testing/test.proto",
            "grpc.testing.TestService",
            None,
        ),
        // google.pubsub.v1: pubsub.proto and schema.proto, with googleapis' annotations.
        (
            "pubsub-svc",
            data.join("googleapis"),
            "google/pubsub/v1/pubsub.proto",
            "google.pubsub.v1.Publisher",
            Some((
                "/v1/projects/p/topics/t",
                "/google.pubsub.v1.Publisher/GetTopic",
            )),
        ),
        // google.cloud.bigquery.storage.v1: seven files, google.rpc.Status from another
        // package, and ReadRows and SplitReadStream on one GET template: the later rpc serves
        // it, as in grpc-gateway.
        (
            "bigquery-storage-svc",
            data.join("googleapis"),
            "google/cloud/bigquery/storage/v1/storage.proto",
            "google.cloud.bigquery.storage.v1.BigQueryRead",
            Some((
                "/v1/projects/p/locations/l/sessions/s/streams/x",
                "/google.cloud.bigquery.storage.v1.BigQueryRead/SplitReadStream",
            )),
        ),
    ];
    let parent = tempfile::tempdir().unwrap();
    for (name, include, proto, service, rest) in cases {
        let out = parent.path().join(name);
        let options = NewOptions {
            name: name.to_owned(),
            protos: vec![include.join(proto)],
            // googleapis' annotations.proto and http.proto are this repository's copies.
            includes: vec![include.clone(), workspace().join("proto")],
            out: Some(out.clone()),
            runtime: Some(workspace().join("runtime").to_str().unwrap().to_owned()),
            ..Default::default()
        };
        scaffold::new_crate(&options).unwrap_or_else(|error| panic!("{name}: {error}"));
        std::fs::copy(workspace().join("Cargo.lock"), out.join("Cargo.lock")).unwrap();
        // Only the named file is listed: the generator brings its package's other files.
        let build_rs = std::fs::read_to_string(out.join("build.rs")).unwrap();
        assert!(
            build_rs.contains(&format!(".file(\"proto/{proto}\")")),
            "{build_rs}"
        );
        must(&format!("{name}: cargo build"), cargo(&out, &["build"]));
        let tests = must(&format!("{name}: cargo test"), cargo(&out, &["test"]));
        let report = String::from_utf8_lossy(&tests.stdout);
        assert!(report.contains("_over_grpc ... ok"), "{name}: {report}");
        assert!(!report.contains("FAILED"), "{name}: {report}");
        let check = scaffold::check::check_crate(&out).unwrap();
        assert!(check.findings.is_empty(), "{name}: {:?}", check.findings);
        assert!(
            check
                .compared
                .iter()
                .any(|(compared, rpcs)| compared == service && *rpcs > 0),
            "{name}: {:?}",
            check.compared
        );
        if let Some((path, rpc)) = rest {
            let running = Running::start_binary(name, &[]);
            let response = reqwest::get(format!("{}{path}", running.url()))
                .await
                .unwrap();
            assert_eq!(response.status(), 501, "{name}: {path}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["code"], 12, "{body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.starts_with(rpc), "{name}: {path} reached {body}");
            assert!(running.terminate().success(), "{name}: drains on SIGTERM");
        }
    }
}
