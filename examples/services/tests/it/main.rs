//! The crate's integration tests, in one test binary (each file here was a binary of its own,
//! and each linked the whole dependency tree). Run one file's tests with
//! `cargo test -p example-services --test it rest::`.

// What the REST tests share (the logistics example's tests use it too).
mod rest_common;

mod docs;
mod order_desk;
mod readme;
mod rest;
mod rest_errors;
