//! Request ids: every call gets an `x-request-id`, the caller's when it sent a sane one, and
//! keeps it across hops.
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, request_id::RequestIds};
//! # struct Store;
//! let service = Interceptors::server().with(RequestIds).wrap(Store);
//! ```
//!
//! On a server stack the id goes into the [`Context`]'s extensions (read it with
//! [`request_id`]), its request metadata (so that a generated client called from the handler
//! with this context forwards it: `x-request-id` is on the clients' propagation allow-list),
//! the response headers (so the caller can quote it), and the `request_id` field of the call's
//! span when the span has one. On a client stack it only makes sure the outgoing call has an
//! id: the caller's, else a new one.

use std::fmt;
use std::sync::Arc;

use tonic::metadata::AsciiMetadataValue;

use super::{CallInfo, Finish, Interceptor, Side};
use crate::{Context, MetadataMap, Status};

pub use crate::rpc::REQUEST_ID_HEADER;

/// The longest request id taken from a caller; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id of a call: an extension of its [`Context`]. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new id: a UUID v7, so that ids sort by creation time and index well.
    pub fn generate() -> Self {
        // Built from the clock and the thread-local `fastrand` generator rather than
        // `Uuid::now_v7`, which asks the OS for randomness: a system call per request.
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            });
        let mut random = [0; 10];
        fastrand::fill(&mut random);
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        Self(uuid.hyphenated().encode_lower(&mut text).into())
    }

    /// `id` if it is sane to log and pass on: 1 to [`MAX_REQUEST_ID_LEN`] bytes of printable
    /// ASCII. A caller controls what it sends, so anything else (control characters that could
    /// forge log lines, unbounded lengths) is refused.
    pub fn parse(id: &str) -> Option<Self> {
        let sane = !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id.bytes().all(|byte| (b' '..=b'~').contains(&byte));
        sane.then(|| Self(id.into()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id in `metadata` under [`REQUEST_ID_HEADER`], if there is a sane one.
    fn from_metadata(metadata: &MetadataMap) -> Option<Self> {
        let value = metadata.get(REQUEST_ID_HEADER)?.to_str().ok()?;
        Self::parse(value)
    }

    fn to_metadata_value(&self) -> AsciiMetadataValue {
        // Printable ASCII by construction (`parse` checks it, a UUID is), so valid metadata.
        AsciiMetadataValue::try_from(self.as_str()).expect("a request id is printable ASCII")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The request id of the call `ctx` belongs to, when a [`RequestIds`] interceptor gave it one.
pub fn request_id(ctx: &Context) -> Option<&RequestId> {
    ctx.extensions().get::<RequestId>()
}

/// The interceptor that gives every call a [`RequestId`] (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIds;

impl Interceptor for RequestIds {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        match call.side {
            Side::Server => {
                let (id, received) = match RequestId::from_metadata(ctx.metadata()) {
                    Some(id) => (id, true),
                    None => (RequestId::generate(), false),
                };
                let value = id.to_metadata_value();
                if !received {
                    // A new id, or one replacing a malformed one: what downstream calls forward.
                    ctx.metadata_mut().insert(REQUEST_ID_HEADER, value.clone());
                }
                ctx.response()
                    .headers()
                    .insert(REQUEST_ID_HEADER, crate::rpc::never_indexed(value));
                // A no-op when the span has no such field (or there is no span yet: a tracing
                // interceptor after this one picks the id from the extensions).
                ctx.span().record("request_id", id.as_str());
                ctx.extensions_mut().insert(id);
            }
            Side::Client => {
                // The id of the call being served (propagated), else one the caller attached.
                let existing = RequestId::from_metadata(ctx.metadata())
                    .or_else(|| RequestId::from_metadata(ctx.outgoing_metadata()));
                let id = match existing {
                    Some(id) => id,
                    None => {
                        let id = RequestId::generate();
                        ctx.metadata_mut()
                            .insert(REQUEST_ID_HEADER, id.to_metadata_value());
                        id
                    }
                };
                ctx.extensions_mut().insert(id);
            }
        }
        Ok(Finish::nothing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), id.as_str());
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
            assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), id.as_str());
        }
        // Non-ASCII is refused as well, and the longest allowed id is kept.
        assert_eq!(RequestId::parse("caf\u{e9}"), None);
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(RequestId::parse(&longest).unwrap().as_str(), longest);
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
        let id = request_id(&seen).unwrap();
        assert_eq!(seen.metadata().get(REQUEST_ID_HEADER).unwrap(), id.as_str());
        assert!(ctx.response().headers().is_empty());
    }
}
