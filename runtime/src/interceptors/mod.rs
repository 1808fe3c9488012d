//! Interceptors at the domain-trait boundary: one stack of cross-cutting behaviour (auth, request
//! ids, tracing, metrics, logging, limits) that applies to every way a service is called.
//!
//! An [`Interceptors`] stack wraps any implementation of a generated service trait and yields an
//! [`Intercepted`] value that implements the same trait (the generated code has one generic impl
//! per service, with no logic of its own). Because the gRPC adapter, the REST gateway, the test
//! harness and in-process callers all meet at the trait, the same stack sees all of them; wrap a
//! generated client and the stack sees outgoing calls too, and the result is still a client.
//!
//! ```text
//! Interceptors::server().with(auth).with(request_id).with(tracing).with(metrics).with(logging)
//!     .wrap(store)        // implements InventoryService, serve it with InventoryServiceGrpc
//! ```
//!
//! # Order
//!
//! The first interceptor added is the outermost. On the way in, [`Interceptor::start`] runs in
//! the order added; each may change the call's [`Context`] (which the later ones and the handler
//! see) or reject the call with a status, in which case the ones after it and the handler do not
//! run. On the way out, the [`Finish`] of every interceptor that started is called in the reverse
//! order, with the call's [`Outcome`]: the final status code (a rejection by an inner interceptor
//! included), the time since the stack started, and the messages counted both ways. So:
//!
//! - put authentication first, to reject a call before any other work;
//! - put logging last: its clock starts just before the handler, and it still sees the final
//!   code, the deadline cut and a stream that fails half way included.
//!
//! # When a call ends
//!
//! A unary call ends when the handler answers. A call with a streamed response ends when the
//! stream does: at its end (`OK`), at its first error (that code), or when it is dropped before
//! either (`DEADLINE_EXCEEDED` when the deadline has passed, else `CANCELLED`: the caller went
//! away). The stack enforces the context's deadline itself, so an in-process call is cut like a
//! gRPC one, and the code it sees is `DEADLINE_EXCEEDED` whoever cuts first.
//!
//! # Ready-made interceptors
//!
//! Each is a value to pass to [`Interceptors::with`], in the order suggested above:
//!
//! - [`auth`]: [`Auth`] admits calls by bearer token ([`Auth::bearer`]), client certificate
//!   ([`Auth::peer`]) or a hook of your own ([`Auth::new`]), and on a client stack attaches a
//!   bearer token ([`Auth::attach_bearer`]);
//! - [`request_id`]: [`RequestIds`] gives every call an `x-request-id` that follows it across
//!   hops and comes back in the response headers;
//! - [`trace`]: [`Tracing`] opens a `tracing` span per call with the OpenTelemetry rpc fields and
//!   W3C `traceparent` propagation (joined to OpenTelemetry with the `opentelemetry` feature);
//! - [`metrics`]: [`Metrics`] records go-grpc-prometheus style metrics through the `metrics`
//!   facade (rendered for Prometheus with the `prometheus` feature);
//! - [`logging`]: [`Logging`] writes one access line per call;
//! - [`limits`]: [`ConcurrencyLimit`](limits::ConcurrencyLimit) and
//!   [`StreamLimit`](limits::StreamLimit) shed load.

pub mod auth;
mod call;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod request_id;
#[cfg(test)]
mod testing;
pub mod trace;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use crate::rpc::{Idempotency, MethodInfo, MethodKind};
use crate::{Code, Context, Status};
pub use auth::Auth;
pub use call::Intercepted;
pub use logging::Logging;
pub use metrics::Metrics;
pub use request_id::{RequestId, RequestIds};
pub use trace::Tracing;

/// Whether `code` says the serving side failed, not the request: the codes worth a warning
/// in a log and an error status on a server span.
pub(crate) fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Which end of a call a stack is installed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Around a service implementation: the calls it serves.
    Server,
    /// Around a client (or any implementation used as one): the calls it makes.
    Client,
}

impl Side {
    /// `"server"` or `"client"`, as metric names and span kinds spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// One call passing through a stack.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CallInfo {
    /// The rpc.
    pub method: &'static MethodInfo,
    /// Which end of the call the stack is at.
    pub side: Side,
    /// When the stack started on the call: what [`Outcome::elapsed`] counts from. An
    /// interceptor that needs the time the call began reads it here rather than the clock.
    pub started: tokio::time::Instant,
}

/// How a call ended, as interceptors are told.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome<'a> {
    /// The call.
    pub call: &'a CallInfo,
    /// The call's context, as the handler saw it.
    pub ctx: &'a Context,
    /// The final status: `None` for success.
    pub status: Option<&'a Status>,
    /// Time since the stack started on the call.
    pub elapsed: Duration,
    /// Request messages the handler read (1 for a unary or server-streaming call that reached it).
    pub requests: u64,
    /// Response messages produced (1 for a successful unary answer).
    pub responses: u64,
}

impl Outcome<'_> {
    /// The final status code: `OK` for success.
    pub fn code(&self) -> Code {
        self.status.map_or(Code::Ok, Status::code)
    }
}

