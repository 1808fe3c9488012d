//! A hand-written implementation of the orders service: the domain code a team writes against
//! the generated `OrderService` trait.
//!
//! It depends on inventory only through the `InventoryService` trait. In production it is
//! given the generated `InventoryServiceClient` (deadlines, retries and a breaker included), or
//! the in-process [`InventoryStore`](crate::inventory_store::InventoryStore); in unit tests a
//! `FakeInventoryService`; in integration tests the client of a fake served over HTTP/2 by the
//! harness. The caller's [`Context`] is passed on unchanged, so inventory gets what is left of
//! the order's deadline and the caller's request id.
//!
//! Orders are kept in memory, and every rpc is served: placing, reading, listing (with the
//! `filter` subset of AIP-160), updating and cancelling orders here; following their status
//! changes and importing line items into drafts in [`streams`]. Each order carries a revision
//! that every change bumps: a change that had to call inventory first applies only if the
//! order is still at the revision it read, so concurrent changes never lose a reservation.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use rust_svc_runtime::wkt::timestamp;
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use tokio::sync::broadcast;

use crate::errors::invalid;
use crate::inventory::v1 as inventory;
use crate::inventory::v1::InventoryService;
use crate::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest,
    ListOrdersResponse, Order, OrderService, OrderStatus, OrderUpdate, StreamOrderUpdatesRequest,
    UpdateOrderRequest, UploadSummary,
};

mod filter;
pub mod streams;
mod update;

use self::filter::Filter;

/// Page size of `ListOrders` when the request leaves it at 0.
const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page `ListOrders` returns.
const MAX_PAGE_SIZE: usize = 100;
/// Status changes a `StreamOrderUpdates` watcher may fall behind by before it is sent the
/// current statuses again.
const UPDATES_BUFFER: usize = 1024;

/// Places orders, reserving their stock with inventory first.
#[derive(Debug)]
pub struct OrderDesk<I> {
    inventory: I,
    book: Arc<Mutex<Book>>,
    changes: broadcast::Sender<Change>,
}

/// A status change, with the customer it concerns so that their followers see it.
#[derive(Debug, Clone)]
struct Change {
    customer_id: String,
    update: OrderUpdate,
}

#[derive(Debug, Default)]
struct Book {
    /// In placement order.
    orders: Vec<Placed>,
    /// Order id → position in `orders`.
    index: HashMap<String, usize>,
    /// Idempotency key of a `CreateOrder` → the order it placed.
    by_key: HashMap<String, String>,
    /// Draft orders of `UploadOrderItems`, by id: line items not yet placed.
    drafts: HashMap<String, Vec<LineItem>>,
    next_id: u64,
}

#[derive(Debug)]
struct Placed {
    order: Order,
    reservation_id: String,
    /// Bumped by every change of the order.
    revision: u64,
    /// Why it was cancelled, for support staff.
    cancel_reason: String,
}

impl Book {
    fn find(&mut self, order_id: &str) -> Option<&mut Placed> {
        let position = *self.index.get(order_id)?;
        self.orders.get_mut(position)
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{:08x}", self.next_id)
    }
}

