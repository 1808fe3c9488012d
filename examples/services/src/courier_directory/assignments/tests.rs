use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use rust_svc_runtime::{Code, Context, Status};
use tokio::sync::mpsc;

use super::super::tests::{HOME, directory, open, settle, status, update};
use crate::courier_directory::{CourierDirectory, OFFER_WINDOW};
use crate::dispatch::v1::assignment_result::Result as Outcome;
use crate::dispatch::v1::assignment_update::{Decline, Event};
use crate::dispatch::v1::{
    Assignment, AssignmentResult, CourierState, DispatchService, GeoPoint, RequestCourierRequest,
};

/// A courier's app on shift: what it sends, and what its stream answered, read by a task that
/// keeps polling the stream (updates are applied as the stream is polled).
struct App {
    courier_id: &'static str,
    updates: mpsc::UnboundedSender<crate::dispatch::v1::AssignmentUpdate>,
    results: mpsc::UnboundedReceiver<Result<AssignmentResult, Status>>,
}

impl App {
    async fn on_shift(directory: &CourierDirectory, courier_id: &'static str) -> Self {
        let (updates, mut stream) = open(directory).await;
        let (forward, results) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(result) = stream.next().await {
                if forward.send(result).is_err() {
                    break;
                }
            }
        });
        updates
            .send(update(courier_id, Event::Location(HOME)))
            .unwrap();
        settle(directory, courier_id, CourierState::Idle).await;
        Self {
            courier_id,
            updates,
            results,
        }
    }

    fn send(&self, event: Event) {
        self.updates.send(update(self.courier_id, event)).unwrap();
    }

    /// The next message dispatch sent to the app.
    async fn next(&mut self) -> Outcome {
        let received = tokio::time::timeout(Duration::from_secs(5), self.results.recv())
            .await
            .unwrap_or_else(|_| panic!("{} was sent nothing", self.courier_id));
        received
            .expect("the stream is open")
            .expect("the stream did not fail")
            .result
            .expect("a result is set")
    }

    /// Whether dispatch sent nothing the app has not read yet.
    fn has_nothing_new(&mut self) -> bool {
        self.results.try_recv().is_err()
    }

    /// Closes the app's side of the stream and waits for the shift to end.
    async fn leave(self, directory: &CourierDirectory) {
        let courier_id = self.courier_id;
        drop(self);
        settle(directory, courier_id, CourierState::Offline).await;
    }
}

fn offered(outcome: Outcome) -> Assignment {
    match outcome {
        Outcome::Offer(assignment) => assignment,
        other => panic!("expected an offer, got {other:?}"),
    }
}

async fn request(directory: &CourierDirectory, order_id: &str) -> Result<Assignment, Status> {
    let request = RequestCourierRequest {
        order_id: order_id.into(),
        pickup: Some(HOME),
        dropoff: None,
    };
    directory.request_courier(&Context::new(), request).await
}

/// Waits until `done` holds; the directory changes as the apps' streams are polled.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the directory never got there");
}

fn waits(directory: &CourierDirectory, assignment_id: &str) -> bool {
    directory.lock().waiting.contains(assignment_id)
}

#[tokio::test]
async fn a_request_needs_an_order_and_points_on_the_map() {
    let directory = directory();
    let no_order = request(&directory, "").await.unwrap_err();
    assert_eq!(
        (no_order.code(), no_order.message()),
        (Code::InvalidArgument, "order_id: required")
    );
    let off_map = RequestCourierRequest {
        order_id: "ord_1".into(),
        pickup: None,
        dropoff: Some(GeoPoint {
            latitude: -91.0,
            longitude: 0.0,
        }),
    };
    let refused = directory
        .request_courier(&Context::new(), off_map)
        .await
        .unwrap_err();
    assert_eq!(
        refused.message(),
        "dropoff.latitude: must be between -90 and 90, got -91"
    );
    // Neither created anything: the first assignment is still to be made.
    let first = request(&directory, "ord_1").await.unwrap();
    assert_eq!(first.assignment_id, "asg_00000001");
}

