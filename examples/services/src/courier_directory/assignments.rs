//! How an assignment finds its courier.
//!
//! `RequestCourier` creates one assignment per order and offers it to an idle courier on
//! shift; when none is, it waits (no `courier_id`, no `respond_by`) and is offered to the next
//! courier who comes on shift. An assignment is in exactly one of these places, which the rest
//! of the directory relies on:
//!
//! - `waiting`: no courier; `courier_id` is empty and `respond_by` unset;
//! - `offers`: offered to the courier its `courier_id` names, until `respond_by`;
//! - a courier's `current_assignment_id`: taken;
//! - none of them: delivered.
//!
//! An offer that is declined, lapses, outlives the courier's shift, or is made moot because
//! the courier took another job, goes to another idle courier, or back to waiting: an order's
//! assignment is never lost, and `RequestCourier` keeps returning the same one.

use std::time::SystemTime;

use rust_svc_runtime::Status;
use rust_svc_runtime::wkt::timestamp;

use super::{Directory, OFFER_WINDOW, Offer, Outcome, Withdrawal, check_point, refused, result};
use crate::dispatch::v1::{Assignment, CourierState, GeoPoint, RequestCourierRequest};
use crate::errors::invalid;

impl Directory {
    /// `RequestCourier`: the order's assignment, created and placed (see [`Self::place`])
    /// on the first request.
    pub(super) fn request(
        &mut self,
        request: RequestCourierRequest,
        now: SystemTime,
    ) -> Result<Assignment, Status> {
        if request.order_id.is_empty() {
            return Err(invalid("order_id", "required"));
        }
        if let Some(pickup) = &request.pickup {
            check_point("pickup", pickup)?;
        }
        if let Some(dropoff) = &request.dropoff {
            check_point("dropoff", dropoff)?;
        }
        self.sweep(now);
        if let Some(existing) = self.by_order.get(&request.order_id) {
            return Ok(self.assignments[existing].clone());
        }
        let id = self.create(&request.order_id, request.pickup, request.dropoff);
        self.place(&id, None, now);
        Ok(self.assignments[&id].clone())
    }

    /// A new assignment for `order_id`, in none of the places yet: the caller offers it or
    /// lets it wait.
    pub(super) fn create(
        &mut self,
        order_id: &str,
        pickup: Option<GeoPoint>,
        dropoff: Option<GeoPoint>,
    ) -> String {
        self.next_assignment += 1;
        let assignment_id = format!("asg_{:08x}", self.next_assignment);
        let assignment = Assignment {
            assignment_id: assignment_id.clone(),
            order_id: order_id.to_owned(),
            pickup,
            dropoff,
            respond_by: None,
            courier_id: String::new(),
        };
        self.by_order
            .insert(order_id.to_owned(), assignment_id.clone());
        self.assignments.insert(assignment_id.clone(), assignment);
        assignment_id
    }

    /// Drops an assignment that [`Self::create`] made and nobody was told about.
    pub(super) fn forget(&mut self, id: &str) {
        if let Some(assignment) = self.assignments.remove(id) {
            self.by_order.remove(&assignment.order_id);
        }
        self.waiting.remove(id);
    }

    /// Offers assignment `id` to an idle courier on shift other than `except`, or lets it wait.
    /// Couriers without an open offer come first, so that offers spread out, then name order
    /// (the directory is a `BTreeMap`), which keeps the choice predictable.
    pub(super) fn place(&mut self, id: &str, except: Option<&str>, now: SystemTime) {
        let mut idle: Vec<(bool, String)> = self
            .couriers
            .iter()
            .filter(|(courier_id, courier)| {
                except != Some(courier_id.as_str())
                    && courier.state == CourierState::Idle
                    && courier.session.is_some()
            })
            .map(|(courier_id, _)| (self.has_offer(courier_id), courier_id.clone()))
            .collect();
        idle.sort();
        for (_, courier_id) in idle {
            if self.offer_to(id, &courier_id, now).is_ok() {
                return;
            }
        }
        self.waiting.insert(id.to_owned());
    }

