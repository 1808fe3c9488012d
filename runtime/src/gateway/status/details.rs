//! The `details` of a `google.rpc.Status` in proto3 JSON: each `Any` with its `@type`, and for
//! the standard error details of google/rpc/error_details.proto their fields in lowerCamelCase.

use base64::Engine;
use prost::Message;
use serde_json::{Map, Value};
use tonic_types::pb;

/// The `details` array: each `Any` of the encoded `google.rpc.Status` in `details`, as JSON.
pub(super) fn details_json(details: &[u8]) -> Value {
    if details.is_empty() {
        return Value::Array(Vec::new());
    }
    match pb::Status::decode(details) {
        Ok(decoded) => decoded
            .details
            .iter()
            .map(|any| any_json(&any.type_url, &any.value))
            .collect(),
        Err(error) => {
            // The bytes are not ours to fix: a handler put something else in the details. The
            // code and message still reach the client; the operator learns why details are gone.
            tracing::warn!(%error, "status details are not an encoded google.rpc.Status");
            Value::Array(Vec::new())
        }
    }
}

/// One `Any` in proto3 JSON: `{"@type": url, ...fields}` for the google.rpc error details and
/// for the types a program registered ([`wkt::any::register`](crate::wkt::any::register),
/// as grpc-gateway writes any type linked into its binary), `{"@type": url, "value": base64}`
/// otherwise (or when its bytes do not decode as that type).
fn any_json(type_url: &str, value: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(type_url.to_owned()));
    // The type is named by what follows the last `/`, whatever the URL's host part is.
    let full_name = type_url.rsplit('/').next().unwrap_or_default();
    if let Some(fields) = known_detail_fields(full_name, value) {
        object.extend(fields);
        return Value::Object(object);
    }
    let any = crate::wkt::Any {
        type_url: type_url.to_owned(),
        value: bytes::Bytes::copy_from_slice(value),
    };
    serde_json::to_value(&any).unwrap_or_else(|_| {
        // Registered, but the bytes are not that type: as an unregistered one.
        let value = base64::engine::general_purpose::STANDARD.encode(value);
        object.insert("value".into(), Value::String(value));
        Value::Object(object)
    })
}

