use super::*;
use crate::Code;
use crate::Status;
use crate::rpc::RETRY_PUSHBACK;

static UNARY: MethodInfo = MethodInfo::new("/test.Svc/Get", MethodKind::Unary);
static STREAM: MethodInfo = MethodInfo::new("/test.Svc/Watch", MethodKind::ServerStreaming);
static EXPORT: MethodInfo = MethodInfo::new("/test.Svc/Export", MethodKind::Unary);
static EXEMPT: MethodInfo = MethodInfo::new("/test.Svc/Health", MethodKind::Unary).shed(false);

fn admission(policy: LoadShedding) -> Admission {
    Admission::new("test.Svc", policy)
}

fn now(admit: Admit) -> Permit {
    match admit {
        Admit::Now(permit) => permit,
        other => panic!("expected to be let in at once, got {other:?}"),
    }
}

fn refused(admit: Admit) -> Status {
    match admit {
        Admit::Refused(status) => status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn waiting(admit: Admit) -> Waiting {
    match admit {
        Admit::Wait(waiting) => waiting,
        other => panic!("expected to wait, got {other:?}"),
    }
}

/// Runs `rounds` rounds of as many calls as the limit allows, each taking `latency`.
async fn saturate(admission: &Admission, rounds: usize, latency: Duration) {
    for _ in 0..rounds {
        let permits: Vec<Permit> = (0..admission.limit())
            .map(|_| now(admission.admit(&UNARY, None)))
            .collect();
        tokio::time::advance(latency).await;
        drop(permits);
    }
}

#[tokio::test(start_paused = true)]
async fn the_limit_falls_when_latency_rises_and_recovers_when_it_falls() {
    let admission = admission(LoadShedding::DEFAULT);
    assert_eq!(admission.limit(), 20);

    // Steady latency with every slot used: the limit grows.
    saturate(&admission, 300, Duration::from_millis(10)).await;
    let grown = admission.limit();
    assert!(grown > 40, "the limit grew from 20 to {grown}");

    // Latency ten times the long-run figure: the limit falls, by half at most per window.
    saturate(&admission, 200, Duration::from_millis(100)).await;
    let fallen = admission.limit();
    assert!(
        fallen < grown / 2,
        "the limit fell from {grown} to {fallen}"
    );
    assert!(fallen >= LoadShedding::DEFAULT.min_limit);

    // Latency back to normal: it grows again.
    saturate(&admission, 300, Duration::from_millis(10)).await;
    let recovered = admission.limit();
    assert!(
        recovered > fallen * 2,
        "the limit recovered from {fallen} to {recovered}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_window_with_slots_to_spare_leaves_the_limit_alone() {
    let admission = admission(LoadShedding::DEFAULT);
    for _ in 0..200 {
        let permits: Vec<Permit> = (0..5).map(|_| now(admission.admit(&UNARY, None))).collect();
        tokio::time::advance(Duration::from_millis(10)).await;
        drop(permits);
    }
    assert_eq!(
        admission.limit(),
        20,
        "5 calls of 20 say nothing of the limit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_over_the_limit_waits_for_a_slot_and_gets_the_first_one_freed() {
    let admission = admission(LoadShedding::DEFAULT.initial_limit(1));
    let first = now(admission.admit(&UNARY, None));
    let mut second = waiting(admission.admit(&UNARY, None));
    assert_eq!(admission.waiting(), 1);
    assert!(futures_util::poll!(&mut second).is_pending());

    tokio::time::advance(Duration::from_millis(5)).await;
    drop(first);
    let permit = second.await.expect("the freed slot");
    assert_eq!(admission.in_flight(), 1);
    assert_eq!(admission.waiting(), 0);
    drop(permit);
    assert_eq!(admission.in_flight(), 0);
}

/// Fills `admission` (limit 10) with calls of 100 ms until its rate is known: 100 calls a
/// second, so that the n-th call in line would wait n × 10 ms.
async fn measured_at_100_a_second(admission: &Admission) -> Vec<Permit> {
    saturate(admission, 2, Duration::from_millis(100)).await;
    (0..admission.limit())
        .map(|_| now(admission.admit(&UNARY, None)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_call_the_line_would_make_late_is_refused_at_once_with_a_pushback() {
    let policy = LoadShedding::DEFAULT
        .initial_limit(10)
        .min_limit(10)
        .max_limit(10);
    let admission = admission(policy);
    let _running = measured_at_100_a_second(&admission).await;

    // 150 ms left: 100 ms of work leaves 50 ms to wait, five places in line.
    let deadline = || Some(Instant::now() + Duration::from_millis(150));
    let mut line: Vec<Waiting> = (0..5)
        .map(|_| waiting(admission.admit(&UNARY, deadline())))
        .collect();
    let status = refused(admission.admit(&UNARY, deadline()));
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("overloaded"), "{status:?}");
    assert!(status.message().contains("nothing was done"), "{status:?}");
    let pushback = status.metadata().get(RETRY_PUSHBACK).expect("a pushback");
    assert_eq!(pushback, "60", "six places at 10 ms each");
    assert!(refused_before_work(&status), "{status:?}");

    // A call without a deadline may wait up to max_queue_wait (1 s): it gets in line.
    line.push(waiting(admission.admit(&UNARY, None)));
    assert_eq!(admission.waiting(), 6);
    drop(line);
    assert_eq!(
        admission.waiting(),
        0,
        "calls that stop waiting leave the line"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_that_waited_too_long_is_refused_and_leaves_the_line() {
    let policy = LoadShedding::DEFAULT
        .initial_limit(1)
        .max_limit(1)
        .max_queue_wait(Duration::from_millis(30));
    let admission = admission(policy);
    let _running = now(admission.admit(&UNARY, None));
    let status = waiting(admission.admit(&UNARY, None)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("waited"), "{status:?}");
    assert_eq!(admission.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn deadlines_gone_or_out_of_reach_are_refused_before_any_work() {
    let admission = admission(LoadShedding::DEFAULT.initial_limit(10).max_limit(10));
    let expired = refused(admission.admit(&UNARY, Some(Instant::now())));
    assert_eq!(expired.code(), Code::DeadlineExceeded);

    // Calls take 100 ms now; one with 50 ms left cannot make it while others run.
    let running = measured_at_100_a_second(&admission).await;
    let status = refused(admission.admit(&UNARY, Some(Instant::now() + Duration::from_millis(50))));
    // The caller's deadline is short, not the service full: no pushback, which a client would
    // take as a pause for every call to this server, and no closed connection.
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(
        status.message().contains("more than the 50 ms left"),
        "{status:?}"
    );
    assert!(!is_load_refusal(&status), "{status:?}");
    // But marked as refused before any work, unlike a deadline missed during it.
    assert!(refused_before_work(&status), "{status:?}");
    assert!(!refused_before_work(&crate::deadline::deadline_exceeded()));

    // A call that waited and got its slot too late for the work is refused then.
    let mut late =
        waiting(admission.admit(&UNARY, Some(Instant::now() + Duration::from_millis(150))));
    assert!(futures_util::poll!(&mut late).is_pending());
    // The running calls end after 90 ms: 60 ms are left, less than calls take.
    tokio::time::advance(Duration::from_millis(90)).await;
    drop(running);
    let status = late.await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(status.message().contains("too late"), "{status:?}");
    assert!(!is_load_refusal(&status), "{status:?}");
    assert!(refused_before_work(&status), "{status:?}");
    assert_eq!(admission.in_flight(), 0, "the slot went back unused");

    // With nothing running the figure is stale, and the call goes in to measure.
    let _probe = now(admission.admit(&UNARY, Some(Instant::now() + Duration::from_millis(50))));
}

#[tokio::test(start_paused = true)]
async fn streams_take_no_slot_and_are_kept_out_only_while_calls_wait() {
    let admission = admission(LoadShedding::DEFAULT.initial_limit(1).max_limit(1));
    let _stream = now(admission.admit(&STREAM, None));
    assert_eq!(admission.in_flight(), 0);
    let unary = now(admission.admit(&UNARY, None));
    let _also = now(admission.admit(&STREAM, None));
    let queued = waiting(admission.admit(&UNARY, None));
    let status = refused(admission.admit(&STREAM, None));
    assert_eq!(status.code(), Code::Unavailable);
    drop((unary, queued));
}

#[tokio::test(start_paused = true)]
async fn exempt_rpcs_and_shedding_off_admit_everything() {
    let admission = admission(LoadShedding::DEFAULT.initial_limit(1).max_limit(1));
    let _held = now(admission.admit(&UNARY, None));
    let _exempt = now(admission.admit(&EXEMPT, None));
    let queued = waiting(admission.admit(&UNARY, None));

    admission.set_policy(LoadShedding::OFF);
    let permit = queued.await.expect("turning shedding off lets the line in");
    drop(permit);
    for _ in 0..100 {
        let _ = now(admission.admit(&UNARY, None));
    }
}

#[test]
fn servers_of_one_domain_share_an_admission_and_other_domains_have_their_own() {
    static SERVICE: ServiceInfo = ServiceInfo::new("test.Shared", &[]);
    let domain = Arc::new(());
    let one = Admission::for_domain(&SERVICE, &domain);
    let other = Admission::for_domain(&SERVICE, &Arc::clone(&domain));
    one.set_policy(LoadShedding::DEFAULT.initial_limit(7));
    assert_eq!(other.limit(), 7);
    assert_eq!(other.policy().initial_limit, 7);

    let another = Arc::new(1u8);
    let elsewhere = Admission::for_domain(&SERVICE, &another);
    assert_eq!(elsewhere.limit(), 20, "another domain starts afresh");
    assert_eq!(Admission::registered("test.Shared").len(), 2);
    drop(domain);
    assert_eq!(
        Admission::registered("test.Shared").len(),
        1,
        "a domain that is gone takes its admission along"
    );
}

/// A dependency paused for as long as the test says.
struct Paused(std::sync::Mutex<Option<Duration>>);

impl Dependency for Arc<Paused> {
    fn name(&self) -> &str {
        "dep.v1.Dep"
    }

    fn paused_for(&self) -> Option<Duration> {
        *self.0.lock().unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_dependency_pauses_is_shed_at_the_door() {
    static OTHER: MethodInfo = MethodInfo::new("/test.Svc/Other", MethodKind::Unary);
    let admission = admission(LoadShedding::DEFAULT);
    let dependency = Arc::new(Paused(std::sync::Mutex::new(None)));
    admission.shed_while(&UNARY, Arc::clone(&dependency));
    drop(now(admission.admit(&UNARY, None)));

    *dependency.0.lock().unwrap() = Some(Duration::from_millis(300));
    let status = refused(admission.admit(&UNARY, None));
    assert_eq!(status.code(), Code::Unavailable);
    assert!(
        status
            .message()
            .contains("dep.v1.Dep, which this call needs"),
        "{status:?}"
    );
    assert_eq!(status.metadata().get(RETRY_PUSHBACK).unwrap(), "300");
    // An rpc that does not need it is served.
    drop(now(admission.admit(&OTHER, None)));

    *dependency.0.lock().unwrap() = None;
    drop(now(admission.admit(&UNARY, None)));
}

#[tokio::test(start_paused = true)]
async fn a_call_let_in_while_its_service_sheds_says_so_to_the_calls_it_makes() {
    let admission = admission(
        LoadShedding::DEFAULT
            .initial_limit(1)
            .max_limit(1)
            .max_queue_wait(Duration::from_millis(1)),
    );
    let mut calm = crate::Context::new();
    admission.mark(&mut calm);
    assert!(!serving_is_shedding(&calm), "nothing refused yet");

    let _running = now(admission.admit(&UNARY, None));
    let refused = waiting(admission.admit(&UNARY, None)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert!(admission.is_shedding());
    let mut busy = crate::Context::new();
    admission.mark(&mut busy);
    assert!(serving_is_shedding(&busy));
    assert!(serving_is_shedding(&busy.child()), "a child context too");

    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(
        !admission.is_shedding(),
        "a second without refusals ends it"
    );
    assert!(!serving_is_shedding(&busy));
}

/// Runs `scenario` on a current-thread runtime with paused time, recording into a recorder of
/// this thread only (tests run in parallel); `scenario` is given the recorder's handle.
fn recorded<F: std::future::Future<Output = ()>>(
    scenario: impl FnOnce(metrics_exporter_prometheus::PrometheusHandle) -> F,
) -> metrics_exporter_prometheus::PrometheusHandle {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(scenario(handle.clone())));
    handle
}

/// The value of `test.Svc`'s gauge `name` as the handle renders it now.
fn gauge(handle: &metrics_exporter_prometheus::PrometheusHandle, name: &str) -> Option<String> {
    handle
        .render()
        .lines()
        .find(|line| line.starts_with(name) && line.contains(r#"service="test.Svc""#))
        .and_then(|line| line.rsplit(' ').next())
        .map(str::to_owned)
}

#[test]
fn the_gauges_read_an_idle_service_as_idle() {
    // A window closes mid-burst (10 calls done, 10 running); the burst then ends. Its figures
    // must not stand once the service is idle, and the limit reads what it is.
    let handle = recorded(|_| async {
        let admission = admission(LoadShedding::DEFAULT);
        let mut permits: Vec<Permit> = (0..20)
            .map(|_| now(admission.admit(&UNARY, None)))
            .collect();
        tokio::time::advance(Duration::from_millis(150)).await;
        let rest = permits.split_off(10);
        drop(permits);
        drop(rest);
    });
    let text = handle.render();
    assert_eq!(
        gauge(&handle, IN_FLIGHT_GAUGE).as_deref(),
        Some("0"),
        "{text}"
    );
    assert_eq!(gauge(&handle, QUEUED_GAUGE).as_deref(), Some("0"), "{text}");
    let limit: f64 = gauge(&handle, LIMIT_GAUGE).unwrap().parse().unwrap();
    assert!(limit >= 20.0, "{text}");
}

#[test]
fn gauges_that_read_idle_are_not_written_again_until_a_figure_changes() {
    // A service taking one call at a time falls idle after each: the gauges are written when
    // it first does, and again only once the limit has changed.
    recorded(|handle| async move {
        let admission = admission(LoadShedding::DEFAULT.initial_limit(30));
        drop(now(admission.admit(&UNARY, None)));
        assert_eq!(gauge(&handle, LIMIT_GAUGE).as_deref(), Some("30"));
        // Written from outside: the idle calls that follow leave it as it is.
        metrics::gauge!(LIMIT_GAUGE, "service" => "test.Svc").set(7.0);
        for _ in 0..3 {
            drop(now(admission.admit(&UNARY, None)));
        }
        assert_eq!(gauge(&handle, LIMIT_GAUGE).as_deref(), Some("7"));
        // A new limit set while idle is written when the service next falls idle.
        admission.set_policy(LoadShedding::DEFAULT.initial_limit(40));
        drop(now(admission.admit(&UNARY, None)));
        assert_eq!(gauge(&handle, LIMIT_GAUGE).as_deref(), Some("40"));
        assert_eq!(gauge(&handle, IN_FLIGHT_GAUGE).as_deref(), Some("0"));
    });
}

#[test]
fn the_gauges_of_a_service_whose_calls_are_stuck_read_them_running() {
    // Calls that never finish close no latency window; the calls that keep arriving publish
    // what is running, so the gauges do not read the idle service it was before.
    recorded(|handle| async move {
        let admission = admission(LoadShedding::DEFAULT);
        // The service was idle once: its gauges read 0.
        drop(now(admission.admit(&UNARY, None)));
        assert_eq!(gauge(&handle, IN_FLIGHT_GAUGE).as_deref(), Some("0"));
        let stuck: Vec<Permit> = (0..5).map(|_| now(admission.admit(&UNARY, None))).collect();
        tokio::time::advance(Duration::from_secs(2)).await;
        let _arriving = now(admission.admit(&UNARY, None));
        assert_eq!(
            gauge(&handle, IN_FLIGHT_GAUGE).as_deref(),
            Some("5"),
            "the calls running when the last one arrived"
        );
        drop(stuck);
    });
}

#[tokio::test(start_paused = true)]
async fn a_higher_limit_lets_the_calls_in_line_in_at_once() {
    let admission = admission(LoadShedding::DEFAULT.initial_limit(1).max_limit(1));
    let _running = now(admission.admit(&UNARY, None));
    let mut queued = waiting(admission.admit(&UNARY, None));
    assert!(futures_util::poll!(&mut queued).is_pending());

    admission.set_policy(LoadShedding::DEFAULT.initial_limit(10));
    let _second = queued.await.expect("a slot the new limit frees");
    assert_eq!((admission.in_flight(), admission.waiting()), (2, 0));
    // And a new call takes a free slot rather than a place in line.
    let _third = now(admission.admit(&UNARY, None));
}

#[tokio::test(start_paused = true)]
async fn a_tolerance_below_one_or_nan_is_read_as_one() {
    for tolerance in [f64::NAN, 0.5, 0.0] {
        let admission = admission(LoadShedding::DEFAULT.tolerance(tolerance));
        assert_eq!(admission.policy().tolerance, 1.0);
        // Steady latency with every slot used: the limit grows, never NaN nor the minimum.
        saturate(&admission, 100, Duration::from_millis(10)).await;
        assert!(admission.limit() > 20, "{tolerance}: {}", admission.limit());
        admission.set_policy(LoadShedding::DEFAULT.tolerance(tolerance));
        assert_eq!(admission.policy().tolerance, 1.0);
    }
}

#[tokio::test(start_paused = true)]
async fn one_quick_first_window_is_not_the_baseline() {
    // The first window's calls take 1 ms (a warm cache), then 10 ms from then on, every slot
    // used: the long-run latency is the mean of the first windows, so the limit grows rather
    // than falling for the next 300 windows while the baseline crawls up from 1 ms.
    let admission = admission(LoadShedding::DEFAULT);
    saturate(&admission, 100, Duration::from_millis(1)).await;
    let after_quick = admission.limit();
    saturate(&admission, 100, Duration::from_millis(10)).await;
    assert!(
        admission.limit() >= after_quick,
        "the limit fell from {after_quick} to {}",
        admission.limit()
    );
}

#[tokio::test(start_paused = true)]
async fn calls_too_quick_to_be_work_leave_the_latency_alone() {
    // Steady 10 ms calls at the limit, then two seconds (20 windows) in which every call fails
    // at once (90 µs), then 10 ms again: the long-run latency stayed at 10 ms, so the limit
    // does not fall when the work comes back (with the quick calls measured, the long-run
    // figure would have sunk towards them and the limit would fall for a while after).
    let admission = admission(LoadShedding::DEFAULT.max_limit(20));
    saturate(&admission, 300, Duration::from_millis(10)).await;
    assert_eq!(admission.limit(), 20);
    saturate(&admission, 22_300, Duration::from_micros(90)).await;
    saturate(&admission, 100, Duration::from_millis(10)).await;
    assert_eq!(admission.limit(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_quick_rpc_is_not_refused_for_a_slow_one_s_latency() {
    // Windows in which one 2 s export runs beside 19 lookups of 2 ms: the service's mean is
    // about 100 ms, but a lookup with 80 ms left (forty times what it takes) is let in.
    let admission = admission(LoadShedding::DEFAULT.initial_limit(40).max_limit(40));
    for _ in 0..3 {
        let export = now(admission.admit(&EXPORT, None));
        for _ in 0..19 {
            let lookup = now(admission.admit(&UNARY, None));
            tokio::time::advance(Duration::from_millis(2)).await;
            drop(lookup);
        }
        tokio::time::advance(Duration::from_millis(2000 - 38)).await;
        drop(export);
    }
    let _export = now(admission.admit(&EXPORT, None));
    let _lookup = now(admission.admit(&UNARY, Some(Instant::now() + Duration::from_millis(80))));
    // An export with as little time left is still refused: it takes 2 s.
    let status =
        refused(admission.admit(&EXPORT, Some(Instant::now() + Duration::from_millis(80))));
    assert_eq!(status.code(), Code::DeadlineExceeded);
}
