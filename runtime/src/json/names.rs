//! A member name of a message's JSON object, and an enum's value, read into the generated
//! type by one type for every message and every enum.
//!
//! A `Deserialize` impl and a visitor per message for its member names (as pbjson-build
//! writes them) are trait impls per type that only match a string. The generator writes each
//! match as a plain function of the type (a message's gives a member's field number; an enum's
//! is prost-build's `from_str_name`) and reads through [`FieldKey`] or [`EnumValue`], so that a
//! user's crate compiles one generic impl here instead of a few per type (bench/RESULTS.md,
//! "Build time of the example's generated code").

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, Unexpected, Visitor};

/// Reads a member name with the message's `match` (`0`), which gives its field tag, or `None`
/// for a name the message refuses; `1` names the members it knows, for the error.
pub struct FieldKey<F>(pub fn(&str) -> Option<F>, pub &'static [&'static str]);

impl<'de, F> DeserializeSeed<'de> for FieldKey<F> {
    type Value = F;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<F, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<F> Visitor<'_> for FieldKey<F> {
    type Value = F;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "expected one of: {:?}", self.1)
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<F, E> {
        (self.0)(name).ok_or_else(|| E::unknown_field(name, self.1))
    }
}

/// Reads an enum's value from its name, with the enum's `match` (`0`: `None` for a name it
/// lacks), or from its number; `1` names its values, for the error. pbjson-build's enum
/// visitor, once for every enum.
pub struct EnumValue<T>(pub fn(&str) -> Option<T>, pub &'static [&'static str]);

impl<T: TryFrom<i32>> Visitor<'_> for EnumValue<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "expected one of: {:?}", self.1)
    }

    fn visit_i64<E: Error>(self, number: i64) -> Result<T, E> {
        i32::try_from(number)
            .ok()
            .and_then(|number| number.try_into().ok())
            .ok_or_else(|| E::invalid_value(Unexpected::Signed(number), &self))
    }

    fn visit_u64<E: Error>(self, number: u64) -> Result<T, E> {
        i32::try_from(number)
            .ok()
            .and_then(|number| number.try_into().ok())
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(number), &self))
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<T, E> {
        (self.0)(name).ok_or_else(|| E::unknown_variant(name, self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Tag {
        OrderId,
        Skipped,
    }

    const FIELDS: &[&str] = &["order_id", "orderId"];

    fn skipping(name: &str) -> Option<Tag> {
        match name {
            "orderId" | "order_id" => Some(Tag::OrderId),
            _ => Some(Tag::Skipped),
        }
    }

    fn refusing(name: &str) -> Option<Tag> {
        match name {
            "orderId" | "order_id" => Some(Tag::OrderId),
            _ => None,
        }
    }

    fn read(seed: FieldKey<Tag>, json: &str) -> Result<Tag, serde_json::Error> {
        seed.deserialize(&mut serde_json::Deserializer::from_str(json))
    }

    #[test]
    fn names_escaped_or_not_read_as_the_message_matches_them() {
        assert_eq!(
            read(FieldKey(skipping, FIELDS), r#""orderId""#).unwrap(),
            Tag::OrderId
        );
        assert_eq!(
            read(FieldKey(skipping, FIELDS), r#""order\u005fid""#).unwrap(),
            Tag::OrderId
        );
        assert_eq!(
            read(FieldKey(skipping, FIELDS), r#""other""#).unwrap(),
            Tag::Skipped
        );
    }

    #[test]
    fn a_refused_name_is_an_unknown_field_naming_the_known_ones() {
        let error = read(FieldKey(refusing, FIELDS), r#""other""#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown field `other`, expected `order_id` or `orderId` at line 1 column 7"
        );
        let error = read(FieldKey(refusing, FIELDS), "7").unwrap_err();
        assert!(
            error
                .to_string()
                .contains(r#"expected one of: ["order_id", "orderId"]"#),
            "{error}"
        );
    }

    #[derive(Debug, PartialEq)]
    enum Color {
        Red = 1,
    }

    impl TryFrom<i32> for Color {
        type Error = ();

        fn try_from(number: i32) -> Result<Self, ()> {
            match number {
                1 => Ok(Color::Red),
                _ => Err(()),
            }
        }
    }

    const VALUES: &[&str] = &["COLOR_RED"];

    fn color(name: &str) -> Option<Color> {
        match name {
            "COLOR_RED" => Some(Color::Red),
            _ => None,
        }
    }

    fn value(json: &str) -> Result<Color, serde_json::Error> {
        serde::Deserializer::deserialize_any(
            &mut serde_json::Deserializer::from_str(json),
            EnumValue(color, VALUES),
        )
    }

    #[test]
    fn an_enum_value_reads_from_its_name_or_its_number() {
        assert_eq!(value(r#""COLOR_RED""#).unwrap(), Color::Red);
        assert_eq!(value("1").unwrap(), Color::Red);
    }

    #[test]
    fn an_unknown_name_or_number_is_refused_naming_the_values() {
        let error = value(r#""COLOR_BLUE""#).unwrap_err().to_string();
        assert!(
            error.starts_with("unknown variant `COLOR_BLUE`, expected `COLOR_RED`"),
            "{error}"
        );
        for json in ["7", "-1", "4294967296"] {
            let error = value(json).unwrap_err().to_string();
            assert!(
                error.contains(r#"expected one of: ["COLOR_RED"]"#),
                "{json}: {error}"
            );
        }
    }
}
