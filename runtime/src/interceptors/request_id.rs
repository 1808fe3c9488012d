//! Request ids: every call gets an `x-request-id`, the caller's when it sent a sane one, and
//! keeps it across hops.
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, request_id::RequestIds};
//! # struct Store;
//! let service = Interceptors::server().with(RequestIds).wrap(Store);
//! ```
//!
//! The id goes into the [`Context`]'s request-id slot (read it with [`request_id`]), which a
//! generated client called with that context sends on as `x-request-id` (the header is on the
//! clients' propagation allow-list), in place of whatever the request metadata holds: the
//! metadata stays what the caller sent. On a server stack the id also goes into the response
//! headers (so the caller can quote it) and the `request_id` field of the call's span when the
//! span has one. On a client stack it only makes sure the outgoing call has an id: the one of
//! the call being served, else the caller's, else a new one.

use http::HeaderMap;

use super::{CallInfo, Finish, Interceptor, Side};
use crate::rpc::REQUEST_ID_NAME;
use crate::{Context, Status};

pub use crate::context::{MAX_REQUEST_ID_LEN, RequestId};
pub use crate::rpc::REQUEST_ID_HEADER;

/// The sane request id in `headers`, if there is one.
fn from_headers(headers: &HeaderMap) -> Option<RequestId> {
    RequestId::from_header(headers.get(&REQUEST_ID_NAME)?)
}

/// The request id of the call `ctx` belongs to, when a [`RequestIds`] interceptor gave it one.
pub fn request_id(ctx: &Context) -> Option<&RequestId> {
    ctx.request_id()
}

/// The interceptor that gives every call a [`RequestId`] (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIds;

impl Interceptor for RequestIds {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        // The id of the call being served (an in-process caller's, or the one a client stack
        // runs inside), else the one sent with the request or attached by the caller.
        let existing = ctx.request_id().cloned().or_else(|| {
            from_headers(ctx.metadata().as_ref())
                .or_else(|| from_headers(ctx.outgoing_metadata().as_ref()))
        });
        let id = existing.unwrap_or_else(|| RequestId::generate_at(call.started));
        if call.side == Side::Server {
            ctx.response().echo_request_id(id.to_header_value());
            // A no-op when the span has no such field (or there is no span yet: a tracing
            // interceptor after this one picks the id from the context).
            ctx.span().record("request_id", id.as_str());
        }
        // What a generated client sends on as `x-request-id`, in place of what the request
        // metadata holds (a malformed id, or none).
        ctx.set_request_id(id);
        Ok(Finish::nothing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetadataMap;
    use crate::interceptors::Interceptors;
    use crate::interceptors::testing::{Capture, ECHO, Svc, echo};

    fn with_id(id: &str) -> Context {
        let mut metadata = MetadataMap::new();
        metadata.insert(REQUEST_ID_HEADER, id.parse().unwrap());
        Context::new().with_metadata(metadata)
    }

    #[tokio::test]
    async fn a_sane_incoming_id_is_kept_everywhere() {
        let service = Interceptors::server().with(RequestIds).wrap(Svc::default());
        let ctx = with_id("req-42");
        assert_eq!(
            service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap(),
            1
        );

        let seen = service.inner().last_context();
        assert_eq!(request_id(&seen).unwrap().as_str(), "req-42");
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), "req-42");
        // The response metadata is shared with the caller's context.
        assert_eq!(
            ctx.response().headers().get(REQUEST_ID_HEADER).unwrap(),
            "req-42"
        );
    }

    #[tokio::test]
    async fn a_missing_id_is_made_as_a_uuid_v7() {
        let service = Interceptors::server().with(RequestIds).wrap(Svc::default());
        let ctx = Context::new();
        service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();

        let seen = service.inner().last_context();
        let id = request_id(&seen).unwrap();
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        // The request metadata stays what the caller sent; the id has its own slot.
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER), None);
        let headers = ctx.response().headers();
        let sent = headers.get(REQUEST_ID_HEADER).unwrap();
        assert_eq!(sent, id.as_str());
        // New on every call: not worth a slot in the connection's HPACK table.
        assert!(sent.is_sensitive());
    }

    #[tokio::test]
    async fn an_insane_incoming_id_is_replaced() {
        let service = Interceptors::server().with(RequestIds).wrap(Svc::default());
        for insane in [
            String::new(),
            "x".repeat(MAX_REQUEST_ID_LEN + 1),
            "a\tb".into(),
        ] {
            let ctx = with_id(&insane);
            service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
            let seen = service.inner().last_context();
            let id = request_id(&seen).unwrap().as_str().to_owned();
            assert_ne!(id, insane);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id:?}");
            assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), &insane);
        }
    }

    #[tokio::test]
    async fn the_id_is_recorded_on_a_span_that_has_the_field() {
        let (capture, _guard) = Capture::install();
        let span = tracing::info_span!("call", request_id = tracing::field::Empty);
        let tracing = crate::interceptors::from_fn(move |_, ctx| {
            ctx.set_span(span.clone());
            Ok(())
        });
        let service = Interceptors::server()
            .with(tracing)
            .with(RequestIds)
            .wrap(Svc::default());
        service
            .intercept_unary(&ECHO, &with_id("req-7"), 1, echo)
            .await
            .unwrap();
        assert_eq!(capture.spans("call")[0].get("request_id"), Some("req-7"));
    }

    #[tokio::test]
    async fn a_client_keeps_the_callers_id_or_makes_one() {
        let client = Interceptors::client().with(RequestIds).wrap(Svc::default());

        // Called from a handler: the served call's id goes on.
        client
            .intercept_unary(&ECHO, &with_id("req-1"), 1, echo)
            .await
            .unwrap();
        let seen = client.inner().last_context();
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), "req-1");
        assert_eq!(request_id(&seen).unwrap().as_str(), "req-1");

        // The caller attached one: it is sent as it is, not doubled.
        let mut outgoing = MetadataMap::new();
        outgoing.insert(REQUEST_ID_HEADER, "mine".parse().unwrap());
        let ctx = Context::new().with_outgoing_metadata(outgoing);
        client.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
        let seen = client.inner().last_context();
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER), None);
        assert_eq!(request_id(&seen).unwrap().as_str(), "mine");

        // None at all: a new one, and no response header on the caller's context.
        let ctx = Context::new();
        client.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
        let seen = client.inner().last_context();
        assert!(uuid::Uuid::parse_str(request_id(&seen).unwrap().as_str()).is_ok());
        assert!(ctx.response().headers().is_empty());

        // Inside a call a server stack gave an id: that id, whatever the metadata holds.
        let mut served = with_id("a\tb");
        served.set_request_id(RequestId::parse("req-7").unwrap());
        client
            .intercept_unary(&ECHO, &served, 1, echo)
            .await
            .unwrap();
        let seen = client.inner().last_context();
        assert_eq!(request_id(&seen).unwrap().as_str(), "req-7");
    }
}
