//! `google.protobuf.Timestamp` in its proto3 JSON form: RFC 3339, written in UTC.

use std::fmt;
use std::time::SystemTime;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

/// `google.protobuf.Timestamp` with its proto3 JSON form, an RFC 3339 string.
///
/// Writing is "Z-normalized" with 0, 3, 6 or 9 fractional digits, as the proto3 JSON mapping
/// requires (`2024-01-02T02:04:05.500Z`; pbjson-types' writes `+00:00` and any number of
/// digits), and fails, as in protobuf-go's `protojson`, outside years 0001..=9999 or for `nanos`
/// outside `0..1_000_000_000`. Reading accepts any offset and 1 to 9 fractional digits; the date
/// and time must exist (no leap second `60`), and `T` and `Z` are upper case, as protojson and
/// Go's `time.RFC3339` (grpc-gateway's query parser) require (the conformance suite's
/// `TimestampJsonInputLowercaseT`, though RFC 3339 itself allows lower case).
///
/// ```
/// use rust_svc_runtime::wkt::Timestamp;
///
/// let at: Timestamp = serde_json::from_str(r#""2024-01-02T03:04:05.5+01:00""#).unwrap();
/// assert_eq!((at.seconds, at.nanos), (1_704_161_045, 500_000_000));
/// assert_eq!(serde_json::to_string(&at).unwrap(), r#""2024-01-02T02:04:05.500Z""#);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fractions of a second at nanosecond resolution, `0..=999_999_999`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl ::prost::Name for Timestamp {
    const NAME: &'static str = "Timestamp";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        "type.googleapis.com/google.protobuf.Timestamp".to_owned()
    }
}

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range of a valid timestamp.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// A string that is no RFC 3339 timestamp in years 0001..=9999, or a [`Timestamp`] with no
/// RFC 3339 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTimestamp(String);

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidTimestamp {}

