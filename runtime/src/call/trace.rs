//! The W3C trace context of a call, which the tracing interceptor makes and the clients send on.

use tonic::metadata::MetadataMap;

use super::traceparent::{self, TraceParent};
use crate::Context;
use crate::rpc::TRACEPARENT;

/// The `sampled` trace flag: the caller may have recorded its span.
pub const SAMPLED: u8 = 0x01;

/// The W3C trace context of a call: an extension of its [`Context`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace the call belongs to.
    pub trace_id: [u8; 16],
    /// The call's own span.
    pub span_id: [u8; 8],
    /// The caller's span, when the call joined a trace.
    pub parent_span_id: Option<[u8; 8]>,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceContext {
    /// The `traceparent` that makes this call's span the parent of the next hop.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        traceparent::hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        traceparent::hex(&self.span_id)
    }

    /// Whether the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

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
    ctx.extensions().get::<TraceContext>()
}

/// The parent named by the single valid `traceparent` in `metadata`; `None` when there is none,
/// more than one, or it is malformed.
pub(crate) fn incoming_parent(metadata: &MetadataMap) -> Option<TraceParent> {
    let mut values = metadata.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceParent::parse(value.to_str().ok()?)
}
