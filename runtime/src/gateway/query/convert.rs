//! Typed conversion of one string (a query value, a path variable) into the proto3 JSON value of
//! the field it sets, so that the message's generated serde impl reads it like a body field.
//!
//! Each rule follows grpc-gateway v2 (`runtime/query.go`, which parses with Go's `strconv` and
//! `time` packages), widened only where proto3 JSON accepts more (noted at each rule). Errors
//! are the problem only (`"abc" is not a valid int32`); the caller says which parameter.

use std::borrow::Cow;
use std::num::IntErrorKind;

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde_json::{Number, Value};

use crate::gateway::schema::{FieldKind, ScalarKind, WellKnown};
use crate::json::number::ProtoNumber;
use crate::json::query_text::{QUERY_KEY, query_value};
use crate::wkt::Timestamp;

#[cfg(test)]
mod tests;

/// The proto3 JSON value of a field of kind `kind` written as `text`.
pub(crate) fn field_value(kind: &FieldKind, text: Cow<'_, str>) -> Result<Value, String> {
    match kind {
        FieldKind::Scalar(scalar) => scalar_value(*scalar, text),
        FieldKind::Enum(_) => Ok(enum_value(text)),
        FieldKind::WellKnown(wkt) => well_known_value(*wkt, text),
        FieldKind::Message(schema) => Err(format!(
            "a {} message cannot be set from one value: set its fields with dotted names",
            schema.name
        )),
    }
}

/// A scalar: numbers as JSON numbers, except 64-bit integers, which are JSON strings as proto3
/// JSON writes them (a JSON number cannot carry every 64-bit value through every parser).
pub(crate) fn scalar_value(kind: ScalarKind, text: Cow<'_, str>) -> Result<Value, String> {
    match kind {
        ScalarKind::Int32 => int::<i32>(&text, "int32").map(Value::from),
        ScalarKind::Uint32 => uint::<u32>(&text, "uint32").map(Value::from),
        ScalarKind::Int64 => int::<i64>(&text, "int64").map(|n| Value::String(n.to_string())),
        ScalarKind::Uint64 => uint::<u64>(&text, "uint64").map(|n| Value::String(n.to_string())),
        ScalarKind::Double => float(&text, false),
        ScalarKind::Float => float(&text, true),
        ScalarKind::Bool => parse_bool(&text)
            .map(Value::Bool)
            .ok_or_else(|| format!("{text:?} is not a valid bool")),
        ScalarKind::String => Ok(Value::String(text.into_owned())),
        ScalarKind::Bytes => query_bytes(&text),
    }
}

/// A map key in its JSON form (always a string): integers and bools are checked and written in
/// canonical form, so that `m[+5]` and `m[5]`, or `m[t]` and `m[true]`, are the same key.
pub(crate) fn map_key(kind: ScalarKind, text: Cow<'_, str>) -> Result<String, String> {
    Ok(match kind {
        ScalarKind::Int32 => int::<i32>(&text, "int32")?.to_string(),
        ScalarKind::Int64 => int::<i64>(&text, "int64")?.to_string(),
        ScalarKind::Uint32 => uint::<u32>(&text, "uint32")?.to_string(),
        ScalarKind::Uint64 => uint::<u64>(&text, "uint64")?.to_string(),
        ScalarKind::Bool => match parse_bool(&text) {
            Some(value) => value.to_string(),
            None => return Err(format!("{text:?} is not a valid bool")),
        },
        // protoc allows only integral, bool and string keys; anything else is kept as written.
        _ => text.into_owned(),
    })
}

/// An enum's value from a path variable or query parameter: a name, or a number, kept as text
/// either way, in the object that tells the message's serde impl (the one place that knows the
/// enum's values) where it came from. A JSON body's numbers are read whether or not the enum
/// names them (proto3 enums are open), and its unknown names may be discarded; a path's or
/// query's must be the enum's: grpc-gateway refuses `?status=9` when the enum has no 9.
fn enum_value(text: Cow<'_, str>) -> Value {
    query_value(text.into_owned())
}

