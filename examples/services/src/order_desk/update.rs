//! `UpdateOrder`: changes the customer, currency or items of a pending order, as its update
//! mask says. New items are reserved before the order changes and the old reservation is
//! released after, so the order never holds less stock than its items need.

use rust_svc_runtime::wkt::FieldMask;
use rust_svc_runtime::{Context, Status};

use super::{OrderDesk, changed_meanwhile, not_found, validate};
use crate::errors::{invalid, refused};
use crate::inventory::v1::InventoryService;
use crate::orders::v1::{Order, OrderStatus, UpdateOrderRequest};

/// The fields of `Order` an update may change.
#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    customer_id: bool,
    items: bool,
    currency: bool,
}

impl Fields {
    /// The fields `mask` names; without a mask (or an empty one), those set in `changes`,
    /// as AIP-134 has it for a partial update without a mask.
    fn of(mask: Option<&FieldMask>, changes: &Order) -> Result<Self, Status> {
        let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
        if paths.is_empty() {
            return Ok(Self {
                customer_id: !changes.customer_id.is_empty(),
                items: !changes.items.is_empty(),
                currency: !changes.currency.is_empty(),
            });
        }
        let mut fields = Self::default();
        for path in paths {
            match path.as_str() {
                "customer_id" => fields.customer_id = true,
                "items" => fields.items = true,
                "currency" => fields.currency = true,
                "status" => {
                    return Err(invalid(
                        "update_mask",
                        "`status` is output only; cancel an order with CancelOrder",
                    ));
                }
                "order_id" | "created_at" | "total_cents" => {
                    return Err(invalid("update_mask", format!("`{path}` is output only")));
                }
                _ => {
                    return Err(invalid(
                        "update_mask",
                        format!(
                            "`{path}` is not a field an update can change \
                             (customer_id, items, currency)"
                        ),
                    ));
                }
            }
        }
        Ok(fields)
    }
}

impl<I: InventoryService> OrderDesk<I> {
    pub(super) async fn update(
        &self,
        ctx: &Context,
        request: UpdateOrderRequest,
    ) -> Result<Order, Status> {
        let changes = request.order.ok_or_else(|| invalid("order", "required"))?;
        let order_id = changes.order_id.clone();
        if order_id.is_empty() {
            return Err(invalid("order.order_id", "required"));
        }
        let fields = Fields::of(request.update_mask.as_ref(), &changes)?;
        let (current, revision) = {
            let mut book = self.book();
            let placed = book.find(&order_id).ok_or_else(|| not_found(&order_id))?;
            let status = placed.order.status();
            if status != OrderStatus::Pending {
                return Err(refused(
                    "ORDER_STATUS",
                    &order_id,
                    format!(
                        "is {}: only ORDER_STATUS_PENDING orders can be updated",
                        status.as_str_name()
                    ),
                ));
            }
            (placed.order.clone(), placed.revision)
        };
        let mut updated = current.clone();
        if fields.customer_id {
            updated.customer_id = changes.customer_id;
        }
        if fields.currency {
            updated.currency = changes.currency;
        }
        if fields.items {
            updated.items = changes.items;
        }
        updated.total_cents = validate(&updated)?;
        if updated == current {
            return Ok(current);
        }
        let reservation = match updated.items == current.items {
            true => None,
            // Not keyed: an update is not retried, and a second one must reserve afresh.
            false => Some(
                self.reserve(ctx, &order_id, &updated.items, String::new())
                    .await?,
            ),
        };
        let outcome = {
            let mut book = self.book();
            match book.find(&order_id) {
                Some(placed) if placed.revision == revision => {
                    placed.order = updated.clone();
                    placed.revision += 1;
                    let replaced =
                        reservation.map(|new| std::mem::replace(&mut placed.reservation_id, new));
                    Ok(replaced)
                }
                _ => Err(reservation),
            }
        };
        // A release that fails leaves the units held until the reservation lapses, which is
        // inventory's own safety net; the update itself has happened (or not) either way.
        match outcome {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    let _ = self.release(ctx, old).await;
                }
                Ok(updated)
            }
            Err(unused) => {
                if let Some(new) = unused {
                    let _ = self.release(ctx, new).await;
                }
                Err(changed_meanwhile(&order_id))
            }
        }
    }
}
