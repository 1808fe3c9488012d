//! How the server reads a gRPC call's messages and writes its answer, for every call shape,
//! compression and format: the one path every call takes (gRPC, and gRPC-Web and Connect
//! once translated to gRPC's framing).
//!
//! tonic's `server::Grpc` reads even a unary request as a stream (a decoder with its own
//! buffer and state, the body boxed twice) and writes each answer through a stream encoder
//! whose end builds the status from a `Status`. Here a body's envelopes are read as its frames
//! bring them ([`Unread`]: a message that arrives in one frame is a view of it), decompressed
//! when the call's `grpc-encoding` says so, and decoded with prost or the rpc's JSON impls;
//! the answer is its envelopes, batched while the handler's stream has more ready, and then
//! the status. For the commonest call, unary in binary protobuf that nothing compresses, this
//! took a server's instructions per call from 64.5k through tonic's path to 61.6k
//! (bench/RESULTS.md); with every call here there is one path to test and to keep.
//!
//! Every outcome is tonic's, to the status message: a bad envelope flag, a message over the
//! limit either way (before and after decompression), an encoding the server does not accept
//! (`UNIMPLEMENTED` with the ones it does), a body that ends inside an envelope, a body cut by
//! the client. The dispatch's tests serve the same calls through tonic's `server::Grpc` and
//! compare what comes back. They differ on purpose in three places, each tested: a unary or
//! server-streaming request of no message or of two is `UNIMPLEMENTED` (see [`no_message`]);
//! an answer over the limit sends only the status, where tonic sends the refused message's
//! bytes; and a body that ends right after a whole prefix is cut short (`INTERNAL`), where
//! tonic ends the stream and drops the message the prefix announced.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use futures_core::Stream;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};
use http_body::{Body as HttpBody, Frame};

use crate::call::codec::{Format, JsonSupport, YIELD_THRESHOLD, decode_proto};
use crate::call::compression::{self, Encodings, GRPC_ENCODING};
use crate::call::unread::{PREFIX, Reading, Unread};
use crate::rpc::{GRPC_STATUS_NAME, WireSettings};
use crate::{Code, CompressionEncoding, Status};

/// The wire settings as the server applies them, converted once per server.
#[derive(Debug, Clone, Copy)]
pub(super) struct WireConfig {
    pub(super) accept_compressed: Encodings,
    pub(super) send_compressed: Encodings,
    pub(super) max_decoding_message_size: usize,
    pub(super) max_encoding_message_size: usize,
}

impl WireConfig {
    pub(super) fn new(settings: &WireSettings) -> Self {
        Self {
            accept_compressed: Encodings::new(&settings.accept_compressed),
            send_compressed: Encodings::new(&settings.send_compressed),
            max_decoding_message_size: settings.max_decoding_message_size,
            max_encoding_message_size: settings.max_encoding_message_size,
        }
    }
}

/// How one call's messages travel: their format, the encoding of the request's and of the
/// answer's, and the limits either way.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallWire {
    format: Format,
    request_encoding: Option<CompressionEncoding>,
    answer_encoding: Option<CompressionEncoding>,
    read_limit: usize,
    write_limit: usize,
}

impl CallWire {
    /// What the request's headers and the server's settings agree on; an encoding the server
    /// does not accept is refused, as tonic refuses it, before anything is read.
    pub(super) fn negotiate(
        headers: &HeaderMap,
        format: Format,
        config: &WireConfig,
    ) -> Result<Self, Status> {
        Ok(Self {
            format,
            request_encoding: config.accept_compressed.of_received(headers)?,
            answer_encoding: config.send_compressed.for_answer(headers),
            read_limit: config.max_decoding_message_size,
            write_limit: config.max_encoding_message_size,
        })
    }

    /// One message of the request, in the call's format.
    fn decode<T, J>(&self, message: Bytes) -> Result<T, Status>
    where
        T: prost::Message + Default,
        J: JsonSupport<T>,
    {
        match self.format {
            Format::Proto => decode_proto(message),
            Format::Json => J::decode(&message),
        }
    }

