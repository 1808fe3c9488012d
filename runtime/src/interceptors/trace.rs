//! Tracing: one `tracing` span per call, with the OpenTelemetry semantic-convention fields of an
//! rpc, joined to the caller's trace through W3C trace context (`traceparent`).
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, trace::Tracing};
//! # struct Store;
//! let service = Interceptors::server().with(Tracing).wrap(Store);
//! ```
//!
//! The span is an `INFO` span named `rpc` with the fields
//! `rpc.system` (`grpc` for gRPC and gRPC-Web, `connect_rpc` for Connect, as OpenTelemetry's
//! semantic conventions name them; none for REST), `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code` (the numeric code, at the end), `otel.name` (`service/method`; for a
//! REST call through the gateway, its route, `GET /v1/items/{sku}/stock`, with `http.route` and
//! `http.request.method` set, as the HTTP conventions name a server span), `otel.kind` (`server` or `client`),
//! `otel.status_code` (`ERROR` for a failure, see below), `network.peer.address`,
//! `network.peer.port` and the older `net.peer.ip`, `request_id`, `trace_id`, `span_id` and
//! `parent_span_id`. The handler runs inside it, so its own events carry them.
//!
//! # Trace context without an OpenTelemetry dependency
//!
//! A valid `traceparent` in the request metadata makes the call part of the caller's trace: the
//! span keeps its trace id, gets a new span id, and records the caller's as its parent; with none
//! (or a malformed one, which the W3C spec says to drop, `tracestate` with it) the call starts a
//! new trace. Either way the interceptor stores a [`TraceContext`] naming this span in the context.
//! A generated client called with the handler's context sends it as `traceparent` (formatted only
//! then, see [`outgoing_traceparent`]), so this span is the parent of the next hop and every hop
//! shares one trace id; an in-process call made with the context joins it the same way. A client
//! stack does the same for the outgoing call, whose span becomes the parent of the server's.
//!
//! With the `opentelemetry` feature, the span is also given the remote parent as its
//! OpenTelemetry parent, and when a `tracing-opentelemetry` layer assigns the span its own ids
//! those are the ones recorded and propagated, so that the spans an OpenTelemetry pipeline exports
//! join the caller's trace and the next hop's parent is a span that exists.
//!
//! # Errors
//!
//! As the semantic conventions say, a client span is an error for any code but `OK`, and a server
//! span only when the server failed (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
//! `UNAVAILABLE`, `DATA_LOSS`): `NOT_FOUND` is a correct answer, not a broken server.

#[cfg(feature = "opentelemetry")]
mod otel;

use tracing::Span;
use tracing::field::{Empty, display};

use super::is_server_fault;
use super::request_id::request_id;
use super::{CallInfo, Finish, Interceptor, Side};
use crate::call::incoming_parent;
pub use crate::call::{
    Hex, SAMPLED, TraceContext, TraceParent, outgoing_traceparent, trace_context,
};
pub use crate::rpc::{TRACEPARENT, TRACESTATE};
use crate::rpc::{TRACESTATE_NAME, WireProtocol};
use crate::{Code, Context, Status};

/// The tracing interceptor (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tracing;

impl Interceptor for Tracing {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        // The span of the call this one is made from, when a stack saw it (a client stack
        // inside a handler, or an in-process call), else what the caller sent.
        let parent = trace_context(ctx)
            .map(TraceContext::traceparent)
            .or_else(|| incoming_parent(ctx.metadata()));
        if parent.is_none() && ctx.metadata().as_ref().contains_key(&TRACESTATE_NAME) {
            // The W3C spec: without a valid traceparent the trace state means nothing.
            ctx.metadata_mut().as_mut().remove(&TRACESTATE_NAME);
        }
        #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
        let mut trace = TraceContext {
            trace_id: parent.map_or_else(new_trace_id, |p| p.trace_id),
            span_id: new_span_id(),
            parent_span_id: parent.map(|p| p.parent_id),
            flags: parent.map_or(SAMPLED, |p| p.flags),
        };

        let method = call.method;
        // A served call says what it came in by; a client stack's call is gRPC's as far as it
        // can tell (the client under it may speak gRPC-Web or Connect).
        let protocol = match call.side {
            Side::Server => ctx.protocol(),
            Side::Client => None,
        };
        let route = ctx
            .http_route()
            .filter(|_| protocol == Some(WireProtocol::Rest));
        let system = protocol.map_or(Some("grpc"), WireProtocol::rpc_system);
        let span = tracing::info_span!(
            "rpc",
            otel.name = %SpanName { method, route },
            otel.kind = call.side.as_str(),
            otel.status_code = Empty,
            rpc.system = system,
            rpc.service = method.service(),
            rpc.method = method.method(),
            http.route = route.map(|route| route.template),
            http.request.method = route.map(|route| route.method),
            rpc.grpc.status_code = Empty,
            network.peer.address = Empty,
            network.peer.port = Empty,
            net.peer.ip = Empty,
            request_id = Empty,
            trace_id = Empty,
            span_id = Empty,
            parent_span_id = Empty,
        );
        #[cfg(feature = "opentelemetry")]
        otel::join(&span, &mut trace, parent.as_ref(), ctx.metadata());
        if !span.is_disabled() {
            record_ids(&span, &trace, ctx);
        }

        // The next hop learns this span from the context: a generated client formats it into
        // `traceparent` only when a call is made (see `outgoing_traceparent`).
        ctx.set_trace_context(trace);
        if span.is_disabled() {
            // No subscriber wants the span: there is nothing to record at the end.
            ctx.set_span(span);
            return Ok(Finish::nothing());
        }
        ctx.set_span(span.clone());

        Ok(Finish(super::Ending::Tracing(Ending {
            span,
            side: call.side,
        })))
    }
}

/// A span's `otel.name`: `service/method`, or a REST call's route.
struct SpanName {
    method: &'static crate::rpc::MethodInfo,
    route: Option<&'static crate::rpc::HttpBinding>,
}

impl std::fmt::Display for SpanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.route {
            Some(route) => write!(f, "{} {}", route.method, route.template),
            None => f.write_str(self.method.full_name()),
        }
    }
}

/// What [`Tracing`] records on the call's span when the call ends.
pub(super) struct Ending {
    span: Span,
    side: Side,
}

impl Ending {
    pub(super) fn run(self, outcome: &super::Outcome<'_>) {
        let code = outcome.code();
        self.span.record("rpc.grpc.status_code", code as i32);
        let failed = match self.side {
            Side::Client => code != Code::Ok,
            Side::Server => is_server_fault(code),
        };
        if failed {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

// Never zero: an all-zero id is invalid. Drawn again in that case (2^-128, 2^-64) rather than
// from a range: `fastrand::u128(1..)` divides by 2^128 − 1, a library call, on every call.
fn new_trace_id() -> [u8; 16] {
    loop {
        let id = fastrand::u128(..);
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

fn new_span_id() -> [u8; 8] {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

fn record_ids(span: &Span, trace: &TraceContext, ctx: &Context) {
    span.record("trace_id", display(Hex(&trace.trace_id)));
    span.record("span_id", display(Hex(&trace.span_id)));
    if let Some(parent) = &trace.parent_span_id {
        span.record("parent_span_id", display(Hex(parent)));
    }
    if let Some(id) = request_id(ctx) {
        span.record("request_id", id.as_str());
    }
    if let Some(peer) = ctx.peer_addr() {
        let ip = peer.ip().to_string();
        span.record("network.peer.address", ip.as_str());
        span.record("net.peer.ip", ip.as_str());
        span.record("network.peer.port", peer.port());
    }
}

#[cfg(test)]
mod tests;
