//! What the generated proto3 JSON impls of messages and enums are made of: the one place where a
//! value's proto3 JSON form differs from serde's, shared by every generated impl instead of
//! written into each.
//!
//! The generator prints, for each message, a `Serialize` impl that hands each set field to
//! serde, and a `Deserialize` impl that reads each member by either of its names; this module
//! has the rest (see the generator's `json` module for what the impls look like):
//!
//! - writing: [`Int64`] (64-bit integers as strings), [`Floats`] (`NaN` and the infinities by
//!   name), [`Base64`] (bytes) and [`Enum`] (an enum's numbers by name, a number it has no
//!   name for as the number), each for a field's whole value, singular, repeated or a map's;
//! - reading: [`NumberDeserialize`] (a number from a JSON number or a string, integers written
//!   as floats included), [`BytesDeserialize`] (standard or URL-safe base64, padded or not),
//!   [`OpenEnum`] and [`LenientEnum`] (an enum's name or any number, a name it lacks refused or
//!   dropped), [`FieldKey`] (a message's member names, through its own `match`) and
//!   [`EnumValue`] (an enum's name or number, through its `from_str_name`).
//!
//! The rules are protojson's (grpc-gateway's JSON), as the protobuf conformance suite holds
//! parsers to them; where the gateway reads a path variable or query parameter by
//! grpc-gateway's own rules instead, the readers say so.

mod bytes;
pub(crate) mod float;
mod names;
pub(crate) mod number;
mod open_enum;
pub(crate) mod query_text;
mod write;

pub use self::bytes::BytesDeserialize;
pub(crate) use self::bytes::{decode as decode_base64, without_line_breaks};
pub use float::{FloatField, Floats};
pub use names::{EnumValue, FieldKey};
pub use number::{NumberDeserialize, ProtoNumber};
pub use open_enum::{LenientEnum, OpenEnum};
pub use write::{Base64, BytesField, Enum, EnumField, Int64, Int64Field};
