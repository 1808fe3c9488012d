//! The example system: the inventory, orders and dispatch contracts, generated from `proto/`
//! by `cargo generate-examples`, and small in-memory implementations of all three:
//! [`inventory_store`], [`order_desk`] (which calls inventory) and [`courier_directory`].
//! [`system`] serves them together over gRPC and REST/JSON on one port, as the
//! `example_gateway` binary does. The files under `src/generated/` are committed so they can be
//! read here; a test fails when they are stale.
//!
//! Domain code depends on other services through their generated traits, so a unit test hands
//! it the generated fake:
//!
//! ```
//! use example_services::inventory::v1::{FakeInventoryService, ReserveItemsResponse};
//! use example_services::order_desk::OrderDesk;
//! use example_services::orders::v1::{CreateOrderRequest, LineItem, Order, OrderService};
//! use rust_svc_runtime::{Code, Context, Status};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let inventory = FakeInventoryService::new();
//! inventory.reserve_items.returns(ReserveItemsResponse {
//!     reservation_id: "res_1".into(),
//!     ..Default::default()
//! });
//! let desk = OrderDesk::new(inventory.clone());
//!
//! let order = Order {
//!     customer_id: "c_42".into(),
//!     items: vec![LineItem { sku: "SKU-1".into(), quantity: 2, unit_price_cents: 250 }],
//!     ..Default::default()
//! };
//! let placed = desk
//!     .create_order(&Context::new(), CreateOrderRequest { order: Some(order.clone()), ..Default::default() })
//!     .await?;
//! assert_eq!(placed.total_cents, 500);
//! assert_eq!(inventory.reserve_items.requests()[0].items[0].sku, "SKU-1");
//!
//! // Out of stock: inventory's answer becomes the order's.
//! inventory.reserve_items.fails(Status::failed_precondition("SKU-1: 1 available"));
//! let refused = desk
//!     .create_order(&Context::new(), CreateOrderRequest { order: Some(order), ..Default::default() })
//!     .await
//!     .unwrap_err();
//! assert_eq!(refused.code(), Code::FailedPrecondition);
//! # Ok::<(), Status>(())
//! # }).unwrap();
//! ```
//!
//! The same code runs over real HTTP/2 with `InventoryServiceGrpc::serve_in_memory(fake)`, which
//! hands back the generated client to give the order desk instead; see `tests/order_desk.rs`.

pub mod courier_directory;
mod errors;
mod generated;
pub mod inventory_store;
pub mod order_desk;
pub mod system;
mod watch;

pub use generated::{dispatch, inventory, orders};

// The README's Rust blocks are this crate's doctests, so that every one of them compiles (and
// those that need no network run). Hidden `# ` lines give a block what it takes from the example
// system; build.rs generates `OUT_DIR/mod.rs` for the blocks that `include!` it as users do.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
