//! The desk's dealings with inventory: reserving an order's stock under an idempotency key of
//! its own, and giving it back.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rust_svc_runtime::call::admission::refused_before_work;
use rust_svc_runtime::{Code, Context, Status};
use tokio::time::Instant;

use super::OrderDesk;
use crate::dispatch::v1::DispatchService;
use crate::inventory::v1 as inventory;
use crate::inventory::v1::InventoryService;
use crate::orders::v1::LineItem;

/// How long releasing a reservation may take when an order could not be placed. The release
/// has a budget of its own because the caller's deadline may be what failed the order; a
/// release that fails anyway leaves the units held until the reservation lapses.
pub const COMPENSATION_TIMEOUT: Duration = Duration::from_secs(1);

/// Makes the idempotency keys of the reservations the desk asks for: `<order id>/<desk>-<n>`,
/// where `<desk>` is random per desk and `<n>` counts the desk's reservations. Each call to
/// `ReserveItems` thus has a key of its own, which the generated client repeats on every
/// retry of that call, and no two calls share one: not two attempts at the same order, not two
/// updates racing from the same revision, not a desk that restarted and gives out an order id
/// again that a failed attempt had used.
#[derive(Debug)]
pub(super) struct ReservationKeys {
    desk: u64,
    next: AtomicU64,
}

impl ReservationKeys {
    pub(super) fn new() -> Self {
        // `RandomState` is seeded randomly per process; the clock keeps two desks of one
        // process apart.
        let desk = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
        Self {
            desk,
            next: AtomicU64::new(1),
        }
    }

    /// A key for the next reservation of `order_id`.
    fn next(&self, order_id: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{order_id}/{:016x}-{n}", self.desk)
    }
}

impl<I: InventoryService, D: DispatchService> OrderDesk<I, D> {
    /// Holds `items` for `order_id` with inventory, under a key of its own. When the call fails
    /// in a way that leaves open whether inventory reserved (see [`may_have_reserved`]), the
    /// reservation is withdrawn ([`withdraw`]): nothing else would ever release it, since the
    /// desk never learnt its id.
    pub(super) async fn reserve(
        &self,
        ctx: &Context,
        order_id: &str,
        items: &[LineItem],
    ) -> Result<String, Status> {
        let idempotency_key = self.keys.next(order_id);
        let request = || inventory::ReserveItemsRequest {
            order_id: order_id.to_owned(),
            items: items
                .iter()
                .map(|item| inventory::LineItem {
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                })
                .collect(),
            idempotency_key: idempotency_key.clone(),
        };
        match self.inventory.reserve_items(ctx, request()).await {
            Ok(reservation) => Ok(reservation.reservation_id),
            Err(status) => {
                if may_have_reserved(&status) {
                    let inventory = Arc::clone(&self.inventory);
                    tokio::spawn(withdraw(inventory, compensation_budget(ctx), request()));
                }
                Err(from_inventory("ReserveItems", status))
            }
        }
    }

    /// Gives a reservation back to inventory. Releasing is idempotent on the inventory side,
    /// so a retried call is harmless.
    pub(super) async fn release(
        &self,
        ctx: &Context,
        reservation_id: String,
    ) -> Result<(), Status> {
        self.inventory
            .release_reservation(ctx, inventory::ReleaseReservationRequest { reservation_id })
            .await
            .map_err(|status| from_inventory("ReleaseReservation", status))?;
        Ok(())
    }

    /// Releases the reservation of an order that could not be placed, with a budget of its own
    /// (see [`COMPENSATION_TIMEOUT`]) but the caller's request id. The caller is told why the
    /// order failed, not whether this worked: a failed release leaves the units held until the
    /// reservation lapses, which is inventory's safety net for exactly this case.
    pub(super) async fn compensate(&self, ctx: &Context, reservation_id: String) {
        let _ = self
            .release(&compensation_budget(ctx), reservation_id)
            .await;
    }
}

/// Gives back whatever `request` reserved although its call failed. It is sent again under
/// the same idempotency key, with `budget` (see [`COMPENSATION_TIMEOUT`]): if inventory had
/// made the reservation, it answers with that one; if it had not, it makes it now (or refuses,
/// for want of stock, and there is nothing to give back). Either way the reservation named in
/// the answer is released, and a call under the same key that is still on its way finds that
/// reservation instead of holding the stock again. A withdrawal that fails leaves the units
/// held until the reservation lapses.
///
/// It runs in a task of its own, after the caller has its answer: it is needed exactly when
/// inventory was too slow to answer, and waiting for it would add up to the whole budget to the
/// caller's wait. (A release after dispatch failed is awaited: inventory had just answered.)
async fn withdraw<I: InventoryService>(
    inventory: Arc<I>,
    budget: Context,
    request: inventory::ReserveItemsRequest,
) {
    if let Ok(reservation) = inventory.reserve_items(&budget, request).await {
        let release = inventory::ReleaseReservationRequest {
            reservation_id: reservation.reservation_id,
        };
        let _ = inventory.release_reservation(&budget, release).await;
    }
}

/// The context a compensating call runs under: the caller's request id, and a deadline of its
/// own, since the caller's may be what failed the order.
fn compensation_budget(ctx: &Context) -> Context {
    ctx.child()
        .with_deadline(Instant::now() + COMPENSATION_TIMEOUT)
}

/// Whether a `ReserveItems` call that failed with `status` may have reserved all the same: its
/// answer was lost (the deadline passed, the call was cancelled) or the failure came from
/// somewhere between the desk and inventory's decision. UNAVAILABLE is not among them: it is
/// what a call refused before inventory served it gets (its load shedding, the client's breaker
/// or throttle, no connection), and withdrawing after each of those would double the calls an
/// overloaded inventory is refusing. Nor is a DEADLINE_EXCEEDED that inventory's admission
/// marked as refused before any work (the deadline was out of reach at its current latency):
/// withdrawing would be a reservation made and released on a service already too slow. A
/// connection lost while a reservation was being made thus leaves it to lapse.
fn may_have_reserved(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::DeadlineExceeded | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss
    ) && !refused_before_work(status)
}

/// Translates inventory's status into one that means something to an orders caller: inventory's
/// own NOT_FOUND or UNIMPLEMENTED would be a lie about the order, so anything unexpected becomes
/// UNAVAILABLE, which the caller may retry with the same idempotency key. Its details are kept:
/// a `RetryInfo` (inventory shedding, or its breaker open) tells the caller when to come back.
fn from_inventory(method: &str, status: Status) -> Status {
    let (code, message) = match status.code() {
        Code::FailedPrecondition => (
            Code::FailedPrecondition,
            format!("not enough stock: {}", status.message()),
        ),
        Code::InvalidArgument => (Code::InvalidArgument, status.message().to_owned()),
        Code::DeadlineExceeded => (
            Code::DeadlineExceeded,
            format!("inventory {method} did not answer within the order's deadline"),
        ),
        Code::Cancelled => (Code::Cancelled, status.message().to_owned()),
        code => (
            Code::Unavailable,
            format!(
                "inventory {method} failed with {code:?}: {}",
                status.message()
            ),
        ),
    };
    Status::with_details(code, message, status.details().to_vec().into())
}
