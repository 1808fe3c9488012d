//! `google.protobuf.Any` in its proto3 JSON form, which needs the message types it may hold.
//!
//! proto3 JSON writes an `Any` as the message it holds, with its type beside its fields:
//! `{"@type": "type.googleapis.com/shop.v1.Item", "id": "7"}` (a well-known type with a JSON form
//! of its own as `{"@type": …, "value": <that form>}`). Writing the fields needs the type, which
//! protobuf-go's `protojson` finds in its global registry. Rust has no registry filled before
//! `main`, so a program names the types its `Any`s may hold, once, with [`register`]; the
//! well-known types are known already. An `Any` of a type not registered is written as
//! `{"@type": …, "value": "<base64 of its bytes>"}` and read back from that form, so nothing is
//! lost, though peers that resolve types cannot read it.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use base64::Engine as _;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `google.protobuf.Any` with its proto3 JSON form (see the [module docs](self)). The fields and
/// wire form are prost's and pbjson-types'.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Any {
    /// The type's URL, `type.googleapis.com/` and its full name.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The message, encoded.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: bytes::Bytes,
}

impl ::prost::Name for Any {
    const NAME: &'static str = "Any";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        "type.googleapis.com/google.protobuf.Any".to_owned()
    }
}

impl From<pbjson_types::Any> for Any {
    fn from(any: pbjson_types::Any) -> Self {
        Self {
            type_url: any.type_url,
            value: any.value,
        }
    }
}

impl From<Any> for pbjson_types::Any {
    fn from(any: Any) -> Self {
        Self {
            type_url: any.type_url,
            value: any.value,
        }
    }
}

/// How one registered type goes to and from JSON.
#[derive(Clone, Copy)]
struct Entry {
    to_json: fn(&[u8]) -> Result<Value, String>,
    from_json: fn(Value) -> Result<Vec<u8>, String>,
    /// A well-known type whose JSON is not an object of its fields: it goes in `"value"`.
    wrapped: bool,
}

fn registry() -> &'static RwLock<HashMap<String, Entry>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut known = HashMap::new();
        well_known(&mut known);
        RwLock::new(known)
    })
}

fn entry<M>(wrapped: bool) -> Entry
where
    M: prost::Message + Default + Serialize + DeserializeOwned,
{
    Entry {
        to_json: |bytes| {
            let message = M::decode(bytes).map_err(|error| error.to_string())?;
            serde_json::to_value(&message).map_err(|error| error.to_string())
        },
        from_json: |json| {
            let message: M = serde_json::from_value(json).map_err(|error| error.to_string())?;
            Ok(message.encode_to_vec())
        },
        wrapped,
    }
}

fn well_known(known: &mut HashMap<String, Entry>) {
    use super::{
        BoolValue, BytesValue, DoubleValue, Duration, Empty, FieldMask, FloatValue, Int32Value,
        Int64Value, ListValue, StringValue, Struct, Timestamp, UInt32Value, UInt64Value,
    };
    type JsonValue = super::Value;
    let wrapped: [(&str, Entry); 16] = [
        ("google.protobuf.Duration", entry::<Duration>(true)),
        ("google.protobuf.Timestamp", entry::<Timestamp>(true)),
        ("google.protobuf.FieldMask", entry::<FieldMask>(true)),
        ("google.protobuf.Struct", entry::<Struct>(true)),
        ("google.protobuf.Value", entry::<JsonValue>(true)),
        ("google.protobuf.ListValue", entry::<ListValue>(true)),
        ("google.protobuf.DoubleValue", entry::<DoubleValue>(true)),
        ("google.protobuf.FloatValue", entry::<FloatValue>(true)),
        ("google.protobuf.Int64Value", entry::<Int64Value>(true)),
        ("google.protobuf.UInt64Value", entry::<UInt64Value>(true)),
        ("google.protobuf.Int32Value", entry::<Int32Value>(true)),
        ("google.protobuf.UInt32Value", entry::<UInt32Value>(true)),
        ("google.protobuf.BoolValue", entry::<BoolValue>(true)),
        ("google.protobuf.StringValue", entry::<StringValue>(true)),
        ("google.protobuf.BytesValue", entry::<BytesValue>(true)),
        ("google.protobuf.Any", entry::<Any>(true)),
    ];
    known.extend(wrapped.map(|(name, entry)| (name.to_owned(), entry)));
    known.insert("google.protobuf.Empty".to_owned(), entry::<Empty>(false));
}

