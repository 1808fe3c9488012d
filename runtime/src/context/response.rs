//! The response headers and trailers of a call, shared between the handler that sets them and
//! the transport that sends them (or the client that fills them in).
//!
//! Why a shared cell on the [`Context`](super::Context) rather than a response wrapper in the
//! trait's return type: the domain traits keep their plain `Result<Response, Status>` signature,
//! so a handler that sets no metadata (most of them) looks exactly as before, fakes and clients
//! implement the same signature, and an interceptor can set a header (the request id) without
//! knowing the response type. grpc-go's `grpc.SetHeader(ctx, …)` makes the same choice.
//!
//! When what is set gets sent:
//! - headers set before a unary handler returns, or before a streaming handler returns its
//!   stream, go out with the response headers; later ones are too late and are dropped, as in
//!   gRPC, where headers precede the first message;
//! - trailers set at any time before the response (or its stream) ends go out with the status;
//! - when the call fails, both are sent with the error status.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use http::HeaderValue;
use tonic::metadata::MetadataMap;

use crate::rpc::REQUEST_ID_NAME;

/// The response headers and trailers of one call. Cheap to clone; clones share the same maps.
#[derive(Debug, Default)]
pub struct ResponseMetadata {
    /// Made the first time something sets, locks or clones them: most calls' handlers set
    /// nothing, and their answer then only asks whether anything was set. A context is made
    /// for every call, and this saves each an allocation and its release.
    parts: OnceLock<Arc<Mutex<Parts>>>,
}

/// A clone shares the maps, which are made now if they were not yet.
impl Clone for ResponseMetadata {
    fn clone(&self) -> Self {
        Self {
            parts: OnceLock::from(Arc::clone(self.shared())),
        }
    }
}

#[derive(Debug, Default)]
struct Parts {
    headers: MetadataMap,
    /// The `x-request-id` to echo, kept out of `headers` until something reads or takes them.
    /// Most calls' headers hold nothing else, and the gRPC wire layer then adds it to the HTTP
    /// response without building a map for it (two allocations a call).
    request_id: Option<HeaderValue>,
    trailers: MetadataMap,
    /// The headers go out as the HTTP response's own when the call ends, added by the gRPC
    /// server's wire layer (see [`ResponseMetadata::for_wire`]), not through tonic's response.
    sent_by_wire: bool,
}

impl Parts {
    /// Moves the request id to echo into the header map, where a reader of the headers looks.
    fn echo_into_headers(&mut self) {
        if let Some(id) = self.request_id.take() {
            self.headers.as_mut().insert(&REQUEST_ID_NAME, id);
        }
    }
}

impl ResponseMetadata {
    /// A fresh, empty pair of maps.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cell of a call whose transport adds the headers to the HTTP response itself (the
    /// gRPC server's wire layer), so the handler's answer need not carry them.
    pub(crate) fn for_wire() -> Self {
        let cell = Self::default();
        cell.lock().sent_by_wire = true;
        cell
    }

    /// A copy of the headers for the handler's answer to carry, unless the transport adds them
    /// to the HTTP response itself.
    pub(crate) fn headers_to_answer_with(&self) -> Option<MetadataMap> {
        if self.parts.get().is_none() {
            return Some(MetadataMap::new());
        }
        let mut parts = self.lock();
        if parts.sent_by_wire {
            return None;
        }
        parts.echo_into_headers();
        Some(parts.headers.clone())
    }

    /// Whether nothing was set: no header, no trailer, no request id to echo. One lock, for
    /// the callers that would otherwise read both maps to find them empty (most calls).
    pub(crate) fn is_empty(&self) -> bool {
        let Some(parts) = self.parts.get() else {
            return true;
        };
        let parts = lock(parts);
        parts.request_id.is_none() && parts.headers.is_empty() && parts.trailers.is_empty()
    }

    /// Sets the `x-request-id` response header to `id`, as `headers().insert` would, without
    /// building the header map until something reads the headers.
    pub(crate) fn echo_request_id(&self, id: HeaderValue) {
        self.lock().request_id = Some(id);
    }

