//! Enum fields in proto3 JSON as protobuf-go's `protojson` and C++ read and write them: a
//! proto3 enum is open, so a number no value of the enum has is kept, read from a JSON number
//! and written back as one (the conformance suite's `EnumFieldUnknownValue`). protojson reads a
//! proto2 enum's numbers the same way, and prost keeps them in the field too, so every enum is
//! read so. The enum's Rust type has no room for such a number: the generated impls read and
//! write an enum field's number through [`OpenEnum`] and [`LenientEnum`] (and
//! [`Enum`](super::Enum) for the field's whole value), never through the enum itself.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::number::ProtoNumber;
use super::query_text;

/// The number of an enum field of type `E`, known to `E` or not: written as its value's name
/// when `E` has one, else as the number; read from a JSON number as it is, from a string only if
/// it is one of `E`'s names (as protojson reads a body when it does not discard unknown
/// values), from `null` as `E` reads it (`google.protobuf.NullValue`), and from a path
/// variable's or query parameter's text (in the object the gateway passes it in) as
/// grpc-gateway reads those.
pub struct OpenEnum<E>(pub i32, PhantomData<fn() -> E>);

impl<E> OpenEnum<E> {
    /// The field's number.
    pub fn new(number: i32) -> Self {
        Self(number, PhantomData)
    }
}

/// An enum field's value read as protojson reads it with `DiscardUnknown`, which grpc-gateway's
/// default marshaler and connect-go's JSON codec set: like [`OpenEnum`], but a name `E` does not
/// have (a newer peer's value, or a typo) is no value (`None`), which leaves the field unset, a
/// repeated field without the element and a map without the entry. A path variable or query
/// parameter that `E` does not name is still an error, as in grpc-gateway's query parser.
pub struct LenientEnum<E>(pub Option<i32>, PhantomData<fn() -> E>);

impl<E> fmt::Debug for OpenEnum<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OpenEnum").field(&self.0).finish()
    }
}

impl<E> fmt::Debug for LenientEnum<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LenientEnum").field(&self.0).finish()
    }
}

impl<E: TryFrom<i32> + Serialize> Serialize for OpenEnum<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match E::try_from(self.0) {
            Ok(known) => known.serialize(serializer),
            Err(_) => serializer.serialize_i32(self.0),
        }
    }
}

impl<'de, E: Deserialize<'de> + Into<i32>> Deserialize<'de> for OpenEnum<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = deserializer.deserialize_any(EnumVisitor::<E, false>(PhantomData))?;
        // A strict visitor has a number or an error.
        number
            .map(Self::new)
            .ok_or_else(|| de::Error::custom("no enum value"))
    }
}

impl<'de, E: Deserialize<'de> + Into<i32>> Deserialize<'de> for LenientEnum<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = deserializer.deserialize_any(EnumVisitor::<E, true>(PhantomData))?;
        Ok(Self(number, PhantomData))
    }
}

/// Reads an enum value of `E`; `LENIENT`: a name `E` lacks is `None` rather than an error.
struct EnumVisitor<E, const LENIENT: bool>(PhantomData<fn() -> E>);

