//! Metrics through the `metrics` facade crate, named and labelled like go-grpc-prometheus
//! so that existing gRPC dashboards and alerts work unchanged.
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, metrics::Metrics};
//! # struct Store;
//! let service = Interceptors::server().with(Metrics::new()).wrap(Store);
//! ```
//!
//! Recorded into whichever recorder is installed (none: nothing is recorded, at almost no cost).
//! On a server stack, with the labels `grpc_type` (`unary`, `server_stream`, `client_stream`,
//! `bidi_stream`), `grpc_service` and `grpc_method`:
//!
//! | metric | kind | when |
//! |---|---|---|
//! | `grpc_server_started_total` | counter | a call starts |
//! | `grpc_server_handled_total` | counter, also labelled `grpc_code` (grpc-go's names: `OK`, `NotFound`, …) | a call ends |
//! | `grpc_server_handling_seconds` | histogram | a call ends: its duration |
//! | `grpc_server_in_flight` | gauge | calls started and not yet ended |
//! | `grpc_server_msg_received_total` | counter | a call ends: the requests the handler read |
//! | `grpc_server_msg_sent_total` | counter | a call ends: the responses sent |
//!
//! A client stack records the same under `grpc_client_…`, received counting responses and sent
//! counting requests. A call rejected by an interceptor inside this one counts as started and
//! handled with the rejection's code; one rejected by an interceptor before it is not seen.
//!
//! With the `prometheus` feature, `prometheus_recorder` builds a recorder that renders the
//! Prometheus text format, with go-grpc-prometheus's histogram buckets.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use ::metrics::{Counter, Gauge, Histogram, Label, counter, gauge, histogram};

use super::{CallInfo, Finish, Interceptor, MethodKind, Outcome, Side};
use crate::rpc::go_code_name;
use crate::{Code, Context, Status};

/// The metrics interceptor (see the module docs).
///
/// It keeps the handles of its series, registered with the recorder installed when a method is
/// first called: recording through a handle is an atomic add, where naming the series on every
/// call would build and hash its key each time. So install the recorder before serving.
#[derive(Clone, Default)]
pub struct Metrics {
    series: Arc<RwLock<SeriesMap>>,
}

/// The series of each method and side, found by the address of the method's static
/// [`MethodInfo`](crate::rpc::MethodInfo): hashing one word per call instead of its path.
type SeriesMap = HashMap<SeriesKey, Arc<MethodSeries>, BuildHasherDefault<AddressHasher>>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("methods", &self.read().len())
            .finish()
    }
}

