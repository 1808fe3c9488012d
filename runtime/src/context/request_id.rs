//! The request id of a call: a slot of its [`Context`](super::Context), which the request-id
//! interceptor fills and the generated clients send on as `x-request-id`.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;

/// The longest request id taken from a caller; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id of a call. Cheap to clone: it holds the header value it came in (or goes
/// out) as, so passing it on copies no bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A new id: a UUID v7, so that ids sort by creation time and index well.
    pub fn generate() -> Self {
        Self::from_unix_millis(unix_millis(std::time::SystemTime::now()))
    }

    /// A new id stamped with `at`, a time the caller has already read (the start of the call),
    /// instead of reading the wall clock again: `at` is placed on the wall clock against the
    /// first reading of both clocks this process made. Ids made this way sort by when their
    /// calls started even if the wall clock is stepped meanwhile, as RFC 9562 (6.2) asks of a
    /// UUID v7's timestamp.
    pub(crate) fn generate_at(at: tokio::time::Instant) -> Self {
        static ANCHOR: OnceLock<(std::time::Instant, Duration)> = OnceLock::new();
        let (anchor, anchor_wall) = *ANCHOR.get_or_init(|| {
            let wall = SystemTime::now().duration_since(UNIX_EPOCH);
            (std::time::Instant::now(), wall.unwrap_or_default())
        });
        let at = at.into_std();
        let wall = match at.checked_duration_since(anchor) {
            Some(after) => anchor_wall.saturating_add(after),
            None => anchor_wall.saturating_sub(anchor - at),
        };
        let millis = millis_of(wall);
        Self::from_unix_millis(millis)
    }

    fn from_unix_millis(millis: u64) -> Self {
        // The random bits from the thread-local `fastrand` generator rather than
        // `Uuid::now_v7`, which asks the OS for randomness: a system call per request.
        let mut random = [0; 10];
        fastrand::fill(&mut random);
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        // One allocation that every copy (the response header, the downstream calls) shares.
        let value = HeaderValue::from_maybe_shared(Bytes::from_owner(text))
            .expect("a UUID is a valid header value");
        Self(value)
    }

    /// `id` if it is sane to log and pass on: 1 to [`MAX_REQUEST_ID_LEN`] bytes of printable
    /// ASCII. A caller controls what it sends, so anything else (control characters that could
    /// forge log lines, unbounded lengths) is refused.
    pub fn parse(id: &str) -> Option<Self> {
        if !is_sane(id.as_bytes()) {
            return None;
        }
        HeaderValue::from_str(id).ok().map(Self)
    }

    /// The id a caller sent as `value`, if it is sane (see [`parse`](Self::parse)); shares
    /// the value's bytes.
    pub(crate) fn from_header(value: &HeaderValue) -> Option<Self> {
        is_sane(value.as_bytes()).then(|| Self(value.clone()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Printable ASCII by construction (`parse` and `from_header` check it, a UUID is).
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value to send, marked never-indexed: an id is new on every call, so
    /// it is not worth a slot in the connection's HPACK table (see `rpc::never_indexed`).
    pub(crate) fn to_header_value(&self) -> HeaderValue {
        let mut value = self.0.clone();
        value.set_sensitive(true);
        value
    }
}

fn unix_millis(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, millis_of)
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.iter().all(|byte| (b' '..=b'~').contains(byte))
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuid_v7_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        let uuid = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(format!("{a:?}"), format!("RequestId({:?})", a.as_str()));
    }

    fn millis(id: &RequestId) -> u64 {
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
        seconds * 1000 + u64::from(nanos) / 1_000_000
    }

    #[test]
    fn ids_stamped_with_a_start_time_carry_that_time_on_the_wall_clock() {
        let now = tokio::time::Instant::now();
        let wall = unix_millis(SystemTime::now());
        let id = RequestId::generate_at(now);
        // The anchor and this test read the two clocks at slightly different moments.
        assert!(
            millis(&id).abs_diff(wall) < 1_000,
            "{} vs {wall}",
            millis(&id)
        );

        let later = RequestId::generate_at(now + Duration::from_secs(90));
        assert_eq!(millis(&later) - millis(&id), 90_000);
        let earlier = RequestId::generate_at(now - Duration::from_secs(5));
        assert_eq!(millis(&id) - millis(&earlier), 5_000);
        assert_ne!(id, RequestId::generate_at(now));
    }

    #[test]
    fn only_sane_ids_are_taken() {
        for insane in [
            String::new(),
            "x".repeat(MAX_REQUEST_ID_LEN + 1),
            "a\tb".into(),
            "caf\u{e9}".into(),
        ] {
            assert_eq!(RequestId::parse(&insane), None, "{insane:?}");
            let value = HeaderValue::from_bytes(insane.as_bytes());
            if let Ok(value) = value {
                assert_eq!(RequestId::from_header(&value), None, "{insane:?}");
            }
        }
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(RequestId::parse(&longest).unwrap().as_str(), longest);
        let sent = HeaderValue::from_static("req-1");
        let id = RequestId::from_header(&sent).unwrap();
        assert_eq!(id.as_str(), "req-1");
        assert!(id.to_header_value().is_sensitive());
        assert!(!sent.is_sensitive());
    }
}