fn well_known_value(kind: WellKnown, text: Cow<'_, str>) -> Result<Value, String> {
    match kind {
        WellKnown::Timestamp => {
            timestamp_seconds(&text)?;
            Ok(Value::String(text.into_owned()))
        }
        WellKnown::Duration => duration_json(&text).map(Value::String),
        // grpc-gateway splits on `,` and keeps each path as written: snake_case too, which a
        // body's JSON form may not be, so the text goes as a query's (see `query_text`).
        WellKnown::FieldMask => Ok(query_value(text.into_owned())),
        WellKnown::Wrapper(scalar) => scalar_value(scalar, text),
        // grpc-gateway reads Struct and Value from their JSON text; ListValue (which it does
        // not support) is read the same way, as a JSON array.
        WellKnown::Struct => match json_text(&text)? {
            object @ Value::Object(_) => Ok(object),
            _ => Err(format!("{text:?} is not a JSON object")),
        },
        WellKnown::Value => json_text(&text),
        WellKnown::ListValue => match json_text(&text)? {
            list @ Value::Array(_) => Ok(list),
            _ => Err(format!("{text:?} is not a JSON array")),
        },
        WellKnown::Empty => Err("a google.protobuf.Empty cannot be set from a value".into()),
        WellKnown::Any => Err("a google.protobuf.Any cannot be set from a value".into()),
    }
}

fn json_text(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("{text:?} is not valid JSON: {error}"))
}

/// Go's `strconv.ParseBool`, which grpc-gateway uses: `1 t T TRUE true True` and
/// `0 f F FALSE false False`.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A signed decimal integer with an optional sign, as Go's `strconv.ParseInt(s, 10, bits)`.
fn int<T: std::str::FromStr<Err = std::num::ParseIntError>>(
    text: &str,
    type_name: &str,
) -> Result<T, String> {
    text.parse::<T>()
        .map_err(|error| int_problem(text, type_name, error.kind()))
}

/// An unsigned decimal integer without a sign: Go's `strconv.ParseUint` rejects `+5`, which
/// Rust's parser would take.
fn uint<T: std::str::FromStr<Err = std::num::ParseIntError>>(
    text: &str,
    type_name: &str,
) -> Result<T, String> {
    if text.starts_with('+') {
        return Err(format!("{text:?} is not a valid {type_name}"));
    }
    int::<T>(text, type_name)
}

fn int_problem(text: &str, type_name: &str, kind: &IntErrorKind) -> String {
    match kind {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            format!("{text:?} is out of range for {type_name}")
        }
        _ => format!("{text:?} is not a valid {type_name}"),
    }
}

/// A decimal float, or `NaN`, `Infinity` or `-Infinity` spelled so (grpc-gateway's
/// `parseFloat`: Go's `strconv.ParseFloat` would also take `inf`, `nan` and hexadecimal, which it
/// refuses). A finite number too large for the type is an error, as in Go; the special values
/// become the proto3 JSON strings.
fn float(text: &str, single: bool) -> Result<Value, String> {
    let type_name = if single { "float" } else { "double" };
    if let "NaN" | "Infinity" | "-Infinity" = text {
        return Ok(Value::String(text.into()));
    }
    let parsed = if single {
        text.parse::<f32>().map(f64::from)
    } else {
        text.parse::<f64>()
    };
    let value = parsed.map_err(|_| format!("{text:?} is not a valid {type_name}"))?;
    if value.is_nan() {
        return Err(format!(
            "{text:?} is not a valid {type_name}: NaN is written `NaN`"
        ));
    }
    if value.is_infinite() {
        let unsigned = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        return Err(if unsigned == "inf" || unsigned == "infinity" {
            format!(
                "{text:?} is not a valid {type_name}: infinities are written `Infinity` and `-Infinity`"
            )
        } else {
            format!("{text:?} is out of range for {type_name}")
        });
    }
    Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
}

/// A query's or path's bytes as grpc-gateway reads them (its `runtime.Bytes`): the URL-safe
/// alphabet if the text has `-` or `_`, else the standard one; padded when the length is a
/// multiple of 4, unpadded otherwise; bits past the last byte and line breaks ignored, as Go's
/// decoder does.
/// Passed on as canonical padded standard base64, which the message's serde impl reads.
fn query_bytes(text: &str) -> Result<Value, String> {
    const fn engine(alphabet: &base64::alphabet::Alphabet, padded: bool) -> GeneralPurpose {
        let padding = if padded {
            DecodePaddingMode::RequireCanonical
        } else {
            DecodePaddingMode::RequireNone
        };
        let config = GeneralPurposeConfig::new()
            .with_decode_padding_mode(padding)
            .with_decode_allow_trailing_bits(true);
        GeneralPurpose::new(alphabet, config)
    }
    const ENGINES: [[GeneralPurpose; 2]; 2] = [
        [
            engine(&base64::alphabet::STANDARD, false),
            engine(&base64::alphabet::STANDARD, true),
        ],
        [
            engine(&base64::alphabet::URL_SAFE, false),
            engine(&base64::alphabet::URL_SAFE, true),
        ],
    ];
    // Go's decoder skips line breaks, as the body's does.
    let unbroken = crate::json::without_line_breaks(text);
    let url_safe = unbroken.contains(['-', '_']);
    let padded = unbroken.len().is_multiple_of(4);
    let bytes = ENGINES[usize::from(url_safe)][usize::from(padded)]
        .decode(unbroken.as_bytes())
        .map_err(|error| format!("{text:?} is not valid base64: {error}"))?;
    Ok(Value::String(general_purpose::STANDARD.encode(bytes)))
}

