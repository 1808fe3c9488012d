//! Admission: whether a call that reached a service may start now, wait for a slot, or be
//! refused. Every generated server (the gRPC adapter, gRPC-Web, the gateway) asks before the
//! call's body is read or its handler runs. The gRPC adapter and the gateway of one domain
//! value (the same `Arc`, as `FooGrpc::from_arc` and `FooGateway::routes_from_arc` take it)
//! share one [`Admission`], so all of a service's ways in share one limit; another value of the
//! same service (a test's) has its own.
//!
//! # The limit
//!
//! At most `limit` unary calls of a service run at once. The limit is found from their latency,
//! as Netflix's concurrency-limits (`Gradient2`) and Envoy's adaptive concurrency filter find
//! it, by the rule [`LoadShedding`] describes: latency is gathered in windows of at least
//! 100 ms and 10 calls; the window's mean is the short-term latency, a slow average of windows
//! the long-term one; while the short stays within `tolerance` times the long the limit grows by
//! about its square root, past that it shrinks in proportion (at most by half), smoothed. A
//! window in which fewer than half the slots were used says nothing about the limit and leaves
//! it alone. Streaming calls are long-lived, so their latency says nothing about load: they are
//! refused while the service is at its limit with others waiting, and otherwise admitted
//! without taking a slot (`StreamLimit` bounds how many stay open).
//!
//! No crate fit: tower's `ConcurrencyLimit` is fixed, `tower-acc`'s limit cannot be shared
//! across the gRPC and HTTP stacks of one service, has no deadline-aware queue, and is not
//! kept up; the rule itself is a few dozen lines.
//!
//! # Waiting, and refusing
//!
//! A call that finds every slot taken waits in line (first come, first served) only as long as
//! its deadline leaves room for the wait and for the work at the current latency, and never
//! longer than `max_queue_wait`. When the line ahead of it would take longer than that, at the
//! rate calls are finishing, it is refused at once: `UNAVAILABLE` with `grpc-retry-pushback-ms`
//! (the gateway adds `Retry-After`), before any of its work is done, so a caller may retry it
//! safely, elsewhere or later. A call whose deadline has passed, or is nearer than the service's
//! calls take now while others run, is answered `DEADLINE_EXCEEDED` at once, with no pushback:
//! that says nothing of the service's capacity, and a client must not pause its other calls
//! for it. One that got its slot after waiting checks its deadline again first.
//! DESIGN.md says why `UNAVAILABLE` and not `RESOURCE_EXHAUSTED`.
//!
//! # Metrics
//!
//! Per service (label `service`): the limit ([`LIMIT_GAUGE`]), calls in flight
//! ([`IN_FLIGHT_GAUGE`]) and waiting ([`QUEUED_GAUGE`]), calls refused by reason
//! ([`REFUSED_COUNTER`], `reason` = `overload` or `deadline`), and calls that met or missed
//! their deadline ([`DEADLINES_COUNTER`], `outcome` = `met` or `missed`). The gauges are
//! written when a latency window closes and whenever the service falls idle.

mod limit;
mod permit;
mod refusals;

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::rpc::{LoadShedding, MethodInfo, MethodKind, ServiceInfo};
use limit::{Window, slots};
pub use permit::{Admit, Permit, Waiting};
pub use refusals::{
    DEADLINE_OUT_OF_REACH, ERROR_DOMAIN, close_after_refusal, is_load_refusal, refused_before_work,
};
use refusals::{out_of_reach, overloaded};

/// The gauge of a service's current concurrency limit.
pub const LIMIT_GAUGE: &str = "server_concurrency_limit";
/// The gauge of a service's unary calls running now.
pub const IN_FLIGHT_GAUGE: &str = "server_calls_in_flight";
/// The gauge of a service's calls waiting for a slot.
pub const QUEUED_GAUGE: &str = "server_calls_queued";
/// The counter of calls refused before any work, by `reason` (`overload`, `deadline`).
pub const REFUSED_COUNTER: &str = "server_calls_refused_total";
/// The counter of admitted calls with a deadline that ended before it (`outcome="met"`) or
/// after it (`outcome="missed"`).
pub const DEADLINES_COUNTER: &str = "server_call_deadlines_total";