    /// Appends `message` in an envelope to `out`, in the call's format and compression, or
    /// leaves `out` as it was and fails (over the limit, not encodable, not compressible).
    fn encode<T, J>(&self, message: &T, out: &mut BytesMut) -> Result<(), Status>
    where
        T: prost::Message,
        J: JsonSupport<T>,
    {
        if self.format == Format::Proto && self.answer_encoding.is_none() {
            // The commonest answer: its length is known before it is written.
            let len = message.encoded_len();
            self.check_len(len)?;
            out.reserve(PREFIX + len);
            out.put_u8(0);
            out.put_u32(len as u32);
            // The room is there: `encode` would only measure the message a second time.
            message.encode_raw(out);
            return Ok(());
        }
        let start = out.len();
        let written = self.encode_then_prefix::<T, J>(message, start, out);
        if written.is_err() {
            out.truncate(start);
        }
        written
    }

    /// [`encode`](Self::encode) for a message whose length is known once it is written (JSON,
    /// or compressed): a prefix held open at `start`, filled in at the end.
    fn encode_then_prefix<T, J>(
        &self,
        message: &T,
        start: usize,
        out: &mut BytesMut,
    ) -> Result<(), Status>
    where
        T: prost::Message,
        J: JsonSupport<T>,
    {
        out.put_bytes(0, PREFIX);
        match self.answer_encoding {
            None => self.write_message::<T, J>(message, out)?,
            Some(encoding) => {
                let mut plain = BytesMut::new();
                self.write_message::<T, J>(message, &mut plain)?;
                compression::compress(encoding, &plain, out)?;
            }
        }
        let len = out.len() - start - PREFIX;
        self.check_len(len)?;
        let prefix = &mut out[start..start + PREFIX];
        prefix[0] = u8::from(self.answer_encoding.is_some());
        prefix[1..].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// Appends `message` to `out` in the call's format, unframed.
    fn write_message<T, J>(&self, message: &T, out: &mut BytesMut) -> Result<(), Status>
    where
        T: prost::Message,
        J: JsonSupport<T>,
    {
        match self.format {
            Format::Proto => {
                out.reserve(message.encoded_len());
                message.encode_raw(out);
                Ok(())
            }
            Format::Json => J::encode(message, out),
        }
    }

    /// Refuses a message of `len` bytes over the write limit, in tonic's words.
    fn check_len(&self, len: usize) -> Result<(), Status> {
        let limit = self.write_limit;
        if len > limit {
            return Err(Status::out_of_range(format!(
                "Error, encoded message length too large: found {len} bytes, the limit is: \
                 {limit} bytes"
            )));
        }
        if u32::try_from(len).is_err() {
            return Err(Status::resource_exhausted(format!(
                "Cannot return body with more than 4GB of data but got {len} bytes"
            )));
        }
        Ok(())
    }
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

/// The one message of a unary or server-streaming request, the body read to its end.
pub(super) async fn read_one<T, J>(body: axum::body::Body, wire: CallWire) -> Result<T, Status>
where
    T: prost::Message + Default,
    J: JsonSupport<T>,
{
    let mut requests = Requests::<T, J>::new(body, wire);
    let first = requests.next_message().await?.ok_or_else(no_message)?;
    match requests.next_message().await? {
        None => Ok(first),
        Some(_) => Err(second_message()),
    }
}

/// The messages of a request, as the body brings them: what a client- or bidi-streaming
/// handler reads. The stream ends after its first error.
pub(super) struct Requests<T, J> {
    body: axum::body::Body,
    unread: Unread,
    wire: CallWire,
    ended: bool,
    types: PhantomData<fn(J) -> T>,
}

impl<T, J> Requests<T, J>
where
    T: prost::Message + Default,
    J: JsonSupport<T>,
{
    pub(super) fn new(body: axum::body::Body, wire: CallWire) -> Self {
        Self {
            body,
            unread: Unread::default(),
            wire,
            ended: false,
            types: PhantomData,
        }
    }

    async fn next_message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx))
            .await
            .transpose()
    }

    fn poll_message(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<T, Status>>> {
        while !self.ended {
            if let Some(message) = self.next_envelope() {
                return Poll::Ready(Some(message));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => {
                    self.ended = true;
                    if self.unread.len() > 0 {
                        return Poll::Ready(Some(Err(Status::internal(
                            "Unexpected EOF decoding stream.",
                        ))));
                    }
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.unread.push(data),
                    // Trailers end the messages, unread bytes or not, as in tonic.
                    Err(_) => self.ended = true,
                },
                Some(Err(error)) => {
                    self.ended = true;
                    let status = Status::from_error(error.into());
                    // A request the client cancelled has ended, as tonic reads it.
                    if status.code() != Code::Cancelled {
                        return Poll::Ready(Some(Err(status)));
                    }
                }
            }
        }
        Poll::Ready(None)
    }

    /// The next whole message of what has been read, decoded; any error ends the stream.
    fn next_envelope(&mut self) -> Option<Result<T, Status>> {
        let decoded = self
            .unread
            .next_envelope(
                self.wire.read_limit,
                Reading::Request,
                self.wire.request_encoding,
            )
            .transpose()?
            .and_then(|message| self.wire.decode::<T, J>(message));
        if decoded.is_err() {
            self.ended = true;
        }
        Some(decoded)
    }
}

