//! The `google.protobuf.DoubleValue` and `FloatValue` wrappers, whose JSON is their value's,
//! with `NaN` and the infinities by name (see [`crate::json::Floats`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::float::{serialize_f32, serialize_f64};

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
                let value = crate::json::NumberDeserialize::deserialize(deserializer)?.0;
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
