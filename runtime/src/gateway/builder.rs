//! Building a [`Gateway`]: the routes of one or more services in one route table.

use std::sync::Arc;

use rust_svc_http_template::RouteTable;

use super::form::FormFallback;
use super::headers::HeaderRules;
use super::routed::{
    DEFAULT_MAX_BODY_BYTES, ErrorHandler, Gateway, GatewayError, Inner, MetadataAnnotator,
    ServiceRoutes, StreamErrorHandler, add_route,
};
use crate::cors::Cors;

/// Builds a [`Gateway`] from the routes of one or more services.
pub struct GatewayBuilder {
    services: Vec<ServiceRoutes>,
    cors: Cors,
    max_body_bytes: usize,
    header_rules: HeaderRules,
    default_deadlines: bool,
    form: FormFallback,
    error_handler: Option<ErrorHandler>,
    stream_error_handler: Option<StreamErrorHandler>,
    annotator: Option<MetadataAnnotator>,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("services", &self.services)
            .field("cors", &self.cors)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("header_rules", &self.header_rules)
            .field("default_deadlines", &self.default_deadlines)
            .field("form", &self.form)
            .field("error_handler", &self.error_handler.is_some())
            .field("stream_error_handler", &self.stream_error_handler.is_some())
            .field("annotator", &self.annotator.is_some())
            .finish()
    }
}

impl GatewayBuilder {
    /// No routes, CORS off, a 4 MiB body limit (see [`Gateway::builder`]).
    pub(super) fn new() -> Self {
        Self {
            services: Vec::new(),
            cors: Cors::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_rules: HeaderRules::new(),
            default_deadlines: true,
            form: FormFallback::default(),
            error_handler: None,
            stream_error_handler: None,
            annotator: None,
        }
    }

    /// Adds request metadata of one's own to every REST call, made from the request's head
    /// (its method, URI with the query, headers), after the header rules made theirs: what
    /// grpc-gateway's `WithMetadata` annotators do (a session id from a cookie, the original
    /// path). The call's handler, and in proxy mode the server the gateway calls, see it. Its
    /// entries are appended to the header rules' (a key may then have several values), and
    /// several annotators run in the order given.
    ///
    /// ```
    /// use rust_svc_runtime::gateway::Gateway;
    ///
    /// let gateway = Gateway::builder()
    ///     .metadata(|head, metadata| {
    ///         if let Ok(path) = head.uri.path().parse() {
    ///             metadata.insert("x-original-path", path);
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = gateway;
    /// ```
    #[must_use]
    pub fn metadata(
        mut self,
        annotator: impl Fn(&http::request::Parts, &mut crate::MetadataMap) + Send + Sync + 'static,
    ) -> Self {
        self.annotator = Some(match self.annotator.take() {
            None => Arc::new(annotator),
            Some(earlier) => Arc::new(move |head: &http::request::Parts, metadata: &mut _| {
                earlier(head, metadata);
                annotator(head, metadata);
            }),
        });
        self
    }

