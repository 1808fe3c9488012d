//! The request metadata a [`Context`](super::Context) holds: a map, or the HTTP request headers
//! a gateway call came with and the rule that turns them into one, run the first time the
//! metadata is read.
//!
//! Most gateway calls never read their metadata (a handler that looks at neither headers nor
//! tokens, with no interceptor stack), and building it is a new map, a hash and an insert per
//! header kept: about a tenth of what an in-process REST call costs. The headers are moved in,
//! not copied, so deferring costs nothing when the metadata is read after all.
//!
//! Metadata a gateway made from a REST call also says which rpc the call is for: a generated
//! client calling that same rpc is the gateway's proxy to the service, and sends all of it on,
//! as grpc-gateway sends its backend the metadata its header rules make.

use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;

use http::HeaderMap;
use tonic::metadata::MetadataMap;

use crate::rpc::{HttpBinding, MethodInfo};

/// Turns request headers (from this peer) into request metadata. A plain function, given by the
/// layer that knows the rule (the gateway's), so that this floor names none of them.
pub(crate) type Convert = fn(&HeaderMap, Option<SocketAddr>) -> MetadataMap;

/// A context's request metadata; see the [module](self) docs.
pub(crate) struct RequestMetadata {
    map: OnceLock<MetadataMap>,
    /// What the map is made from, until it is made.
    deferred: Option<Deferred>,
    /// The rpc a gateway made this metadata for, from a REST call's headers.
    gateway_rpc: Option<&'static MethodInfo>,
    /// The REST route the call came by (kept when a handler replaces the metadata).
    http_route: Option<&'static HttpBinding>,
}

struct Deferred {
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    convert: Convert,
}

impl RequestMetadata {
    /// Metadata known already.
    pub(crate) fn ready(map: MetadataMap) -> Self {
        Self {
            map: OnceLock::from(map),
            deferred: None,
            gateway_rpc: None,
            http_route: None,
        }
    }

    /// Metadata that `convert` makes from `headers` when it is first read, for a gateway's call
    /// to `gateway_rpc` by the REST route `http_route` if it is one. `convert` must not fail: a
    /// rule that can refuse a request runs before the call is accepted.
    pub(crate) fn deferred(
        headers: HeaderMap,
        peer: Option<SocketAddr>,
        convert: Convert,
        gateway: Option<(&'static MethodInfo, &'static HttpBinding)>,
    ) -> Self {
        Self {
            map: OnceLock::new(),
            deferred: Some(Deferred {
                headers,
                peer,
                convert,
            }),
            gateway_rpc: gateway.map(|(rpc, _)| rpc),
            http_route: gateway.map(|(_, route)| route),
        }
    }

    /// The metadata, made now if it was deferred.
    pub(crate) fn get(&self) -> &MetadataMap {
        self.map.get_or_init(|| match &self.deferred {
            Some(deferred) => (deferred.convert)(&deferred.headers, deferred.peer),
            None => MetadataMap::new(),
        })
    }

    /// The rpc a gateway made this metadata for, if a gateway made it.
    pub(crate) fn gateway_rpc(&self) -> Option<&'static MethodInfo> {
        self.gateway_rpc
    }

    /// Says that a gateway made this metadata for a REST call to `rpc` by `route`.
    pub(crate) fn set_gateway_rpc(
        &mut self,
        rpc: &'static MethodInfo,
        route: &'static HttpBinding,
    ) {
        self.gateway_rpc = Some(rpc);
        self.http_route = Some(route);
    }

    /// The REST route the call came by, if a gateway made it.
    pub(crate) fn http_route(&self) -> Option<&'static HttpBinding> {
        self.http_route
    }

    /// Carries the REST route of `other` (the metadata this replaces).
    pub(crate) fn with_http_route_of(mut self, other: &Self) -> Self {
        self.http_route = other.http_route;
        self
    }

    /// The metadata, mutably: made now if it was deferred, and the headers let go.
    pub(crate) fn get_mut(&mut self) -> &mut MetadataMap {
        self.get();
        self.deferred = None;
        self.map.get_mut().expect("the map was just made")
    }
}

impl Default for RequestMetadata {
    fn default() -> Self {
        Self::ready(MetadataMap::new())
    }
}

/// A copy is of the metadata itself (made first if it was deferred), still the metadata of
/// the gateway call it was: what `Arc::make_mut` needs when a context that shares it changes it.
impl Clone for RequestMetadata {
    fn clone(&self) -> Self {
        Self {
            gateway_rpc: self.gateway_rpc,
            http_route: self.http_route,
            ..Self::ready(self.get().clone())
        }
    }
}

impl fmt::Debug for RequestMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.get(), f)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        // Per thread: tests run in parallel, each converting on its own thread.
        static CONVERSIONS: Cell<usize> = const { Cell::new(0) };
    }

    fn conversions() -> usize {
        CONVERSIONS.with(Cell::get)
    }

    /// Keeps `x-kept` as `kept`, and counts its runs on this thread.
    fn convert(headers: &HeaderMap, _peer: Option<SocketAddr>) -> MetadataMap {
        CONVERSIONS.with(|count| count.set(count.get() + 1));
        let mut map = MetadataMap::new();
        if let Some(value) = headers.get("x-kept") {
            map.as_mut().insert("kept", value.clone());
        }
        map
    }

    #[test]
    fn deferred_metadata_is_made_once_when_first_read_and_then_owned() {
        let mut headers = HeaderMap::new();
        headers.insert("x-kept", "yes".parse().unwrap());
        headers.insert("x-dropped", "no".parse().unwrap());
        let before = conversions();
        let mut metadata = RequestMetadata::deferred(headers, None, convert, None);
        assert_eq!(conversions(), before, "nothing made yet");
        assert_eq!(metadata.get().get("kept").unwrap(), "yes");
        assert!(metadata.get().get("x-dropped").is_none());
        assert_eq!(metadata.get().len(), 1);
        assert_eq!(conversions(), before + 1, "made once");

        let copy = metadata.clone();
        assert_eq!(copy.get().get("kept").unwrap(), "yes");
        metadata.get_mut().insert("added", "1".parse().unwrap());
        assert!(metadata.deferred.is_none(), "the headers are let go");
        assert_eq!(metadata.get().len(), 2);
        assert_eq!(copy.get().len(), 1, "a copy is its own");
        assert_eq!(conversions(), before + 1);
        assert!(format!("{metadata:?}").contains("added"));
    }

    #[test]
    fn a_deferred_map_changed_before_it_is_read_starts_from_the_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-kept", "yes".parse().unwrap());
        let mut metadata = RequestMetadata::deferred(headers, None, convert, None);
        metadata.get_mut().insert("added", "1".parse().unwrap());
        assert_eq!(metadata.get().get("kept").unwrap(), "yes");
        assert_eq!(metadata.get().get("added").unwrap(), "1");
    }
}
