//! Client- and bidi-streaming rpcs over WebSocket, what grpc-gateway leaves to a separate
//! proxy: a `GET` with `Upgrade: websocket` on the template of such an rpc's rule upgrades, and
//! then each text (or binary) frame from the client is one request message in proto3 JSON,
//! merged with the path variables like a line of the newline-delimited body; each response
//! message goes back as one text frame. The socket closes with 1000 when the call ends well,
//! and with 4000 + the gRPC code (`4003` for INVALID_ARGUMENT…) and the status message as the
//! reason when it fails, before or after the first response. The client ends its requests with
//! an empty frame (WebSocket has no half-close: after a close frame nothing more may be sent
//! back, so a close frame from the client, like a connection gone, cancels the call instead).
//! A frame that is not one whole JSON message is refused (`4003`). An upgrade from a page of
//! another origin is refused unless the gateway's CORS settings allow that origin (browsers
//! leave that check to the server).
//!
//! The call itself is served as over HTTP: the frames become the newline-delimited body the
//! rpc reads, and its newline-delimited answer becomes frames, so deadlines, interceptors and
//! errors are the same.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, CONTENT_TYPE, HOST, ORIGIN, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use super::routed::ResponseFuture;
use crate::Status;
use crate::cors::Cors;

/// The close code of a call that ended well.
const NORMAL: u16 = 1000;

/// The close codes of a failed call: 4000 + its gRPC code.
const STATUS_BASE: u16 = 4000;

/// Whether the request asks to upgrade to a WebSocket.
pub(super) fn is_upgrade(parts: &http::request::Parts) -> bool {
    let has = |name, token: &str| {
        parts.headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    parts.method == Method::GET && has(UPGRADE, "websocket") && has(CONNECTION, "upgrade")
}

/// Upgrades, then serves the call `call` makes of the request parts and a body of the frames
/// (`json`: each frame must be one JSON message; else, an `HttpBody` stream, they are raw).
pub(super) fn upgrade<C>(mut parts: http::request::Parts, json: bool, call: C) -> ResponseFuture
where
    C: FnOnce(http::request::Parts, Body) -> ResponseFuture + Send + 'static,
{
    Box::pin(async move {
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(WebSocketUpgradeRejection::InvalidWebSocketVersionHeader(rejection)) => {
                // RFC 6455, 4.2.2: the versions the server speaks, with 426.
                let mut response = rejection.into_response();
                *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
                response
                    .headers_mut()
                    .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                return response;
            }
            Err(rejection) => return rejection.into_response(),
        };
        upgrade.on_upgrade(move |socket| bridge(socket, parts, json, call))
    })
}

/// Why an upgrade from a page of another origin is refused, if it is: browsers let any page
/// open a WebSocket to any server, with its cookies, and leave the origin check to the server
/// (RFC 6455, 10.2). Allowed are requests without `Origin` (not from a browser), from the
/// server's own origin (`Origin`'s host and port those of `Host`), and from the origins `cors`
/// allows.
pub(super) fn refused_origin(headers: &HeaderMap, uri: &Uri, cors: &Cors) -> Option<Status> {
    let origin = headers.get(ORIGIN)?;
    if cors.allows_origin(origin) {
        return None;
    }
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(http::uri::Authority::as_str));
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => None,
        _ => Some(Status::permission_denied(format!(
            "a WebSocket from a page of origin {:?} is refused: allow the origin in the gateway's CORS settings (`Cors::allow_origins`) to serve it",
            String::from_utf8_lossy(origin.as_bytes())
        ))),
    }
}