/// The base64 the bytes fields of a body accept, so that what passes here also decodes there:
/// the standard or the URL-safe alphabet, padded or not (grpc-gateway requires padding; proto3
/// JSON parsers do not, and a body field takes both, so the query does too).
pub(crate) fn check_base64(text: &str) -> Result<(), String> {
    crate::json::decode_base64(text)
        .map(drop)
        .map_err(|error| format!("{text:?} is not valid base64 (standard or URL-safe): {error}"))
}

/// Decodes the binary form of `Grpc-Metadata-*-Bin` headers: standard base64, padded or not
/// (grpc-gateway's `decodeBinHeader`).
pub(crate) fn decode_binary_header(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    if text.len().is_multiple_of(4) {
        general_purpose::STANDARD.decode(text)
    } else {
        general_purpose::STANDARD_NO_PAD.decode(text)
    }
}

/// Checks an RFC 3339 timestamp (`2016-12-15T12:23:32.000000049Z`, `…+05:30`) and returns its
/// seconds since the epoch, with the parser of the message's serde impl
/// ([`Timestamp::from_rfc3339`]), so that what passes here decodes there. Like grpc-gateway (Go's
/// `time.RFC3339Nano` and `Timestamp.IsValid`): the date and time must exist (no leap second
/// 60), the instant must lie in years 0001..=9999 once in UTC, and `T` and `Z` are upper case.
/// More than 9 fractional digits are refused, as in proto3 JSON (protojson), where Go's
/// `time.Parse` would drop the excess.
pub(crate) fn timestamp_seconds(text: &str) -> Result<i64, String> {
    Timestamp::from_rfc3339(text)
        .map(|timestamp| timestamp.seconds)
        .map_err(|error| error.to_string())
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// ±10,000 years: the range of a valid `google.protobuf.Duration`.
const MAX_DURATION_SECONDS: i128 = 315_576_000_000;

/// A duration in the form grpc-gateway reads (Go's `time.ParseDuration`: a signed sequence of
/// decimal numbers with units `ns us µs ms s m h`, such as `1h30m`, `1.5s`, `-300ms`, or a bare
/// `0`), which includes proto3 JSON's own `"1.5s"`, written back in proto3 JSON form
/// (`"5400s"`), the one the message's serde impl reads. Fractions below a nanosecond are
/// dropped. The range is proto's (±10,000 years), wider than Go's (±292 years).
pub(crate) fn duration_json(text: &str) -> Result<String, String> {
    let invalid = || format!("{text:?} is not a valid duration");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok("0s".into());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let limit = MAX_DURATION_SECONDS * NANOS_PER_SECOND;
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            "" => {
                return Err(format!(
                    "{text:?} is not a valid duration: a unit is missing"
                ));
            }
            _ => {
                return Err(format!(
                    "{text:?} is not a valid duration: unknown unit {unit:?}"
                ));
            }
        };
        // Digits past the 30th cannot change the nanoseconds of an in-range duration.
        let mut amount: i128 = 0;
        for digit in whole.bytes() {
            amount = amount * 10 + i128::from(digit - b'0');
            if amount > limit {
                return Err(format!("{text:?} is out of range for a duration"));
            }
        }
        let mut nanos = amount * unit_nanos;
        let mut scale: i128 = 1;
        let mut fraction_value: i128 = 0;
        for digit in fraction.bytes().take(30) {
            fraction_value = fraction_value * 10 + i128::from(digit - b'0');
            scale *= 10;
        }
        nanos += fraction_value * unit_nanos / scale;
        total += nanos;
        if total > limit {
            return Err(format!("{text:?} is out of range for a duration"));
        }
        rest = after;
    }
    Ok(format_duration(if negative { -total } else { total }))
}

