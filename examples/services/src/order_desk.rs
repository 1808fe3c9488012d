//! A hand-written implementation of the orders service: the domain code a team writes against
//! the generated `OrderService` trait.
//!
//! It depends on inventory only through the `InventoryService` trait. In production it is
//! given the generated `InventoryServiceClient` (deadlines, retries and a breaker included); in
//! unit tests a `FakeInventoryService`; in integration tests the client of a fake served over
//! HTTP/2 by the harness. The caller's [`Context`] is passed on unchanged, so inventory gets
//! what is left of the order's deadline and the caller's request id.
//!
//! Orders are kept in memory. `CreateOrder`, `GetOrder`, `ListOrders` and `CancelOrder` are
//! implemented; `UpdateOrder`, `StreamOrderUpdates` and `UploadOrderItems` answer
//! `UNIMPLEMENTED`, which is what the example needs to show and no more.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use rust_svc_runtime::{BoxStream, Code, Context, Status};

use crate::inventory::v1 as inventory;
use crate::inventory::v1::InventoryService;
use crate::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest,
    ListOrdersResponse, Order, OrderService, OrderStatus, OrderUpdate, StreamOrderUpdatesRequest,
    UpdateOrderRequest, UploadSummary,
};

/// Page size of `ListOrders` when the request leaves it at 0.
const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page `ListOrders` returns.
const MAX_PAGE_SIZE: usize = 100;

/// Places orders, reserving their stock with inventory first.
#[derive(Debug)]
pub struct OrderDesk<I> {
    inventory: I,
    book: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    /// In placement order.
    orders: Vec<Placed>,
    /// Idempotency key of a `CreateOrder` → the order it placed.
    by_key: HashMap<String, String>,
    next_id: u64,
}

#[derive(Debug)]
struct Placed {
    order: Order,
    reservation_id: String,
}

impl Book {
    fn find(&mut self, order_id: &str) -> Option<&mut Placed> {
        self.orders
            .iter_mut()
            .find(|placed| placed.order.order_id == order_id)
    }
}

impl<I: InventoryService> OrderDesk<I> {
    /// An order desk with no orders, reserving stock through `inventory`.
    pub fn new(inventory: I) -> Self {
        Self {
            inventory,
            book: Mutex::new(Book::default()),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn placed_by_key(&self, key: &str) -> Option<Order> {
        let mut book = self.book();
        let order_id = book.by_key.get(key)?.clone();
        book.find(&order_id).map(|placed| placed.order.clone())
    }
}

impl<I: InventoryService> OrderService for OrderDesk<I> {
    async fn create_order(
        &self,
        ctx: &Context,
        request: CreateOrderRequest,
    ) -> Result<Order, Status> {
        let mut order = request
            .order
            .ok_or_else(|| Status::invalid_argument("order: required"))?;
        let total_cents = validate(&order)?;
        let key = request.idempotency_key;
        if !key.is_empty()
            && let Some(existing) = self.placed_by_key(&key)
        {
            return Ok(existing);
        }
        let order_id = {
            let mut book = self.book();
            book.next_id += 1;
            format!("ord_{:08x}", book.next_id)
        };
        // The same key goes to inventory, so a retried CreateOrder reuses its reservation.
        let reservation = self
            .inventory
            .reserve_items(
                ctx,
                inventory::ReserveItemsRequest {
                    order_id: order_id.clone(),
                    items: order
                        .items
                        .iter()
                        .map(|item| inventory::LineItem {
                            sku: item.sku.clone(),
                            quantity: item.quantity,
                        })
                        .collect(),
                    idempotency_key: key.clone(),
                },
            )
            .await
            .map_err(|status| from_inventory("ReserveItems", status))?;

        order.order_id = order_id.clone();
        order.status = OrderStatus::Pending.into();
        order.created_at = Some(rust_svc_runtime::wkt::timestamp(SystemTime::now()));
        order.total_cents = total_cents;
        let mut book = self.book();
        // A concurrent call with the same key may have finished first; inventory gave both the
        // same reservation, so its order is the one to return.
        if !key.is_empty() {
            if let Some(existing) = book.by_key.get(&key).cloned()
                && let Some(placed) = book.find(&existing)
            {
                return Ok(placed.order.clone());
            }
            book.by_key.insert(key, order_id);
        }
        book.orders.push(Placed {
            order: order.clone(),
            reservation_id: reservation.reservation_id,
        });
        Ok(order)
    }

    async fn get_order(&self, _ctx: &Context, request: GetOrderRequest) -> Result<Order, Status> {
        let mut book = self.book();
        match book.find(&request.order_id) {
            // Another customer's order is reported as missing, not as forbidden, so that order
            // ids cannot be probed.
            Some(placed)
                if request.customer_id.is_empty()
                    || placed.order.customer_id == request.customer_id =>
            {
                Ok(placed.order.clone())
            }
            _ => Err(not_found(&request.order_id)),
        }
    }

    async fn list_orders(
        &self,
        _ctx: &Context,
        request: ListOrdersRequest,
    ) -> Result<ListOrdersResponse, Status> {
        if !request.filter.is_empty() {
            return Err(Status::unimplemented(
                "filter: the example order desk does not evaluate filter expressions",
            ));
        }
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) => size.min(MAX_PAGE_SIZE),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "page_size: must not be negative, got {}",
                    request.page_size
                )));
            }
        };
        let offset = match request.page_token.as_str() {
            "" => 0,
            token => token.parse::<usize>().map_err(|_| {
                Status::invalid_argument(format!(
                    "page_token: `{token}` is not a token this server issued"
                ))
            })?,
        };
        let book = self.book();
        let newest_first = book.orders.iter().rev().map(|placed| placed.order.clone());
        let orders: Vec<Order> = newest_first.skip(offset).take(page_size).collect();
        let next = offset + orders.len();
        let next_page_token = match next < book.orders.len() {
            true => next.to_string(),
            false => String::new(),
        };
        Ok(ListOrdersResponse {
            orders,
            next_page_token,
        })
    }

    async fn update_order(
        &self,
        _ctx: &Context,
        _request: UpdateOrderRequest,
    ) -> Result<Order, Status> {
        Err(Status::unimplemented(
            "the example order desk does not update orders",
        ))
    }

    async fn cancel_order(
        &self,
        ctx: &Context,
        request: CancelOrderRequest,
    ) -> Result<Order, Status> {
        let reservation_id = {
            let mut book = self.book();
            let placed = book
                .find(&request.order_id)
                .ok_or_else(|| not_found(&request.order_id))?;
            match placed.order.status() {
                OrderStatus::Cancelled => return Ok(placed.order.clone()),
                status @ (OrderStatus::Shipped | OrderStatus::Delivered) => {
                    return Err(Status::failed_precondition(format!(
                        "order {} is {}: it can no longer be cancelled",
                        request.order_id,
                        status.as_str_name()
                    )));
                }
                _ => placed.reservation_id.clone(),
            }
        };
        // Releasing is idempotent on the inventory side, so a retried cancel is harmless.
        self.inventory
            .release_reservation(ctx, inventory::ReleaseReservationRequest { reservation_id })
            .await
            .map_err(|status| from_inventory("ReleaseReservation", status))?;
        let mut book = self.book();
        let placed = book
            .find(&request.order_id)
            .ok_or_else(|| not_found(&request.order_id))?;
        placed.order.status = OrderStatus::Cancelled.into();
        Ok(placed.order.clone())
    }

    async fn stream_order_updates(
        &self,
        _ctx: &Context,
        _request: StreamOrderUpdatesRequest,
    ) -> Result<BoxStream<OrderUpdate>, Status> {
        Err(Status::unimplemented(
            "the example order desk does not stream order updates",
        ))
    }

    async fn upload_order_items(
        &self,
        _ctx: &Context,
        _requests: BoxStream<LineItem>,
    ) -> Result<UploadSummary, Status> {
        Err(Status::unimplemented(
            "the example order desk does not import line items",
        ))
    }
}

