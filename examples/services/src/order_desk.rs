//! A hand-written implementation of the orders service: the domain code a team writes against
//! the generated `OrderService` trait.
//!
//! It depends on inventory and dispatch only through the `InventoryService` and
//! `DispatchService` traits. In production it is given the generated clients (deadlines,
//! retries and a breaker included), or the in-process
//! [`InventoryStore`](crate::inventory_store::InventoryStore) and
//! [`CourierDirectory`](crate::courier_directory::CourierDirectory); in unit tests the
//! generated fakes; in integration tests the clients of fakes served over HTTP/2 by the
//! harness. The caller's [`Context`] is passed on unchanged, so both get what is left of the
//! order's deadline and the caller's request id.
//!
//! Placing an order takes two calls before the order exists: stock is reserved, then a courier
//! is requested. When the second fails, the reservation is released again and the order is not
//! placed. Every reservation carries an idempotency key of its own (see `ReservationKeys`),
//! so that the generated inventory client may retry it without ever holding the stock twice,
//! and so that a reservation whose answer was lost (the order's deadline passed while inventory
//! was making it) can be found again and released rather than held until it lapses: `stock.rs`.
//!
//! Orders are kept in SQLite, in memory ([`OrderDesk::new`]) or in a file that a restarted
//! process opens again ([`OrderDesk::open`]); `storage.rs` holds the tables and what they
//! guarantee. Every rpc is served: placing, reading, listing (with the `filter` subset of
//! AIP-160), updating and cancelling orders here; following their status changes (in memory,
//! through a broadcast channel) and importing line items into drafts in [`streams`]. Each
//! order carries a revision that every change bumps: a change that had to call inventory first
//! applies only if the order is still at the revision it read, so concurrent changes never
//! lose a reservation.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::SystemTime;

use rust_svc_runtime::wkt::timestamp;
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::broadcast;

use crate::db::{self, Location, StorageError};
use crate::dispatch::v1::{DispatchService, RequestCourierRequest};
use crate::errors::invalid;
use crate::inventory::v1::InventoryService;
use crate::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, LineItem, ListOrdersRequest,
    ListOrdersResponse, Order, OrderService, OrderStatus, OrderUpdate, StreamOrderUpdatesRequest,
    UpdateOrderRequest, UploadSummary,
};

mod filter;
mod stock;
mod storage;
pub mod streams;
mod update;

use self::filter::Filter;
pub use self::stock::COMPENSATION_TIMEOUT;
use self::stock::ReservationKeys;
use self::storage::{Book, Inserted, Scan};

/// Page size of `ListOrders` when the request leaves it at 0.
const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page `ListOrders` returns.
const MAX_PAGE_SIZE: usize = 100;
/// Status changes a `StreamOrderUpdates` watcher may fall behind by before it is sent the
/// current statuses again.
const UPDATES_BUFFER: usize = 1024;

/// Places orders, reserving their stock with inventory and requesting a courier from dispatch
/// first.
#[derive(Debug)]
pub struct OrderDesk<I, D> {
    /// Shared with the tasks that withdraw reservations whose answer was lost.
    inventory: Arc<I>,
    dispatch: D,
    book: Arc<Mutex<Book>>,
    changes: broadcast::Sender<Change>,
    keys: ReservationKeys,
    /// One lock per idempotency key of a `CreateOrder` in progress, so that concurrent calls
    /// with the same key run one after the other and the second finds the first's order
    /// instead of reserving stock and requesting a courier for an order that is never placed.
    /// Entries die with their last holder and are pruned as new keys arrive.
    creating: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// A status change, with the customer it concerns so that their followers see it.
#[derive(Debug, Clone)]
struct Change {
    customer_id: String,
    update: OrderUpdate,
}

/// An order with what the desk keeps beside it.
#[derive(Debug, Clone)]
struct Placed {
    order: Order,
    reservation_id: String,
    /// Bumped by every change of the order.
    revision: i64,
    /// Why it was cancelled, for support staff.
    cancel_reason: String,
}

impl<I: InventoryService, D: DispatchService> OrderDesk<I, D> {
    /// An order desk with no orders, kept in memory, reserving stock through `inventory` and
    /// requesting couriers from `dispatch`.
    pub fn new(inventory: I, dispatch: D) -> Self {
        let db = db::open_in_memory(storage::SCHEMA);
        // An empty in-memory table has nothing to read, so only a broken build could fail.
        let book = Book::over(db)
            .unwrap_or_else(|error| panic!("an empty in-memory order book always opens: {error}"));
        Self::over(book, inventory, dispatch)
    }

    /// The order desk kept in the SQLite file at `path`, created (with its tables) when
    /// missing: it has every order stored there, and gives new orders ids after the highest
    /// stored one. Another store may keep its tables in the same file; another desk may not
    /// (both would give out the same ids).
    pub fn open(path: impl AsRef<Path>, inventory: I, dispatch: D) -> Result<Self, StorageError> {
        let path = path.as_ref();
        let db = db::open(Location::File(path), storage::SCHEMA)?;
        let book = Book::over(db).map_err(|source| StorageError::new(path, source))?;
        Ok(Self::over(book, inventory, dispatch))
    }

    fn over(book: Book, inventory: I, dispatch: D) -> Self {
        Self {
            inventory: Arc::new(inventory),
            dispatch,
            book: Arc::new(Mutex::new(book)),
            changes: broadcast::channel(UPDATES_BUFFER).0,
            keys: ReservationKeys::new(),
            creating: Mutex::new(HashMap::new()),
        }
    }

