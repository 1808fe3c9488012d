//! The call context every domain trait method receives, and the response metadata it carries.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::MetadataMap;

use crate::rpc::{HttpBinding, MethodInfo, WireProtocol};

mod metadata;
mod request_id;
mod response;
mod traceparent;

pub(crate) use metadata::Convert;
use metadata::RequestMetadata;
pub use request_id::{MAX_REQUEST_ID_LEN, RequestId};
pub use response::{MetadataGuard, ResponseMetadata};
pub(crate) use response::{append_entries, is_application_key};
#[cfg(test)]
pub(crate) use traceparent::hex;
pub use traceparent::{Hex, SAMPLED, TraceContext, TraceParent};

/// What a domain trait method knows about the call it serves, independent of the transport.
///
/// The gRPC adapter builds it from the wire request (deadline from `grpc-timeout`, metadata,
/// peer address); the REST gateway from the HTTP request; callers in tests and in-process code
/// build it with [`Context::new`] and the `with_…` methods. Deadlines are
/// [`tokio::time::Instant`]s so that tests with paused time see them move with the clock.
///
/// # Metadata in both directions
///
/// - [`metadata`](Self::metadata) is the request metadata of the call being served: what the
///   caller sent. A generated client passed this context forwards only its allow-listed keys
///   (request id and trace context) downstream, never the rest (an `authorization` header meant
///   for this service must not leak to the next one). One exception: the metadata a REST
///   gateway made from an HTTP request's headers, passed to a generated client of the very rpc
///   the request was for. That client is the gateway's way to the service (proxy mode), and
///   sends the metadata on whole, as grpc-gateway sends its backend what its header rules make
///   (`ClientBuilder::forward_gateway_metadata` turns this off).
/// - [`outgoing_metadata`](Self::outgoing_metadata) is metadata the caller attaches to the calls
///   made with this context: a generated client sends all of it, ASCII keys as they are and
///   `-bin` keys base64-encoded, as gRPC requires. Nothing a server receives lands here.
/// - [`response`](Self::response) holds the response headers and trailers of the call: a handler
///   sets them, the gRPC adapter and the gateway send them, and a generated client fills them in
///   with what the server answered. Clones of a context share them.
///
/// A context the gRPC adapter made for a call it serves is [*serving*](Self::is_serving): a
/// generated client given it does not write the downstream service's response metadata into it,
/// so a handler that passes its own context on does not answer with its dependency's headers.
/// To read a downstream call's response metadata, make the call with [`child`](Self::child).
///
/// # Cheap to clone
///
/// An interceptor stack works on its own copy of the context, and every call a handler makes
/// starts from one, so a clone copies no map: the request metadata is shared until someone
/// changes it, and what the interceptors attach to every call (the [request
/// id](Self::request_id) and the [trace context](Self::trace_context)) has a slot of its own
/// rather than a boxed entry in the [extensions](Self::extensions).
#[derive(Debug)]
pub struct Context {
    deadline: Option<Instant>,
    /// The deadline a layer outside the domain call enforces already (the gRPC adapter or the
    /// gateway, which run the whole call within it), so that an interceptor stack inside arms no
    /// second timer for it. Not carried by clones (see `Clone`).
    enforced: Option<Instant>,
    metadata: Arc<RequestMetadata>,
    /// Boxed, and only when something was attached: most contexts (every call a server
    /// serves) have none, and a context is copied whole into every future that holds it.
    outgoing: Option<Box<MetadataMap>>,
    peer_addr: Option<SocketAddr>,
    response: ResponseMetadata,
    extensions: http::Extensions,
    span: tracing::Span,
    request_id: Option<RequestId>,
    trace: Option<TraceContext>,
    identity: Option<Arc<dyn Any + Send + Sync>>,
    serving: bool,
    /// The protocol of the served call; not carried by a child (the call it makes goes out by
    /// a protocol of its own).
    protocol: Option<WireProtocol>,
}

