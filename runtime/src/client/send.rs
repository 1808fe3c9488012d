//! A call on the wire: the gRPC request written from the call's metadata and its message or
//! stream, and the answer's head taken, its body left for the attempt to read
//! ([`super::response`]). Every attempt of every call takes this path, over every
//! [`Transport`], a caller's tonic channel included.
//!
//! It does what tonic's `client::Grpc` did here before, without its per-call clone of the
//! client, the origin taken apart and put back together, or an encoding body polled through
//! two boxed layers: the headers tonic's client writes (`te`, `content-type`,
//! `grpc-encoding`, `grpc-accept-encoding`), envelopes compressed with the first of the
//! client's `send_compressed` (flate2 and zstd at tonic's levels, [`crate::call::compression`]),
//! a stream's ready messages batched into writes of up to 32 KiB as tonic's encoder batches
//! them, and the answer taken as tonic's client takes it ([`answer`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use http::header::{CONTENT_TYPE, TE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use super::connect::{Answer, BoxError};
use super::response::Undecoded;
use super::streams::OutboundStream;
use super::transport::Transport;
use crate::CompressionEncoding;
use crate::call::codec::YIELD_THRESHOLD;
use crate::call::compression::{self, Encodings, GRPC_ACCEPT_ENCODING, GRPC_ENCODING};
use crate::call::unread::PREFIX;
use crate::rpc::WireSettings;

/// The answer of a call: its headers, and its messages to read.
pub(super) type Opened = tonic::Response<Undecoded>;

/// What a call sends.
pub(super) enum Outgoing {
    /// One encoded message (unary and server-streaming calls).
    Message(Bytes),
    /// Encoded messages as the caller's stream yields them.
    Stream(OutboundStream<Bytes>),
}

/// How one endpoint's calls are written and their answers taken.
pub(super) struct Sender {
    transport: Transport,
    /// The origin's scheme and authority, which requests carry; none on a channel, whose own
    /// layers add them.
    scheme: Option<Scheme>,
    authority: Option<Authority>,
    /// The origin's path, put before each rpc's path (`http://host/prefix`), without its last
    /// `/`; empty for most origins.
    prefix: String,
    send_compressed: Option<CompressionEncoding>,
    accept_compressed: Encodings,
    /// `grpc-accept-encoding`, when the client accepts any compression.
    accept_header: Option<HeaderValue>,
    max_decoding: usize,
    max_encoding: usize,
}

impl Sender {
    pub(super) fn new(transport: Transport, wire: &WireSettings) -> Self {
        let (scheme, authority, prefix) = match transport.origin() {
            None => (None, None, String::new()),
            Some(origin) => (
                origin.scheme().cloned(),
                origin.authority().cloned(),
                origin.path().trim_end_matches('/').to_owned(),
            ),
        };
        let accept_compressed = Encodings::new(&wire.accept_compressed);
        Self {
            transport,
            scheme,
            authority,
            prefix,
            send_compressed: Encodings::new(&wire.send_compressed).first(),
            accept_header: (!accept_compressed.is_empty())
                .then(|| accept_compressed.accept_header()),
            accept_compressed,
            max_decoding: wire.max_decoding_message_size,
            max_encoding: wire.max_encoding_message_size,
        }
    }