/// The proto3 JSON fields of a `google.rpc` error detail, or `None` for another type.
fn known_detail_fields(full_name: &str, bytes: &[u8]) -> Option<Map<String, Value>> {
    let fields = match full_name {
        "google.rpc.ErrorInfo" => {
            let m = pb::ErrorInfo::decode(bytes).ok()?;
            Fields::new()
                .string("reason", &m.reason)
                .string("domain", &m.domain)
                .string_map("metadata", m.metadata.iter())
        }
        "google.rpc.RetryInfo" => {
            let m = pb::RetryInfo::decode(bytes).ok()?;
            let delay = m.retry_delay.map(|d| duration_json(d.seconds, d.nanos));
            Fields::new().value("retryDelay", delay)
        }
        "google.rpc.DebugInfo" => {
            let m = pb::DebugInfo::decode(bytes).ok()?;
            Fields::new()
                .strings("stackEntries", &m.stack_entries)
                .string("detail", &m.detail)
        }
        "google.rpc.QuotaFailure" => {
            let m = pb::QuotaFailure::decode(bytes).ok()?;
            Fields::new().list("violations", m.violations.iter().map(quota_violation))
        }
        "google.rpc.PreconditionFailure" => {
            let m = pb::PreconditionFailure::decode(bytes).ok()?;
            let violations = m.violations.iter().map(|v| {
                Fields::new()
                    .string("type", &v.r#type)
                    .string("subject", &v.subject)
                    .string("description", &v.description)
                    .into_value()
            });
            Fields::new().list("violations", violations)
        }
        "google.rpc.BadRequest" => {
            let m = pb::BadRequest::decode(bytes).ok()?;
            let violations = m.field_violations.iter().map(|v| {
                Fields::new()
                    .string("field", &v.field)
                    .string("description", &v.description)
                    .string("reason", &v.reason)
                    .value(
                        "localizedMessage",
                        v.localized_message
                            .as_ref()
                            .map(|m| localized_message(m).into_value()),
                    )
                    .into_value()
            });
            Fields::new().list("fieldViolations", violations)
        }
        "google.rpc.RequestInfo" => {
            let m = pb::RequestInfo::decode(bytes).ok()?;
            Fields::new()
                .string("requestId", &m.request_id)
                .string("servingData", &m.serving_data)
        }
        "google.rpc.ResourceInfo" => {
            let m = pb::ResourceInfo::decode(bytes).ok()?;
            Fields::new()
                .string("resourceType", &m.resource_type)
                .string("resourceName", &m.resource_name)
                .string("owner", &m.owner)
                .string("description", &m.description)
        }
        "google.rpc.Help" => {
            let m = pb::Help::decode(bytes).ok()?;
            let links = m.links.iter().map(|link| {
                Fields::new()
                    .string("description", &link.description)
                    .string("url", &link.url)
                    .into_value()
            });
            Fields::new().list("links", links)
        }
        "google.rpc.LocalizedMessage" => {
            let m = pb::LocalizedMessage::decode(bytes).ok()?;
            localized_message(&m)
        }
        _ => return None,
    };
    Some(fields.0)
}

fn quota_violation(v: &pb::quota_failure::Violation) -> Value {
    Fields::new()
        .string("subject", &v.subject)
        .string("description", &v.description)
        .string("apiService", &v.api_service)
        .string("quotaMetric", &v.quota_metric)
        .string("quotaId", &v.quota_id)
        .string_map("quotaDimensions", v.quota_dimensions.iter())
        // proto3 JSON writes 64-bit integers as strings (JavaScript numbers lose precision).
        .value(
            "quotaValue",
            (v.quota_value != 0).then(|| Value::String(v.quota_value.to_string())),
        )
        // An `optional` field is written whenever it is set, even to zero.
        .value(
            "futureQuotaValue",
            v.future_quota_value.map(|n| Value::String(n.to_string())),
        )
        .into_value()
}

fn localized_message(m: &pb::LocalizedMessage) -> Fields {
    Fields::new()
        .string("locale", &m.locale)
        .string("message", &m.message)
}

/// A `google.protobuf.Duration` in proto3 JSON, formatted by pbjson-types so that durations in
/// error details read exactly like durations in response messages (`"1.500s"`).
fn duration_json(seconds: i64, nanos: i32) -> Value {
    serde_json::to_value(pbjson_types::Duration { seconds, nanos })
        // A duration whose seconds and nanos disagree in sign is malformed; say so rather than
        // dropping the detail.
        .unwrap_or_else(|_| Value::String(format!("invalid duration ({seconds}s, {nanos}ns)")))
}

/// A proto3 JSON object under construction. Fields with default values are omitted, as proto3
/// JSON does by default and as pbjson does for response messages.
struct Fields(Map<String, Value>);

impl Fields {
    fn new() -> Self {
        Self(Map::new())
    }

    fn string(self, name: &str, value: &str) -> Self {
        self.value(
            name,
            (!value.is_empty()).then(|| Value::String(value.to_owned())),
        )
    }

    fn strings(self, name: &str, values: &[String]) -> Self {
        self.list(name, values.iter().cloned().map(Value::String))
    }

    fn list(self, name: &str, values: impl Iterator<Item = Value>) -> Self {
        let values: Vec<Value> = values.collect();
        self.value(name, (!values.is_empty()).then_some(Value::Array(values)))
    }

    fn string_map<'a>(
        self,
        name: &str,
        entries: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let map: Map<String, Value> = entries
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect();
        self.value(name, (!map.is_empty()).then_some(Value::Object(map)))
    }

    fn value(mut self, name: &str, value: Option<Value>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
        self
    }

    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

    use super::super::status_body;
    use super::*;
    use crate::{Code, Status};

    /// `google.protobuf.Any` and `google.rpc.Status` on the wire, to build details that
    /// tonic-types' builders cannot express (unknown types, every field of every detail).
    #[derive(Clone, PartialEq, prost::Message)]
    struct WireAny {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct WireStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<WireAny>,
    }

    fn any<M: Message>(name: &str, message: &M) -> WireAny {
        WireAny {
            type_url: format!("type.googleapis.com/google.rpc.{name}"),
            value: message.encode_to_vec(),
        }
    }

    fn with_details(details: Vec<WireAny>) -> Status {
        let encoded = WireStatus {
            code: 3,
            message: "bad".into(),
            details,
        }
        .encode_to_vec();
        Status::with_details(Code::InvalidArgument, "bad", encoded.into())
    }

    fn details_of(status: &Status) -> Vec<Value> {
        let body: Value = serde_json::from_slice(&status_body(status)).unwrap();
        body["details"].as_array().unwrap().clone()
    }

    #[test]
    fn bad_request_details_from_tonic_types_render_as_any_json() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("item.sku", "must not be empty");
        details.add_bad_request_violation("quantity", "must be positive");
        details.set_retry_info(Some(Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::InvalidArgument, "bad item", details);

        let body: Value = serde_json::from_slice(&status_body(&status)).unwrap();
        assert_eq!(body["code"], 3);
        assert_eq!(body["message"], "bad item");
        let details = body["details"].as_array().unwrap();
        assert!(details.contains(&json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {"field": "item.sku", "description": "must not be empty"},
                {"field": "quantity", "description": "must be positive"},
            ],
        })));
        assert!(details.contains(&json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": "1.500s",
        })));
        assert_eq!(details.len(), 2);
    }

    #[test]
    fn field_violations_keep_reason_and_localized_message() {
        let violation = pb::bad_request::FieldViolation {
            field: "name".into(),
            description: "too long".into(),
            reason: "NAME_TOO_LONG".into(),
            localized_message: Some(pb::LocalizedMessage {
                locale: "de-DE".into(),
                message: "zu lang".into(),
            }),
        };
        let status = with_details(vec![any(
            "BadRequest",
            &pb::BadRequest {
                field_violations: vec![violation, FieldViolation::new("id", "bad").into()],
            },
        )]);
        assert_eq!(
            details_of(&status),
            [json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {
                        "field": "name",
                        "description": "too long",
                        "reason": "NAME_TOO_LONG",
                        "localizedMessage": {"locale": "de-DE", "message": "zu lang"},
                    },
                    {"field": "id", "description": "bad"},
                ],
            })]
        );
    }

    #[test]
    fn every_standard_detail_renders_its_fields_in_lower_camel_case() {
        let status = with_details(vec![
            any(
                "ErrorInfo",
                &pb::ErrorInfo {
                    reason: "STOCKOUT".into(),
                    domain: "inventory.example.com".into(),
                    metadata: [("sku".to_owned(), "A-1".to_owned())].into(),
                },
            ),
            any(
                "DebugInfo",
                &pb::DebugInfo {
                    stack_entries: vec!["a.rs:1".into(), "b.rs:2".into()],
                    detail: "boom".into(),
                },
            ),
            any(
                "QuotaFailure",
                &pb::QuotaFailure {
                    violations: vec![pb::quota_failure::Violation {
                        subject: "project:1".into(),
                        description: "daily limit".into(),
                        api_service: "inventory.example.com".into(),
                        quota_metric: "reads".into(),
                        quota_id: "ReadsPerDay".into(),
                        quota_dimensions: [("region".to_owned(), "eu".to_owned())].into(),
                        quota_value: 9_007_199_254_740_993,
                        future_quota_value: Some(0),
                    }],
                },
            ),
            any(
                "PreconditionFailure",
                &pb::PreconditionFailure {
                    violations: vec![pb::precondition_failure::Violation {
                        r#type: "TOS".into(),
                        subject: "example.com".into(),
                        description: "terms not accepted".into(),
                    }],
                },
            ),
            any(
                "RequestInfo",
                &pb::RequestInfo {
                    request_id: "r-1".into(),
                    serving_data: "shard 3".into(),
                },
            ),
            any(
                "ResourceInfo",
                &pb::ResourceInfo {
                    resource_type: "item".into(),
                    resource_name: "items/1".into(),
                    owner: "user:1".into(),
                    description: "locked".into(),
                },
            ),
            any(
                "Help",
                &pb::Help {
                    links: vec![pb::help::Link {
                        description: "docs".into(),
                        url: "https://example.com".into(),
                    }],
                },
            ),
            any(
                "LocalizedMessage",
                &pb::LocalizedMessage {
                    locale: "en-US".into(),
                    message: "Out of stock".into(),
                },
            ),
            any("RetryInfo", &pb::RetryInfo { retry_delay: None }),
        ]);
        let url = |name: &str| format!("type.googleapis.com/google.rpc.{name}");
        assert_eq!(
            details_of(&status),
            [
                json!({"@type": url("ErrorInfo"), "reason": "STOCKOUT",
                       "domain": "inventory.example.com", "metadata": {"sku": "A-1"}}),
                json!({"@type": url("DebugInfo"), "stackEntries": ["a.rs:1", "b.rs:2"],
                       "detail": "boom"}),
                json!({"@type": url("QuotaFailure"), "violations": [{
                    "subject": "project:1", "description": "daily limit",
                    "apiService": "inventory.example.com", "quotaMetric": "reads",
                    "quotaId": "ReadsPerDay", "quotaDimensions": {"region": "eu"},
                    "quotaValue": "9007199254740993", "futureQuotaValue": "0"}]}),
                json!({"@type": url("PreconditionFailure"), "violations": [{
                    "type": "TOS", "subject": "example.com",
                    "description": "terms not accepted"}]}),
                json!({"@type": url("RequestInfo"), "requestId": "r-1",
                       "servingData": "shard 3"}),
                json!({"@type": url("ResourceInfo"), "resourceType": "item",
                       "resourceName": "items/1", "owner": "user:1", "description": "locked"}),
                json!({"@type": url("Help"), "links": [
                    {"description": "docs", "url": "https://example.com"}]}),
                json!({"@type": url("LocalizedMessage"), "locale": "en-US",
                       "message": "Out of stock"}),
                json!({"@type": url("RetryInfo")}),
            ]
        );
    }

    #[test]
    fn unknown_or_undecodable_details_keep_their_bytes_as_base64() {
        let status = with_details(vec![
            WireAny {
                type_url: "type.example.com/acme.Custom".into(),
                value: vec![0x08, 0x96, 0x01],
            },
            // Right name, bytes that are no ErrorInfo (a truncated field).
            WireAny {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: vec![0x0a, 0x05, b'a'],
            },
        ]);
        assert_eq!(
            details_of(&status),
            [
                json!({"@type": "type.example.com/acme.Custom", "value": "CJYB"}),
                json!({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "value": "CgVh"}),
            ]
        );
    }

    #[test]
    fn details_of_registered_and_well_known_types_render_as_their_json() {
        // As grpc-gateway writes a detail of any type linked into its binary.
        crate::wkt::any::register::<crate::wkt::Struct>("acme.Bag");
        let bag: crate::wkt::Struct = serde_json::from_value(json!({"retry": true})).unwrap();
        let wait = crate::wkt::Duration {
            seconds: 1,
            nanos: 500_000_000,
        };
        let status = with_details(vec![
            WireAny {
                type_url: "type.example.com/acme.Bag".into(),
                value: bag.encode_to_vec(),
            },
            WireAny {
                type_url: "type.googleapis.com/google.protobuf.Duration".into(),
                value: wait.encode_to_vec(),
            },
            // Registered, but the bytes are no Struct: kept as they are.
            WireAny {
                type_url: "type.example.com/acme.Bag".into(),
                value: vec![0x0a, 0x05, b'a'],
            },
        ]);
        assert_eq!(
            details_of(&status),
            [
                json!({"@type": "type.example.com/acme.Bag", "retry": true}),
                json!({"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.500s"}),
                json!({"@type": "type.example.com/acme.Bag", "value": "CgVh"}),
            ]
        );
    }

    #[test]
    fn details_that_are_not_a_status_are_dropped() {
        let status = Status::with_details(Code::Internal, "oops", vec![0xff, 0xff].into());
        let body: Value = serde_json::from_slice(&status_body(&status)).unwrap();
        assert_eq!(body, json!({"code": 13, "message": "oops", "details": []}));
    }
}
