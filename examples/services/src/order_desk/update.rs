//! `UpdateOrder`: changes the customer, currency or items of a pending order, as its update
//! mask says. New items are reserved before the order changes and the old reservation is
//! released after, so the order never holds less stock than its items need.

use rust_svc_runtime::wkt::FieldMask;
use rust_svc_runtime::{Context, Status};

use super::{OrderDesk, Placed, changed_meanwhile, failed, validate};
use crate::dispatch::v1::DispatchService;
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

impl<I: InventoryService, D: DispatchService> OrderDesk<I, D> {
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
        let placed = self.find(&order_id)?;
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
        let current = &placed.order;
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
        if updated == *current {
            return Ok(updated);
        }
        let reservation = match updated.items == current.items {
            true => None,
            // Under a key of its own: an update that failed reserves afresh next time.
            false => Some(self.reserve(ctx, &order_id, &updated.items).await?),
        };
        let changed = Placed {
            order: updated,
            reservation_id: reservation
                .clone()
                .unwrap_or_else(|| placed.reservation_id.clone()),
            revision: placed.revision + 1,
            cancel_reason: placed.cancel_reason.clone(),
        };
        // Saved only at the revision the update was computed from.
        let saved = self.book().save(&changed, placed.revision);
        // A release that fails leaves the units held until the reservation lapses, which is
        // inventory's own safety net; the update itself has happened (or not) either way.
        match (saved, reservation) {
            (Ok(true), new) => {
                if new.is_some() {
                    let _ = self.release(ctx, placed.reservation_id).await;
                }
                Ok(changed.order)
            }
            (outcome, new) => {
                if let Some(new) = new {
                    self.compensate(ctx, new).await;
                }
                match outcome {
                    Ok(_) => Err(changed_meanwhile(&order_id)),
                    Err(error) => Err(failed(error)),
                }
            }
        }
    }
}
