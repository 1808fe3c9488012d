//! A future given until a deadline to finish, its timer armed only if it has to wait.
//!
//! `tokio::time::timeout_at` builds its `Sleep` at once: a clone of the runtime's handle (a
//! thread-local read and a reference count up, then down at the end) and a timer entry, for
//! every call. Most of the futures the server and the gateway give a deadline (a domain
//! method answering from memory, a request body that came with its head) finish the first
//! time they are polled, and never needed the timer. Here the timer is made the first time
//! the future is not ready, and polled without tokio's cooperative budget, as tokio's
//! `Timeout` polls its timer once the future has spent the budget, so that a busy future
//! cannot keep its deadline from being seen.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use tokio::task::{Unconstrained, unconstrained};
use tokio::time::{Instant, Sleep, sleep_until};

/// `future`, given until `deadline` to finish; see the [module docs](self).
pub(crate) fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        deadline,
        timer: None,
    }
}

/// The deadline of a [`Timeout`] passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

pin_project_lite::pin_project! {
    /// The future of [`timeout_at`].
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct Timeout<F> {
        #[pin]
        future: F,
        deadline: Instant,
        #[pin]
        timer: Option<Unconstrained<Sleep>>,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if this.timer.is_none() {
            this.timer
                .set(Some(unconstrained(sleep_until(*this.deadline))));
        }
        match this.timer.as_pin_mut() {
            Some(timer) => timer.poll(cx).map(|()| Err(Elapsed)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_is_answered_without_a_timer() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut timeout = std::pin::pin!(timeout_at(deadline, std::future::ready(7)));
        let waker = futures_util::task::noop_waker();
        let polled = timeout.as_mut().poll(&mut TaskContext::from_waker(&waker));
        assert_eq!(polled, Poll::Ready(Ok(7)));
        assert!(timeout.timer.is_none(), "no timer was made");
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_wins_even_past_its_deadline() {
        // As tokio's `Timeout`: the future is asked first.
        let deadline = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(timeout_at(deadline, async { 7 }).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_future_is_cut_at_its_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(250);
        let outcome = timeout_at(deadline, std::future::pending::<()>()).await;
        assert_eq!(outcome, Err(Elapsed));
        assert_eq!(Instant::now(), deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_that_finishes_in_time_is_answered() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let slow = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        };
        assert_eq!(timeout_at(deadline, slow).await, Ok("done"));
    }

    /// A future that is never ready but always spends the task's budget (it yields at once,
    /// woken again) still sees its deadline.
    #[tokio::test(start_paused = true)]
    async fn a_future_spending_its_budget_still_meets_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(10);
        let busy = async {
            loop {
                tokio::task::yield_now().await;
                tokio::time::advance(Duration::from_millis(1)).await;
            }
        };
        assert_eq!(timeout_at(deadline, busy).await, Err(Elapsed));
    }
}