/// Lets `Any`s holding `M` (full proto name `full_name`, e.g. `shop.v1.Item`) be written and read
/// as proto3 JSON: with the gateway artifact every generated message has the serde impls it
/// needs. Call once at start-up for each type a program's `Any`s may hold; registering again
/// replaces the earlier entry.
pub fn register<M>(full_name: &str)
where
    M: prost::Message + Default + Serialize + DeserializeOwned,
{
    if let Ok(mut registry) = registry().write() {
        registry.insert(full_name.to_owned(), entry::<M>(false));
    }
}

fn lookup(type_url: &str) -> Option<Entry> {
    let name = type_url.rsplit_once('/').map_or(type_url, |(_, name)| name);
    registry().read().ok()?.get(name).copied()
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Serialize for Any {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = Map::new();
        object.insert("@type".into(), Value::String(self.type_url.clone()));
        match lookup(&self.type_url) {
            Some(entry) => {
                let json = (entry.to_json)(&self.value).map_err(ser::Error::custom)?;
                match json {
                    Value::Object(fields) if !entry.wrapped => object.extend(fields),
                    other => {
                        object.insert("value".into(), other);
                    }
                }
            }
            None => {
                object.insert("value".into(), Value::String(BASE64.encode(&self.value)));
            }
        }
        object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        let Some(Value::String(type_url)) = object.remove("@type") else {
            return Err(de::Error::custom("an Any needs its \"@type\""));
        };
        let value = match lookup(&type_url) {
            Some(entry) => {
                let json = if entry.wrapped {
                    object.remove("value").unwrap_or(Value::Null)
                } else {
                    Value::Object(object)
                };
                (entry.from_json)(json).map_err(de::Error::custom)?
            }
            None => match object.remove("value") {
                Some(Value::String(base64)) if object.is_empty() => BASE64
                    .decode(base64)
                    .map_err(|_| de::Error::custom("the Any's value is not base64"))?,
                _ => {
                    return Err(de::Error::custom(format!(
                        "an Any of type {type_url}, which this program has not registered \
                         (rust_svc_runtime::wkt::any::register)"
                    )));
                }
            },
        };
        Ok(Self {
            type_url,
            value: value.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_registered_type_is_written_as_its_fields_and_read_back() {
        let held = super::super::FieldMask {
            paths: vec!["a".into()],
        };
        let any = Any {
            type_url: "type.googleapis.com/google.protobuf.FieldMask".into(),
            value: held.encode_to_vec().into(),
        };
        let json = serde_json::to_value(&any).unwrap();
        assert_eq!(
            json,
            json!({"@type": "type.googleapis.com/google.protobuf.FieldMask", "value": "a"})
        );
        assert_eq!(serde_json::from_value::<Any>(json).unwrap(), any);

        let duration = Any {
            type_url: "type.googleapis.com/google.protobuf.Duration".into(),
            value: pbjson_types::Duration {
                seconds: 1,
                nanos: 0,
            }
            .encode_to_vec()
            .into(),
        };
        let json = serde_json::to_value(&duration).unwrap();
        assert_eq!(json["value"], "1s");
        assert_eq!(serde_json::from_value::<Any>(json).unwrap(), duration);
    }

    #[test]
    fn a_message_registered_by_its_name_spreads_its_fields() {
        register::<pbjson_types::SourceContext>("tests.any.Source");
        let any = Any {
            type_url: "type.googleapis.com/tests.any.Source".into(),
            value: pbjson_types::SourceContext {
                file_name: "a.proto".into(),
            }
            .encode_to_vec()
            .into(),
        };
        let json = serde_json::to_value(&any).unwrap();
        assert_eq!(
            json,
            json!({"@type": "type.googleapis.com/tests.any.Source", "fileName": "a.proto"})
        );
        assert_eq!(serde_json::from_value::<Any>(json).unwrap(), any);
    }

    #[test]
    fn an_unregistered_type_keeps_its_bytes() {
        let any = Any {
            type_url: "type.googleapis.com/tests.any.Unknown".into(),
            value: vec![1, 2, 3].into(),
        };
        let json = serde_json::to_value(&any).unwrap();
        assert_eq!(json["value"], "AQID");
        assert_eq!(serde_json::from_value::<Any>(json).unwrap(), any);
        let error =
            serde_json::from_value::<Any>(json!({"@type": "x.Unknown", "a": 1})).unwrap_err();
        assert!(error.to_string().contains("not registered"), "{error}");
    }
}
