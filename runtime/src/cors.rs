//! Cross-origin access for browser clients (the Fetch standard's CORS protocol).
//!
//! Off by default: a [`Cors`] that allows no origin adds no header at all, so a gateway that
//! does not opt in behaves as if this module did not exist. The semantics follow tower-http's
//! `CorsLayer` (preflight detection, `Vary`, mirroring the request when credentials forbid `*`),
//! but tower-http's layer cannot be used as is: it answers every preflight with one fixed
//! method list, while ours must come from the route table (the methods the path really
//! serves), and it cannot expose `Grpc-Metadata-*` headers, whose names are only known per
//! response. So the gateway asks [`Cors::preflight`] with the path's methods and calls
//! [`Cors::decorate`] on each response. Routes that are not the gateway's (a host's gRPC paths,
//! for gRPC-Web and Connect from browsers) get the same policy type through [`CorsLayer`], so
//! that a port has one CORS.

use std::time::Duration;

use axum::body::Body;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderName, HeaderValue, ORIGIN,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use http::{HeaderMap, Response, StatusCode};

use crate::rpc::{
    GRPC_TIMEOUT, METADATA_HEADER_PREFIX, REQUEST_ID_HEADER, TRACEPARENT, TRACESTATE,
    TRAILER_HEADER_PREFIX,
};

mod layer;
pub use layer::{CorsFuture, CorsLayer, CorsService};

/// The request headers a browser may send when [`Cors::allow_headers`] was not called: those
/// the gateway reads (see `headers.rs`), plus `Content-Type` since `application/json` is not one
/// of the CORS-safelisted values. A trailing `*` makes a prefix pattern.
pub const DEFAULT_ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    REQUEST_ID_HEADER,
    TRACEPARENT,
    TRACESTATE,
    GRPC_TIMEOUT,
    "grpc-metadata-*",
];

/// The CORS policy of a gateway. Built with the methods below from [`Cors::new`], which allows
/// nothing and adds no header.
///
/// ```
/// use std::time::Duration;
/// use rust_svc_runtime::gateway::cors::Cors;
///
/// let cors = Cors::new()
///     .allow_origins(["https://app.example.com"])
///     .allow_credentials(true)
///     .max_age(Duration::from_secs(600));
/// assert!(cors.is_enabled());
/// assert!(!Cors::default().is_enabled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Origins,
    /// `None`: every method the route table serves for the path.
    methods: Option<Vec<String>>,
    headers: AllowedHeaders,
    expose: Vec<HeaderName>,
    max_age: Option<Duration>,
    credentials: bool,
}

#[derive(Debug, Clone, Default)]
enum Origins {
    /// CORS is off.
    #[default]
    Off,
    Any,
    /// Lowercase ASCII serialized origins (`https://app.example.com:8443`).
    List(Vec<String>),
}

#[derive(Debug, Clone)]
enum AllowedHeaders {
    /// Whatever the preflight asks for.
    Any,
    /// Lowercase names and `prefix*` patterns.
    List(Vec<String>),
}

impl Default for AllowedHeaders {
    fn default() -> Self {
        Self::List(
            DEFAULT_ALLOWED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        )
    }
}

