use futures_util::StreamExt;
use rust_svc_runtime::{Code, Context, Status};
use tokio::sync::mpsc;

use super::*;
use crate::dispatch::v1::assignment_update::Decline;

pub(super) const HOME: GeoPoint = GeoPoint {
    latitude: 52.52,
    longitude: 13.40,
};

pub(super) fn directory() -> CourierDirectory {
    let directory = CourierDirectory::new();
    directory.add_courier("cour_1").unwrap();
    directory.add_courier("cour_2").unwrap();
    directory
}

pub(super) fn update(courier_id: &str, event: Event) -> AssignmentUpdate {
    AssignmentUpdate {
        courier_id: courier_id.into(),
        sent_at: None,
        event: Some(event),
    }
}

/// Opens a stream for the app, whose updates are sent through the returned sender.
pub(super) async fn open(
    directory: &CourierDirectory,
) -> (
    mpsc::UnboundedSender<AssignmentUpdate>,
    BoxStream<AssignmentResult>,
) {
    let (app, updates) = mpsc::unbounded_channel();
    let requests: BoxStream<AssignmentUpdate> = Box::pin(futures_util::stream::unfold(
        updates,
        |mut updates| async move {
            let update = updates.recv().await?;
            Some((Ok(update), updates))
        },
    ));
    let results = directory
        .stream_assignments(&Context::new(), requests)
        .await
        .unwrap();
    (app, results)
}

pub(super) async fn status(
    directory: &CourierDirectory,
    courier_id: &str,
) -> Result<CourierStatus, Status> {
    let request = GetCourierStatusRequest {
        courier_id: courier_id.into(),
    };
    directory.get_courier_status(&Context::new(), request).await
}

