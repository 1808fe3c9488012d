//! The reader of proto3 JSON numbers that the generated JSON impls use.
//!
//! proto3 JSON writes a number either as a JSON number or as a string holding one (64-bit
//! integers as strings, floats' `"NaN"` and `"Infinity"`), and a reader accepts both. pbjson's
//! `NumberDeserialize` reads them through an untagged enum, and serde reads an untagged enum by
//! copying the value into a buffer first and trying each variant on the copy. That cost about
//! 2,400 instructions per number: a `ReserveItems` body with two line items spent half its
//! decoding there. This one asks the deserializer for whatever it has and takes a number as it
//! comes, or parses a string, with the same results. Its errors are worded differently, and
//! the gateway names the problem in its own words anyway (see `query::convert::json_problem`).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};

/// A number read from a JSON number or from a string holding one.
///
/// Where it reads what pbjson's does not, or refuses what it reads, it follows the proto3 JSON
/// mapping as the protobuf conformance suite holds protobuf-go's `protojson` and C++ to it: an
/// integer field takes a whole number written as a float (`100000.000`, `1e5`,
/// `-2.147483648e9`: `Int32FieldFloatTrailingZero`, `Int32FieldExponentialFormat`), and a
/// `float` field refuses a number beyond its range (`3.502823e+38`: `FloatFieldTooLarge`),
/// which pbjson reads as infinity. A string names the special values only as `"NaN"`,
/// `"Infinity"` and `"-Infinity"`.
#[derive(Debug, Copy, Clone, PartialOrd, PartialEq, Hash, Ord, Eq)]
pub struct NumberDeserialize<T>(pub T);

impl<'de, T: ProtoNumber> Deserialize<'de> for NumberDeserialize<T> {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        deserializer
            .deserialize_any(NumberVisitor(PhantomData))
            .map(NumberDeserialize)
    }
}

/// The six number types of proto3 fields (`sint`, `fixed` and `sfixed` are the same in Rust).
pub trait ProtoNumber:
    FromStr<Err: std::error::Error> + for<'de> Deserialize<'de> + sealed::Sealed
{
    /// The value of a JSON number that came as a float, if this type holds it: an integer type
    /// a whole number, `f32` one within its range.
    fn from_f64(number: f64) -> Option<Self>;

    /// Whether the value is a finite number (every integer is).
    fn is_finite(&self) -> bool;
}

mod sealed {
    pub trait Sealed {}
}

/// The largest magnitude up to which every whole number is a float: past it a float read from
/// `9007199254740993.0` would be a different integer than the one written.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}

        impl ProtoNumber for $t {
            fn from_f64(number: f64) -> Option<Self> {
                if number.fract() != 0.0 || number.abs() > EXACT_INTEGERS {
                    return None;
                }
                <$t>::try_from(number as i64).ok()
            }

            fn is_finite(&self) -> bool {
                true
            }
        }
    )*};
}

integers!(i32, u32, i64, u64);

impl sealed::Sealed for f32 {}

impl ProtoNumber for f32 {
    fn from_f64(number: f64) -> Option<Self> {
        // Rounded to the nearest `f32`, as Go's `ParseFloat(…, 32)` rounds; past `f32::MAX` by
        // more than half a step that is infinity, out of range.
        let single = number as f32;
        (single.is_finite() || !number.is_finite()).then_some(single)
    }

    fn is_finite(&self) -> bool {
        f32::is_finite(*self)
    }
}

impl sealed::Sealed for f64 {}

impl ProtoNumber for f64 {
    fn from_f64(number: f64) -> Option<Self> {
        Some(number)
    }

    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
}

struct NumberVisitor<T>(PhantomData<T>);

