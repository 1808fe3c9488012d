//! The scripted server and helpers the generated-client tests share (client_deadlines.rs,
//! client_retries.rs, client_breakers.rs).
//!
//! Tests about time (backoff, deadlines, pushback, open breakers) run under paused tokio time
//! over the in-memory transport, where no real I/O can let the clock jump ahead, so they are
//! exact and fast. Tests that only count calls run on a loopback port.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use rust_svc_runtime::harness::{ServerHandle, serve_in_memory, serve_loopback};
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use rust_svc_tests::tests::resilience::{
    Call, Flaky, FlakyGrpc, KeyedCall, OptionalKeyedCall, Reply,
};
use tokio::time::Instant;
use tonic_types::{ErrorDetails, StatusExt};

/// How the scripted server answers one attempt.
#[derive(Clone)]
pub enum Outcome {
    /// Answer `OK`.
    Ok,
    /// Fail with this code.
    Fail(Code),
    /// Fail with `UNAVAILABLE` and a `RetryInfo` asking for this delay.
    FailWithRetryInfo(Duration),
    /// Wait this long, then fail with this code.
    SlowFail(Duration, Code),
    /// Never answer.
    Hang,
    /// (Server streams) send one message, then fail with `UNAVAILABLE`.
    FailAfterFirst,
    /// Fail with `UNAVAILABLE` and a `grpc-retry-pushback-ms` header of each of these values.
    FailWithPushbackHeader(&'static [&'static str]),
    /// Fail with this code and a `grpc-retry-pushback-ms` header of this value.
    FailCodeWithPushback(Code, &'static str),
    /// Wait this long, then answer `OK`.
    SlowOk(Duration),
    /// (Server streams) answer with response headers at once and the first message after this
    /// long.
    SlowFirstMessage(Duration),
}

/// One attempt as the server saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub method: &'static str,
    pub at: Instant,
    pub budget: Option<Duration>,
    pub key_header: Option<String>,
    /// What `grpc-previous-rpc-attempts` said (0 when absent).
    pub previous_attempts: u32,
}

/// The scripted server: answers from a queue (then `OK` once it is empty) and records attempts.
#[derive(Clone, Default)]
pub struct Scripted {
    pub outcomes: Arc<Mutex<VecDeque<Outcome>>>,
    pub attempts: Arc<Mutex<Vec<Attempt>>>,
    /// How each upload ended: `committed`, `input error`, or `abandoned` (dropped mid-way).
    pub uploads: Arc<Mutex<Vec<&'static str>>>,
}

impl Scripted {
    pub fn script(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.lock().unwrap().extend(outcomes);
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    /// Records the attempt and answers with the next scripted outcome.
    pub async fn answer(
        &self,
        method: &'static str,
        ctx: &Context,
        tag: String,
    ) -> Result<Reply, Status> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            attempts.push(Attempt {
                method,
                at: Instant::now(),
                budget: ctx.remaining(),
                key_header: ctx
                    .metadata()
                    .get("idempotency-key")
                    .map(|value| value.to_str().unwrap().to_owned()),
                previous_attempts: ctx.previous_rpc_attempts(),
            });
            attempts.iter().filter(|a| a.method == method).count() as u32
        };
        let outcome = self
            .outcomes
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Outcome::Ok);
        match outcome {
            Outcome::Ok | Outcome::FailAfterFirst | Outcome::SlowFirstMessage(_) => {
                Ok(Reply { attempt, tag })
            }
            Outcome::Fail(code) => Err(Status::new(code, format!("scripted {code:?}"))),
            Outcome::FailWithRetryInfo(delay) => Err(Status::with_error_details(
                Code::Unavailable,
                "busy, come back later",
                ErrorDetails::with_retry_info(Some(delay)),
            )),
            Outcome::SlowFail(delay, code) => {
                tokio::time::sleep(delay).await;
                Err(Status::new(code, "slow failure"))
            }
            Outcome::Hang => std::future::pending().await,
            Outcome::SlowOk(delay) => {
                tokio::time::sleep(delay).await;
                Ok(Reply { attempt, tag })
            }
            Outcome::FailCodeWithPushback(code, value) => {
                let mut status = Status::new(code, "no");
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", value.parse().unwrap());
                Err(status)
            }
            Outcome::FailWithPushbackHeader(values) => {
                let mut status = Status::unavailable("busy");
                for value in values {
                    status
                        .metadata_mut()
                        .append("grpc-retry-pushback-ms", value.parse().unwrap());
                }
                Err(status)
            }
        }
    }
}

