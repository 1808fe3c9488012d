//! The one description of an rpc and of its service that generated code emits: what the
//! adapter, the interceptors, the client, the gateway and the fake all read.

use std::time::Duration;

use super::{HedgingPolicy, LoadShedding, RetryPolicy, RetryThrottling, SlidingWindow};

/// The call shape of an rpc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    BidiStreaming,
}

/// The standard `idempotency_level` method option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Not declared.
    Unknown,
    /// `NO_SIDE_EFFECTS`: a read.
    NoSideEffects,
    /// `IDEMPOTENT`: repeating the call has the effect of making it once.
    Idempotent,
}

impl Idempotency {
    /// Whether a call may be sent again without asking (`NO_SIDE_EFFECTS` or `IDEMPOTENT`).
    pub fn is_safe_to_retry(self) -> bool {
        !matches!(self, Idempotency::Unknown)
    }
}

/// One `google.api.http` binding of an rpc (the rule or one of its `additional_bindings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpBinding {
    /// The HTTP method: `GET`, `POST`…, or a custom one.
    pub method: &'static str,
    /// The path template, e.g. `/v1/items/{sku}/stock`.
    pub template: &'static str,
    /// The request field bound to the body (a dotted path for one inside a message field),
    /// `*` for the whole request, or empty for none.
    pub body: &'static str,
    /// The response field sent as the body, or empty for the whole response.
    pub response_body: &'static str,
    /// The proto3 JSON name of `response_body`.
    pub response_body_json: &'static str,
    /// The JSON of `response_body` at its default value, which the serializer omits.
    pub response_body_default: &'static str,
    /// The body (the whole request, or the `body` field) is a `google.api.HttpBody`: the raw
    /// HTTP body and its `Content-Type`, not JSON.
    pub request_http_body: bool,
    /// The response (or its `response_body` field) is a `google.api.HttpBody`: sent as its raw
    /// bytes with its content type, a stream of them as one chunked body.
    pub response_http_body: bool,
}

impl HttpBinding {
    /// `method` on `template`, no body either way.
    pub const fn new(method: &'static str, template: &'static str) -> Self {
        Self {
            method,
            template,
            body: "",
            response_body: "",
            response_body_json: "",
            response_body_default: "",
            request_http_body: false,
            response_http_body: false,
        }
    }

    /// Sets [`request_http_body`](Self::request_http_body).
    #[must_use]
    pub const fn request_http_body(mut self) -> Self {
        self.request_http_body = true;
        self
    }

    /// Sets [`response_http_body`](Self::response_http_body).
    #[must_use]
    pub const fn response_http_body(mut self) -> Self {
        self.response_http_body = true;
        self
    }

    /// Sets [`body`](Self::body): a request field's proto name (or a dotted path of them
    /// through singular message fields, `shelf.theme`), or `*`.
    #[must_use]
    pub const fn body(mut self, field: &'static str) -> Self {
        self.body = field;
        self
    }

    /// Sets [`response_body`](Self::response_body) to the response field `field`, whose JSON
    /// name is `json_name` and whose default value serializes as `default_json`. A field inside
    /// message fields is a dotted path, in both names (`page.items`).
    #[must_use]
    pub const fn response_body(
        mut self,
        field: &'static str,
        json_name: &'static str,
        default_json: &'static str,
    ) -> Self {
        self.response_body = field;
        self.response_body_json = json_name;
        self.response_body_default = default_json;
        self
    }
}