impl<'de, T: ProtoNumber> Visitor<'de> for NumberVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a number, or a string holding one")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        // Rust's parsers take a leading `+`, which is not JSON.
        if text.starts_with('+') {
            return Err(E::invalid_value(de::Unexpected::Str(text), &self));
        }
        let number: T = match text.parse() {
            Ok(number) => number,
            // protojson reads a string as the JSON number it holds, so an integer's string
            // may hold a whole number written as a float too (`"1e3"`, `"7.0"`), but no
            // whitespace and nothing JSON would not read as a number (`".5"`, `"+1"`).
            Err(error) => serde_json::from_str::<serde_json::Number>(text)
                .ok()
                .filter(|_| text.trim() == text)
                .and_then(|number| number.as_f64())
                .and_then(T::from_f64)
                .ok_or_else(|| E::custom(error))?,
        };
        // Rust's parser also reads `inf`, `nan` and a number too large for the type as
        // infinity; proto3 JSON names the special values one way, and refuses the others.
        if !number.is_finite() && !matches!(text, "NaN" | "Infinity" | "-Infinity") {
            return Err(E::invalid_value(de::Unexpected::Str(text), &self));
        }
        Ok(number)
    }

    // A JSON number goes to the type's own reader, which checks its range as it would have.
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<T, E> {
        T::deserialize(number.into_deserializer())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<T, E> {
        T::deserialize(number.into_deserializer())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<T, E> {
        T::from_f64(number).ok_or_else(|| E::invalid_value(de::Unexpected::Float(number), &self))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// What pbjson's reader makes of `value`, beside ours: both succeed with the same number,
    /// or both fail.
    fn same<T: ProtoNumber + fmt::Debug>(value: serde_json::Value) {
        let ours = serde_json::from_value::<NumberDeserialize<T>>(value.clone()).map(|n| n.0);
        let theirs = serde_json::from_value::<pbjson::private::NumberDeserialize<T>>(value.clone())
            .map(|n| n.0);
        match (ours, theirs) {
            // By their `Debug` text, so that NaN is NaN.
            (Ok(ours), Ok(theirs)) => {
                assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{value}")
            }
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!("{value}: ours {ours:?}, pbjson's {theirs:?}"),
        }
        // And from text, as a request body is read.
        let text = value.to_string();
        let ours = serde_json::from_str::<NumberDeserialize<T>>(&text).map(|n| n.0);
        let theirs =
            serde_json::from_str::<pbjson::private::NumberDeserialize<T>>(&text).map(|n| n.0);
        assert_eq!(ours.is_ok(), theirs.is_ok(), "{text}");
        if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{text}");
        }
    }

    #[test]
    fn reads_what_pbjsons_reader_reads_and_refuses_what_it_refuses() {
        let values = [
            json!(0),
            json!(2),
            json!(-7),
            json!(2147483647),
            json!(2147483648_u64),
            json!(-2147483649_i64),
            json!(4294967295_u64),
            json!(9223372036854775807_i64),
            json!(18446744073709551615_u64),
            json!(1.5),
            json!(-0.5),
            json!("12"),
            json!("-12"),
            json!(" 12"),
            json!("1.5"),
            json!("9223372036854775807"),
            json!("18446744073709551615"),
            json!("NaN"),
            json!("Infinity"),
            json!("-Infinity"),
            json!(""),
            json!("twelve"),
            json!(true),
            json!(null),
            json!([1]),
            json!({"a": 1}),
        ];
        for value in values {
            same::<i32>(value.clone());
            same::<u32>(value.clone());
            same::<i64>(value.clone());
            same::<u64>(value.clone());
            same::<f32>(value.clone());
            same::<f64>(value);
        }
    }

    /// Ours after the text of `json`, or `None` where it refuses it.
    fn read<T: ProtoNumber>(json: &str) -> Option<T> {
        serde_json::from_str::<NumberDeserialize<T>>(json)
            .ok()
            .map(|n| n.0)
    }

    /// Where pbjson's reader and the proto3 JSON mapping part (the protobuf conformance
    /// suite's required cases, which protobuf-go and C++ pass), ours follows the mapping.
    #[test]
    fn reads_as_the_conformance_suite_requires_where_pbjson_does_not() {
        // Whole numbers written as floats (`Int32FieldFloatTrailingZero`,
        // `Int32FieldExponentialFormat`, `Int32FieldMaxFloatValue`, `Int32FieldMinFloatValue`,
        // `Uint32FieldMaxFloatValue`), which pbjson refuses.
        assert_eq!(read::<i32>("100000.000"), Some(100_000));
        assert_eq!(read::<i32>("1e5"), Some(100_000));
        assert_eq!(read::<i32>("2.147483647e9"), Some(i32::MAX));
        assert_eq!(read::<i32>("-2.147483648e9"), Some(i32::MIN));
        assert_eq!(read::<u32>("4.294967295e9"), Some(u32::MAX));
        assert_eq!(read::<i64>("1e15"), Some(1_000_000_000_000_000));
        assert_eq!(read::<u64>("-0.0"), Some(0));
        assert!(pbjson_reads::<i32>("1e5").is_err());
        // ... in a string too, as protojson reads the number a string holds.
        assert_eq!(read::<i64>(r#""1e3""#), Some(1000));
        assert_eq!(read::<u64>(r#""7.0""#), Some(7));
        assert!(pbjson_reads::<i64>(r#""1e3""#).is_err());
        for other in [
            r#""1.5""#,
            r#"" 1""#,
            r#""1 ""#,
            r#"".5""#,
            r#""+1""#,
            r#""1e400""#,
        ] {
            assert_eq!(read::<i64>(other), None, "{other}");
        }
        // ... but not a fraction, a number past the type's range, or a whole number too large
        // for a float to tell from its neighbours.
        assert_eq!(read::<i32>("0.5"), None);
        assert_eq!(read::<u32>("-1.0"), None);
        assert_eq!(read::<i32>("2.147483648e9"), None);
        assert_eq!(read::<i64>("9007199254740993.0"), None);
        assert_eq!(read::<i64>("1e19"), None);
        // A `float` beyond its range (`FloatFieldTooLarge`, `FloatFieldTooSmall`), as a number
        // or in a string, which pbjson reads as infinity.
        assert_eq!(read::<f32>("3.502823e+38"), None);
        assert_eq!(read::<f32>("-3.502823e+38"), None);
        assert_eq!(read::<f32>(r#""3.502823e+38""#), None);
        assert_eq!(read::<f64>(r#""1e400""#), None);
        assert!(pbjson_reads::<f32>("3.502823e+38").is_ok_and(f32::is_infinite));
        assert_eq!(read::<f32>("3.402823e+38"), Some(3.402823e38));
        assert_eq!(read::<f32>("-3.402823e+38"), Some(-3.402823e38));
        // The special values by their proto3 names only.
        assert!(read::<f64>(r#""NaN""#).is_some_and(f64::is_nan));
        assert_eq!(read::<f32>(r#""-Infinity""#), Some(f32::NEG_INFINITY));
        for other in [r#""nan""#, r#""inf""#, r#""infinity""#, r#""-INF""#] {
            assert_eq!(read::<f64>(other), None, "{other}");
            assert!(pbjson_reads::<f64>(other).is_ok(), "{other}");
        }
    }

    fn pbjson_reads<T>(json: &str) -> Result<T, serde_json::Error>
    where
        T: FromStr + for<'de> Deserialize<'de>,
        <T as FromStr>::Err: std::error::Error,
    {
        serde_json::from_str::<pbjson::private::NumberDeserialize<T>>(json).map(|n| n.0)
    }

    #[test]
    fn reads_map_keys_as_pbjson_map_fields_name_them() {
        let map: HashMap<NumberDeserialize<i32>, String> =
            serde_json::from_str(r#"{"1": "one", "-2": "minus two"}"#).unwrap();
        assert_eq!(map[&NumberDeserialize(1)], "one");
        assert_eq!(map[&NumberDeserialize(-2)], "minus two");
        assert!(
            serde_json::from_str::<HashMap<NumberDeserialize<i32>, String>>(r#"{"x": ""}"#)
                .is_err()
        );
    }
}
