//! gRPC's message compression (<https://grpc.github.io/grpc/core/md_doc_compression.html>) as
//! the server reads and writes it: which encoding a request's messages are in
//! (`grpc-encoding`), which one the answer's are sent in (the first of the client's
//! `grpc-accept-encoding` the server sends), and one message compressed or decompressed with
//! flate2 (gzip) and zstd, the crates and levels tonic's `gzip` and `zstd` features use.
//!
//! tonic's own compression functions are private to its codec, which the server no longer
//! runs (see `server/messages.rs`); the statuses and their wording are tonic's, so that a
//! client sees what it saw before.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::{CompressionEncoding, Status};

/// `grpc-encoding`: the encoding of the messages that follow.
pub(crate) static GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
/// `grpc-accept-encoding`: the encodings a peer reads.
pub(crate) static GRPC_ACCEPT_ENCODING: HeaderName =
    HeaderName::from_static("grpc-accept-encoding");

/// The gzip level tonic compresses with.
const GZIP_LEVEL: u32 = 6;

/// The encodings a side has enabled, in the order it prefers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encodings {
    enabled: [Option<CompressionEncoding>; 2],
}

impl Encodings {
    /// The encodings of `list` this runtime compresses with, duplicates dropped.
    pub(crate) fn new(list: &[CompressionEncoding]) -> Self {
        let mut encodings = Self::default();
        for encoding in list {
            if name(*encoding).is_none() || encodings.contains(*encoding) {
                continue;
            }
            if let Some(slot) = encodings.enabled.iter_mut().find(|slot| slot.is_none()) {
                *slot = Some(*encoding);
            }
        }
        encodings
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.enabled[0].is_none()
    }

    fn contains(&self, encoding: CompressionEncoding) -> bool {
        self.enabled.contains(&Some(encoding))
    }

    fn iter(&self) -> impl Iterator<Item = CompressionEncoding> + '_ {
        self.enabled.iter().flatten().copied()
    }

    /// The one preferred, which a client compresses its requests with.
    pub(crate) fn first(&self) -> Option<CompressionEncoding> {
        self.enabled[0]
    }

    /// The `grpc-accept-encoding` value naming them, `identity` last (alone when none is).
    pub(crate) fn accept_header(&self) -> HeaderValue {
        let mut value = String::new();
        for encoding in self.iter().filter_map(name) {
            value.push_str(encoding);
            value.push(',');
        }
        value.push_str("identity");
        HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("identity"))
    }

    /// The encoding of the messages received (a server's request, a client's answer), from
    /// `grpc-encoding`: none for `identity` or no header; `UNIMPLEMENTED`, with the encodings
    /// accepted in `grpc-accept-encoding`, for one not enabled here.
    pub(crate) fn of_received(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<CompressionEncoding>, Status> {
        let Some(value) = headers.get(&GRPC_ENCODING) else {
            return Ok(None);
        };
        if value == "identity" {
            return Ok(None);
        }
        if let Some(encoding) = self.iter().find(|encoding| {
            name(*encoding).is_some_and(|name| name.as_bytes() == value.as_bytes())
        }) {
            return Ok(Some(encoding));
        }
        let shown = String::from_utf8(value.as_bytes().to_vec())
            .unwrap_or_else(|_| format!("{:?}", value.as_bytes()));
        let mut status = Status::unimplemented(format!(
            "Content is compressed with `{shown}` which isn't supported"
        ));
        status
            .metadata_mut()
            .as_mut()
            .insert(&GRPC_ACCEPT_ENCODING, self.accept_header());
        Err(status)
    }

    /// The encoding an answer is sent in: the first of the request's `grpc-accept-encoding`
    /// that is enabled here, or none.
    pub(crate) fn for_answer(&self, headers: &HeaderMap) -> Option<CompressionEncoding> {
        if self.is_empty() {
            return None;
        }
        let accepted = headers.get(&GRPC_ACCEPT_ENCODING)?.to_str().ok()?;
        accepted.split(',').map(str::trim).find_map(|accepted| {
            self.iter()
                .find(|encoding| name(*encoding) == Some(accepted))
        })
    }
}

/// The name of an encoding on the wire, if this runtime compresses with it.
pub(crate) fn name(encoding: CompressionEncoding) -> Option<&'static str> {
    match encoding {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => Some("gzip"),
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => Some("zstd"),
        // `deflate`, when another crate turns on tonic's feature of that name.
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Appends `message` compressed with `encoding` to `out`.
pub(crate) fn compress(
    encoding: CompressionEncoding,
    message: &[u8],
    out: &mut BytesMut,
) -> Result<(), Status> {
    // A value, not early returns: without `gzip` and `zstd` only the last arm is left.
    let written = match encoding {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(out.writer(), flate2::Compression::new(GZIP_LEVEL));
            encoder
                .write_all(message)
                .and_then(|()| encoder.finish().map(drop))
        }
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => {
            zstd::stream::copy_encode(message, out.writer(), zstd::DEFAULT_COMPRESSION_LEVEL)
        }
        // One this crate was built without: `Encodings` never chooses it.
        #[allow(unreachable_patterns)]
        _ => Err(std::io::Error::other("unsupported encoding")),
    };
    written.map_err(|error| Status::internal(format!("Error compressing: {error}")))
}

