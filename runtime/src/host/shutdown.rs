//! Graceful shutdown of the ports a process serves, on SIGINT or SIGTERM.
//!
//! The order, as load balancers and Kubernetes expect it:
//!
//! 1. every port reports NOT_SERVING (`grpc.health.v1`, for its service and for `""`), so
//!    health checkers and watchers take it out of rotation;
//! 2. for [`DrainPolicy::delay`] (a binary's `--shutdown-delay`) the ports keep accepting, for checkers that poll
//!    to notice before connections are refused; a second signal cuts the wait short;
//! 3. the ports stop accepting and drain: calls in flight run to their end, for at most
//!    [`DrainPolicy::drain_timeout`]; what is still open then (long streams, typically) is cut;
//! 4. the process exits 0.
//!
//! Unix only, as the deployments are (containers, systemd): SIGTERM is how they stop a process.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tonic_health::ServingStatus;

use super::Serving;

/// How a process winds down.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DrainPolicy {
    /// How long NOT_SERVING is reported before the listeners close.
    pub delay: Duration,
    /// How long the calls in flight may take once the listeners are closed.
    pub drain_timeout: Duration,
}

impl DrainPolicy {
    /// Reports NOT_SERVING for `delay`, then gives the calls in flight `drain_timeout`.
    pub const fn new(delay: Duration, drain_timeout: Duration) -> Self {
        Self {
            delay,
            drain_timeout,
        }
    }
}

impl Default for DrainPolicy {
    /// 5 s of NOT_SERVING (time for load balancers to notice), then 30 s for calls in flight.
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(30))
    }
}

/// The stop signal the ports wait for: one sender, a future per port.
#[derive(Debug)]
pub struct Stop(watch::Sender<bool>);

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    /// A signal not given yet.
    pub fn new() -> Self {
        Self(watch::channel(false).0)
    }

    /// A future that completes when [`Stop::now`] is called (or the `Stop` is dropped).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.0.subscribe();
        async move {
            // An error means the sender is gone: stopping too.
            let _ = receiver.wait_for(|stop| *stop).await;
        }
    }

    /// Gives the signal.
    pub fn now(&self) {
        self.0.send_replace(true);
    }
}

/// Serves until a signal (then shuts down as the module docs say) or until a port fails.
/// `Ok` for a shutdown, the failure otherwise.
pub async fn run(
    mut ports: Vec<Serving>,
    stop: Stop,
    mut signals: Signals,
    policy: DrainPolicy,
) -> Result<(), String> {
    let failed = {
        let tasks = ports.iter_mut().map(|port| &mut port.task);
        tokio::select! {
            () = signals.recv() => None,
            // A server only ends by itself when it fails (accepting is retried).
            (finished, index, _) = futures_util::future::select_all(tasks) => Some((index, finished)),
        }
    };
    if let Some((index, finished)) = failed {
        let label = ports[index].label.clone();
        stop.now();
        return Err(match finished {
            Ok(Ok(())) => format!("the {label} server stopped unexpectedly"),
            Ok(Err(error)) => format!("the {label} server failed: {error}"),
            Err(panicked) => format!("the {label} server failed: {panicked}"),
        });
    }

    tracing::info!("shutting down: reporting NOT_SERVING");
    for port in &ports {
        port.set_health(ServingStatus::NotServing).await;
    }
    if !policy.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(policy.delay) => {}
            () = signals.recv() => tracing::info!("second signal: not waiting any longer"),
        }
    }
    tracing::info!(
        "draining the calls in flight for at most {}",
        format_args!("{:?}", policy.drain_timeout)
    );
    stop.now();
    let drained = futures_util::future::join_all(ports.iter_mut().map(|port| &mut port.task));
    match tokio::time::timeout(policy.drain_timeout, drained).await {
        Ok(results) => {
            for (port, result) in ports.iter().zip(results) {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!("{}: {error}", port.label),
                    Err(panicked) => tracing::warn!("{}: {panicked}", port.label),
                }
            }
            tracing::info!("drained");
        }
        Err(_) => {
            // Aborting drops the connections, which ends their calls (the clients see the
            // streams reset); returning would do the same, this says it.
            for port in &ports {
                port.task.abort();
            }
            tracing::warn!(
                "calls still open after {}: cut",
                format_args!("{:?}", policy.drain_timeout)
            );
        }
    }
    Ok(())
}

/// SIGINT (Ctrl-C) and SIGTERM (what `kill`, systemd and container runtimes send), listened
/// for from the moment this is made: made before the ports are announced, so that a signal
/// sent as soon as they are is handled rather than killing the process with the default action.
#[derive(Debug)]
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers. Must be called inside a tokio runtime.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on the next signal.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