async fn bridge<C>(socket: WebSocket, parts: http::request::Parts, json: bool, call: C)
where
    C: FnOnce(http::request::Parts, Body) -> ResponseFuture + Send + 'static,
{
    let (mut sender, mut receiver) = socket.split();
    // The client's frames, as the lines of a newline-delimited body.
    let (lines, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut frames = 0_usize;
        loop {
            let data = match receiver.next().await {
                Some(Ok(Message::Text(text))) => Bytes::from(text.as_str().to_owned()),
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                // A close frame before the empty one, a connection gone, a frame over the
                // limit: the requests were cut short, and the call is cancelled, as when an
                // HTTP body breaks off (WebSocket has no half-close: after a close frame
                // nothing more may be sent back).
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    let cut = std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the client closed the WebSocket before its empty frame ended the requests",
                    );
                    let _ = lines.send(Err(cut)).await;
                    return;
                }
            };
            if data.is_empty() {
                // The end of the requests.
                break;
            }
            frames += 1;
            if json && let Err(status) = one_message(&data, frames) {
                let _ = lines.send(Err(std::io::Error::other(status))).await;
                return;
            }
            let mut line = BytesMut::from(&data[..]);
            line.extend_from_slice(b"\n");
            if lines.send(Ok(line.freeze())).await.is_err() {
                break;
            }
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|line| (line, body))
    }));
    let response = call(parts, body).await;
    let ok = response.status() == StatusCode::OK;
    let ndjson = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/x-ndjson"));
    let body = response.into_body();
    let close = if !ok {
        // The call failed before its first response: a status as JSON, or, for a stream that
        // failed at its first message, the stream's `{"error": …}` line.
        let text = whole(body).await;
        let value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        status_close(value.get("error").unwrap_or(&value))
    } else if !ndjson {
        // One response (a client stream): its JSON, then the end.
        let frame = String::from_utf8_lossy(&whole(body).await).into_owned();
        if sender.send(Message::Text(frame.into())).await.is_err() {
            return;
        }
        (NORMAL, String::new())
    } else {
        // A bidi stream's `{"result": …}` lines, each a frame; an `{"error": …}` line ends it.
        let mut data = body.into_data_stream();
        let mut buffer = BytesMut::new();
        let mut close = (NORMAL, String::new());
        'lines: while let Some(Ok(chunk)) = data.next().await {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|&byte| byte == b'\n') {
                let line = buffer.split_to(end + 1);
                let Ok(value) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                if let Some(error) = value.get("error") {
                    close = status_close(error);
                    break 'lines;
                }
                let result = value.get("result").cloned().unwrap_or(Value::Null);
                if sender
                    .send(Message::Text(result.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        close
    };
    let (code, reason) = close;
    let closing = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    if sender.send(closing).await.is_err() {
        // The client closed first: the answer to its close frame (RFC 6455, 5.5.1), which the
        // socket queued when it read that frame, goes out with a flush.
        let _ = sender.flush().await;
    }
}

/// Refuses a frame that is not one whole JSON value: each frame is one request message, never
/// part of one or several (`frame` counts them from 1).
fn one_message(data: &[u8], frame: usize) -> Result<(), Status> {
    serde_json::from_slice::<serde::de::IgnoredAny>(data)
        .map(drop)
        .map_err(|error| {
            Status::invalid_argument(format!(
                "WebSocket frame {frame}: not one JSON message ({error}); send each request message in a text frame of its own"
            ))
        })
}

/// A response body read to its end (what arrived, if it broke off).
async fn whole(body: Body) -> Bytes {
    use http_body_util::BodyExt;
    match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

/// The close code and reason of a `google.rpc.Status` in JSON: 4000 + its code, its message
/// cut to what a close frame holds (123 bytes, at a character boundary).
fn status_close(status: &Value) -> (u16, String) {
    let code = status
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .unwrap_or(2);
    let mut reason = status
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if reason.len() > 123 {
        let mut cut = 123;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    (STATUS_BASE + code, reason)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_status_closes_with_4000_plus_its_code_and_its_message() {
        assert_eq!(
            status_close(&json!({"code": 3, "message": "bad"})),
            (4003, "bad".to_owned())
        );
        let long = "é".repeat(100);
        let (_, reason) = status_close(&json!({"code": 13, "message": long}));
        assert!(reason.len() <= 123 && reason.chars().all(|c| c == 'é'));
        assert_eq!(status_close(&Value::Null).0, 4002);
    }

    #[test]
    fn only_pages_of_the_servers_origin_or_those_cors_allows_may_upgrade() {
        let refused = |origin: Option<&str>, host: Option<&str>, uri: &str, cors: &Cors| {
            let mut headers = HeaderMap::new();
            if let Some(origin) = origin {
                headers.insert(ORIGIN, origin.parse().unwrap());
            }
            if let Some(host) = host {
                headers.insert(HOST, host.parse().unwrap());
            }
            refused_origin(&headers, &uri.parse().unwrap(), cors).map(|status| status.code())
        };
        let off = Cors::new();
        let app = Cors::new().allow_origins(["https://app.example"]);
        // No `Origin`: not a browser's request.
        assert_eq!(refused(None, Some("api.example"), "/v1/chat", &off), None);
        // The server's own origin, by `Host`, or by the authority of an HTTP/2 request.
        let own = Some("https://API.example:8443");
        assert_eq!(refused(own, Some("api.example:8443"), "/", &off), None);
        assert_eq!(refused(own, None, "https://api.example:8443/", &off), None);
        // Another origin: refused, unless CORS allows it.
        let other = Some("https://app.example");
        assert_eq!(
            refused(other, Some("api.example"), "/", &off),
            Some(crate::Code::PermissionDenied)
        );
        assert_eq!(refused(other, Some("api.example"), "/", &app), None);
        assert_eq!(
            refused(Some("null"), Some("api.example"), "/", &app),
            Some(crate::Code::PermissionDenied)
        );
        let any = Cors::new().allow_any_origin();
        assert_eq!(refused(other, Some("api.example"), "/", &any), None);
    }

    #[test]
    fn only_a_get_asking_for_websocket_upgrades() {
        let parts = |method: Method, upgrade: &str, connection: &str| {
            http::Request::builder()
                .method(method)
                .header(UPGRADE, upgrade)
                .header(CONNECTION, connection)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        assert!(is_upgrade(&parts(Method::GET, "websocket", "Upgrade")));
        assert!(is_upgrade(&parts(
            Method::GET,
            "WebSocket",
            "keep-alive, upgrade"
        )));
        assert!(!is_upgrade(&parts(Method::POST, "websocket", "upgrade")));
        assert!(!is_upgrade(&parts(Method::GET, "h2c", "upgrade")));
    }
}
