//! What the gateway's end-to-end tests share: an `Echo` domain that shows what the gateway made
//! of each request (and records the `Context` it got), servers on loopback, and a small REST
//! client over reqwest that returns status, headers and body together.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use rust_svc_runtime::gateway::Gateway;
use rust_svc_runtime::gateway::cors::Cors;
use rust_svc_runtime::harness::{Harness, loopback_with_gateway};
use rust_svc_runtime::host::{self, Host, Serving, Stop};
use rust_svc_runtime::wkt::Empty;
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use rust_svc_tests::tests::gateway::{
    ECHO, Echo, EchoClient, EchoGateway, EchoGrpc, Everything, FailRequest, Inner, Leaf,
    ListResponse, PutRequest, ResourceRequest, StreamRequest, Total,
};
use serde_json::Value;
use tonic_types::{ErrorDetails, StatusExt};

/// How long `Sleep` sleeps: far longer than any deadline a test sets, so a 504 can only come
/// from the deadline.
pub const SLEEP: Duration = Duration::from_secs(10);

/// The metadata every status from `Fail` carries, to see it come back as a
/// `Grpc-Metadata-Failed-By` header.
pub const FAILED_BY: (&str, &str) = ("failed-by", "echo");

/// What the domain saw of one call.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The rpc, as the trait method is named.
    pub rpc: &'static str,
    /// The context's metadata as (name, value) pairs, binary values base64-encoded by tonic.
    pub metadata: Vec<(String, String)>,
    /// Time left until the context's deadline when the call started, if it has one.
    pub remaining: Option<Duration>,
    /// Whether the context knew the peer address.
    pub had_peer: bool,
    /// The REST route (method, path template) the call came by, if it came by one.
    pub route: Option<(&'static str, &'static str)>,
}

