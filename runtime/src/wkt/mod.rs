//! The `google.protobuf` well-known types as generated messages use them through the gateway:
//! prost messages with serde impls that follow the proto3 JSON mapping.
//!
//! They are pbjson-types' (`Duration` as `"1.5s"`, wrappers as their scalar, `Empty` as `{}`),
//! except some of ours, defined in this module's children and, being explicit items, shadowing
//! those the glob import would bring:
//!
//! - [`FieldMask`]: pbjson-types writes it as `{"paths": [...]}`, the shape of its fields, while
//!   proto3 JSON writes a field mask as one string of comma-separated lowerCamelCase paths;
//! - [`Timestamp`]: pbjson-types writes `+00:00` and as many fractional digits as chrono
//!   likes, while proto3 JSON writes `Z` and 0, 3, 6 or 9 digits;
//! - [`Duration`]: pbjson-types reads any number of seconds, while proto3 JSON refuses a
//!   duration past 10,000 years;
//! - [`DoubleValue`] and [`FloatValue`]: pbjson-types writes `NaN` and the infinities as
//!   `null` (serde_json's rendering of a non-finite float), while proto3 JSON writes the strings
//!   `"NaN"`, `"Infinity"` and `"-Infinity"`;
//! - [`Value`], [`Struct`] and [`ListValue`] (free JSON), with [`value::Kind`]: pbjson-types reads
//!   `null` as a Value with no kind, while proto3 JSON reads it as the `NULL_VALUE` kind.
//!
//! - [`Any`]: pbjson-types writes `{"typeUrl": …, "value": …}`, the shape of its fields, while
//!   proto3 JSON writes the message it holds with its `@type` ([`any`]: the types are
//!   registered);
//!
//! Each has pbjson-types' fields and wire form, and converts to and from pbjson-types' type.
//!
//! Everything of `google.protobuf` is re-exported, descriptor.proto's messages included, because
//! the generator maps the whole package here (`extern_path`) and a user's proto may name any of
//! them. So `use wkt::*` would shadow `Option` (and `Type`, `Enum`...): name the types instead.

pub use pbjson_types::*;

pub mod any;
mod duration;
mod field_mask;
mod float;
mod timestamp;
pub mod value;

pub use any::Any;
pub use duration::Duration;
pub use field_mask::{FieldMask, InvalidFieldMask};
pub use float::{DoubleValue, FloatValue};
pub use timestamp::{InvalidTimestamp, Timestamp, system_time, timestamp};
pub use value::{ListValue, Struct, Value};

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct UpdateItemRequest {
        // The glob brings descriptor.proto's `Option` message, which shadows the prelude's.
        update_mask: std::option::Option<FieldMask>,
        expires: std::option::Option<Timestamp>,
        ratio: std::option::Option<DoubleValue>,
        wait: std::option::Option<Duration>,
    }

    #[test]
    fn the_glob_brings_the_other_types_and_ours_shadow_theirs() {
        let sent = json!({
            "updateMask": "title,priceCents",
            "expires": "2024-05-01T12:00:00.250Z",
            "ratio": "-Infinity",
            "wait": "1.500s",
        });
        let request: UpdateItemRequest = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(
            request.update_mask.as_ref().unwrap().paths,
            ["title", "price_cents"]
        );
        assert_eq!(request.expires.unwrap().seconds, 1_714_564_800);
        assert_eq!(request.ratio.unwrap().value, f64::NEG_INFINITY);
        assert_eq!(serde_json::to_value(&request).unwrap(), sent);
    }
}
