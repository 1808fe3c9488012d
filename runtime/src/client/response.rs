//! The messages of an answer, read from its body: one for a unary or client-streaming call, a
//! stream of them for the others, and the trailers that say how the call ended.
//!
//! The envelopes are read as the server reads a request's ([`crate::call::unread`]): a message
//! that arrives in one frame is a view of it, a compressed one is decompressed in the encoding
//! the answer's headers named. A trailer `grpc-status: 0` is read as the byte it is; another
//! status is tonic's `Status::from_header_map`; a missing one is mapped from the HTTP status
//! as gRPC's http-grpc-status-mapping.md says ([`missing_status`]).
//!
//! What is read here is what tonic's `Streaming` decoder reads from the same body, message for
//! message and error for error (the tests compare the two on generated bodies), but for one
//! thing tonic lets through: a body that ends inside a message, before its trailers or with
//! none, fails the call with `INTERNAL` instead of dropping the partial message and reporting
//! the trailers' status as if nothing were missing.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, StatusCode};
use http_body::Body as _;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::CompressionEncoding;
use crate::call::unread::{Reading, Unread};
use crate::rpc::GRPC_STATUS_NAME;

/// The longest message tonic's decoder takes when it is given no limit (its
/// `DEFAULT_MAX_RECV_MESSAGE_SIZE`, not public), as for the body of a trailers-only answer.
const TONIC_DEFAULT_MAX: usize = 4 * 1024 * 1024;

/// An answer's body, not read yet: the attempt reads it once it knows whether it waits for one
/// message or a stream.
#[derive(Debug)]
pub(super) struct Undecoded {
    body: tonic::body::Body,
    /// The HTTP status, whose trailers must say how the call ended; `None` for a trailers-only
    /// `OK` answer, whose body ends with no status to read.
    http_status: Option<StatusCode>,
    max_decoding: usize,
    /// The answer's `grpc-encoding`, which its compressed messages are in.
    encoding: Option<CompressionEncoding>,
}

impl Undecoded {
    pub(super) fn new(
        body: tonic::body::Body,
        http_status: Option<StatusCode>,
        max_decoding: usize,
        encoding: Option<CompressionEncoding>,
    ) -> Self {
        Self {
            body,
            http_status,
            max_decoding,
            encoding,
        }
    }

    /// The messages as a stream; its trailers once it has ended ([`Responses::trailers`]).
    pub(super) fn into_stream(self) -> Responses {
        Responses {
            body: self.body,
            unread: Unread::default(),
            // tonic reads a trailers-only answer's body (empty, but for a broken server) with
            // no limit or encoding of the call's, and words a bad flag in it as a request's.
            reading: self.http_status.map_or(Reading::Request, Reading::Response),
            max_decoding: if self.http_status.is_some() {
                self.max_decoding
            } else {
                TONIC_DEFAULT_MAX
            },
            encoding: self.encoding.filter(|_| self.http_status.is_some()),
            state: State::Open,
        }
    }

    /// The one message of the answer and its trailers: no message, or a second, is the rpc's
    /// cardinality broken, which gRPC's clients (grpc-go, connect-go) report as
    /// `UNIMPLEMENTED`.
    pub(super) async fn single(self) -> Result<(Bytes, Option<MetadataMap>), Status> {
        let mut responses = self.into_stream();
        let message = responses.message().await?.ok_or_else(no_message)?;
        if responses.message().await?.is_some() {
            return Err(second_message());
        }
        Ok((message, responses.trailers()))
    }
}

fn no_message() -> Status {
    Status::unimplemented("the server ended the call without a response message")
}

fn second_message() -> Status {
    Status::unimplemented("the server answered a single-response call with more than one message")
}

/// Where a stream of answers stands.
enum State {
    Open,
    /// The call ended well, with these trailers (not yet taken).
    Ended(Option<HeaderMap>),
    /// The error was given, or the trailers taken: nothing more comes.
    Done,
}

/// An answer's messages as they complete, then how the call ended.
pub(super) struct Responses {
    body: tonic::body::Body,
    unread: Unread,
    reading: Reading,
    max_decoding: usize,
    encoding: Option<CompressionEncoding>,
    state: State,
}

impl Responses {
    /// The next message; `None` once the call has ended well. An error ends the stream.
    pub(super) async fn message(&mut self) -> Result<Option<Bytes>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx))
            .await
            .transpose()
    }

    /// The trailers of a call that ended well, once [`message`](Self::message) has said so.
    pub(super) fn trailers(&mut self) -> Option<MetadataMap> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Ended(trailers) => trailers.map(MetadataMap::from_headers),
            other => {
                self.state = other;
                None
            }
        }
    }

    fn poll_message(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes, Status>>> {
        loop {
            if !matches!(self.state, State::Open) {
                return Poll::Ready(None);
            }
            match self
                .unread
                .next_envelope(self.max_decoding, self.reading, self.encoding)
            {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(status) => return Poll::Ready(Some(Err(self.fail(status)))),
            }
            let trailers = match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        self.unread.push(data);
                        continue;
                    }
                    Err(frame) => frame.into_trailers().ok(),
                },
                Some(Err(status)) => return Poll::Ready(Some(Err(self.fail(status)))),
                None => None,
            };
            if self.unread.len() > 0 {
                let status = Status::internal(
                    "the response ended inside a message: its length prefix promised more",
                );
                return Poll::Ready(Some(Err(self.fail(status))));
            }
            if let Reading::Response(http_status) = self.reading
                && let Err(status) = verdict(trailers.as_ref(), http_status)
            {
                return Poll::Ready(Some(Err(self.fail(status))));
            }
            self.state = State::Ended(trailers);
        }
    }

    fn fail(&mut self, status: Status) -> Status {
        self.state = State::Done;
        status
    }
}

impl Stream for Responses {
    type Item = Result<Bytes, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

/// How a call whose answer came with `http_status` ended, by its `trailers`: well, or with
/// their status, or, with no status in them, with one mapped from the HTTP status.
fn verdict(trailers: Option<&HeaderMap>, http_status: StatusCode) -> Result<(), Status> {
    if let Some(trailers) = trailers {
        // What every server writes, read as the byte it is.
        if trailers
            .get(&GRPC_STATUS_NAME)
            .is_some_and(|status| status.as_bytes() == b"0")
        {
            return Ok(());
        }
        if let Some(status) = Status::from_header_map(trailers) {
            return match status.code() {
                Code::Ok => Ok(()),
                _ => Err(status),
            };
        }
    }
    Err(missing_status(http_status))
}

/// The status of a call whose answer ended without one, from its HTTP status
/// (<https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md>), worded as
/// tonic words it. A `200` whose stream ended without a status was cut short, which gRPC's
/// clients (grpc-go, tonic) report as `UNKNOWN`.
fn missing_status(http_status: StatusCode) -> Status {
    let code = match http_status {
        StatusCode::OK => {
            return Status::unknown(
                "protocol error: missing grpc-status trailer, stream was terminated without a \
                 final status (possible truncation by a proxy or load balancer)",
            );
        }
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!(
            "grpc-status header missing, mapped from HTTP status code {}",
            http_status.as_u16()
        ),
    )
}

#[cfg(test)]
mod tests;
