//! The envelopes of a gRPC body as its frames bring them: the requests the server reads
//! (server/messages.rs) and the answers the client reads (client/response.rs). An envelope that came in one frame is a view of that frame; one
//! that spans frames is joined once. Its prefix is checked as soon as it is there, and refused
//! in tonic's words, so that both readers answer what tonic's decoder answers.

use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;

use super::compression::{Undecompressed, decompress};
use crate::{CompressionEncoding, Status};

/// An envelope's prefix: the flags byte and the message's length.
pub(crate) const PREFIX: usize = 5;

/// Which side reads the envelopes, for tonic's wording of an unknown flag.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reading {
    /// A server reading a request (and a client reading a trailers-only answer's body,
    /// which it words the same).
    Request,
    /// A client reading an answer that came with this HTTP status.
    Response(StatusCode),
}

/// The bytes of a body not made into envelopes yet: a frame's as it came, or several frames'
/// joined when an envelope spans them.
pub(crate) enum Unread {
    Frame(Bytes),
    Joined(BytesMut),
}

impl Default for Unread {
    fn default() -> Self {
        Self::Frame(Bytes::new())
    }
}

impl Unread {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Frame(bytes) => bytes.len(),
            Self::Joined(bytes) => bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Frame(bytes) => bytes,
            Self::Joined(bytes) => bytes,
        }
    }

    /// Adds a data frame's bytes.
    pub(crate) fn push(&mut self, data: Bytes) {
        match self {
            Self::Frame(bytes) if bytes.is_empty() => *bytes = data,
            Self::Frame(bytes) => {
                let mut joined = BytesMut::with_capacity(bytes.len() + data.len());
                joined.extend_from_slice(bytes);
                joined.extend_from_slice(&data);
                *self = Self::Joined(joined);
            }
            Self::Joined(bytes) => bytes.extend_from_slice(&data),
        }
    }

    fn take(&mut self, len: usize) -> Bytes {
        match self {
            Self::Frame(bytes) => bytes.split_to(len),
            Self::Joined(bytes) => bytes.split_to(len).freeze(),
        }
    }

    /// The next whole envelope's message, of at most `limit` bytes, checking its prefix as
    /// soon as it is there; a compressed one decompressed from `encoding` (the call's
    /// `grpc-encoding`), to at most `limit` bytes too.
    pub(crate) fn next_envelope(
        &mut self,
        limit: usize,
        reading: Reading,
        encoding: Option<CompressionEncoding>,
    ) -> Result<Option<Bytes>, Status> {
        let Some(&[flags, a, b, c, d]) = self.bytes().get(..PREFIX) else {
            return Ok(None);
        };
        let compressed = match (flags, encoding) {
            (0, _) => None,
            (1, Some(encoding)) => Some(encoding),
            // https://grpc.github.io/grpc/core/md_doc_compression.html: a compressed flag
            // without an encoding is INTERNAL.
            (1, None) => {
                return Err(Status::internal(
                    "protocol error: received message with compressed-flag but no grpc-encoding \
                     was specified",
                ));
            }
            (other, _) => {
                return Err(Status::internal(match reading {
                    Reading::Request => format!(
                        "protocol error: received message with invalid compression flag: {other} \
                         (valid flags are 0 and 1), while sending request"
                    ),
                    Reading::Response(status) => format!(
                        "protocol error: received message with invalid compression flag: {other} \
                         (valid flags are 0 and 1) while receiving response with status: {status}"
                    ),
                }));
            }
        };
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > limit {
            return Err(Status::out_of_range(format!(
                "Error, decoded message length too large: found {len} bytes, the limit is: \
                 {limit} bytes"
            )));
        }
        if self.len() < PREFIX + len {
            if let Self::Joined(bytes) = self {
                bytes.reserve(PREFIX + len - bytes.len());
            }
            return Ok(None);
        }
        let mut envelope = self.take(PREFIX + len);
        envelope.advance(PREFIX);
        match compressed {
            None => Ok(Some(envelope)),
            Some(encoding) => match decompress(encoding, &envelope, limit) {
                Ok(message) => Ok(Some(message)),
                Err(Undecompressed::OverLimit(status)) => Err(status),
                Err(Undecompressed::Invalid(error)) => Err(Status::internal(match reading {
                    Reading::Request => {
                        format!("Error decompressing: {error}, while sending request")
                    }
                    Reading::Response(status) => format!(
                        "Error decompressing: {error}, while receiving response with status: \
                         {status}"
                    ),
                })),
            },
        }
    }
}
