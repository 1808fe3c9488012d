//! The example system: the inventory, orders and dispatch contracts, generated from `proto/`
//! by `cargo generate-examples`, and small implementations of all three:
//! [`inventory_store`] and [`order_desk`] (which calls inventory and dispatch), kept in SQLite
//! in memory or in a file ([`StorageError`] says why one could not be opened), and
//! [`courier_directory`], in memory. [`system`] serves them together over gRPC and REST/JSON on
//! one port, as the `example_gateway` binary does. The files under `src/generated/` are
//! committed so they can be read here; a test fails when they are stale.
//!
//! Domain code depends on other services through their generated traits, so a unit test hands
//! it the generated fakes:
//!
//! ```
//! use example_services::dispatch::v1::{Assignment, FakeDispatchService};
//! use example_services::inventory::v1::{
//!     FakeInventoryService, ReleaseReservationResponse, ReserveItemsResponse,
//! };
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
//! inventory.release_reservation.returns(ReleaseReservationResponse { released: true });
//! let dispatch = FakeDispatchService::new();
//! dispatch.request_courier.responds_with(|_ctx, request| {
//!     Ok(Assignment { assignment_id: "asg_1".into(), order_id: request.order_id, ..Default::default() })
//! });
//! let desk = OrderDesk::new(inventory.clone(), dispatch.clone());
//!
//! let order = Order {
//!     customer_id: "c_42".into(),
//!     items: vec![LineItem { sku: "SKU-1".into(), quantity: 2, unit_price_cents: 250 }],
//!     ..Default::default()
//! };
//! let request = CreateOrderRequest { order: Some(order), ..Default::default() };
//! let placed = desk.create_order(&Context::new(), request.clone()).await?;
//! assert_eq!((placed.total_cents, placed.assignment_id.as_str()), (500, "asg_1"));
//! assert_eq!(inventory.reserve_items.requests()[0].items[0].sku, "SKU-1");
//! assert_eq!(dispatch.request_courier.requests()[0].order_id, placed.order_id);
//!
//! // Out of stock: inventory's answer becomes the order's, and dispatch is not asked.
//! inventory.reserve_items.fails(Status::failed_precondition("SKU-1: 1 available"));
//! let refused = desk.create_order(&Context::new(), request.clone()).await.unwrap_err();
//! assert_eq!(refused.code(), Code::FailedPrecondition);
//! assert_eq!(dispatch.request_courier.call_count(), 1);
//!
//! // No courier: the stock is given back, and dispatch's answer becomes the order's.
//! inventory.reserve_items.returns(ReserveItemsResponse { reservation_id: "res_2".into(), ..Default::default() });
//! dispatch.request_courier.fails(Status::unavailable("dispatch is restarting"));
//! let refused = desk.create_order(&Context::new(), request).await.unwrap_err();
//! assert_eq!(refused.code(), Code::Unavailable);
//! assert_eq!(inventory.release_reservation.requests()[0].reservation_id, "res_2");
//! # Ok::<(), Status>(())
//! # }).unwrap();
//! ```
//!
//! The same code runs over real HTTP/2 with `InventoryServiceGrpc::serve_in_memory(fake)`, which
//! hands back the generated client to give the order desk instead; see `tests/it/order_desk.rs`.

pub mod courier_directory;
mod db;
mod errors;
mod generated;
pub mod inventory_store;
pub mod order_desk;
pub mod system;
mod watch;

pub use db::StorageError;
pub use generated::{dispatch, inventory, orders};

// The README's Rust block is one of this crate's doctests, so that every one of them compiles (and
// those that need no network run). Hidden `# ` lines give a block what it takes from the example
// system; build.rs generates `OUT_DIR/mod.rs` for the blocks that `include!` it as users do.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

// The guide's chapters with Rust blocks, the same way (tests/it/docs.rs checks that every such
// chapter is here).
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../../docs/src/getting-started.md")]
    mod getting_started {}
    #[doc = include_str!("../../../docs/src/clients.md")]
    mod clients {}
    #[doc = include_str!("../../../docs/src/protocols.md")]
    mod protocols {}
    #[doc = include_str!("../../../docs/src/gateway.md")]
    mod gateway {}
    #[doc = include_str!("../../../docs/src/interceptors.md")]
    mod interceptors {}
    #[doc = include_str!("../../../docs/src/operations.md")]
    mod operations {}
    #[doc = include_str!("../../../docs/src/testing.md")]
    mod testing {}
}
