use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn window(threshold: f64, size: u32, minimum: u32, half_open: u32) -> BreakerPolicy {
    BreakerPolicy::SlidingWindow(SlidingWindow {
        failure_rate_threshold: threshold,
        window_size: size,
        minimum_calls: minimum,
        open_duration: Duration::from_secs(10),
        half_open_max_calls: half_open,
    })
}

fn breaker(policy: BreakerPolicy) -> Breaker {
    Breaker::new("svc/Method@test".into(), &policy, None).unwrap()
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
    let breaker =
        Breaker::new("svc/Method@test".into(), &window(0.5, 1, 1, 1), Some(hook)).unwrap();
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
    assert!(Breaker::new("x".into(), &BreakerPolicy::Disabled, None).is_none());
}