    /// The lock of `CreateOrder` calls with idempotency key `key`.
    fn creating(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut creating = self.creating.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = creating.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        creating.retain(|_, lock| lock.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        creating.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    /// The order `order_id`, or NOT_FOUND.
    fn find(&self, order_id: &str) -> Result<Placed, Status> {
        self.book()
            .find(order_id)
            .map_err(failed)?
            .ok_or_else(|| not_found(order_id))
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
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(PoisonError::into_inner)
}

fn failed(error: rusqlite::Error) -> Status {
    db::failed("orders")(error)
}

impl<I: InventoryService, D: DispatchService> OrderService for OrderDesk<I, D> {
    async fn create_order(
        &self,
        ctx: &Context,
        request: CreateOrderRequest,
    ) -> Result<Order, Status> {
        let mut order = request.order.ok_or_else(|| invalid("order", "required"))?;
        let total_cents = validate(&order)?;
        let key = request.idempotency_key;
        let in_progress = (!key.is_empty()).then(|| self.creating(&key));
        let _one_at_a_time = match &in_progress {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        if !key.is_empty()
            && let Some(existing) = self.book().order_by_key(&key).map_err(failed)?
        {
            return Ok(existing);
        }
        let order_id = self.book().next_id("ord");
        let reservation_id = self.reserve(ctx, &order_id, &order.items).await?;
        let courier = RequestCourierRequest {
            order_id: order_id.clone(),
            pickup: None,
            dropoff: None,
        };
        // Dispatch's status is the order's, as the proto promises ("fails with that service's
        // status").
        let assignment = match self.dispatch.request_courier(ctx, courier).await {
            Ok(assignment) => assignment,
            Err(status) => {
                self.compensate(ctx, reservation_id).await;
                return Err(status);
            }
        };

        order.order_id = order_id;
        order.assignment_id = assignment.assignment_id;
        order.status = OrderStatus::Pending.into();
        order.created_at = Some(timestamp(SystemTime::now()));
        order.total_cents = total_cents;
        let placed = Placed {
            order,
            reservation_id,
            revision: 0,
            cancel_reason: String::new(),
        };
        let key = Some(key.as_str()).filter(|key| !key.is_empty());
        let inserted = {
            let mut book = self.book();
            let inserted = book.insert(&placed, key);
            if let Ok(Inserted::New) = inserted {
                // Under the lock the order was written under, so followers see changes in the
                // order they happened.
                self.announce(&placed.order, OrderStatus::Unspecified);
            }
            inserted
        };
        match inserted {
            Ok(Inserted::New) => Ok(placed.order),
            // Only a second desk on the same file gets here, which `open` warns against (calls
            // of this desk with the key waited for each other above): the order placed first
            // stands and this attempt's stock goes back. The courier requested for this
            // attempt's order id stays requested: dispatch has no call to withdraw one.
            Ok(Inserted::Existing(existing)) => {
                self.compensate(ctx, placed.reservation_id).await;
                Ok(existing)
            }
            Err(error) => {
                self.compensate(ctx, placed.reservation_id).await;
                Err(failed(error))
            }
        }
    }

    async fn get_order(&self, _ctx: &Context, request: GetOrderRequest) -> Result<Order, Status> {
        let placed = self.find(&request.order_id)?;
        // Another customer's order is reported as missing, not as forbidden, so that order ids
        // cannot be probed.
        if !request.customer_id.is_empty() && placed.order.customer_id != request.customer_id {
            return Err(not_found(&request.order_id));
        }
        Ok(placed.order)
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
        // The page, then one more matching order, if any, to tell whether there is a next page.
        let mut skipped = 0;
        let mut page = Vec::new();
        let mut more = false;
        book.scan(Scan::NewestFirst, |order| {
            if !filter.matches(&order) {
                return true;
            }
            if skipped < offset {
                skipped += 1;
                return true;
            }
            if page.len() == page_size {
                more = true;
                return false;
            }
            page.push(order);
            true
        })
        .map_err(failed)?;
        let orders = page
            .into_iter()
            .map(|order| book.items_of(order))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        let next_page_token = match more {
            true => (offset + orders.len()).to_string(),
            false => String::new(),
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
        let placed = self.find(&request.order_id)?;
        match placed.order.status() {
            OrderStatus::Cancelled => return Ok(placed.order),
            status @ (OrderStatus::Shipped | OrderStatus::Delivered) => {
                return Err(crate::errors::refused(
                    "ORDER_STATUS",
                    &request.order_id,
                    format!("is {}: it can no longer be cancelled", status.as_str_name()),
                ));
            }
            _ => {}
        }
        let read_at = placed.revision;
        // Released first: if inventory fails, the order stays as it was and the call can be
        // retried.
        self.release(ctx, placed.reservation_id).await?;
        let mut book = self.book();
        let mut cancelled = book
            .find(&request.order_id)
            .map_err(failed)?
            .ok_or_else(|| not_found(&request.order_id))?;
        let previous = cancelled.order.status();
        if previous == OrderStatus::Cancelled {
            return Ok(cancelled.order);
        }
        cancelled.order.status = OrderStatus::Cancelled.into();
        cancelled.revision = read_at + 1;
        cancelled.cancel_reason = request.reason;
        // Saved only at the revision read before the release: an update that swapped the
        // reservation meanwhile made the one released its old one.
        if !book.save(&cancelled, read_at).map_err(failed)? {
            return Err(changed_meanwhile(&request.order_id));
        }
        self.announce(&cancelled.order, previous);
        Ok(cancelled.order)
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

#[cfg(test)]
mod tests;