/// An rpc, described once: generated as one element of its service's [`ServiceInfo`], and read
/// by the server adapter and its interceptors, the client, the gateway and the fake.
///
/// Policies are what options.proto says for the method, or for its service where the method says
/// nothing; `None` means neither does, and the built-in default applies. Build one in a `const`
/// or `static` with [`new`](Self::new) and the setters:
///
/// ```
/// # use std::time::Duration;
/// # use rust_svc_runtime::rpc::{HttpBinding, Idempotency, MethodInfo, MethodKind};
/// static CHECK_STOCK: MethodInfo =
///     MethodInfo::new("/inventory.v1.InventoryService/CheckStock", MethodKind::Unary)
///         .idempotency(Idempotency::NoSideEffects)
///         .deadline(Duration::from_millis(300))
///         .http(&[HttpBinding::new("GET", "/v1/items/{sku}/stock")]);
/// assert_eq!(CHECK_STOCK.service(), "inventory.v1.InventoryService");
/// assert_eq!(CHECK_STOCK.method(), "CheckStock");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MethodInfo {
    /// The gRPC path, `/` + the service's full name + `/` + the rpc's name, e.g.
    /// `/inventory.v1.InventoryService/CheckStock`.
    pub path: &'static str,
    /// Which way messages stream.
    pub kind: MethodKind,
    /// The rpc's `idempotency_level`.
    pub idempotency: Idempotency,
    /// The deadline a call gets when its caller sets none.
    pub deadline: Option<Duration>,
    /// How the client retries a failed call that is safe to repeat.
    pub retry: Option<RetryPolicy>,
    /// How the client hedges a call that is safe to repeat; it replaces the retry policy.
    pub hedging: Option<HedgingPolicy>,
    /// When the client's breaker for the rpc opens.
    pub circuit_breaker: Option<SlidingWindow>,
    /// The rpc's `google.api.http` bindings, in the order declared; empty for none.
    pub http: &'static [HttpBinding],
    /// Whether the service's load shedding applies to the rpc's calls (the default); an rpc
    /// whose options.proto `load_shedding` says `disabled` is always admitted, and not
    /// measured (a health probe, a cheap read an operator needs most under load).
    pub shed: bool,
}

/// Replaces `slot` in a `const fn`: the old value is forgotten rather than dropped (a `const fn`
/// cannot run a destructor). Every slot this is used on starts `None`, so nothing is leaked
/// unless a setter is called twice on one value.
const fn replace<T>(slot: &mut Option<T>, value: T) {
    std::mem::forget(slot.replace(value));
}

impl MethodInfo {
    /// The rpc at gRPC `path` (`/package.Service/Method`), of shape `kind`, with no options.
    pub const fn new(path: &'static str, kind: MethodKind) -> Self {
        Self {
            path,
            kind,
            idempotency: Idempotency::Unknown,
            deadline: None,
            retry: None,
            hedging: None,
            circuit_breaker: None,
            http: &[],
            shed: true,
        }
    }

    /// Sets [`idempotency`](Self::idempotency).
    #[must_use]
    pub const fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// Sets [`deadline`](Self::deadline).
    #[must_use]
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets [`retry`](Self::retry).
    #[must_use]
    pub const fn retry(mut self, policy: RetryPolicy) -> Self {
        replace(&mut self.retry, policy);
        self
    }

    /// Sets [`hedging`](Self::hedging).
    #[must_use]
    pub const fn hedging(mut self, policy: HedgingPolicy) -> Self {
        replace(&mut self.hedging, policy);
        self
    }

    /// Sets [`circuit_breaker`](Self::circuit_breaker).
    #[must_use]
    pub const fn circuit_breaker(mut self, window: SlidingWindow) -> Self {
        replace(&mut self.circuit_breaker, window);
        self
    }

    /// Sets [`http`](Self::http).
    #[must_use]
    pub const fn http(mut self, bindings: &'static [HttpBinding]) -> Self {
        self.http = bindings;
        self
    }

    /// Sets [`shed`](Self::shed).
    #[must_use]
    pub const fn shed(mut self, shed: bool) -> Self {
        self.shed = shed;
        self
    }

    /// The service's full proto name, e.g. `inventory.v1.InventoryService`.
    pub fn service(&self) -> &'static str {
        self.full_name()
            .rsplit_once('/')
            .map_or("", |(service, _)| service)
    }

    /// The rpc's name as in the .proto file, e.g. `CheckStock`.
    pub fn method(&self) -> &'static str {
        self.path
            .rsplit_once('/')
            .map_or(self.path, |(_, method)| method)
    }

    /// The full proto name of the rpc, `inventory.v1.InventoryService/CheckStock`.
    pub fn full_name(&self) -> &'static str {
        self.path.strip_prefix('/').unwrap_or(self.path)
    }

    /// Whether a call may be sent again without asking: the rpc is declared `IDEMPOTENT` or
    /// `NO_SIDE_EFFECTS`.
    pub fn is_safe_to_retry(&self) -> bool {
        self.idempotency.is_safe_to_retry()
    }

    /// The answer of an rpc nobody implemented: `UNIMPLEMENTED`, saying which rpc. What the
    /// generated stub's methods return.
    pub fn not_implemented<T>(&self) -> std::future::Ready<Result<T, crate::Status>> {
        std::future::ready(Err(crate::Status::unimplemented(format!(
            "{} is not implemented",
            self.full_name()
        ))))
    }
}

