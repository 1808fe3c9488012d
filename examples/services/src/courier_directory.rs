//! An in-memory implementation of `DispatchService`: a directory of couriers with their state
//! and last position, the live channel each courier's app keeps open while on shift, and one
//! assignment per order.
//!
//! A courier goes on shift by opening `StreamAssignments` with a location update; from then on
//! deliveries are offered to them on that stream, either because an order asked for a courier
//! (`RequestCourier`; `courier_directory/assignments.rs` says how an assignment finds its
//! courier) or because a dispatcher [`offer`](CourierDirectory::offer)s one to them by name.
//! Accepting an offer makes it the courier's current assignment (`TO_PICKUP`), and reporting
//! it delivered frees them (`IDLE`). Closing the stream ends the shift. One mutex guards the
//! directory; offers reach a stream through a channel registered with its courier, so a second
//! stream of the same courier (the app reconnected) replaces the first, which ends with
//! `ABORTED`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, stream};
use rust_svc_runtime::wkt::timestamp;
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::mpsc;

use crate::dispatch::v1::assignment_result::{Result as Outcome, Withdrawal};
use crate::dispatch::v1::assignment_update::Event;
use crate::dispatch::v1::{
    Assignment, AssignmentResult, AssignmentUpdate, CourierState, CourierStatus, DispatchService,
    GeoPoint, GetCourierStatusRequest, RequestCourierRequest,
};
use crate::errors::{invalid, refused};

mod assignments;

/// How long a courier has to answer an offer.
pub const OFFER_WINDOW: Duration = Duration::from_secs(60);
/// Offers that may wait for a courier's app to read them.
const OUTBOX_CAPACITY: usize = 16;

/// The couriers: cheap to clone, clones share the same directory.
#[derive(Debug, Clone, Default)]
pub struct CourierDirectory {
    shared: Arc<Mutex<Directory>>,
}

#[derive(Debug, Default)]
struct Directory {
    couriers: BTreeMap<String, Courier>,
    /// Every assignment by id, as last told to anyone: `courier_id` and `respond_by` say
    /// whether it waits, is offered or is taken (see `assignments.rs`).
    assignments: HashMap<String, Assignment>,
    /// Order id → the id of its one assignment.
    by_order: HashMap<String, String>,
    /// Assignments without a courier. Ids are numbered with a fixed width, so the set's order
    /// is the order they were created in and the first one is the one waiting longest.
    waiting: BTreeSet<String>,
    /// Open offers by assignment id.
    offers: HashMap<String, Offer>,
    next_assignment: u64,
    next_session: u64,
}

#[derive(Debug)]
struct Courier {
    state: CourierState,
    location: Option<GeoPoint>,
    location_at: Option<SystemTime>,
    current_assignment_id: String,
    session: Option<Session>,
}

#[derive(Debug)]
struct Session {
    id: u64,
    outbox: mpsc::Sender<AssignmentResult>,
}

#[derive(Debug)]
struct Offer {
    courier_id: String,
    respond_by: SystemTime,
}

impl CourierDirectory {
    /// A directory with no couriers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an off-shift courier; adding a known one changes nothing.
    pub fn add_courier(&self, courier_id: &str) -> Result<(), Status> {
        if courier_id.is_empty() {
            return Err(invalid("courier_id", "required"));
        }
        self.lock()
            .couriers
            .entry(courier_id.to_owned())
            .or_insert_with(|| Courier {
                state: CourierState::Offline,
                location: None,
                location_at: None,
                current_assignment_id: String::new(),
                session: None,
            });
        Ok(())
    }

