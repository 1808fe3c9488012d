//! Percent-decoding of captured path values, the way google/api/http.proto specifies it.

use std::borrow::Cow;
use std::fmt;

/// Why a captured value could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hex digits, at this byte of the value.
    Malformed { offset: usize, escape: String },
    /// The decoded bytes are not UTF-8 (the fields a path binds are strings or parsed from them).
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed { offset, escape } => write!(
                f,
                "malformed percent-encoding `{escape}` at byte {offset} of the value"
            ),
            DecodeError::NotUtf8 => f.write_str("percent-decoded value is not valid UTF-8"),
        }
    }
}

/// RFC 6570 reserved characters: `:/?#[]@!$&'()*+,;=`. A multi-segment variable keeps their
/// escapes, so that a decoded `/` can never be confused with a segment separator.
pub(crate) fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. With `keep_reserved`, escapes of reserved characters stay as written
/// (`%2F` and `%2f` stay, per http.proto); every escape must still be well-formed. `+` is not a
/// space in a path.
pub(crate) fn decode(raw: &str, keep_reserved: bool) -> Result<Cow<'_, str>, DecodeError> {
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%') else {
        // The common case: nothing to decode, nothing to allocate.
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let digits = bytes
            .get(i + 1)
            .copied()
            .and_then(hex_value)
            .and_then(|hi| {
                let lo = bytes.get(i + 2).copied().and_then(hex_value)?;
                Some(hi << 4 | lo)
            });
        let Some(decoded) = digits else {
            let end = (i + 3).min(bytes.len());
            return Err(DecodeError::Malformed {
                offset: i,
                escape: String::from_utf8_lossy(&bytes[i..end]).into_owned(),
            });
        };
        if keep_reserved && is_reserved(decoded) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(decoded);
        }
        i += 3;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_http_proto_says() {
        let cases: &[(&str, bool, Result<&str, &str>)] = &[
            ("plain", false, Ok("plain")),
            ("p%20q%2Fr+", false, Ok("p q/r+")),
            ("caf%C3%A9", false, Ok("café")),
            ("a%2Fb%2fc%20d", true, Ok("a%2Fb%2fc d")),
            ("%21%40%7E", true, Ok("%21%40~")),
            (
                "%",
                false,
                Err("malformed percent-encoding `%` at byte 0 of the value"),
            ),
            (
                "ab%2",
                true,
                Err("malformed percent-encoding `%2` at byte 2 of the value"),
            ),
            (
                "%zz1",
                false,
                Err("malformed percent-encoding `%zz` at byte 0 of the value"),
            ),
            (
                "%FF",
                false,
                Err("percent-decoded value is not valid UTF-8"),
            ),
            ("%C3", true, Err("percent-decoded value is not valid UTF-8")),
        ];
        for &(raw, keep, want) in cases {
            let got = decode(raw, keep).map_err(|e| e.to_string());
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                want,
                "decode({raw:?}, {keep})"
            );
        }
    }

    #[test]
    fn undecoded_values_are_borrowed() {
        assert!(matches!(decode("abc", false), Ok(Cow::Borrowed("abc"))));
    }
}
