//! Streams over REST: server-streaming responses as newline-delimited JSON or Server-Sent
//! Events, and client-/bidi-streaming requests as JSON messages one after another
//! (newline-delimited, as `json.Decoder` reads them, or in one JSON array).
//!
//! The NDJSON shape is grpc-gateway v2's (`ForwardResponseStream` in `runtime/handler.go`):
//! one `{"result": <message>}` per line, and on failure one `{"error": <google.rpc.Status>}`
//! line, after which the stream ends. An error before the first message is answered like
//! grpc-gateway does too: with the code's HTTP status (headers are not sent before the first
//! message), so a call that fails at once is not a `200`.
//!
//! Server-Sent Events (WHATWG HTML, "Server-sent events") are chosen by `Accept:
//! text/event-stream`, which browsers' `EventSource` sends: each message is one `data:` event
//! of its JSON, an error is an `event: error` whose data is the status JSON.
//!
//! Each message is written as its own body chunk when it arrives: hyper sends a chunk as soon as
//! it is produced, so a slow stream is never held back in a buffer.

mod requests;

use std::convert::Infallible;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response};
use serde::Serialize;
use tokio::time::Instant;

pub use self::requests::ndjson_requests;

use super::response::{APPLICATION_JSON, ResponseBody, metadata_headers, to_json};
use super::status::{StatusJson, http_status};
use crate::{BoxStream, Status};

/// The media type of a newline-delimited JSON stream.
pub const APPLICATION_NDJSON: &str = "application/x-ndjson";

/// The media type of a Server-Sent Events stream.
pub const TEXT_EVENT_STREAM: &str = "text/event-stream";

/// How long an SSE stream may stay silent before a comment line keeps it alive.
pub const SSE_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// How a server stream is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `application/x-ndjson`: `{"result": …}` per line, grpc-gateway's format.
    NdJson,
    /// `text/event-stream`: Server-Sent Events.
    Sse,
}

impl StreamFormat {
    /// The format a request's `Accept` headers ask for: SSE when `text/event-stream` is
    /// acceptable (`q` > 0) and no JSON stream type (`application/x-ndjson`,
    /// `application/json`) is preferred to it by a higher `q`; NDJSON otherwise. Wildcards
    /// (`*/*`) do not count against SSE: naming `text/event-stream` is the explicit request.
    pub fn from_accept(headers: &HeaderMap) -> Self {
        Self::from_accept_values(headers.get_all(ACCEPT))
    }