/// Waits until the directory has seen the app's updates so far.
pub(super) async fn settle(directory: &CourierDirectory, courier_id: &str, state: CourierState) {
    for _ in 0..1000 {
        if status(directory, courier_id).await.unwrap().state() == state {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{courier_id} never became {state:?}");
}

#[tokio::test]
async fn couriers_are_looked_up_by_id() {
    let directory = directory();
    let offline = status(&directory, "cour_1").await.unwrap();
    assert_eq!(offline.state(), CourierState::Offline);
    assert_eq!(offline.location, None);
    assert_eq!(
        status(&directory, "cour_9").await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        status(&directory, "").await.unwrap_err().code(),
        Code::InvalidArgument
    );
}

#[tokio::test]
async fn a_shift_runs_from_the_first_location_to_the_end_of_the_stream() {
    let directory = directory();
    let (app, mut results) = open(&directory).await;
    app.send(update("cour_1", Event::Location(HOME))).unwrap();
    // The stream is polled for the update to be applied.
    let poll = tokio::spawn(async move { results.next().await });
    settle(&directory, "cour_1", CourierState::Idle).await;
    let on_shift = status(&directory, "cour_1").await.unwrap();
    assert_eq!(on_shift.location, Some(HOME));
    assert!(on_shift.location_at.is_some());

    drop(app);
    assert!(poll.await.unwrap().is_none(), "the app closed its side");
    assert_eq!(
        status(&directory, "cour_1").await.unwrap().state(),
        CourierState::Offline
    );
}

#[tokio::test]
async fn an_offer_is_accepted_and_delivered() {
    let directory = directory();
    let (app, mut results) = open(&directory).await;
    app.send(update("cour_1", Event::Location(HOME))).unwrap();
    let offered = loop {
        // Offers only reach couriers on shift: retry until the location is in.
        match directory.offer("cour_1", "ord_1", HOME, HOME) {
            Ok(assignment) => break assignment,
            Err(_) => {
                tokio::select! {
                    _ = results.next() => panic!("nothing to answer yet"),
                    _ = tokio::task::yield_now() => {}
                }
            }
        }
    };
    let received = results.next().await.unwrap().unwrap();
    assert_eq!(received.result, Some(Outcome::Offer(offered.clone())));

    let id = offered.assignment_id;
    app.send(update("cour_1", Event::AcceptedAssignmentId(id.clone())))
        .unwrap();
    let confirmed = results.next().await.unwrap().unwrap();
    assert_eq!(
        confirmed.result,
        Some(Outcome::ConfirmedAssignmentId(id.clone()))
    );
    let working = status(&directory, "cour_1").await.unwrap();
    assert_eq!(working.state(), CourierState::ToPickup);
    assert_eq!(working.current_assignment_id, id);
    let busy = directory.offer("cour_1", "ord_2", HOME, HOME).unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition);

    // Accepting it again is refused, since it is no longer an open offer.
    app.send(update("cour_1", Event::AcceptedAssignmentId(id.clone())))
        .unwrap();
    let again = results.next().await.unwrap().unwrap();
    assert!(matches!(again.result, Some(Outcome::Withdrawn(_))));

    app.send(update("cour_1", Event::DeliveredAssignmentId(id)))
        .unwrap();
    let poll = tokio::spawn(async move { (results.next().await, app) });
    settle(&directory, "cour_1", CourierState::Idle).await;
    poll.abort();
}

#[tokio::test]
async fn a_declined_offer_is_gone() {
    let directory = directory();
    let (app, mut results) = open(&directory).await;
    app.send(update("cour_2", Event::Location(HOME))).unwrap();
    let poll = tokio::spawn(async move {
        let offer = results.next().await;
        (offer, results)
    });
    let offered = loop {
        if let Ok(assignment) = directory.offer("cour_2", "ord_1", HOME, HOME) {
            break assignment;
        }
        tokio::task::yield_now().await;
    };
    let (_, mut results) = poll.await.unwrap();
    let id = offered.assignment_id;
    let decline = Decline {
        assignment_id: id.clone(),
        reason: "too far".into(),
    };
    app.send(update("cour_2", Event::Declined(decline)))
        .unwrap();
    app.send(update("cour_2", Event::AcceptedAssignmentId(id)))
        .unwrap();
    let refused = results.next().await.unwrap().unwrap();
    assert!(matches!(refused.result, Some(Outcome::Withdrawn(_))));
}

#[tokio::test]
async fn bad_updates_end_the_stream_with_the_reason() {
    let directory = directory();
    let far = GeoPoint {
        latitude: 91.0,
        longitude: 0.0,
    };
    let cases = [
        (
            vec![update("cour_1", Event::AcceptedAssignmentId("a".into()))],
            Code::FailedPrecondition,
            "cour_1: the first update of a stream must be a location",
        ),
        (
            vec![update("cour_9", Event::Location(HOME))],
            Code::NotFound,
            "courier cour_9 not found",
        ),
        (
            vec![update("cour_1", Event::Location(far))],
            Code::InvalidArgument,
            "location.latitude: must be between -90 and 90, got 91",
        ),
        (
            vec![AssignmentUpdate {
                courier_id: "cour_1".into(),
                ..Default::default()
            }],
            Code::InvalidArgument,
            "event: exactly one must be set",
        ),
        (
            vec![
                update("cour_1", Event::Location(HOME)),
                update("cour_2", Event::Location(HOME)),
            ],
            Code::InvalidArgument,
            "courier_id: this stream belongs to cour_1",
        ),
        (
            vec![
                update("cour_1", Event::Location(HOME)),
                update("cour_1", Event::DeliveredAssignmentId("asg_9".into())),
            ],
            Code::FailedPrecondition,
            "asg_9: cour_1 has no current assignment",
        ),
    ];
    for (updates, code, message) in cases {
        let (app, mut results) = open(&directory).await;
        for update in updates {
            app.send(update).unwrap();
        }
        let status = results.next().await.unwrap().unwrap_err();
        assert_eq!((status.code(), status.message()), (code, message));
        assert!(results.next().await.is_none(), "{message}: the stream ends");
    }
    assert_eq!(
        status(&directory, "cour_1").await.unwrap().state(),
        CourierState::Offline,
        "every failed stream ended its shift"
    );
}

#[tokio::test]
async fn a_second_stream_of_a_courier_replaces_the_first() {
    let directory = directory();
    let (first_app, mut first) = open(&directory).await;
    first_app
        .send(update("cour_1", Event::Location(HOME)))
        .unwrap();
    let first_poll = tokio::spawn(async move { first.next().await });
    settle(&directory, "cour_1", CourierState::Idle).await;

    let (second_app, mut second) = open(&directory).await;
    second_app
        .send(update("cour_1", Event::Location(HOME)))
        .unwrap();
    let second_poll = tokio::spawn(async move { second.next().await });
    let replaced = first_poll.await.unwrap().unwrap().unwrap_err();
    assert_eq!(replaced.code(), Code::Aborted);
    // The old stream's end does not take the courier off shift.
    assert_eq!(
        status(&directory, "cour_1").await.unwrap().state(),
        CourierState::Idle
    );
    second_poll.abort();
    drop(second_app);
}

#[test]
fn offers_are_checked() {
    let directory = directory();
    let no_order = directory.offer("cour_1", "", HOME, HOME).unwrap_err();
    assert_eq!(no_order.message(), "order_id: required");
    let offline = directory.offer("cour_1", "ord_1", HOME, HOME).unwrap_err();
    assert_eq!(offline.code(), Code::FailedPrecondition);
    let unknown = directory.offer("cour_9", "ord_1", HOME, HOME).unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let bad = GeoPoint {
        latitude: 0.0,
        longitude: 181.0,
    };
    let off_map = directory.offer("cour_1", "ord_1", bad, HOME).unwrap_err();
    assert_eq!(
        off_map.message(),
        "pickup.longitude: must be between -180 and 180, got 181"
    );
}
