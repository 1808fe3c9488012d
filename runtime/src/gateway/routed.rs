//! What a routed call is, as every part of the gateway sees it: the route table's entries and
//! the matched [`Route`], the [`Call`] a generated dispatch receives, the gateway's shared state
//! ([`Gateway`] and its `Inner`), and the handlers a builder sets. Below the gateway's other
//! files, so that the service, its builder and the call paths each import these without
//! importing one another.

use std::sync::Arc;

use axum::body::Body;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use rust_svc_http_template::{Found, PathTemplate, RouteTable, TemplateError};
use smallvec::SmallVec;

use super::form::FormFallback;
use super::headers::{HeaderRules, Present};
use super::response::ResponseBody;
use super::stream::StreamFormat;
use super::{protobuf, trailers};
use crate::call::admission::{Admission, Permit};
use crate::cors::Cors;
use crate::rpc::{HttpBinding, MethodInfo, ServiceInfo};
use crate::{BoxFuture, Context};

/// The default limit of a request body: 4 MiB, gRPC's default message size.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A binding of an rpc that the route table matched: the rpc, its position in its service
/// (which the generated dispatch matches on), and the binding.
#[derive(Debug, Clone, Copy)]
pub(super) struct Route {
    pub(super) method: &'static MethodInfo,
    pub(super) rpc_index: usize,
    pub(super) binding: &'static HttpBinding,
}

impl Route {
    pub(super) fn response_body(&self) -> Option<ResponseBody> {
        let binding = self.binding;
        (!binding.response_body.is_empty()).then_some(ResponseBody {
            json_name: binding.response_body_json,
            default_json: binding.response_body_default,
        })
    }
}

/// The rpc's full proto name with a dot, as grpc-gateway's messages name it:
/// `inventory.v1.InventoryService.CheckStock`.
pub(super) struct RpcName(pub(super) &'static MethodInfo);

impl std::fmt::Display for RpcName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0.service(), self.0.method())
    }
}

/// What a generated dispatch returns.
pub type ResponseFuture = BoxFuture<'static, http::Response<Body>>;

pub(super) type Dispatch = Arc<dyn Fn(Call) -> ResponseFuture + Send + Sync>;

/// The routes of one service bound to an implementation of its domain trait, as the generated
/// `…Gateway::routes` returns them; add them to a [`GatewayBuilder`](super::GatewayBuilder).
pub struct ServiceRoutes {
    service: &'static ServiceInfo,
    pub(super) dispatch: Dispatch,
    /// The domain's, shared with its gRPC adapter.
    pub(super) admission: Admission,
}

impl ServiceRoutes {
    /// Binds the HTTP bindings of `service`'s rpcs to `domain` through the generated
    /// `dispatch`.
    pub fn new<T: Send + Sync + 'static>(
        service: &'static ServiceInfo,
        domain: Arc<T>,
        dispatch: fn(&Arc<T>, Call) -> ResponseFuture,
    ) -> Self {
        Self {
            service,
            admission: Admission::for_domain(service, &domain),
            dispatch: Arc::new(move |call| dispatch(&domain, call)),
        }
    }

    /// The admission the routes' calls go through: the domain's, which its gRPC adapter
    /// shares.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The service served, whose rpcs' [`MethodInfo::http`] are the routes.
    pub fn service(&self) -> &'static ServiceInfo {
        self.service
    }

    /// Every binding served, with its rpc's position in the service.
    pub(super) fn routes(&self) -> impl Iterator<Item = Route> + '_ {
        self.service
            .methods
            .iter()
            .enumerate()
            .flat_map(|(rpc_index, method)| {
                method.http.iter().map(move |binding| Route {
                    method,
                    rpc_index,
                    binding,
                })
            })
    }
}

impl std::fmt::Debug for ServiceRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRoutes")
            .field("service", &self.service.name)
            .finish_non_exhaustive()
    }
}