/// The bounds of the pushback a refusal asks for.
const MIN_PUSHBACK: Duration = Duration::from_millis(50);
const MAX_PUSHBACK: Duration = Duration::from_secs(5);

/// One service's admission, shared by every server of the service in the process; cheap to
/// clone. [`Admission::for_domain`] gives the one a domain's servers share.
#[derive(Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

struct Shared {
    service: &'static str,
    state: Mutex<State>,
    metrics: OnceLock<Handles>,
    /// When the admission was made: the origin of `last_refusal`.
    born: Instant,
    /// Milliseconds from `born` to the last refusal for load, plus one (0: none yet); an
    /// atomic so that every call can ask without the lock.
    last_refusal: AtomicU64,
}

/// The metric handles, made on first use, once the binary has installed its recorder.
struct Handles {
    limit: metrics::Gauge,
    in_flight: metrics::Gauge,
    queued: metrics::Gauge,
    refused_overload: metrics::Counter,
    refused_deadline: metrics::Counter,
    met: metrics::Counter,
    missed: metrics::Counter,
}

struct State {
    policy: LoadShedding,
    limit: f64,
    in_flight: u32,
    /// Calls waiting for a slot; a closed sender is one that stopped waiting.
    line: VecDeque<oneshot::Sender<()>>,
    waiting: u32,
    window: Window,
    /// Seconds.
    short_latency: Option<f64>,
    long_latency: Option<f64>,
    /// How many windows `long_latency` has averaged (it is their plain mean for the first
    /// few, see `limit.rs`).
    long_windows: u32,
    /// Calls finished per second.
    throughput: Option<f64>,
    /// Each rpc's recent latency (seconds), by path, for the deadline checks.
    methods: Vec<(&'static str, f64)>,
    /// What each rpc (by path) needs, to shed at the door while one pauses.
    dependencies: Vec<(&'static str, Arc<dyn Dependency>)>,
    /// When the gauges are next written while calls arrive: a time to compare the clock with,
    /// rather than a time to subtract from it on every call.
    publish_due: Instant,
    /// Whether the gauges read what they would read were they written now with the service
    /// idle: nothing running, nothing waiting, the limit as it is.
    published_idle: bool,
}

/// How often the gauges are written at least while calls arrive (they are also written when a
/// latency window closes and when the service falls idle).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// How long (ms) a refusal for load marks a service as shedding.
const SHEDDING_MEMORY_MS: u64 = 1000;

/// The admission that let in the call a [`Context`](crate::Context) serves.
#[derive(Clone)]
struct ServedBy(Admission);

/// Whether the call `ctx` serves (or that a context derived from it serves) was let in by a
/// service that is shedding load now. A call such a handler makes that runs out of its own
/// deadline says more about this machine than about the dependency: the generated client's
/// breaker does not count it.
pub fn serving_is_shedding(ctx: &crate::Context) -> bool {
    ctx.extensions()
        .get::<ServedBy>()
        .is_some_and(|ServedBy(admission)| admission.is_shedding())
}

/// Something a service's calls need that can say it is refusing work for a while: the
/// generated client's `backoff()` (a dependency that refused a call for load). See
/// [`Admission::shed_while`].
pub trait Dependency: Send + Sync + 'static {
    /// What refusals name it by, e.g. `inventory.v1.InventoryService`.
    fn name(&self) -> &str;

    /// How long it still asks its callers to wait, if it does.
    fn paused_for(&self) -> Option<Duration>;
}

/// Why a call was refused, as its metric says.
#[derive(Clone, Copy)]
enum Refusal {
    Overload,
    Deadline,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Admission")
            .field("service", &self.shared.service)
            .field("policy", &state.policy)
            .field("limit", &state.limit)
            .field("in_flight", &state.in_flight)
            .field("waiting", &state.waiting)
            .finish()
    }
}

