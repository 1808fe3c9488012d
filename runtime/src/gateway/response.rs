//! Successful unary responses: 200 with the proto3 JSON of the response message, or of the one
//! field `response_body` names (google/api/http.proto: "the response field whose value is
//! mapped to the HTTP response body").

use axum::body::Body;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::status::error_response;
use crate::Status;

pub use super::APPLICATION_JSON;
pub use super::headers::{
    METADATA_HEADER_PREFIX, TRAILER_HEADER_PREFIX, metadata_headers, response_metadata_headers,
};

/// The `response_body` of an http rule, as the generator resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseBody {
    /// The field's proto3 JSON name (what the message's serde impl writes), e.g. `items`; for a
    /// field inside message fields, the dotted path of their names, e.g. `page.items`.
    pub json_name: &'static str,
    /// The JSON the field stands for when the serializer omitted it for holding its default
    /// value, e.g. `[]`, `""`, `0`, `{}`. It must be valid JSON; it is written as is.
    pub default_json: &'static str,
}

/// The 200 response of a unary rpc: `Content-Type: application/json` and the proto3 JSON of
/// `message`, or of its `response_body` field. A message that cannot be serialized (e.g. a
/// `Duration` whose seconds and nanos disagree in sign) becomes an `INTERNAL` error response.
pub fn json_response<T: Serialize>(
    message: &T,
    response_body: Option<ResponseBody>,
) -> Response<Body> {
    match to_json(message, response_body) {
        Ok(json) => {
            let mut response = Response::new(Body::from(json));
            *response.status_mut() = StatusCode::OK;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
            response
        }
        Err(status) => error_response(&status),
    }
}

/// The proto3 JSON of `message`, or of its `response_body` field.
pub fn to_json<T: Serialize>(
    message: &T,
    response_body: Option<ResponseBody>,
) -> Result<Vec<u8>, Status> {
    let Some(body) = response_body else {
        // The common case writes straight to bytes, without a `Value` in between.
        return serde_json::to_vec(message).map_err(marshal_error);
    };
    let mut object = match serde_json::to_value(message).map_err(marshal_error)? {
        Value::Object(object) => object,
        other => {
            return Err(Status::internal(format!(
                "failed to marshal response: response_body `{}` needs a JSON object, the \
                 message serialized as {other}",
                body.json_name
            )));
        }
    };
    // A field inside message fields (`page.items`) is followed down; an unset message on the
    // way (absent, or `null`) holds the field at its default too.
    let mut names = body.json_name.split('.');
    let mut field = names.next().and_then(|name| object.remove(name));
    for name in names {
        field = match field {
            Some(Value::Object(mut inner)) => inner.remove(name),
            _ => None,
        };
    }
    match field {
        Some(field) => serde_json::to_vec(&field).map_err(marshal_error),
        None => Ok(body.default_json.as_bytes().to_vec()),
    }
}

fn marshal_error(error: serde_json::Error) -> Status {
    Status::internal(format!("failed to marshal response: {error}"))
}

#[cfg(test)]
mod tests {
    use serde::ser::{SerializeStruct, Serializer};

    use super::*;
    use crate::MetadataMap;
    use http::HeaderMap;
    use http_body_util::BodyExt;

    /// A message as pbjson writes it: default-valued fields omitted, JSON names.
    struct ListItemsResponse {
        items: Vec<&'static str>,
        next_page_token: &'static str,
    }

    impl Serialize for ListItemsResponse {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("ListItemsResponse", 2)?;
            if !self.items.is_empty() {
                s.serialize_field("items", &self.items)?;
            }
            if !self.next_page_token.is_empty() {
                s.serialize_field("nextPageToken", &self.next_page_token)?;
            }
            s.end()
        }
    }

    /// A message whose serialization fails, like a malformed `Duration`.
    struct Broken;

    impl Serialize for Broken {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("Duration has inconsistent signs"))
        }
    }

    const ITEMS: ResponseBody = ResponseBody {
        json_name: "items",
        default_json: "[]",
    };

    async fn body_text(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_whole_message_is_the_body_by_default() {
        let message = ListItemsResponse {
            items: vec!["a", "b"],
            next_page_token: "t",
        };
        let response = json_response(&message, None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            body_text(response).await,
            r#"{"items":["a","b"],"nextPageToken":"t"}"#
        );
    }

    #[tokio::test]
    async fn response_body_selects_one_field_and_its_default_when_omitted() {
        let message = ListItemsResponse {
            items: vec!["a"],
            next_page_token: "t",
        };
        let response = json_response(&message, Some(ITEMS));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_text(response).await, r#"["a"]"#);

        let empty = ListItemsResponse {
            items: vec![],
            next_page_token: "t",
        };
        assert_eq!(body_text(json_response(&empty, Some(ITEMS))).await, "[]");
    }

    #[test]
    fn a_response_body_inside_a_field_is_followed_down() {
        const LEAF: ResponseBody = ResponseBody {
            json_name: "page.items",
            default_json: "[]",
        };
        let page = serde_json::json!({"page": {"items": ["a"], "nextPageToken": "t"}});
        assert_eq!(to_json(&page, Some(LEAF)).unwrap(), br#"["a"]"#);
        // The parent unset, absent or `null` (as `emit_unpopulated` writes it): the default.
        for unset in [serde_json::json!({}), serde_json::json!({"page": null})] {
            assert_eq!(to_json(&unset, Some(LEAF)).unwrap(), b"[]", "{unset}");
        }
    }

    #[tokio::test]
    async fn a_serialization_failure_is_an_internal_error() {
        let response = json_response(&Broken, None);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["code"], 13);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("inconsistent signs"), "{message}");

        let status = to_json(&"a string", Some(ITEMS)).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("`items`"), "{}", status.message());
    }

    #[test]
    fn metadata_becomes_prefixed_headers_without_transport_keys() {
        let mut metadata = MetadataMap::new();
        metadata.insert("x-shard", "7".parse().unwrap());
        metadata.append("x-shard", "8".parse().unwrap());
        metadata.insert_bin(
            "trace-bin",
            tonic::metadata::MetadataValue::from_bytes(b"\x00\x01"),
        );
        metadata.insert("content-type", "application/grpc".parse().unwrap());
        metadata.insert("grpc-status", "5".parse().unwrap());
        metadata.insert("date", "today".parse().unwrap());

        let mut headers = HeaderMap::new();
        metadata_headers(&metadata, &mut headers);
        let shards: Vec<_> = headers.get_all("grpc-metadata-x-shard").iter().collect();
        assert_eq!(shards, ["7", "8"]);
        assert_eq!(headers["grpc-metadata-trace-bin"], "AAE");
        assert_eq!(headers.len(), 3, "{headers:?}");
    }
}
