//! `google.protobuf.FieldMask` in its proto3 JSON form.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

use crate::json::query_text;

/// `google.protobuf.FieldMask` with its proto3 JSON form: `{"paths": ["user.display_name",
/// "id"]}` is the JSON string `"user.displayName,id"`.
///
/// Writing fails, as in protobuf-go's `protojson`, for a path that is not a dotted list of
/// identifiers or whose lowerCamelCase form would not read back as the same path
/// (`foo__bar`, `fooBar`). Reading a JSON string converts each segment to snake_case and, as
/// protojson, refuses one with `_` or whitespace (the conformance suite's
/// `FieldMaskInvalidCharacter`). A path variable or query parameter names paths in proto
/// form, as grpc-gateway passes `?update_mask=display_name` or `Num` through unchanged; a
/// segment of it in lowerCamelCase is read as the JSON name of a snake_case field, as the
/// Envoy transcoder reads it. ([`FieldMask::from_json_paths`] reads both forms everywhere.)
///
/// ```
/// use rust_svc_runtime::wkt::FieldMask;
///
/// let mask: FieldMask = serde_json::from_str(r#""user.displayName,id""#).unwrap();
/// assert_eq!(mask.paths, ["user.display_name", "id"]);
/// assert_eq!(serde_json::to_string(&mask).unwrap(), r#""user.displayName,id""#);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct FieldMask {
    /// The field paths, in proto (snake_case) form.
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}

impl ::prost::Name for FieldMask {
    const NAME: &'static str = "FieldMask";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        "type.googleapis.com/google.protobuf.FieldMask".to_owned()
    }
}

/// A field-mask path that has no proto3 JSON form, or a JSON string that is no field mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFieldMask {
    path: String,
    reason: &'static str,
}

impl fmt::Display for InvalidFieldMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid google.protobuf.FieldMask path {:?}: {}",
            self.path, self.reason
        )
    }
}

impl std::error::Error for InvalidFieldMask {}

impl FieldMask {
    /// A mask of these paths (proto form, e.g. `user.display_name`).
    pub fn new<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            paths: paths.into_iter().map(Into::into).collect(),
        }
    }

    /// The proto3 JSON form: comma-separated lowerCamelCase paths.
    pub fn to_json_paths(&self) -> Result<String, InvalidFieldMask> {
        let mut json = String::new();
        for (index, path) in self.paths.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let start = json.len();
            for (index, segment) in path.split('.').enumerate() {
                check_identifier(path, segment)?;
                if index > 0 {
                    json.push('.');
                }
                lower_camel_case(segment, &mut json);
            }
            if snake_case_of(&json[start..]) != *path {
                return Err(InvalidFieldMask {
                    path: path.clone(),
                    reason: "its lowerCamelCase form does not convert back to it",
                });
            }
        }
        Ok(json)
    }

    /// Reads the proto3 JSON form. Surrounding whitespace is ignored; the empty string is the
    /// empty mask.
    pub fn from_json_paths(json: &str) -> Result<Self, InvalidFieldMask> {
        Self::read(json, |_| true)
    }
}

impl FieldMask {
    /// Reads a path variable's or query parameter's text: comma-separated paths, each segment
    /// in proto form as written (`update_mask=display_name`, grpc-gateway's reading, which
    /// keeps `Num` or `en_GB`), except that a segment in lowerCamelCase (a lowercase first
    /// letter, no `_`) is the JSON form of a snake_case name and read as that (`displayName`:
    /// `display_name`, as the Envoy transcoder reads it).
    fn from_query_text(text: &str) -> Result<Self, InvalidFieldMask> {
        Self::read(text, |segment| {
            segment.starts_with(|c: char| c.is_ascii_lowercase()) && !segment.contains('_')
        })
    }

