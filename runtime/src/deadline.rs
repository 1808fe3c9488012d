//! The `grpc-timeout` header: parsing and formatting, per the gRPC over HTTP/2 spec
//! (`TimeoutValue` of at most 8 ASCII digits, then one unit of `H M S m u n`).
//!
//! tonic parses this header privately and silently ignores a malformed one; we need the parsed
//! value to build a [`Context`](crate::Context) and we reject bad values, so it lives here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use crate::{BoxStream, Status};

mod lazy;
pub(crate) use lazy::{Timeout, timeout_at};

/// The header that carries a call's timeout.
pub use crate::rpc::GRPC_TIMEOUT;

/// A `grpc-timeout` value that does not follow the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTimeout {
    value: String,
    reason: &'static str,
}

impl fmt::Display for InvalidTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed grpc-timeout header {:?}: {}",
            self.value, self.reason
        )
    }
}

impl std::error::Error for InvalidTimeout {}

/// Parses a `grpc-timeout` header value such as `250m` or `3S`.
pub fn parse_grpc_timeout(value: &[u8]) -> Result<Duration, InvalidTimeout> {
    parse_timeout(value, Reading::Grpc)
}

/// A REST request's `Grpc-Timeout` header, read as grpc-gateway reads it (its
/// `timeoutDecode`, Go's `strconv.ParseInt` before the unit): like [`parse_grpc_timeout`], but
/// with any number of digits (grpc-gateway's own tests send `100000007n`, nine of them) and an
/// optional `+`; an empty value is no timeout (grpc-gateway skips an empty header). A timeout
/// too long to represent saturates, and is then no deadline.
pub(crate) fn parse_rest_grpc_timeout(value: &[u8]) -> Result<Option<Duration>, InvalidTimeout> {
    if value.is_empty() {
        return Ok(None);
    }
    parse_timeout(value, Reading::Rest).map(Some)
}

/// Which rules a `grpc-timeout` value is read by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// gRPC's: at most 8 digits.
    Grpc,
    /// grpc-gateway's: any number of digits, after an optional `+`.
    Rest,
}

fn parse_timeout(value: &[u8], reading: Reading) -> Result<Duration, InvalidTimeout> {
    let invalid = |reason| InvalidTimeout {
        value: String::from_utf8_lossy(value).into_owned(),
        reason,
    };
    let Some((&unit, digits)) = value.split_last() else {
        return Err(invalid("the value is empty"));
    };
    let digits = match reading {
        Reading::Grpc => digits,
        Reading::Rest => digits.strip_prefix(b"+").unwrap_or(digits),
    };
    if digits.is_empty() {
        return Err(invalid("the value has no digits before its unit"));
    }
    if reading == Reading::Grpc && digits.len() > 8 {
        return Err(invalid("the value has more than 8 digits"));
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid(
            "the value must be ASCII digits followed by one unit",
        ));
    }
    // Saturating: only a REST value can have digits enough to overflow.
    let amount: u64 = digits.iter().fold(0, |acc: u64, digit| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    match unit {
        b'H' => Ok(Duration::from_secs(amount.saturating_mul(3600))),
        b'M' => Ok(Duration::from_secs(amount.saturating_mul(60))),
        b'S' => Ok(Duration::from_secs(amount)),
        b'm' => Ok(Duration::from_millis(amount)),
        b'u' => Ok(Duration::from_micros(amount)),
        b'n' => Ok(Duration::from_nanos(amount)),
        _ => Err(invalid("the unit must be one of H, M, S, m, u, n")),
    }
}

/// The units of `grpc-timeout`, finest first, with their length in nanoseconds.
const UNITS: [(u128, char); 6] = [
    (1, 'n'),
    (1_000, 'u'),
    (1_000_000, 'm'),
    (1_000_000_000, 'S'),
    (60_000_000_000, 'M'),
    (3_600_000_000_000, 'H'),
];

/// The most digits a `grpc-timeout` value may have: 8.
const MAX_AMOUNT: u128 = 99_999_999;

/// The absolute deadline a request's `grpc-timeout` header asks for, counted from now: none
/// without the header, or for a timeout too large to represent. The one reading of the header
/// for the gRPC server and the gateway.
pub(crate) fn deadline_from_headers(
    headers: &http::HeaderMap,
) -> Result<Option<Instant>, InvalidTimeout> {
    match headers.get(&crate::rpc::GRPC_TIMEOUT_NAME) {
        None => Ok(None),
        Some(value) => Ok(Instant::now().checked_add(parse_grpc_timeout(value.as_bytes())?)),
    }
}

/// [`deadline_from_headers`] of a REST request, its header read by
/// [`parse_rest_grpc_timeout`].
pub(crate) fn rest_deadline_from_headers(
    headers: &http::HeaderMap,
) -> Result<Option<Instant>, InvalidTimeout> {
    let Some(value) = headers.get(&crate::rpc::GRPC_TIMEOUT_NAME) else {
        return Ok(None);
    };
    Ok(parse_rest_grpc_timeout(value.as_bytes())?
        .and_then(|timeout| Instant::now().checked_add(timeout)))
}

