//! The three services as this binary serves them: the example system's implementations, each
//! wrapped in the server interceptor stack, with the orders desk reaching inventory and
//! dispatch over the network through the generated clients.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use example_services::courier_directory::CourierDirectory;
use example_services::dispatch::v1::{
    DISPATCH_SERVICE, DispatchServiceClient, DispatchServiceGateway, DispatchServiceGrpc,
};
use example_services::inventory::v1::{
    CheckStockRequest, INVENTORY_SERVICE, InventoryService, InventoryServiceClient,
    InventoryServiceGateway, InventoryServiceGrpc,
};
use example_services::inventory_store::InventoryStore;
use example_services::order_desk::OrderDesk;
use example_services::orders::v1::{ORDER_SERVICE, OrderServiceGateway, OrderServiceGrpc};
use example_services::system::{DEMO_COURIERS, DEMO_STOCK};
use rust_svc_runtime::client::{
    BreakerPolicy, ClientBuilder, GeneratedClient, MethodInfo, SlidingWindow,
};
use rust_svc_runtime::host::Host;
use rust_svc_runtime::interceptors::{
    Intercepted, Interceptors, Logging, Metrics, RequestIds, Tracing,
};
use rust_svc_runtime::{Code, Context};
use tonic::service::Routes;

use crate::hops::{CollectHops, StampHop};
use crate::inventories::Inventories;

/// The page `GET /` answers on the orders port.
const ORDERS_PAGE: &str = include_str!("../web/index.html");

/// Inventory as the order desk reaches it: the generated client, in a client stack, balanced
/// over the inventory servers and to each alone (see [`Inventories`]).
pub type RemoteInventory = Inventories<Intercepted<InventoryServiceClient>>;
/// Dispatch as the order desk reaches it.
pub type RemoteDispatch = Intercepted<DispatchServiceClient>;

/// The server interceptor stack every service gets, in the guide's order (its interceptors
/// chapter): request ids first, so that the span, the metrics, the hop and the access line
/// all carry the id; logging last, so that its clock times the handler.
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

/// The stock a new inventory database starts with: the demo's, or `units` of each demo SKU
/// per warehouse. The demo's out-of-stock entries (SKU-20001) stay at 0 either way, so that
/// the example of a refused order keeps working.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Seed {
    /// The counts of `ExampleSystem::demo`.
    #[default]
    Demo,
    /// This many units of each SKU in each warehouse that stocks it.
    Units(i64),
}

impl Seed {
    /// `(warehouse, SKU, units on hand)` to record in a new database.
    fn stock(self) -> [(&'static str, &'static str, i64); DEMO_STOCK.len()] {
        DEMO_STOCK.map(|(warehouse, sku, on_hand)| match self {
            Self::Units(units) if on_hand > 0 => (warehouse, sku, units),
            _ => (warehouse, sku, on_hand),
        })
    }
}

/// The inventory: in memory, or in the SQLite file `db`. Seeded with `seed` when it does not
/// know the demo's first SKU yet (a new database), so that a restart keeps counts.
pub async fn inventory(db: Option<&Path>, seed: Seed) -> Result<Host, String> {
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
            for (warehouse, sku, on_hand) in seed.stock() {
                store
                    .set_on_hand(warehouse, sku, on_hand)
                    .map_err(|error| format!("cannot seed the inventory: {error}"))?;
            }
            match seed {
                Seed::Demo => tracing::info!("seeded the inventory with the demo stock"),
                Seed::Units(units) => tracing::info!(
                    "seeded the inventory with {units} units of each demo SKU per warehouse"
                ),
            }
        }
        Err(status) => return Err(format!("cannot read the inventory: {status}")),
    }
    let domain = Arc::new(server_stack().wrap(store));
    Ok(Host::new("inventory").service(
        INVENTORY_SERVICE.name,
        Routes::new(InventoryServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        Some(InventoryServiceGateway::routes_from_arc(domain)),
    ))
}