    /// Sends `outgoing` to the rpc at `path` with the attempt's `headers` (its metadata, which
    /// [`reserved`] names are not among), and makes the answer into a response whose messages
    /// are still to be read.
    pub(super) fn send(
        &self,
        path: &PathAndQuery,
        mut headers: HeaderMap,
        outgoing: Outgoing,
    ) -> impl Future<Output = Result<Opened, Status>> + Send + 'static {
        let accept = self.accept_compressed;
        let max_decoding = self.max_decoding;
        let answer: Answer = match self.request(path, &mut headers, outgoing) {
            Ok(request) => self.transport.answer(request),
            Err(status) => Box::pin(std::future::ready(Err(status.into()))),
        };
        // Mapped, not awaited in an `async` block: the attempt holds 24 bytes for it.
        answer.map(move |answer| self::answer(answer, accept, max_decoding))
    }

    fn request(
        &self,
        path: &PathAndQuery,
        headers: &mut HeaderMap,
        outgoing: Outgoing,
    ) -> Result<http::Request<tonic::body::Body>, Status> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = self.scheme.clone();
        parts.authority = self.authority.clone();
        parts.path_and_query = Some(if self.prefix.is_empty() {
            path.clone()
        } else {
            PathAndQuery::try_from(format!("{}{path}", self.prefix)).map_err(|error| {
                Status::internal(format!("the call's path is not valid: {error}"))
            })?
        });
        let uri = http::Uri::from_parts(parts)
            .map_err(|error| Status::internal(format!("the call's URI is not valid: {error}")))?;
        // What tonic's client adds to the metadata.
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        if let Some(encoding) = self.send_compressed.and_then(compression::name) {
            headers.insert(&GRPC_ENCODING, HeaderValue::from_static(encoding));
        }
        if let Some(accept) = &self.accept_header {
            headers.insert(&GRPC_ACCEPT_ENCODING, accept.clone());
        }
        let body = match outgoing {
            Outgoing::Message(message) => {
                let mut framed = BytesMut::new();
                write_envelope(
                    &mut framed,
                    &message,
                    self.send_compressed,
                    self.max_encoding,
                )?;
                tonic::body::Body::new(OneMessage(Some(framed.freeze())))
            }
            Outgoing::Stream(messages) => tonic::body::Body::new(Enveloped {
                messages,
                encoding: self.send_compressed,
                limit: self.max_encoding,
                ended: false,
            }),
        };
        let mut request = http::Request::new(body);
        *request.version_mut() = http::Version::HTTP_2;
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = std::mem::take(headers);
        Ok(request)
    }
}