impl<I: InventoryService> OrderDesk<I> {
    /// An order desk with no orders, reserving stock through `inventory`.
    pub fn new(inventory: I) -> Self {
        Self {
            inventory,
            book: Arc::new(Mutex::new(Book::default())),
            changes: broadcast::channel(UPDATES_BUFFER).0,
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    fn placed_by_key(&self, key: &str) -> Option<Order> {
        let mut book = self.book();
        let order_id = book.by_key.get(key)?.clone();
        book.find(&order_id).map(|placed| placed.order.clone())
    }

    /// Tells the followers of an order that its status went from `previous` to its current one.
    /// Called with the book locked, so that followers see changes in the order they happened.
    fn announce(&self, order: &Order, previous: OrderStatus) {
        let update = OrderUpdate {
            order_id: order.order_id.clone(),
            previous_status: previous.into(),
            status: order.status,
            at: Some(timestamp(SystemTime::now())),
        };
        // Nobody following is not an error.
        let _ = self.changes.send(Change {
            customer_id: order.customer_id.clone(),
            update,
        });
    }

    /// Holds `items` for `order_id` with inventory.
    async fn reserve(
        &self,
        ctx: &Context,
        order_id: &str,
        items: &[LineItem],
        idempotency_key: String,
    ) -> Result<String, Status> {
        let reservation = self
            .inventory
            .reserve_items(
                ctx,
                inventory::ReserveItemsRequest {
                    order_id: order_id.to_owned(),
                    items: items
                        .iter()
                        .map(|item| inventory::LineItem {
                            sku: item.sku.clone(),
                            quantity: item.quantity,
                        })
                        .collect(),
                    idempotency_key,
                },
            )
            .await
            .map_err(|status| from_inventory("ReserveItems", status))?;
        Ok(reservation.reservation_id)
    }

    /// Gives a reservation back to inventory. Releasing is idempotent on the inventory side,
    /// so a retried call is harmless.
    async fn release(&self, ctx: &Context, reservation_id: String) -> Result<(), Status> {
        self.inventory
            .release_reservation(ctx, inventory::ReleaseReservationRequest { reservation_id })
            .await
            .map_err(|status| from_inventory("ReleaseReservation", status))?;
        Ok(())
    }
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<I: InventoryService> OrderService for OrderDesk<I> {
    async fn create_order(
        &self,
        ctx: &Context,
        request: CreateOrderRequest,
    ) -> Result<Order, Status> {
        let mut order = request.order.ok_or_else(|| invalid("order", "required"))?;
        let total_cents = validate(&order)?;
        let key = request.idempotency_key;
        if !key.is_empty()
            && let Some(existing) = self.placed_by_key(&key)
        {
            return Ok(existing);
        }
        let order_id = self.book().next_id("ord");
        // The same key goes to inventory, so a retried CreateOrder reuses its reservation.
        let reservation_id = self
            .reserve(ctx, &order_id, &order.items, key.clone())
            .await?;

        order.order_id = order_id.clone();
        order.status = OrderStatus::Pending.into();
        order.created_at = Some(timestamp(SystemTime::now()));
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
            book.by_key.insert(key, order_id.clone());
        }
        let position = book.orders.len();
        book.index.insert(order_id, position);
        book.orders.push(Placed {
            order: order.clone(),
            reservation_id,
            revision: 0,
            cancel_reason: String::new(),
        });
        self.announce(&order, OrderStatus::Unspecified);
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
        let mut filter = Filter::parse(&request.filter)?;
        #[allow(deprecated)]
        let status_filter = request.status_filter;
        match OrderStatus::try_from(status_filter) {
            Ok(OrderStatus::Unspecified) => {}
            Ok(status) => filter = filter.and_status(status),
            Err(_) => {
                return Err(invalid(
                    "status_filter",
                    format!("{status_filter} is not an order status"),
                ));
            }
        }
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) => size.min(MAX_PAGE_SIZE),
            Err(_) => {
                return Err(invalid(
                    "page_size",
                    format!("must not be negative, got {}", request.page_size),
                ));
            }
        };
        let offset = match request.page_token.as_str() {
            "" => 0,
            token => token.parse::<usize>().map_err(|_| {
                invalid(
                    "page_token",
                    format!("`{token}` is not a token this server issued"),
                )
            })?,
        };
        let book = self.book();
        let mut matching = book
            .orders
            .iter()
            .rev()
            .filter(|placed| filter.matches(&placed.order))
            .skip(offset);
        let orders: Vec<Order> = matching
            .by_ref()
            .take(page_size)
            .map(|placed| placed.order.clone())
            .collect();
        let next_page_token = match matching.next() {
            Some(_) => (offset + orders.len()).to_string(),
            None => String::new(),
        };
        Ok(ListOrdersResponse {
            orders,
            next_page_token,
        })
    }

    async fn update_order(
        &self,
        ctx: &Context,
        request: UpdateOrderRequest,
    ) -> Result<Order, Status> {
        self.update(ctx, request).await
    }

