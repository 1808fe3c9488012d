//! gRFC A6's rules that live in HTTP/2 frames, against a raw HTTP/2 server (the h2 crate) that
//! answers each stream as a test scripts it: response headers followed by an error commit the
//! call (no retry, even for a safe method); a stream refused before processing
//! (`REFUSED_STREAM`) is sent again once, for any method, without counting as an attempt; a
//! `grpc-retry-pushback-ms` trailer sent twice stops the retries; a refused client stream is
//! sent again with the messages it had sent, unless they outgrew the retry buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use rust_svc_runtime::client::{BreakerPolicy, RetryThrottling};
use rust_svc_runtime::{BoxStream, Code, Context};
use rust_svc_tests::tests::resilience::{Call, Flaky, FlakyClient, KeyedCall, Reply};

/// How the raw server answers one stream.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// `RST_STREAM(REFUSED_STREAM)` before reading anything.
    Refuse,
    /// `RST_STREAM(REFUSED_STREAM)` once the whole request has been read: the client has sent
    /// every message by then.
    ReadThenRefuse,
    /// Response headers, then trailers with `UNAVAILABLE` and no message.
    HeadersThenUnavailable,
    /// A trailers-only `UNAVAILABLE`.
    Unavailable,
    /// A trailers-only `UNAVAILABLE` with `grpc-retry-pushback-ms` twice.
    PushbackTwice,
    /// One `Reply`, then `OK`.
    Reply,
    /// `OK` and no message.
    NoReply,
    /// Two `Reply`s, then `OK`.
    TwoReplies,
    /// One message said to be compressed with an encoding nobody has, then `OK`.
    UnknownEncoding,
}

/// Serves HTTP/2 on loopback, answering stream number n (from 1) with `script(n)`; the count
/// of streams received.
async fn raw_server(script: fn(usize) -> Answer) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = streams.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(socket).await.unwrap();
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let number = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    match script(number) {
                        Answer::ReadThenRefuse => {
                            tokio::spawn(async move {
                                let mut body = request.into_body();
                                while let Some(Ok(_)) = body.data().await {}
                                respond.send_reset(h2::Reason::REFUSED_STREAM);
                            });
                        }
                        scripted => answer(scripted, number, &mut respond),
                    }
                }
            });
        }
    });
    (addr, streams)
}

fn answer(answer: Answer, number: usize, respond: &mut h2::server::SendResponse<Bytes>) {
    let headers = || {
        Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(())
            .unwrap()
    };
    let status = |code: &'static str| {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static(code));
        trailers
    };
    match answer {
        Answer::Refuse | Answer::ReadThenRefuse => respond.send_reset(h2::Reason::REFUSED_STREAM),
        Answer::HeadersThenUnavailable => {
            let mut body = respond.send_response(headers(), false).unwrap();
            body.send_trailers(status("14")).unwrap();
        }
        Answer::Unavailable => {
            let mut response = headers();
            response
                .headers_mut()
                .insert("grpc-status", HeaderValue::from_static("14"));
            respond.send_response(response, true).unwrap();
        }
        Answer::PushbackTwice => {
            let mut response = headers();
            let fields = response.headers_mut();
            fields.insert("grpc-status", HeaderValue::from_static("14"));
            fields.append("grpc-retry-pushback-ms", HeaderValue::from_static("10"));
            fields.append("grpc-retry-pushback-ms", HeaderValue::from_static("10"));
            respond.send_response(response, true).unwrap();
        }
        Answer::Reply | Answer::NoReply | Answer::TwoReplies | Answer::UnknownEncoding => {
            let reply = Reply {
                attempt: number as u32,
                tag: "raw".to_owned(),
            }
            .encode_to_vec();
            let compressed = matches!(answer, Answer::UnknownEncoding);
            let mut frame = BytesMut::with_capacity(reply.len() + 5);
            frame.put_u8(u8::from(compressed));
            frame.put_u32(reply.len() as u32);
            frame.put_slice(&reply);
            let frame = frame.freeze();
            let mut response = headers();
            if compressed {
                response
                    .headers_mut()
                    .insert("grpc-encoding", HeaderValue::from_static("foo"));
            }
            let mut body = respond.send_response(response, false).unwrap();
            let copies = match answer {
                Answer::NoReply => 0,
                Answer::TwoReplies => 2,
                _ => 1,
            };
            for _ in 0..copies {
                body.send_data(frame.clone(), false).unwrap();
            }
            body.send_trailers(status("0")).unwrap();
        }
    }
}

fn client(addr: SocketAddr) -> FlakyClient {
    FlakyClient::connect_lazy([format!("http://{addr}")]).unwrap()
}

fn read() -> Call {
    Call {
        tag: "read".to_owned(),
    }
}

/// A write without an idempotency key: never retried by policy.
fn unsafe_write() -> KeyedCall {
    KeyedCall {
        tag: "write".to_owned(),
        request_key: String::new(),
    }
}

