//! The tables of the table-driven tests, which fuzz_regressions also replays.

pub mod routes;
pub mod templates;