#[tokio::test]
async fn without_a_courier_on_shift_the_assignment_waits_for_the_next_one() {
    let directory = directory();
    let waiting = request(&directory, "ord_1").await.unwrap();
    assert_eq!(
        (waiting.order_id.as_str(), waiting.courier_id.as_str()),
        ("ord_1", "")
    );
    assert_eq!(waiting.pickup, Some(HOME));
    assert_eq!(waiting.respond_by, None);
    // A repeated request, even with other points, returns the order's one assignment.
    let retried = RequestCourierRequest {
        order_id: "ord_1".into(),
        pickup: None,
        dropoff: Some(HOME),
    };
    let again = directory
        .request_courier(&Context::new(), retried)
        .await
        .unwrap();
    assert_eq!(again, waiting);

    let mut app = App::on_shift(&directory, "cour_2").await;
    let offer = offered(app.next().await);
    assert_eq!(offer.assignment_id, waiting.assignment_id);
    assert_eq!(offer.courier_id, "cour_2");
    assert!(offer.respond_by.is_some());
    assert_eq!(request(&directory, "ord_1").await.unwrap(), offer);

    app.send(Event::AcceptedAssignmentId(offer.assignment_id.clone()));
    assert_eq!(
        app.next().await,
        Outcome::ConfirmedAssignmentId(offer.assignment_id.clone())
    );
    let working = status(&directory, "cour_2").await.unwrap();
    assert_eq!(working.current_assignment_id, offer.assignment_id);
    assert_eq!(working.state(), CourierState::ToPickup);
}

#[tokio::test]
async fn an_idle_courier_on_shift_is_offered_at_once_and_offers_spread_out() {
    let directory = directory();
    let mut first = App::on_shift(&directory, "cour_1").await;
    let mut second = App::on_shift(&directory, "cour_2").await;
    let mut couriers = Vec::new();
    for order_id in ["ord_1", "ord_2", "ord_3"] {
        let assignment = request(&directory, order_id).await.unwrap();
        couriers.push(assignment.courier_id);
    }
    // Couriers without an offer first, then name order.
    assert_eq!(couriers, ["cour_1", "cour_2", "cour_1"]);
    let to_first: Vec<_> = [first.next().await, first.next().await]
        .into_iter()
        .map(|outcome| offered(outcome).order_id)
        .collect();
    assert_eq!(to_first, ["ord_1", "ord_3"]);
    assert_eq!(offered(second.next().await).order_id, "ord_2");
}

#[tokio::test]
async fn a_declined_offer_goes_to_another_courier_or_waits() {
    let directory = directory();
    let mut app = App::on_shift(&directory, "cour_1").await;
    let offer = request(&directory, "ord_1").await.unwrap();
    assert_eq!(offered(app.next().await), offer);
    app.send(Event::Declined(Decline {
        assignment_id: offer.assignment_id.clone(),
        reason: "too far".into(),
    }));
    // Not back to the courier who declined: it waits.
    until(|| waits(&directory, &offer.assignment_id)).await;
    assert_eq!(request(&directory, "ord_1").await.unwrap().courier_id, "");
    assert!(app.has_nothing_new());

    let mut next = App::on_shift(&directory, "cour_2").await;
    let reoffered = offered(next.next().await);
    assert_eq!(
        (reoffered.assignment_id, reoffered.courier_id.as_str()),
        (offer.assignment_id, "cour_2")
    );
}