impl Seen {
    /// The first value of metadata `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The message of a `Fail` request, or the label of a `Sum` message, that makes the handler
/// panic.
pub const PANIC: &str = "panic";

/// The `fail_with_code` of a `Stream` request that makes its stream panic after its messages.
pub const PANIC_CODE: i32 = 1000;

/// The test domain: unary rpcs echo their request, the rest do what gateway.proto says.
#[derive(Debug, Clone)]
pub struct EchoDomain {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Sleeps whose future was dropped before they ended: the call was given up.
    abandoned: Arc<tokio::sync::Semaphore>,
}

impl Default for EchoDomain {
    fn default() -> Self {
        Self {
            seen: Arc::default(),
            abandoned: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

/// Adds a permit to `abandoned` when dropped before [`Abandon::finish`].
struct Abandon(Option<Arc<tokio::sync::Semaphore>>);

impl Abandon {
    fn finish(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some(abandoned) = self.0.take() {
            abandoned.add_permits(1);
        }
    }
}

impl EchoDomain {
    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The last call of `rpc`; panics (listing the calls) if there was none.
    pub fn last(&self, rpc: &str) -> Seen {
        let calls = self.calls();
        calls
            .iter()
            .rev()
            .find(|seen| seen.rpc == rpc)
            .cloned()
            .unwrap_or_else(|| panic!("no call of {rpc} reached the domain: {calls:?}"))
    }

    /// Waits until a `sleep` call's future is dropped before it ended (the call was given up).
    pub async fn abandoned_sleep(&self) {
        self.abandoned.acquire().await.unwrap().forget();
    }

    fn record(&self, rpc: &'static str, ctx: &Context) {
        let metadata = ctx
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        self.seen.lock().unwrap().push(Seen {
            rpc,
            metadata,
            remaining: ctx.remaining(),
            had_peer: ctx.peer_addr().is_some(),
            route: ctx.http_route().map(|route| (route.method, route.template)),
        });
    }
}

impl Echo for EchoDomain {
    async fn get_everything(
        &self,
        ctx: &Context,
        request: Everything,
    ) -> Result<Everything, Status> {
        self.record("get_everything", ctx);
        Ok(request)
    }

    async fn create_everything(
        &self,
        ctx: &Context,
        request: Everything,
    ) -> Result<Everything, Status> {
        self.record("create_everything", ctx);
        // The status a REST caller asks for (`Grpc-Metadata-Want-Http-Code`), as the handler
        // of grpc-gateway's `x-http-code` recipe sets it.
        if let Some(code) = ctx.metadata().get("want-http-code") {
            ctx.response().headers().insert("x-http-code", code.clone());
        }
        Ok(request)
    }

    async fn put_everything(
        &self,
        ctx: &Context,
        request: PutRequest,
    ) -> Result<PutRequest, Status> {
        self.record("put_everything", ctx);
        Ok(request)
    }

    async fn patch_everything(
        &self,
        ctx: &Context,
        request: PutRequest,
    ) -> Result<PutRequest, Status> {
        self.record("patch_everything", ctx);
        Ok(request)
    }

    /// The request itself and a second item, so that `response_body: "items"` gives an array
    /// of two; the page token must not appear in the body.
    async fn list_everything(
        &self,
        ctx: &Context,
        request: Everything,
    ) -> Result<ListResponse, Status> {
        self.record("list_everything", ctx);
        let second = Everything {
            id: "second".to_owned(),
            ..Everything::default()
        };
        Ok(ListResponse {
            items: vec![request, second],
            next_page_token: "page-2".to_owned(),
        })
    }

    async fn get_resource(
        &self,
        ctx: &Context,
        request: ResourceRequest,
    ) -> Result<ResourceRequest, Status> {
        self.record("get_resource", ctx);
        Ok(request)
    }

    async fn delete_everything(
        &self,
        ctx: &Context,
        _request: Everything,
    ) -> Result<Empty, Status> {
        self.record("delete_everything", ctx);
        Ok(Empty {})
    }

    /// The status asked for, with a `google.rpc.BadRequest` detail when asked, and always the
    /// [`FAILED_BY`] metadata.
    async fn fail(&self, ctx: &Context, request: FailRequest) -> Result<Empty, Status> {
        self.record("fail", ctx);
        // A handler with a bug (tests/it/panics.rs).
        assert_ne!(request.message, PANIC, "the handler's bug");
        let code = Code::from(request.code);
        let mut status = if request.with_details {
            Status::with_error_details(
                code,
                request.message,
                ErrorDetails::with_bad_request_violation("inner.label", "must not be empty"),
            )
        } else {
            Status::new(code, request.message)
        };
        status
            .metadata_mut()
            .insert(FAILED_BY.0, FAILED_BY.1.parse().unwrap());
        Err(status)
    }

    async fn sleep(&self, ctx: &Context, _request: Empty) -> Result<Empty, Status> {
        let guard = Abandon(Some(Arc::clone(&self.abandoned)));
        self.record("sleep", ctx);
        tokio::time::sleep(SLEEP).await;
        guard.finish();
        Ok(Empty {})
    }

    /// `count` messages labelled `item 0`, `item 1`…, `interval_ms` apart (the first at once),
    /// then a failure with `fail_with_code` if it is not 0.
    async fn stream(
        &self,
        ctx: &Context,
        request: StreamRequest,
    ) -> Result<BoxStream<Inner>, Status> {
        self.record("stream", ctx);
        let StreamRequest {
            count,
            interval_ms,
            fail_with_code,
        } = request;
        let interval = Duration::from_millis(u64::try_from(interval_ms).unwrap_or(0));
        let items = stream::unfold(0, move |sent| async move {
            if sent < count {
                if sent > 0 && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                let item = Inner {
                    label: format!("item {sent}"),
                    count: sent,
                    leaf: None,
                };
                Some((Ok(item), sent + 1))
            } else if sent == count && fail_with_code == PANIC_CODE {
                panic!("the stream's bug, after {count} messages");
            } else if sent == count && fail_with_code != 0 {
                let status = Status::new(
                    Code::from(fail_with_code),
                    format!("failed after {count} messages"),
                );
                Some((Err(status), sent + 1))
            } else {
                None
            }
        });
        Ok(Box::pin(items))
    }

    /// The sum of the counts and the number of messages; a bad message fails the call.
    async fn sum(&self, ctx: &Context, mut requests: BoxStream<Inner>) -> Result<Total, Status> {
        self.record("sum", ctx);
        let mut total = Total::default();
        while let Some(inner) = requests.next().await {
            let inner = inner?;
            assert_ne!(inner.label, PANIC, "the handler's bug, mid-stream");
            total.sum += inner.count;
            total.messages += 1;
        }
        Ok(total)
    }

    /// Each message back as it comes, its label prefixed with `echo: `.
    async fn chat(
        &self,
        ctx: &Context,
        requests: BoxStream<Inner>,
    ) -> Result<BoxStream<Inner>, Status> {
        self.record("chat", ctx);
        Ok(Box::pin(requests.map(|inner| {
            inner.map(|inner| Inner {
                label: format!("echo: {}", inner.label),
                ..inner
            })
        })))
    }

    async fn grpc_only(&self, ctx: &Context, request: Leaf) -> Result<Leaf, Status> {
        self.record("grpc_only", ctx);
        Ok(request)
    }
}

/// A running server (gRPC and REST on one loopback port), its domain, and a REST client for it.
pub struct Served {
    pub domain: EchoDomain,
    pub harness: Harness<EchoClient>,
    pub rest: Rest,
}

/// [`EchoDomain`] behind `EchoGateway::serve_loopback`, the generated entry point.
pub async fn serve() -> Served {
    let domain = EchoDomain::default();
    let harness = EchoGateway::serve_loopback(domain.clone()).await.unwrap();
    let rest = Rest::new(&harness);
    Served {
        domain,
        harness,
        rest,
    }
}

/// [`EchoDomain`] behind a gateway built with `Gateway::builder()`, with `cors` and a body
/// limit of `max_body_bytes`, beside its gRPC adapter on one loopback port.
pub async fn serve_built(cors: Cors, max_body_bytes: usize) -> Served {
    serve_with(|builder| builder.cors(cors).max_body_bytes(max_body_bytes)).await
}

/// [`EchoDomain`] behind a gateway that `configure` sets up from `Gateway::builder()` with the
/// echo routes, beside its gRPC adapter on one loopback port.
pub async fn serve_with(
    configure: impl FnOnce(
        rust_svc_runtime::gateway::GatewayBuilder,
    ) -> rust_svc_runtime::gateway::GatewayBuilder,
) -> Served {
    let domain = EchoDomain::default();
    let gateway = configure(Gateway::builder().service(EchoGateway::routes(domain.clone())))
        .build()
        .unwrap();
    let harness = loopback_with_gateway::<EchoClient, _>(
        EchoGrpc::new(domain.clone()).into_service(),
        gateway,
    )
    .await
    .unwrap();
    let rest = Rest::new(&harness);
    Served {
        domain,
        harness,
        rest,
    }
}

/// `domain`'s gRPC adapter and gateway on a `Host` port of their own on loopback, configured
/// by `configure` (TLS, say); with the `Stop` that ends it.
pub async fn serve_on_host(
    domain: &EchoDomain,
    configure: impl FnOnce(Host) -> Host,
) -> (Serving, Stop) {
    let port = Host::new("echo").service(
        ECHO.name,
        tonic::service::Routes::new(EchoGrpc::new(domain.clone()).into_service()),
        Some(EchoGateway::routes(domain.clone())),
    );
    let listener = host::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let stop = Stop::new();
    let serving = configure(port).start(listener, stop.wait()).await.unwrap();
    (serving, stop)
}

/// One HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts a 200 with `Content-Type: application/json` and returns the JSON body.
    pub fn ok_json(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        self.json()
    }

    /// Asserts a `google.rpc.Status` error: the HTTP status, `Content-Type:
    /// application/json`, the gRPC code in the body, a message containing every one of
    /// `needles`, and a `details` array. Returns the body.
    pub fn error(&self, http: u16, code: Code, needles: &[&str]) -> Value {
        assert_eq!(self.status.as_u16(), http, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["code"], code as i32, "{self:?}");
        let message = body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{self:?}"));
        for needle in needles {
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            );
        }
        assert!(body["details"].is_array(), "{self:?}");
        body
    }
}

/// A REST client for one server, over HTTP/1.1 (reqwest negotiates nothing else over plain
/// `http://` unless told to).
pub struct Rest {
    client: reqwest::Client,
    base: String,
}

impl Rest {
    /// A client for the gateway of `harness`.
    pub fn new<C>(harness: &Harness<C>) -> Self {
        Self::with_client(harness, reqwest::Client::builder().http1_only())
    }

