//! Inventory as the order desk reaches it when there are several inventory servers: calls
//! balanced over them by the generated client, except a release, which must reach the server
//! that holds the reservation. Each server numbers its own reservations (their ids carry its
//! tag), and one that does not hold a reservation answers NOT_FOUND; a release the balanced
//! client sent to another server is then asked of each server in turn: those of the URL list,
//! or, for a named target (`dns:///…`), the addresses it resolves to now, each through a client
//! of its own made the first time it is needed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockUpdate,
    WatchStockLevelsRequest,
};
use rust_svc_runtime::{BoxStream, Code, Context, Reply, Status};

/// The inventory servers through clients `I` (the generated client in its stack): balanced,
/// and each alone (none when there is one server).
pub struct Inventories<I> {
    balanced: I,
    each: Each<I>,
}

/// The servers one at a time.
enum Each<I> {
    /// A client of each server of a URL list (none for one server).
    Listed(Vec<Arc<I>>),
    /// The addresses a named target resolves to now, and a client of each made on demand.
    Resolved {
        addresses: Box<dyn Fn() -> Vec<String> + Send + Sync>,
        client: Box<dyn Fn(&str) -> I + Send + Sync>,
        made: Mutex<HashMap<String, Arc<I>>>,
    },
}

impl<I: InventoryService> Inventories<I> {
    /// `balanced` over all the servers, and a client of each server alone: `each` is empty when
    /// there is only one.
    pub fn new(balanced: I, each: Vec<I>) -> Self {
        Self {
            balanced,
            each: Each::Listed(each.into_iter().map(Arc::new).collect()),
        }
    }

    /// `balanced` over the addresses of a named target, which `addresses` reports as they are
    /// now; `client` makes the client of one of them (`ip:port`).
    pub fn resolved(
        balanced: I,
        addresses: impl Fn() -> Vec<String> + Send + Sync + 'static,
        client: impl Fn(&str) -> I + Send + Sync + 'static,
    ) -> Self {
        Self {
            balanced,
            each: Each::Resolved {
                addresses: Box::new(addresses),
                client: Box::new(client),
                made: Mutex::new(HashMap::new()),
            },
        }
    }

    /// A client of each server as they are now.
    fn each(&self) -> Vec<Arc<I>> {
        match &self.each {
            Each::Listed(each) => each.clone(),
            Each::Resolved {
                addresses,
                client,
                made,
            } => {
                let now = addresses();
                let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
                made.retain(|address, _| now.contains(address));
                now.iter()
                    .map(|address| {
                        Arc::clone(
                            made.entry(address.clone())
                                .or_insert_with(|| Arc::new(client(address))),
                        )
                    })
                    .collect()
            }
        }
    }

    /// Releases `request`'s reservation on whichever server holds it: NOT_FOUND only when
    /// every server says so, and the failure of a server that could not answer (UNAVAILABLE,
    /// say) when the reservation was found on none of the others, so that an order is not
    /// reported cancelled while its stock is still held.
    async fn release_on_its_server(
        &self,
        ctx: &Context,
        request: ReleaseReservationRequest,
    ) -> Result<ReleaseReservationResponse, Status> {
        let not_here = match self
            .balanced
            .release_reservation(ctx, request.clone())
            .await
        {
            Err(status) if status.code() == Code::NotFound => status,
            answer => return answer,
        };
        let mut unanswered = None;
        for server in self.each() {
            match server.release_reservation(ctx, request.clone()).await {
                Err(status) if status.code() == Code::NotFound => {}
                Err(status) => unanswered = Some(status),
                answer => return answer,
            }
        }
        Err(unanswered.unwrap_or(not_here))
    }
}

impl<I: InventoryService> InventoryService for Inventories<I> {
    fn check_stock(
        &self,
        ctx: &Context,
        request: CheckStockRequest,
    ) -> impl Reply<CheckStockResponse> {
        self.balanced.check_stock(ctx, request)
    }

    fn reserve_items(
        &self,
        ctx: &Context,
        request: ReserveItemsRequest,
    ) -> impl Reply<ReserveItemsResponse> {
        self.balanced.reserve_items(ctx, request)
    }

    fn release_reservation(
        &self,
        ctx: &Context,
        request: ReleaseReservationRequest,
    ) -> impl Reply<ReleaseReservationResponse> {
        self.release_on_its_server(ctx, request)
    }

    fn watch_stock_levels(
        &self,
        ctx: &Context,
        request: WatchStockLevelsRequest,
    ) -> impl Reply<BoxStream<StockUpdate>> {
        self.balanced.watch_stock_levels(ctx, request)
    }
}

#[cfg(test)]
mod tests {
    use example_services::inventory::v1::{InventoryServiceClient, InventoryServiceGrpc, LineItem};
    use example_services::inventory_store::InventoryStore;
    use rust_svc_runtime::harness::Harness;

