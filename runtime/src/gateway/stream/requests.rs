//! Client- and bidi-streaming requests: a body of newline-delimited JSON read line by line.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};

use crate::{BoxStream, Status};

/// The messages of a client- or bidi-streaming request whose body is newline-delimited JSON:
/// one message per line (`\n` or `\r\n`), blank lines skipped, each line decoded by `decode` as
/// it arrives, so the domain can work on early messages while the client still sends.
///
/// The stream yields one error and ends when a line is longer than `limit` bytes
/// (`INVALID_ARGUMENT`, found before the whole line is buffered), when `decode` fails (its
/// status, the message prefixed with the line number), or when the body cannot be read:
/// `RESOURCE_EXHAUSTED` if a body-size limit stopped it, `CANCELLED` otherwise (the client went
/// away; nobody is left to read the answer).
pub fn ndjson_requests<T, F>(body: Body, limit: usize, decode: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(&[u8]) -> Result<T, Status> + Send + 'static,
{
    let reader = LineReader {
        data: body.into_data_stream(),
        buffer: BytesMut::new(),
        scanned: 0,
        line: 0,
        eof: false,
        limit,
    };
    Box::pin(stream::unfold(Some((reader, decode)), |state| async move {
        let (mut reader, decode) = state?;
        let item = match reader.next_line().await? {
            Ok((number, line)) => decode(&line).map_err(|status| {
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

/// Splits a body into lines without holding more than one line (plus one chunk) in memory.
struct LineReader {
    data: axum::body::BodyDataStream,
    buffer: BytesMut,
    /// How much of `buffer` is known to hold no `\n`.
    scanned: usize,
    /// The number of the last line taken, counting blank ones, for error messages.
    line: usize,
    eof: bool,
    limit: usize,
}

impl LineReader {
    /// The next non-blank line with its 1-based number, an error, or `None` at the end.
    async fn next_line(&mut self) -> Option<Result<(usize, Bytes), Status>> {
        loop {
            let newline = self.buffer[self.scanned..]
                .iter()
                .position(|&byte| byte == b'\n')
                .map(|at| self.scanned + at);
            let line = match newline {
                Some(at) => {
                    let mut line = self.buffer.split_to(at + 1);
                    line.truncate(at);
                    self.scanned = 0;
                    Some(line)
                }
                None if self.eof => {
                    self.scanned = 0;
                    (!self.buffer.is_empty()).then(|| self.buffer.split())
                }
                None => None,
            };
            if let Some(mut line) = line {
                self.line += 1;
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                if line.len() > self.limit {
                    return Some(Err(self.too_long()));
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(Ok((self.line, line.freeze())));
            }
            if self.eof {
                return None;
            }
            self.scanned = self.buffer.len();
            // One byte of slack for the `\r` of a `\r\n` that has not arrived yet.
            if self.buffer.len() > self.limit.saturating_add(1) {
                self.line += 1;
                return Some(Err(self.too_long()));
            }
            match self.data.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(error)) => return Some(Err(body_error(error))),
                None => self.eof = true,
            }
        }
    }

    fn too_long(&self) -> Status {
        Status::invalid_argument(format!(
            "request stream line {} is longer than the limit of {} bytes",
            self.line, self.limit
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
            "request stream line 2 is longer than the limit of 8 bytes"
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
            status.message().contains("line 1 is longer"),
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