/// Appends `message` to `out` in one envelope, compressed with `encoding` if any; refused when
/// what goes on the wire is over `limit` (the client checked the message itself before the
/// first attempt; compression seldom makes it longer), or past what a length prefix can say.
fn write_envelope(
    out: &mut BytesMut,
    message: &[u8],
    encoding: Option<CompressionEncoding>,
    limit: usize,
) -> Result<(), Status> {
    let start = out.len();
    out.reserve(PREFIX + message.len());
    out.put_u8(u8::from(encoding.is_some()));
    out.put_u32(0);
    match encoding {
        Some(encoding) => compression::compress(encoding, message, out)?,
        None => out.extend_from_slice(message),
    }
    let len = out.len() - start - PREFIX;
    if len > limit {
        return Err(Status::resource_exhausted(format!(
            "the request message is {len} bytes on the wire, over the sending limit of {limit} \
             bytes"
        )));
    }
    let len = u32::try_from(len).map_err(|_| {
        Status::resource_exhausted(format!(
            "the request message is {len} bytes, more than a gRPC message can be"
        ))
    })?;
    out[start + 1..start + PREFIX].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Whether tonic's client removes `name` from a request's metadata before it adds its own:
/// the attempt leaves these out of the headers it copies ([`Call::attempt_headers`]).
///
/// [`Call::attempt_headers`]: super::shared::Call
pub(super) fn reserved(name: &http::HeaderName) -> bool {
    name == TE
        || name == CONTENT_TYPE
        || matches!(
            name.as_str(),
            "grpc-message" | "grpc-message-type" | "grpc-status"
        )
}

/// The answer as tonic's client makes it (`Grpc::create_response`): an encoding the client
/// does not accept refused, a trailers-only status other than `OK` the call's error, and the
/// body left to be read.
fn answer(
    answer: Result<http::Response<tonic::body::Body>, BoxError>,
    accept: Encodings,
    max_decoding: usize,
) -> Result<Opened, Status> {
    let response = answer.map_err(Status::from_error)?;
    let encoding = accept.of_received(response.headers())?;
    let status_code = response.status();
    let expect_trailers = match Status::from_header_map(response.headers()) {
        Some(status) if status.code() != Code::Ok => return Err(status),
        Some(_) => false,
        None => true,
    };
    let (head, body) = response.into_parts();
    let messages = Undecoded::new(
        body,
        expect_trailers.then_some(status_code),
        max_decoding,
        encoding,
    );
    Ok(tonic::Response::from_parts(
        MetadataMap::from_headers(head.headers),
        messages,
        head.extensions,
    ))
}

/// A request body of one frame. No size hint, as tonic's encoder gives none: the wire then
/// sends no `content-length`, as for tonic's requests.
struct OneMessage(Option<Bytes>);

impl http_body::Body for OneMessage {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// A request body of the caller's stream, each message in its envelope; the messages ready at
/// once go in one frame of up to about [`YIELD_THRESHOLD`] bytes.
struct Enveloped {
    messages: OutboundStream<Bytes>,
    encoding: Option<CompressionEncoding>,
    limit: usize,
    ended: bool,
}

impl http_body::Body for Enveloped {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let mut frame = BytesMut::new();
        while !this.ended && frame.len() < YIELD_THRESHOLD {
            match this.messages.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => {
                    if let Err(status) =
                        write_envelope(&mut frame, &message, this.encoding, this.limit)
                    {
                        this.ended = true;
                        return Poll::Ready(Some(Err(status)));
                    }
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending if frame.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready((!frame.is_empty()).then(|| Ok(Frame::data(frame.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_tonics() {
        for name in [
            "te",
            "content-type",
            "grpc-message",
            "grpc-message-type",
            "grpc-status",
        ] {
            assert!(reserved(&http::HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "grpc-timeout",
            "x-request-id",
            "grpc-status-details-bin",
            "authorization",
        ] {
            assert!(!reserved(&http::HeaderName::from_static(name)), "{name}");
        }
    }

    fn answered(
        headers: &[(&'static str, &'static str)],
        accept: &[CompressionEncoding],
    ) -> Result<Opened, Status> {
        let mut response = http::Response::new(tonic::body::Body::empty());
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
        answer(Ok(response), Encodings::new(accept), 100)
    }

    #[test]
    fn a_compressed_answer_not_accepted_is_refused_as_tonic_refuses_it() {
        assert!(answered(&[], &[]).is_ok());
        assert!(answered(&[("grpc-encoding", "identity")], &[]).is_ok());
        assert!(answered(&[("grpc-encoding", "gzip")], &[CompressionEncoding::Gzip]).is_ok());
        let status = answered(&[("grpc-encoding", "gzip")], &[]).unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(
            status.message(),
            "Content is compressed with `gzip` which isn't supported"
        );
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "identity"
        );
        let status =
            answered(&[("grpc-encoding", "zstd")], &[CompressionEncoding::Gzip]).unwrap_err();
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "gzip,identity"
        );
    }

    #[test]
    fn a_trailers_only_error_is_the_calls_error() {
        let status = answered(&[("grpc-status", "5"), ("grpc-message", "gone")], &[]).unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "gone");
    }

    #[test]
    fn an_envelope_over_the_limit_is_refused_and_one_within_says_its_length() {
        let mut out = BytesMut::from(&b"xy"[..]);
        write_envelope(&mut out, b"hello", None, 5).unwrap();
        assert_eq!(&out[..], b"xy\0\0\0\0\x05hello");
        let status = write_envelope(&mut BytesMut::new(), b"hello", None, 4).unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
    }

    #[test]
    fn a_compressed_envelope_is_flagged_and_reads_back() {
        for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
            let message = b"the same words again and again and again and again".repeat(8);
            let mut out = BytesMut::new();
            write_envelope(&mut out, &message, Some(encoding), usize::MAX).unwrap();
            assert_eq!(out[0], 1);
            let len = u32::from_be_bytes(out[1..5].try_into().unwrap()) as usize;
            assert_eq!(len, out.len() - PREFIX);
            assert!(len < message.len(), "{encoding:?} compressed nothing");
            let back = compression::decompress(encoding, &out[PREFIX..], usize::MAX).unwrap();
            assert_eq!(&back[..], &message[..]);
        }
    }

    #[tokio::test]
    async fn a_stream_sends_the_ready_messages_in_one_frame_then_ends() {
        use http_body_util::BodyExt;
        let (messages, _aborted) =
            super::super::streams::abort_on_error(Box::pin(futures_util::stream::iter(
                [b"a".as_slice(), b"bc", b""].map(|m| Ok(Bytes::from_static(m))),
            )));
        let mut body = Enveloped {
            messages,
            encoding: None,
            limit: usize::MAX,
            ended: false,
        };
        let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&frame[..], b"\0\0\0\0\x01a\0\0\0\0\x02bc\0\0\0\0\0");
        assert!(body.frame().await.is_none());
        assert!(http_body::Body::is_end_stream(&body));
    }
}
