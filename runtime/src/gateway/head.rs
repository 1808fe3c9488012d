//! `HEAD` on the gateway's routes: the `GET` of the same target without its content (RFC 9110,
//! 9.3.2), which every general-purpose server must support (9.1): `curl -I`, uptime checks and
//! link checkers send it. Over HTTP/2 a response to `HEAD` must carry no content at all (RFC
//! 9113, 8.1.1), else the client resets the stream; hyper strips it over HTTP/1.1 only.

use axum::body::Body;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Method};
use http_body::Body as _;

use super::routed::ResponseFuture;

/// Answers the `HEAD` request `request` as `handle` answers its `GET`, without the content:
/// the headers, the status, and the length the content would have had when it is known.
pub(super) fn as_get(
    request: http::Request<Body>,
    handle: impl FnOnce(http::Request<Body>) -> ResponseFuture,
) -> ResponseFuture {
    let (mut parts, body) = request.into_parts();
    parts.method = Method::GET;
    let answer = handle(http::Request::from_parts(parts, body));
    Box::pin(async move { without_content(answer.await) })
}

/// `response` with its content dropped (a stream's with it: the rpc is cancelled).
fn without_content(response: http::Response<Body>) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact() {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    http::Response::from_parts(parts, Body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_head_is_answered_as_its_get_without_the_content() {
        let request = http::Request::head("/v1/items/1")
            .body(Body::empty())
            .unwrap();
        let response = as_get(request, |request| {
            assert_eq!(request.method(), Method::GET);
            Box::pin(async { http::Response::new(Body::from("{\"id\":\"1\"}")) })
        })
        .await;
        assert_eq!(response.headers()[CONTENT_LENGTH], "10");
        assert_eq!(response.into_body().size_hint().exact(), Some(0));
    }
}