/// Why a message could not be decompressed.
#[derive(Debug)]
pub(crate) enum Undecompressed {
    /// It comes to more than the limit (`RESOURCE_EXHAUSTED`, in tonic's words).
    OverLimit(Status),
    /// It is not in the encoding it claims; the reader words the error for its side.
    Invalid(std::io::Error),
}

/// `message` decompressed from `encoding`, refused when it comes to more than `limit` bytes
/// (without decompressing more than that).
pub(crate) fn decompress(
    encoding: CompressionEncoding,
    message: &[u8],
    limit: usize,
) -> Result<Bytes, Undecompressed> {
    let mut out = Vec::with_capacity(message.len().saturating_mul(2).min(limit));
    // One byte past the limit tells a message of exactly `limit` bytes from a larger one.
    let take = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let read = match encoding {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => flate2::read::GzDecoder::new(message)
            .take(take)
            .read_to_end(&mut out),
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => zstd::stream::read::Decoder::new(message)
            .and_then(|decoder| decoder.take(take).read_to_end(&mut out)),
        #[allow(unreachable_patterns)]
        _ => Err(std::io::Error::other("unsupported encoding")),
    };
    read.map_err(Undecompressed::Invalid)?;
    if out.len() > limit {
        return Err(Undecompressed::OverLimit(Status::resource_exhausted(
            format!(
                "Error decompressing: size limit, of {limit} bytes, exceeded while decompressing \
             message"
            ),
        )));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn a_request_names_its_encoding_and_an_unknown_one_is_refused_with_the_accepted_ones() {
        let both = Encodings::new(&[CompressionEncoding::Gzip, CompressionEncoding::Zstd]);
        assert_eq!(both.of_received(&headers(&[])).unwrap(), None);
        assert_eq!(
            both.of_received(&headers(&[("grpc-encoding", "identity")]))
                .unwrap(),
            None
        );
        assert_eq!(
            both.of_received(&headers(&[("grpc-encoding", "zstd")]))
                .unwrap(),
            Some(CompressionEncoding::Zstd)
        );
        let status = both
            .of_received(&headers(&[("grpc-encoding", "snappy")]))
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::Unimplemented);
        assert_eq!(
            status.message(),
            "Content is compressed with `snappy` which isn't supported"
        );
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "gzip,zstd,identity"
        );
        let none = Encodings::new(&[]);
        let status = none
            .of_received(&headers(&[("grpc-encoding", "gzip")]))
            .unwrap_err();
        assert_eq!(
            status.metadata().get("grpc-accept-encoding").unwrap(),
            "identity"
        );
    }

    #[test]
    fn an_answer_takes_the_first_encoding_the_client_accepts_that_the_server_sends() {
        let zstd_only = Encodings::new(&[CompressionEncoding::Zstd]);
        let accepts = headers(&[("grpc-accept-encoding", "gzip, zstd")]);
        assert_eq!(
            zstd_only.for_answer(&accepts),
            Some(CompressionEncoding::Zstd)
        );
        let both = Encodings::new(&[CompressionEncoding::Zstd, CompressionEncoding::Gzip]);
        assert_eq!(both.for_answer(&accepts), Some(CompressionEncoding::Gzip));
        assert_eq!(both.for_answer(&headers(&[])), None);
        assert_eq!(Encodings::new(&[]).for_answer(&accepts), None);
    }

    #[test]
    fn a_message_survives_compression_and_decompression_stops_at_the_limit() {
        for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
            let message = b"hello hello hello hello".repeat(10);
            let mut compressed = BytesMut::new();
            compress(encoding, &message, &mut compressed).unwrap();
            assert!(compressed.len() < message.len(), "{encoding:?}");
            let back = decompress(encoding, &compressed, message.len());
            assert_eq!(back.unwrap(), message, "{encoding:?}");
            let over = decompress(encoding, &compressed, message.len() - 1);
            let Err(Undecompressed::OverLimit(status)) = over else {
                panic!("{encoding:?}: {over:?}");
            };
            assert_eq!(
                status.code(),
                crate::Code::ResourceExhausted,
                "{encoding:?}"
            );
            let invalid = decompress(encoding, b"not compressed", 100);
            assert!(
                matches!(invalid, Err(Undecompressed::Invalid(_))),
                "{encoding:?}: {invalid:?}"
            );
        }
    }
}
