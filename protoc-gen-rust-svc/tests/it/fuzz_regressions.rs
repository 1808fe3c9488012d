//! Replays what the fuzz targets under `fuzz/` check: every input saved under
//! `fuzz/regressions/` (each one a crash the fuzzer found, kept after the fix), and a fixed set
//! of random proto packages, so the structure-aware oracle runs on every `cargo test`.

use std::path::Path;

use crate::fuzzing;

fn saved_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.is_file() && path.file_name().is_some_and(|name| name != ".gitkeep"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("readable input"))
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn saved_request_bytes_do_not_break_the_plugin() {
    for (name, data) in saved_inputs("request_bytes") {
        eprintln!("request_bytes/{name}");
        fuzzing::check_request_bytes(&data);
    }
}

#[test]
fn saved_random_protos_generate_code_that_parses() {
    for (name, data) in saved_inputs("random_protos") {
        eprintln!("random_protos/{name}");
        fuzzing::check_random_protos(&data);
    }
}

/// The structure-aware oracle on 300 inputs from a fixed seed: deterministic, so a failure here
/// reproduces with the same seed.
#[test]
fn random_proto_packages_from_a_fixed_seed_generate_code_that_parses() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut outcomes = std::collections::HashMap::new();
    for _ in 0..300 {
        let len = rng.usize(16..2048);
        let data: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
        *outcomes
            .entry(fuzzing::check_random_protos(&data))
            .or_insert(0) += 1;
    }
    eprintln!("{outcomes:?}");
    // The shaping must mostly yield valid protobuf, or this test would check little.
    let generated = outcomes
        .get(&fuzzing::Checked::Generated)
        .copied()
        .unwrap_or(0);
    assert!(
        generated >= 100,
        "only {generated} of 300 inputs generated: {outcomes:?}"
    );
}
