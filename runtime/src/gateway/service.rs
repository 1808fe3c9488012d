//! The gateway as an HTTP service: the route tables of generated services merged into one
//! [`Gateway`], which matches each request, builds its [`Context`] from the headers and hands a
//! [`Call`] to the generated dispatch of the matched service (which then calls one of
//! [`super::calls`]).

use std::sync::Arc;

use axum::body::Body;
use http::Method;
use rust_svc_http_template::RouteTable;

use super::builder::GatewayBuilder;
use super::routed::{
    Call, CallParts, DEFAULT_MAX_BODY_BYTES, Dispatch, Entry, Gateway, Inner, PathValues,
    ResponseFuture, Route, RpcName, ServiceRoutes, add_route, path_values,
};

use super::admitted::{admitted, ready_refusal};
use super::form::{self, FormFallback};
use super::head;
use super::headers::{HeaderRules, Present};
use super::routed::RequestFormat;
#[cfg(feature = "websocket")]
use super::websocket;
use crate::call::admission::{Admission, Admit, Permit};
use crate::cors::Cors;
use crate::deadline::deadline_exceeded;
use crate::rpc::MethodKind;
use crate::{Context, Status};

impl Inner {
    /// The call to hand a route's dispatch, not yet admitted.
    fn call(
        &self,
        route: Route,
        bindings: PathValues,
        parts: http::request::Parts,
        body: Body,
        ctx: Context,
        format: RequestFormat,
    ) -> Call {
        Call {
            inner: Box::new(CallParts {
                route,
                bindings,
                parts,
                body,
                ctx,
                format,
                max_body_bytes: self.max_body_bytes,
                header_rules: self.header_rules.clone(),
                permit: Permit::none(),
                form: false,
                stream_errors: self.stream_error_handler.clone(),
            }),
        }
    }

    /// The answer to a CORS preflight on the request's path, if it is one.
    #[cold]
    #[inline(never)]
    fn preflight(&self, parts: &http::request::Parts) -> Option<ResponseFuture> {
        let allowed = self.table.allowed_methods(parts.uri.path());
        let preflight = self.cors.preflight(&parts.headers, &allowed)?;
        Some(Box::pin(std::future::ready(preflight)))
    }

    /// The client- or bidi-streaming route whose template `path` matches, whatever its method:
    /// what a WebSocket upgrade (a `GET`) on that path serves.
    fn streaming_route(&self, path: &str) -> Option<(Route, Dispatch, PathValues, Admission)> {
        self.table
            .allowed_methods(path)
            .into_iter()
            .find_map(|method| {
                let found = self.table.find(method, path)?;
                let bindings = path_values(&found).ok()?;
                let entry = found.value;
                matches!(
                    entry.route.method.kind,
                    MethodKind::ClientStreaming | MethodKind::BidiStreaming
                )
                .then(|| {
                    let dispatch = Arc::clone(&entry.dispatch);
                    (entry.route, dispatch, bindings, entry.admission.clone())
                })
            })
    }
}

/// Adds the annotator's `metadata` to `ctx`'s request metadata.
fn add_annotated(ctx: &mut Context, metadata: Option<crate::MetadataMap>) {
    if let Some(metadata) = metadata.filter(|metadata| !metadata.is_empty()) {
        // Appended, as grpc-gateway joins an annotator's metadata to the matchers'.
        let target = ctx.metadata_mut().as_mut();
        let mut name = None;
        for (key, value) in metadata.into_headers() {
            name = key.or(name);
            if let Some(name) = &name {
                target.append(name.clone(), value);
            }
        }
    }
}

