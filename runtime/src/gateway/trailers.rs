//! A call's response trailers as HTTP trailers, for a client that says it reads them.
//!
//! By default the gateway writes trailers as `Grpc-Trailer-<key>` headers, which every HTTP
//! client can read. A request with `TE: trailers` gets them as grpc-gateway sends them to such
//! a client: real trailers after the body, each announced in the `Trailer` header (hyper's
//! HTTP/1.1 server sends only announced trailers, and only on a chunked body).
//!
//! http-body-util's `WithTrailers` would keep the body's exact size, on which hyper writes a
//! `Content-Length` and no trailers, so the body here is a small one of its own.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::header::TRAILER;
use http::{HeaderMap, HeaderValue, Response};
use http_body::{Frame, SizeHint};

use super::headers::HeaderRules;
use crate::context::ResponseMetadata;

/// Whether a request's `TE` values name `trailers`.
pub(super) fn accepted(headers: &HeaderMap) -> bool {
    headers.get_all(http::header::TE).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value.split(',').any(|coding| {
                let name = coding.split(';').next().unwrap_or_default();
                name.trim().eq_ignore_ascii_case("trailers")
            })
        })
    })
}

/// `response` with `metadata` written by `rules`: its trailers as HTTP trailers when the
/// client accepts them (`accepts`) and there are any, as headers otherwise.
pub(super) fn with_metadata(
    rules: &HeaderRules,
    metadata: &ResponseMetadata,
    mut response: Response<Body>,
    accepts: bool,
) -> Response<Body> {
    if metadata.is_empty() {
        // What most calls answer with: nothing to write, by any rule.
        return response;
    }
    if response.status() == http::StatusCode::OK
        && rules.sets_status()
        && let Some(status) = rules.status_of(&metadata.headers())
    {
        *response.status_mut() = status;
        // These statuses have no content (RFC 9110, 15.3.5, 15.3.6, 15.4.5): the message's
        // JSON is dropped, and with it the length HTTP/2 would announce.
        if matches!(status.as_u16(), 204 | 205 | 304) {
            *response.body_mut() = Body::empty();
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
    }
    if !accepts {
        rules.write_response_metadata(metadata, response.headers_mut());
        return response;
    }
    rules.write_metadata(&metadata.headers(), response.headers_mut());
    let mut trailers = HeaderMap::new();
    rules.write_trailers(&metadata.trailers(), &mut trailers);
    if trailers.is_empty() {
        return response;
    }
    let mut names: Vec<&str> = trailers.keys().map(http::HeaderName::as_str).collect();
    names.sort_unstable();
    let announced =
        HeaderValue::from_str(&names.join(", ")).expect("header names join into a header value");
    response.headers_mut().insert(TRAILER, announced);
    response.map(|body| {
        Body::new(Trailed {
            body,
            trailers: Some(trailers),
        })
    })
}

/// A body, then its trailers; of no known length, so that HTTP/1.1 sends it chunked.
struct Trailed {
    body: Body,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for Trailed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.trailers.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // A lower bound only: an exact size would make it a `Content-Length` body.
        let mut hint = SizeHint::new();
        hint.set_lower(self.body.size_hint().lower());
        hint
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[test]
    fn te_names_trailers_among_other_codings() {
        for (values, expected) in [
            (&["trailers"][..], true),
            (&["gzip, Trailers"], true),
            (&["deflate", "trailers;q=1"], true),
            (&["gzip"], false),
            (&[], false),
        ] {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(http::header::TE, HeaderValue::from_static(value));
            }
            assert_eq!(accepted(&headers), expected, "{values:?}");
        }
    }

    #[tokio::test]
    async fn trailers_follow_the_body_announced_and_the_body_has_no_length() {
        let metadata = ResponseMetadata::new();
        let mut trailers = tonic::metadata::MetadataMap::new();
        trailers.insert("x-sent", "2".parse().unwrap());
        metadata.extend_trailers(trailers);
        let mut headers = tonic::metadata::MetadataMap::new();
        headers.insert("x-seen", "yes".parse().unwrap());
        metadata.extend_headers(headers);
        let rules = HeaderRules::defaults();
        let response = with_metadata(rules, &metadata, Response::new(Body::from("{}")), true);
        assert_eq!(response.headers()["grpc-metadata-x-seen"], "yes");
        assert_eq!(response.headers()[TRAILER], "grpc-trailer-x-sent");
        assert!(response.headers().get("grpc-trailer-x-sent").is_none());
        assert_eq!(http_body::Body::size_hint(response.body()).exact(), None);
        let collected = response.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["grpc-trailer-x-sent"], "2");
        assert_eq!(collected.to_bytes(), "{}");

        // Without `TE: trailers`: headers, as before.
        let response = with_metadata(rules, &metadata, Response::new(Body::from("{}")), false);
        assert_eq!(response.headers()["grpc-trailer-x-sent"], "2");
        assert!(response.headers().get(TRAILER).is_none());
    }
}
