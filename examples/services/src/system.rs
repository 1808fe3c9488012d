//! The example system in one process: the in-memory inventory, the courier directory, and the
//! order desk calling both in-process, each served over gRPC and, from its
//! `google.api.http` rules, over REST/JSON, all on one port. The `example_gateway` binary runs
//! it; the REST tests serve it on an ephemeral port.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rust_svc_runtime::Context;
use rust_svc_runtime::gateway::{Gateway, GatewayError, Router};
use rust_svc_runtime::server::StampDeadlines;
use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::courier_directory::CourierDirectory;
use crate::dispatch::v1::{DispatchServiceGateway, DispatchServiceGrpc};
use crate::inventory::v1::{InventoryServiceGateway, InventoryServiceGrpc};
use crate::inventory_store::InventoryStore;
use crate::order_desk::OrderDesk;
use crate::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, LineItem, Order, OrderService, OrderServiceGateway,
    OrderServiceGrpc,
};

/// The stock of the demo system: (warehouse, SKU, units on hand). SKU-20001 is out of stock, to
/// show an order refused.
pub const DEMO_STOCK: [(&str, &str, i64); 5] = [
    ("wh_eu_west", "SKU-10042", 120),
    ("wh_us_east", "SKU-10042", 30),
    ("wh_eu_west", "SKU-10043", 40),
    ("wh_us_east", "SKU-10043", 4),
    ("wh_us_east", "SKU-20001", 0),
];

/// The couriers of the demo system, off shift until their app opens `StreamAssignments`.
pub const DEMO_COURIERS: [&str; 3] = ["cour_1", "cour_2", "cour_3"];

/// The three services, sharing state however they are reached.
#[derive(Debug, Clone)]
pub struct ExampleSystem {
    /// Stock and reservations.
    pub inventory: InventoryStore,
    /// Orders, reserving stock with `inventory` and requesting couriers from `dispatch`
    /// in-process.
    pub orders: Arc<OrderDesk<InventoryStore, CourierDirectory>>,
    /// Couriers and their shifts.
    pub dispatch: CourierDirectory,
}

impl ExampleSystem {
    /// A system over `inventory` and `dispatch`, with an order desk that has no orders yet.
    pub fn new(inventory: InventoryStore, dispatch: CourierDirectory) -> Self {
        Self {
            orders: Arc::new(OrderDesk::new(inventory.clone(), dispatch.clone())),
            inventory,
            dispatch,
        }
    }

    /// A system to try out: stock in two warehouses, three off-shift couriers, and three
    /// orders, `ord_00000001` to `ord_00000003` (customers `c_42` and `c_7`; the second is
    /// cancelled), whose assignments wait for the first courier to come on shift. Ids are
    /// given out in sequence, so they are known in advance, which is what
    /// tests/openapi/schemathesis.toml relies on to reach past NOT_FOUND.
    pub async fn demo() -> Self {
        let inventory = InventoryStore::new();
        for (warehouse, sku, on_hand) in DEMO_STOCK {
            inventory
                .set_on_hand(warehouse, sku, on_hand)
                .expect("demo stock counts are valid");
        }
        let dispatch = CourierDirectory::new();
        for courier in DEMO_COURIERS {
            dispatch
                .add_courier(courier)
                .expect("demo courier ids are valid");
        }
        let system = Self::new(inventory, dispatch);
        let orders = [
            ("c_42", "SKU-10042", 2, 1250),
            ("c_42", "SKU-10043", 1, 499),
            ("c_7", "SKU-10042", 5, 1250),
        ];
        let ctx = Context::new();
        for (customer_id, sku, quantity, unit_price_cents) in orders {
            let order = Order {
                customer_id: customer_id.into(),
                items: vec![LineItem {
                    sku: sku.into(),
                    quantity,
                    unit_price_cents,
                }],
                currency: "USD".into(),
                ..Default::default()
            };
            let request = CreateOrderRequest {
                order: Some(order),
                idempotency_key: String::new(),
            };
            system
                .orders
                .create_order(&ctx, request)
                .await
                .expect("demo orders are in stock");
        }
        let cancel = CancelOrderRequest {
            order_id: "ord_00000002".into(),
            reason: "demo".into(),
        };
        system
            .orders
            .cancel_order(&ctx, cancel)
            .await
            .expect("the demo order can be cancelled");
        system
    }

    /// One router for every rpc: gRPC by service path, REST by the route tables.
    pub fn router(&self) -> Result<Router, GatewayError> {
        let gateway = Gateway::builder()
            .service(InventoryServiceGateway::routes(self.inventory.clone()))
            .service(OrderServiceGateway::routes_from_arc(Arc::clone(
                &self.orders,
            )))
            .service(DispatchServiceGateway::routes(self.dispatch.clone()))
            .build()?;
        let grpc = tonic::service::Routes::new(
            InventoryServiceGrpc::new(self.inventory.clone()).into_service(),
        )
        .add_service(OrderServiceGrpc::from_arc(Arc::clone(&self.orders)).into_service())
        .add_service(DispatchServiceGrpc::new(self.dispatch.clone()).into_service());
        Ok(gateway.with_grpc(grpc))
    }

    /// Serves gRPC (HTTP/2) and REST (HTTP/1.1 and HTTP/2) on `listener` until `shutdown`
    /// completes, then waits for the calls in flight: open streams included, so a caller that
    /// cannot wait for them bounds this with a timeout.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let router = self.router().map_err(ServeError::Routes)?;
        let incoming = futures_util::stream::unfold(listener, |listener| async move {
            let accepted = listener.accept().await.map(|(stream, _peer)| {
                // Small unary messages must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                stream
            });
            Some((accepted, listener))
        });
        Server::builder()
            // The deadline counts from when the call arrived, not from when the router got
            // to it (see `StampDeadlines`).
            .layer(StampDeadlines)
            .accept_http1(true)
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(ServeError::Transport)
    }

    /// Binds `addr` for [`ExampleSystem::serve`], returning the address bound (the port chosen
    /// when `addr`'s is 0).
    pub async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    }
}

/// Why [`ExampleSystem::serve`] stopped.
#[derive(Debug)]
pub enum ServeError {
    /// Two services' routes collide (a bug of the protos, which the generator rejects).
    Routes(GatewayError),
    /// The server failed.
    Transport(tonic::transport::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Routes(error) => write!(f, "the routes do not fit together: {error}"),
            Self::Transport(error) => write!(f, "the server failed: {error}"),
        }
    }
}

impl std::error::Error for ServeError {}