    /// [`StreamFormat::from_accept`] of the `Accept` values already looked up (none: NDJSON).
    pub(super) fn from_accept_values<'a>(
        accept: impl IntoIterator<Item = &'a HeaderValue>,
    ) -> Self {
        let mut sse = 0.0_f32;
        let mut json = 0.0_f32;
        let ranges = accept
            .into_iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for range in ranges {
            let mut parts = range.split(';');
            let media_type = parts.next().unwrap_or_default().trim();
            let quality = parts
                .filter_map(|param| param.trim().split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, q)| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if media_type.eq_ignore_ascii_case(TEXT_EVENT_STREAM) {
                sse = sse.max(quality);
            } else if media_type.eq_ignore_ascii_case(APPLICATION_NDJSON)
                || media_type.eq_ignore_ascii_case(APPLICATION_JSON)
            {
                json = json.max(quality);
            }
        }
        if sse > 0.0 && sse >= json {
            Self::Sse
        } else {
            Self::NdJson
        }
    }

    /// The `Content-Type` of a stream in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::NdJson => APPLICATION_NDJSON,
            Self::Sse => TEXT_EVENT_STREAM,
        }
    }

    /// One message as a chunk of the stream.
    fn message_chunk(self, json: &[u8]) -> Bytes {
        let mut chunk = BytesMut::with_capacity(json.len() + 12);
        match self {
            Self::NdJson => {
                chunk.extend_from_slice(b"{\"result\":");
                chunk.extend_from_slice(json);
                chunk.extend_from_slice(b"}\n");
            }
            Self::Sse => {
                // serde_json writes no raw newlines, so the JSON is one `data:` line.
                chunk.extend_from_slice(b"data: ");
                chunk.extend_from_slice(json);
                chunk.extend_from_slice(b"\n\n");
            }
        }
        chunk.freeze()
    }

    /// The response of a stream that fails before its first message, as grpc-gateway writes
    /// it: the code's HTTP status, and the error chunk alone (`Content-Type:
    /// application/json` for NDJSON; an `event: error` for SSE). The caller adds the error's
    /// metadata.
    pub(super) fn failed_at_once(self, status: &Status) -> Response<Body> {
        let mut response = Response::new(Body::from(self.error_chunk(status)));
        *response.status_mut() = http_status(status.code());
        match self {
            Self::NdJson => {
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
            }
            Self::Sse => self.content_headers(response.headers_mut()),
        }
        response
    }

    /// The `Content-Type` of a stream in this format, and for SSE `Cache-Control: no-cache`.
    fn content_headers(self, headers: &mut HeaderMap) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type()));
        if self == Self::Sse {
            // An event stream is live data: intermediaries must not cache or store it, and
            // nginx must not buffer it (its default would hold events back).
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                http::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            );
        }
    }

    /// The chunk that reports `status` and ends the stream.
    fn error_chunk(self, status: &Status) -> Bytes {
        match self {
            Self::NdJson => {
                #[derive(Serialize)]
                struct ErrorLine<'a> {
                    error: StatusJson<'a>,
                }
                let error = StatusJson(status);
                let mut line =
                    serde_json::to_vec(&ErrorLine { error }).expect("a status serializes");
                line.push(b'\n');
                line.into()
            }
            Self::Sse => {
                let data = serde_json::to_string(&StatusJson(status)).expect("a status serializes");
                format!("event: error\ndata: {data}\n\n").into()
            }
        }
    }
}

/// The response of a server-streaming rpc. It waits for the stream's first item, like
/// grpc-gateway: a first message gives a `200` whose body streams the messages as they come
/// (each message, or its `response_body` field, framed by `format`); a first error gives that
/// code's HTTP status and the error chunk alone (`Content-Type: application/json` for NDJSON, as
/// grpc-gateway writes it; an `event: error` for SSE); an empty stream is a `200` with an empty
/// body. A later error, or a message that fails to serialize (`INTERNAL`), is written as the
/// last chunk.
///
/// The stream is cut at `deadline` with a `DEADLINE_EXCEEDED` error chunk, so a stream that
/// outlives its `Grpc-Timeout` ends on time; one cut before its first message is a 504.
pub async fn stream_response<T: Serialize + Send + 'static>(
    stream: BoxStream<T>,
    deadline: Option<Instant>,
    format: StreamFormat,
    response_body: Option<ResponseBody>,
) -> Response<Body> {
    let mut stream = crate::deadline::cut_stream(deadline, stream);
    let encode = move |item: Result<T, Status>| {
        item.and_then(|message| to_json(&message, response_body))
            .map(|json| format.message_chunk(&json))
    };
    let body = match stream.next().await.map(&encode) {
        None => Body::empty(),
        Some(Ok(first)) => Body::from_stream(chunks(first, stream, encode, format)),
        Some(Err(error)) => {
            let mut response = format.failed_at_once(&error);
            // Headers are still ours to write: the error's metadata goes out like a unary
            // error's.
            metadata_headers(error.metadata(), response.headers_mut());
            return response;
        }
    };
    let mut response = Response::new(body);
    format.content_headers(response.headers_mut());
    response
}