impl<'de, E: Deserialize<'de> + Into<i32>, const LENIENT: bool> Visitor<'de>
    for EnumVisitor<E, LENIENT>
{
    type Value = Option<i32>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an enum value's name, or a 32-bit number")
    }

    fn visit_i64<Er: de::Error>(self, number: i64) -> Result<Self::Value, Er> {
        match i32::try_from(number) {
            Ok(number) => Ok(Some(number)),
            Err(_) => Err(Er::invalid_value(de::Unexpected::Signed(number), &self)),
        }
    }

    fn visit_u64<Er: de::Error>(self, number: u64) -> Result<Self::Value, Er> {
        match i32::try_from(number) {
            Ok(number) => Ok(Some(number)),
            Err(_) => Err(Er::invalid_value(de::Unexpected::Unsigned(number), &self)),
        }
    }

    // A whole number written as a float, as protojson reads any 32-bit integer.
    fn visit_f64<Er: de::Error>(self, number: f64) -> Result<Self::Value, Er> {
        match <i32 as ProtoNumber>::from_f64(number) {
            Some(number) => Ok(Some(number)),
            None => Err(Er::invalid_value(de::Unexpected::Float(number), &self)),
        }
    }

    // A name, as the enum reads it (a number in a string is not one, as in protojson).
    fn visit_str<Er: de::Error>(self, name: &str) -> Result<Self::Value, Er> {
        match E::deserialize(IntoDeserializer::<Er>::into_deserializer(name)) {
            Ok(value) => Ok(Some(value.into())),
            Err(_) if LENIENT => Ok(None),
            Err(error) => Err(error),
        }
    }

    // `null` as the enum reads it: `NullValue` does. A singular field's `null` is no value
    // before it gets here (it is read as an `Option`); a list's or a map's is an error, as in
    // protojson.
    fn visit_unit<Er: de::Error>(self) -> Result<Self::Value, Er> {
        let value = E::deserialize(de::value::UnitDeserializer::<Er>::new())?;
        Ok(Some(value.into()))
    }

    // A path variable's or query parameter's text (see `query_text`): a name or a number, one
    // of the enum's either way.
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let text = query_text::read(map, &self)?;
        let named = E::deserialize(IntoDeserializer::<A::Error>::into_deserializer(
            text.as_str(),
        ));
        let value = match (named, text.parse::<i64>()) {
            (Ok(value), _) => value,
            (Err(_), Ok(number)) => {
                E::deserialize(IntoDeserializer::<A::Error>::into_deserializer(number))?
            }
            (Err(error), Err(_)) => return Err(error),
        };
        Ok(Some(value.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An enum as prost and pbjson-build make one, with two values.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Colour {
        Red = 0,
        Green = 1,
    }

    impl From<Colour> for i32 {
        fn from(colour: Colour) -> i32 {
            colour as i32
        }
    }

    impl TryFrom<i32> for Colour {
        type Error = ();

        fn try_from(number: i32) -> Result<Self, ()> {
            match number {
                0 => Ok(Self::Red),
                1 => Ok(Self::Green),
                _ => Err(()),
            }
        }
    }

    impl Serialize for Colour {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(match self {
                Self::Red => "RED",
                Self::Green => "GREEN",
            })
        }
    }

    /// By name or by a number it has, as pbjson-build's enum impls read.
    impl<'de> Deserialize<'de> for Colour {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            match serde_json::Value::deserialize(deserializer)? {
                serde_json::Value::String(name) if name == "RED" => Ok(Self::Red),
                serde_json::Value::String(name) if name == "GREEN" => Ok(Self::Green),
                serde_json::Value::String(name) => {
                    Err(de::Error::unknown_variant(&name, &["RED", "GREEN"]))
                }
                serde_json::Value::Number(number) => number
                    .as_i64()
                    .and_then(|number| Self::try_from(i32::try_from(number).ok()?).ok())
                    .ok_or_else(|| de::Error::custom(format!("no Colour numbered {number}"))),
                other => Err(de::Error::custom(format!("no Colour: {other}"))),
            }
        }
    }

    fn read(json: &str) -> Result<i32, String> {
        serde_json::from_str::<OpenEnum<Colour>>(json)
            .map(|value| value.0)
            .map_err(|error| error.to_string())
    }

    fn written(number: i32) -> String {
        serde_json::to_string(&OpenEnum::<Colour>::new(number)).unwrap()
    }

    #[test]
    fn known_numbers_are_written_by_name_and_others_as_numbers() {
        assert_eq!(written(1), r#""GREEN""#);
        assert_eq!(written(0), r#""RED""#);
        assert_eq!(written(123), "123");
        assert_eq!(written(-5), "-5");
    }

    #[test]
    fn any_32_bit_number_is_read_and_names_as_the_enum_reads_them() {
        assert_eq!(read("123"), Ok(123));
        assert_eq!(read("-2147483648"), Ok(i32::MIN));
        assert_eq!(read(r#""GREEN""#), Ok(1));
        assert!(read("2147483648").unwrap_err().contains("2147483648"));
        assert!(
            read(r#""BLUE""#)
                .unwrap_err()
                .contains("unknown variant `BLUE`")
        );
        assert_eq!(read("7.0"), Ok(7));
        assert!(read("1.5").is_err());
        // A number in a string is not a name (protojson refuses it too).
        assert!(read(r#""1""#).is_err());
        // A path variable's or query parameter's text: a name or a number of the enum's.
        let query = |text: &str| query_text::query_value(text.into()).to_string();
        assert_eq!(read(&query("1")), Ok(1));
        assert_eq!(read(&query("GREEN")), Ok(1));
        assert!(read(&query("9")).unwrap_err().contains("9"));
        assert!(read(&query("BLUE")).unwrap_err().contains("BLUE"));
        assert!(read(r#"{"other": "GREEN"}"#).is_err());
        assert!(read("3e9").is_err());
        assert!(read("true").is_err());
        // `null` goes to the enum, which refuses it here (NullValue takes it).
        assert!(read("null").is_err());
    }

    fn read_leniently(json: &str) -> Result<Option<i32>, String> {
        serde_json::from_str::<LenientEnum<Colour>>(json)
            .map(|value| value.0)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn names_the_enum_lacks_are_no_value_when_read_leniently() {
        assert_eq!(read_leniently(r#""GREEN""#), Ok(Some(1)));
        assert_eq!(read_leniently("123"), Ok(Some(123)));
        assert_eq!(read_leniently(r#""BLUE""#), Ok(None));
        assert_eq!(read_leniently(r#""1""#), Ok(None));
        assert!(read_leniently("null").is_err());
        assert!(read_leniently("2147483648").is_err());
        assert!(read_leniently("true").is_err());
        // Not a path variable's or query parameter's text, where grpc-gateway refuses it.
        let query = |text: &str| query_text::query_value(text.into()).to_string();
        assert!(read_leniently(&query("BLUE")).is_err());
        assert!(read_leniently(&query("9")).is_err());
        assert_eq!(read_leniently(&query("1")), Ok(Some(1)));
    }
}
