//! [`Cors`] around routes that are not the gateway's: a host's gRPC paths, which browsers call
//! with gRPC-Web and Connect. The same policy type as the gateway's, so a port has one CORS.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use axum::body::Body;
use http::header::ORIGIN;
use http::{HeaderValue, Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::Cors;

/// A tower layer that answers CORS preflights for routes serving `methods` with a [`Cors`]
/// policy, and decorates every other response with [`Cors::decorate`].
#[derive(Debug, Clone)]
pub struct CorsLayer {
    cors: Arc<Cors>,
    methods: &'static [&'static str],
}

impl CorsLayer {
    /// `cors` for routes that serve `methods` (what a preflight is answered with).
    pub fn new(cors: Cors, methods: &'static [&'static str]) -> Self {
        Self {
            cors: Arc::new(cors),
            methods,
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService {
            inner,
            cors: Arc::clone(&self.cors),
            methods: self.methods,
        }
    }
}

/// The service of [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: S,
    cors: Arc<Cors>,
    methods: &'static [&'static str],
}

impl<S> Service<Request<Body>> for CorsService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if request.method() == Method::OPTIONS
            && let Some(preflight) = self.cors.preflight(request.headers(), self.methods)
        {
            return CorsFuture {
                state: State::Preflight {
                    answer: Some(preflight),
                },
            };
        }
        let origin = request.headers().get(ORIGIN).cloned();
        CorsFuture {
            state: State::Answer {
                inner: self.inner.call(request),
                cors: Arc::clone(&self.cors),
                origin,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`CorsService`].
    pub struct CorsFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        // A preflight, answered at once.
        Preflight { answer: Option<Response<Body>> },
        // Any other request: the inner answer, decorated.
        Answer {
            #[pin]
            inner: F,
            cors: Arc<Cors>,
            origin: Option<HeaderValue>,
        },
    }
}

impl<F> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Preflight { answer } => {
                Poll::Ready(Ok(answer.take().expect("polled after it answered")))
            }
            StateProj::Answer {
                inner,
                cors,
                origin,
            } => {
                let Ok(mut response) = ready!(inner.poll(cx));
                cors.decorate(origin.as_ref(), response.headers_mut());
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::header::{
        ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
        ACCESS_CONTROL_REQUEST_METHOD, HeaderName, VARY,
    };

    use super::*;

    /// Answers 200 with `grpc-status: 0`, counting its calls.
    #[derive(Clone, Default)]
    struct Grpc(Arc<std::sync::atomic::AtomicUsize>);

    impl Service<Request<Body>> for Grpc {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<Body>) -> Self::Future {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert("grpc-status", HeaderValue::from_static("0"));
            std::future::ready(Ok(response))
        }
    }

    fn layer() -> CorsLayer {
        let cors = Cors::new()
            .allow_origins(["https://app.example"])
            .allow_methods(["POST", "GET"])
            .allow_headers(["content-type", "x-grpc-web"])
            .expose_headers([HeaderName::from_static("grpc-status")]);
        CorsLayer::new(cors, &["POST", "GET"])
    }

    async fn call(service: &mut CorsService<Grpc>, request: Request<Body>) -> Response<Body> {
        service.call(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_preflight_is_answered_without_the_inner_service() {
        let inner = Grpc::default();
        let mut service = layer().layer(inner.clone());
        let preflight = Request::options("/pkg.Svc/Method")
            .header(ORIGIN, "https://app.example")
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header("access-control-request-headers", "content-type,x-grpc-web")
            .body(Body::empty())
            .unwrap();
        let response = call(&mut service, preflight).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_METHODS], "POST, GET");
        assert_eq!(
            headers["access-control-allow-headers"],
            "content-type, x-grpc-web"
        );
        assert_eq!(inner.0.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_call_is_decorated_for_allowed_origins_only() {
        let inner = Grpc::default();
        let mut service = layer().layer(inner.clone());
        let allowed = Request::post("/pkg.Svc/Method")
            .header(ORIGIN, "https://app.example")
            .body(Body::empty())
            .unwrap();
        let response = call(&mut service, allowed).await;
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(headers[VARY], "origin");
        let exposed = headers[ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap();
        assert!(exposed.contains("grpc-status"), "{exposed}");
        let other = Request::post("/pkg.Svc/Method")
            .header(ORIGIN, "https://elsewhere.example")
            .body(Body::empty())
            .unwrap();
        let response = call(&mut service, other).await;
        assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(inner.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
