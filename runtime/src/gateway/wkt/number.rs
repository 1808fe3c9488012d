//! The reader of proto3 JSON numbers that the generated JSON impls use, in place of pbjson's.
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

/// A number read from a JSON number or from a string holding one: what pbjson-build's impls
/// name as `pbjson::private::NumberDeserialize`, which the generated code finds here.
#[derive(Debug, Copy, Clone, PartialOrd, PartialEq, Hash, Ord, Eq)]
pub struct NumberDeserialize<T>(pub T);

impl<'de, T> Deserialize<'de> for NumberDeserialize<T>
where
    T: FromStr + Deserialize<'de>,
    <T as FromStr>::Err: std::error::Error,
{
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        deserializer
            .deserialize_any(NumberVisitor(PhantomData))
            .map(NumberDeserialize)
    }
}

struct NumberVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for NumberVisitor<T>
where
    T: FromStr + Deserialize<'de>,
    <T as FromStr>::Err: std::error::Error,
{
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a number, or a string holding one")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }

    // A JSON number goes to the type's own reader, which checks its range as it would have.
    fn visit_i64<E: de::Error>(self, number: i64) -> Result<T, E> {
        T::deserialize(number.into_deserializer())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<T, E> {
        T::deserialize(number.into_deserializer())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<T, E> {
        T::deserialize(number.into_deserializer())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// What pbjson's reader makes of `value`, beside ours: both succeed with the same number,
    /// or both fail.
    fn same<T>(value: serde_json::Value)
    where
        T: FromStr + for<'de> Deserialize<'de> + fmt::Debug,
        <T as FromStr>::Err: std::error::Error,
    {
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
            json!(1e3),
            json!("12"),
            json!("-12"),
            json!(" 12"),
            json!("1e3"),
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
