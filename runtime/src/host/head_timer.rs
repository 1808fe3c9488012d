//! hyper's HTTP/1.1 header-read timer for one connection, with one tokio timer per connection.
//!
//! hyper bounds the time a client takes to send a request's head (30 s, slow-loris protection)
//! with a new sleep from its `Timer` for every request: with hyper-util's `TokioTimer` that is a
//! boxed tokio `Sleep` registered in the runtime's timer wheel when the connection waits for
//! the next head, and taken out again when the head arrives, about 700 instructions a request
//! (bench/RESULTS.md, "Connection info once per connection, and one header timer per
//! connection"). Here each connection has one tokio `Sleep` that all its head deadlines share.
//! A deadline only moves later from one request to the next, so the shared timer is left armed
//! for the earliest one and re-armed when it fires before the deadline of the sleep that waits
//! on it, as the connection guard's own timer is (connections.rs). When a head arrives first,
//! the timer stays in the wheel and at worst wakes the connection once, for nothing, when it
//! fires. Written here because hyper-util's timers are the only ones made for hyper, and they
//! make a tokio sleep per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The header-read [`hyper::rt::Timer`] of one connection (see the module docs).
#[derive(Debug, Default)]
pub(super) struct HeadTimer {
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep {
            deadline: deadline.into(),
            shared: Arc::clone(&self.shared),
        })
    }

    fn now(&self) -> Instant {
        // tokio's clock, which the deadlines are waited for on (and which tests can pause).
        tokio::time::Instant::now().into_std()
    }
}

/// One head's deadline, waited for on the connection's shared timer.
struct HeadSleep {
    deadline: tokio::time::Instant,
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl hyper::rt::Sleep for HeadSleep {}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        // Poisoned only by a panic while polling a tokio timer; the timer itself is sound.
        let mut shared = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let timer = shared.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if timer.deadline() > deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(());
            }
            // It fired for an earlier head's deadline.
            timer.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use hyper::rt::Timer as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Whether `sleep` has ended, polled once.
    async fn ended(sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>) -> bool {
        poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_sleep_ends_at_its_own_deadline() {
        let timer = HeadTimer::default();
        let mut first = timer.sleep(Duration::from_secs(30));
        assert!(!ended(&mut first).await);
        tokio::time::advance(Duration::from_secs(10)).await;
        // The head arrived: the first sleep is dropped with the shared timer armed for it.
        drop(first);
        let mut second = timer.sleep(Duration::from_secs(30));
        assert!(!ended(&mut second).await);
        // Past the first deadline: the timer fires for it, and is armed again for the second.
        tokio::time::advance(Duration::from_secs(25)).await;
        assert!(!ended(&mut second).await);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!ended(&mut second).await);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(ended(&mut second).await);
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_rearms_the_timer() {
        let timer = HeadTimer::default();
        let mut late = timer.sleep(Duration::from_secs(30));
        assert!(!ended(&mut late).await);
        drop(late);
        let mut early = timer.sleep(Duration::from_secs(5));
        assert!(!ended(&mut early).await);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(ended(&mut early).await);
    }

    #[tokio::test(start_paused = true)]
    async fn hyper_closes_a_connection_whose_head_does_not_arrive_in_time() {
        let (mut client, server) = tokio::io::duplex(4096);
        let service = hyper::service::service_fn(|_request| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("ok")))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(HeadTimer::default())
            .header_read_timeout(Duration::from_secs(30));
        let connection =
            tokio::spawn(builder.serve_connection(hyper_util::rt::TokioIo::new(server), service));

        // A whole request on a kept-alive connection, answered.
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0; 256];
        let read = client.read(&mut answer).await.unwrap();
        assert!(answer[..read].starts_with(b"HTTP/1.1 200"));

        // Then half a head, and nothing more: within the timeout the connection stays open,
        // past it hyper closes it.
        client.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!connection.is_finished());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let served = connection.await.unwrap();
        assert!(served.is_err(), "{served:?}");
    }
}
