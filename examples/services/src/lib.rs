//! The example system's contracts: the inventory, orders and dispatch services, generated from
//! `proto/` by `cargo generate-examples`. The files under `src/generated/` are committed so they
//! can be read here; a test fails when they are stale.

mod generated;

pub use generated::{dispatch, inventory, orders};