impl Cors {
    /// A policy that allows no origin: CORS off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows every origin: `Access-Control-Allow-Origin: *`, or the request's own origin when
    /// credentials are allowed (the Fetch standard forbids `*` with credentials). The opaque
    /// origin `null` (sandboxed frames, `file:` pages) is not mirrored with credentials: such a
    /// page cannot be told apart from any other, so it gets credentials only when listed.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// Allows these origins (`scheme://host[:port]`, compared ASCII case-insensitively, as
    /// browsers serialize them in lowercase). A `*` among them means any origin.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let origins: Vec<String> = origins
            .into_iter()
            .map(|origin| origin.into().trim().to_ascii_lowercase())
            .collect();
        self.origins = if origins.iter().any(|origin| origin == "*") {
            Origins::Any
        } else {
            Origins::List(origins)
        };
        self
    }

    /// Restricts the methods a preflight allows to these (case-sensitive, as HTTP methods are);
    /// by default every method the route table serves for the path is allowed.
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// The request headers a preflight allows (case-insensitive; a trailing `*` makes a prefix
    /// pattern such as `grpc-metadata-*`). Replaces [`DEFAULT_ALLOWED_HEADERS`].
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let headers = headers
            .into_iter()
            .map(|header| header.into().trim().to_ascii_lowercase())
            .collect();
        self.headers = AllowedHeaders::List(headers);
        self
    }

    /// Allows whatever request headers a preflight asks for, by echoing them (`*` would not
    /// cover `Authorization` nor work with credentials).
    pub fn allow_any_header(mut self) -> Self {
        self.headers = AllowedHeaders::Any;
        self
    }

    /// Response headers to expose besides the `Grpc-Metadata-*` headers of each response and
    /// `X-Request-Id`, which are always exposed.
    pub fn expose_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.expose = headers.into_iter().collect();
        self
    }

    /// How long a browser may cache a preflight answer (`Access-Control-Max-Age`); when unset,
    /// the browser's default applies (5 seconds in the Fetch standard).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Whether browsers may send cookies and HTTP authentication
    /// (`Access-Control-Allow-Credentials: true`).
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Whether any origin is allowed, i.e. whether this policy adds headers at all.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.origins, Origins::Off)
    }

    /// The answer to a CORS preflight for a path the route table serves with
    /// `allowed_methods`: `200` with an empty body. Call it for `OPTIONS` requests; it tells a
    /// preflight from a plain `OPTIONS` by the `Origin` and `Access-Control-Request-Method`
    /// headers, as tower-http does. An origin that is not allowed gets the answer
    /// without `Access-Control-Allow-Origin`, which makes the browser refuse, as tower-http does.
    ///
    /// `None` when CORS is off, the request is no preflight, or the path is unknown
    /// (`allowed_methods` is empty): the request is then routed like any other (404, or 405 with
    /// `Allow`).
    pub fn preflight(
        &self,
        headers: &HeaderMap,
        allowed_methods: &[&str],
    ) -> Option<Response<Body>> {
        let is_preflight =
            headers.contains_key(ORIGIN) && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        if !self.is_enabled() || !is_preflight || allowed_methods.is_empty() {
            return None;
        }
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::OK;
        let out = response.headers_mut();
        // The answer depends on all three: caches must not reuse it for another.
        out.append(
            VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        if !self.allow_origin(headers.get(ORIGIN), out) {
            return Some(response);
        }
        let methods: Vec<&str> = allowed_methods
            .iter()
            .copied()
            .filter(|allowed| match &self.methods {
                None => true,
                Some(methods) => methods.iter().any(|method| method == allowed),
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", "))
            && !value.is_empty()
        {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        let requested = headers
            .get_all(ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty() && self.header_allowed(name))
            .collect::<Vec<_>>();
        if let Ok(value) = HeaderValue::from_str(&requested.join(", "))
            && !value.is_empty()
        {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        if let Some(max_age) = self.max_age {
            out.insert(ACCESS_CONTROL_MAX_AGE, max_age.as_secs().into());
        }
        Some(response)
    }

    /// Adds the CORS headers of an actual (non-preflight) response to a request from `origin`
    /// (its `Origin` header): `Access-Control-Allow-Origin` (and `-Allow-Credentials`) when the
    /// origin is allowed, `Access-Control-Expose-Headers` naming the response's
    /// `Grpc-Metadata-*` and `Grpc-Trailer-*` headers, `Retry-After`, `WWW-Authenticate`,
    /// `X-Request-Id` and the configured ones (the wildcard `*` would not work with
    /// credentials), and `Vary: Origin`. Nothing when CORS is off.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response_headers: &mut HeaderMap) {
        if !self.is_enabled() {
            return;
        }
        add_vary_origin(response_headers);
        if !self.allow_origin(origin, response_headers) {
            return;
        }
        let mut exposed: Vec<&str> = response_headers
            .keys()
            .map(HeaderName::as_str)
            .filter(|name| {
                // The metadata, and the trailers a browser can only read as headers (it
                // cannot ask for real ones: `TE` is a forbidden request header), and the
                // answers a client acts on: when to retry, how to authenticate.
                name.starts_with(METADATA_HEADER_PREFIX)
                    || name.starts_with(TRAILER_HEADER_PREFIX)
                    || *name == RETRY_AFTER.as_str()
                    || *name == WWW_AUTHENTICATE.as_str()
            })
            .collect();
        // The request id, so that a browser client can quote it.
        exposed.push(REQUEST_ID_HEADER);
        exposed.extend(self.expose.iter().map(HeaderName::as_str));
        exposed.sort_unstable();
        exposed.dedup();
        if let Ok(value) = HeaderValue::from_str(&exposed.join(", ")) {
            response_headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }

    /// Whether a request from `origin` (its `Origin` header) is allowed: never when CORS is off.
    pub(super) fn allows_origin(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            Origins::Off => false,
            Origins::Any => true,
            Origins::List(origins) => origins
                .iter()
                .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes())),
        }
    }

    /// Writes `Access-Control-Allow-Origin` (and `-Allow-Credentials`) if the request's origin
    /// is allowed; says whether it was.
    fn allow_origin(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) -> bool {
        let Some(origin) = origin else {
            return false;
        };
        let allowed = match &self.origins {
            Origins::Off => None,
            Origins::Any if !self.credentials => Some(HeaderValue::from_static("*")),
            Origins::Any => (origin.as_bytes() != b"null").then(|| origin.clone()),
            Origins::List(origins) => origins
                .iter()
                .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
                .then(|| origin.clone()),
        };
        let Some(allowed) = allowed else {
            return false;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        true
    }

    fn header_allowed(&self, name: &str) -> bool {
        match &self.headers {
            AllowedHeaders::Any => true,
            AllowedHeaders::List(allowed) => {
                allowed
                    .iter()
                    .any(|allowed| match allowed.strip_suffix('*') {
                        Some(prefix) => name.starts_with(prefix),
                        None => name == allowed,
                    })
            }
        }
    }
}

