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
            Ok(permit) => Ok(Finish(super::Ending::Permit(permit))),
            Err(_) => Err(Status::resource_exhausted(format!(
                "{} is at its limit of {} concurrent calls",
                call.method.service(),
                self.limit
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
                call.method.service(),
                self.inner.limit
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::Code;
    use crate::interceptors::testing::{COUNT, ECHO, Svc, count, echo};
    use crate::interceptors::{Interceptors, Side};

    fn call(method: &'static crate::interceptors::MethodInfo) -> CallInfo {
        CallInfo {
            method,
            side: Side::Server,
            started: tokio::time::Instant::now(),
        }
    }

    #[test]
    fn a_full_limit_answers_resource_exhausted_until_a_call_ends() {
        let limit = ConcurrencyLimit::new(1);
        let mut ctx = Context::new();
        let first = limit.start(&call(&ECHO), &mut ctx).unwrap();
        assert_eq!(limit.in_flight(), 1);
        let refused = limit.start(&call(&ECHO), &mut ctx).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused.message().contains("limit of 1 concurrent calls"),
            "{refused:?}"
        );
        // The call ends (its finisher goes): the slot is free again.
        drop(first);
        assert_eq!(limit.in_flight(), 0);
        assert!(limit.start(&call(&ECHO), &mut ctx).is_ok());
    }

    #[tokio::test]
    async fn a_stream_holds_its_slot_until_it_ends_and_unary_calls_pass() {
        let limit = StreamLimit::new(1);
        let service = Interceptors::server()
            .with(limit.clone())
            .wrap(Svc::default());
        let ctx = Context::new();
        let stream = service
            .intercept_server_streaming(&COUNT, &ctx, 3, count)
            .await
            .unwrap();
        assert_eq!(limit.in_flight(), 1, "the open stream holds the slot");
        let refused = service
            .intercept_server_streaming(&COUNT, &ctx, 1, count)
            .await
            .err()
            .expect("a second stream is refused");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("open streams"), "{refused:?}");
        // Unary calls are not streams.
        assert_eq!(
            service.intercept_unary(&ECHO, &ctx, 5, echo).await.unwrap(),
            5
        );
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 3);
        assert_eq!(limit.in_flight(), 0, "the ended stream gave its slot back");
        assert!(
            service
                .intercept_server_streaming(&COUNT, &ctx, 1, count)
                .await
                .is_ok()
        );
    }
}
