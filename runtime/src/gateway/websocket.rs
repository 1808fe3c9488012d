//! Client- and bidi-streaming rpcs over WebSocket, what grpc-gateway leaves to a separate
//! proxy: a `GET` with `Upgrade: websocket` on the template of such an rpc's rule upgrades, and
//! then each text (or binary) frame from the client is one request message in proto3 JSON,
//! merged with the path variables like a line of the newline-delimited body; each response
//! message goes back as one text frame. The socket closes with 1000 when the call ends well,
//! and with 4000 + the gRPC code (`4003` for INVALID_ARGUMENT…) and the status message as the
//! reason when it fails, before or after the first response. The client ends its requests with
//! an empty frame (WebSocket has no half-close: after a close frame nothing more may be sent
//! back, so a close frame from the client cancels the call instead).
//!
//! The call itself is served as over HTTP: the frames become the newline-delimited body the
//! rpc reads, and its newline-delimited answer becomes frames, so deadlines, interceptors and
//! errors are the same.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use http::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use http::{Method, StatusCode};
use serde_json::Value;

use super::service::ResponseFuture;

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

/// Upgrades, then serves the call `call` makes of the request parts and a body of the frames.
pub(super) fn upgrade<C>(mut parts: http::request::Parts, call: C) -> ResponseFuture
where
    C: FnOnce(http::request::Parts, Body) -> ResponseFuture + Send + 'static,
{
    Box::pin(async move {
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        upgrade.on_upgrade(move |socket| bridge(socket, parts, call))
    })
}

async fn bridge<C>(socket: WebSocket, parts: http::request::Parts, call: C)
where
    C: FnOnce(http::request::Parts, Body) -> ResponseFuture + Send + 'static,
{
    let (mut sender, mut receiver) = socket.split();
    // The client's frames, as the lines of a newline-delimited body.
    let (lines, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        while let Some(Ok(message)) = receiver.next().await {
            let data = match message {
                Message::Text(text) => Bytes::from(text.as_str().to_owned()),
                Message::Binary(bytes) => bytes,
                // A close frame cancels the call; it cannot be a half-close, as after one
                // nothing more may be sent back.
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if data.is_empty() {
                // The end of the requests.
                break;
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
    let _ = sender
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
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