/// Formats a timeout as a `grpc-timeout` value, choosing the finest unit that fits in 8 digits.
/// What does not fill a whole unit is dropped (rounding down), so that no hop downstream is
/// given more time than its caller has left.
pub fn format_grpc_timeout(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    for (per_unit, unit) in UNITS {
        let amount = nanos / per_unit;
        if amount <= MAX_AMOUNT {
            return format!("{amount}{unit}");
        }
    }
    format!("{MAX_AMOUNT}H")
}

/// The `grpc-timeout` a client sends for `timeout`: in the coarsest unit that still counts at
/// least 100 of them, rounded down, so that it is at most 1 % short of the time left (and never
/// over it). A value precise to the nanosecond is new on every call; at this precision calls
/// made within the same millisecond (or second, for long deadlines) send the same one, which
/// HPACK then sends as a one-byte reference to its table instead of a new literal that also
/// pushes the headers that do repeat out of the table.
///
/// The last value a thread made is kept and shared while it stays the same: formatting and
/// allocating it cost more than sending it.
pub(crate) fn coarse_grpc_timeout_value(timeout: Duration) -> http::HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<((u64, u8), http::HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let amount = coarse_amount(timeout);
    LAST.with_borrow_mut(|last| match last {
        Some((same, value)) if *same == amount => value.clone(),
        _ => {
            let text = format!("{}{}", amount.0, char::from(amount.1));
            let value = http::HeaderValue::from_str(&text).expect("digits and a unit letter");
            *last = Some((amount, value.clone()));
            value
        }
    })
}

/// The earliest a server told the time left to `deadline` at `now` (by
/// [`coarse_grpc_timeout_value`], at most 1 % short) can see that time run out.
pub(crate) fn earliest_server_deadline(deadline: Instant, now: Instant) -> Instant {
    deadline - deadline.saturating_duration_since(now) / 100
}

/// The amount and unit letter of [`coarse_grpc_timeout_value`], in 64-bit arithmetic (a `u128`
/// division is a library call) up to 2^64 nanoseconds (584 years).
fn coarse_amount(timeout: Duration) -> (u64, u8) {
    let Ok(nanos) = u64::try_from(timeout.as_nanos()) else {
        return ((timeout.as_secs() / 3_600).min(MAX_AMOUNT as u64), b'H');
    };
    for (per_unit, unit) in UNITS.into_iter().rev() {
        let amount = nanos / per_unit as u64;
        if amount >= 100 {
            // Only hours can run past 8 digits: a finer unit is taken below 100 of the next.
            return (amount.min(MAX_AMOUNT as u64), unit as u8);
        }
    }
    (nanos, b'n')
}

/// The status for a call whose deadline passed.
pub fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("deadline exceeded")
}

/// Cuts a stream at `deadline`: it then yields one `DEADLINE_EXCEEDED` and ends.
pub(crate) fn cut_stream<T: Send + 'static>(
    deadline: Option<Instant>,
    stream: BoxStream<T>,
) -> BoxStream<T> {
    match deadline {
        None => stream,
        Some(deadline) => Box::pin(DeadlineStream {
            inner: Some(stream),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            server_deadline: None,
        }),
    }
}

/// [`cut_stream`] for a client's response stream: besides, a `CANCELLED` from the stream at or
/// after `server_deadline` (the earliest the server's deadline may pass, by the `grpc-timeout`
/// it was sent) is the deadline's, and reported as `DEADLINE_EXCEEDED`.
pub(crate) fn cut_client_stream<T: Send + 'static>(
    deadline: Instant,
    server_deadline: Instant,
    stream: BoxStream<T>,
) -> BoxStream<T> {
    Box::pin(DeadlineStream {
        inner: Some(stream),
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        server_deadline: Some(server_deadline),
    })
}

struct DeadlineStream<T> {
    /// `None` once the deadline error has been yielded.
    inner: Option<BoxStream<T>>,
    deadline: Pin<Box<Sleep>>,
    server_deadline: Option<Instant>,
}