/// A clone is the same call's context, except that the deadline is no longer known to be
/// enforced from outside: a clone can outlive the call (moved into a spawned task) and be used
/// where no outer timer runs.
impl Clone for Context {
    fn clone(&self) -> Self {
        Self {
            deadline: self.deadline,
            enforced: None,
            metadata: self.metadata.clone(),
            outgoing: self.outgoing.clone(),
            peer_addr: self.peer_addr,
            response: self.response.clone(),
            extensions: self.extensions.clone(),
            span: self.span.clone(),
            request_id: self.request_id.clone(),
            trace: self.trace,
            identity: self.identity.clone(),
            serving: self.serving,
            protocol: self.protocol,
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::with_parts(Arc::default(), ResponseMetadata::default())
    }
}

impl Context {
    /// A context with no deadline, no metadata and no peer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context for a call made while serving this one: the same deadline, request metadata
    /// (for propagation), peer, extensions, request id, trace context and span, but its own
    /// response metadata and no outgoing metadata. A generated client records the downstream
    /// response in it.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            deadline: self.deadline,
            enforced: None,
            metadata: self.metadata.clone(),
            outgoing: None,
            peer_addr: self.peer_addr,
            response: ResponseMetadata::default(),
            extensions: self.extensions.clone(),
            span: self.span.clone(),
            request_id: self.request_id.clone(),
            trace: self.trace,
            identity: self.identity.clone(),
            serving: false,
            protocol: None,
        }
    }

    /// Sets the deadline, replacing any earlier one.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline to `timeout` from now, unless the context already has an earlier one:
    /// a callee never gets more time than its caller has left.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let candidate = Instant::now().checked_add(timeout);
        self.deadline = match (self.deadline, candidate) {
            (Some(current), Some(candidate)) => Some(current.min(candidate)),
            (current, candidate) => current.or(candidate),
        };
        self
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: MetadataMap) -> Self {
        let replaced = RequestMetadata::ready(metadata).with_http_route_of(&self.metadata);
        self.metadata = Arc::new(replaced);
        self
    }

    /// A context whose request metadata `convert` makes from `headers` the first time it is
    /// read (see `metadata.rs`), for a gateway's call to `rpc` by the REST route `route`: what
    /// a gateway call's context carries, as most handlers never read it. `convert` must not
    /// fail.
    pub(crate) fn with_deferred_metadata(
        headers: http::HeaderMap,
        peer: Option<SocketAddr>,
        convert: Convert,
        (rpc, route): (&'static MethodInfo, &'static HttpBinding),
    ) -> Self {
        // Built with its metadata rather than replaced after `new`, which would allocate
        // empty metadata only to drop it.
        Self {
            peer_addr: peer,
            protocol: Some(WireProtocol::Rest),
            ..Self::with_parts(
                Arc::new(RequestMetadata::deferred(
                    headers,
                    peer,
                    convert,
                    Some((rpc, route)),
                )),
                ResponseMetadata::default(),
            )
        }
    }

    /// Sets the address of the peer that made the call.
    #[must_use]
    pub fn with_peer_addr(mut self, peer_addr: SocketAddr) -> Self {
        self.peer_addr = Some(peer_addr);
        self
    }

    /// The instant by which the call must be answered, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left until the deadline (zero once it has passed), or `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| deadline <= Instant::now())
    }

    /// The request metadata (gRPC metadata, or HTTP headers for gateway calls).
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata.get()
    }

    /// The request metadata, mutably (copied first when a clone of this context shares it).
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        Arc::make_mut(&mut self.metadata).get_mut()
    }

    /// How many attempts of this call the client made before this one, from the
    /// `grpc-previous-rpc-attempts` header a retrying client sends (gRFC A6): 0 for a first
    /// attempt, and when the header is missing or malformed.
    pub fn previous_rpc_attempts(&self) -> u32 {
        self.metadata()
            .get(crate::rpc::PREVIOUS_ATTEMPTS_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// The address of the peer that made the call, when the transport knows it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// Replaces the outgoing metadata: metadata to send on calls made with this context.
    #[must_use]
    pub fn with_outgoing_metadata(mut self, metadata: MetadataMap) -> Self {
        self.outgoing = (!metadata.is_empty()).then(|| Box::new(metadata));
        self
    }

    /// Metadata to send on calls made with this context, beside the propagated request id and
    /// trace context.
    pub fn outgoing_metadata(&self) -> &MetadataMap {
        static NONE: std::sync::OnceLock<MetadataMap> = std::sync::OnceLock::new();
        self.outgoing
            .as_deref()
            .unwrap_or_else(|| NONE.get_or_init(MetadataMap::new))
    }

    /// The outgoing metadata, mutably: `ctx.outgoing_metadata_mut().insert("x-tenant", …)`,
    /// or `insert_bin` for a binary `-bin` key.
    pub fn outgoing_metadata_mut(&mut self) -> &mut MetadataMap {
        self.outgoing.get_or_insert_with(Box::default)
    }

    /// The response headers and trailers of the call (shared by clones of this context).
    pub fn response(&self) -> &ResponseMetadata {
        &self.response
    }

    /// Typed values attached to the call by interceptors: anything a handler needs from the
    /// layer in front of it. (The request id, the trace context and the identity have slots of
    /// their own: [`request_id`](Self::request_id), [`trace_context`](Self::trace_context),
    /// [`identity`](Self::identity).)
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The `tracing` span of the call: the one the tracing interceptor opened, or a disabled span.
    /// Interceptors run the handler inside it, so every log line of the call carries its fields.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Sets the span of the call.
    pub fn set_span(&mut self, span: tracing::Span) {
        self.span = span;
    }

    /// The request id of the call, when a request-id interceptor gave it one: the caller's
    /// `x-request-id` when it sent a sane one, else a new id. Generated clients send it on in
    /// place of the `x-request-id` of the request metadata, which stays what the caller sent.
    pub fn request_id(&self) -> Option<&RequestId> {
        self.request_id.as_ref()
    }

    /// Sets the request id of the call.
    pub fn set_request_id(&mut self, id: RequestId) {
        self.request_id = Some(id);
    }

    /// The request id a call made with this context sends as `x-request-id` in place of the
    /// request metadata's: the slot's, unless the caller attached an id of its own to the
    /// outgoing metadata (which is sent as it is). The one rule for the generated clients and
    /// the fakes that stand in for them.
    pub(crate) fn request_id_to_send(&self) -> Option<&RequestId> {
        let attached = self
            .outgoing
            .as_deref()
            .is_some_and(|outgoing| outgoing.as_ref().contains_key(&crate::rpc::REQUEST_ID_NAME));
        self.request_id.as_ref().filter(|_| !attached)
    }

    /// The W3C trace context of the call, when a tracing interceptor made one: its trace and its
    /// own span, which generated clients send as the next hop's parent.
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// Sets the trace context of the call.
    pub fn set_trace_context(&mut self, trace: TraceContext) {
        self.trace = Some(trace);
    }

    /// The identity an authentication interceptor admitted the call with, if it is an `I`
    /// (`Auth::bearer` stores its verifier's answer as an
    /// [`Authenticated`](crate::interceptors::auth::Authenticated); read it with
    /// [`authenticated`](crate::interceptors::auth::authenticated)).
    pub fn identity<I: Any + Send + Sync>(&self) -> Option<&I> {
        self.identity.as_deref()?.downcast_ref()
    }

    /// Sets the identity of the call, replacing any earlier one.
    pub fn set_identity<I: Any + Send + Sync>(&mut self, identity: I) {
        self.identity = Some(Arc::new(identity));
    }

    /// The rpc whose REST route a gateway made this context's request metadata for, while it
    /// is that metadata (a handler that replaces it with [`with_metadata`](Self::with_metadata)
    /// makes it its own). A generated client calling the same rpc sends the metadata on whole.
    pub(crate) fn gateway_rpc(&self) -> Option<&'static MethodInfo> {
        self.metadata.gateway_rpc()
    }

    /// Says that a gateway made this context's request metadata for a REST call to `rpc` by
    /// the route `route` (a context it has just made, whose metadata nothing shares yet:
    /// nothing is copied).
    pub(crate) fn set_gateway_rpc(
        &mut self,
        rpc: &'static MethodInfo,
        route: &'static HttpBinding,
    ) {
        Arc::make_mut(&mut self.metadata).set_gateway_rpc(rpc, route);
        self.protocol = Some(WireProtocol::Rest);
    }

    /// The REST route a gateway served this call by (its method and path template, e.g. `GET`
    /// and `/v1/items/{sku}/stock`), as grpc-gateway's `runtime.HTTPPathPattern` gives it: a
    /// label of few values, for metrics and logs, where the path itself has as many as there
    /// are items. `None` for a call that came by gRPC or Connect.
    pub fn http_route(&self) -> Option<&'static HttpBinding> {
        self.metadata.http_route()
    }

    /// Whether a server transport made this context for a call it serves (see the type's docs).
    pub fn is_serving(&self) -> bool {
        self.serving
    }

    /// The protocol the call this context serves came in by (gRPC, gRPC-Web, Connect or REST);
    /// `None` for a context no server made (a call made in process, or by a client).
    pub fn protocol(&self) -> Option<WireProtocol> {
        self.protocol
    }

    /// A context a server transport made for a call it serves, over the response metadata cell
    /// the transport reads back (built directly, so no cell of its own is allocated and dropped).
    pub(crate) fn serving_call(
        metadata: MetadataMap,
        response: ResponseMetadata,
        protocol: WireProtocol,
    ) -> Self {
        Self {
            serving: true,
            protocol: Some(protocol),
            ..Self::with_parts(Arc::new(RequestMetadata::ready(metadata)), response)
        }
    }

    /// A context with this request metadata and response cell and nothing else: every field
    /// written out once, for the constructors that bring their own (ones that `new` made
    /// would be allocated only to be dropped).
    fn with_parts(metadata: Arc<RequestMetadata>, response: ResponseMetadata) -> Self {
        Self {
            deadline: None,
            enforced: None,
            metadata,
            outgoing: None,
            peer_addr: None,
            response,
            extensions: http::Extensions::new(),
            span: tracing::Span::none(),
            request_id: None,
            trace: None,
            identity: None,
            serving: false,
            protocol: None,
        }
    }

    /// Marks the current deadline as enforced by the caller of the domain method: it runs the
    /// whole call, interceptor stack included, within that deadline.
    pub(crate) fn enforce_deadline_outside(&mut self) {
        self.enforced = self.deadline;
    }

    /// A clone for a layer that runs inside the call `self` belongs to (an interceptor stack's
    /// own copy), which may rely on an outer layer's deadline timer.
    pub(crate) fn clone_inside(&self) -> Self {
        let mut inner = self.clone();
        inner.enforced = self.enforced;
        inner
    }

    /// Whether a layer outside enforces this context's deadline already (always `false`
    /// without a deadline, or once the deadline was changed).
    pub(crate) fn is_deadline_enforced_outside(&self) -> bool {
        self.deadline.is_some() && self.enforced == self.deadline
    }

    /// Moves the outgoing metadata into the request metadata: the call as a server receives it
    /// over the wire. What in-process server stacks and fakes see, so that they match a remote
    /// server.
    pub(crate) fn receive_outgoing(&mut self) {
        if let Some(outgoing) = self.outgoing.take()
            && !outgoing.is_empty()
        {
            let outgoing = *outgoing;
            append_entries(self.metadata_mut().as_mut(), outgoing, |_| true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn with_timeout_never_extends_an_earlier_deadline() {
        let ctx = Context::new().with_timeout(Duration::from_millis(100));
        let tighter = ctx.clone().with_timeout(Duration::from_millis(50));
        let looser = ctx.clone().with_timeout(Duration::from_secs(5));
        assert_eq!(tighter.remaining(), Some(Duration::from_millis(50)));
        assert_eq!(looser.remaining(), Some(Duration::from_millis(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_expires() {
        let ctx = Context::new().with_timeout(Duration::from_millis(100));
        assert!(!ctx.is_expired());
        tokio::time::advance(Duration::from_millis(60)).await;
        assert_eq!(ctx.remaining(), Some(Duration::from_millis(40)));
        tokio::time::advance(Duration::from_millis(40)).await;
        assert!(ctx.is_expired());
        assert_eq!(ctx.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn no_deadline_means_never_expired() {
        let ctx = Context::new();
        assert_eq!(ctx.deadline(), None);
        assert_eq!(ctx.remaining(), None);
        assert!(!ctx.is_expired());
    }

    #[test]
    fn clones_share_the_request_metadata_until_one_changes_it() {
        let mut metadata = MetadataMap::new();
        metadata.insert("tenant", "acme".parse().unwrap());
        let ctx = Context::new().with_metadata(metadata);
        let mut copy = ctx.clone();
        assert!(Arc::ptr_eq(&ctx.metadata, &copy.metadata));
        copy.metadata_mut()
            .insert("tenant", "other".parse().unwrap());
        assert_eq!(ctx.metadata().get("tenant").unwrap(), "acme");
        assert_eq!(copy.metadata().get("tenant").unwrap(), "other");
    }

    #[test]
    fn slots_travel_with_clones_and_children() {
        #[derive(Debug, PartialEq)]
        struct User(&'static str);
        let mut ctx = Context::new();
        ctx.set_identity(User("ada"));
        ctx.set_request_id(RequestId::parse("req-1").unwrap());
        let trace = TraceContext {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            flags: SAMPLED,
        };
        ctx.set_trace_context(trace);
        for copy in [ctx.clone(), ctx.child()] {
            assert_eq!(copy.identity::<User>(), Some(&User("ada")));
            assert_eq!(
                copy.identity::<String>(),
                None,
                "typed: another type reads nothing"
            );
            assert_eq!(copy.request_id().unwrap().as_str(), "req-1");
            assert_eq!(copy.trace_context(), Some(&trace));
        }
        assert!(ctx.extensions().is_empty(), "slots, not extensions");
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_copy_inside_the_call_relies_on_the_outer_deadline_timer() {
        let mut ctx = Context::new();
        ctx.enforce_deadline_outside();
        assert!(
            !ctx.is_deadline_enforced_outside(),
            "no deadline, nothing enforced"
        );

        let mut ctx = Context::new().with_timeout(Duration::from_secs(1));
        ctx.enforce_deadline_outside();
        assert!(ctx.is_deadline_enforced_outside());
        assert!(ctx.clone_inside().is_deadline_enforced_outside());
        // A clone may outlive the call (a spawned task), a child is another call.
        assert!(!ctx.clone().is_deadline_enforced_outside());
        assert!(!ctx.child().is_deadline_enforced_outside());
        // A tighter deadline is not the one the outer layer enforces; a looser one is capped.
        let tighter = ctx.clone_inside().with_timeout(Duration::from_millis(10));
        assert!(!tighter.is_deadline_enforced_outside());
        let capped = ctx.clone_inside().with_timeout(Duration::from_secs(5));
        assert!(capped.is_deadline_enforced_outside());
    }

    #[tokio::test]
    async fn a_huge_timeout_does_not_overflow() {
        let ctx = Context::new().with_timeout(Duration::MAX);
        assert!(!ctx.is_expired());
    }
}