    use super::*;

    fn stocked() -> InventoryStore {
        let store = InventoryStore::new();
        store.set_on_hand("wh_a", "SKU-1", 10).unwrap();
        store
    }

    async fn reserved(store: &InventoryStore) -> i32 {
        let level = store
            .check_stock(
                &Context::new(),
                CheckStockRequest {
                    sku: "SKU-1".into(),
                    warehouse_id: String::new(),
                },
            )
            .await
            .unwrap();
        level.reserved
    }

    /// One unit of SKU-1 reserved for `order_id`.
    async fn reserve_one<I: InventoryService>(
        inventories: &Inventories<I>,
        order_id: &str,
    ) -> String {
        inventories
            .reserve_items(
                &Context::new(),
                ReserveItemsRequest {
                    order_id: order_id.into(),
                    items: vec![LineItem {
                        sku: "SKU-1".into(),
                        quantity: 1,
                    }],
                    idempotency_key: String::new(),
                },
            )
            .await
            .unwrap()
            .reservation_id
    }

    fn url(server: &Harness<InventoryServiceClient>) -> String {
        format!(
            "http://{}",
            server
                .local_addr()
                .expect("a loopback harness has an address")
        )
    }

    #[tokio::test]
    async fn a_release_reaches_the_server_holding_the_reservation() {
        // Two inventories, each numbering its reservations from 1; the balanced client spreads
        // the reservations over both, and each release must free its own.
        let (a, b) = (stocked(), stocked());
        let server_a = InventoryServiceGrpc::serve_loopback(a.clone())
            .await
            .unwrap();
        let server_b = InventoryServiceGrpc::serve_loopback(b.clone())
            .await
            .unwrap();
        let urls = [url(&server_a), url(&server_b)];
        let client = |urls: &[String]| InventoryServiceClient::connect_lazy(urls).unwrap();
        let inventories = Inventories::new(
            client(&urls),
            urls.iter()
                .map(|url| client(std::slice::from_ref(url)))
                .collect(),
        );
        let ctx = Context::new();
        let mut ids = Vec::new();
        for order in 0..6 {
            ids.push(reserve_one(&inventories, &format!("ord_{order}")).await);
        }
        assert!(reserved(&a).await > 0 && reserved(&b).await > 0, "{ids:?}");
        // Released in the opposite order: the balanced client's pick is seldom the holder.
        for id in ids.iter().rev() {
            let released = inventories
                .release_reservation(
                    &ctx,
                    ReleaseReservationRequest {
                        reservation_id: id.clone(),
                    },
                )
                .await
                .unwrap_or_else(|status| panic!("{id}: {status:?}"));
            assert!(released.released, "{id}");
        }
        assert_eq!((reserved(&a).await, reserved(&b).await), (0, 0));

        // The holder gone: the release fails as it does (UNAVAILABLE), not NOT_FOUND from the
        // other server, nor a success.
        let on_b = loop {
            let id = reserve_one(&inventories, "ord_b").await;
            if reserved(&b).await > 0 {
                break id;
            }
        };
        drop(server_b);
        let status = inventories
            .release_reservation(
                &ctx,
                ReleaseReservationRequest {
                    reservation_id: on_b,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        drop(server_a);
    }

    #[tokio::test]
    async fn a_release_reaches_the_holder_among_a_names_addresses() {
        // The same two inventories behind a name: the servers asked one at a time are the
        // addresses the balanced client reports, each through a client made on first need.
        let (a, b) = (stocked(), stocked());
        let server_a = InventoryServiceGrpc::serve_loopback(a.clone())
            .await
            .unwrap();
        let server_b = InventoryServiceGrpc::serve_loopback(b.clone())
            .await
            .unwrap();
        let urls = [url(&server_a), url(&server_b)];
        let balanced = InventoryServiceClient::connect_lazy(&urls).unwrap();
        let addresses: Vec<String> = urls
            .iter()
            .map(|url| url.trim_start_matches("http://").to_owned())
            .collect();
        let inventories = Inventories::resolved(
            balanced,
            move || addresses.clone(),
            |address| InventoryServiceClient::connect_lazy([format!("http://{address}")]).unwrap(),
        );
        let mut ids = Vec::new();
        for order in 0..6 {
            ids.push(reserve_one(&inventories, &format!("ord_{order}")).await);
        }
        assert!(reserved(&a).await > 0 && reserved(&b).await > 0, "{ids:?}");
        for id in ids.iter().rev() {
            let released = inventories
                .release_reservation(
                    &Context::new(),
                    ReleaseReservationRequest {
                        reservation_id: id.clone(),
                    },
                )
                .await
                .unwrap_or_else(|status| panic!("{id}: {status:?}"));
            assert!(released.released, "{id}");
        }
        assert_eq!((reserved(&a).await, reserved(&b).await), (0, 0));
    }
}
