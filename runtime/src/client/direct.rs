//! A call of one request message sent without tonic's client: the request written here, the
//! response read here when it is one message ([`super::single`]), else by tonic's decoder.
//!
//! tonic's `Grpc::server_streaming` is a stream encoder for one message: a clone of the client
//! and its configuration for each call, the origin taken apart and put back together, the
//! metadata copied into a request and sanitized, an encoding body polled through two boxed
//! layers, and each of these held in a future inside the one before it (776 bytes of the
//! attempt's state, moved at every layer). An endpoint that compresses nothing either way and
//! is not a channel (whose readiness must be polled first) sends a request message here: the
//! length prefix and the message in one frame, the headers tonic's client writes, and the
//! answer taken as tonic's client takes it ([`answer`]), its body left for the attempt to read.
//! Streamed requests, compression and caller-made channels keep tonic's client.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CONTENT_TYPE, TE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use super::connect::{Answer, BoxError};
use super::single::{Messages, Undecoded};
use super::transport::Transport;
use crate::call::compression::Encodings;
use crate::call::connect::envelope;
use crate::rpc::WireSettings;

/// The response of a call: its headers, and its messages to read.
pub(super) type Opened = tonic::Response<Messages>;

/// What an endpoint needs to send calls itself.
pub(super) struct Direct {
    transport: Transport,
    /// The origin's scheme and authority, which requests carry; none on a channel (gRPC-Web or
    /// Connect over a caller's channel), whose own layers add them.
    scheme: Option<Scheme>,
    authority: Option<Authority>,
    max_decoding: usize,
}

impl Direct {
    /// `None` where tonic's client must send the endpoint's calls: over a channel speaking
    /// gRPC (a channel is polled ready before each call), with compression either way, to an
    /// origin with a path of its own (which tonic prefixes to the rpc's), or with messages
    /// allowed past what a length prefix can say.
    pub(super) fn new(transport: &Transport, wire: &WireSettings) -> Option<Self> {
        if transport.needs_ready()
            || !wire.send_compressed.is_empty()
            || !wire.accept_compressed.is_empty()
            || u32::try_from(wire.max_encoding_message_size).is_err()
        {
            return None;
        }
        let (scheme, authority) = match transport.origin() {
            None => (None, None),
            Some(origin) => {
                if origin.path_and_query().is_some_and(|path| path != "/") {
                    return None;
                }
                (origin.scheme().cloned(), origin.authority().cloned())
            }
        };
        Some(Self {
            transport: transport.clone(),
            scheme,
            authority,
            max_decoding: wire.max_decoding_message_size,
        })
    }

    /// Sends `message` to the rpc at `path` with the attempt's `headers` (its metadata, which
    /// [`reserved`] names are not among), and makes the answer into tonic's response.
    pub(super) fn send(
        &self,
        path: PathAndQuery,
        mut headers: HeaderMap,
        message: &Bytes,
    ) -> impl Future<Output = Result<Opened, Status>> + Send + 'static {
        let mut parts = http::uri::Parts::default();
        parts.scheme = self.scheme.clone();
        parts.authority = self.authority.clone();
        parts.path_and_query = Some(path);
        let max_decoding = self.max_decoding;
        let answer: Answer = match http::Uri::from_parts(parts) {
            Ok(uri) => {
                // What tonic's client adds to the metadata.
                headers.insert(TE, HeaderValue::from_static("trailers"));
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
                let body = tonic::body::Body::new(OneMessage(Some(envelope(false, message))));
                let mut request = http::Request::new(body);
                *request.version_mut() = http::Version::HTTP_2;
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers;
                self.transport.answer(request)
            }
            Err(error) => {
                let status = Status::internal(format!("the call's URI is not valid: {error}"));
                Box::pin(std::future::ready(Err(status.into())))
            }
        };
        // Mapped, not awaited in an `async` block: the attempt holds 24 bytes for it.
        answer.map(move |answer| self::answer(answer, max_decoding))
    }
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

/// The answer as tonic's client makes it (`Grpc::create_response`) for a client that accepts
/// nothing compressed: an unknown encoding refused, a trailers-only status other than `OK` the
/// call's error, and the body to be read as tonic's `Streaming` reads it.
fn answer(
    answer: Result<http::Response<tonic::body::Body>, BoxError>,
    max_decoding: usize,
) -> Result<Opened, Status> {
    let response = answer.map_err(Status::from_error)?;
    refuse_compressed(response.headers())?;
    let status_code = response.status();
    let expect_trailers = match Status::from_header_map(response.headers()) {
        Some(status) if status.code() != Code::Ok => return Err(status),
        Some(_) => false,
        None => true,
    };
    let (head, body) = response.into_parts();
    let messages = Undecoded::new(body, expect_trailers.then_some(status_code), max_decoding);
    Ok(tonic::Response::from_parts(
        MetadataMap::from_headers(head.headers),
        Messages::Body(messages),
        head.extensions,
    ))
}

/// tonic's refusal of a response compressed with an encoding the client does not accept (all
/// of them, here), to the letter: the server's refusal of a request's, with nothing accepted.
fn refuse_compressed(headers: &HeaderMap) -> Result<(), Status> {
    Encodings::default().of_received(headers).map(|_| ())
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

    #[test]
    fn a_compressed_answer_is_refused_as_tonic_refuses_it() {
        let mut headers = HeaderMap::new();
        assert!(refuse_compressed(&headers).is_ok());
        headers.insert("grpc-encoding", HeaderValue::from_static("identity"));
        assert!(refuse_compressed(&headers).is_ok());
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        let status = refuse_compressed(&headers).unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(
            status.message(),
            "Content is compressed with `gzip` which isn't supported"
        );
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "identity"
        );
    }
}