    /// Comma-separated dotted paths of identifiers, surrounding whitespace ignored, each segment
    /// for which `camel` holds converted from lowerCamelCase to snake_case.
    fn read(text: &str, camel: impl Fn(&str) -> bool) -> Result<Self, InvalidFieldMask> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let paths = text
            .split(',')
            .map(|path| {
                let path = path.trim();
                let mut read = String::with_capacity(path.len() + 4);
                for (index, segment) in path.split('.').enumerate() {
                    check_identifier(path, segment)?;
                    if index > 0 {
                        read.push('.');
                    }
                    if camel(segment) {
                        read.push_str(&snake_case_of(segment));
                    } else {
                        read.push_str(segment);
                    }
                }
                Ok(read)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { paths })
    }

    /// The paths a PATCH body sets, comma-separated, already in proto form (field names, and
    /// the keys of a `Struct` as sent): taken as they are.
    fn from_proto_paths(paths: &str) -> Self {
        Self {
            paths: paths
                .split(',')
                .filter(|path| !path.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl From<pbjson_types::FieldMask> for FieldMask {
    fn from(mask: pbjson_types::FieldMask) -> Self {
        Self { paths: mask.paths }
    }
}

impl From<FieldMask> for pbjson_types::FieldMask {
    fn from(mask: FieldMask) -> Self {
        Self { paths: mask.paths }
    }
}

impl Serialize for FieldMask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self.to_json_paths().map_err(ser::Error::custom)?;
        serializer.serialize_str(&json)
    }
}

impl<'de> Deserialize<'de> for FieldMask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathsVisitor;

        impl<'de> Visitor<'de> for PathsVisitor {
            type Value = FieldMask;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a google.protobuf.FieldMask string of comma-separated paths")
            }

            fn visit_str<E: de::Error>(self, json: &str) -> Result<FieldMask, E> {
                let strict = json
                    .split([',', '.'])
                    .find(|segment| segment.contains('_') || segment.trim() != *segment);
                if let Some(segment) = strict.filter(|_| !json.is_empty()) {
                    return Err(E::custom(format!(
                        "invalid google.protobuf.FieldMask path in {json:?}: {segment:?} is not \
                         lowerCamelCase"
                    )));
                }
                FieldMask::from_json_paths(json).map_err(E::custom)
            }

            // A path variable's or query parameter's text, or the paths a PATCH body sets (see
            // `query_text`).
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<FieldMask, A::Error> {
                match query_text::read_paths(map, &self)? {
                    query_text::Paths::Query(text) => {
                        FieldMask::from_query_text(&text).map_err(de::Error::custom)
                    }
                    query_text::Paths::Proto(paths) => Ok(FieldMask::from_proto_paths(&paths)),
                }
            }
        }

        deserializer.deserialize_any(PathsVisitor)
    }
}

/// A path segment must be a proto identifier: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_identifier(path: &str, segment: &str) -> Result<(), InvalidFieldMask> {
    let invalid = |reason| InvalidFieldMask {
        path: path.to_owned(),
        reason,
    };
    let mut bytes = segment.bytes();
    match bytes.next() {
        None => Err(invalid("it has an empty segment")),
        Some(first) if first.is_ascii_digit() => Err(invalid("a segment starts with a digit")),
        Some(_)
            if segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Ok(())
        }
        Some(_) => Err(invalid(
            "a segment is not an identifier (letters, digits, `_`)",
        )),
    }
}

/// Appends the lowerCamelCase form of a snake_case identifier: every `_` is dropped and a
/// lowercase letter after one is capitalized (protobuf's JSON-name rule).
fn lower_camel_case(segment: &str, out: &mut String) {
    let mut after_underscore = false;
    for c in segment.chars() {
        if c == '_' {
            after_underscore = true;
            continue;
        }
        out.push(if after_underscore {
            c.to_ascii_uppercase()
        } else {
            c
        });
        after_underscore = false;
    }
}