impl<T, J> Stream for Requests<T, J>
where
    T: prost::Message + Default,
    J: JsonSupport<T>,
{
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

/// The HTTP response of an answered call: `answered`'s messages, then its status; a failure
/// before any message as a trailers-only response.
pub(super) fn respond<S, T, J>(
    answered: Result<tonic::Response<S>, Status>,
    wire: CallWire,
) -> http::Response<tonic::body::Body>
where
    S: Stream<Item = Result<T, Status>> + Unpin + Send + 'static,
    T: prost::Message + 'static,
    J: JsonSupport<T>,
{
    let (metadata, source, extensions) = match answered {
        Ok(response) => response.into_parts(),
        Err(status) => return status.into_http(),
    };
    let body = Answer::<S, T, J> {
        source,
        wire,
        state: State::Sending,
        types: PhantomData,
    };
    let mut response = http::Response::new(tonic::body::Body::new(body));
    *response.version_mut() = http::Version::HTTP_2;
    // What the handler may send, filtered by the dispatch (no `grpc-*`, no framing headers).
    *response.headers_mut() = metadata.into_headers();
    *response.extensions_mut() = extensions;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    if let Some(name) = wire.answer_encoding.and_then(compression::name) {
        headers.insert(&GRPC_ENCODING, HeaderValue::from_static(name));
    }
    response
}

/// The body of an answer: the messages of `source` in envelopes, then the status.
struct Answer<S, T, J> {
    source: S,
    wire: CallWire,
    state: State,
    types: PhantomData<fn(T, J)>,
}

enum State {
    Sending,
    /// The messages are sent; the status is next.
    Status(Option<Status>),
    Ended,
}

impl<S, T, J> Answer<S, T, J> {
    fn finish(&mut self, buf: BytesMut, status: Option<Status>) -> Frame<Bytes> {
        if buf.is_empty() {
            self.state = State::Ended;
            trailers(status)
        } else {
            self.state = State::Status(status);
            Frame::data(buf.freeze())
        }
    }
}

impl<S, T, J> HttpBody for Answer<S, T, J>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
    T: prost::Message,
    J: JsonSupport<T>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.state, State::Sending) {
            State::Sending => {}
            State::Status(status) => {
                this.state = State::Ended;
                return Poll::Ready(Some(Ok(trailers(status))));
            }
            State::Ended => {
                this.state = State::Ended;
                return Poll::Ready(None);
            }
        }
        // The messages ready now go in one frame, up to tonic's threshold.
        let mut buf = BytesMut::new();
        loop {
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    if let Err(status) = this.wire.encode::<T, J>(&message, &mut buf) {
                        return Poll::Ready(Some(Ok(this.finish(buf, Some(status)))));
                    }
                    if buf.len() >= YIELD_THRESHOLD {
                        return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
                    }
                }
                Poll::Ready(Some(Err(status))) => {
                    return Poll::Ready(Some(Ok(this.finish(buf, Some(status)))));
                }
                Poll::Ready(None) => return Poll::Ready(Some(Ok(this.finish(buf, None)))),
                Poll::Pending if buf.is_empty() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Some(Ok(Frame::data(buf.freeze())))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    // No size hint: a length would become a `content-length`, which a gRPC-Web answer, whose
    // trailers travel in the body, outgrows.
}

/// The final status: `grpc-status: 0` for none, the status's headers otherwise.
fn trailers(status: Option<Status>) -> Frame<Bytes> {
    let mut trailers = HeaderMap::with_capacity(3);
    match status {
        None => {
            trailers.insert(&GRPC_STATUS_NAME, HeaderValue::from_static("0"));
        }
        Some(status) => {
            if status.add_header(&mut trailers).is_err() {
                // A status whose message cannot be a header: its code alone.
                trailers.insert(&GRPC_STATUS_NAME, HeaderValue::from(status.code() as i32));
            }
        }
    }
    Frame::trailers(trailers)
}
