//! The outgoing side of the [`HeaderRules`]: response metadata written as response headers and
//! trailers, and the metadata key that sets a success's HTTP status.

use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use super::HeaderRules;
use crate::{MetadataMap, ResponseMetadata};

/// Writes gRPC metadata as `Grpc-Metadata-<key>` response headers (grpc-gateway's default
/// outgoing header mapping), so a REST client sees what a handler or a remote server attached.
/// Binary (`-bin`) values are written base64-encoded, as they are on the gRPC wire and as the
/// gateway reads them from requests.
///
/// Keys that belong to the transport rather than to the application are skipped: `grpc-*`
/// (reserved by the gRPC protocol), `content-type` and the HTTP framing headers. A proxied error
/// carries the remote response's headers as metadata, and grpc-gateway's habit of echoing them
/// (`Grpc-Metadata-Content-Type: application/grpc`) tells a REST client nothing. The default
/// [`HeaderRules`]; a gateway's own rules may differ.
pub fn metadata_headers(metadata: &MetadataMap, headers: &mut HeaderMap) {
    HeaderRules::defaults().write_metadata(metadata, headers);
}

/// Writes the response metadata a handler set (or a proxied server sent): headers as
/// `Grpc-Metadata-<key>`, trailers as `Grpc-Trailer-<key>`, as grpc-gateway does, by the
/// default [`HeaderRules`]. For a streamed response this runs when the stream starts, so
/// trailers set after that are not sent: an HTTP/1.1 client has nowhere to read them.
pub fn response_metadata_headers(response: &ResponseMetadata, headers: &mut HeaderMap) {
    HeaderRules::defaults().write_response_metadata(response, headers);
}

/// Headers no rule may write into a response: they belong to HTTP's framing.
pub(super) const FRAMING_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "date",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
];

impl HeaderRules {
    /// Lets a handler choose the HTTP status of a successful response with the response
    /// metadata `key` (grpc-gateway's documented `x-http-code` recipe, a forward-response
    /// option there): a unary call whose response headers hold `key: 201` is answered `201
    /// Created` instead of `200`, and `key` is not sent as a header. A value that is not a
    /// status of 200 to 599 is ignored (and not sent either); an error's status is the code's.
    /// Works in proxy mode too, with the key set by the remote server.
    ///
    /// ```
    /// use rust_svc_runtime::Context;
    /// use rust_svc_runtime::gateway::HeaderRules;
    ///
    /// let rules = HeaderRules::new().response_status("x-http-code");
    /// # let _ = rules;
    /// // In the handler of a create:
    /// # let ctx = Context::new();
    /// ctx.response().headers().insert("x-http-code", "201".parse().unwrap());
    /// ```
    #[must_use]
    pub fn response_status(mut self, key: &str) -> Self {
        self.rules_mut().status_key = Some(Arc::from(key.to_ascii_lowercase()));
        self
    }

    /// Whether a [`response_status`](Self::response_status) key is set.
    pub(crate) fn sets_status(&self) -> bool {
        self.inner.status_key.is_some()
    }

    /// The HTTP status `metadata` asks a successful response to have, by the
    /// [`response_status`](Self::response_status) key.
    pub(crate) fn status_of(&self, metadata: &MetadataMap) -> Option<http::StatusCode> {
        let key = self.inner.status_key.as_deref()?;
        let code = metadata
            .get(key)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u16>()
            .ok()?;
        http::StatusCode::from_u16(code)
            .ok()
            .filter(|status| (200..600).contains(&status.as_u16()))
    }

    /// Writes the response metadata of a call (a handler's, or a proxied server's) into
    /// `headers` by the outgoing rules. For a streamed response this runs when the stream
    /// starts, so trailers set after that are not sent: an HTTP/1.1 client has nowhere to read
    /// them.
    pub fn write_response_metadata(&self, response: &ResponseMetadata, headers: &mut HeaderMap) {
        self.write_metadata(&response.headers(), headers);
        write_mapped(
            &response.trailers(),
            headers,
            &*self.inner.outgoing_trailers,
        );
    }

    /// Writes `metadata` (an error's, say) into `headers` by the outgoing header rule.
    pub fn write_metadata(&self, metadata: &MetadataMap, headers: &mut HeaderMap) {
        match &self.inner.status_key {
            None => write_mapped(metadata, headers, &*self.inner.outgoing),
            Some(key) => write_mapped(metadata, headers, &|name: &str| {
                (name != &**key)
                    .then(|| (self.inner.outgoing)(name))
                    .flatten()
            }),
        }
    }

    /// Writes trailer `metadata` into `headers` (HTTP trailers, or headers) by the outgoing
    /// trailer rule.
    pub(crate) fn write_trailers(&self, metadata: &MetadataMap, headers: &mut HeaderMap) {
        write_mapped(metadata, headers, &*self.inner.outgoing_trailers);
    }
}

fn write_mapped(
    metadata: &MetadataMap,
    headers: &mut HeaderMap,
    matcher: &dyn Fn(&str) -> Option<String>,
) {
    let source = metadata.as_ref();
    for name in source.keys() {
        let Some(mapped) = matcher(name.as_str()) else {
            continue;
        };
        let Ok(header) = HeaderName::try_from(mapped) else {
            continue;
        };
        if FRAMING_HEADERS.contains(&header.as_str()) {
            continue;
        }
        for value in source.get_all(name) {
            headers.append(header.clone(), value.clone());
        }
    }
}
