//! The one message of a unary or client-streaming response, read straight from the body of a
//! call [`Direct`](super::direct::Direct) sent.
//!
//! tonic's `Streaming` reads any number of messages. For one it boxes the body once more,
//! copies the message into a buffer of its own (8 KiB, allocated for every call), and reads the
//! trailers by building a whole `Status` (its message, details and metadata map) only to find
//! `OK` in it: about 3,000 instructions of a proxied REST call's 82,000 (callgrind,
//! bench/RESULTS.md). Here the envelopes are read as the server reads a request's
//! ([`crate::call::unread`]: a message that arrives in one frame is a view of it), and a
//! trailer `grpc-status: 0` is read as the byte it is; anything else about the trailers
//! (another status, none, a missing one mapped from the HTTP status) is asked of tonic's own
//! decoder, so that the answer is tonic's. What [`Undecoded::single`] answers for a body is
//! what [`from_streaming`] answers for the same body read by tonic, error for error; the tests
//! compare the two on generated bodies.
//!
//! A streamed response keeps tonic's decoder ([`Messages::into_streaming`]).

use std::future::Future;

use bytes::Bytes;
use futures_util::future::Either;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use tonic::Status;
use tonic::codec::Streaming;
use tonic::metadata::MetadataMap;

use super::codec::RawCodec;
use crate::call::unread::{PREFIX, Reading, Unread};

/// The longest message tonic's decoder takes when it is given no limit (its
/// `DEFAULT_MAX_RECV_MESSAGE_SIZE`, not public), as for the body of a trailers-only answer.
const TONIC_DEFAULT_MAX: usize = 4 * 1024 * 1024;

/// A response's messages, as an attempt reads them.
pub(super) enum Messages {
    /// tonic's decoder, for the calls tonic's client sent.
    Streaming(Streaming<Bytes>),
    /// The body of a call [`Direct`](super::direct::Direct) sent, read once the attempt knows
    /// whether it waits for one message or a stream.
    Body(Undecoded),
}

impl Messages {
    /// The messages as a stream, read by tonic's decoder.
    pub(super) fn into_streaming(self) -> Streaming<Bytes> {
        match self {
            Messages::Streaming(stream) => stream,
            Messages::Body(body) => body.into_streaming(),
        }
    }

    /// The one message of the response and its trailers: no message, or a second, is the
    /// rpc's cardinality broken, which gRPC's clients (grpc-go, connect-go) report as
    /// `UNIMPLEMENTED`. tonic's decoder is boxed: its state would otherwise be part of every
    /// call's, and be moved with it, where a call of [`Direct`](super::direct::Direct)'s
    /// needs none of it.
    pub(super) fn single(
        self,
    ) -> impl Future<Output = Result<(Bytes, Option<MetadataMap>), Status>> + Send {
        match self {
            Messages::Streaming(stream) => Either::Left(Box::pin(from_streaming(stream))),
            Messages::Body(body) => Either::Right(body.single()),
        }
    }
}

/// A response body not yet decoded.
pub(super) struct Undecoded {
    body: tonic::body::Body,
    /// The HTTP status, whose trailers must say how the call ended; `None` for a trailers-only
    /// `OK` answer, whose body ends with no status to read.
    http_status: Option<StatusCode>,
    max_decoding: usize,
}

impl Undecoded {
    /// A response's `body`, to be read as tonic reads one (`Streaming::new_response`, or
    /// `new_empty` without `http_status`).
    pub(super) fn new(
        body: tonic::body::Body,
        http_status: Option<StatusCode>,
        max_decoding: usize,
    ) -> Self {
        Self {
            body,
            http_status,
            max_decoding,
        }
    }

    fn into_streaming(self) -> Streaming<Bytes> {
        match self.http_status {
            Some(status) => {
                Streaming::new_response(RawCodec, self.body, status, None, Some(self.max_decoding))
            }
            None => Streaming::new_empty(RawCodec, self.body),
        }
    }