impl<T> Stream for DeadlineStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.inner = None;
            return Poll::Ready(Some(Err(deadline_exceeded())));
        }
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(status)))
                if status.code() == tonic::Code::Cancelled
                    && this
                        .server_deadline
                        .is_some_and(|server_deadline| Instant::now() >= server_deadline) =>
            {
                this.inner = None;
                Poll::Ready(Some(Err(deadline_exceeded())))
            }
            polled => polled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that fails with `CANCELLED` (as a server's reset reads) `after` from now.
    fn cancelled_after(after: Duration) -> BoxStream<()> {
        Box::pin(futures_util::stream::once(async move {
            tokio::time::sleep(after).await;
            Err(Status::cancelled("stream terminated by RST_STREAM"))
        }))
    }

    async fn first_code(mut stream: BoxStream<()>) -> tonic::Code {
        use futures_util::StreamExt;
        stream.next().await.unwrap().unwrap_err().code()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_stream_cancelled_once_the_server_deadline_passed_is_past_its_deadline() {
        // A deadline 200 ms away, of which the server was told 198 ms.
        let deadlines = || {
            let deadline = Instant::now() + Duration::from_millis(200);
            (deadline, deadline - Duration::from_millis(2))
        };
        // The server cancels 1 ms before the client's own deadline: the deadline's doing.
        let (deadline, server_deadline) = deadlines();
        let stream = cancelled_after(Duration::from_millis(199));
        let stream = cut_client_stream(deadline, server_deadline, stream);
        assert_eq!(first_code(stream).await, tonic::Code::DeadlineExceeded);
        // Well before it, a cancel is the server's own.
        let (deadline, server_deadline) = deadlines();
        let stream = cut_client_stream(
            deadline,
            server_deadline,
            cancelled_after(Duration::from_millis(50)),
        );
        assert_eq!(first_code(stream).await, tonic::Code::Cancelled);
        // A server's response stream, cut at its deadline, keeps what the stream says.
        let (deadline, _) = deadlines();
        let stream = cut_stream(Some(deadline), cancelled_after(Duration::from_millis(199)));
        assert_eq!(first_code(stream).await, tonic::Code::Cancelled);
    }

    #[test]
    fn parses_every_unit() {
        let cases: &[(&str, Duration)] = &[
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("3S", Duration::from_secs(3)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("99999999n", Duration::from_nanos(99_999_999)),
            ("0m", Duration::ZERO),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_grpc_timeout(text.as_bytes()), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_values() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("m", "no digits"),
            ("123456789m", "more than 8 digits"),
            ("1.5S", "ASCII digits"),
            ("-1S", "ASCII digits"),
            ("10", "unit"),
            ("10s", "unit"),
            ("10 m", "ASCII digits"),
        ];
        for (text, reason) in cases {
            let error = parse_grpc_timeout(text.as_bytes()).unwrap_err();
            assert!(error.to_string().contains(reason), "{text}: {error}");
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }

    #[test]
    fn formats_with_the_finest_unit_that_fits_and_round_trips() {
        let cases: &[(Duration, &str)] = &[
            (Duration::from_millis(250), "250000u"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(200_000), "200000S"),
            (Duration::from_nanos(1), "1n"),
            // Over 8 digits of a unit, what does not fill the next unit is dropped.
            (Duration::from_nanos(1_000_000_999), "1000000u"),
            (Duration::from_nanos(99_999_999_999), "99999999u"),
            (Duration::from_micros(199_999_999_999), "199999S"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_grpc_timeout(*duration), *text, "{duration:?}");
            let back = parse_grpc_timeout(text.as_bytes()).unwrap();
            assert!(back <= *duration, "{duration:?}: {back:?}");
        }
        assert_eq!(format_grpc_timeout(Duration::MAX), "99999999H");
    }

    #[test]
    fn a_repeated_timeout_shares_its_header_value() {
        let first = coarse_grpc_timeout_value(Duration::from_micros(299_400));
        let same = coarse_grpc_timeout_value(Duration::from_micros(299_900));
        assert_eq!(same, "299m");
        assert_eq!(first.as_bytes().as_ptr(), same.as_bytes().as_ptr());
        let next = coarse_grpc_timeout_value(Duration::from_millis(298));
        assert_eq!(next, "298m");
        assert_ne!(next.as_bytes().as_ptr(), same.as_bytes().as_ptr());
    }

    #[test]
    fn a_clients_timeout_is_at_most_one_percent_short() {
        let cases = [
            (Duration::from_nanos(99_999), "99999n"),
            (Duration::from_micros(250), "250u"),
            (Duration::from_nanos(299_987_543), "299m"),
            (Duration::from_millis(300), "300m"),
            (Duration::from_nanos(1_000_000_999), "1000m"),
            (Duration::from_secs(30), "30000m"),
            (Duration::from_secs(3_600), "3600S"),
            (Duration::from_secs(360_000), "100H"),
            (Duration::from_secs(600 * 366 * 86_400), "5270400H"),
            (Duration::MAX, "99999999H"),
        ];
        for (duration, text) in cases {
            assert_eq!(coarse_grpc_timeout_value(duration), text, "{duration:?}");
            let back = parse_grpc_timeout(text.as_bytes()).unwrap();
            assert!(back <= duration, "{duration:?}: {back:?}");
            if duration < Duration::from_secs(1 << 40) {
                assert!(
                    back.as_secs_f64() >= duration.as_secs_f64() * 0.99,
                    "{duration:?}"
                );
                // The bound a client reads a server's cancel by.
                let now = Instant::now();
                let earliest = earliest_server_deadline(now + duration, now);
                assert!(now + back >= earliest, "{duration:?}");
            }
        }
    }
}
