//! `google.protobuf.Duration` in its proto3 JSON form, within the range the type allows.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `google.protobuf.Duration` with its proto3 JSON form, `"1.5s"`: pbjson-types' reading and
/// writing, but a duration outside the type's range (±315,576,000,000 seconds, about 10,000
/// years, with `nanos` of the same sign) is refused when read, as protojson refuses it (the
/// conformance suite's `DurationJsonInputTooLarge`); pbjson-types reads any number of seconds.
///
/// ```
/// use rust_svc_runtime::wkt::Duration;
///
/// let wait: Duration = serde_json::from_str(r#""1.5s""#).unwrap();
/// assert_eq!((wait.seconds, wait.nanos), (1, 500_000_000));
/// assert!(serde_json::from_str::<Duration>(r#""315576000001s""#).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Duration {
    /// Whole seconds, `-315_576_000_000..=315_576_000_000`.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Fractions of a second at nanosecond resolution, `-999_999_999..=999_999_999`, of the
    /// sign of `seconds` when that is not zero.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl ::prost::Name for Duration {
    const NAME: &'static str = "Duration";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        "type.googleapis.com/google.protobuf.Duration".to_owned()
    }
}

/// The largest number of seconds a Duration holds: 10,000 years.
const MAX_SECONDS: i64 = 315_576_000_000;

impl Duration {
    /// Whether the duration is within the range the type allows.
    pub fn is_valid(&self) -> bool {
        (-MAX_SECONDS..=MAX_SECONDS).contains(&self.seconds)
            && (-999_999_999..=999_999_999).contains(&self.nanos)
            && (self.seconds == 0 || self.nanos == 0 || (self.seconds < 0) == (self.nanos < 0))
    }
}

impl From<pbjson_types::Duration> for Duration {
    fn from(duration: pbjson_types::Duration) -> Self {
        Self {
            seconds: duration.seconds,
            nanos: duration.nanos,
        }
    }
}

impl From<Duration> for pbjson_types::Duration {
    fn from(duration: Duration) -> Self {
        Self {
            seconds: duration.seconds,
            nanos: duration.nanos,
        }
    }
}

impl From<prost_types::Duration> for Duration {
    fn from(duration: prost_types::Duration) -> Self {
        Self {
            seconds: duration.seconds,
            nanos: duration.nanos,
        }
    }
}

impl From<Duration> for prost_types::Duration {
    fn from(duration: Duration) -> Self {
        Self {
            seconds: duration.seconds,
            nanos: duration.nanos,
        }
    }
}

/// What pbjson-types' `Duration` converted from and to, so that code written for it compiles.
impl From<std::time::Duration> for Duration {
    fn from(duration: std::time::Duration) -> Self {
        pbjson_types::Duration::from(duration).into()
    }
}

impl TryFrom<Duration> for std::time::Duration {
    type Error = std::num::TryFromIntError;

    fn try_from(duration: Duration) -> Result<Self, Self::Error> {
        pbjson_types::Duration::from(duration).try_into()
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        pbjson_types::Duration::from(*self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let duration = Self::from(pbjson_types::Duration::deserialize(deserializer)?);
        if !duration.is_valid() {
            return Err(serde::de::Error::custom(format!(
                "google.protobuf.Duration value out of range: {}s (at most {MAX_SECONDS}s \
                 either way)",
                duration.seconds
            )));
        }
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_and_writes_as_pbjson_types_within_the_range() {
        for text in [
            "1.5s",
            "-0.5s",
            "0s",
            "315576000000s",
            "-315576000000.999999999s",
        ] {
            let ours: Duration = serde_json::from_value(json!(text)).unwrap();
            let theirs: pbjson_types::Duration = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(ours, Duration::from(theirs), "{text}");
            assert_eq!(
                serde_json::to_value(ours).unwrap(),
                serde_json::to_value(theirs).unwrap()
            );
        }
    }

    #[test]
    fn a_duration_past_ten_thousand_years_is_refused() {
        for text in ["315576000001s", "-315576000001s", "999999999999999s"] {
            let error = serde_json::from_value::<Duration>(json!(text)).unwrap_err();
            assert!(
                error.to_string().contains("out of range"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn has_pbjson_types_wire_form_and_conversions() {
        let ours = Duration::from(std::time::Duration::from_millis(1_500));
        assert_eq!((ours.seconds, ours.nanos), (1, 500_000_000));
        let theirs = pbjson_types::Duration::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!(Duration::from(theirs), ours);
        assert_eq!(
            std::time::Duration::try_from(ours).unwrap(),
            std::time::Duration::from_millis(1_500)
        );
    }
}
