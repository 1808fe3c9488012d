//! The crate's integration tests, in one test binary (each file here was a binary of its own).
//! Run one file's tests with `cargo test -p rust-svc-http-template --test it routes::`.
//!
//! `tests/allocations.rs` stays a binary of its own: it counts allocations with a global
//! allocator, which every test in its binary would go through, and other tests allocating at
//! the same time would be counted too.

// The oracle of the `path_template` fuzz target (fuzz/ includes it by path), which
// fuzz_regressions replays.
mod fuzzing;
// The tables of the routes and templates tests.
mod tables;

mod fuzz_regressions;
mod routes;
mod templates;
