//! The client's wire codec: messages cross it already encoded.
//!
//! [`ClientCore`](super::ClientCore) encodes a request once, before the first attempt, and
//! decodes a response only once it is accepted. Everything between (deadlines, retries, the
//! breaker, streaming) then handles bytes, and is compiled once in this crate rather than once
//! per rpc in every crate with a generated client. Retrying resends the same bytes instead of
//! cloning the message.
//!
//! [`RawCodec`], tonic's codec interface passing bytes through, is for the tests, which read
//! bodies with tonic's decoder to compare the client's reading with it.

use bytes::Bytes;
use prost::Message;
use tonic::Status;
#[cfg(test)]
use {
    bytes::{Buf, BufMut},
    tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// Sends and receives message bodies as they are on the wire.
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawCodec;

#[cfg(test)]
impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

#[cfg(test)]
impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put(item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        crate::call::codec::buffer_settings()
    }
}

#[cfg(test)]
impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }

    fn buffer_settings(&self) -> BufferSettings {
        crate::call::codec::buffer_settings()
    }
}

/// A message's wire form.
pub(crate) fn encode<M: Message>(message: &M) -> Bytes {
    message.encode_to_vec().into()
}

/// A message from its wire form; a malformed body is `INTERNAL`, as with tonic's `ProstCodec`.
pub(crate) fn decode<M: Message + Default>(body: Bytes) -> Result<M, Status> {
    M::decode(body).map_err(|error| Status::internal(error.to_string()))
}

/// `body`, or `RESOURCE_EXHAUSTED` when it is over the sending `limit`.
pub(super) fn check_encoded_size(body: Bytes, limit: usize) -> Result<Bytes, Status> {
    if body.len() > limit {
        Err(Status::resource_exhausted(format!(
            "the request message is {} bytes, over the sending limit of {limit} bytes",
            body.len()
        )))
    } else {
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Probe {
        #[prost(uint32, tag = "1")]
        count: u32,
        #[prost(string, tag = "2")]
        name: String,
    }

    #[test]
    fn a_message_survives_the_round_trip() {
        let message = Probe {
            count: 3,
            name: "three".into(),
        };
        assert_eq!(decode::<Probe>(encode(&message)).unwrap(), message);
    }

    #[test]
    fn a_malformed_body_is_internal() {
        // Field 1's tag, then the end of input where its varint should be.
        let status = decode::<Probe>(Bytes::from_static(&[0x08])).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
