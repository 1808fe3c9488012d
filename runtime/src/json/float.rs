//! Floating-point values in proto3 JSON: `NaN`, `Infinity` and `-Infinity` are the JSON strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"` (JSON has no numbers for them, and serde_json would
//! write `null`, which reads back as the default `0`). Finite values are numbers.
//!
//! Two users: the `google.protobuf.DoubleValue` and `FloatValue` wrappers (`wkt`), and the
//! `double`/`float` fields of generated messages, whose impls write them through [`Floats`].
//! Reading needs no help: [`NumberDeserialize`](super::NumberDeserialize) takes the three names.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde::{Serialize, Serializer};

/// Writes `value` as proto3 JSON: a number, or one of the three strings when it is not finite.
pub(crate) fn serialize_f64<S: Serializer>(value: f64, serializer: S) -> Result<S::Ok, S::Error> {
    match non_finite_name(value) {
        Some(name) => serializer.serialize_str(name),
        None => serializer.serialize_f64(value),
    }
}

/// [`serialize_f64`] for single precision (written with `f32`'s shortest digits: `0.1f32` is
/// `0.1`, not `0.10000000149011612`).
pub(crate) fn serialize_f32<S: Serializer>(value: f32, serializer: S) -> Result<S::Ok, S::Error> {
    match non_finite_name(f64::from(value)) {
        Some(name) => serializer.serialize_str(name),
        None => serializer.serialize_f32(value),
    }
}

fn non_finite_name(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("Infinity")
    } else if value == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// The value of a `double` or `float` field (singular, repeated, or a map's values), borrowed,
/// written as proto3 JSON: numbers, and the three names for the values that are not finite.
pub struct Floats<'a, T: ?Sized>(pub &'a T);

/// What [`Floats`] can write: `f64`, `f32`, and vectors and maps of them.
pub trait FloatField {
    /// Writes the value in proto3 JSON form.
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

impl FloatField for f64 {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_f64(*self, serializer)
    }
}

impl FloatField for f32 {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_f32(*self, serializer)
    }
}

impl<F: FloatField> FloatField for Vec<F> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Floats))
    }
}

impl<K: Serialize, F: FloatField, H: BuildHasher> FloatField for HashMap<K, F, H> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, Floats(value))))
    }
}

impl<K: Serialize, F: FloatField> FloatField for BTreeMap<K, F> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, Floats(value))))
    }
}

impl<T: FloatField + ?Sized> Serialize for Floats<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_json(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finite_floats_are_numbers_and_the_others_are_named() {
        let write = |value: f64| serde_json::to_value(Floats(&value)).unwrap();
        assert_eq!(write(1.5), json!(1.5));
        assert_eq!(write(-0.0), json!(-0.0));
        assert_eq!(write(f64::NAN), json!("NaN"));
        assert_eq!(write(f64::INFINITY), json!("Infinity"));
        assert_eq!(write(f64::NEG_INFINITY), json!("-Infinity"));
        let write = |value: f32| serde_json::to_string(&Floats(&value)).unwrap();
        assert_eq!(write(0.1), "0.1");
        assert_eq!(write(f32::NAN), r#""NaN""#);
        assert_eq!(write(f32::NEG_INFINITY), r#""-Infinity""#);
    }

    #[test]
    fn vectors_and_map_values_are_written_element_by_element() {
        let list = vec![1.0, f64::NAN, f64::INFINITY];
        assert_eq!(
            serde_json::to_value(Floats(&list)).unwrap(),
            json!([1.0, "NaN", "Infinity"])
        );
        let singles: HashMap<i32, f32> = [(7, f32::NEG_INFINITY)].into();
        assert_eq!(
            serde_json::to_value(Floats(&singles)).unwrap(),
            json!({"7": "-Infinity"})
        );
        let sorted: BTreeMap<String, f64> = [("a".into(), 2.5), ("b".into(), f64::NAN)].into();
        assert_eq!(
            serde_json::to_string(&Floats(&sorted)).unwrap(),
            r#"{"a":2.5,"b":"NaN"}"#
        );
    }
}