/// A matched request on its way to the domain.
///
/// Boxed: it is handed down through several functions and futures (the generated dispatch,
/// the call's future, the request reader), and each move of the 660 bytes it holds was a copy;
/// async functions also keep an argument twice in their state.
pub struct Call {
    pub(super) inner: Box<CallParts>,
}

/// What a [`Call`] holds.
pub(super) struct CallParts {
    pub(super) route: Route,
    pub(super) bindings: PathValues,
    pub(super) parts: http::request::Parts,
    pub(super) body: Body,
    pub(super) ctx: Context,
    /// What the call reads of the request's headers, which `ctx` may have taken.
    pub(super) format: RequestFormat,
    pub(super) max_body_bytes: usize,
    pub(super) header_rules: HeaderRules,
    /// The call's slot in its service's admission, held until the answer is ready.
    pub(super) permit: Permit,
    /// Whether the body is an HTML form whose fields are read as query parameters (form.rs).
    pub(super) form: bool,
    /// What a server stream's error goes through before it is written.
    pub(super) stream_errors: Option<StreamErrorHandler>,
}

impl CallParts {
    /// Whether the request message needs the body: its rule takes one, or it is an HTML form
    /// standing for the query. Without, the request is whole from the path and the query.
    pub(super) fn reads_body(&self) -> bool {
        self.form || !self.route.binding.body.is_empty()
    }
}

impl Call {
    /// Position of the matched rpc in its service.
    pub fn rpc_index(&self) -> usize {
        self.inner.route.rpc_index
    }

    /// The matched rpc.
    pub fn method(&self) -> &'static MethodInfo {
        self.inner.route.method
    }

    /// The matched binding of the rpc.
    pub fn binding(&self) -> &'static HttpBinding {
        self.inner.route.binding
    }
}

pub(super) struct Inner {
    pub(super) table: RouteTable<Entry>,
    pub(super) cors: Cors,
    pub(super) max_body_bytes: usize,
    pub(super) header_rules: HeaderRules,
    pub(super) default_deadlines: bool,
    pub(super) form: FormFallback,
    pub(super) error_handler: Option<ErrorHandler>,
    pub(super) stream_error_handler: Option<StreamErrorHandler>,
    pub(super) annotator: Option<MetadataAnnotator>,
}

impl Inner {
    /// The metadata the annotator (if any) makes of a request's head.
    pub(super) fn annotated(&self, head: &http::request::Parts) -> Option<crate::MetadataMap> {
        let annotate = self.annotator.as_ref()?;
        let mut metadata = crate::MetadataMap::new();
        annotate(head, &mut metadata);
        Some(metadata)
    }
}

/// The values of a matched route's path variables, each with its dotted field path: the
/// names are the route's (see [`Entry::names`]), shared, and the values inline for up to two
/// variables, as nearly every route has. A lookup of a request allocates only its values.
pub(super) type PathValues = SmallVec<[(Arc<str>, String); 2]>;

/// The values of `found`'s variables, decoded, or the first that does not decode and why.
pub(super) fn path_values<'a>(
    found: &Found<'a, '_, Entry>,
) -> Result<PathValues, (&'a str, String)> {
    let mut values = PathValues::new();
    for (i, name) in found.value.names.iter().enumerate() {
        match found.decoded(i) {
            Ok(value) => values.push((Arc::clone(name), value.into_owned())),
            Err(message) => return Err((found.field_path(i), message)),
        }
    }
    Ok(values)
}

/// Serves REST/JSON calls of one or more services: a tower service, or an axum `Router` with
/// [`Gateway::into_router`], which [`Gateway::with_grpc`] puts on one port with gRPC.
#[derive(Clone)]
pub struct Gateway {
    pub(super) inner: Arc<Inner>,
    /// The client's address when this clone serves one connection ([`Gateway::for_peer`]).
    pub(super) peer: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.inner.table.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `inner`.
    pub(super) fn serving(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
            peer: None,
        }
    }
}

