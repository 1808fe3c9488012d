//! Unary calls in binary protobuf that nothing compresses either way (what a gRPC client sends
//! unless asked to compress) served without tonic's streaming codec. tonic's `server::Grpc`
//! reads a unary request as a stream (a decoder with its own buffer and state, the body boxed
//! twice) and writes the answer through a stream encoder whose end builds the status from a
//! `Status`. Here the body is read to its end, its one message decoded with prost, and the
//! answer is one envelope and then the status: a server's instructions per call, h2's work
//! included, went from 64.5k to 61.6k (bench/RESULTS.md).
//!
//! Every outcome is tonic's, to the status message: a bad envelope flag, a message over the
//! limit either way, a body that ends inside an envelope, a body cut by the client, no message
//! or a second one (the dispatch's rule). A request that is compressed, or whose answer may be,
//! and JSON and every stream, go through tonic's path; the dispatch's tests run both paths on
//! the same calls and compare what comes back.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;

use crate::call::codec::decode_proto;
use crate::call::unread::{PREFIX, Reading, Unread};
use crate::rpc::GRPC_STATUS_NAME;
use crate::{Code, Status};

/// Whether a call with these request headers is served here: its message is not compressed
/// (no `grpc-encoding`, or `identity`) and its answer will not be, because the server sends
/// nothing compressed or the client accepts nothing compressed.
pub(super) fn serves(headers: &HeaderMap, sends_compressed: bool) -> bool {
    static ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
    static ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");
    let identity = headers
        .get(&ENCODING)
        .is_none_or(|encoding| encoding == "identity");
    identity && !(sends_compressed && headers.contains_key(&ACCEPT_ENCODING))
}

/// A unary or server-streaming request of no message. Both break the rpc's cardinality,
/// which gRPC (grpc-go, connect-go, the conformance suite) answers `UNIMPLEMENTED`; tonic's
/// unary decoding would say `INTERNAL` for none and ignore a second.
pub(super) fn no_message() -> Status {
    Status::unimplemented("the request of a unary or server-streaming rpc has no message")
}

/// A unary or server-streaming request of more than one message (see [`no_message`]).
pub(super) fn second_message() -> Status {
    Status::unimplemented(
        "the request of a unary or server-streaming rpc has more than one message",
    )
}

/// The one message of a request body read to its end, decoded from binary protobuf, with
/// messages of at most `limit` bytes.
pub(super) async fn read_one<T: prost::Message + Default>(
    mut body: axum::body::Body,
    limit: usize,
) -> Result<T, Status> {
    let mut unread = Unread::default();
    let mut first = None;
    let ended_inside_an_envelope = loop {
        while let Some(envelope) = unread.next_envelope(limit, Reading::Request)? {
            if first.replace(decode_proto::<T>(envelope)?).is_some() {
                return Err(second_message());
            }
        }
        match body.frame().await {
            None => break unread.len() > 0,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => unread.push(data),
                // Trailers end the messages, unread bytes or not, as in tonic.
                Err(_) => break false,
            },
            Some(Err(error)) => {
                let status = Status::from_error(error.into());
                // A request the client cancelled has ended, as tonic reads it.
                if status.code() == Code::Cancelled {
                    break false;
                }
                return Err(status);
            }
        }
    };
    if ended_inside_an_envelope {
        return Err(Status::internal("Unexpected EOF decoding stream."));
    }
    first.ok_or_else(no_message)
}

/// The HTTP response of an answered call: the message in one envelope and then `grpc-status: 0`,
/// the failure as a trailers-only response, or a message over `limit` as the status after the
/// headers, as tonic's encoder sends it.
pub(super) fn respond<T: prost::Message>(
    answered: Result<tonic::Response<T>, Status>,
    limit: usize,
) -> http::Response<tonic::body::Body> {
    let (metadata, message, extensions) = match answered {
        Ok(response) => response.into_parts(),
        Err(status) => return status.into_http(),
    };
    let body = match envelope(&message, limit) {
        Ok(envelope) => Answer::Message(envelope),
        Err(status) => Answer::Failed(status),
    };
    let mut response = http::Response::new(tonic::body::Body::new(body));
    *response.version_mut() = http::Version::HTTP_2;
    // What the handler may send, filtered by the dispatch (no `grpc-*`, no framing headers).
    *response.headers_mut() = metadata.into_headers();
    *response.extensions_mut() = extensions;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

fn envelope<T: prost::Message>(message: &T, limit: usize) -> Result<Bytes, Status> {
    let len = message.encoded_len();
    if len > limit {
        return Err(Status::out_of_range(format!(
            "Error, encoded message length too large: found {len} bytes, the limit is: {limit} \
             bytes"
        )));
    }
    let prefix = u32::try_from(len).map_err(|_| {
        Status::resource_exhausted(format!(
            "Cannot return body with more than 4GB of data but got {len} bytes"
        ))
    })?;
    let mut envelope = BytesMut::with_capacity(PREFIX + len);
    envelope.put_u8(0);
    envelope.put_u32(prefix);
    // The room is there: `encode` would only measure the message a second time.
    message.encode_raw(&mut envelope);
    Ok(envelope.freeze())
}

/// The body of an answer: the envelope, then the status.
enum Answer {
    Message(Bytes),
    Succeeded,
    Failed(Status),
    Ended,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = match std::mem::replace(&mut *self, Self::Ended) {
            Self::Message(envelope) => {
                *self = Self::Succeeded;
                Frame::data(envelope)
            }
            Self::Succeeded => {
                let mut trailers = HeaderMap::with_capacity(1);
                trailers.insert(&GRPC_STATUS_NAME, HeaderValue::from_static("0"));
                Frame::trailers(trailers)
            }
            Self::Failed(status) => {
                let mut trailers = HeaderMap::with_capacity(3);
                if let Err(unwritable) = status.add_header(&mut trailers) {
                    return Poll::Ready(Some(Err(unwritable)));
                }
                Frame::trailers(trailers)
            }
            Self::Ended => return Poll::Ready(None),
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Ended)
    }

    // No size hint: a length would become a `content-length`, which a gRPC-Web answer, whose
    // trailers travel in the body, outgrows.
}
