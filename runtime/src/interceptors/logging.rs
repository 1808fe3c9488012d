//! Access logging: one structured `tracing` event per call, when it ends.
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, logging::Logging};
//! # struct Store;
//! let service = Interceptors::server().with(Logging::new()).wrap(Store);
//! ```
//!
//! The event has the target [`ACCESS_TARGET`] (`rust_svc::access`, to route or filter access
//! lines apart from the rest) and the fields `rpc.system` (`grpc`, `connect_rpc`, as
//! OpenTelemetry names the protocol a served call came in by; none for REST), `http.route` and
//! `http.request.method` (for a REST call through the gateway: its route, e.g.
//! `/v1/items/{sku}/stock`), `rpc.service`, `rpc.method`, `side`, `code` (`OK`,
//! `NOT_FOUND`, …), `duration_ms`, `peer` (when known), `request_id` (when a request id
//! interceptor ran before this one), `requests`, `responses`, and `error` (the status message)
//! for a failure. It is logged at `INFO`, and at `WARN` when the serving side failed (`UNKNOWN`,
//! `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`); both levels
//! can be changed. [`Logging::json`] puts the fields into the message as one JSON object instead,
//! for log pipelines that keep only the message. When neither level is enabled for the target,
//! the interceptor does nothing at all.
//!
//! A failed call is logged as any other, but failures of one kind (the same rpc, side and code)
//! are summarised: the first in a second gets its line, the others of that second are counted,
//! and one line (`rpc failures summarised`, with the count in `suppressed`) follows when the
//! second ends. A flood of refusals or errors then writes a few lines a second per kind, not
//! one per call, and cannot fill a disk; successful calls keep a line each.
//! [`Logging::summarize_failures`] changes the window or turns it off.
//!
//! Put it last in the stack, so that a call rejected before it (by authentication) is not
//! logged as if it had been served. `duration_ms` is the call's time in the stack, from when
//! the stack started on it (the `elapsed` every interceptor is told), so the metrics'
//! histogram and the line agree.

mod summary;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Level;

use super::is_server_fault;
use super::request_id::{RequestId, request_id};
use super::{CallInfo, Finish, Interceptor, Outcome, Side};
use crate::rpc::{HttpBinding, WireProtocol, code_name};
use crate::{Context, Status};
use summary::Kind;

/// The target of the access log events.
pub const ACCESS_TARGET: &str = "rust_svc::access";

/// Emits `$event` (the arguments of `tracing::event!` after the level) at the runtime `$level`:
/// `event!` needs a constant level.
macro_rules! event_at {
    ($level:expr, $($event:tt)*) => {
        match $level {
            Level::ERROR => tracing::event!(target: ACCESS_TARGET, Level::ERROR, $($event)*),
            Level::WARN => tracing::event!(target: ACCESS_TARGET, Level::WARN, $($event)*),
            Level::INFO => tracing::event!(target: ACCESS_TARGET, Level::INFO, $($event)*),
            Level::DEBUG => tracing::event!(target: ACCESS_TARGET, Level::DEBUG, $($event)*),
            _ => tracing::event!(target: ACCESS_TARGET, Level::TRACE, $($event)*),
        }
    };
}

/// The access logging interceptor (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Logging {
    level: Level,
    fault_level: Level,
    json: bool,
    /// Which logger this is, for its failure summaries; its copies share it.
    logger: u64,
    /// The window failures of one kind are summarised over; `None`: a line per call.
    summary: Option<Duration>,
}

impl Default for Logging {
    fn default() -> Self {
        Self::new()
    }
}

impl Logging {
    /// Logs each call with structured fields, at `INFO` (`WARN` for server faults).
    pub fn new() -> Self {
        Self {
            level: Level::INFO,
            fault_level: Level::WARN,
            json: false,
            logger: summary::new_logger(),
            summary: Some(Duration::from_secs(1)),
        }
    }

    /// Logs each call as one JSON object in the event's message.
    pub fn json() -> Self {
        Self {
            json: true,
            ..Self::new()
        }
    }

    /// Logs calls at `level`.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Logs calls that end in a server fault at `level`.
    #[must_use]
    pub fn fault_level(mut self, level: Level) -> Self {
        self.fault_level = level;
        self
    }

    /// Summarises failures of one kind over `window` (1 s by default): the first gets its
    /// line, the rest are counted into one line when the window ends. `None` logs every
    /// failed call.
    #[must_use]
    pub fn summarize_failures(mut self, window: Option<Duration>) -> Self {
        self.summary = window.filter(|window| !window.is_zero());
        self
    }

    /// Whether to write the line of a failed call now; counts it in its kind's window instead
    /// when that window has had its line, and writes the summary of a window that ended.
    fn admit_failure(self, outcome: &Outcome<'_>, level: Level) -> bool {
        let Some(window) = self.summary else {
            return true;
        };
        let method = outcome.call.method;
        let kind = Kind {
            logger: self.logger,
            service: method.service(),
            method: method.method(),
            side: outcome.call.side.as_str(),
            code: code_name(outcome.code()),
        };
        let close_later = |started: Instant| {
            // Without a runtime, the window's count goes out with the kind's next line.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    tokio::time::sleep_until(started + window).await;
                    self.summarise(kind, summary::close(kind, started), level);
                });
            }
        };
        match summary::admit(kind, Instant::now(), window, close_later) {
            None => false,
            Some(ended) => {
                self.summarise(kind, ended, level);
                true
            }
        }
    }

    /// The line that closes a window in which `suppressed` calls of `kind` were counted.
    fn summarise(self, kind: Kind, suppressed: u64, level: Level) {
        if suppressed == 0 || !enabled(level) {
            return;
        }
        let window_ms = self.summary.map_or(0, |window| window.as_millis());
        if self.json {
            let line = serde_json::json!({
                "rpc.service": kind.service,
                "rpc.method": kind.method,
                "side": kind.side,
                "code": kind.code,
                "suppressed": suppressed,
                "window_ms": window_ms,
            });
            event_at!(level, "{line}");
        } else {
            event_at!(
                level,
                rpc.service = kind.service,
                rpc.method = kind.method,
                side = kind.side,
                code = kind.code,
                suppressed,
                window_ms = u64::try_from(window_ms).unwrap_or(u64::MAX),
                "rpc failures summarised"
            );
        }
    }
}