/// proto3 JSON's duration form: seconds with 0, 3, 6 or 9 fractional digits and an `s`.
fn format_duration(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    let seconds = magnitude / NANOS_PER_SECOND as u128;
    let fraction = magnitude % NANOS_PER_SECOND as u128;
    if fraction == 0 {
        format!("{sign}{seconds}s")
    } else if fraction.is_multiple_of(1_000_000) {
        format!("{sign}{seconds}.{:03}s", fraction / 1_000_000)
    } else if fraction.is_multiple_of(1_000) {
        format!("{sign}{seconds}.{:06}s", fraction / 1_000)
    } else {
        format!("{sign}{seconds}.{fraction:09}s")
    }
}

/// What is wrong with a JSON value found for a field of kind `kind` (one element of a repeated
/// field, one value of a map), when the rules of this module can tell; `None` leaves the
/// explanation to the serde error. Used only after decoding failed, to name the problem in the
/// same words as for query parameters instead of serde's (pbjson's number fields, for one, say
/// "data did not match any variant of untagged enum" for a bool).
pub(crate) fn json_problem(kind: &FieldKind, value: &Value) -> Option<String> {
    let scalar = match kind {
        FieldKind::Scalar(scalar) | FieldKind::WellKnown(WellKnown::Wrapper(scalar)) => *scalar,
        FieldKind::WellKnown(WellKnown::Timestamp) => {
            return match value {
                Value::String(text) => timestamp_seconds(text).err(),
                other => Some(expected("an RFC 3339 timestamp string", other)),
            };
        }
        FieldKind::Enum(name) => {
            return match value {
                // A number in text, from a path variable or query parameter, is read only if
                // the enum names it (pbjson's own message for it reads "expected expected one
                // of").
                Value::Object(query) => match query.get(QUERY_KEY) {
                    Some(Value::String(text)) if text.parse::<i64>().is_ok() => {
                        Some(format!("{text} is not a value of enum {name}"))
                    }
                    // Names are the serde impl's to check; its message lists them.
                    _ => None,
                },
                Value::String(_) => None,
                // Called only for a value that failed to decode: any whole 32-bit number is
                // read (proto3 enums are open), so this one is not.
                Value::Number(number) => Some(format!(
                    "{number} is not a number of enum {name}, a 32-bit integer"
                )),
                other => Some(expected(&format!("a {name} name or number"), other)),
            };
        }
        _ => return None,
    };
    let type_name = scalar_name(scalar);
    match (scalar, value) {
        (ScalarKind::Bool, Value::Bool(_)) => None,
        (ScalarKind::Bool, other) => Some(expected("true or false", other)),
        (ScalarKind::String, Value::String(_)) => None,
        (ScalarKind::String, other) => Some(expected("a string", other)),
        (ScalarKind::Bytes, Value::String(text)) => check_base64(text).err(),
        (ScalarKind::Bytes, other) => Some(expected("a base64 string", other)),
        (_, Value::String(text)) => scalar_value(scalar, Cow::Borrowed(text)).err(),
        // A JSON number past `f32`'s range: what serde_json reads at all fits a double.
        (ScalarKind::Float, Value::Number(number)) => number
            .as_f64()
            .is_some_and(|n| <f32 as ProtoNumber>::from_f64(n).is_none())
            .then(|| format!("{number} is out of range for a float")),
        (ScalarKind::Double, Value::Number(_)) => None,
        (_, Value::Number(number)) => {
            let in_range = match scalar {
                ScalarKind::Int32 => number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                ScalarKind::Uint32 => number.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
                ScalarKind::Int64 => number.as_i64().is_some(),
                _ => number.as_u64().is_some(),
            };
            (!in_range).then(|| format!("{number} is not a valid {type_name}"))
        }
        (_, other) => {
            let article = if type_name.starts_with('i') {
                "an"
            } else {
                "a"
            };
            Some(expected(
                &format!("{article} {type_name} (a number or a numeric string)"),
                other,
            ))
        }
    }
}

fn expected(what: &str, found: &Value) -> String {
    let found = match found {
        Value::Null => "null".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        scalar => scalar.to_string(),
    };
    format!("expected {what}, found {found}")
}

fn scalar_name(kind: ScalarKind) -> &'static str {
    match kind {
        ScalarKind::Double => "double",
        ScalarKind::Float => "float",
        ScalarKind::Int32 => "int32",
        ScalarKind::Int64 => "int64",
        ScalarKind::Uint32 => "uint32",
        ScalarKind::Uint64 => "uint64",
        ScalarKind::Bool => "bool",
        ScalarKind::String => "string",
        ScalarKind::Bytes => "bytes",
    }
}