impl Timestamp {
    /// Reads an RFC 3339 timestamp (`2016-12-15T12:23:32.000000049Z`, `…+05:30`).
    pub fn from_rfc3339(text: &str) -> Result<Self, InvalidTimestamp> {
        let invalid = || InvalidTimestamp(format!("{text:?} is not a valid RFC 3339 timestamp"));
        let bytes = text.as_bytes();
        let number = |range: std::ops::Range<usize>| -> Result<i64, InvalidTimestamp> {
            let digits = bytes.get(range).ok_or_else(invalid)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(invalid());
            }
            Ok(digits
                .iter()
                .fold(0, |acc, digit| acc * 10 + i64::from(digit - b'0')))
        };
        let separator = |at: usize, allowed: &[u8]| match bytes.get(at) {
            Some(byte) if allowed.contains(byte) => Ok(()),
            _ => Err(invalid()),
        };
        let year = number(0..4)?;
        separator(4, b"-")?;
        let month = number(5..7)?;
        separator(7, b"-")?;
        let day = number(8..10)?;
        separator(10, b"T")?;
        let hour = number(11..13)?;
        separator(13, b":")?;
        let minute = number(14..16)?;
        separator(16, b":")?;
        let second = number(17..19)?;
        let mut at = 19;
        let mut nanos = 0;
        if bytes.get(at) == Some(&b'.') {
            let digits = bytes[at + 1..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            // protojson's limit: nanosecond resolution, no digit dropped silently.
            if digits == 0 || digits > 9 {
                return Err(invalid());
            }
            let fraction = number(at + 1..at + 1 + digits)?;
            nanos = fraction * 10_i64.pow(9 - digits as u32);
            at += 1 + digits;
        }
        let offset = match bytes.get(at) {
            Some(b'Z') if bytes.len() == at + 1 => 0,
            Some(sign @ (b'+' | b'-')) if bytes.len() == at + 6 => {
                separator(at + 3, b":")?;
                let (hours, minutes) = (number(at + 1..at + 3)?, number(at + 4..at + 6)?);
                if hours > 23 || minutes > 59 {
                    return Err(invalid());
                }
                let offset = hours * 3600 + minutes * 60;
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return Err(invalid()),
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(invalid());
        }
        let seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
                - offset;
        if seconds < MIN_SECONDS {
            return Err(InvalidTimestamp(format!("{text:?} is before 0001-01-01")));
        }
        if seconds > MAX_SECONDS {
            return Err(InvalidTimestamp(format!("{text:?} is after 9999-12-31")));
        }
        Ok(Self {
            seconds,
            nanos: nanos as i32,
        })
    }

    /// The proto3 JSON form: RFC 3339 in UTC (`Z`) with 0, 3, 6 or 9 fractional digits, the
    /// fewest that carry `nanos` exactly.
    pub fn to_rfc3339(&self) -> Result<String, InvalidTimestamp> {
        let mut text = [0_u8; RFC3339_MAX];
        let len = self.write_rfc3339(&mut text)?;
        Ok(ascii(&text[..len]).to_owned())
    }

    /// Writes [`Self::to_rfc3339`]'s text into `text` and returns its length: what serializing
    /// a timestamp writes, without a `String` for each one.
    fn write_rfc3339(&self, text: &mut [u8; RFC3339_MAX]) -> Result<usize, InvalidTimestamp> {
        let Self { seconds, nanos } = *self;
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
            return Err(InvalidTimestamp(format!(
                "google.protobuf.Timestamp seconds {seconds} is not in years 0001..=9999"
            )));
        }
        if !(0..1_000_000_000).contains(&nanos) {
            return Err(InvalidTimestamp(format!(
                "google.protobuf.Timestamp nanos {nanos} is not in 0..=999999999"
            )));
        }
        let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
        );
        // Digits written into a buffer rather than through `format!`, whose machinery was most
        // of what a gateway response with a timestamp cost to write; each digit by division
        // by the constant 10, which compiles to a multiplication.
        put_digits(&mut text[0..4], year);
        text[4] = b'-';
        put_digits(&mut text[5..7], month);
        text[7] = b'-';
        put_digits(&mut text[8..10], day);
        text[10] = b'T';
        put_digits(&mut text[11..13], hour);
        text[13] = b':';
        put_digits(&mut text[14..16], minute);
        text[16] = b':';
        put_digits(&mut text[17..19], second);
        let mut len = 19;
        if nanos != 0 {
            let nanos = i64::from(nanos);
            let (fraction, digits) = if nanos % 1_000_000 == 0 {
                (nanos / 1_000_000, 3)
            } else if nanos % 1_000 == 0 {
                (nanos / 1_000, 6)
            } else {
                (nanos, 9)
            };
            text[len] = b'.';
            put_digits(&mut text[len + 1..len + 1 + digits], fraction);
            len += 1 + digits;
        }
        text[len] = b'Z';
        Ok(len + 1)
    }
}

/// The longest RFC 3339 text a timestamp has: `9999-12-31T23:59:59.999999999Z`.
const RFC3339_MAX: usize = 30;

/// Text that [`Timestamp::write_rfc3339`] wrote: only ASCII digits and separators.
fn ascii(text: &[u8]) -> &str {
    std::str::from_utf8(text).expect("a timestamp's text is ASCII")
}

/// Writes the lowest decimal digits of `value` (not negative) into `digits`, zero-padded.
fn put_digits(digits: &mut [u8], mut value: i64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `time` as a [`Timestamp`] (the same as `Timestamp::from(time)`).
pub fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::from(time)
}

/// `timestamp` as a `SystemTime` (normalized first), or `None` when the platform cannot
/// represent it.
pub fn system_time(timestamp: &Timestamp) -> ::core::option::Option<SystemTime> {
    SystemTime::try_from(prost_types::Timestamp::from(*timestamp)).ok()
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        prost_types::Timestamp::from(time).into()
    }
}

impl From<prost_types::Timestamp> for Timestamp {
    fn from(timestamp: prost_types::Timestamp) -> Self {
        Self {
            seconds: timestamp.seconds,
            nanos: timestamp.nanos,
        }
    }
}