    /// A copy of the headers for the gRPC wire layer to send: the map, and the request id to
    /// echo when nothing has put it in the map yet. Copied, not taken, so that the call's
    /// context still shows what it was answered with (a fake records it); copying an empty map
    /// allocates nothing.
    pub(crate) fn headers_to_send(&self) -> (MetadataMap, Option<HeaderValue>) {
        if self.parts.get().is_none() {
            return (MetadataMap::new(), None);
        }
        let parts = self.lock();
        (parts.headers.clone(), parts.request_id.clone())
    }

    /// The response headers, to read or change: `ctx.response().headers().insert("x-served-by",
    /// value)`. The guard is a lock: keep it for one statement, never across an `.await` (it is
    /// not `Send`, so the compiler stops that).
    pub fn headers(&self) -> MetadataGuard<'_> {
        MetadataGuard {
            parts: self.lock_headers(),
            trailers: false,
        }
    }

    /// The response trailers, like [`headers`](Self::headers).
    pub fn trailers(&self) -> MetadataGuard<'_> {
        MetadataGuard {
            parts: self.lock(),
            trailers: true,
        }
    }

    /// Takes the headers out, leaving an empty map.
    pub fn take_headers(&self) -> MetadataMap {
        std::mem::take(&mut self.lock_headers().headers)
    }

    /// Takes the trailers out, leaving an empty map.
    pub fn take_trailers(&self) -> MetadataMap {
        std::mem::take(&mut self.lock().trailers)
    }

    /// Adds every entry of `headers` to the headers (what a client does with what it received).
    pub fn extend_headers(&self, headers: MetadataMap) {
        extend(&mut self.lock_headers().headers, headers);
    }

    /// Adds every entry of `trailers` to the trailers.
    pub fn extend_trailers(&self, trailers: MetadataMap) {
        extend(&mut self.lock().trailers, trailers);
    }

    /// Adds received headers, without the protocol's own (`grpc-*`, `content-type`…).
    pub(crate) fn record_headers(&self, headers: MetadataMap) {
        append_entries(
            self.lock_headers().headers.as_mut(),
            headers,
            is_application_key,
        );
    }

    /// Adds received trailers, without the protocol's own.
    pub(crate) fn record_trailers(&self, trailers: MetadataMap) {
        append_entries(self.lock().trailers.as_mut(), trailers, is_application_key);
    }

    /// Whether `other` is a clone of this one (the same maps).
    pub fn same_as(&self, other: &ResponseMetadata) -> bool {
        Arc::ptr_eq(self.shared(), other.shared())
    }

    /// The maps, made if they were not yet.
    fn shared(&self) -> &Arc<Mutex<Parts>> {
        self.parts.get_or_init(Default::default)
    }

    /// The parts, with the request id to echo moved into the header map.
    fn lock_headers(&self) -> MutexGuard<'_, Parts> {
        let mut parts = self.lock();
        parts.echo_into_headers();
        parts
    }

    fn lock(&self) -> MutexGuard<'_, Parts> {
        lock(self.shared())
    }
}

fn lock(parts: &Mutex<Parts>) -> MutexGuard<'_, Parts> {
    // A handler that panicked while holding the lock left consistent maps behind (every
    // MetadataMap operation completes or does nothing), so poisoning is ignored.
    parts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn extend(into: &mut MetadataMap, from: MetadataMap) {
    append_entries(into.as_mut(), from, |_| true);
}

/// Whether a metadata key is the application's rather than the protocol's: not `grpc-*` (a
/// handler cannot forge `grpc-status`), nor the HTTP framing headers.
pub(crate) fn is_application_key(name: &str) -> bool {
    const FRAMING: &[&str] = &[
        "content-type",
        "content-length",
        "content-encoding",
        "te",
        "trailer",
        "transfer-encoding",
        "connection",
        "date",
    ];
    !name.starts_with("grpc-") && !FRAMING.contains(&name)
}

/// Appends every entry of `from` whose name `keep` accepts to `into`, keeping every value of a
/// repeated key.
pub(crate) fn append_entries(
    into: &mut http::HeaderMap,
    from: MetadataMap,
    keep: impl Fn(&str) -> bool,
) {
    // An owned `HeaderMap` iterates each name once, then `None` for its further values.
    let mut last = None;
    for (name, value) in from.into_headers() {
        let name = match name {
            Some(name) => {
                last = Some(name.clone());
                name
            }
            None => match &last {
                Some(name) => name.clone(),
                None => continue,
            },
        };
        if keep(name.as_str()) {
            into.append(name, value);
        }
    }
}