/// A route that could not be added: its template does not parse.
#[derive(Debug)]
pub struct GatewayError {
    message: String,
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GatewayError {}

impl From<TemplateError> for GatewayError {
    fn from(error: TemplateError) -> Self {
        Self {
            message: error.to_string(),
        }
    }
}

/// Writes the gateway's error responses in a form of one's own (see
/// [`GatewayBuilder::error_handler`](super::GatewayBuilder::error_handler)): given the error's status and the response the gateway
/// made of it, the response to send.
pub type ErrorHandler = Arc<
    dyn Fn(&crate::Status, http::Response<axum::body::Body>) -> http::Response<axum::body::Body>
        + Send
        + Sync,
>;

/// Turns the error that ends a server stream into the status written in its place (see
/// [`GatewayBuilder::stream_error_handler`](super::GatewayBuilder::stream_error_handler)).
pub type StreamErrorHandler = Arc<dyn Fn(crate::Status) -> crate::Status + Send + Sync>;

/// Adds request metadata of one's own from a REST request's head (see
/// [`GatewayBuilder::metadata`](super::GatewayBuilder::metadata)).
pub type MetadataAnnotator =
    Arc<dyn Fn(&http::request::Parts, &mut crate::MetadataMap) + Send + Sync>;

/// Adds one binding to `table`, in place of an earlier route that matches the same requests;
/// fails when its template does not parse.
pub(super) fn add_route(
    table: &mut RouteTable<Entry>,
    route: Route,
    service: &ServiceRoutes,
) -> Result<(), GatewayError> {
    let binding = route.binding;
    let template = PathTemplate::parse(binding.template)?;
    let names = template
        .variables()
        .iter()
        .map(|v| v.name().into())
        .collect();
    let entry = Entry {
        route,
        names,
        dispatch: Arc::clone(&service.dispatch),
        admission: service.admission.clone(),
    };
    if let Some((existing, shadowed)) = table.insert_or_replace(binding.method, template, entry) {
        let rpc = RpcName(route.method);
        tracing::warn!(
            "{} {} of rpc {rpc} matches the same requests as {} {} of rpc {}: the gateway serves \
             {rpc} there, the service added later, as grpc-gateway does",
            binding.method,
            binding.template,
            binding.method,
            existing,
            RpcName(shadowed.route.method),
        );
    }
    Ok(())
}

pub(super) struct Entry {
    pub(super) route: Route,
    /// The dotted field path of each of the template's variables, in template order: shared
    /// by the calls of the route rather than copied into each.
    pub(super) names: Box<[Arc<str>]>,
    pub(super) dispatch: Dispatch,
    /// The service's, shared with its gRPC adapter.
    pub(super) admission: Admission,
}
/// What a call reads of its request's headers after its context took them: the body's
/// `Content-Type`, and how `Accept` asks the answer to be written.
pub(super) struct RequestFormat {
    pub(super) content_type: Option<HeaderValue>,
    pub(super) stream: StreamFormat,
    /// `Accept` prefers binary protobuf.
    pub(super) protobuf: bool,
    /// `TE: trailers`: the response's trailers go as HTTP trailers.
    pub(super) trailers: bool,
}

impl RequestFormat {
    /// `present` is what [`Present::of`] found in `headers`.
    pub(super) fn of(headers: &HeaderMap, present: Present) -> Self {
        if !(present.content_type || present.accept || present.te) {
            // A request with none of them (most `GET`s): the readers of `Accept` are not run
            // on nothing.
            return Self {
                content_type: None,
                stream: StreamFormat::NdJson,
                protobuf: false,
                trailers: false,
            };
        }
        let content_type = if present.content_type {
            headers.get(CONTENT_TYPE).cloned()
        } else {
            None
        };
        // `Accept` looked up once for both of its readings, and only when the request has one.
        let (stream, protobuf) = if present.accept {
            let accept = headers.get_all(ACCEPT);
            (
                StreamFormat::from_accept_values(&accept),
                protobuf::accepts_protobuf(&accept),
            )
        } else {
            (StreamFormat::NdJson, false)
        };
        Self {
            content_type,
            stream,
            protobuf,
            trailers: present.te && trailers::accepted(headers),
        }
    }
}