impl From<Timestamp> for prost_types::Timestamp {
    fn from(timestamp: Timestamp) -> Self {
        Self {
            seconds: timestamp.seconds,
            nanos: timestamp.nanos,
        }
    }
}

impl From<pbjson_types::Timestamp> for Timestamp {
    fn from(timestamp: pbjson_types::Timestamp) -> Self {
        Self {
            seconds: timestamp.seconds,
            nanos: timestamp.nanos,
        }
    }
}

impl From<Timestamp> for pbjson_types::Timestamp {
    fn from(timestamp: Timestamp) -> Self {
        Self {
            seconds: timestamp.seconds,
            nanos: timestamp.nanos,
        }
    }
}

/// What pbjson-types' `Timestamp` converted from, so that code written for it still compiles.
impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(time: chrono::DateTime<chrono::Utc>) -> Self {
        pbjson_types::Timestamp::from(time).into()
    }
}

impl TryFrom<Timestamp> for chrono::DateTime<chrono::Utc> {
    type Error = &'static str;

    fn try_from(timestamp: Timestamp) -> Result<Self, Self::Error> {
        pbjson_types::Timestamp::from(timestamp).try_into()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0_u8; RFC3339_MAX];
        let len = self.write_rfc3339(&mut text).map_err(ser::Error::custom)?;
        serializer.serialize_str(ascii(&text[..len]))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rfc3339Visitor;

        impl Visitor<'_> for Rfc3339Visitor {
            type Value = Timestamp;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an RFC 3339 timestamp string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::from_rfc3339(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Rfc3339Visitor)
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    fn at(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn written_digits_are_what_format_writes_across_the_range() {
        // A stride through every year the type allows, with nanos of each precision.
        let mut seconds = MIN_SECONDS;
        let mut round = 0_i64;
        while seconds <= MAX_SECONDS {
            let nanos = [0, 7_000_000, 123_456_000, 987_654_321][(round % 4) as usize];
            let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
            let (year, month, day) = civil_from_days(days);
            let fraction = match nanos {
                0 => String::new(),
                n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
                n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
                n => format!(".{n:09}"),
            };
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
                second_of_day / 3600,
                second_of_day / 60 % 60,
                second_of_day % 60
            );
            assert_eq!(at(seconds, nanos).to_rfc3339().unwrap(), expected);
            seconds += 7_777_777_777 + round;
            round += 1;
        }
        assert!(round > 30);
    }

    #[test]
    fn writing_is_z_normalized_with_0_3_6_or_9_fractional_digits() {
        let cases = [
            (at(0, 0), "1970-01-01T00:00:00Z"),
            (at(1_704_161_045, 500_000_000), "2024-01-02T02:04:05.500Z"),
            (at(1_704_162_845, 1_000), "2024-01-02T02:34:05.000001Z"),
            (at(1_704_162_845, 120_000), "2024-01-02T02:34:05.000120Z"),
            (at(1_481_804_612, 49), "2016-12-15T12:23:32.000000049Z"),
            (
                at(951_782_400, 999_999_999),
                "2000-02-29T00:00:00.999999999Z",
            ),
            (at(-1, 0), "1969-12-31T23:59:59Z"),
            (at(MIN_SECONDS, 0), "0001-01-01T00:00:00Z"),
            (at(MAX_SECONDS, 999_000_000), "9999-12-31T23:59:59.999Z"),
        ];
        for (timestamp, text) in cases {
            assert_eq!(timestamp.to_rfc3339().unwrap(), text);
            assert_eq!(serde_json::to_value(timestamp).unwrap(), json!(text));
            let back: Timestamp = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(back, timestamp, "{text}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_converts_both_ways() {
        // 1600-03-01 to 2000-02-29 and on: leap years, centuries and the 400-year rule.
        for days in days_from_civil(1600, 1, 1)..days_from_civil(2001, 1, 1) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month));
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
    }