/// Whether an event of the access target at `level` would be recorded: `enabled!` needs its level
/// as a constant.
fn enabled(level: Level) -> bool {
    match level {
        Level::ERROR => tracing::enabled!(target: ACCESS_TARGET, Level::ERROR),
        Level::WARN => tracing::enabled!(target: ACCESS_TARGET, Level::WARN),
        Level::INFO => tracing::enabled!(target: ACCESS_TARGET, Level::INFO),
        Level::DEBUG => tracing::enabled!(target: ACCESS_TARGET, Level::DEBUG),
        _ => tracing::enabled!(target: ACCESS_TARGET, Level::TRACE),
    }
}

impl Interceptor for Logging {
    fn start(&self, _call: &CallInfo, _ctx: &mut Context) -> Result<Finish, Status> {
        if !enabled(self.level) && !enabled(self.fault_level) {
            return Ok(Finish::nothing());
        }
        // The line's duration is the stack's (`Outcome::elapsed`): a clock read of its own here
        // would cost every call, logged or not, about 30 ns on a virtual machine's vDSO clock.
        Ok(Finish(super::Ending::Logging(Ending { logging: *self })))
    }
}

/// What [`Logging`] writes when a call ends.
pub(super) struct Ending {
    logging: Logging,
}

impl Ending {
    pub(super) fn run(self, outcome: &Outcome<'_>) {
        let this = self.logging;
        let level = if is_server_fault(outcome.code()) {
            this.fault_level
        } else {
            this.level
        };
        let failed = outcome.status.is_some();
        if enabled(level) && (!failed || this.admit_failure(outcome, level)) {
            let line = Line::new(outcome);
            if this.json {
                line.emit_json(level);
            } else {
                line.emit(level);
            }
        }
    }
}

/// What one access line says.
struct Line<'a> {
    system: Option<&'static str>,
    route: Option<&'static HttpBinding>,
    service: &'static str,
    method: &'static str,
    side: &'static str,
    code: &'static str,
    duration_ms: f64,
    peer: Option<SocketAddr>,
    request_id: Option<&'a RequestId>,
    requests: u64,
    responses: u64,
    error: Option<&'a str>,
}

impl<'a> Line<'a> {
    fn new(outcome: &'a Outcome<'a>) -> Self {
        let method = outcome.call.method;
        let protocol = match outcome.call.side {
            Side::Server => outcome.ctx.protocol(),
            Side::Client => None,
        };
        Line {
            system: protocol.map_or(Some("grpc"), WireProtocol::rpc_system),
            route: outcome
                .ctx
                .http_route()
                .filter(|_| protocol == Some(WireProtocol::Rest)),
            service: method.service(),
            method: method.method(),
            side: outcome.call.side.as_str(),
            code: code_name(outcome.code()),
            duration_ms: outcome.elapsed.as_secs_f64() * 1000.0,
            peer: outcome.ctx.peer_addr(),
            request_id: request_id(outcome.ctx),
            requests: outcome.requests,
            responses: outcome.responses,
            error: outcome.status.map(Status::message),
        }
    }

    fn emit(&self, level: Level) {
        event_at!(
            level,
            rpc.system = self.system,
            http.route = self.route.map(|route| route.template),
            http.request.method = self.route.map(|route| route.method),
            rpc.service = self.service,
            rpc.method = self.method,
            side = self.side,
            code = self.code,
            duration_ms = self.duration_ms,
            peer = self.peer.map(tracing::field::display),
            request_id = self.request_id.map(RequestId::as_str),
            requests = self.requests,
            responses = self.responses,
            error = self.error,
            "rpc finished"
        );
    }

    fn emit_json(&self, level: Level) {
        let mut line = serde_json::json!({
            "rpc.service": self.service,
            "rpc.method": self.method,
            "side": self.side,
            "code": self.code,
            "duration_ms": self.duration_ms,
            "requests": self.requests,
            "responses": self.responses,
        });
        let fields = line.as_object_mut().expect("an object");
        if let Some(system) = self.system {
            fields.insert("rpc.system".into(), system.into());
        }
        if let Some(route) = self.route {
            fields.insert("http.route".into(), route.template.into());
            fields.insert("http.request.method".into(), route.method.into());
        }
        if let Some(peer) = self.peer {
            fields.insert("peer".into(), peer.to_string().into());
        }
        if let Some(id) = self.request_id {
            fields.insert("request_id".into(), id.as_str().into());
        }
        if let Some(error) = self.error {
            fields.insert("error".into(), error.into());
        }
        event_at!(level, "{line}");
    }
}

#[cfg(test)]
mod tests;
