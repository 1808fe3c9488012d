//! Which of the headers the gateway reads a request carries, found in one pass over them.
//!
//! A request is asked for up to eight headers on its way to a handler (its `Content-Type` three
//! times over, `Accept`, `Origin`, `Upgrade`, `Grpc-Timeout`, `TE`, and whether any is binary
//! metadata), and most requests carry few of them. Looking up a name the map lacks still hashes
//! it; a walk over the names the request has, compared by their parsed form, finds them all at
//! once, and the lookups that follow are only made for the names found.

use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_TYPE, HOST, ORIGIN, TE, UPGRADE};

use super::is_binary_metadata_header;
use crate::rpc::GRPC_TIMEOUT_NAME;

/// The headers the gateway reads that a request has (each flag: at least one value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Present {
    pub(crate) content_type: bool,
    pub(crate) accept: bool,
    pub(crate) origin: bool,
    pub(crate) upgrade: bool,
    pub(crate) grpc_timeout: bool,
    /// `TE`, which may ask for the response's trailers as HTTP trailers.
    pub(crate) te: bool,
    /// A `Grpc-Metadata-<key>-bin` header, which the default rules may refuse.
    pub(crate) binary_metadata: bool,
    /// How many `Host` values (up to 2: one more than allowed is enough to know).
    pub(crate) hosts: u8,
    /// A `Host` value with a byte no host has (see [`is_host_byte`]).
    pub(crate) invalid_host: bool,
}

impl Present {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut present = Self::default();
        // Every value, not every name: a second `Host` is an error (RFC 9112 §3.2), and this
        // pass counts it without another lookup.
        for (name, value) in headers {
            // Standard names compare by their parsed tag, the rest by their bytes.
            if name == HOST {
                present.hosts = present.hosts.saturating_add(1).min(2);
                present.invalid_host |= !value.as_bytes().iter().all(|&byte| is_host_byte(byte));
            } else if name == CONTENT_TYPE {
                present.content_type = true;
            } else if name == ACCEPT {
                present.accept = true;
            } else if name == ORIGIN {
                present.origin = true;
            } else if name == UPGRADE {
                present.upgrade = true;
            } else if name == GRPC_TIMEOUT_NAME {
                present.grpc_timeout = true;
            } else if name == TE {
                present.te = true;
            } else if is_binary_metadata_header(name) {
                present.binary_metadata = true;
            }
        }
        present
    }
}

/// Whether `byte` may appear in a `Host` value: a registered name, an IP literal in brackets
/// and a port (RFC 3986's characters for them, percent-encoding included), as Go's
/// `httpguts.ValidHostHeader` checks it. A table lookup per byte: this runs on every request.
fn is_host_byte(byte: u8) -> bool {
    HOST_BYTES[usize::from(byte)]
}

const HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b':'
                    | b';'
                    | b'='
                    | b'['
                    | b']'
                    | b'_'
                    | b'~'
            );
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(names: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for name in names {
            headers.append(*name, HeaderValue::from_static("x"));
        }
        headers
    }

    #[test]
    fn a_request_without_the_headers_has_none() {
        assert_eq!(Present::of(&HeaderMap::new()), Present::default());
        assert_eq!(
            Present::of(&headers(&["host", "user-agent", "grpc-metadata-tenant"])),
            Present {
                hosts: 1,
                ..Present::default()
            }
        );
    }

    #[test]
    fn host_values_are_counted_and_read() {
        let two = Present::of(&headers(&["host", "Host", "HOST"]));
        assert_eq!((two.hosts, two.invalid_host), (2, false));
        let mut bad = HeaderMap::new();
        bad.insert("host", HeaderValue::from_static("a b"));
        assert!(Present::of(&bad).invalid_host);
        let mut good = HeaderMap::new();
        good.insert("host", HeaderValue::from_static("[::1]:8080"));
        assert!(!Present::of(&good).invalid_host);
    }

    #[test]
    fn each_header_read_is_found_whatever_its_case_or_count() {
        let found = Present::of(&headers(&[
            "Content-Type",
            "accept",
            "Accept",
            "origin",
            "upgrade",
            "Grpc-Timeout",
            "TE",
            "grpc-metadata-trace-bin",
        ]));
        assert_eq!(
            found,
            Present {
                content_type: true,
                accept: true,
                origin: true,
                upgrade: true,
                grpc_timeout: true,
                te: true,
                binary_metadata: true,
                hosts: 0,
                invalid_host: false,
            }
        );
        assert!(Present::of(&headers(&["grpc-metadata-x-bin"])).binary_metadata);
        assert!(!Present::of(&headers(&["x-bin"])).binary_metadata);
    }
}
