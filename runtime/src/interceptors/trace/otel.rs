//! The `opentelemetry` feature: the call's span joins the caller's OpenTelemetry trace.

use std::str::FromStr;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{TRACESTATE, TraceContext, TraceParent};
use crate::MetadataMap;

/// Makes the remote `parent` the OpenTelemetry parent of `span`, then adopts the ids the
/// OpenTelemetry layer gave the span, if one did: those are the ids exporters report, so the
/// `traceparent` sent on must name them for the next hop's parent to exist. Without a layer
/// (or with the span filtered out) the interceptor's own ids stand.
pub(super) fn join(
    span: &Span,
    trace: &mut TraceContext,
    parent: Option<&TraceParent>,
    metadata: &MetadataMap,
) {
    if let Some(parent) = parent {
        let state = metadata
            .get(TRACESTATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| TraceState::from_str(value).ok())
            .unwrap_or_default();
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id),
            SpanId::from_bytes(parent.parent_id),
            TraceFlags::new(parent.flags),
            true,
            state,
        );
        let context = opentelemetry::Context::new().with_remote_span_context(remote);
        if span.set_parent(context).is_err() {
            return;
        }
    }
    // Starts the OpenTelemetry span now, with its parent settled, and reads its ids.
    let context = span.context();
    let own = context.span().span_context().clone();
    // A tracer that makes no spans of its own (the no-op one) answers with the parent's ids.
    let is_own = parent.is_none_or(|parent| own.span_id().to_bytes() != parent.parent_id);
    if own.is_valid() && is_own {
        trace.trace_id = own.trace_id().to_bytes();
        trace.span_id = own.span_id().to_bytes();
        trace.flags = own.trace_flags().to_u8();
    }
}
