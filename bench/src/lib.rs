//! What the benchmarks share: the domain implementations they serve, and tonic's own client.

use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockUpdate,
    UnimplementedInventoryService, WatchStockLevelsRequest,
};
use rust_svc_runtime::{BoxStream, Context, Status};

pub mod rest;
pub mod stacks;

// Every benchmark binary links this library, so this is their allocator (see the `jemalloc`
// feature in Cargo.toml).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// tonic's own client and server for inventory.proto
/// (`inventory::v1::inventory_service_client` and `inventory_service_server`), written by
/// build.rs: the plain-tonic side of the comparisons.
pub mod plain_tonic {
    include!(concat!(env!("OUT_DIR"), "/mod.rs"));
}

/// tests/protos/http_body.proto (`tests::http_body::Files` and the `google.api` messages),
/// domain and gateway: the service bench/http_body.sh uploads to and downloads from.
pub mod http_body {
    include!(concat!(env!("OUT_DIR"), "/http_body/mod.rs"));
}

/// The `CheckStock` handler every benchmark uses: answers at once, echoing the SKU.
pub fn check_stock_reply(request: CheckStockRequest) -> CheckStockResponse {
    CheckStockResponse {
        sku: request.sku,
        available: 7,
        ..Default::default()
    }
}

/// Answers `CheckStock` with [`check_stock_reply`]; everything else is unimplemented.
pub struct Stock;

impl InventoryService for Stock {
    async fn check_stock(
        &self,
        _ctx: &Context,
        request: CheckStockRequest,
    ) -> Result<CheckStockResponse, Status> {
        Ok(check_stock_reply(request))
    }

    async fn reserve_items(
        &self,
        ctx: &Context,
        request: ReserveItemsRequest,
    ) -> Result<ReserveItemsResponse, Status> {
        UnimplementedInventoryService
            .reserve_items(ctx, request)
            .await
    }

    async fn release_reservation(
        &self,
        ctx: &Context,
        request: ReleaseReservationRequest,
    ) -> Result<ReleaseReservationResponse, Status> {
        UnimplementedInventoryService
            .release_reservation(ctx, request)
            .await
    }

    async fn watch_stock_levels(
        &self,
        ctx: &Context,
        request: WatchStockLevelsRequest,
    ) -> Result<BoxStream<StockUpdate>, Status> {
        UnimplementedInventoryService
            .watch_stock_levels(ctx, request)
            .await
    }
}

/// Answers `CheckStock` as [`Stock`] does after `delay()` has passed, counting its calls;
/// everything else is unimplemented: a server slow always, or now and then.
#[derive(Clone)]
pub struct Slowed {
    /// How long the next answer waits.
    pub delay: std::sync::Arc<dyn Fn() -> std::time::Duration + Send + Sync>,
    /// The `CheckStock` calls it has taken.
    pub calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Slowed {
    /// A server whose answers wait `delay()` each.
    pub fn new(delay: impl Fn() -> std::time::Duration + Send + Sync + 'static) -> Self {
        Self {
            delay: std::sync::Arc::new(delay),
            calls: std::sync::Arc::default(),
        }
    }

    /// The `CheckStock` calls taken so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl InventoryService for Slowed {
    async fn check_stock(
        &self,
        ctx: &Context,
        request: CheckStockRequest,
    ) -> Result<CheckStockResponse, Status> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let delay = (self.delay)();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Stock.check_stock(ctx, request).await
    }

    async fn reserve_items(
        &self,
        ctx: &Context,
        request: ReserveItemsRequest,
    ) -> Result<ReserveItemsResponse, Status> {
        Stock.reserve_items(ctx, request).await
    }

    async fn release_reservation(
        &self,
        ctx: &Context,
        request: ReleaseReservationRequest,
    ) -> Result<ReleaseReservationResponse, Status> {
        Stock.release_reservation(ctx, request).await
    }

    async fn watch_stock_levels(
        &self,
        ctx: &Context,
        request: WatchStockLevelsRequest,
    ) -> Result<BoxStream<StockUpdate>, Status> {
        Stock.watch_stock_levels(ctx, request).await
    }
}

/// The latencies a benchmark's client saw over its rounds, its calls, and a count of its own
/// (the server calls hedging caused, the calls a slow server took).
#[derive(Debug, Default)]
pub struct Sample {
    pub latencies: Vec<std::time::Duration>,
    pub counted: u64,
    pub calls: u64,
}

impl Sample {
    /// The latency at fraction `p` (0.5 for the median) of the sorted sample.
    pub fn percentile(&mut self, p: f64) -> std::time::Duration {
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[index]
    }
}
