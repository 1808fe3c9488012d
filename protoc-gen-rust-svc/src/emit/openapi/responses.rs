//! The responses of an operation: its message (or stream of them, or `HttpBody` bytes), and the
//! error of a stream that fails before its first message.

use serde_json::{Value as Json, json};

use super::raw_content;
use super::schemas::{field, reference};
use crate::model::openapi::{Operation, Response, STATUS};

/// Whether `operation` answers with a stream of JSON messages (not of `HttpBody` chunks).
pub(super) fn streams_messages(operation: &Operation) -> bool {
    operation.response.stream && !operation.response.raw
}

/// The error of a stream of messages that fails before its first one: the stream's last line
/// (or `error` event) alone, with the code's HTTP status, as grpc-gateway writes it.
pub(super) fn stream_error() -> Json {
    json!({
        "description": "An error before the stream's first message. The HTTP status follows the gRPC code, as grpc-gateway maps them; the body is the stream's `{\"error\": …}` line with the `google.rpc.Status`, or, when the request accepts `text/event-stream`, its `error` event.",
        "content": {
            "application/json": { "schema": {
                "type": "object",
                "properties": { "error": reference(STATUS) },
                "required": ["error"],
                "additionalProperties": false,
            } },
            "text/event-stream": { "schema": error_event() },
        },
    })
}

/// An SSE `error` event: its data the `google.rpc.Status`.
fn error_event() -> Json {
    json!({
        "type": "object",
        "properties": {
            "event": { "const": "error" },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": reference(STATUS),
            },
        },
        "required": ["event", "data"],
    })
}

pub(super) fn response(response: &Response) -> Json {
    if response.raw {
        let what = if response.stream {
            "The bytes of every `google.api.HttpBody` of the stream, one chunked body with the first's `content_type`."
        } else {
            "The `google.api.HttpBody`'s bytes, with its `content_type` as the media type."
        };
        return raw_content(what);
    }
    let schema = field(&response.value);
    let message = &response.message;
    if !response.stream {
        let description = match &response.field {
            Some(field) => format!("The field `{field}` of the response message `{message}`."),
            None => format!("The response message `{message}`."),
        };
        return json!({
            "description": description,
            "content": { "application/json": { "schema": schema } },
        });
    }
    let what = match &response.field {
        Some(field) => format!("the field `{field}` of each response message `{message}`"),
        None => format!("response messages `{message}`"),
    };
    let line = json!({
        "oneOf": [
            {
                "type": "object",
                "properties": { "result": schema.clone() },
                "required": ["result"],
                "additionalProperties": false,
            },
            {
                "type": "object",
                "properties": { "error": reference(STATUS) },
                "required": ["error"],
                "additionalProperties": false,
            },
        ],
    });
    // An event-stream schema describes each event (as OpenAPI 3.2 and schemathesis read it): its
    // `data` is a message's JSON, or the status's in an `error` event.
    let event = json!({
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "event": { "const": "message" },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": schema,
                    },
                },
                "required": ["data"],
            },
            error_event(),
        ],
    });
    json!({
        "description": format!(
            "A stream of {what}: newline-delimited JSON, one `{{\"result\": …}}` per message and, on failure, a last `{{\"error\": …}}` with the `google.rpc.Status`; or, when the request accepts `text/event-stream`, Server-Sent Events whose data is each message's JSON, and an `error` event with the status."
        ),
        "content": {
            "application/x-ndjson": { "schema": line },
            "text/event-stream": { "schema": event },
        },
    })
}