/// Checks an order to place and returns its total; errors name the offending field.
fn validate(order: &Order) -> Result<i64, Status> {
    if order.customer_id.is_empty() {
        return Err(Status::invalid_argument("order.customer_id: required"));
    }
    if order.items.is_empty() {
        return Err(Status::invalid_argument(
            "order.items: an order needs at least one item",
        ));
    }
    let mut total: i64 = 0;
    for (index, item) in order.items.iter().enumerate() {
        if item.sku.is_empty() {
            return Err(Status::invalid_argument(format!(
                "order.items[{index}].sku: required"
            )));
        }
        if item.quantity < 1 {
            return Err(Status::invalid_argument(format!(
                "order.items[{index}].quantity: must be at least 1, got {}",
                item.quantity
            )));
        }
        let line = item
            .unit_price_cents
            .checked_mul(i64::from(item.quantity))
            .and_then(|line| total.checked_add(line));
        total = line.ok_or_else(|| {
            Status::invalid_argument(format!(
                "order.items[{index}]: the order total does not fit in 64 bits"
            ))
        })?;
    }
    Ok(total)
}

fn not_found(order_id: &str) -> Status {
    Status::not_found(format!("order {order_id} not found"))
}

/// Translates inventory's status into one that means something to an orders caller: inventory's
/// own NOT_FOUND or UNIMPLEMENTED would be a lie about the order, so anything unexpected becomes
/// UNAVAILABLE, which the caller may retry with the same idempotency key.
fn from_inventory(method: &str, status: Status) -> Status {
    match status.code() {
        Code::FailedPrecondition => {
            Status::failed_precondition(format!("not enough stock: {}", status.message()))
        }
        Code::InvalidArgument => Status::invalid_argument(status.message()),
        Code::DeadlineExceeded => Status::deadline_exceeded(format!(
            "inventory {method} did not answer within the order's deadline"
        )),
        Code::Cancelled => Status::cancelled(status.message()),
        code => Status::unavailable(format!(
            "inventory {method} failed with {code:?}: {}",
            status.message()
        )),
    }
}