/// The snake_case form of a lowerCamelCase path: every uppercase letter becomes `_` and its
/// lowercase (the inverse of [`lower_camel_case`] wherever that one is reversible).
fn snake_case_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_convert_between_snake_case_and_lower_camel_case() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&["id"], "id"),
            (&["display_name"], "displayName"),
            (&["user.display_name", "id"], "user.displayName,id"),
            (&["a.b_c.d_e_f"], "a.bC.dEF"),
            (&["line2_text", "x1"], "line2Text,x1"),
        ];
        for (paths, json) in cases {
            let mask = FieldMask::new(paths.iter().copied());
            assert_eq!(mask.to_json_paths().unwrap(), *json, "{paths:?}");
            assert_eq!(serde_json::to_value(&mask).unwrap(), json!(json));
            let back: FieldMask = serde_json::from_value(json!(json)).unwrap();
            assert_eq!(back, mask, "{json}");
        }
    }

    #[test]
    fn reading_accepts_snake_case_and_whitespace() {
        let mask = FieldMask::from_json_paths(" user.display_name , updateTime ").unwrap();
        assert_eq!(mask.paths, ["user.display_name", "update_time"]);
        assert_eq!(
            FieldMask::from_json_paths("  ").unwrap(),
            FieldMask::default()
        );
    }

    #[test]
    fn paths_without_a_json_form_fail_to_write() {
        let cases: &[(&str, &str)] = &[
            ("fooBar", "does not convert back"),
            ("foo__bar", "does not convert back"),
            ("foo_", "does not convert back"),
            // `_` before a digit is dropped and cannot be restored: `x1` reads back.
            ("x_1", "does not convert back"),
            ("a..b", "empty segment"),
            ("", "empty segment"),
            ("1st", "starts with a digit"),
            ("a-b", "not an identifier"),
        ];
        for (path, reason) in cases {
            let error = FieldMask::new([*path]).to_json_paths().unwrap_err();
            assert!(error.to_string().contains(reason), "{path}: {error}");
            let serde_error = serde_json::to_string(&FieldMask::new([*path])).unwrap_err();
            assert!(serde_error.to_string().contains(reason), "{serde_error}");
        }
    }

    #[test]
    fn json_strings_are_lower_camel_case_and_query_text_may_be_snake_case() {
        for json in ["display_name", "user.display_name", " a", "a ,b"] {
            let error = serde_json::from_value::<FieldMask>(json!(json)).unwrap_err();
            assert!(
                error.to_string().contains("lowerCamelCase"),
                "{json}: {error}"
            );
        }
        let query = query_text::query_value("user.display_name, updateTime".into());
        let mask = serde_json::from_value::<FieldMask>(query).unwrap();
        assert_eq!(mask.paths, ["user.display_name", "update_time"]);
        let mask = serde_json::from_value::<FieldMask>(json!("")).unwrap();
        assert!(mask.paths.is_empty());
    }

    #[test]
    fn strings_that_are_no_mask_fail_to_read() {
        for json in ["a,,b", "a.", "user.displayName!", "x,2y", "é"] {
            let error = serde_json::from_value::<FieldMask>(json!(json)).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("invalid google.protobuf.FieldMask path"),
                "{json}: {error}"
            );
        }
        let error = serde_json::from_value::<FieldMask>(json!({"paths": ["a"]})).unwrap_err();
        assert!(
            error.to_string().contains("comma-separated paths"),
            "{error}"
        );
    }

    #[test]
    fn converts_to_and_from_pbjson_types_field_mask() {
        let ours = FieldMask::new(["price_cents"]);
        let theirs = pbjson_types::FieldMask::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!(theirs.paths, ["price_cents"]);
        assert_eq!(FieldMask::from(theirs.clone()), ours);
        assert_eq!(pbjson_types::FieldMask::from(ours), theirs);
        assert_eq!(
            <FieldMask as prost::Name>::full_name(),
            "google.protobuf.FieldMask"
        );
    }
}
