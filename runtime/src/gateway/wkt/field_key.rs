//! A member name of a message's JSON object, read into the message's own field tag by one
//! type for every message.
//!
//! pbjson-build gives each message a `Deserialize` impl of its own for its field tag, with a
//! visitor of its own: two trait impls and three functions per message that only match a string.
//! The generator (its `json/keys.rs`) keeps the match as a plain function of the message and
//! reads the name through [`FieldKey`], so that a user's crate compiles one generic seed instead
//! of a pair of impls per message (bench/RESULTS.md, "Build time of the example's generated
//! code"). What is read and what an unknown name answers are pbjson-build's.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, Visitor};

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
}
