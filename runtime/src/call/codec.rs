//! How messages are written on the wire: binary protobuf (gRPC, gRPC-Web, Connect's
//! `application/proto`) or proto3 JSON (Connect's `application/json`), chosen per call.
//! [`JsonSupport`] says whether an rpc's messages have JSON impls; the server reads and writes
//! messages in the call's [`Format`] itself (`server/messages.rs`). [`MessageCodec`] is the same
//! choice as a tonic [`Codec`], for a service served through tonic's own `server::Grpc` (a
//! hand-written implementation of the `tonic_server` artifact's trait) or a tonic client; the
//! server's tests use it to serve each call through tonic too and compare.
//!
//! JSON needs the messages' serde impls, which the generator writes only with the gateway
//! artifact: an adapter generated with them serves JSON ([`WithJson`]), one without answers a
//! JSON call `UNIMPLEMENTED` ([`NoJson`]).

use std::marker::PhantomData;

use bytes::{Buf, BufMut};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::Status;

/// The buffers tonic allocates for each call, one each way, server and client: 1 KiB to start
/// rather than tonic's 8 KiB. A buffer grows to the message it has to hold (by doubling, or to
/// the length a message's prefix announces), so a large message costs a reallocation or two;
/// a small one, most rpcs' answers, is then served from the allocator's per-thread cache
/// (glibc's tcache stops at 1,032 bytes), where an 8 KiB buffer took the slow path on every
/// call (callgrind: about 1,400 instructions each, and 16 KiB held per call in flight).
const BUFFER_SIZE: usize = 1024;

/// tonic's default: how much a stream of ready messages is batched into one write.
pub(crate) const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`BUFFER_SIZE`] as tonic takes it.
pub(crate) fn buffer_settings() -> BufferSettings {
    BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
}

/// The format of a call's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// Binary protobuf.
    #[default]
    Proto,
    /// Proto3 JSON.
    Json,
}

/// Whether, and how, a message type is written as proto3 JSON.
pub trait JsonSupport<T>: Send + 'static {
    /// Writes `message` as JSON.
    fn encode(message: &T, dst: &mut impl BufMut) -> Result<(), Status>;

    /// Reads a message from JSON.
    fn decode(src: &[u8]) -> Result<T, Status>;
}

/// Messages without serde impls: JSON is refused.
#[derive(Debug)]
pub struct NoJson;

/// Messages with the serde impls of proto3 JSON (pbjson's).
#[cfg(feature = "json")]
#[derive(Debug)]
pub struct WithJson;

fn no_json() -> Status {
    Status::unimplemented(
        "this service was generated without proto3 JSON (the gateway artifact): send \
         binary protobuf",
    )
}

impl<T> JsonSupport<T> for NoJson {
    fn encode(_: &T, _: &mut impl BufMut) -> Result<(), Status> {
        Err(no_json())
    }

    fn decode(_: &[u8]) -> Result<T, Status> {
        Err(no_json())
    }
}

#[cfg(feature = "json")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> JsonSupport<T> for WithJson {
    fn encode(message: &T, dst: &mut impl BufMut) -> Result<(), Status> {
        serde_json::to_writer(dst.writer(), message)
            .map_err(|error| Status::internal(format!("the response is not JSON: {error}")))
    }

    fn decode(src: &[u8]) -> Result<T, Status> {
        // An empty body is the empty message, as an empty binary one is.
        let src = if src.is_empty() { &b"{}"[..] } else { src };
        serde_json::from_slice(src).map_err(|error| {
            Status::invalid_argument(format!("the message is not valid JSON: {error}"))
        })
    }
}

/// A tonic codec writing `Encode` and reading `Decode` in the call's [`Format`].
#[derive(Debug)]
pub struct MessageCodec<Encode, Decode, J> {
    format: Format,
    types: PhantomData<fn(Encode, J) -> Decode>,
}

impl<Encode, Decode, J> MessageCodec<Encode, Decode, J> {
    /// A codec for messages in `format`.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            types: PhantomData,
        }
    }
}

impl<Encode, Decode, J> Codec for MessageCodec<Encode, Decode, J>
where
    Encode: prost::Message + Send + 'static,
    Decode: prost::Message + Default + Send + 'static,
    J: JsonSupport<Encode> + JsonSupport<Decode>,
{
    type Encode = Encode;
    type Decode = Decode;
    type Encoder = MessageEncoder<Encode, J>;
    type Decoder = MessageDecoder<Decode, J>;

    fn encoder(&mut self) -> Self::Encoder {
        MessageEncoder {
            format: self.format,
            types: PhantomData,
        }
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder {
            format: self.format,
            types: PhantomData,
        }
    }
}

/// Reads a message in binary protobuf.
pub(crate) fn decode_proto<T: prost::Message + Default>(src: impl Buf) -> Result<T, Status> {
    T::decode(src)
        .map_err(|error| Status::internal(format!("failed to decode the message: {error}")))
}

/// The encoder of [`MessageCodec`].
#[derive(Debug)]
pub struct MessageEncoder<T, J> {
    format: Format,
    types: PhantomData<fn(T, J)>,
}

impl<T: prost::Message, J: JsonSupport<T>> Encoder for MessageEncoder<T, J> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        match self.format {
            // The buffer grows as needed: prost fails only when it cannot.
            Format::Proto => item
                .encode(dst)
                .map_err(|error| Status::internal(error.to_string())),
            Format::Json => J::encode(&item, dst),
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}

/// The decoder of [`MessageCodec`].
#[derive(Debug)]
pub struct MessageDecoder<T, J> {
    format: Format,
    types: PhantomData<fn(J) -> T>,
}

impl<T: prost::Message + Default, J: JsonSupport<T>> Decoder for MessageDecoder<T, J> {
    type Item = T;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, Status> {
        match self.format {
            Format::Proto => decode_proto(src).map(Some),
            Format::Json => {
                let bytes = src.copy_to_bytes(src.remaining());
                J::decode(&bytes).map(Some)
            }
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_and_writes_with_serde_and_refuses_without_it() {
        let mut out = Vec::new();
        <WithJson as JsonSupport<Vec<u32>>>::encode(&vec![1, 2], &mut out).unwrap();
        assert_eq!(out, b"[1,2]");
        let back: Vec<u32> = WithJson::decode(b"[3]").unwrap();
        assert_eq!(back, [3]);
        let status = <WithJson as JsonSupport<Vec<u32>>>::decode(b"{").unwrap_err();
        assert_eq!(status.code(), crate::Code::InvalidArgument);
        let status = <NoJson as JsonSupport<u32>>::decode(b"1").unwrap_err();
        assert_eq!(status.code(), crate::Code::Unimplemented);
    }
}