/// A service and its rpcs in declaration order, generated as one `static` per service (its
/// rpcs in a `static` array of their own: an initializer does not promote a `&[…]` of values
/// that have a destructor).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// The full proto name, e.g. `inventory.v1.InventoryService`.
    pub name: &'static str,
    /// Every rpc, in declaration order; generated code names an rpc by its position here.
    pub methods: &'static [MethodInfo],
    /// The service's retry throttling, or `None` for the built-in default.
    pub retry_throttling: Option<RetryThrottling>,
    /// How the service sheds load when it serves (options.proto's `load_shedding`, else
    /// [`LoadShedding::DEFAULT`]: on).
    pub load_shedding: LoadShedding,
}

impl ServiceInfo {
    /// The service `name` with `methods`, and no retry throttling of its own.
    pub const fn new(name: &'static str, methods: &'static [MethodInfo]) -> Self {
        Self {
            name,
            methods,
            retry_throttling: None,
            load_shedding: LoadShedding::DEFAULT,
        }
    }

    /// Sets [`retry_throttling`](Self::retry_throttling).
    #[must_use]
    pub const fn retry_throttling(mut self, throttling: RetryThrottling) -> Self {
        self.retry_throttling = Some(throttling);
        self
    }

    /// Sets [`load_shedding`](Self::load_shedding).
    #[must_use]
    pub const fn load_shedding(mut self, shedding: LoadShedding) -> Self {
        self.load_shedding = shedding;
        self
    }

    /// The rpc named `name` as in the .proto file, e.g. `CheckStock`.
    pub fn method(&self, name: &str) -> Option<&'static MethodInfo> {
        self.methods.iter().find(|method| method.method() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_rpc_not_implemented_says_which() {
        static INFO: MethodInfo = MethodInfo::new("/a.b.Svc/Get", MethodKind::Unary);
        let status = INFO.not_implemented::<()>().await.unwrap_err();
        assert_eq!(status.code(), crate::Code::Unimplemented);
        assert_eq!(status.message(), "a.b.Svc/Get is not implemented");
    }

    #[test]
    fn names_come_from_the_path() {
        static INFO: MethodInfo = MethodInfo::new("/a.b.Svc/Get", MethodKind::Unary);
        assert_eq!(INFO.service(), "a.b.Svc");
        assert_eq!(INFO.method(), "Get");
        assert_eq!(INFO.full_name(), "a.b.Svc/Get");
        static NO_PACKAGE: MethodInfo = MethodInfo::new("/Svc/Get", MethodKind::Unary);
        assert_eq!(NO_PACKAGE.service(), "Svc");
    }

    #[test]
    fn setters_fill_a_static() {
        // The rpcs are a static of their own: a `&[…]` of values with a destructor (the
        // policies' owned lists) is not promoted to `'static` in an initializer.
        static METHODS: [MethodInfo; 2] = [
            MethodInfo::new("/a.Svc/Get", MethodKind::Unary)
                .idempotency(Idempotency::NoSideEffects)
                .retry(RetryPolicy::new(&[crate::Code::Unavailable]).max_attempts(4))
                .http(&[
                    HttpBinding::new("GET", "/v1/{name}").response_body("item", "item", "null")
                ]),
            MethodInfo::new("/a.Svc/Watch", MethodKind::ServerStreaming)
                .hedging(HedgingPolicy::new(2, Duration::ZERO)),
        ];
        static SERVICE: ServiceInfo =
            ServiceInfo::new("a.Svc", &METHODS).retry_throttling(RetryThrottling::new(4, 0.5));
        let get = SERVICE.method("Get").expect("declared");
        assert!(get.is_safe_to_retry());
        assert_eq!(get.retry.as_ref().map(|retry| retry.max_attempts), Some(4));
        assert_eq!(get.http[0].response_body_json, "item");
        assert!(
            !SERVICE
                .method("Watch")
                .expect("declared")
                .is_safe_to_retry()
        );
        assert!(SERVICE.method("Put").is_none());
    }
}