#[tokio::test]
async fn response_headers_then_an_error_commit_the_call() {
    let (addr, streams) = raw_server(|_| Answer::HeadersThenUnavailable).await;
    // Read is safe to retry on UNAVAILABLE, up to 4 attempts, but it got its headers.
    let status = client(addr)
        .read(&Context::new(), read())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        streams.load(Ordering::SeqCst),
        1,
        "committed: not sent again"
    );
}

#[tokio::test]
async fn a_pushback_header_sent_twice_stops_the_retries() {
    let (addr, streams) = raw_server(|n| match n {
        1 => Answer::PushbackTwice,
        _ => Answer::Reply,
    })
    .await;
    // Sent twice, the pushback header means "do not retry".
    let status = client(addr)
        .read(&Context::new(), read())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(streams.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_stream_is_sent_again_once_even_for_an_unsafe_call() {
    let (addr, streams) = raw_server(|n| match n {
        1 => Answer::Refuse,
        _ => Answer::Reply,
    })
    .await;
    let reply = client(addr)
        .write(&Context::new(), unsafe_write())
        .await
        .unwrap();
    assert_eq!(reply.attempt, 2);
    assert_eq!(streams.load(Ordering::SeqCst), 2);

    // Only once: a second refusal is the call's failure.
    let (addr, streams) = raw_server(|_| Answer::Refuse).await;
    let status = client(addr)
        .write(&Context::new(), unsafe_write())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(streams.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_transparent_retry_is_not_an_attempt() {
    // Read makes up to 4 attempts: the refused stream comes on top of them.
    let (addr, streams) = raw_server(|n| match n {
        1 => Answer::Refuse,
        _ => Answer::Unavailable,
    })
    .await;
    // Without a breaker, which would open after four failures and turn the last attempt away.
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Disabled)
        .connect_lazy([format!("http://{addr}")])
        .unwrap();
    let status = client.read(&Context::new(), read()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(streams.load(Ordering::SeqCst), 1 + 4);
}

#[tokio::test]
async fn transparent_retries_do_not_draw_on_the_throttling_bucket() {
    // gRFC A6: a transparent retry is not a failure for throttling. Six reads refused once
    // each would otherwise take 10 tokens down to 4, and the seventh's UNAVAILABLE would not be
    // retried.
    let (addr, streams) = raw_server(|n| match n {
        1..=12 if n % 2 == 1 => Answer::Refuse,
        13 => Answer::Unavailable,
        _ => Answer::Reply,
    })
    .await;
    let client = FlakyClient::builder()
        .circuit_breaker(BreakerPolicy::Disabled)
        .retry_throttling(Some(RetryThrottling::new(10, 0.001)))
        .connect_lazy([format!("http://{addr}")])
        .unwrap();
    for _ in 0..6 {
        client.read(&Context::new(), read()).await.unwrap();
    }
    let reply = client.read(&Context::new(), read()).await.unwrap();
    assert_eq!(reply.attempt, 14, "retried after its UNAVAILABLE");
    assert_eq!(streams.load(Ordering::SeqCst), 14);
}

fn uploads() -> BoxStream<Call> {
    let messages = ["a", "b"].map(|tag| {
        Ok(Call {
            tag: tag.to_owned(),
        })
    });
    Box::pin(futures_util::stream::iter(messages))
}

#[tokio::test]
async fn a_refused_client_stream_is_sent_again_with_what_it_had_sent() {
    let (addr, streams) = raw_server(|n| match n {
        1 => Answer::ReadThenRefuse,
        _ => Answer::Reply,
    })
    .await;
    let reply = client(addr)
        .upload(&Context::new(), uploads())
        .await
        .unwrap();
    assert_eq!(reply.attempt, 2);
    assert_eq!(streams.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_stream_that_outgrew_the_retry_buffer_is_not_sent_again() {
    let (addr, streams) = raw_server(|n| match n {
        1 => Answer::ReadThenRefuse,
        _ => Answer::Reply,
    })
    .await;
    // Four bytes a call: the second message does not fit, so the call is committed, and a
    // replay would send only what came after what was let go.
    let client = FlakyClient::builder()
        .retry_buffer_per_call(4)
        .connect_lazy([format!("http://{addr}")])
        .unwrap();
    client.upload(&Context::new(), uploads()).await.unwrap_err();
    assert_eq!(
        streams.load(Ordering::SeqCst),
        1,
        "committed: not sent again"
    );
}

#[tokio::test]
async fn a_single_response_of_no_message_or_two_or_unreadable_is_an_error() {
    for (scripted, code) in [
        (Answer::NoReply, Code::Unimplemented),
        (Answer::TwoReplies, Code::Unimplemented),
        (Answer::UnknownEncoding, Code::Internal),
    ] {
        let script = match scripted {
            Answer::NoReply => (|_| Answer::NoReply) as fn(usize) -> Answer,
            Answer::TwoReplies => |_| Answer::TwoReplies,
            _ => |_| Answer::UnknownEncoding,
        };
        let (addr, _) = raw_server(script).await;
        let status = client(addr)
            .read(&Context::new(), read())
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{scripted:?}: {status:?}");
    }
}