    async fn cancel_order(
        &self,
        ctx: &Context,
        request: CancelOrderRequest,
    ) -> Result<Order, Status> {
        let (reservation_id, revision) = {
            let mut book = self.book();
            let placed = book
                .find(&request.order_id)
                .ok_or_else(|| not_found(&request.order_id))?;
            match placed.order.status() {
                OrderStatus::Cancelled => return Ok(placed.order.clone()),
                status @ (OrderStatus::Shipped | OrderStatus::Delivered) => {
                    return Err(crate::errors::refused(
                        "ORDER_STATUS",
                        &request.order_id,
                        format!("is {}: it can no longer be cancelled", status.as_str_name()),
                    ));
                }
                _ => (placed.reservation_id.clone(), placed.revision),
            }
        };
        // Released first: if inventory fails, the order stays as it was and the call can be
        // retried.
        self.release(ctx, reservation_id).await?;
        let mut book = self.book();
        let placed = book
            .find(&request.order_id)
            .ok_or_else(|| not_found(&request.order_id))?;
        if placed.order.status() == OrderStatus::Cancelled {
            return Ok(placed.order.clone());
        }
        if placed.revision != revision {
            // An update swapped the reservation meanwhile; the one released was its old one.
            return Err(changed_meanwhile(&request.order_id));
        }
        let previous = placed.order.status();
        placed.order.status = OrderStatus::Cancelled.into();
        placed.revision += 1;
        placed.cancel_reason = request.reason;
        let order = placed.order.clone();
        self.announce(&order, previous);
        Ok(order)
    }

    async fn stream_order_updates(
        &self,
        _ctx: &Context,
        request: StreamOrderUpdatesRequest,
    ) -> Result<BoxStream<OrderUpdate>, Status> {
        self.follow(request)
    }

    async fn upload_order_items(
        &self,
        _ctx: &Context,
        requests: BoxStream<LineItem>,
    ) -> Result<UploadSummary, Status> {
        self.upload(requests).await
    }
}

/// Checks an order to place and returns its total; errors name the offending field.
fn validate(order: &Order) -> Result<i64, Status> {
    if order.customer_id.is_empty() {
        return Err(invalid("order.customer_id", "required"));
    }
    if order.items.is_empty() {
        return Err(invalid("order.items", "an order needs at least one item"));
    }
    let iso_4217 = |code: &str| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    if !order.currency.is_empty() && !iso_4217(&order.currency) {
        return Err(invalid(
            "order.currency",
            format!("`{}` is not an ISO 4217 code such as USD", order.currency),
        ));
    }
    let mut total: i64 = 0;
    let mut skus = HashSet::new();
    for (index, item) in order.items.iter().enumerate() {
        check_item(item).map_err(|(field, problem)| {
            invalid(&format!("order.items[{index}]{field}"), problem)
        })?;
        if !skus.insert(item.sku.as_str()) {
            return Err(invalid(
                &format!("order.items[{index}].sku"),
                format!(
                    "{} is already on the order; raise its quantity instead",
                    item.sku
                ),
            ));
        }
        let line = item
            .unit_price_cents
            .checked_mul(i64::from(item.quantity))
            .and_then(|line| total.checked_add(line));
        total = line.ok_or_else(|| {
            invalid(
                &format!("order.items[{index}]"),
                "the order total does not fit in 64 bits",
            )
        })?;
    }
    Ok(total)
}

/// The problem of one line item, as (field suffix, description).
fn check_item(item: &LineItem) -> Result<(), (&'static str, String)> {
    if item.sku.is_empty() {
        return Err((".sku", "required".to_owned()));
    }
    if item.quantity < 1 {
        return Err((
            ".quantity",
            format!("must be at least 1, got {}", item.quantity),
        ));
    }
    if item.unit_price_cents < 0 {
        return Err((
            ".unit_price_cents",
            format!("must not be negative, got {}", item.unit_price_cents),
        ));
    }
    Ok(())
}

fn not_found(order_id: &str) -> Status {
    Status::not_found(format!("order {order_id} not found"))
}

/// Another change of the order won the race; the caller may read it and try again.
fn changed_meanwhile(order_id: &str) -> Status {
    Status::aborted(format!(
        "order {order_id} changed while this call was in progress; read it and retry"
    ))
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

#[cfg(test)]
mod tests;