#[tokio::test]
async fn taking_one_job_passes_the_other_offers_on() {
    let directory = directory();
    let mut app = App::on_shift(&directory, "cour_1").await;
    let taken = request(&directory, "ord_1").await.unwrap();
    let other = request(&directory, "ord_2").await.unwrap();
    assert_eq!(other.courier_id, "cour_1", "the only idle courier");
    app.next().await;
    app.next().await;

    app.send(Event::AcceptedAssignmentId(taken.assignment_id.clone()));
    assert_eq!(
        app.next().await,
        Outcome::ConfirmedAssignmentId(taken.assignment_id.clone())
    );
    let Outcome::Withdrawn(withdrawn) = app.next().await else {
        panic!("the other offer is withdrawn");
    };
    assert_eq!(withdrawn.assignment_id, other.assignment_id);
    assert!(waits(&directory, &other.assignment_id));
    assert_eq!(request(&directory, "ord_2").await.unwrap().courier_id, "");
}

#[tokio::test]
async fn a_lapsed_offer_is_withdrawn_and_waits() {
    let directory = directory();
    let mut app = App::on_shift(&directory, "cour_1").await;
    let offer = request(&directory, "ord_1").await.unwrap();
    app.next().await;
    directory
        .lock()
        .sweep(SystemTime::now() + OFFER_WINDOW + Duration::from_secs(1));
    let Outcome::Withdrawn(withdrawn) = app.next().await else {
        panic!("the lapsed offer is withdrawn");
    };
    assert_eq!(withdrawn.assignment_id, offer.assignment_id);
    let waiting = request(&directory, "ord_1").await.unwrap();
    assert_eq!(
        (waiting.courier_id.as_str(), waiting.respond_by),
        ("", None)
    );

    // Accepting it now is refused.
    app.send(Event::AcceptedAssignmentId(offer.assignment_id));
    assert!(matches!(app.next().await, Outcome::Withdrawn(_)));
}

#[tokio::test]
async fn an_offer_that_outlives_the_shift_goes_to_the_next_courier() {
    let directory = directory();
    let mut first = App::on_shift(&directory, "cour_1").await;
    let offer = request(&directory, "ord_1").await.unwrap();
    first.next().await;
    first.leave(&directory).await;
    assert!(waits(&directory, &offer.assignment_id));

    let mut second = App::on_shift(&directory, "cour_2").await;
    assert_eq!(
        offered(second.next().await).assignment_id,
        offer.assignment_id
    );
}

#[tokio::test]
async fn a_reconnected_app_is_sent_its_open_offers_again() {
    let directory = directory();
    let mut first = App::on_shift(&directory, "cour_1").await;
    let offer = request(&directory, "ord_1").await.unwrap();
    assert_eq!(offered(first.next().await), offer);

    let mut second = App::on_shift(&directory, "cour_1").await;
    assert_eq!(offered(second.next().await), offer);
    assert_eq!(
        first.results.recv().await.unwrap().unwrap_err().code(),
        Code::Aborted
    );
}

#[tokio::test]
async fn an_offer_by_name_keeps_one_assignment_per_order() {
    let directory = directory();
    let mut app = App::on_shift(&directory, "cour_1").await;
    let requested = request(&directory, "ord_1").await.unwrap();
    app.next().await;
    app.send(Event::Declined(Decline {
        assignment_id: requested.assignment_id.clone(),
        reason: String::new(),
    }));
    until(|| waits(&directory, &requested.assignment_id)).await;

    // A dispatcher may offer the waiting assignment to anyone idle, the decliner included.
    let by_name = directory.offer("cour_1", "ord_1", HOME, HOME).unwrap();
    assert_eq!(by_name.assignment_id, requested.assignment_id);
    assert_eq!(offered(app.next().await), by_name);
    let twice = directory.offer("cour_1", "ord_1", HOME, HOME).unwrap_err();
    assert_eq!(
        (twice.code(), twice.message()),
        (
            Code::FailedPrecondition,
            "ord_1: already has assignment asg_00000001, with cour_1"
        )
    );

    // An offer that fails leaves the order without an assignment.
    let offline = directory.offer("cour_2", "ord_2", HOME, HOME).unwrap_err();
    assert_eq!(offline.code(), Code::FailedPrecondition);
    assert!(!directory.lock().by_order.contains_key("ord_2"));
}