impl Flaky for Scripted {
    async fn read(&self, ctx: &Context, request: Call) -> Result<Reply, Status> {
        self.answer("Read", ctx, request.tag).await
    }

    async fn write(&self, ctx: &Context, request: KeyedCall) -> Result<Reply, Status> {
        let reply = self.answer("Write", ctx, request.tag).await?;
        Ok(Reply {
            tag: request.request_key,
            ..reply
        })
    }

    async fn write_optional(
        &self,
        ctx: &Context,
        request: OptionalKeyedCall,
    ) -> Result<Reply, Status> {
        self.answer("WriteOptional", ctx, request.tag).await
    }

    async fn quick(&self, ctx: &Context, request: Call) -> Result<Reply, Status> {
        self.answer("Quick", ctx, request.tag).await
    }

    async fn hedged(&self, ctx: &Context, request: Call) -> Result<Reply, Status> {
        self.answer("Hedged", ctx, request.tag).await
    }

    async fn watch(&self, ctx: &Context, request: Call) -> Result<BoxStream<Reply>, Status> {
        let next = self.outcomes.lock().unwrap().front().cloned();
        let first = self.answer("Watch", ctx, request.tag).await?;
        match next {
            Some(Outcome::FailAfterFirst) => {
                let items = vec![Ok(first), Err(Status::unavailable("stream broke"))];
                return Ok(Box::pin(stream::iter(items)));
            }
            Some(Outcome::SlowFirstMessage(delay)) => {
                let first = async move {
                    tokio::time::sleep(delay).await;
                    Ok(first)
                };
                return Ok(Box::pin(stream::once(first)));
            }
            _ => {}
        }
        let items = (0..3).map(move |n| {
            Ok(Reply {
                attempt: first.attempt,
                tag: format!("{}-{n}", first.tag),
            })
        });
        Ok(Box::pin(stream::iter(items)))
    }

    async fn upload(&self, ctx: &Context, mut requests: BoxStream<Call>) -> Result<Reply, Status> {
        let mut outcome = UploadOutcome(self.uploads.clone(), "abandoned");
        let mut tags = Vec::new();
        while let Some(call) = requests.next().await {
            match call {
                Ok(call) => tags.push(call.tag),
                Err(status) => {
                    outcome.1 = "input error";
                    return Err(status);
                }
            }
        }
        let reply = self.answer("Upload", ctx, tags.join(",")).await?;
        // Committing takes a moment, as a database write would.
        tokio::time::sleep(Duration::from_millis(20)).await;
        outcome.1 = "committed";
        Ok(reply)
    }

    async fn chat(
        &self,
        ctx: &Context,
        mut requests: BoxStream<Call>,
    ) -> Result<BoxStream<Reply>, Status> {
        // Like many bidi servers, it reads the first message before it answers.
        let Some(opening) = requests.next().await else {
            return Err(Status::invalid_argument("a chat needs an opening message"));
        };
        let first = self.answer("Chat", ctx, String::new()).await?;
        let attempt = first.attempt;
        let requests = stream::iter([opening]).chain(requests);
        Ok(Box::pin(requests.map(move |call| {
            call.map(|call| Reply {
                attempt,
                tag: call.tag,
            })
        })))
    }
}

/// Records how an upload ended when the handler's future finishes or is dropped.
pub struct UploadOutcome(pub Arc<Mutex<Vec<&'static str>>>, pub &'static str);

impl Drop for UploadOutcome {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(self.1);
    }
}

pub fn in_memory(server: &Scripted) -> (tonic::transport::Channel, ServerHandle) {
    serve_in_memory(FlakyGrpc::new(server.clone()).into_service())
}

pub async fn loopback(server: &Scripted) -> (tonic::transport::Channel, ServerHandle) {
    serve_loopback(FlakyGrpc::new(server.clone()).into_service())
        .await
        .unwrap()
}

pub fn call(tag: &str) -> Call {
    Call {
        tag: tag.to_owned(),
    }
}

pub fn keyed(key: &str) -> KeyedCall {
    KeyedCall {
        tag: "write".to_owned(),
        request_key: key.to_owned(),
    }
}

pub fn ctx() -> Context {
    Context::new()
}
