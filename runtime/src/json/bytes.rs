//! The reader of proto3 JSON `bytes` that the generated JSON impls use, and the one decoder of base64 text that the query parameters check theirs with.
//!
//! protojson (grpc-gateway's JSON) reads the standard or the URL-safe alphabet, padded or not,
//! and, with Go's base64 decoder, skips the line breaks of MIME-style text (`openssl base64`
//! wraps at 64 columns): `"YWJj\r\nZGVm"` is `abcdef`. pbjson refuses the line breaks.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A `bytes` value read from base64 text (standard or URL-safe, padded or not, line breaks
/// skipped).
#[derive(Debug, Copy, Clone, PartialOrd, PartialEq, Hash, Ord, Eq)]
pub struct BytesDeserialize<T>(pub T);

impl<'de, T: From<Vec<u8>>> Deserialize<'de> for BytesDeserialize<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(deserializer.deserialize_str(Base64Visitor)?.into()))
    }
}

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        decode(text).map_err(E::custom)
    }
}

/// Decodes proto3 JSON's base64: the standard alphabet, else the URL-safe one when the text
/// has `-` or `_`; padded or not; line breaks skipped.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const PAD_EITHER: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, PAD_EITHER);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, PAD_EITHER);
    let text = without_line_breaks(text);
    match STANDARD.decode(text.as_bytes()) {
        Err(base64::DecodeError::InvalidByte(_, b'-' | b'_')) => URL_SAFE.decode(text.as_bytes()),
        other => other,
    }
}

/// `text` without the line breaks Go's base64 decoder skips (`\r`, `\n`); borrowed when it has
/// none, as it almost always has.
pub(crate) fn without_line_breaks(text: &str) -> Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        Cow::Owned(text.replace(['\r', '\n'], ""))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};

    use super::*;

    fn read(text: &str) -> Result<Vec<u8>, Error> {
        let deserializer: StrDeserializer<'_, Error> = text.into_deserializer();
        BytesDeserialize::<Vec<u8>>::deserialize(deserializer).map(|bytes| bytes.0)
    }

    #[test]
    fn either_alphabet_padded_or_not_and_line_breaks_skipped() {
        for text in [
            "YWJjZGVm",
            "YWJj\r\nZGVm",
            "YWJj\nZGVm\n",
            "YWJjZA==",
            "YWJjZA",
        ] {
            assert!(read(text).is_ok(), "{text:?}");
        }
        assert_eq!(read("YWJj\r\nZGVm").unwrap(), b"abcdef");
        assert_eq!(read("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(read("+/8=").unwrap(), [0xfb, 0xff]);
        for text in ["YW Jj", "YWJj!", "Y"] {
            assert!(read(text).is_err(), "{text:?}");
        }
    }
}