    /// Offers assignment `id` to `courier_id` over their stream. Fails, changing nothing,
    /// unless they are idle and on shift and their app reads its offers.
    pub(super) fn offer_to(
        &mut self,
        id: &str,
        courier_id: &str,
        now: SystemTime,
    ) -> Result<Assignment, Status> {
        let courier = self.courier(courier_id)?;
        let outbox = match (&courier.session, courier.state) {
            (Some(session), CourierState::Idle) => session.outbox.clone(),
            _ => {
                let state = courier.state.as_str_name();
                return Err(refused(
                    "COURIER",
                    courier_id,
                    format!("is {state}: only idle couriers on shift get offers"),
                ));
            }
        };
        let respond_by = now + OFFER_WINDOW;
        let offered = Assignment {
            courier_id: courier_id.to_owned(),
            respond_by: Some(timestamp(respond_by)),
            ..self.assignments[id].clone()
        };
        if outbox
            .try_send(result(Outcome::Offer(offered.clone())))
            .is_err()
        {
            return Err(refused(
                "COURIER",
                courier_id,
                "the courier's app is not reading its offers",
            ));
        }
        self.assignments.insert(id.to_owned(), offered.clone());
        self.waiting.remove(id);
        self.offers.insert(
            id.to_owned(),
            Offer {
                courier_id: courier_id.to_owned(),
                respond_by,
            },
        );
        Ok(offered)
    }

    /// Takes the open offer `id` back from `courier_id` and places the assignment elsewhere.
    /// Telling the courier, when their app is still there to be told, is the caller's part.
    pub(super) fn take_back(&mut self, id: &str, courier_id: &str, now: SystemTime) {
        self.offers.remove(id);
        if let Some(assignment) = self.assignments.get_mut(id) {
            assignment.courier_id.clear();
            assignment.respond_by = None;
        }
        self.place(id, Some(courier_id), now);
    }

    /// Takes back every offer whose time to answer is over, telling its courier, so that it
    /// goes to another courier. Run before anything reads or changes offers: there is no
    /// timer, and an offer nobody looks at does no harm until somebody does.
    pub(super) fn sweep(&mut self, now: SystemTime) {
        let mut lapsed: Vec<(String, String)> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.respond_by <= now)
            .map(|(id, offer)| (id.clone(), offer.courier_id.clone()))
            .collect();
        // Oldest first, as the offers map has no order of its own.
        lapsed.sort();
        for (id, courier_id) in lapsed {
            let withdrawal = Withdrawal {
                assignment_id: id.clone(),
                reason: "the time to answer the offer is over".to_owned(),
            };
            self.notify(&courier_id, Outcome::Withdrawn(withdrawal));
            self.take_back(&id, &courier_id, now);
        }
    }

    /// The assignments open as offers to `courier_id`, oldest first.
    pub(super) fn offers_to(&self, courier_id: &str) -> Vec<String> {
        let mut open: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.courier_id == courier_id)
            .map(|(id, _)| id.clone())
            .collect();
        open.sort();
        open
    }

    fn has_offer(&self, courier_id: &str) -> bool {
        self.offers
            .values()
            .any(|offer| offer.courier_id == courier_id)
    }

    /// Sends `outcome` to the app of `courier_id` if they are on shift. A full or closed
    /// outbox drops it: the notice is a courtesy, the directory's state is what counts, and
    /// an app that reconnects is sent its open offers again.
    pub(super) fn notify(&self, courier_id: &str, outcome: Outcome) {
        let session = self
            .couriers
            .get(courier_id)
            .and_then(|courier| courier.session.as_ref());
        if let Some(session) = session {
            let _ = session.outbox.try_send(result(outcome));
        }
    }
}

#[cfg(test)]
mod tests;
