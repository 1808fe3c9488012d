//! Client- and bidi-streaming requests: a body of JSON messages read one at a time.

use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{StreamExt, stream};

use crate::{BoxStream, Status};

/// The messages of a client- or bidi-streaming request whose body is JSON messages one after
/// another: newline-delimited JSON (one message per line, `\n` or `\r\n`, blank lines
/// skipped), or any JSON values separated by whitespace or nothing at all (a message may span
/// lines, `{…}{…}` is two), as grpc-gateway reads them with Go's `json.Decoder`; or a JSON
/// array of messages, as the Envoy transcoder reads a request stream. Each message is decoded
/// by `decode` as soon as its last byte arrives, so the domain can work on early messages while
/// the client still sends.
///
/// The stream yields one error and ends when a message is longer than `limit` bytes
/// (`INVALID_ARGUMENT`, found before the whole message is buffered), when `decode` fails (its
/// status, the message prefixed with the line the message starts on), when an array's framing
/// is broken (`INVALID_ARGUMENT`), or when the body cannot be read: `RESOURCE_EXHAUSTED` if a
/// body-size limit stopped it, `CANCELLED` otherwise (the client went away; nobody is left to
/// read the answer).
pub fn ndjson_requests<T, F>(body: Body, limit: usize, decode: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(&[u8]) -> Result<T, Status> + Send + 'static,
{
    let reader = MessageReader {
        data: body.into_data_stream(),
        buffer: BytesMut::new(),
        scan: Scan::default(),
        line: 1,
        eof: false,
        limit,
        array: Array::Unknown,
    };
    Box::pin(stream::unfold(Some((reader, decode)), |state| async move {
        let (mut reader, decode) = state?;
        let item = match reader.next_message().await? {
            Ok((number, message)) => decode(&message).map_err(|status| {
                Status::with_details_and_metadata(
                    status.code(),
                    format!("request stream line {number}: {}", status.message()),
                    Bytes::copy_from_slice(status.details()),
                    status.metadata().clone(),
                )
            }),
            Err(status) => Err(status),
        };
        let next = item.is_ok().then_some((reader, decode));
        Some((item, next))
    }))
}

/// Where the body stands with respect to a JSON array around its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Array {
    /// Nothing but whitespace read yet.
    Unknown,
    /// The messages are not in an array.
    No,
    /// Inside the array, where a message (or its end) comes next.
    Open,
    /// Inside the array, after a message: a `,` or the `]` comes next.
    AfterMessage,
    /// Past the array's `]`: only whitespace may follow.
    Closed,
}