/// Appends `origin` to `Vary` unless a `Vary` already names it (or is `*`).
fn add_vary_origin(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| {
            let name = name.trim();
            name == "*" || name.eq_ignore_ascii_case("origin")
        });
    if !present {
        headers.append(VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "https://app.example.com";
    const ROUTE_METHODS: &[&str] = &["GET", "PATCH", "DELETE"];

    fn preflight_headers(origin: &str, method: &str, headers: Option<&str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(ORIGIN, origin.parse().unwrap());
        map.insert(ACCESS_CONTROL_REQUEST_METHOD, method.parse().unwrap());
        if let Some(headers) = headers {
            map.insert(ACCESS_CONTROL_REQUEST_HEADERS, headers.parse().unwrap());
        }
        map
    }

    fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
        headers.get(name).map(|value| value.to_str().unwrap())
    }

    #[test]
    fn off_by_default_adds_nothing_and_answers_no_preflight() {
        let cors = Cors::default();
        let request = preflight_headers(APP, "PATCH", Some("content-type"));
        assert!(cors.preflight(&request, ROUTE_METHODS).is_none());

        let mut response = HeaderMap::new();
        response.insert("grpc-metadata-shard", "7".parse().unwrap());
        cors.decorate(request.get(ORIGIN), &mut response);
        assert_eq!(response.len(), 1, "{response:?}");
    }

    #[test]
    fn a_preflight_is_answered_with_the_routes_methods_and_the_allowed_headers() {
        let cors = Cors::new()
            .allow_origins([APP])
            .max_age(Duration::from_secs(600));
        let request = preflight_headers(
            APP,
            "PATCH",
            Some("Content-Type, grpc-metadata-tenant,Authorization, x-debug"),
        );
        let response = cors.preflight(&request, ROUTE_METHODS).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_ORIGIN), Some(APP));
        assert_eq!(
            header(headers, ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET, PATCH, DELETE")
        );
        // `x-debug` is not allowed: the browser will refuse a request that sends it.
        assert_eq!(
            header(headers, ACCESS_CONTROL_ALLOW_HEADERS),
            Some("content-type, grpc-metadata-tenant, authorization")
        );
        assert_eq!(header(headers, ACCESS_CONTROL_MAX_AGE), Some("600"));
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
        assert!(
            header(headers, VARY)
                .unwrap()
                .contains("access-control-request-method")
        );
    }

    #[test]
    fn configured_methods_narrow_the_routes_methods() {
        let cors = Cors::new()
            .allow_any_origin()
            .allow_methods(["GET", "POST"]);
        let request = preflight_headers(APP, "GET", None);
        let response = cors.preflight(&request, ROUTE_METHODS).unwrap();
        let headers = response.headers();
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_METHODS), Some("GET"));
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_HEADERS), None);
    }

    #[test]
    fn what_is_no_preflight_or_no_route_is_left_to_routing() {
        let cors = Cors::new().allow_any_origin();
        let request = preflight_headers(APP, "GET", None);
        assert!(cors.preflight(&request, &[]).is_none());
        let mut no_request_method = request.clone();
        no_request_method.remove(ACCESS_CONTROL_REQUEST_METHOD);
        assert!(cors.preflight(&no_request_method, ROUTE_METHODS).is_none());
        let mut no_origin = request;
        no_origin.remove(ORIGIN);
        assert!(cors.preflight(&no_origin, ROUTE_METHODS).is_none());
    }

    #[test]
    fn a_foreign_origin_gets_an_answer_without_allow_headers() {
        let cors = Cors::new().allow_origins([APP, "http://localhost:3000"]);
        let request = preflight_headers("https://evil.example", "GET", Some("content-type"));
        let response = cors.preflight(&request, ROUTE_METHODS).unwrap();
        let headers = response.headers();
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_ORIGIN), None);
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_METHODS), None);
        assert!(headers.contains_key(VARY));

        let mut response = HeaderMap::new();
        cors.decorate(request.get(ORIGIN), &mut response);
        assert_eq!(header(&response, ACCESS_CONTROL_ALLOW_ORIGIN), None);
        assert_eq!(header(&response, ACCESS_CONTROL_EXPOSE_HEADERS), None);
        assert_eq!(header(&response, VARY), Some("origin"));
    }

    #[test]
    fn responses_expose_metadata_headers_and_the_request_id() {
        let cors = Cors::new()
            .allow_origins(["HTTPS://App.Example.com"])
            .allow_credentials(true)
            .expose_headers([HeaderName::from_static("etag")]);
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, APP.parse().unwrap());
        let mut response = HeaderMap::new();
        response.insert("grpc-metadata-shard", "7".parse().unwrap());
        response.insert("grpc-metadata-trace-bin", "AAE".parse().unwrap());
        response.insert("grpc-trailer-checksum", "9".parse().unwrap());
        response.insert(RETRY_AFTER, "2".parse().unwrap());
        response.insert("content-type", "application/json".parse().unwrap());
        response.insert(VARY, "accept-encoding".parse().unwrap());
        cors.decorate(request.get(ORIGIN), &mut response);

        assert_eq!(header(&response, ACCESS_CONTROL_ALLOW_ORIGIN), Some(APP));
        assert_eq!(
            header(&response, ACCESS_CONTROL_ALLOW_CREDENTIALS),
            Some("true")
        );
        assert_eq!(
            header(&response, ACCESS_CONTROL_EXPOSE_HEADERS),
            Some(
                "etag, grpc-metadata-shard, grpc-metadata-trace-bin, grpc-trailer-checksum, \
                 retry-after, x-request-id"
            )
        );
        let vary: Vec<_> = response.get_all(VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", "origin"]);

        // A second decoration (e.g. by a retrying caller) does not repeat `Vary`.
        cors.decorate(request.get(ORIGIN), &mut response);
        assert_eq!(response.get_all(VARY).iter().count(), 2);
    }

    #[test]
    fn credentials_with_any_origin_mirror_the_origin_but_not_null() {
        let cors = Cors::new()
            .allow_origins(["*"])
            .allow_credentials(true)
            .allow_any_header();
        let request = preflight_headers(APP, "DELETE", Some("x-anything"));
        let response = cors.preflight(&request, ROUTE_METHODS).unwrap();
        let headers = response.headers();
        assert_eq!(header(headers, ACCESS_CONTROL_ALLOW_ORIGIN), Some(APP));
        assert_eq!(
            header(headers, ACCESS_CONTROL_ALLOW_CREDENTIALS),
            Some("true")
        );
        assert_eq!(
            header(headers, ACCESS_CONTROL_ALLOW_HEADERS),
            Some("x-anything")
        );

        let opaque = preflight_headers("null", "GET", None);
        let response = cors.preflight(&opaque, ROUTE_METHODS).unwrap();
        assert_eq!(
            header(response.headers(), ACCESS_CONTROL_ALLOW_ORIGIN),
            None
        );
    }
}
