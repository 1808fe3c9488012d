//! The generated client over each protocol it speaks (gRPC, gRPC-Web, Connect) and each HTTP
//! version, against a `Host` port: the same calls, the same answers, the same errors with their
//! details, the same deadlines.

use std::sync::Arc;
use std::time::Duration;

use example_services::inventory::v1::{
    CheckStockRequest, INVENTORY_SERVICE, InventoryService as _, InventoryServiceClient,
    InventoryServiceGateway, InventoryServiceGrpc, WatchStockLevelsRequest,
};
use example_services::inventory_store::InventoryStore;
use futures_util::StreamExt as _;
use rust_svc_runtime::client::{HttpVersion, Protocol};
use rust_svc_runtime::host::{self, Host, Serving, Stop};
use rust_svc_runtime::{Code, Context};
use tonic::service::Routes;
use tonic_types::StatusExt as _;

async fn serve() -> (String, (Serving, Stop)) {
    let store = InventoryStore::new();
    store.set_on_hand("wh_1", "SKU-1", 7).unwrap();
    let domain = Arc::new(store);
    let host = Host::new("inventory").service(
        INVENTORY_SERVICE.name,
        Routes::new(InventoryServiceGrpc::from_arc(Arc::clone(&domain)).into_service()),
        Some(InventoryServiceGateway::routes_from_arc(domain)),
    );
    let listener = host::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Stop::new();
    let serving = host.start(listener, stop.wait()).await.unwrap();
    (format!("http://{addr}"), (serving, stop))
}

const WAYS: [(Protocol, HttpVersion); 5] = [
    (Protocol::Grpc, HttpVersion::Http2),
    (Protocol::GrpcWeb, HttpVersion::Http2),
    (Protocol::GrpcWeb, HttpVersion::Http1),
    (Protocol::Connect, HttpVersion::Http2),
    (Protocol::Connect, HttpVersion::Http1),
];

#[tokio::test]
async fn every_protocol_gives_the_same_answers_errors_and_streams() {
    let (base, _serving) = serve().await;
    for (protocol, version) in WAYS {
        let way = format!("{protocol:?} over {version:?}");
        let client = InventoryServiceClient::builder()
            .protocol(protocol)
            .http_version(version)
            .connect_lazy([&base])
            .unwrap();
        let ctx = Context::new();
        let answer = client
            .check_stock(
                &ctx,
                CheckStockRequest {
                    sku: "SKU-1".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|status| panic!("{way}: {status:?}"));
        assert_eq!(answer.available, 7, "{way}");

        let status = client
            .check_stock(&ctx, CheckStockRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{way}");
        let details = status.get_error_details();
        assert!(
            details.bad_request().is_some(),
            "{way}: the BadRequest detail"
        );

        let status = client
            .check_stock(
                &ctx,
                CheckStockRequest {
                    sku: "SKU-404".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{way}");

        // A watch never ends by itself: the caller's deadline ends it, after the first update.
        let short = Context::new().with_timeout(Duration::from_millis(300));
        let mut updates = client
            .watch_stock_levels(
                &short,
                WatchStockLevelsRequest {
                    skus: vec!["SKU-1".into()],
                },
            )
            .await
            .unwrap_or_else(|status| panic!("{way}: {status:?}"));
        let first = updates.next().await.unwrap().unwrap();
        assert_eq!(first.sku, "SKU-1", "{way}");
        let mut end = None;
        while let Some(item) = updates.next().await {
            if let Err(status) = item {
                end = Some(status.code());
            }
        }
        assert_eq!(end, Some(Code::DeadlineExceeded), "{way}");
    }
}