/// The courier directory (in memory), with the demo couriers.
pub fn dispatch() -> Result<Host, String> {
    let directory = CourierDirectory::new();
    for courier in DEMO_COURIERS {
        directory
            .add_courier(courier)
            .map_err(|error| format!("cannot add courier {courier}: {error}"))?;
    }
    let domain = Arc::new(server_stack().wrap(directory));
    Ok(Host::new("dispatch").service(
        DISPATCH_SERVICE.name,
        Routes::new(DispatchServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        Some(DispatchServiceGateway::routes_from_arc(domain)),
    ))
}

/// Where the order desk finds its dependencies (one or more URLs each; several are
/// load-balanced by the client), and how its clients treat them.
#[derive(Debug, Clone)]
pub struct Dependencies {
    /// Inventory servers, `http://host:port`.
    pub inventory: Vec<String>,
    /// Dispatch servers.
    pub dispatch: Vec<String>,
    /// How long the circuit breakers of both clients stay open once tripped; `None` for what
    /// the protos say (inventory 30 s, dispatch 10 s).
    pub breaker_open_for: Option<Duration>,
    /// How often a named dependency is resolved again; the runtime's default (30 s) for
    /// `None`.
    pub resolve_every: Option<Duration>,
}

/// A builder of client `C` whose breakers stay open for `open_for` (see
/// [`breaker_open_for`]); the proto's settings unchanged for `None`.
fn client_builder<C: GeneratedClient>(
    open_for: Option<Duration>,
    resolve_every: Option<Duration>,
) -> ClientBuilder<C> {
    let builder = match resolve_every {
        Some(period) => ClientBuilder::<C>::new().resolve_every(period),
        None => ClientBuilder::<C>::new(),
    };
    let Some(duration) = open_for else {
        return builder;
    };
    C::SERVICE.methods.iter().fold(builder, |builder, method| {
        builder.method_circuit_breaker(method.method(), breaker_open_for(method, duration))
    })
}

/// The breaker of `method` as its proto sets it (window, threshold, probes), or as the
/// runtime's default when it sets none, but staying open for `duration`.
fn breaker_open_for(method: &MethodInfo, duration: Duration) -> BreakerPolicy {
    let window = method
        .circuit_breaker
        .clone()
        .unwrap_or(SlidingWindow::DEFAULT);
    BreakerPolicy::SlidingWindow(window.open_duration(duration))
}

/// The order desk: in memory, or in the SQLite file `db`, reaching its dependencies over the
/// network. Connections are made on first use, so the order of starting services is free.
pub fn orders(dependencies: &Dependencies, db: Option<&Path>) -> Result<Host, String> {
    let (open_for, resolve_every) = (dependencies.breaker_open_for, dependencies.resolve_every);
    let inventory = client_builder::<InventoryServiceClient>(open_for, resolve_every)
        .connect_lazy(&dependencies.inventory)
        .map_err(|error| format!("--inventory: {error}"))?;
    // With several inventory servers, a release goes to the one holding the reservation: the
    // servers of the URL list, or the addresses the name resolves to now.
    let named = dependencies.inventory.len() == 1
        && rust_svc_runtime::client::Target::parse(&dependencies.inventory[0]).is_some();
    let mut each_inventory = Vec::new();
    if dependencies.inventory.len() > 1 {
        for server in &dependencies.inventory {
            let client = client_builder::<InventoryServiceClient>(open_for, resolve_every)
                .connect_lazy([server])
                .map_err(|error| format!("--inventory: {error}"))?;
            each_inventory.push(client_stack().wrap(client));
        }
    }
    let dispatch = client_builder::<DispatchServiceClient>(open_for, resolve_every)
        .connect_lazy(&dependencies.dispatch)
        .map_err(|error| format!("--dispatch: {error}"))?;
    // While inventory or dispatch asks for a pause, an order is refused at the door rather
    // than stock reserved and released again because the next hop was full.
    let needs = [inventory.backoff(), dispatch.backoff()];
    let inventory: RemoteInventory = if named {
        let resolved = inventory.clone();
        Inventories::resolved(
            client_stack().wrap(inventory),
            move || resolved.endpoints(),
            move |address| {
                let client = client_builder::<InventoryServiceClient>(open_for, resolve_every)
                    .connect_lazy([format!("http://{address}")])
                    .expect("an address the client resolved is a valid URL");
                client_stack().wrap(client)
            },
        )
    } else {
        Inventories::new(client_stack().wrap(inventory), each_inventory)
    };
    let dispatch: RemoteDispatch = client_stack().wrap(dispatch);
    let desk = match db {
        None => OrderDesk::new(inventory, dispatch),
        Some(path) => OrderDesk::open(path, inventory, dispatch)
            .map_err(|error| format!("orders: {error}"))?,
    };
    let domain = Arc::new(server_stack().wrap(desk));
    let routes = OrderServiceGateway::routes_from_arc(Arc::clone(&domain));
    let create_order = ORDER_SERVICE
        .method("CreateOrder")
        .ok_or("orders.proto has no CreateOrder")?;
    for dependency in needs {
        routes.admission().shed_while(create_order, dependency);
    }
    Ok(Host::new("orders")
        .service(
            ORDER_SERVICE.name,
            Routes::new(OrderServiceGrpc::from_arc(domain).into_service()),
            Some(routes),
        )
        .route("/", get(|| async { Html(ORDERS_PAGE) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_units_replace_every_count_but_the_out_of_stock_ones() {
        assert_eq!(Seed::Demo.stock(), DEMO_STOCK);
        let seeded = Seed::Units(2_000_000).stock();
        for ((warehouse, sku, units), (demo_warehouse, demo_sku, demo_units)) in
            seeded.into_iter().zip(DEMO_STOCK)
        {
            assert_eq!((warehouse, sku), (demo_warehouse, demo_sku));
            let expected = if demo_units == 0 { 0 } else { 2_000_000 };
            assert_eq!(units, expected, "{warehouse} {sku}");
        }
        assert!(seeded.contains(&("wh_us_east", "SKU-20001", 0)));
    }

    #[test]
    fn an_open_duration_override_keeps_the_rest_of_each_methods_breaker() {
        let second = Duration::from_secs(1);
        let specs = [
            InventoryServiceClient::SERVICE,
            DispatchServiceClient::SERVICE,
        ];
        for method in specs.iter().flat_map(|spec| spec.methods) {
            let proto = method
                .circuit_breaker
                .clone()
                .unwrap_or(SlidingWindow::DEFAULT);
            let expected = proto.clone().open_duration(second);
            assert_eq!(
                breaker_open_for(method, second),
                BreakerPolicy::SlidingWindow(expected),
                "{}",
                method.path
            );
        }
        // What the protos say, for the overrides to differ from.
        let reserve = &InventoryServiceClient::SERVICE.methods[1];
        assert_eq!(reserve.method(), "ReserveItems");
        let proto = reserve.circuit_breaker.clone().unwrap();
        assert_eq!(proto.open_duration, Duration::from_secs(30));
        assert_eq!(proto.minimum_calls, 20);
    }

    #[test]
    fn a_method_without_breaker_settings_gets_the_default_window() {
        let bare = MethodInfo::new("/x.v1.X/Bare", rust_svc_runtime::client::MethodKind::Unary);
        let expected = SlidingWindow::DEFAULT.open_duration(Duration::from_millis(250));
        assert_eq!(
            breaker_open_for(&bare, Duration::from_millis(250)),
            BreakerPolicy::SlidingWindow(expected)
        );
    }
}