    /// A client for the gateway of `harness`, built from `builder`.
    pub fn with_client<C>(harness: &Harness<C>, builder: reqwest::ClientBuilder) -> Self {
        Self {
            client: builder.build().unwrap(),
            base: harness
                .base_url()
                .expect("a loopback harness has a base URL"),
        }
    }

    /// A request to `path` (with its query), to add headers and a body to.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// The gateway's address, `host:port`.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends `request_line` (`GET foo HTTP/1.1`) as written, which an HTTP client would not,
    /// with a `Host` and `Connection: close`; the whole response as text.
    pub async fn raw_request_line(&self, request_line: &str) -> String {
        let addr = self.base.trim_start_matches("http://");
        self.raw_request(&format!("{request_line}\r\nHost: {addr}\r\n"))
            .await
    }

    /// Sends `head` (a request line and header lines, each ending in CRLF) as written, with
    /// `Connection: close` and no body; the whole response as text.
    pub async fn raw_request(&self, head: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("{head}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            headers,
            text,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request("GET", path)).await
    }

    /// `method path` with `body` as JSON.
    pub async fn json(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.send(
            self.request(method, path)
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `method path` with raw `body` bytes and `content_type`.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.request(method, path)
                .header(CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    /// Asserts that the server still answers a good request correctly: after a bad input, it
    /// must go on serving.
    pub async fn assert_serving(&self) {
        let reply = self.get("/v1/everything/still-here?small=1").await;
        let body = reply.ok_json();
        assert_eq!(body, serde_json::json!({"id": "still-here", "small": 1}));
    }
}