impl Admission {
    /// The admission of `service` as served by `domain`, made with the proto's
    /// [`LoadShedding`] on first use: every server of the same `Arc` shares it, for as long as
    /// the domain lives.
    pub fn for_domain<T: Send + Sync + 'static>(
        service: &'static ServiceInfo,
        domain: &Arc<T>,
    ) -> Self {
        let key = (service.name, Arc::as_ptr(domain) as *const () as usize);
        let mut registry = registry();
        if let Some((domain, admission)) = registry.get(&key)
            && domain.strong_count() > 0
        {
            return admission.clone();
        }
        // Domains gone (their address may be reused) take their admissions with them.
        registry.retain(|_, (domain, _)| domain.strong_count() > 0);
        let admission = Self::new(service.name, service.load_shedding);
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(domain) as Weak<_>;
        registry.insert(key, (weak, admission.clone()));
        admission
    }

    /// The admissions of the service named `name` (its full proto name) whose domains are
    /// alive: one per domain served.
    pub fn registered(name: &str) -> Vec<Self> {
        registry()
            .iter()
            .filter(|((service, _), (domain, _))| *service == name && domain.strong_count() > 0)
            .map(|(_, (_, admission))| admission.clone())
            .collect()
    }

    /// An admission of its own for the service `name` (tests, or a server that should not
    /// share its limit).
    pub fn new(name: &'static str, policy: LoadShedding) -> Self {
        let policy = policy.sanitized();
        let now = Instant::now();
        Self {
            shared: Arc::new(Shared {
                service: name,
                state: Mutex::new(State {
                    policy,
                    limit: f64::from(policy.initial_limit.max(1)),
                    in_flight: 0,
                    line: VecDeque::new(),
                    waiting: 0,
                    window: Window::new(now),
                    short_latency: None,
                    long_latency: None,
                    long_windows: 0,
                    throughput: None,
                    methods: Vec::new(),
                    dependencies: Vec::new(),
                    publish_due: now + PUBLISH_EVERY,
                    published_idle: false,
                }),
                metrics: OnceLock::new(),
                born: now,
                last_refusal: AtomicU64::new(0),
            }),
        }
    }

    /// Replaces the policy (for every server sharing this admission); the limit starts over
    /// from its `initial_limit` when shedding is turned on or the bounds change.
    pub fn set_policy(&self, policy: LoadShedding) {
        let policy = policy.sanitized();
        let mut state = self.state();
        if state.policy != policy {
            state.limit = f64::from(policy.initial_limit.max(1));
            state.policy = policy;
            state.published_idle = false;
        }
        // The calls in line take the slots a higher limit (or no limit at all) frees now,
        // rather than waiting for a running call to end.
        state.grant_waiting();
    }

    /// Sheds calls of `method` at the door while `dependency` asks for a pause: a call that
    /// would need it is refused before any of its work is done (nothing reserved, then undone
    /// because the next hop was full), with the dependency's pause as its pushback.
    pub fn shed_while(&self, method: &'static MethodInfo, dependency: impl Dependency) {
        self.state()
            .dependencies
            .push((method.path, Arc::new(dependency)));
    }

    /// The policy in force.
    pub fn policy(&self) -> LoadShedding {
        self.state().policy
    }

    /// The current limit on unary calls at once.
    pub fn limit(&self) -> u32 {
        slots(self.state().limit)
    }

    /// Unary calls running now.
    pub fn in_flight(&self) -> u32 {
        self.state().in_flight
    }

    /// Calls waiting for a slot now.
    pub fn waiting(&self) -> u32 {
        self.state().waiting
    }

    /// Decides on a call of `method` whose deadline is `deadline`: in now, in line, or refused
    /// with the status to answer.
    pub fn admit(&self, method: &MethodInfo, deadline: Option<Instant>) -> Admit {
        self.admit_at(method, deadline, Instant::now())
    }

    /// [`admit`](Self::admit) with the time of arrival the caller has read already (each
    /// clock read costs about 30 ns on a virtual machine; a call's arrival needs one).
    pub(crate) fn admit_at(
        &self,
        method: &MethodInfo,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Admit {
        // Time is compared here, not subtracted: a subtraction of two clock readings is a
        // call, and this runs for every call. What is left of the deadline is worked out only
        // where it is weighed.
        if deadline.is_some_and(|deadline| deadline <= now) {
            self.metrics().refused_deadline.increment(1);
            return Admit::Refused(crate::deadline::deadline_exceeded());
        }
        if !method.shed {
            return Admit::Now(Permit::none());
        }
        let mut state = self.state();
        if !state.policy.enabled {
            return Admit::Now(Permit::none());
        }
        if now >= state.publish_due {
            // A service whose calls are stuck closes no latency window, and its gauges would
            // read what they read before it stuck; calls still arrive, so they publish.
            self.publish(&mut state, now);
        }
        if let Some((name, pause)) = state.paused_dependency(method) {
            drop(state);
            return self.refuse(
                Refusal::Overload,
                pause,
                format!("{name}, which this call needs, asked for a pause"),
            );
        }
        // With nothing running, the figure is stale: let the call in to measure afresh. Read
        // only for a call that has a deadline while others run (it is a few float operations
        // and a scan of the service's rpcs, on every call otherwise).
        if let Some(deadline) = deadline
            && state.in_flight > 0
            && let expected = state.expected_latency_of(method.path)
            && let remaining = deadline.saturating_duration_since(now)
            && remaining < expected
        {
            drop(state);
            return self.refuse(
                Refusal::Deadline,
                expected,
                format!(
                    "its calls take {} ms now, more than the {} ms left of this one",
                    expected.as_millis(),
                    remaining.as_millis()
                ),
            );
        }
        let free = state.in_flight < slots(state.limit) && state.waiting == 0;
        if method.kind != MethodKind::Unary {
            // A stream holds no slot; it is only kept out while others wait for one.
            if free || state.waiting == 0 {
                return Admit::Now(Permit::none());
            }
            let wait = state.predicted_wait(state.waiting);
            drop(state);
            return self.refuse(
                Refusal::Overload,
                wait,
                "it is at its limit of calls at once, with calls waiting".to_owned(),
            );
        }
        if free {
            state.in_flight += 1;
            state.window.max_in_flight = state.window.max_in_flight.max(state.in_flight);
            return Admit::Now(Permit::taken(self.clone(), now, deadline, method.path));
        }
        self.queue(state, method.path, deadline, now)
    }

    /// A unary call that found every slot taken: in line, if the line moves fast enough for it,
    /// else refused. Out of line: most calls find a slot.
    #[inline(never)]
    fn queue(
        &self,
        mut state: MutexGuard<'_, State>,
        path: &'static str,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Admit {
        let remaining = deadline.map(|deadline| deadline.saturating_duration_since(now));
        let room = remaining
            .map_or(state.policy.max_queue_wait, |remaining| {
                remaining.saturating_sub(state.expected_latency_of(path))
            })
            .min(state.policy.max_queue_wait);
        let wait = state.predicted_wait(state.waiting + 1);
        if wait > room {
            let limit = slots(state.limit);
            drop(state);
            return self.refuse(
                Refusal::Overload,
                wait,
                format!(
                    "{limit} calls are running, its limit, and the line ahead would take \
                     {} ms, longer than this call can wait",
                    wait.as_millis()
                ),
            );
        }
        let (grant, granted) = oneshot::channel();
        state.line.push_back(grant);
        state.waiting += 1;
        Admit::Wait(Waiting::new(
            self.clone(),
            granted,
            now + room,
            deadline,
            path,
        ))
    }

    /// Whether the service has refused a call for load within the last second: it is past its
    /// capacity, and so is likely the machine it runs on.
    pub fn is_shedding(&self) -> bool {
        let last = self.shared.last_refusal.load(Ordering::Relaxed);
        last != 0 && self.millis_since_born().saturating_sub(last - 1) < SHEDDING_MEMORY_MS
    }

    /// Marks `ctx`, a call this admission let in, while the service is shedding, so that the
    /// calls its handler makes know it ([`serving_is_shedding`]); at other times it costs
    /// nothing.
    pub fn mark(&self, ctx: &mut crate::Context) {
        if self.is_shedding() {
            ctx.extensions_mut().insert(ServedBy(self.clone()));
        }
    }

    fn millis_since_born(&self) -> u64 {
        self.shared.born.elapsed().as_millis() as u64
    }

    #[cold]
    #[inline(never)]
    fn refuse(&self, why: Refusal, pushback: Duration, reason: String) -> Admit {
        if matches!(why, Refusal::Overload) {
            let now = self.millis_since_born() + 1;
            self.shared.last_refusal.store(now, Ordering::Relaxed);
        }
        let handles = self.metrics();
        Admit::Refused(match why {
            Refusal::Overload => {
                handles.refused_overload.increment(1);
                overloaded(self.shared.service, &reason, pushback)
            }
            Refusal::Deadline => {
                handles.refused_deadline.increment(1);
                out_of_reach(self.shared.service, &reason)
            }
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn metrics(&self) -> &Handles {
        self.shared.metrics.get_or_init(|| {
            let service = self.shared.service;
            let refused = |reason: &'static str| {
                metrics::counter!(REFUSED_COUNTER, "service" => service, "reason" => reason)
            };
            let deadlines = |outcome: &'static str| {
                metrics::counter!(DEADLINES_COUNTER, "service" => service, "outcome" => outcome)
            };
            Handles {
                limit: metrics::gauge!(LIMIT_GAUGE, "service" => service),
                in_flight: metrics::gauge!(IN_FLIGHT_GAUGE, "service" => service),
                queued: metrics::gauge!(QUEUED_GAUGE, "service" => service),
                refused_overload: refused("overload"),
                refused_deadline: refused("deadline"),
                met: deadlines("met"),
                missed: deadlines("missed"),
            }
        })
    }

    /// A slot comes back, at `now` after a call of the rpc at `path` that took `latency`
    /// (`None`: it did no work to measure).
    fn release(&self, latency: Option<(&'static str, Instant, Duration)>) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        let mut closed = false;
        if let Some((path, now, latency)) = latency {
            state.window.record(latency);
            state.record_method(path, latency);
            closed = state.close_window(now);
        }
        state.grant_waiting();
        // Published when a latency window closes, and when the service falls idle: a burst's
        // last figures (calls running, waiting) must not stand for an idle service until the
        // next call, nor the limit read 0 before a window has closed. Gauges that read idle
        // already are not written again: a service taking one call at a time falls idle
        // after each.
        if closed || (state.in_flight == 0 && state.waiting == 0 && !state.published_idle) {
            let now = latency.map_or_else(Instant::now, |(_, now, _)| now);
            self.publish(&mut state, now);
        }
    }

    /// Writes the gauges from `state` at `now`. A gauge's write is an atomic store, cheap to
    /// make under the lock that keeps the three figures consistent with each other.
    #[inline(never)]
    fn publish(&self, state: &mut State, now: Instant) {
        state.publish_due = now + PUBLISH_EVERY;
        state.published_idle = state.in_flight == 0 && state.waiting == 0;
        let handles = self.metrics();
        handles.limit.set(state.limit.floor());
        handles.in_flight.set(f64::from(state.in_flight));
        handles.queued.set(f64::from(state.waiting));
    }
}

/// A service served by a domain value: the service's name and the domain's address.
type DomainKey = (&'static str, usize);

/// Every domain's admission in the process, with the domain to tell when it is gone.
type Registry = HashMap<DomainKey, (Weak<dyn Any + Send + Sync>, Admission)>;

fn registry() -> MutexGuard<'static, Registry> {
    static SERVICES: OnceLock<Mutex<Registry>> = OnceLock::new();
    SERVICES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