impl Metrics {
    /// A metrics interceptor with no series registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn series(&self, call: &CallInfo) -> Arc<MethodSeries> {
        let key = (std::ptr::from_ref(call.method).addr(), call.side);
        if let Some(series) = self.read().get(&key) {
            return Arc::clone(series);
        }
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(key)
                .or_insert_with(|| Arc::new(MethodSeries::register(call))),
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, SeriesMap> {
        self.series.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The address of a method's `MethodInfo` and the side of the stack. (Two statics describing
/// the same method would get two entries holding the same handles: the recorder keys series by
/// name and labels.)
type SeriesKey = (usize, Side);

/// A hasher for [`SeriesKey`]s: the address, multiplied by a large odd constant so that the
/// table's high bits vary (addresses of statics differ in their low bits only), and the side.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

/// The series of one method on one side; `handled` per code, registered on first use.
struct MethodSeries {
    names: &'static Names,
    labels: [Label; 3],
    started: Counter,
    in_flight: Gauge,
    handling_seconds: Histogram,
    msg_received: Counter,
    msg_sent: Counter,
    handled: [OnceLock<Counter>; 17],
}

impl MethodSeries {
    fn register(call: &CallInfo) -> Self {
        let names = match call.side {
            Side::Server => &SERVER,
            Side::Client => &CLIENT,
        };
        let labels = [
            Label::from_static_parts("grpc_type", grpc_type(call.method.kind)),
            Label::from_static_parts("grpc_service", call.method.service()),
            Label::from_static_parts("grpc_method", call.method.method()),
        ];
        Self {
            names,
            started: counter!(names.started, labels.iter()),
            in_flight: gauge!(names.in_flight, labels.iter()),
            handling_seconds: histogram!(names.handling_seconds, labels.iter()),
            msg_received: counter!(names.msg_received, labels.iter()),
            msg_sent: counter!(names.msg_sent, labels.iter()),
            handled: std::array::from_fn(|_| OnceLock::new()),
            labels,
        }
    }

    fn handled(&self, code: Code) -> &Counter {
        self.handled[code as usize].get_or_init(|| {
            let [kind, service, method] = self.labels.clone();
            let code = Label::from_static_parts("grpc_code", go_code_name(code));
            counter!(self.names.handled, vec![kind, service, method, code])
        })
    }
}

/// The metric names of one side.
struct Names {
    started: &'static str,
    handled: &'static str,
    handling_seconds: &'static str,
    in_flight: &'static str,
    msg_received: &'static str,
    msg_sent: &'static str,
}

const SERVER: Names = Names {
    started: "grpc_server_started_total",
    handled: "grpc_server_handled_total",
    handling_seconds: "grpc_server_handling_seconds",
    in_flight: "grpc_server_in_flight",
    msg_received: "grpc_server_msg_received_total",
    msg_sent: "grpc_server_msg_sent_total",
};

const CLIENT: Names = Names {
    started: "grpc_client_started_total",
    handled: "grpc_client_handled_total",
    handling_seconds: "grpc_client_handling_seconds",
    in_flight: "grpc_client_in_flight",
    msg_received: "grpc_client_msg_received_total",
    msg_sent: "grpc_client_msg_sent_total",
};

/// The `grpc_type` label of a kind of rpc, as go-grpc-prometheus spells it.
fn grpc_type(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Unary => "unary",
        MethodKind::ServerStreaming => "server_stream",
        MethodKind::ClientStreaming => "client_stream",
        MethodKind::BidiStreaming => "bidi_stream",
    }
}

impl Interceptor for Metrics {
    fn start(&self, call: &CallInfo, _ctx: &mut Context) -> Result<Finish, Status> {
        let series = self.series(call);
        series.started.increment(1);
        series.in_flight.increment(1.0);
        Ok(Finish(super::Ending::Metrics(Ending {
            series,
            side: call.side,
        })))
    }
}

/// What [`Metrics`] records when a call ends.
pub(super) struct Ending {
    series: Arc<MethodSeries>,
    side: Side,
}

impl Ending {
    pub(super) fn run(self, outcome: &Outcome<'_>) {
        let series = self.series;
        series.in_flight.decrement(1.0);
        series.handled(outcome.code()).increment(1);
        series
            .handling_seconds
            .record(outcome.elapsed.as_secs_f64());
        let (received, sent) = match self.side {
            Side::Server => (outcome.requests, outcome.responses),
            Side::Client => (outcome.responses, outcome.requests),
        };
        series.msg_received.increment(received);
        series.msg_sent.increment(sent);
    }
}

/// The upper bounds of the `…_handling_seconds` histogram buckets: go-grpc-prometheus's (the
/// Prometheus client's default buckets), so that dashboards' quantiles come out the same.
pub const HANDLING_SECONDS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The Prometheus exporter, re-exported so that its version matches the one
/// [`prometheus_builder`] returns.
#[cfg(feature = "prometheus")]
pub use metrics_exporter_prometheus;

/// A Prometheus recorder builder that renders the `…_handling_seconds` histograms with
/// [`HANDLING_SECONDS_BUCKETS`] (rather than as summaries, the exporter's default), for global
/// labels or other settings before [`build_recorder`](metrics_exporter_prometheus::PrometheusBuilder::build_recorder).
#[cfg(feature = "prometheus")]
pub fn prometheus_builder() -> metrics_exporter_prometheus::PrometheusBuilder {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_handling_seconds".into()),
            &HANDLING_SECONDS_BUCKETS,
        )
        .expect("the buckets are not empty")
}

/// A recorder from [`prometheus_builder`]. Install it and serve what its handle renders:
///
/// ```
/// let recorder = rust_svc_runtime::interceptors::metrics::prometheus_recorder();
/// let handle = recorder.handle();
/// metrics::set_global_recorder(recorder).expect("no other recorder is installed");
/// // Serve `handle.render()` as `GET /metrics` (text/plain; version=0.0.4), and call
/// // `handle.run_upkeep()` every few seconds so that histogram samples do not pile up.
/// # assert!(handle.render().is_empty());
/// ```
#[cfg(feature = "prometheus")]
pub fn prometheus_recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
    prometheus_builder().build_recorder()
}

#[cfg(test)]
mod tests;
