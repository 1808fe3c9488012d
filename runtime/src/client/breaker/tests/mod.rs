use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::client::{Adaptive, SlidingWindow};

fn window(threshold: f64, size: u32, minimum: u32, half_open: u32) -> BreakerPolicy {
    BreakerPolicy::SlidingWindow(SlidingWindow {
        failure_rate_threshold: threshold,
        window_size: size,
        minimum_calls: minimum,
        open_duration: Duration::from_secs(10),
        half_open_max_calls: half_open,
        ..SlidingWindow::DEFAULT
    })
}

fn breaker(policy: BreakerPolicy) -> Breaker {
    Breaker::new("svc/Method@test".into(), &policy, None, None).unwrap()
}

fn call(breaker: &Breaker, code: Code) -> Result<(), Status> {
    breaker.try_acquire().map(|permit| permit.record(code))
}

#[tokio::test(start_paused = true)]
async fn opens_only_with_the_minimum_number_of_calls() {
    let breaker = breaker(window(0.5, 10, 4, 1));
    for _ in 0..3 {
        call(&breaker, Code::Unavailable).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    call(&breaker, Code::Unavailable).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
    let rejected = call(&breaker, Code::Ok).unwrap_err();
    assert_eq!(rejected.code(), Code::Unavailable);
    assert!(rejected.message().contains("svc/Method@test"));
    assert_eq!(
        rejected.get_details_retry_info().unwrap().retry_delay,
        Some(Duration::from_secs(10))
    );
}

#[tokio::test(start_paused = true)]
async fn the_rate_is_over_the_sliding_window() {
    let breaker = breaker(window(0.5, 4, 4, 1));
    // F S S S | F S : the window of 4 never holds two failures.
    for code in [Code::Internal, Code::Ok, Code::Ok, Code::Ok, Code::Internal] {
        call(&breaker, code).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // S S F F: now two of the last four failed.
    call(&breaker, Code::DataLoss).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn caller_errors_count_as_answers() {
    let breaker = breaker(window(0.5, 10, 2, 1));
    for _ in 0..20 {
        call(&breaker, Code::InvalidArgument).unwrap();
        call(&breaker, Code::NotFound).unwrap();
        call(&breaker, Code::FailedPrecondition).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_closes_after_successful_probes_and_reopens_on_failure() {
    let breaker = breaker(window(0.5, 2, 2, 2));
    call(&breaker, Code::Unavailable).unwrap();
    call(&breaker, Code::Unavailable).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);

    tokio::time::advance(Duration::from_secs(10)).await;
    let first = breaker.try_acquire().unwrap();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    let second = breaker.try_acquire().unwrap();
    assert!(breaker.try_acquire().is_err(), "only two probes");
    first.record(Code::Ok);
    second.record(Code::Unavailable);
    assert_eq!(breaker.state(), BreakerState::Open);

    tokio::time::advance(Duration::from_secs(10)).await;
    call(&breaker, Code::Ok).unwrap();
    call(&breaker, Code::Ok).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back() {
    let breaker = breaker(window(0.5, 1, 1, 1));
    call(&breaker, Code::Unavailable).unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    drop(breaker.try_acquire().unwrap());
    call(&breaker, Code::Ok).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn stale_outcomes_do_not_touch_a_new_state() {
    let breaker = breaker(window(0.5, 1, 1, 1));
    let slow = breaker.try_acquire().unwrap();
    call(&breaker, Code::Unavailable).unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    let probe = breaker.try_acquire().unwrap();
    // The call that started while closed fails late: it must not re-open the half-open breaker.
    slow.record(Code::Unavailable);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    probe.record(Code::Ok);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn transitions_reach_the_hook() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let hook: TransitionHook = Arc::new(move |transition: &BreakerTransition| {
        assert_eq!(&*transition.breaker, "svc/Method@test");
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let breaker = Breaker::new(
        "svc/Method@test".into(),
        &window(0.5, 1, 1, 1),
        Some(hook),
        None,
    )
    .unwrap();
    call(&breaker, Code::Unavailable).unwrap(); // closed → open
    tokio::time::advance(Duration::from_secs(10)).await;
    call(&breaker, Code::Ok).unwrap(); // open → half-open → closed
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn adaptive_rejects_in_proportion_and_recovers() {
    let breaker = breaker(BreakerPolicy::Adaptive(Adaptive {
        k: 2.0,
        window: Duration::from_secs(10),
        minimum_requests: 0,
    }));
    // Healthy: accepts keep the probability at zero.
    for _ in 0..100 {
        call(&breaker, Code::Ok).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // A dead dependency: requests pile up without accepts, and most calls get rejected.
    tokio::time::advance(Duration::from_secs(11)).await;
    let rejected = (0..1000)
        .filter(|_| call(&breaker, Code::Unavailable).is_err())
        .count();
    assert!(rejected > 900, "{rejected} of 1000 rejected");
    assert_eq!(breaker.state(), BreakerState::Open);
    // Once the window has moved past the outage, calls flow again.
    tokio::time::advance(Duration::from_secs(11)).await;
    call(&breaker, Code::Ok).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn disabled_means_no_breaker() {
    assert!(Breaker::new("x".into(), &BreakerPolicy::Disabled, None, None).is_none());
}

/// A window breaker with `settings` over the defaults of `window(0.5, 10, 4, 4)`.
fn tuned(settings: impl FnOnce(&mut SlidingWindow)) -> Breaker {
    let BreakerPolicy::SlidingWindow(mut window) = window(0.5, 10, 4, 4) else {
        unreachable!()
    };
    settings(&mut window);
    breaker(BreakerPolicy::SlidingWindow(window))
}

/// Opens `breaker` with failures, and lets its open wait pass.
async fn open_then_wait(breaker: &Breaker, wait: Duration) {
    while breaker.state() != BreakerState::Open {
        call(breaker, Code::Unavailable).unwrap();
    }
    tokio::time::advance(wait).await;
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_the_breaker_at_their_rate() {
    let breaker = tuned(|w| {
        w.slow_call_duration = Some(Duration::from_secs(1));
        w.slow_call_rate_threshold = 0.5;
    });
    // Fast successes and one slow one: 1 of 4 is slow.
    for slow in [false, false, true, false] {
        let permit = breaker.try_acquire().unwrap();
        if slow {
            tokio::time::advance(Duration::from_secs(2)).await;
        }
        permit.record(Code::Ok);
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // A second slow success: 2 of the last 5, then 3 of 6: the rate reaches half.
    for _ in 0..2 {
        let permit = breaker.try_acquire().unwrap();
        tokio::time::advance(Duration::from_millis(1500)).await;
        permit.record(Code::Ok);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_time_window_forgets_what_is_older_than_it() {
    let breaker = tuned(|w| w.window_duration = Some(Duration::from_secs(10)));
    for _ in 0..3 {
        call(&breaker, Code::Unavailable).unwrap();
    }
    tokio::time::advance(Duration::from_secs(11)).await;
    // The three failures left the window: one more is 1 call, under the minimum of 4.
    call(&breaker, Code::Unavailable).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Within 10 s, however many calls: the rate reaches half with 3 failures of 6.
    for code in [
        Code::Ok,
        Code::Ok,
        Code::Ok,
        Code::Unavailable,
        Code::Unavailable,
    ] {
        assert_eq!(breaker.state(), BreakerState::Closed);
        tokio::time::advance(Duration::from_secs(1)).await;
        call(&breaker, code).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn half_open_decides_on_the_rate_of_its_probes() {
    let breaker = tuned(|_| {});
    // One failure in four probes is under the 50 % threshold: closed.
    open_then_wait(&breaker, Duration::from_secs(10)).await;
    let probes: Vec<_> = (0..4).map(|_| breaker.try_acquire().unwrap()).collect();
    assert!(
        breaker.try_acquire().is_err(),
        "only the permitted probes run"
    );
    for (probe, code) in probes
        .into_iter()
        .zip([Code::Unavailable, Code::Ok, Code::Ok, Code::Ok])
    {
        probe.record(code);
        if code == Code::Unavailable {
            assert_eq!(
                breaker.state(),
                BreakerState::HalfOpen,
                "not on the first failure"
            );
        }
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Two of four is at the threshold: open again.
    open_then_wait(&breaker, Duration::from_secs(10)).await;
    for code in [Code::Ok, Code::Unavailable, Code::Unavailable, Code::Ok] {
        call(&breaker, code).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_says_which_it_is_for_a_program_to_read() {
    // gobreaker's ErrOpenState and ErrTooManyRequests: the ErrorInfo reason tells them apart.
    let reason = |status: Status| status.get_details_error_info().map(|info| info.reason);
    let breaker = tuned(|w| w.half_open_max_calls = 1);
    while breaker.state() != BreakerState::Open {
        call(&breaker, Code::Unavailable).unwrap();
    }
    let Err(open) = breaker.try_acquire() else {
        panic!("admitted while open")
    };
    assert!(open.message().contains("is open"), "{open:?}");
    assert_eq!(reason(open).as_deref(), Some("CIRCUIT_BREAKER_OPEN"));
    tokio::time::advance(Duration::from_secs(10)).await;
    let _probe = breaker.try_acquire().unwrap();
    let Err(busy) = breaker.try_acquire() else {
        panic!("a second probe admitted")
    };
    assert!(busy.message().contains("probe calls out"), "{busy:?}");
    assert_eq!(reason(busy).as_deref(), Some("CIRCUIT_BREAKER_PROBES_OUT"));
}

#[tokio::test(start_paused = true)]
async fn with_reopen_on_probe_failure_the_first_failed_probe_opens_it() {
    // gobreaker's half-open (TestTwoStepCircuitBreaker): a success, then a failure while the
    // other probes are still out, opens at once; their later answers change nothing.
    let breaker = tuned(|w| w.reopen_on_probe_failure = true);
    open_then_wait(&breaker, Duration::from_secs(10)).await;
    let mut probes: Vec<_> = (0..4).map(|_| breaker.try_acquire().unwrap()).collect();
    probes.remove(0).record(Code::Ok);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    probes.remove(0).record(Code::Unavailable);
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(breaker.try_acquire().is_err(), "open: rejected at once");
    for probe in probes {
        probe.record(Code::Ok);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    // Probes that all succeed still close it.
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..4 {
        call(&breaker, Code::Ok).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_probes_that_take_too_long_open_it_again() {
    let breaker = tuned(|w| w.half_open_max_wait = Some(Duration::from_secs(5)));
    open_then_wait(&breaker, Duration::from_secs(10)).await;
    let _stuck = breaker.try_acquire().unwrap();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_open_wait_grows_with_each_reopening_up_to_its_cap() {
    let breaker = tuned(|w| {
        w.half_open_max_calls = 1;
        w.open_duration_multiplier = 2.0;
        w.max_open_duration = Duration::from_secs(25);
    });
    let retry_after = |breaker: &Breaker| {
        breaker
            .try_acquire()
            .err()
            .and_then(|status| status.get_details_retry_info())
            .and_then(|info| info.retry_delay)
    };
    open_then_wait(&breaker, Duration::ZERO).await;
    assert_eq!(retry_after(&breaker), Some(Duration::from_secs(10)));
    for wait in [20, 25, 25] {
        tokio::time::advance(Duration::from_secs(30)).await;
        call(&breaker, Code::Unavailable).unwrap(); // the probe fails: open again, longer
        assert_eq!(retry_after(&breaker), Some(Duration::from_secs(wait)));
    }
    // Closing starts the growth over.
    tokio::time::advance(Duration::from_secs(30)).await;
    call(&breaker, Code::Ok).unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    open_then_wait(&breaker, Duration::ZERO).await;
    assert_eq!(retry_after(&breaker), Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn controls_force_open_disable_and_reset() {
    let breaker = Arc::new(tuned(|_| {}));
    let controls = BreakerControls::new();
    controls.register("Method", Arc::clone(&breaker));
    assert_eq!(controls.force_open("Other"), 0);

    assert_eq!(controls.force_open("Method"), 1);
    assert_eq!(breaker.state(), BreakerState::ForcedOpen);
    let rejected = call(&breaker, Code::Ok).unwrap_err();
    assert!(
        rejected.message().contains("forced open"),
        "{}",
        rejected.message()
    );
    // Told apart from the model's rejections as they are told apart from each other.
    let info = rejected.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "CIRCUIT_BREAKER_FORCED_OPEN");
    assert_eq!(
        info.metadata.get("breaker"),
        Some(&breaker.name.to_string())
    );

    controls.disable("Method");
    assert_eq!(breaker.state(), BreakerState::Disabled);
    for _ in 0..50 {
        call(&breaker, Code::Unavailable).unwrap();
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Disabled,
        "nothing is counted"
    );

    controls.reset("Method");
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Nothing counted while disabled carries over: three failures are under the minimum.
    for _ in 0..3 {
        call(&breaker, Code::Unavailable).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    call(&breaker, Code::Unavailable).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
    controls.reset_all();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_classifier_decides_what_counts() {
    let BreakerPolicy::SlidingWindow(settings) = window(0.5, 10, 2, 1) else {
        unreachable!()
    };
    let classify: Classifier = Arc::new(|code| match code {
        Code::Ok => CallOutcome::Success,
        Code::NotFound => CallOutcome::Failure,
        _ => CallOutcome::Ignored,
    });
    let breaker = Breaker::new(
        "svc/Method@test".into(),
        &BreakerPolicy::SlidingWindow(settings),
        None,
        Some(classify),
    )
    .unwrap();
    // Ignored outcomes count neither way: no minimum is reached by them.
    for _ in 0..20 {
        call(&breaker, Code::Unavailable).unwrap();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    call(&breaker, Code::Ok).unwrap();
    call(&breaker, Code::NotFound).unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_answer_counts_but_a_call_given_up_does_not() {
    assert_eq!(
        default_classification(Code::Cancelled),
        CallOutcome::Failure
    );
    assert_eq!(default_classification(Code::NotFound), CallOutcome::Success);
    let breaker = tuned(|_| {});
    for _ in 0..10 {
        drop(breaker.try_acquire().unwrap()); // the caller gave up
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..4 {
        call(&breaker, Code::Cancelled).unwrap(); // the server cancelled
    }
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn adaptive_rejects_nothing_before_its_minimum_of_requests() {
    let breaker = breaker(BreakerPolicy::Adaptive(Adaptive {
        k: 2.0,
        window: Duration::from_secs(10),
        minimum_requests: 10,
    }));
    for _ in 0..9 {
        assert!(call(&breaker, Code::Unavailable).is_ok());
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(call(&breaker, Code::Unavailable).is_ok());
    // The window now holds its minimum, all failed: the next calls face rejection, and the
    // first one rejected opens it.
    let rejected = (0..100)
        .filter(|_| call(&breaker, Code::Unavailable).is_err())
        .count();
    assert!(rejected > 50, "{rejected} of 100 rejected past the minimum");
    assert_eq!(breaker.state(), BreakerState::Open);
}

mod clock_and_hooks;