impl Gateway {
    /// A gateway to build, with no routes, CORS off and a 4 MiB body limit.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::new()
    }

    /// A gateway of one service's routes with the defaults. The generator has already rejected
    /// routes that do not parse or that shadow one another; should such a route reach this
    /// anyway, it is left out with an error logged, and the others are served.
    pub fn from_service(routes: ServiceRoutes) -> Self {
        let mut table = RouteTable::new();
        for route in routes.routes() {
            if let Err(problem) = add_route(&mut table, route, &routes) {
                tracing::error!(rpc = %RpcName(route.method), "route left out: {problem}");
            }
        }
        Self::serving(Inner {
            table,
            cors: Cors::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_rules: HeaderRules::new(),
            default_deadlines: true,
            form: FormFallback::default(),
            error_handler: None,
            stream_error_handler: None,
            annotator: None,
        })
    }

    /// This gateway for the requests of one connection from `peer`, which then need not carry
    /// it in their extensions (a `Host` port's, see host/port.rs).
    #[cfg(feature = "host")]
    pub(crate) fn for_peer(&self, peer: Option<std::net::SocketAddr>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            peer,
        }
    }

    /// An axum `Router` serving every path through the gateway: merge it, nest it, or serve it.
    pub fn into_router(self) -> axum::Router {
        axum::Router::new().fallback_service(self)
    }

    /// Serves a client- or bidi-streaming rpc over the WebSocket `parts` asks for (see
    /// [`websocket`]): the call is the one a `POST` of the frames as its body would make.
    #[cfg(feature = "websocket")]
    fn websocket(
        &self,
        parts: http::request::Parts,
        route: Route,
        dispatch: Dispatch,
        bindings: PathValues,
    ) -> ResponseFuture {
        if let Some(refusal) =
            websocket::refused_origin(&parts.headers, &parts.uri, &self.inner.cors)
        {
            return ready_error(&refusal);
        }
        let inner = Arc::clone(&self.inner);
        let peer = self.peer;
        let json = !route.binding.request_http_body;
        websocket::upgrade(parts, json, move |mut parts, body| {
            let rules = &inner.header_rules;
            let peer = peer.or_else(|| peer_addr(&parts.extensions));
            match rules.context(&parts.headers, peer) {
                Err(status) => ready_error(&status),
                Ok(mut ctx) => {
                    ctx.set_gateway_rpc(route.method, route.binding);
                    add_annotated(&mut ctx, inner.annotated(&parts));
                    // The frames are read as the newline-delimited body of the rule's method.
                    parts.method = Method::POST;
                    let format = RequestFormat::of(&parts.headers, Present::of(&parts.headers));
                    dispatch(inner.call(route, bindings, parts, body, ctx, format))
                }
            }
        })
    }

    /// Answers one request (a `HEAD` as its `GET`, without the content).
    pub fn handle(&self, request: http::Request<Body>) -> ResponseFuture {
        if request.method() == Method::HEAD {
            return head::as_get(request, |request| self.handle(request));
        }
        let Some(handler) = &self.inner.error_handler else {
            return self.answer(request);
        };
        // The handler's response gets the CORS headers again: a browser reads it only with them.
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        let answer = self.answer(request);
        let (handler, inner) = (Arc::clone(handler), Arc::clone(&self.inner));
        Box::pin(async move {
            let mut response = answer.await;
            match response.extensions_mut().remove::<Status>() {
                Some(status) => {
                    let mut response = handler(&status, response);
                    inner.cors.decorate(origin.as_ref(), response.headers_mut());
                    response
                }
                None => response,
            }
        })
    }

    /// [`Gateway::handle`] before the error handler.
    fn answer(&self, request: http::Request<Body>) -> ResponseFuture {
        let inner = &self.inner;
        let (mut parts, body) = request.into_parts();
        let present = Present::of(&parts.headers);
        if present.content_type && is_grpc(&parts.headers) {
            return unknown_grpc_service(&parts);
        }
        if !parts.uri.path().starts_with('/') {
            return not_a_path(&parts);
        }
        // A request handed over in process (a test's `oneshot`, which sets no `Host`) comes
        // from no connection, and is not held to the rule.
        if let Err(status) = settle_host(&mut parts, &present)
            && (self.peer.is_some() || peer_addr(&parts.extensions).is_some())
        {
            return ready_error(&status);
        }
        #[cfg(feature = "websocket")]
        if present.upgrade
            && websocket::is_upgrade(&parts)
            && let Some((route, dispatch, bindings, admission)) =
                inner.streaming_route(parts.uri.path())
        {
            // A stream holds no slot, but is kept out while unary calls wait for one.
            if let Admit::Refused(status) = admission.admit(route.method, None) {
                return ready_refusal(&status, parts.version);
            }
            return self.websocket(parts, route, dispatch, bindings);
        }
        let origin = if present.origin {
            parts.headers.get(http::header::ORIGIN).cloned()
        } else {
            None
        };
        if parts.method == Method::OPTIONS
            && let Some(preflight) = inner.preflight(&parts)
        {
            return preflight;
        }
        // grpc-gateway's ways in for a form `POST` (form.rs): the method it names, or else
        // the `GET` route of its path; either way its fields are the query.
        let mut form = false;
        if inner.form.method_override && form::is_form_post(&parts) {
            match form::overridden_method(&parts) {
                Err(status) => return ready_error(&status),
                Ok(Some(method)) => {
                    parts.method = method;
                    form = true;
                }
                Ok(None) => {}
            }
        }
        let mut found = inner.table.find(parts.method.as_str(), parts.uri.path());
        if found.is_none()
            && inner.form.path_length
            && form::is_form_post(&parts)
            && let Some(get) = inner.table.find("GET", parts.uri.path())
            && path_values(&get).is_ok()
        {
            found = Some(get);
            parts.method = Method::GET;
            form = true;
        }
        let response = match found
            .as_ref()
            .map(|found| (found.value, path_values(found)))
        {
            Some((entry, Ok(bindings))) => self.serve(entry, bindings, parts, body, present, form),
            Some((_, Err((variable, message)))) => invalid_path(variable, &message),
            None => not_routed(&inner.table, &parts),
        };
        if !inner.cors.is_enabled() {
            return response;
        }
        with_cors(Arc::clone(inner), origin, response)
    }

    /// Serves a request a route took: its context from the headers, its deadline, the
    /// admission, then the generated dispatch. Each step changes the context where it lies:
    /// it is moved once, into the call.
    fn serve(
        &self,
        route: &Entry,
        bindings: PathValues,
        mut parts: http::request::Parts,
        body: Body,
        present: Present,
        form: bool,
    ) -> ResponseFuture {
        let inner = &*self.inner;
        // A rule without a body still reads an HTML form sent as one, as its query
        // (grpc-gateway's handlers call `ParseForm`).
        let form = form || (route.route.binding.body.is_empty() && form::is_form_body(&parts));
        // What the call reads of the headers later; the context takes them.
        let format = RequestFormat::of(&parts.headers, present);
        let peer = self.peer.or_else(|| peer_addr(&parts.extensions));
        let annotated = inner.annotated(&parts);
        let headers = std::mem::take(&mut parts.headers);
        // The metadata the header rules make is that of a gRPC call to this rpc: a generated
        // client of it, as the domain (proxy mode), sends it on whole.
        let rpc = (route.route.method, route.route.binding);
        let mut ctx = match inner
            .header_rules
            .context_taking(headers, present, peer, rpc)
        {
            Ok(ctx) => ctx,
            Err(status) => return ready_error(&status),
        };
        add_annotated(&mut ctx, annotated);
        // One clock read for the default deadline, the expiry check and the admission, after
        // the one that turned a `grpc-timeout` into the context's deadline.
        let now = tokio::time::Instant::now();
        // The deadline as the server stamped it on arrival (see `StampDeadlines`), so that the
        // gateway answers 504 before tonic's own grpc-timeout timer, which it arms for REST
        // requests too, answers with a gRPC status. Without one, the rpc's default from the
        // proto, as over gRPC.
        let deadline = crate::call::arrival_deadline(&parts.extensions).or_else(|| {
            (inner.default_deadlines && ctx.deadline().is_none())
                .then(|| crate::call::default_deadline(route.route.method, now))
                .flatten()
        });
        if let Some(deadline) = deadline {
            ctx = ctx.with_deadline(deadline);
        }
        if ctx.deadline().is_some_and(|deadline| deadline <= now) {
            return ready_error(&deadline_exceeded());
        }
        let admit = route
            .admission
            .admit_at(route.route.method, ctx.deadline(), now);
        route.admission.mark(&mut ctx);
        let version = parts.version;
        let mut call = inner.call(route.route, bindings, parts, body, ctx, format);
        call.inner.form = form;
        admitted(admit, &route.dispatch, call, version)
    }
}

mod answers;
mod heads;
mod shared;

use answers::{invalid_path, not_a_path, not_routed, ready_error, unknown_grpc_service, with_cors};
pub(crate) use heads::peer_addr;
use heads::{is_grpc, settle_host};
