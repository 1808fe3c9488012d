//! Load shedding: bounds on the calls a service works on at once. A call over a bound is answered
//! `RESOURCE_EXHAUSTED` at once, before the handler, rather than queued: under overload a quick
//! refusal the caller can retry elsewhere beats a slow answer after its deadline.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{CallInfo, Finish, Interceptor, MethodKind};
use crate::{Context, Status};

/// At most `limit` calls at once through the stack (a service, when the stack wraps one); the
/// permit is held until the call ends, for a streamed response until its stream ends.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl ConcurrencyLimit {
    /// A limit of `limit` calls in flight.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }
}

impl Interceptor for ConcurrencyLimit {
    fn start(&self, call: &CallInfo, _ctx: &mut Context) -> Result<Finish, Status> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(Finish::with(move |_| drop(permit))),
            Err(_) => Err(Status::resource_exhausted(format!(
                "{} is at its limit of {} concurrent calls",
                call.method.service, self.limit
            ))),
        }
    }
}

/// At most `limit` streaming calls (any kind but unary) in flight at once; unary calls pass.
/// Streams hold their slot for as long as they are open, so this bounds the long-lived work a
/// service keeps, apart from the overall [`ConcurrencyLimit`].
#[derive(Debug, Clone)]
pub struct StreamLimit {
    inner: ConcurrencyLimit,
}

impl StreamLimit {
    /// A limit of `limit` streams in flight.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: ConcurrencyLimit::new(limit),
        }
    }

    /// Streams in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }
}

impl Interceptor for StreamLimit {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        if call.method.kind == MethodKind::Unary {
            return Ok(Finish::nothing());
        }
        self.inner.start(call, ctx).map_err(|_| {
            Status::resource_exhausted(format!(
                "{} is at its limit of {} open streams",
                call.method.service, self.inner.limit
            ))
        })
    }
}
