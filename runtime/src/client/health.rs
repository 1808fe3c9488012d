//! Client-side health checking (gRFC A17), opt-in
//! ([`ClientBuilder::health_check`](super::ClientBuilder::health_check)): each endpoint is
//! watched with `grpc.health.v1.Health/Watch` for the service named, on the endpoint's own
//! connection, and one whose status is not `SERVING` (a draining pod reports `NOT_SERVING`
//! before its port closes) gets no new calls until it is again.
//!
//! Where gRFC A17 holds a new endpoint back until its first `SERVING`, an endpoint here is
//! called until its watch says otherwise: the client has no queue in which calls could wait
//! for the first answer, and failing them instead would make every new client fail its first
//! calls. A server without the health service (`UNIMPLEMENTED`) is taken as serving, and its
//! watch stops, as A17 says. A watch that fails otherwise is opened again after a pause
//! (1 s doubling to 30 s), the endpoint held back meanwhile: it did not say it serves.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http::uri::PathAndQuery;
use tonic::Code;

use super::send::{Outgoing, Sender};

/// The rpc watched.
const WATCH: &str = "/grpc.health.v1.Health/Watch";

/// `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`.
const SERVING: u64 = 1;

/// What an endpoint's health check says.
#[derive(Debug, Default)]
pub(super) struct Health(AtomicU8);

/// Not said yet (the atomic's default, 0).
#[cfg(test)]
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

impl Health {
    /// Whether the endpoint may get new calls: unless its watch said it is not serving.
    pub(super) fn admits(&self) -> bool {
        self.0.load(Ordering::Relaxed) != DOWN
    }

    fn set(&self, serving: bool) {
        self.0
            .store(if serving { UP } else { DOWN }, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn state(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What is watched: an endpoint, its connection and its health.
pub(super) trait Watched: Send + Sync + 'static {
    fn sender(&self) -> &Sender;
    fn health(&self) -> &Health;
    fn label(&self) -> &str;
}

/// Watches `endpoint`'s health for `service` in a task that ends when the endpoint is gone.
pub(super) fn watch<W: Watched>(endpoint: &Arc<W>, service: Arc<str>) {
    let endpoint = Arc::downgrade(endpoint);
    tokio::spawn(async move {
        let path = PathAndQuery::from_static(WATCH);
        let request = request(&service);
        let mut pause = Duration::from_secs(1);
        while let Some(ended) = watch_once(&endpoint, &path, &request).await {
            match ended {
                Ended::Unimplemented => return,
                Ended::Failed => {}
                // A watch that answered and then ended: start over at once next time.
                Ended::Answered => pause = Duration::from_secs(1),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    });
}

/// How one watch ended.
enum Ended {
    /// The server has no health service: the endpoint counts as serving from now on.
    Unimplemented,
    /// The watch could not be opened, or failed before an answer.
    Failed,
    /// The watch answered, then ended or failed.
    Answered,
}

/// One watch, until it ends; `None` once the endpoint is gone.
async fn watch_once<W: Watched>(
    endpoint: &Weak<W>,
    path: &PathAndQuery,
    request: &Bytes,
) -> Option<Ended> {
    let opened = {
        let endpoint = endpoint.upgrade()?;
        endpoint
            .sender()
            .send(path, HeaderMap::new(), Outgoing::Message(request.clone()))
    };
    let opened = match opened.await {
        Ok(opened) => opened,
        Err(status) => return Some(failed(endpoint, status.code())),
    };
    let mut messages = opened.into_inner().into_stream();
    let mut answered = false;
    loop {
        // The endpoint is looked at again every second, so that a watch does not keep the
        // connection of an endpoint that left the set open.
        let next = tokio::time::timeout(Duration::from_secs(1), messages.message()).await;
        let strong = endpoint.upgrade()?;
        let health = strong.health();
        match next {
            Err(_quiet) => continue,
            Ok(Ok(Some(message))) => {
                answered = true;
                health.set(status(&message) == Some(SERVING));
            }
            Ok(Ok(None)) => {
                health.set(false);
                return Some(Ended::Answered);
            }
            Ok(Err(status)) if !answered => return Some(failed(endpoint, status.code())),
            Ok(Err(_)) => {
                health.set(false);
                return Some(Ended::Answered);
            }
        }
    }
}

/// A watch that failed before any answer: `UNIMPLEMENTED` makes the endpoint serving for good,
/// anything else holds it back until a watch answers.
fn failed<W: Watched>(endpoint: &Weak<W>, code: Code) -> Ended {
    let Some(endpoint) = endpoint.upgrade() else {
        return Ended::Failed;
    };
    if code == Code::Unimplemented {
        endpoint.health().set(true);
        tracing::warn!(
            endpoint = endpoint.label(),
            "the endpoint has no grpc.health.v1 service: it is taken as serving, unwatched",
        );
        Ended::Unimplemented
    } else {
        endpoint.health().set(false);
        Ended::Failed
    }
}

/// An encoded `HealthCheckRequest { service }`: field 1, a string.
fn request(service: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(service.len() + 6);
    if !service.is_empty() {
        out.put_u8(0x0a);
        prost::encoding::encode_varint(service.len() as u64, &mut out);
        out.put_slice(service.as_bytes());
    }
    out.freeze()
}

/// The `status` (field 1, a varint) of an encoded `HealthCheckResponse`; `None` when the
/// message does not read.
fn status(mut message: &[u8]) -> Option<u64> {
    let mut status = 0;
    while !message.is_empty() {
        let key = prost::encoding::decode_varint(&mut message).ok()?;
        match (key >> 3, key & 7) {
            (1, 0) => status = prost::encoding::decode_varint(&mut message).ok()?,
            // Fields of a later version: skipped by their wire type.
            (_, 0) => {
                prost::encoding::decode_varint(&mut message).ok()?;
            }
            (_, 2) => {
                let length = prost::encoding::decode_varint(&mut message).ok()? as usize;
                message = message.get(length..)?;
            }
            (_, 1) => message = message.get(8..)?,
            (_, 5) => message = message.get(4..)?,
            _ => return None,
        }
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_read_as_the_health_protos_say() {
        assert_eq!(&request("inventory.v1.InventoryService")[..2], [0x0a, 29]);
        assert_eq!(request(""), Bytes::new());
        assert_eq!(status(&[0x08, 0x01]), Some(SERVING));
        assert_eq!(status(&[0x08, 0x02]), Some(2));
        assert_eq!(status(&[]), Some(0), "UNKNOWN, the default");
        // An unknown string field before the status is skipped.
        assert_eq!(status(&[0x12, 0x02, b'h', b'i', 0x08, 0x01]), Some(SERVING));
        assert_eq!(status(&[0x12, 0x05, b'h']), None, "cut short");

        let health = Health::default();
        assert!(health.admits() && health.state() == UNKNOWN);
        health.set(false);
        assert!(!health.admits());
        health.set(true);
        assert!(health.admits());
    }
}