/// How far the message at the front of the buffer has been scanned for its end.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes scanned.
    at: usize,
    /// Open `{` and `[` of the message.
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// The length of the JSON value `buffer` starts with, scanning on from where the last call
    /// stopped; `None` when its end has not arrived. This only finds the end: `decode` reads
    /// the value, and refuses what is not JSON. A value that is not an object, array or string
    /// (a number, `null`) ends before whitespace or punctuation.
    fn end(&mut self, buffer: &[u8]) -> Option<usize> {
        let container = matches!(buffer.first(), Some(b'{' | b'[' | b'"'));
        while self.at < buffer.len() {
            let byte = buffer[self.at];
            self.at += 1;
            if !container {
                if self.at > 1 && is_delimiter(byte) {
                    self.at -= 1;
                    return Some(self.at);
                }
                continue;
            }
            if self.in_string {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => {
                        self.in_string = false;
                        if self.depth == 0 {
                            return Some(self.at);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(self.at);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn is_delimiter(byte: u8) -> bool {
    byte.is_ascii_whitespace() || matches!(byte, b',' | b'[' | b']' | b'{' | b'}' | b'"')
}

fn is_json_whitespace(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Splits a body into JSON messages without holding more than one message (plus one chunk) in
/// memory.
struct MessageReader {
    data: axum::body::BodyDataStream,
    buffer: BytesMut,
    scan: Scan,
    /// The line the buffer's first byte is on (1-based), for error messages.
    line: usize,
    eof: bool,
    limit: usize,
    array: Array,
}

impl MessageReader {
    /// The next message with the 1-based number of the line it starts on, an error, or `None`
    /// at the end.
    async fn next_message(&mut self) -> Option<Result<(usize, Bytes), Status>> {
        loop {
            if self.scan.at == 0 {
                // Between messages: whitespace, and an array's punctuation.
                let blank = self
                    .buffer
                    .iter()
                    .take_while(|byte| is_json_whitespace(byte))
                    .count();
                self.consume(blank);
                if let Some(&first) = self.buffer.first() {
                    match (self.array, first) {
                        (Array::Unknown, b'[') => {
                            self.consume(1);
                            self.array = Array::Open;
                            continue;
                        }
                        (Array::Unknown, _) => self.array = Array::No,
                        // `[]`, and a trailing comma, as the Envoy transcoder allows one.
                        (Array::Open, b']') | (Array::AfterMessage, b']') => {
                            self.consume(1);
                            self.array = Array::Closed;
                            continue;
                        }
                        (Array::AfterMessage, b',') => {
                            self.consume(1);
                            self.array = Array::Open;
                            continue;
                        }
                        (Array::AfterMessage, _) => {
                            return Some(Err(self.framing("a `,` or the `]` after a message")));
                        }
                        (Array::Closed, _) => {
                            return Some(Err(self.framing("nothing after the array's `]`")));
                        }
                        (Array::No | Array::Open, _) => {}
                    }
                } else if self.eof {
                    return match self.array {
                        Array::Open | Array::AfterMessage => {
                            Some(Err(self.framing("the array's `]` before the body ended")))
                        }
                        _ => None,
                    };
                }
            }
            let end = match self.scan.end(&self.buffer) {
                Some(end) => Some(end),
                // A value cut off by the body's end is `decode`'s to refuse, with serde's words.
                None if self.eof && !self.buffer.is_empty() => Some(self.buffer.len()),
                None => None,
            };
            if let Some(end) = end {
                let line = self.line;
                if end > self.limit {
                    return Some(Err(self.too_long(line)));
                }
                let message = self.buffer.split_to(end).freeze();
                self.line += message.iter().filter(|&&byte| byte == b'\n').count();
                self.scan = Scan::default();
                if self.array == Array::Open {
                    self.array = Array::AfterMessage;
                }
                return Some(Ok((line, message)));
            }
            if self.scan.at > self.limit {
                return Some(Err(self.too_long(self.line)));
            }
            if self.eof {
                // Unreachable: at the end a non-empty buffer is a message and an empty one
                // ends the stream, above.
                return None;
            }
            match self.data.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(error)) => return Some(Err(body_error(error))),
                None => self.eof = true,
            }
        }
    }

    /// Drops `count` bytes between messages, counting their lines.
    fn consume(&mut self, count: usize) {
        self.line += self.buffer[..count]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.buffer.advance(count);
    }

    fn too_long(&self, line: usize) -> Status {
        Status::invalid_argument(format!(
            "request stream line {line}: a message is longer than the limit of {} bytes",
            self.limit
        ))
    }

    fn framing(&self, expected: &str) -> Status {
        Status::invalid_argument(format!(
            "request stream line {}: the messages are a JSON array, so {expected} was expected",
            self.line
        ))
    }
}

/// The status of a request body that failed to arrive.
fn body_error(error: axum::Error) -> Status {
    let inner = error.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return Status::resource_exhausted(format!("request body: {inner}"));
        }
        // A status the body's source gave for its failure (a WebSocket frame that is no
        // message), inside the I/O error it travelled in.
        let given = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|error| error.downcast_ref::<Status>());
        if let Some(status) = given {
            return status.clone();
        }
        source = error.source();
    }
    Status::cancelled(format!("request body: {inner}"))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use serde::Deserialize;

    use super::*;
    use crate::Code;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tick {
        n: u32,
    }

    fn decode(line: &[u8]) -> Result<Tick, Status> {
        serde_json::from_slice(line).map_err(|error| Status::invalid_argument(error.to_string()))
    }

    fn chunked(chunks: &[&'static str]) -> Body {
        let chunks: Vec<Result<Bytes, Infallible>> = chunks
            .iter()
            .map(|chunk| Ok(Bytes::from_static(chunk.as_bytes())))
            .collect();
        Body::from_stream(stream::iter(chunks))
    }

    async fn requests(body: Body, limit: usize) -> Vec<Result<Tick, Status>> {
        ndjson_requests(body, limit, decode).collect().await
    }

    #[derive(Debug, Deserialize)]
    struct Labelled {
        n: u32,
        s: Option<String>,
    }

    async fn requests_with_strings(body: Body) -> Vec<(u32, Option<String>)> {
        let decode = |message: &[u8]| {
            serde_json::from_slice::<Labelled>(message)
                .map_err(|error| Status::invalid_argument(error.to_string()))
        };
        ndjson_requests(body, 64, decode)
            .map(|item| {
                let item = item.unwrap();
                (item.n, item.s)
            })
            .collect()
            .await
    }

    #[tokio::test]
    async fn ndjson_requests_split_lines_across_chunks() {
        let body = chunked(&["{\"n\":1}\n{\"n\"", ":2}\r\n\n  \r\n{\"n\":3", "}"]);
        let items: Vec<u32> = requests(body, 64)
            .await
            .into_iter()
            .map(|item| item.unwrap().n)
            .collect();
        assert_eq!(items, [1, 2, 3]);
        assert!(requests(Body::empty(), 64).await.is_empty());
    }

    #[tokio::test]
    async fn messages_may_span_lines_or_share_one_as_go_json_decoder_reads_them() {
        // grpc-gateway reads a request stream with `json.Decoder`: a message over several
        // lines, two with nothing between them, strings holding braces and quotes.
        let body = chunked(&[
            "{\n  \"n\": 1\n}{\"n\":2} {\"n\"",
            ":3, \"s\": \"}{\\\"\"}\n\n{\"n\":4}",
        ]);
        let items = requests_with_strings(body).await;
        assert_eq!(
            items,
            [
                (1, None),
                (2, None),
                (3, Some("}{\"".to_owned())),
                (4, None)
            ]
        );
        // The line a message starts on names it in an error.
        let body = chunked(&["{\"n\":1}\n{\n\"n\":\n\"x\"}"]);
        let items = requests(body, 64).await;
        let status = items[1].as_ref().unwrap_err();
        assert!(
            status.message().starts_with("request stream line 2: "),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn a_json_array_of_messages_is_read_as_the_envoy_transcoder_reads_it() {
        let body = chunked(&["  [{\"n\":1},", "\n {\"n\":2} ", ",{\"n\":3}", "]\n"]);
        let items: Vec<u32> = requests(body, 64)
            .await
            .into_iter()
            .map(|item| item.unwrap().n)
            .collect();
        assert_eq!(items, [1, 2, 3]);
        assert!(requests(chunked(&["[]"]), 64).await.is_empty());
        // A trailing comma is taken, as the transcoder's JSON reader takes one.
        assert_eq!(requests(chunked(&["[{\"n\":1},]"]), 64).await.len(), 1);
        // Broken framing ends the stream with an error after the messages before it.
        for (body, expected) in [
            ("[{\"n\":1} {\"n\":2}]", "a `,` or the `]` after a message"),
            ("[{\"n\":1}] {\"n\":2}", "nothing after the array's `]`"),
            ("[{\"n\":1},\n", "the array's `]` before the body ended"),
        ] {
            let items = requests(chunked(&[body]), 64).await;
            assert_eq!(items.len(), 2, "{body}");
            assert_eq!(items[0].as_ref().unwrap().n, 1);
            let status = items[1].as_ref().unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(
                status.message().contains(expected),
                "{body}: {}",
                status.message()
            );
        }
    }

    #[tokio::test]
    async fn a_bad_line_ends_the_request_stream_with_its_line_number() {
        let body = chunked(&["{\"n\":1}\n\n{\"n\":\"two\"}\n{\"n\":3}\n"]);
        let items = requests(body, 64).await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().n, 1);
        let status = items[1].as_ref().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("request stream line 3: invalid type"),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_rejected() {
        // Exactly at the limit (the `\r\n` does not count), then one byte over.
        let body = chunked(&["{\"n\":12}\r\n{\"n\":123}\n"]);
        let items = requests(body, 8).await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().n, 12);
        let status = items[1].as_ref().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "request stream line 2: a message is longer than the limit of 8 bytes"
        );
    }

    #[tokio::test]
    async fn an_endless_line_is_rejected_without_waiting_for_its_end() {
        let first: Result<Bytes, Infallible> = Ok(Bytes::from_static(b"{\"n\": 1111111111"));
        let body = Body::from_stream(stream::iter([first]).chain(stream::pending()));
        let mut items = ndjson_requests(body, 8, decode);
        let status = items.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("line 1: a message is longer"),
            "{}",
            status.message()
        );
        assert!(items.next().await.is_none());
    }

    #[tokio::test]
    async fn a_body_that_fails_ends_the_request_stream() {
        let broken: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"n\":1}\n")),
            Err(std::io::Error::other("connection reset")),
        ];
        let items = requests(Body::from_stream(stream::iter(broken)), 64).await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().n, 1);
        let status = items[1].as_ref().unwrap_err();
        assert_eq!(status.code(), Code::Cancelled);
        assert!(
            status.message().contains("connection reset"),
            "{}",
            status.message()
        );

        let limited = http_body_util::Limited::new(chunked(&["{\"n\":1}\n{\"n\":2}\n"]), 4);
        let items = requests(Body::new(limited), 64).await;
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].as_ref().unwrap_err().code(),
            Code::ResourceExhausted
        );
    }
}