/// A locked view of the response headers or trailers; derefs to a [`MetadataMap`].
#[derive(Debug)]
pub struct MetadataGuard<'a> {
    parts: MutexGuard<'a, Parts>,
    trailers: bool,
}

impl std::ops::Deref for MetadataGuard<'_> {
    type Target = MetadataMap;

    fn deref(&self) -> &MetadataMap {
        if self.trailers {
            &self.parts.trailers
        } else {
            &self.parts.headers
        }
    }
}

impl std::ops::DerefMut for MetadataGuard<'_> {
    fn deref_mut(&mut self) -> &mut MetadataMap {
        if self.trailers {
            &mut self.parts.trailers
        } else {
            &mut self.parts.headers
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::BinaryMetadataValue;

    use super::*;

    #[test]
    fn a_cell_nothing_was_set_in_reads_empty_without_making_its_maps() {
        let response = ResponseMetadata::new();
        assert!(response.is_empty());
        assert!(response.headers_to_answer_with().unwrap().is_empty());
        let (headers, id) = response.headers_to_send();
        assert!(headers.is_empty() && id.is_none());
        assert!(response.parts.get().is_none(), "reading made the maps");
        // A context cloned before anything is set still shares the cell with the original.
        let ctx = crate::Context::new();
        let clone = ctx.clone();
        clone
            .response()
            .trailers()
            .insert("x-late", "1".parse().unwrap());
        assert!(!ctx.response().is_empty());
        assert_eq!(ctx.response().trailers().get("x-late").unwrap(), "1");
    }

    #[test]
    fn clones_share_headers_and_trailers() {
        let response = ResponseMetadata::new();
        let handler_view = response.clone();
        handler_view
            .headers()
            .insert("x-served-by", "inventory-1".parse().unwrap());
        handler_view
            .trailers()
            .insert_bin("x-cost-bin", BinaryMetadataValue::from_bytes(&[0, 1, 2]));
        assert_eq!(
            response.headers().get("x-served-by").unwrap(),
            "inventory-1"
        );
        assert_eq!(
            response
                .trailers()
                .get_bin("x-cost-bin")
                .unwrap()
                .to_bytes()
                .unwrap()
                .as_ref(),
            &[0, 1, 2]
        );
        assert!(response.same_as(&handler_view));
        assert!(!response.same_as(&ResponseMetadata::new()));
    }

    #[test]
    fn an_echoed_request_id_is_a_header_to_whoever_reads_the_headers() {
        let echoed = ResponseMetadata::new();
        echoed.echo_request_id(HeaderValue::from_static("req-1"));
        assert_eq!(echoed.headers().get("x-request-id").unwrap(), "req-1");
        // What a handler sets afterwards replaces it, as an insert after an insert does.
        echoed
            .headers()
            .insert("x-request-id", "handler".parse().unwrap());
        echoed.echo_request_id(HeaderValue::from_static("req-2"));
        assert_eq!(echoed.take_headers().get("x-request-id").unwrap(), "req-2");

        // The wire layer gets it apart from an otherwise empty map; the headers still show it.
        let sent = ResponseMetadata::new();
        sent.echo_request_id(HeaderValue::from_static("req-3"));
        let (headers, id) = sent.headers_to_send();
        assert!(headers.is_empty());
        assert_eq!(id.unwrap(), "req-3");
        assert_eq!(sent.headers().get("x-request-id").unwrap(), "req-3");
        let (headers, id) = sent.headers_to_send();
        assert_eq!(headers.get("x-request-id").unwrap(), "req-3");
        assert!(id.is_none());
    }

    #[test]
    fn take_empties_and_extend_keeps_every_value() {
        let response = ResponseMetadata::new();
        let mut received = MetadataMap::new();
        received.append("x-shard", "a".parse().unwrap());
        received.append("x-shard", "b".parse().unwrap());
        received.insert("x-region", "eu".parse().unwrap());
        response.extend_headers(received);
        let values: Vec<_> = response
            .headers()
            .get_all("x-shard")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(values, ["a", "b"]);
        let taken = response.take_headers();
        assert_eq!(taken.len(), 3);
        assert!(response.headers().is_empty());
    }
}