    /// Writes every error response of the gateway's (an rpc's error, and its own: no route,
    /// wrong method, a body it cannot read, a deadline passed, a refusal for load) through
    /// `handler`, as grpc-gateway's `WithErrorHandler` does: it gets the error's status and the
    /// response the gateway made of it (the HTTP status grpc-gateway gives the code, the
    /// `google.rpc.Status` JSON, the `Grpc-Metadata-*` headers, `Allow` on a 405) and returns
    /// the response to send, e.g. an RFC 9457 `application/problem+json` one; keep its headers
    /// (`into_parts`, as below), which carry CORS and `Allow` besides the metadata. The error
    /// that ends a server stream (its `{"error": …}` line, a WebSocket close, the response of a
    /// stream that fails before its first message) is the stream's, as in grpc-gateway: see
    /// [`stream_error_handler`](Self::stream_error_handler). Without a handler (the default),
    /// or for a layer of one's own, each error response carries its
    /// [`Status`](crate::Status) in its extensions.
    ///
    /// ```
    /// use rust_svc_runtime::gateway::Gateway;
    ///
    /// let gateway = Gateway::builder()
    ///     .error_handler(|status, response| {
    ///         let (mut parts, _) = response.into_parts();
    ///         let body = serde_json::json!({
    ///             "title": status.message(),
    ///             "status": parts.status.as_u16(),
    ///         });
    ///         parts.headers.insert(
    ///             http::header::CONTENT_TYPE,
    ///             http::HeaderValue::from_static("application/problem+json"),
    ///         );
    ///         http::Response::from_parts(parts, body.to_string().into())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = gateway;
    /// ```
    #[must_use]
    pub fn error_handler(
        mut self,
        handler: impl Fn(
            &crate::Status,
            http::Response<axum::body::Body>,
        ) -> http::Response<axum::body::Body>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// Passes the error that ends a server stream through `handler` before it is written, as
    /// grpc-gateway's `WithStreamErrorHandler` does: the status it returns is what the client
    /// reads, in the stream's `{"error": …}` line (or SSE `error` event, or WebSocket close),
    /// and, for a stream that fails before its first message, in the error response and its
    /// HTTP status. A stream cut at its deadline passes through it too. For example, to keep
    /// internal failures' messages to oneself:
    ///
    /// ```
    /// use rust_svc_runtime::gateway::Gateway;
    /// use rust_svc_runtime::{Code, Status};
    ///
    /// let gateway = Gateway::builder()
    ///     .stream_error_handler(|status| match status.code() {
    ///         Code::Internal | Code::Unknown => Status::internal("the stream failed"),
    ///         _ => status,
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = gateway;
    /// ```
    #[must_use]
    pub fn stream_error_handler(
        mut self,
        handler: impl Fn(crate::Status) -> crate::Status + Send + Sync + 'static,
    ) -> Self {
        self.stream_error_handler = Some(Arc::new(handler));
        self
    }

    /// Serves a service's routes too.
    #[must_use]
    pub fn service(mut self, routes: ServiceRoutes) -> Self {
        self.services.push(routes);
        self
    }

    /// Answers browsers as `cors` says (off by default: no CORS headers, preflights 405).
    #[must_use]
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Maps request headers to metadata and response metadata to headers as `rules` say
    /// (default: grpc-gateway v2's, see [`HeaderRules`]).
    #[must_use]
    pub fn header_rules(mut self, rules: HeaderRules) -> Self {
        self.header_rules = rules;
        self
    }

    /// The largest request body accepted; a larger one is answered 413. Default 4 MiB.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Whether a request without a `Grpc-Timeout` gets its rpc's default deadline from the
    /// proto, as over gRPC (on by default: a curl call is bounded as the proto says).
    #[must_use]
    pub fn default_deadlines(mut self, on: bool) -> Self {
        self.default_deadlines = on;
        self
    }

    /// Whether a `POST` of an HTML form (`application/x-www-form-urlencoded`) to a path with a
    /// `GET` route and no `POST` one is served by the `GET` route, its fields read as query
    /// parameters, as grpc-gateway's path-length fallback does for clients whose query would
    /// make the URL too long (on by default, as there).
    #[must_use]
    pub fn path_length_fallback(mut self, on: bool) -> Self {
        self.form.path_length = on;
        self
    }

    /// Whether a `POST` of an HTML form with an `X-HTTP-Method-Override` header is served as
    /// the method it names, its fields read as query parameters, as grpc-gateway does (on by
    /// default, as there).
    #[must_use]
    pub fn method_override(mut self, on: bool) -> Self {
        self.form.method_override = on;
        self
    }

    /// The gateway; fails when a template does not parse.
    ///
    /// Two services whose routes match the same requests (googleapis has them: bigquery
    /// storage's `BigQueryRead.CreateReadSession` and `BigQueryWrite.CreateWriteStream` both
    /// take `POST /v1/{…=projects/*/datasets/*/tables/*}`) are served as grpc-gateway's mux
    /// serves them: the service added later takes the route, and a warning names both rpcs.
    /// Within one service the generator has already settled it the same way.
    pub fn build(self) -> Result<Gateway, GatewayError> {
        let mut table = RouteTable::new();
        for service in &self.services {
            for route in service.routes() {
                add_route(&mut table, route, service)?;
            }
        }
        Ok(Gateway::serving(Inner {
            table,
            cors: self.cors,
            max_body_bytes: self.max_body_bytes,
            header_rules: self.header_rules,
            default_deadlines: self.default_deadlines,
            form: self.form,
            error_handler: self.error_handler,
            stream_error_handler: self.stream_error_handler,
            annotator: self.annotator,
        }))
    }
}