    fn single(self) -> impl Future<Output = Result<(Bytes, Option<MetadataMap>), Status>> + Send {
        let reader = Reader {
            unread: Unread::default(),
            first: None,
            // tonic reads a trailers-only answer's body with no limit of the call's, and words
            // a bad flag in it as a request's.
            reading: self.http_status.map_or(Reading::Request, Reading::Response),
            max_decoding: if self.http_status.is_some() {
                self.max_decoding
            } else {
                TONIC_DEFAULT_MAX
            },
        };
        read_single(self.body, reader)
    }
}

/// The body's one message, read by `reader`, and its trailers. Its arguments are the future's
/// whole state beside the frame it waits for (a call holds it while it waits for the answer).
async fn read_single(
    mut body: tonic::body::Body,
    mut reader: Reader,
) -> Result<(Bytes, Option<MetadataMap>), Status> {
    // As tonic's decoder: the body ends at its trailers, or with nothing more; bytes left
    // over from a message are an error only in the second case. tonic has taken a whole
    // prefix off its buffer by then: a body that stops right after one has nothing left over.
    let trailers = loop {
        match body.frame().await {
            Some(frame) => match frame?.into_data() {
                Ok(data) => reader.take(data)?,
                Err(frame) => break frame.into_trailers().ok(),
            },
            None if !matches!(reader.unread.len(), 0 | PREFIX) => {
                return Err(Status::internal("Unexpected EOF decoding stream."));
            }
            None => break None,
        }
    };
    let trailers = match reader.reading {
        Reading::Response(status) if !says_ok(trailers.as_ref()) => {
            // Boxed, as it is seldom needed: see `Messages::single`.
            Box::pin(tonic_verdict(trailers, status)).await?
        }
        _ => trailers,
    };
    let message = reader.first.ok_or_else(no_message)?;
    Ok((message, trailers.map(MetadataMap::from_headers)))
}

/// The one message and the trailers of `stream`, as tonic's decoder reads them.
pub(super) async fn from_streaming(
    mut stream: Streaming<Bytes>,
) -> Result<(Bytes, Option<MetadataMap>), Status> {
    let message = stream.message().await?.ok_or_else(no_message)?;
    if stream.message().await?.is_some() {
        return Err(second_message());
    }
    Ok((message, stream.trailers().await?))
}

fn no_message() -> Status {
    Status::unimplemented("the server ended the call without a response message")
}

fn second_message() -> Status {
    Status::unimplemented("the server answered a single-response call with more than one message")
}

/// Whether the trailers say `OK` in the one way a server writes it.
fn says_ok(trailers: Option<&HeaderMap>) -> bool {
    trailers
        .and_then(|trailers| trailers.get(&crate::rpc::GRPC_STATUS_NAME))
        .is_some_and(|status| status.as_bytes() == b"0")
}

/// What tonic's decoder makes of a response with no messages left that ends with `trailers`
/// (none, or without `OK`) after the HTTP status `status`: the trailers back when it finds
/// the call ended well, else its error. tonic's mapping of a missing status (from the HTTP
/// status, or `UNKNOWN` after a 200) is not public; its decoder is the reference.
async fn tonic_verdict(
    trailers: Option<HeaderMap>,
    status: StatusCode,
) -> Result<Option<HeaderMap>, Status> {
    let frames = trailers
        .clone()
        .map(|trailers| Ok::<_, Status>(http_body::Frame::<Bytes>::trailers(trailers)));
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let mut stream = Streaming::new_response(RawCodec, body, status, None, None);
    match stream.message().await? {
        None => Ok(trailers),
        // An empty body has no message to give.
        Some(_) => unreachable!("an empty body yielded a message"),
    }
}

/// The messages of a body as they complete.
struct Reader {
    unread: Unread,
    first: Option<Bytes>,
    reading: Reading,
    max_decoding: usize,
}

impl Reader {
    /// Takes a data frame, and the messages it completes.
    fn take(&mut self, data: Bytes) -> Result<(), Status> {
        self.unread.push(data);
        while let Some(message) =
            self.unread
                .next_envelope(self.max_decoding, self.reading, None)?
        {
            if self.first.replace(message).is_some() {
                return Err(second_message());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
