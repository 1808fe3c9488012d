//! The streaming rpcs of the order desk: `StreamOrderUpdates` follows status changes, and
//! `UploadOrderItems` collects line items into a draft order.
//!
//! A follow starts with the current status of each followed order (an update whose
//! `previous_status` equals its `status`), then sends every change. Following a set of orders
//! ends once all of them are delivered or cancelled, since nothing about them can change any
//! more; following a customer lasts until the deadline, since they may place new orders.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::StreamExt;
use rust_svc_runtime::wkt::timestamp;
use rust_svc_runtime::{BoxStream, Status};

use super::storage::{Book, Scan};
use super::{Change, OrderDesk, check_item, failed, lock, not_found};
use crate::dispatch::v1::DispatchService;
use crate::errors::invalid;
use crate::inventory::v1::InventoryService;
use crate::orders::v1::{
    LineItem, OrderStatus, OrderUpdate, StreamOrderUpdatesRequest, UploadSummary,
};
use crate::watch::{Watcher, watch};

/// Most orders one `StreamOrderUpdates` call may follow.
pub const MAX_FOLLOWED_ORDERS: usize = 100;
/// Most line items one `UploadOrderItems` call may send.
pub const MAX_UPLOADED_ITEMS: usize = 1000;

#[derive(Debug, Clone)]
enum Following {
    Customer(String),
    Orders(HashSet<String>),
}

impl Following {
    fn covers(&self, customer_id: &str, order_id: &str) -> bool {
        match self {
            Self::Customer(followed) => followed == customer_id,
            Self::Orders(followed) => followed.contains(order_id),
        }
    }
}

fn is_final(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Delivered | OrderStatus::Cancelled)
}

/// The current status of every followed order, in placement order, and those of them that
/// are not final yet.
fn snapshot(
    book: &Book,
    following: &Following,
) -> rusqlite::Result<(Vec<OrderUpdate>, HashSet<String>)> {
    let at = Some(timestamp(SystemTime::now()));
    let mut open = HashSet::new();
    let mut updates = Vec::new();
    book.scan(Scan::OldestFirst, |order| {
        if following.covers(&order.customer_id, &order.order_id) {
            if !is_final(order.status()) {
                open.insert(order.order_id.clone());
            }
            updates.push(OrderUpdate {
                order_id: order.order_id,
                previous_status: order.status,
                status: order.status,
                at,
            });
        }
        true
    })?;
    Ok((updates, open))
}

impl<I: InventoryService, D: DispatchService> OrderDesk<I, D> {
    pub(super) fn follow(
        &self,
        request: StreamOrderUpdatesRequest,
    ) -> Result<BoxStream<OrderUpdate>, Status> {
        let following = match (request.order_ids.len(), request.customer_id) {
            (0, customer_id) if customer_id.is_empty() => {
                return Err(invalid(
                    "customer_id",
                    "name a customer to follow, or set order_ids",
                ));
            }
            (0, customer_id) => Following::Customer(customer_id),
            (count, _) if count > MAX_FOLLOWED_ORDERS => {
                return Err(invalid(
                    "order_ids",
                    format!("at most {MAX_FOLLOWED_ORDERS} orders per call, got {count}"),
                ));
            }
            _ => Following::Orders(request.order_ids.iter().cloned().collect()),
        };
        let book = self.book();
        for (index, order_id) in request.order_ids.iter().enumerate() {
            if order_id.is_empty() {
                return Err(invalid(&format!("order_ids[{index}]"), "must not be empty"));
            }
            if book.find(order_id).map_err(failed)?.is_none() {
                return Err(not_found(order_id));
            }
        }
        if let Following::Customer(customer_id) = &following
            && !book.has_customer(customer_id).map_err(failed)?
        {
            // With nothing to report, the stream would say nothing until its deadline.
            return Err(Status::not_found(format!(
                "customer {customer_id} has no orders to follow"
            )));
        }
        // Subscribed under the lock the snapshot is taken under: no change is missed between
        // the two, and none is seen twice.
        let changes = self.changes.subscribe();
        let (initial, open) = snapshot(&book, &following).map_err(failed)?;
        drop(book);
        let watcher = OrderWatcher {
            book: Arc::clone(&self.book),
            following,
            open,
        };
        Ok(watch(initial, changes, watcher))
    }

    pub(super) async fn upload(
        &self,
        mut requests: BoxStream<LineItem>,
    ) -> Result<UploadSummary, Status> {
        let mut accepted = Vec::new();
        let mut errors = Vec::new();
        let mut count = 0;
        let mut skus = HashSet::new();
        while let Some(item) = requests.next().await {
            let item = item?;
            count += 1;
            if count > MAX_UPLOADED_ITEMS {
                return Err(invalid(
                    "items",
                    format!("at most {MAX_UPLOADED_ITEMS} line items per upload"),
                ));
            }
            let problem = match check_item(&item) {
                Err((field, problem)) => Some(format!("item {count}{field}: {problem}")),
                Ok(()) if !skus.insert(item.sku.clone()) => Some(format!(
                    "item {count}: {} is already in the draft",
                    item.sku
                )),
                Ok(()) => None,
            };
            match problem {
                Some(problem) => errors.push(problem),
                None => accepted.push(item),
            }
        }
        if count == 0 {
            return Err(invalid("items", "the upload had no line items"));
        }
        let accepted_count = accepted.len() as u32;
        // A draft is kept only when there is something in it.
        let order_id = match accepted.is_empty() {
            true => String::new(),
            false => self.book().add_draft(accepted),
        };
        Ok(UploadSummary {
            order_id,
            accepted_count,
            rejected_count: errors.len() as u32,
            errors,
        })
    }

    /// The line items of a draft order made by `UploadOrderItems`.
    pub fn draft(&self, draft_id: &str) -> Option<Vec<LineItem>> {
        self.book().draft(draft_id)
    }
}

/// One `StreamOrderUpdates` call.
struct OrderWatcher {
    book: Arc<Mutex<Book>>,
    following: Following,
    /// The followed orders whose last status sent was not final. Kept from what the stream
    /// sent rather than read from the book, which may be ahead of the changes still queued.
    open: HashSet<String>,
}

impl Watcher for OrderWatcher {
    type Change = Change;
    type Item = OrderUpdate;

    fn on_change(&mut self, change: Change) -> Option<OrderUpdate> {
        let update = change.update;
        if !self.following.covers(&change.customer_id, &update.order_id) {
            return None;
        }
        match is_final(update.status()) {
            true => self.open.remove(&update.order_id),
            false => self.open.insert(update.order_id.clone()),
        };
        Some(update)
    }

    fn on_lag(&mut self) -> Vec<OrderUpdate> {
        match snapshot(&lock(&self.book), &self.following) {
            Ok((updates, open)) => {
                self.open = open;
                updates
            }
            // The book cannot be read now: the stream goes on with the changes still to come,
            // and catches up at the next lag.
            Err(_) => Vec::new(),
        }
    }

    /// A customer may place new orders: following them only ends at the deadline.
    fn is_done(&self) -> bool {
        matches!(self.following, Following::Orders(_)) && self.open.is_empty()
    }
}