/// What an interceptor asks to be told when the call ends: nothing, or a closure over the
/// [`Outcome`] that may hold per-call state (a start time, a span, a permit).
#[must_use]
pub struct Finish(Ending);

/// The closure a [`Finish`] holds.
type FinishFn = Box<dyn FnOnce(&Outcome<'_>) + Send + Sync>;

/// What a [`Finish`] runs. The ready-made interceptors' ends are variants of their own, so that
/// the stack allocates nothing per call for them; any other interceptor's is a boxed closure.
enum Ending {
    Nothing,
    Closure(FinishFn),
    Metrics(metrics::Ending),
    Logging(logging::Ending),
    Tracing(trace::Ending),
    Permit(tokio::sync::OwnedSemaphorePermit),
}

impl Finish {
    /// Nothing to do at the end of the call.
    pub fn nothing() -> Self {
        Finish(Ending::Nothing)
    }

    /// Calls `finish` with the outcome when the call ends.
    pub fn with(finish: impl FnOnce(&Outcome<'_>) + Send + Sync + 'static) -> Self {
        Finish(Ending::Closure(Box::new(finish)))
    }

    fn is_nothing(&self) -> bool {
        matches!(self.0, Ending::Nothing)
    }

    fn run(self, outcome: &Outcome<'_>) {
        match self.0 {
            Ending::Nothing => {}
            Ending::Closure(finish) => finish(outcome),
            Ending::Metrics(ending) => ending.run(outcome),
            Ending::Logging(ending) => ending.run(outcome),
            Ending::Tracing(ending) => ending.run(outcome),
            // Dropping the permit frees the slot.
            Ending::Permit(permit) => drop(permit),
        }
    }
}

impl fmt::Debug for Finish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_nothing() {
            "Finish(nothing)"
        } else {
            "Finish(..)"
        })
    }
}

/// The ends of the interceptors that started on one call, outermost first; interceptors with
/// nothing to do at the end take no place. (Kept inline, four ends made the call's future
/// larger, and copying it cost more than the one allocation saved: callgrind, bench/RESULTS.md.)
type Finishes = Vec<Finish>;

/// A layer of cross-cutting behaviour around every call of a service.
pub trait Interceptor: Send + Sync + 'static {
    /// Runs before the call goes on: may change `ctx` (the handler and the interceptors after
    /// this one see the change) or reject the call. What it returns is run when the call ends.
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status>;
}

impl<I: Interceptor + ?Sized> Interceptor for Arc<I> {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        (**self).start(call, ctx)
    }
}

/// An interceptor from a closure that only looks at (or changes) the call on its way in, e.g.
/// a check that rejects some calls: `from_fn(|call, ctx| …)`.
pub fn from_fn<F>(check: F) -> FromFn<F>
where
    F: Fn(&CallInfo, &mut Context) -> Result<(), Status> + Send + Sync + 'static,
{
    FromFn(check)
}

/// The interceptor [`from_fn`] makes.
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn(..)")
    }
}

impl<F> Interceptor for FromFn<F>
where
    F: Fn(&CallInfo, &mut Context) -> Result<(), Status> + Send + Sync + 'static,
{
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        (self.0)(call, ctx).map(|()| Finish::nothing())
    }
}

/// A stack of interceptors for one side of a call, in the order they run (see the module docs).
#[derive(Clone)]
pub struct Interceptors {
    side: Side,
    chain: Vec<Arc<dyn Interceptor>>,
}

impl fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interceptors")
            .field("side", &self.side)
            .field("len", &self.chain.len())
            .finish()
    }
}

impl Interceptors {
    /// An empty stack for a service implementation.
    pub fn server() -> Self {
        Self {
            side: Side::Server,
            chain: Vec::new(),
        }
    }

    /// An empty stack for a client.
    pub fn client() -> Self {
        Self {
            side: Side::Client,
            chain: Vec::new(),
        }
    }

    /// Adds `interceptor` inside the ones added before it.
    #[must_use]
    pub fn with(mut self, interceptor: impl Interceptor) -> Self {
        self.chain.push(Arc::new(interceptor));
        self
    }

    /// Which side the stack is for.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Wraps `inner`: the result implements every generated service trait `inner` implements.
    pub fn wrap<S>(self, inner: S) -> Intercepted<S> {
        Intercepted::new(inner, self)
    }

    /// Starts the chain on a call: the finishers of every interceptor that started, outermost
    /// first, and the status of a rejection if one rejected.
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> (Finishes, Option<Status>) {
        let mut finishes = Finishes::new();
        for (index, interceptor) in self.chain.iter().enumerate() {
            match interceptor.start(call, ctx) {
                Ok(finish) if finish.is_nothing() => {}
                Ok(finish) => {
                    // Room for the ends of this interceptor and all after it: one allocation,
                    // never grown, and none for a stack whose interceptors have no end.
                    finishes.reserve_exact(self.chain.len() - index);
                    finishes.push(finish);
                }
                Err(status) => return (finishes, Some(status)),
            }
        }
        (finishes, None)
    }
}

/// Runs the finishers innermost first.
fn finish_all(finishes: Finishes, outcome: &Outcome<'_>) {
    for finish in finishes.into_iter().rev() {
        finish.run(outcome);
    }
}
