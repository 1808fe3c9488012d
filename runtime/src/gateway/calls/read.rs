//! Reading a call's request: the body within its size limit and the deadline, merged with the
//! path bindings and the query into the request message, or read as a stream of messages.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::super::request::{BodyRule, decode_patch_request, decode_request};
use super::super::routed::{Call, CallParts};
use super::super::schema::MessageSchema;
use super::super::stream::ndjson_requests;
use super::super::{form, http_body, protobuf, status};
use super::Rejection;
use crate::{BoxStream, Context, Status};

/// The request message of a call: the body read within the size limit, then merged with the
/// path bindings and the query.
///
/// The call stays boxed while its body is read, only the body taken out of it: destructured,
/// its parts (the request head, the context) would be this future's state beside the read, and
/// the future of the whole call (boxed on every call) would outgrow the sizes the allocator
/// serves from its per-thread cache.
pub(super) async fn read_request<Req>(
    mut call: Call,
    schema: &'static MessageSchema,
) -> Result<(Context, Req), Rejection>
where
    Req: DeserializeOwned + prost::Message + Default + Serialize,
{
    let inner = &mut *call.inner;
    let body = std::mem::take(&mut inner.body);
    let (route, max_body_bytes) = (inner.route, inner.max_body_bytes);
    let rule = BodyRule::parse(route.binding.body);
    let deadline = inner.ctx.deadline();
    if inner.form {
        // An HTML form standing for the query (form.rs): no body.
        let fields = read_body(body, max_body_bytes, deadline).await?;
        let inner = call.inner;
        let query = form::query(&fields, inner.parts.uri.query())
            .map_err(|status| Box::new(status::error_response(&status)))?;
        let request = decode_request(schema, rule, &inner.bindings, Some(&query), &[])
            .map_err(|status| Box::new(status::error_response(&status)))?;
        return Ok((inner.ctx, request));
    }
    // The body is JSON whatever its Content-Type says, but for binary protobuf: curl's `-d`
    // sends `application/x-www-form-urlencoded`, and grpc-gateway reads a body of any type it
    // has no other codec for with its JSON marshaler (text that is not JSON is then a 400).
    let content_type = inner.format.content_type.as_ref();
    let bytes = if route.binding.request_http_body {
        let content_type = content_type.cloned();
        let raw = read_body(body, max_body_bytes, deadline).await?;
        Bytes::from(http_body::request_json(content_type.as_ref(), &raw))
    } else if protobuf::is_protobuf_body(content_type) {
        if let BodyRule::Field(field) = rule {
            return Err(Box::new(protobuf::field_body_is_json_only(field)));
        }
        let encoded = read_body(body, max_body_bytes, deadline).await?;
        protobuf::json_of_encoded::<Req>(&encoded)
            .map(Bytes::from)
            .map_err(|status| Box::new(status::error_response(&status)))?
    } else {
        read_body(body, max_body_bytes, deadline).await?
    };
    // Read where they lie in the box, as `request_without_body` does.
    let inner = call.inner;
    let request = decode_call(schema, rule, &inner.bindings, &inner.parts, &bytes)?;
    Ok((inner.ctx, request))
}

/// The request message of a call whose rule takes no body (see [`CallParts::reads_body`]):
/// the path bindings and the query. The body, if one came, is not read.
pub(super) fn request_without_body<Req>(
    call: Call,
    schema: &'static MessageSchema,
) -> Result<(Context, Req), Rejection>
where
    Req: DeserializeOwned + prost::Message + Default + Serialize,
{
    // Read where they lie in the box; only the context is moved out of it (unpacking the
    // whole call copied its 660 bytes to the stack first).
    let inner = call.inner;
    let request = decode_call(schema, BodyRule::None, &inner.bindings, &inner.parts, &[])?;
    Ok((inner.ctx, request))
}

/// The request message of bindings, query and the body's JSON (`PATCH` filling the update
/// mask from the body's fields).
fn decode_call<Req>(
    schema: &'static MessageSchema,
    rule: BodyRule,
    bindings: &[(Arc<str>, String)],
    parts: &http::request::Parts,
    json: &[u8],
) -> Result<Req, Rejection>
where
    Req: DeserializeOwned + prost::Message + Default + Serialize,
{
    let decode = if parts.method == http::Method::PATCH {
        decode_patch_request
    } else {
        decode_request
    };
    decode(schema, rule, bindings, parts.uri.query(), json)
        .map_err(|status| Box::new(status::error_response(&status)))
}

/// The requests of a streaming call, one JSON message after another in the body: each the
/// whole request (`body: "*"`), or the value of the rule's body field, with the path bindings
/// and the query around it (the Envoy transcoder's `BulkCreateShelf`, `body: "shelf"`).
pub(super) fn request_stream<Req: DeserializeOwned + Send + 'static>(
    call: Call,
    schema: &'static MessageSchema,
) -> Result<(Context, BoxStream<Req>), Rejection> {
    let CallParts {
        route,
        bindings,
        parts,
        body,
        ctx,
        format,
        max_body_bytes,
        ..
    } = *call.inner;
    let rule = BodyRule::parse(route.binding.body);
    // `body: "*"` reads no query; a body field's messages may have fields from it.
    let query = match rule {
        BodyRule::Whole => None,
        _ => parts.uri.query().map(str::to_owned),
    };
    let decode =
        move |message: &[u8]| decode_request(schema, rule, &bindings, query.as_deref(), message);
    if route.binding.request_http_body {
        let content_type = format.content_type.as_ref();
        let requests = http_body::request_stream(content_type, body, decode);
        return Ok((ctx, requests));
    }
    Ok((ctx, ndjson_requests(body, max_body_bytes, decode)))
}

/// The whole body, at most `limit` bytes, read before `deadline`: a client that sends its body
/// slowly holds the call's slot (it was admitted before its body was read) only as long as the
/// call may take, as a gRPC call's messages are, rather than for as long as it keeps sending.
async fn read_body(
    body: Body,
    limit: usize,
    deadline: Option<tokio::time::Instant>,
) -> Result<Bytes, Rejection> {
    let too_large = || {
        let status = Status::resource_exhausted(format!(
            "request body is larger than the limit of {limit} bytes"
        ));
        Box::new(status::status_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &status,
        ))
    };
    // A body whose `Content-Length` says it is too large is refused before a byte of it is
    // read, and so before hyper answers an `Expect: 100-continue` (RFC 9110, 10.1.1).
    if usize::try_from(::http_body::Body::size_hint(&body).lower()).map_or(true, |len| len > limit)
    {
        return Err(too_large());
    }
    let collect = http_body_util::Limited::new(body, limit).collect();
    let collected = match deadline {
        // A body that is all there already is read without arming a timer.
        Some(deadline) => match crate::deadline::timeout_at(deadline, collect).await {
            Ok(collected) => collected,
            Err(_elapsed) => {
                return Err(Box::new(status::error_response(
                    &Status::deadline_exceeded(
                        "the deadline passed while the request body was being read",
                    ),
                )));
            }
        },
        None => collect.await,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(Box::new(status::error_response(&Status::invalid_argument(
            format!("could not read the request body: {error}"),
        )))),
    }
}
