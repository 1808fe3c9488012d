//! The three services as this binary serves them: the example system's implementations, each
//! wrapped in the server interceptor stack, with the orders desk reaching inventory and
//! dispatch over the network through the generated clients.

use std::path::Path;
use std::sync::Arc;

use example_services::courier_directory::CourierDirectory;
use example_services::dispatch::v1::{
    DispatchServiceClient, DispatchServiceGateway, DispatchServiceGrpc, dispatch_service_server,
};
use example_services::inventory::v1::{
    CheckStockRequest, InventoryService, InventoryServiceClient, InventoryServiceGateway,
    InventoryServiceGrpc, inventory_service_server,
};
use example_services::inventory_store::InventoryStore;
use example_services::order_desk::OrderDesk;
use example_services::orders::v1::{OrderServiceGateway, OrderServiceGrpc, order_service_server};
use rust_svc_runtime::interceptors::{
    Intercepted, Interceptors, Logging, Metrics, RequestIds, Tracing,
};
use rust_svc_runtime::{Code, Context};
use tonic::service::Routes;

use crate::hops::{CollectHops, StampHop};
use crate::serve::Port;

/// The stock `ExampleSystem::demo` starts with: (warehouse, SKU, units on hand).
const DEMO_STOCK: [(&str, &str, i64); 5] = [
    ("wh_eu_west", "SKU-10042", 120),
    ("wh_us_east", "SKU-10042", 30),
    ("wh_eu_west", "SKU-10043", 40),
    ("wh_us_east", "SKU-10043", 4),
    ("wh_us_east", "SKU-20001", 0),
];

/// The couriers `ExampleSystem::demo` starts with.
const DEMO_COURIERS: [&str; 3] = ["cour_1", "cour_2", "cour_3"];

/// The page `GET /` answers on the orders port.
const ORDERS_PAGE: &str = include_str!("../web/index.html");

/// Inventory as the order desk reaches it: the generated client, in a client stack.
pub type RemoteInventory = Intercepted<InventoryServiceClient>;
/// Dispatch as the order desk reaches it.
pub type RemoteDispatch = Intercepted<DispatchServiceClient>;

/// The server interceptor stack every service gets, in the README's order: request ids first,
/// so that the span, the metrics, the hop and the access line all carry the id; logging last,
/// so that its clock times the handler.
fn server_stack() -> Interceptors {
    Interceptors::server()
        .with(RequestIds)
        .with(Tracing)
        .with(Metrics::new())
        .with(StampHop)
        .with(Logging::new())
}

/// The client stack of the order desk's dependencies: [`CollectHops`] first (it swaps the
/// context the others see), then the request id and trace context to propagate, and the
/// `grpc_client_*` metrics.
fn client_stack() -> Interceptors {
    Interceptors::client()
        .with(CollectHops)
        .with(RequestIds)
        .with(Tracing)
        .with(Metrics::new())
}

/// The inventory: in memory, or in the SQLite file `db`. Seeded with the demo stock when it
/// does not know the demo's first SKU yet (a new database), so that a restart keeps counts.
pub async fn inventory(db: Option<&Path>) -> Result<Port, String> {
    let store = match db {
        None => InventoryStore::new(),
        // The error names the file.
        Some(path) => InventoryStore::open(path).map_err(|error| format!("inventory: {error}"))?,
    };
    let probe = CheckStockRequest {
        sku: DEMO_STOCK[0].1.to_owned(),
        ..Default::default()
    };
    match store.check_stock(&Context::new(), probe).await {
        Ok(_) => {}
        Err(status) if status.code() == Code::NotFound => {
            for (warehouse, sku, on_hand) in DEMO_STOCK {
                store
                    .set_on_hand(warehouse, sku, on_hand)
                    .map_err(|error| format!("cannot seed the inventory: {error}"))?;
            }
            tracing::info!("seeded the inventory with the demo stock");
        }
        Err(status) => return Err(format!("cannot read the inventory: {status}")),
    }
    let domain = Arc::new(server_stack().wrap(store));
    Ok(Port {
        label: "inventory",
        service: inventory_service_server::SERVICE_NAME,
        grpc: Routes::new(InventoryServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        rest: InventoryServiceGateway::routes_from_arc(domain),
        page: None,
    })
}

/// The courier directory (in memory), with the demo couriers.
pub fn dispatch() -> Result<Port, String> {
    let directory = CourierDirectory::new();
    for courier in DEMO_COURIERS {
        directory
            .add_courier(courier)
            .map_err(|error| format!("cannot add courier {courier}: {error}"))?;
    }
    let domain = Arc::new(server_stack().wrap(directory));
    Ok(Port {
        label: "dispatch",
        service: dispatch_service_server::SERVICE_NAME,
        grpc: Routes::new(DispatchServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        rest: DispatchServiceGateway::routes_from_arc(domain),
        page: None,
    })
}

/// Where the order desk finds its dependencies: one or more URLs each (several are
/// load-balanced by the client).
#[derive(Debug, Clone)]
pub struct Dependencies {
    /// Inventory servers, `http://host:port`.
    pub inventory: Vec<String>,
    /// Dispatch servers.
    pub dispatch: Vec<String>,
}

/// The order desk: in memory, or in the SQLite file `db`, reaching its dependencies over the
/// network. Connections are made on first use, so the order of starting services is free.
pub fn orders(dependencies: &Dependencies, db: Option<&Path>) -> Result<Port, String> {
    let inventory: RemoteInventory = client_stack().wrap(
        InventoryServiceClient::connect_lazy(&dependencies.inventory)
            .map_err(|error| format!("--inventory: {error}"))?,
    );
    let dispatch: RemoteDispatch = client_stack().wrap(
        DispatchServiceClient::connect_lazy(&dependencies.dispatch)
            .map_err(|error| format!("--dispatch: {error}"))?,
    );
    let desk = match db {
        None => OrderDesk::new(inventory, dispatch),
        Some(path) => OrderDesk::open(path, inventory, dispatch)
            .map_err(|error| format!("orders: {error}"))?,
    };
    let domain = Arc::new(server_stack().wrap(desk));
    Ok(Port {
        label: "orders",
        service: order_service_server::SERVICE_NAME,
        grpc: Routes::new(OrderServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        rest: OrderServiceGateway::routes_from_arc(domain),
        page: Some(ORDERS_PAGE),
    })
}