    /// Offers the delivery of `order_id` to `courier_id`, who must be idle and on shift, over
    /// their stream. An order has one assignment: when it already has one that waits for a
    /// courier, that assignment (with its own pickup and dropoff) is the one offered, and when
    /// its assignment is offered to or taken by someone, the call fails with
    /// `FAILED_PRECONDITION`.
    pub fn offer(
        &self,
        courier_id: &str,
        order_id: &str,
        pickup: GeoPoint,
        dropoff: GeoPoint,
    ) -> Result<Assignment, Status> {
        if order_id.is_empty() {
            return Err(invalid("order_id", "required"));
        }
        check_point("pickup", &pickup)?;
        check_point("dropoff", &dropoff)?;
        let now = SystemTime::now();
        let mut directory = self.lock();
        directory.sweep(now);
        directory.courier(courier_id)?;
        match directory.by_order.get(order_id).cloned() {
            Some(id) if directory.waiting.contains(&id) => directory.offer_to(&id, courier_id, now),
            Some(id) => {
                let holder = &directory.assignments[&id].courier_id;
                Err(refused(
                    "ASSIGNMENT",
                    order_id,
                    format!("already has assignment {id}, with {holder}"),
                ))
            }
            None => {
                let id = directory.create(order_id, Some(pickup), Some(dropoff));
                // A failed offer leaves no assignment behind: the order has none, as before.
                directory
                    .offer_to(&id, courier_id, now)
                    .inspect_err(|_| directory.forget(&id))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Directory> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Directory {
    fn courier(&mut self, courier_id: &str) -> Result<&mut Courier, Status> {
        if courier_id.is_empty() {
            return Err(invalid("courier_id", "required"));
        }
        self.couriers
            .get_mut(courier_id)
            .ok_or_else(|| Status::not_found(format!("courier {courier_id} not found")))
    }

    /// Puts a courier on shift with a stream of their own; a stream they had is ended. The new
    /// stream is sent the offers the courier has not answered yet (an app that reconnected may
    /// not have read them), and an idle courier is offered the assignment waiting longest.
    fn start_shift(
        &mut self,
        courier_id: &str,
        outbox: mpsc::Sender<AssignmentResult>,
        now: SystemTime,
    ) -> Result<u64, Status> {
        self.next_session += 1;
        let id = self.next_session;
        let courier = self.courier(courier_id)?;
        courier.session = Some(Session { id, outbox });
        if courier.state == CourierState::Offline {
            courier.state = CourierState::Idle;
        }
        let idle = courier.state == CourierState::Idle;
        for open in self.offers_to(courier_id) {
            let offer = Outcome::Offer(self.assignments[&open].clone());
            self.notify(courier_id, offer);
        }
        if idle && let Some(oldest) = self.waiting.first().cloned() {
            // The stream is new and its outbox empty, so only a bug could make this fail; the
            // assignment would then keep waiting, which is still correct.
            let _ = self.offer_to(&oldest, courier_id, now);
        }
        Ok(id)
    }

    /// Takes a courier off shift when their stream `session` ends, unless a newer stream
    /// replaced it. A courier with an assignment keeps it (the app may reconnect); offers
    /// they did not answer go to another courier, or back to waiting.
    fn end_shift(&mut self, courier_id: &str, session: u64, now: SystemTime) {
        let Some(courier) = self.couriers.get_mut(courier_id) else {
            return;
        };
        if courier
            .session
            .as_ref()
            .is_none_or(|open| open.id != session)
        {
            return;
        }
        courier.session = None;
        if courier.state == CourierState::Idle {
            courier.state = CourierState::Offline;
        }
        for open in self.offers_to(courier_id) {
            self.take_back(&open, courier_id, now);
        }
    }

    /// Applies one update of an on-shift courier; some are answered on their stream.
    fn apply(
        &mut self,
        courier_id: &str,
        event: Event,
        now: SystemTime,
    ) -> Result<Option<AssignmentResult>, Status> {
        match event {
            Event::Location(point) => {
                check_point("location", &point)?;
                let courier = self.courier(courier_id)?;
                courier.location = Some(point);
                courier.location_at = Some(now);
                Ok(None)
            }
            Event::AcceptedAssignmentId(assignment_id) => {
                let open = self
                    .offers
                    .get(&assignment_id)
                    .is_some_and(|offer| offer.courier_id == courier_id && offer.respond_by > now);
                let courier = self.courier(courier_id)?;
                if !open || !courier.current_assignment_id.is_empty() {
                    let reason = "this offer is not open to you".to_owned();
                    return Ok(Some(result(Outcome::Withdrawn(Withdrawal {
                        assignment_id,
                        reason,
                    }))));
                }
                courier.state = CourierState::ToPickup;
                courier.current_assignment_id = assignment_id.clone();
                self.offers.remove(&assignment_id);
                // A courier with a job is no longer idle: their other offers go to others.
                for other in self.offers_to(courier_id) {
                    let reason = format!("you took {assignment_id}");
                    self.notify(
                        courier_id,
                        Outcome::Withdrawn(Withdrawal {
                            assignment_id: other.clone(),
                            reason,
                        }),
                    );
                    self.take_back(&other, courier_id, now);
                }
                Ok(Some(result(Outcome::ConfirmedAssignmentId(assignment_id))))
            }
            Event::Declined(declined) => {
                let id = declined.assignment_id;
                if self
                    .offers
                    .get(&id)
                    .is_some_and(|offer| offer.courier_id == courier_id)
                {
                    self.take_back(&id, courier_id, now);
                }
                Ok(None)
            }
            Event::DeliveredAssignmentId(assignment_id) => {
                if assignment_id.is_empty() {
                    return Err(invalid("delivered_assignment_id", "required"));
                }
                let courier = self.courier(courier_id)?;
                if courier.current_assignment_id != assignment_id {
                    let problem = match courier.current_assignment_id.as_str() {
                        "" => format!("{courier_id} has no current assignment"),
                        current => format!("the current assignment of {courier_id} is {current}"),
                    };
                    return Err(refused("ASSIGNMENT", &assignment_id, problem));
                }
                courier.current_assignment_id.clear();
                courier.state = CourierState::Idle;
                Ok(None)
            }
        }
    }
}

fn result(outcome: Outcome) -> AssignmentResult {
    AssignmentResult {
        sent_at: Some(timestamp(SystemTime::now())),
        result: Some(outcome),
    }
}

/// Checks that `point` is on the map; errors name `field`.
fn check_point(field: &str, point: &GeoPoint) -> Result<(), Status> {
    if !(-90.0..=90.0).contains(&point.latitude) {
        return Err(invalid(
            &format!("{field}.latitude"),
            format!("must be between -90 and 90, got {}", point.latitude),
        ));
    }
    if !(-180.0..=180.0).contains(&point.longitude) {
        return Err(invalid(
            &format!("{field}.longitude"),
            format!("must be between -180 and 180, got {}", point.longitude),
        ));
    }
    Ok(())
}

impl DispatchService for CourierDirectory {
    async fn get_courier_status(
        &self,
        _ctx: &Context,
        request: GetCourierStatusRequest,
    ) -> Result<CourierStatus, Status> {
        let mut directory = self.lock();
        let courier = directory.courier(&request.courier_id)?;
        Ok(CourierStatus {
            state: courier.state.into(),
            location: courier.location,
            location_at: courier.location_at.map(timestamp),
            current_assignment_id: courier.current_assignment_id.clone(),
            courier_id: request.courier_id,
        })
    }

    async fn request_courier(
        &self,
        _ctx: &Context,
        request: RequestCourierRequest,
    ) -> Result<Assignment, Status> {
        self.lock().request(request, SystemTime::now())
    }

    async fn stream_assignments(
        &self,
        _ctx: &Context,
        requests: BoxStream<AssignmentUpdate>,
    ) -> Result<BoxStream<AssignmentResult>, Status> {
        let (outbox, offers) = mpsc::channel(OUTBOX_CAPACITY);
        let shift = Shift {
            directory: self.clone(),
            requests,
            offers,
            outbox: Some(outbox),
            on_shift: None,
            over: false,
        };
        Ok(Box::pin(stream::unfold(shift, |mut shift| async move {
            let item = shift.next().await?;
            Some((item, shift))
        })))
    }
}

/// One `StreamAssignments` call.
struct Shift {
    directory: CourierDirectory,
    requests: BoxStream<AssignmentUpdate>,
    offers: mpsc::Receiver<AssignmentResult>,
    /// The sender of `offers`, until the first update registers it with the courier.
    outbox: Option<mpsc::Sender<AssignmentResult>>,
    /// The courier and the session id of this stream, once on shift.
    on_shift: Option<(String, u64)>,
    /// Set after an error: the stream ends.
    over: bool,
}

impl Shift {
    /// The next message to the app; `None` ends the stream.
    async fn next(&mut self) -> Option<Result<AssignmentResult, Status>> {
        loop {
            if self.over {
                return None;
            }
            let update = tokio::select! {
                offer = self.offers.recv(), if self.outbox.is_none() => match offer {
                    Some(offer) => return Some(Ok(offer)),
                    None => {
                        self.over = true;
                        return Some(Err(Status::aborted(
                            "the courier opened another stream, which replaces this one",
                        )));
                    }
                },
                update = self.requests.next() => update?,
            };
            match update.and_then(|update| self.apply(update)) {
                Ok(None) => {}
                Ok(Some(reply)) => return Some(Ok(reply)),
                Err(status) => {
                    self.over = true;
                    return Some(Err(status));
                }
            }
        }
    }

    fn apply(&mut self, update: AssignmentUpdate) -> Result<Option<AssignmentResult>, Status> {
        let courier_id = update.courier_id;
        let event = update
            .event
            .ok_or_else(|| invalid("event", "exactly one must be set"))?;
        let now = SystemTime::now();
        let mut directory = self.directory.lock();
        directory.sweep(now);
        match &self.on_shift {
            Some((on_shift, _)) if *on_shift != courier_id => Err(invalid(
                "courier_id",
                format!("this stream belongs to {on_shift}"),
            )),
            Some(_) => directory.apply(&courier_id, event, now),
            None => {
                let Event::Location(point) = &event else {
                    return Err(refused(
                        "SHIFT",
                        &courier_id,
                        "the first update of a stream must be a location",
                    ));
                };
                // Checked before the shift starts, so a bad first update starts nothing.
                directory.courier(&courier_id)?;
                check_point("location", point)?;
                let outbox = self
                    .outbox
                    .take()
                    .expect("no session before the first update");
                let session = directory.start_shift(&courier_id, outbox, now)?;
                self.on_shift = Some((courier_id.clone(), session));
                directory.apply(&courier_id, event, now)
            }
        }
    }
}

impl Drop for Shift {
    fn drop(&mut self) {
        if let Some((courier_id, session)) = &self.on_shift {
            let mut directory = self.directory.lock();
            directory.end_shift(courier_id, *session, SystemTime::now());
        }
    }
}

#[cfg(test)]
#[path = "courier_directory_tests.rs"]
mod tests;
