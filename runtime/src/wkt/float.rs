//! Floating-point values in proto3 JSON: `NaN`, `Infinity` and `-Infinity` are the JSON strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"` (JSON has no numbers for them, and serde_json would
//! write `null`, which reads back as the default `0`). Finite values are numbers.
//!
//! Two users: the `google.protobuf.DoubleValue` and `FloatValue` wrappers, defined here, and the
//! `double`/`float` fields of generated messages, whose pbjson-build serde impls hand the value
//! to serde directly; the generator routes those through [`JsonFloats`]. Reading needs no help:
//! the runtime's number reader (`wkt/number.rs`) already takes the three strings.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
/// with the proto3 JSON `Serialize` of [`serialize_f64`]. Generated code only.
#[doc(hidden)]
pub struct JsonFloats<'a, T: ?Sized>(pub &'a T);

/// What [`JsonFloats`] can write: `f64`, `f32`, and vectors and maps of them.
#[doc(hidden)]
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
        serializer.collect_seq(self.iter().map(JsonFloats))
    }
}

impl<K: Serialize, F: FloatField, H: BuildHasher> FloatField for HashMap<K, F, H> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, JsonFloats(value))))
    }
}

impl<K: Serialize, F: FloatField> FloatField for BTreeMap<K, F> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, JsonFloats(value))))
    }
}

impl<T: FloatField + ?Sized> Serialize for JsonFloats<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_json(serializer)
    }
}

macro_rules! float_wrapper {
    ($(#[$doc:meta])* $name:ident, $scalar:ty, $prost:ident, $serialize:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, ::prost::Message)]
        pub struct $name {
            /// The wrapped value.
            #[prost($prost, tag = "1")]
            pub value: $scalar,
        }

        impl ::prost::Name for $name {
            const NAME: &'static str = stringify!($name);
            const PACKAGE: &'static str = "google.protobuf";

            fn type_url() -> String {
                concat!("type.googleapis.com/google.protobuf.", stringify!($name)).to_owned()
            }
        }

        impl From<$scalar> for $name {
            fn from(value: $scalar) -> Self {
                Self { value }
            }
        }

        impl From<pbjson_types::$name> for $name {
            fn from(wrapper: pbjson_types::$name) -> Self {
                Self {
                    value: wrapper.value,
                }
            }
        }

        impl From<$name> for pbjson_types::$name {
            fn from(wrapper: $name) -> Self {
                Self {
                    value: wrapper.value,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $serialize(self.value, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = super::number::NumberDeserialize::deserialize(deserializer)?.0;
                Ok(Self { value })
            }
        }
    };
}

float_wrapper!(
    /// `google.protobuf.DoubleValue`: its value alone in JSON, `NaN` and the infinities as
    /// `"NaN"`, `"Infinity"`, `"-Infinity"` (pbjson-types' writes them as `null`). Reading takes
    /// a number or a string holding one, the three names included.
    DoubleValue,
    f64,
    double,
    serialize_f64
);

float_wrapper!(
    /// `google.protobuf.FloatValue`: as [`DoubleValue`], in single precision.
    FloatValue,
    f32,
    float,
    serialize_f32
);

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn finite_floats_are_numbers_and_the_others_are_named() {
        let write = |value: f64| serde_json::to_value(JsonFloats(&value)).unwrap();
        assert_eq!(write(1.5), json!(1.5));
        assert_eq!(write(-0.0), json!(-0.0));
        assert_eq!(write(f64::NAN), json!("NaN"));
        assert_eq!(write(f64::INFINITY), json!("Infinity"));
        assert_eq!(write(f64::NEG_INFINITY), json!("-Infinity"));
        let write = |value: f32| serde_json::to_string(&JsonFloats(&value)).unwrap();
        assert_eq!(write(0.1), "0.1");
        assert_eq!(write(f32::NAN), r#""NaN""#);
        assert_eq!(write(f32::NEG_INFINITY), r#""-Infinity""#);
    }

    #[test]
    fn vectors_and_map_values_are_written_element_by_element() {
        let list = vec![1.0, f64::NAN, f64::INFINITY];
        assert_eq!(
            serde_json::to_value(JsonFloats(&list)).unwrap(),
            json!([1.0, "NaN", "Infinity"])
        );
        let singles: HashMap<i32, f32> = [(7, f32::NEG_INFINITY)].into();
        assert_eq!(
            serde_json::to_value(JsonFloats(&singles)).unwrap(),
            json!({"7": "-Infinity"})
        );
        let sorted: BTreeMap<String, f64> = [("a".into(), 2.5), ("b".into(), f64::NAN)].into();
        assert_eq!(
            serde_json::to_string(&JsonFloats(&sorted)).unwrap(),
            r#"{"a":2.5,"b":"NaN"}"#
        );
    }

    #[test]
    fn wrappers_write_and_read_the_special_values() {
        for (value, text) in [
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            let wrapper = DoubleValue::from(value);
            assert_eq!(serde_json::to_value(wrapper).unwrap(), json!(text));
            let back: DoubleValue = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(back, wrapper);
        }
        let nan: DoubleValue = serde_json::from_value(json!("NaN")).unwrap();
        assert!(nan.value.is_nan());
        assert_eq!(serde_json::to_value(nan).unwrap(), json!("NaN"));
        assert_eq!(
            serde_json::to_value(FloatValue::from(f32::NAN)).unwrap(),
            json!("NaN")
        );
        let single: FloatValue = serde_json::from_value(json!("-Infinity")).unwrap();
        assert_eq!(single.value, f32::NEG_INFINITY);
    }

    #[test]
    fn wrappers_read_numbers_and_numeric_strings_and_write_numbers() {
        let double: DoubleValue = serde_json::from_value(json!("2.5")).unwrap();
        assert_eq!(double.value, 2.5);
        let double: DoubleValue = serde_json::from_value(json!(-3)).unwrap();
        assert_eq!(serde_json::to_value(double).unwrap(), json!(-3.0));
        let single: FloatValue = serde_json::from_value(json!(0.25)).unwrap();
        assert_eq!(serde_json::to_string(&single).unwrap(), "0.25");
        assert!(serde_json::from_value::<DoubleValue>(json!(true)).is_err());
        assert!(serde_json::from_value::<DoubleValue>(json!("1.5x")).is_err());
    }

    #[test]
    fn wrappers_are_the_wire_messages_and_convert_to_pbjson_types() {
        let ours = DoubleValue::from(0.75);
        let theirs = pbjson_types::DoubleValue::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!(theirs.value, 0.75);
        assert_eq!(DoubleValue::from(theirs), ours);
        assert_eq!(pbjson_types::DoubleValue::from(ours), theirs);
        let single = FloatValue::from(1.5);
        assert_eq!(pbjson_types::FloatValue::from(single).value, 1.5);
        assert_eq!(
            FloatValue::from(pbjson_types::FloatValue { value: 1.5 }),
            single
        );
        assert_eq!(
            <DoubleValue as prost::Name>::full_name(),
            "google.protobuf.DoubleValue"
        );
        assert_eq!(
            <FloatValue as prost::Name>::type_url(),
            "type.googleapis.com/google.protobuf.FloatValue"
        );
    }
}