/// The body after its first chunk: every chunk as it comes, ending after the first error.
fn chunks<T, E>(
    first: Bytes,
    rest: BoxStream<T>,
    encode: E,
    format: StreamFormat,
) -> impl futures_core::Stream<Item = Result<Bytes, Infallible>> + Send + 'static
where
    T: Send + 'static,
    E: Fn(Result<T, Status>) -> Result<Bytes, Status> + Send + 'static,
{
    let rest = stream::unfold(Some((rest, encode)), move |state| async move {
        let (mut rest, encode) = state?;
        let item = match format {
            StreamFormat::Sse => match tokio::time::timeout(SSE_KEEP_ALIVE, rest.next()).await {
                Ok(item) => item?,
                // Idle: a comment line, which EventSource ignores, so that proxies and load
                // balancers (60 s idle timeouts are common) do not cut a quiet stream.
                Err(_) => return Some((Bytes::from_static(b":\n\n"), Some((rest, encode)))),
            },
            StreamFormat::NdJson => rest.next().await?,
        };
        match encode(item) {
            Ok(chunk) => Some((chunk, Some((rest, encode)))),
            // Nothing follows an error: the inner stream is dropped, which cancels it.
            Err(status) => Some((format.error_chunk(&status), None)),
        }
    });
    stream::once(async move { first }).chain(rest).map(Ok)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    use super::*;
    use crate::Code;
    use http::StatusCode;

    /// A message as pbjson writes it: the empty list omitted.
    #[derive(Serialize)]
    struct Tick {
        n: u32,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    }

    fn tick(n: u32) -> Result<Tick, Status> {
        Ok(Tick { n, tags: vec![] })
    }

    fn boxed(items: Vec<Result<Tick, Status>>) -> BoxStream<Tick> {
        Box::pin(stream::iter(items))
    }

    async fn body_text(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_format_follows_the_accept_header() {
        let cases: &[(&[&str], StreamFormat)] = &[
            (&[], StreamFormat::NdJson),
            (&["*/*"], StreamFormat::NdJson),
            (&["application/json"], StreamFormat::NdJson),
            (&["text/event-stream"], StreamFormat::Sse),
            (&["Text/Event-Stream; charset=utf-8"], StreamFormat::Sse),
            (&["text/event-stream, */*;q=0.8"], StreamFormat::Sse),
            (
                &["application/json", "text/event-stream"],
                StreamFormat::Sse,
            ),
            (&["text/event-stream;q=0"], StreamFormat::NdJson),
            (
                &["application/x-ndjson, text/event-stream;q=0.5"],
                StreamFormat::NdJson,
            ),
            (
                &["application/x-ndjson;q=0.4, text/event-stream;q=0.5"],
                StreamFormat::Sse,
            ),
            (&["text/*"], StreamFormat::NdJson),
        ];
        for (values, expected) in cases {
            assert_eq!(
                StreamFormat::from_accept(&accept(values)),
                *expected,
                "{values:?}"
            );
        }
    }

    #[tokio::test]
    async fn ndjson_writes_results_then_the_error_and_stops() {
        let items = vec![tick(1), tick(2), Err(Status::aborted("conflict")), tick(3)];
        let response = stream_response(boxed(items), None, StreamFormat::NdJson, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-ndjson");
        assert_eq!(
            body_text(response).await,
            concat!(
                "{\"result\":{\"n\":1}}\n",
                "{\"result\":{\"n\":2}}\n",
                "{\"error\":{\"code\":10,\"message\":\"conflict\",\"details\":[]}}\n",
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_sse_stream_is_kept_alive_with_comment_lines() {
        // A message, 40 s of silence, a message: two comments in between, none for NDJSON.
        let quiet = || -> BoxStream<Tick> {
            Box::pin(stream::iter([tick(1)]).chain(stream::once(async {
                tokio::time::sleep(Duration::from_secs(40)).await;
                tick(2)
            })))
        };
        let response = stream_response(quiet(), None, StreamFormat::Sse, None).await;
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        assert_eq!(
            body_text(response).await,
            "data: {\"n\":1}\n\n:\n\n:\n\ndata: {\"n\":2}\n\n"
        );
        let response = stream_response(quiet(), None, StreamFormat::NdJson, None).await;
        assert_eq!(
            body_text(response).await,
            "{\"result\":{\"n\":1}}\n{\"result\":{\"n\":2}}\n"
        );
    }

    #[tokio::test]
    async fn sse_writes_data_events_and_an_error_event() {
        let items = vec![tick(1), Err(Status::unavailable("draining"))];
        let response = stream_response(boxed(items), None, StreamFormat::Sse, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        assert_eq!(
            body_text(response).await,
            concat!(
                "data: {\"n\":1}\n\n",
                "event: error\n",
                "data: {\"code\":14,\"message\":\"draining\",\"details\":[]}\n\n",
            )
        );
    }

    #[tokio::test]
    async fn a_stream_that_fails_at_once_gets_the_codes_http_status() {
        let failing = || {
            let mut status = Status::not_found("no such item");
            status
                .metadata_mut()
                .insert("x-shard", "3".parse().unwrap());
            boxed(vec![Err(status), tick(1)])
        };
        let response = stream_response(failing(), None, StreamFormat::NdJson, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()["grpc-metadata-x-shard"], "3");
        let text = body_text(response).await;
        assert!(text.ends_with('\n'), "{text:?}");
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            line,
            json!({"error": {"code": 5, "message": "no such item", "details": []}})
        );

        let response = stream_response(failing(), None, StreamFormat::Sse, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
        assert!(
            body_text(response)
                .await
                .starts_with("event: error\ndata: {\"code\":5,")
        );
    }

    #[tokio::test]
    async fn an_empty_stream_is_an_empty_200() {
        let response = stream_response(boxed(vec![]), None, StreamFormat::NdJson, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_text(response).await, "");
    }

    #[tokio::test]
    async fn response_body_frames_the_selected_field() {
        let tags = ResponseBody {
            json_name: "tags",
            default_json: "[]",
        };
        let items = vec![
            Ok(Tick {
                n: 1,
                tags: vec!["a".into()],
            }),
            tick(2),
        ];
        let response = stream_response(boxed(items), None, StreamFormat::NdJson, Some(tags)).await;
        assert_eq!(
            body_text(response).await,
            "{\"result\":[\"a\"]}\n{\"result\":[]}\n"
        );
    }

    #[tokio::test]
    async fn a_message_that_fails_to_serialize_ends_the_stream_with_internal() {
        let numbers = ResponseBody {
            json_name: "n",
            default_json: "0",
        };
        // A `u32` is no JSON object, so `response_body` cannot select a field of it.
        let items: BoxStream<u32> = Box::pin(stream::iter(vec![Ok(1), Ok(2)]));
        let response = stream_response(items, None, StreamFormat::NdJson, Some(numbers)).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let line: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(line["error"]["code"], 13);
    }

    fn ticking(every: Duration) -> BoxStream<Tick> {
        Box::pin(stream::unfold(0, move |n| async move {
            tokio::time::sleep(every).await;
            Some((tick(n), n + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_is_cut_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(250);
        let stream = ticking(Duration::from_millis(100));
        let response = stream_response(stream, Some(deadline), StreamFormat::NdJson, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = body_text(response).await;
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], json!({"result": {"n": 0}}));
        assert_eq!(lines[1], json!({"result": {"n": 1}}));
        assert_eq!(lines[2]["error"]["code"], Code::DeadlineExceeded as i32);

        let deadline = Instant::now() + Duration::from_millis(50);
        let stream = ticking(Duration::from_millis(100));
        let response = stream_response(stream, Some(deadline), StreamFormat::Sse, None).await;
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(
            body_text(response)
                .await
                .starts_with("event: error\ndata: {\"code\":4,")
        );
    }

    #[tokio::test]
    async fn each_message_is_sent_when_it_arrives() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let stream: BoxStream<Tick> = Box::pin(futures_util::stream::unfold(
            receiver,
            |mut receiver| async move { Some((receiver.recv().await?, receiver)) },
        ));
        sender.send(tick(1)).unwrap();
        let response = stream_response(stream, None, StreamFormat::Sse, None).await;
        let mut body = response.into_body();

        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "data: {\"n\":1}\n\n");
        assert!(
            body.frame().now_or_never().is_none(),
            "the body waits for the next message instead of buffering"
        );
        sender.send(tick(2)).unwrap();
        let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(second, "data: {\"n\":2}\n\n");
        drop(sender);
        assert!(body.frame().await.is_none());
    }
}
