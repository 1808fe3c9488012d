//! Where a call's W3C trace context comes from: the one the tracing interceptor made, else the
//! `traceparent` the caller sent; the clients send it on.

use tonic::metadata::MetadataMap;

use crate::Context;
use crate::context::{TraceContext, TraceParent};
use crate::rpc::TRACEPARENT_NAME;

/// The `traceparent` a call made with `ctx` carries: the span of the call `ctx` belongs to when
/// a [`Tracing`](crate::interceptors::trace::Tracing) interceptor saw it, else the `traceparent` the caller sent, if valid. Generated
/// clients send it (when `traceparent` is on their propagation list).
pub fn outgoing_traceparent(ctx: &Context) -> Option<TraceParent> {
    trace_context(ctx)
        .map(TraceContext::traceparent)
        .or_else(|| incoming_parent(ctx.metadata()))
}

/// The trace context of the call `ctx` belongs to, when a [`Tracing`](crate::interceptors::trace::Tracing) interceptor saw it.
pub fn trace_context(ctx: &Context) -> Option<&TraceContext> {
    ctx.trace_context()
}

/// The parent named by the single valid `traceparent` in `metadata`; `None` when there is none,
/// more than one, or it is malformed.
pub(crate) fn incoming_parent(metadata: &MetadataMap) -> Option<TraceParent> {
    let mut values = metadata.as_ref().get_all(&TRACEPARENT_NAME).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceParent::parse(value.to_str().ok()?)
}
