//! What a caller holds once [`Admission::admit`] has decided: a slot ([`Permit`]), or a place
//! in line ([`Waiting`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::{Admission, Refusal};
use crate::Status;

/// What [`Admission::admit`] decided.
#[must_use]
pub enum Admit {
    /// Go ahead; hold the permit until the call ends.
    Now(Permit),
    /// Wait for a slot: the future gives the permit, or the status to answer.
    Wait(Waiting),
    /// Answer this status; the call does no work.
    Refused(Status),
}

impl std::fmt::Debug for Admit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Admit::Now(_) => f.write_str("Now"),
            Admit::Wait(_) => f.write_str("Wait"),
            Admit::Refused(status) => f.debug_tuple("Refused").field(status).finish(),
        }
    }
}

/// A call's slot: held while the call runs; dropping it gives the slot back and reports how
/// long the call took.
#[must_use]
pub struct Permit {
    /// The admission, when the call started, its deadline, and its rpc's path.
    slot: Option<(Admission, Instant, Option<Instant>, &'static str)>,
}

impl Permit {
    /// A permit that holds no slot (shedding off, a stream, an exempt rpc).
    pub fn none() -> Self {
        Self { slot: None }
    }

    /// Whether the permit holds one of the service's slots.
    pub fn holds_slot(&self) -> bool {
        self.slot.is_some()
    }

    pub(super) fn taken(
        admission: Admission,
        now: Instant,
        deadline: Option<Instant>,
        method: &'static str,
    ) -> Self {
        Self {
            slot: Some((admission, now, deadline, method)),
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("holds_slot", &self.slot.is_some())
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some((admission, started, deadline, method)) = self.slot.take() else {
            return;
        };
        let now = Instant::now();
        if let Some(deadline) = deadline {
            let handles = admission.metrics();
            if now <= deadline {
                handles.met.increment(1);
            } else {
                handles.missed.increment(1);
            }
        }
        admission.release(Some((method, now, now.saturating_duration_since(started))));
    }
}

/// A call waiting in line for a slot; see [`Admit::Wait`].
pub struct Waiting {
    admission: Admission,
    granted: oneshot::Receiver<()>,
    timer: Pin<Box<Sleep>>,
    deadline: Option<Instant>,
    /// The path of the call's rpc.
    method: &'static str,
    done: bool,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Waiting {
    /// In line until `granted` says a slot is ours, or `until`.
    pub(super) fn new(
        admission: Admission,
        granted: oneshot::Receiver<()>,
        until: Instant,
        deadline: Option<Instant>,
        method: &'static str,
    ) -> Self {
        Self {
            admission,
            granted,
            timer: Box::pin(tokio::time::sleep_until(until)),
            deadline,
            method,
            done: false,
        }
    }
}

impl Future for Waiting {
    type Output = Result<Permit, Status>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(granted) = Pin::new(&mut self.granted).poll(cx) {
            self.done = true;
            if granted.is_err() {
                // The admission went away; nothing holds us back.
                return Poll::Ready(Ok(Permit::none()));
            }
            let now = Instant::now();
            let permit = Permit::taken(self.admission.clone(), now, self.deadline, self.method);
            // The slot came: is there still time for the work?
            let expected = self.admission.state().expected_latency_of(self.method);
            return Poll::Ready(match self.deadline {
                Some(deadline) if deadline <= now => {
                    permit.abandon();
                    self.admission.metrics().refused_deadline.increment(1);
                    Err(crate::deadline::deadline_exceeded())
                }
                Some(deadline) if deadline - now < expected => {
                    permit.abandon();
                    let Admit::Refused(status) = self.admission.refuse(
                        Refusal::Deadline,
                        expected,
                        "its slot came too late for the work to end before the deadline".to_owned(),
                    ) else {
                        unreachable!("refuse refuses")
                    };
                    Err(status)
                }
                _ => Ok(permit),
            });
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.done = true;
            self.leave();
            let wait = self.admission.state().predicted_wait(1);
            let Admit::Refused(status) = self.admission.refuse(
                Refusal::Overload,
                wait,
                "it waited for a slot as long as this call can".to_owned(),
            ) else {
                unreachable!("refuse refuses")
            };
            return Poll::Ready(Err(status));
        }
        Poll::Pending
    }
}

impl Waiting {
    /// Steps out of line; a slot granted meanwhile goes back unused.
    fn leave(&mut self) {
        let mut state = self.admission.state();
        self.granted.close();
        if self.granted.try_recv().is_ok() {
            drop(state);
            self.admission.release(None);
        } else {
            state.waiting = state.waiting.saturating_sub(1);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if !self.done {
            self.leave();
        }
    }
}

impl Permit {
    /// Gives the slot back without a latency sample: the call did no work.
    fn abandon(mut self) {
        if let Some((admission, ..)) = self.slot.take() {
            admission.release(None);
        }
    }
}
