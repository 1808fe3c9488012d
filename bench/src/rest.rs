//! What bench/gateway.sh serves over REST/JSON: one domain implementation of InventoryService
//! with real answers for `CheckStock` and `ReserveItems`, and a hand-written axum + serde front
//! for those two routes, the baseline the generated gateway is compared with.
//!
//! Both fronts call the same [`Inventory`] through the domain trait and must write the same
//! bytes: the script checks that before it measures.

use std::sync::Arc;

use axum::extract::{Json, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use example_services::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, LineItem, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockState, StockUpdate,
    UnimplementedInventoryService, WatchStockLevelsRequest,
};
use rust_svc_runtime::wkt::Timestamp;
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use serde::{Deserialize, Serialize};

/// When the stock figures were "last recomputed": fixed, so that every response has the same
/// bytes and the script can compare the two fronts byte for byte (2026-01-01T00:00:00Z).
const UPDATED_AT: i64 = 1_767_225_600;
/// How long a reservation holds its units.
const RESERVATION_SECONDS: i64 = 15 * 60;

/// The domain both fronts serve. The answers depend on the request (the query binding changes
/// the figures, the body's items are validated), so that a front which dropped a binding would
/// answer differently; they are computed at once, so that the fronts' own costs dominate.
pub struct Inventory;

impl InventoryService for Inventory {
    async fn check_stock(
        &self,
        _ctx: &Context,
        request: CheckStockRequest,
    ) -> Result<CheckStockResponse, Status> {
        if request.sku.is_empty() {
            return Err(Status::invalid_argument("sku is required"));
        }
        // One warehouse holds fewer units than all of them together.
        let (available, state) = if request.warehouse_id.is_empty() {
            (420, StockState::InStock)
        } else {
            (7, StockState::Low)
        };
        Ok(CheckStockResponse {
            sku: request.sku,
            available,
            reserved: 3,
            updated_at: Some(Timestamp {
                seconds: UPDATED_AT,
                nanos: 0,
            }),
            state: state as i32,
        })
    }

    async fn reserve_items(
        &self,
        _ctx: &Context,
        request: ReserveItemsRequest,
    ) -> Result<ReserveItemsResponse, Status> {
        if request.order_id.is_empty() || request.items.is_empty() {
            return Err(Status::invalid_argument("order_id and items are required"));
        }
        if let Some(item) = request.items.iter().find(|item| item.quantity < 1) {
            return Err(Status::invalid_argument(format!(
                "quantity of {} must be at least 1",
                item.sku
            )));
        }
        Ok(ReserveItemsResponse {
            reservation_id: format!("rsv-{}", request.order_id),
            expires_at: Some(Timestamp {
                seconds: UPDATED_AT + RESERVATION_SECONDS,
                nanos: 0,
            }),
        })
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

/// The baseline: the two routes as someone would write them by hand with axum and serde, in
/// front of the same domain. The JSON shapes are written out as structs; the well-known
/// `Timestamp` keeps its serde impl (RFC 3339), which is what a hand-written handler would
/// borrow rather than format dates itself.
pub fn handwritten_router(domain: Arc<Inventory>) -> axum::Router {
    axum::Router::new()
        .route("/v1/items/{sku}/stock", get(check_stock))
        .route("/v1/reservations", post(reserve_items))
        .with_state(domain)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StockQuery {
    // The gateway takes either name, as proto3 JSON readers do; so does this.
    #[serde(default, alias = "warehouse_id")]
    warehouse_id: String,
}

/// `CheckStockResponse` as proto3 JSON writes it: lowerCamelCase names, fields at their default
/// left out, the enum by name.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StockLevel {
    #[serde(skip_serializing_if = "String::is_empty")]
    sku: String,
    #[serde(skip_serializing_if = "is_zero")]
    available: i32,
    #[serde(skip_serializing_if = "is_zero")]
    reserved: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReserveBody {
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    items: Vec<LineItemBody>,
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemBody {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reservation {
    #[serde(skip_serializing_if = "String::is_empty")]
    reservation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
}

#[derive(Serialize)]
struct ErrorBody {
    code: i32,
    message: String,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

async fn check_stock(
    State(domain): State<Arc<Inventory>>,
    Path(sku): Path<String>,
    Query(query): Query<StockQuery>,
) -> Result<Json<StockLevel>, ErrorReply> {
    let request = CheckStockRequest {
        sku,
        warehouse_id: query.warehouse_id,
    };
    let response = domain.check_stock(&Context::new(), request).await?;
    let state = StockState::try_from(response.state)
        .ok()
        .filter(|state| *state != StockState::Unspecified)
        .map(|state| state.as_str_name());
    Ok(Json(StockLevel {
        sku: response.sku,
        available: response.available,
        reserved: response.reserved,
        updated_at: response.updated_at,
        state,
    }))
}

async fn reserve_items(
    State(domain): State<Arc<Inventory>>,
    Json(body): Json<ReserveBody>,
) -> Result<Json<Reservation>, ErrorReply> {
    let request = ReserveItemsRequest {
        order_id: body.order_id,
        items: body
            .items
            .into_iter()
            .map(|item| LineItem {
                sku: item.sku,
                quantity: item.quantity,
            })
            .collect(),
        idempotency_key: body.idempotency_key,
    };
    let response = domain.reserve_items(&Context::new(), request).await?;
    Ok(Json(Reservation {
        reservation_id: response.reservation_id,
        expires_at: response.expires_at,
    }))
}

/// A domain error as a hand-written service would answer it: a status code and a small JSON
/// body. Not on the measured path; it is here so that errors are not 200s.
struct ErrorReply(Status);

impl From<Status> for ErrorReply {
    fn from(status: Status) -> Self {
        Self(status)
    }
}

impl IntoResponse for ErrorReply {
    fn into_response(self) -> Response {
        let http = match self.0.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                StatusCode::BAD_REQUEST
            }
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ErrorBody {
            code: self.0.code() as i32,
            message: self.0.message().to_owned(),
        };
        (http, Json(body)).into_response()
    }
}