    #[test]
    fn reading_accepts_offsets_and_short_fractions() {
        let cases = [
            (
                "2024-01-02T03:04:05.5+01:00",
                at(1_704_161_045, 500_000_000),
            ),
            ("2024-01-02T03:04:05.000001-00:30", at(1_704_166_445, 1_000)),
            ("2016-12-15T12:23:32.000000049Z", at(1_481_804_612, 49)),
            ("0001-01-01T00:30:00+00:30", at(MIN_SECONDS, 0)),
            (
                "9999-12-31T23:59:59.999999999Z",
                at(MAX_SECONDS, 999_999_999),
            ),
        ];
        for (text, timestamp) in cases {
            assert_eq!(Timestamp::from_rfc3339(text), Ok(timestamp), "{text}");
        }
    }

    #[test]
    fn strings_that_are_no_timestamp_fail_to_read() {
        for text in [
            "2016-12-15",
            "2016-12-15 12:23:32Z",
            "2016-12-15t12:23:32Z",
            "2016-12-15T12:23:32z",
            "2016-12-15T12:23:32",
            "2015-02-29T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-12-15T24:00:00Z",
            "2016-12-15T23:59:60Z",
            "2016-12-15T12:23:32.Z",
            "2016-12-15T12:23:32.0123456789Z",
            "2016-12-15T12:23:32+0530",
            "2016-12-15T12:23:32+24:00",
            "2016-12-15T12:23:32Zjunk",
            "+2016-12-15T12:23:32Z",
        ] {
            let error = serde_json::from_value::<Timestamp>(json!(text)).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("is not a valid RFC 3339 timestamp"),
                "{text}: {error}"
            );
        }
        let error = Timestamp::from_rfc3339("0001-01-01T00:00:00+01:00").unwrap_err();
        assert!(
            error.to_string().ends_with("is before 0001-01-01"),
            "{error}"
        );
        let error = Timestamp::from_rfc3339("9999-12-31T23:59:59-01:00").unwrap_err();
        assert!(
            error.to_string().ends_with("is after 9999-12-31"),
            "{error}"
        );
        let error = serde_json::from_value::<Timestamp>(json!(1_700_000_000)).unwrap_err();
        assert!(
            error.to_string().contains("RFC 3339 timestamp string"),
            "{error}"
        );
    }

    #[test]
    fn timestamps_without_an_rfc3339_form_fail_to_write() {
        for (timestamp, problem) in [
            (at(MIN_SECONDS - 1, 0), "not in years 0001..=9999"),
            (at(MAX_SECONDS + 1, 0), "not in years 0001..=9999"),
            (at(0, -1), "nanos -1"),
            (at(0, 1_000_000_000), "nanos 1000000000"),
        ] {
            let error = serde_json::to_string(&timestamp).unwrap_err();
            assert!(error.to_string().contains(problem), "{error}");
        }
    }

    #[test]
    fn timestamps_convert_from_and_to_system_time() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 250);
        let converted = timestamp(time);
        assert_eq!((converted.seconds, converted.nanos), (1_700_000_000, 250));
        assert_eq!(Timestamp::from(time), converted);
        assert_eq!(system_time(&converted), Some(time));
        let unnormalized = at(1, -5);
        assert_eq!(
            system_time(&unnormalized),
            Some(std::time::UNIX_EPOCH + std::time::Duration::new(0, 999_999_995))
        );
    }

    #[test]
    fn timestamps_convert_to_the_other_crates_types() {
        let ours = at(1_700_000_000, 250);
        let theirs = pbjson_types::Timestamp::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!((theirs.seconds, theirs.nanos), (1_700_000_000, 250));
        assert_eq!(Timestamp::from(theirs), ours);
        assert_eq!(pbjson_types::Timestamp::from(ours), theirs);
        assert_eq!(Timestamp::from(prost_types::Timestamp::from(ours)), ours);
        let time = chrono::DateTime::<chrono::Utc>::try_from(ours).unwrap();
        assert_eq!(time.timestamp_subsec_nanos(), 250);
        assert_eq!(Timestamp::from(time), ours);
        assert!(chrono::DateTime::<chrono::Utc>::try_from(at(0, -1)).is_err());
        assert_eq!(
            <Timestamp as prost::Name>::full_name(),
            "google.protobuf.Timestamp"
        );
    }
}
