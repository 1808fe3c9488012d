//! What the tests of the ready-made interceptors share: a service whose handlers record the
//! context they saw, two methods, and a `tracing` layer that captures spans and events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use super::{Idempotency, MethodInfo, MethodKind};
use crate::{BoxStream, Context, Status};

/// A unary method.
pub(crate) static ECHO: MethodInfo = MethodInfo::new("/test.v1.Echo/Echo", MethodKind::Unary);

/// A server-streaming method.
pub(crate) static COUNT: MethodInfo =
    MethodInfo::new("/test.v1.Echo/Count", MethodKind::ServerStreaming)
        .idempotency(Idempotency::NoSideEffects);

/// A service that keeps the context of every call its handlers served.
#[derive(Debug, Default)]
pub(crate) struct Svc {
    seen: Mutex<Vec<Context>>,
}

impl Svc {
    /// The context the last handled call saw.
    pub(crate) fn last_context(&self) -> Context {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no call reached the handler")
    }

    /// How many calls reached a handler.
    pub(crate) fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn record(&self, ctx: &Context) {
        self.seen.lock().unwrap().push(ctx.clone());
    }
}

/// Answers the request.
pub(crate) async fn echo(svc: &Svc, ctx: &Context, req: u32) -> Result<u32, Status> {
    svc.record(ctx);
    Ok(req)
}

/// Answers `NOT_FOUND`.
pub(crate) async fn not_found(svc: &Svc, ctx: &Context, req: u32) -> Result<u32, Status> {
    svc.record(ctx);
    Err(Status::not_found(format!("no item {req}")))
}

/// Answers `INTERNAL`.
pub(crate) async fn broken(svc: &Svc, ctx: &Context, _req: u32) -> Result<u32, Status> {
    svc.record(ctx);
    Err(Status::internal("the database is gone"))
}

/// Panics, as a handler with a bug does.
pub(crate) async fn panics(svc: &Svc, ctx: &Context, req: u32) -> Result<u32, Status> {
    svc.record(ctx);
    assert_ne!(req, std::hint::black_box(req), "the handler's bug");
    Ok(req)
}

/// Streams `0..req`, panicking at `1`.
pub(crate) async fn count_then_panic(
    svc: &Svc,
    ctx: &Context,
    req: u32,
) -> Result<BoxStream<u32>, Status> {
    svc.record(ctx);
    Ok(Box::pin(futures_util::StreamExt::map(
        futures_util::stream::iter(0..req),
        |n| {
            assert_ne!(n, 1, "the stream's bug");
            Ok(n)
        },
    )))
}

/// Answers after 250 ms (of paused tokio time).
pub(crate) async fn slow(svc: &Svc, ctx: &Context, req: u32) -> Result<u32, Status> {
    svc.record(ctx);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    Ok(req)
}

/// Streams `0..req`.
pub(crate) async fn count(svc: &Svc, ctx: &Context, req: u32) -> Result<BoxStream<u32>, Status> {
    svc.record(ctx);
    Ok(Box::pin(futures_util::stream::iter((0..req).map(Ok))))
}

/// A span or an event as the capturing layer saw it: its name (the target for an event), level
/// and fields, each value as its `Display` (`Debug` for values only `Debug`).
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) name: String,
    pub(crate) level: tracing::Level,
    pub(crate) fields: BTreeMap<String, String>,
}

impl Captured {
    /// The value of `field`, if it was recorded.
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct Seen {
    spans: Vec<(Id, Captured)>,
    events: Vec<Captured>,
}

/// Makes `subscriber` this thread's default until the guard is dropped, as
/// `tracing::subscriber::set_default` does, but safe beside tests on other threads.
///
/// tracing caches, per callsite, whether any subscriber wants it. While exactly one scoped
/// subscriber is alive, tracing-core asks only the registering thread's default; a test on
/// another thread with none that reaches a span first caches "never" for everyone, and the
/// capturing test then sees no span (it failed CI this way once). A global subscriber that
/// answers "sometimes" and enables nothing keeps every callsite asking each time.
pub(crate) fn scoped(
    subscriber: impl Subscriber + Send + Sync + 'static,
) -> tracing::subscriber::DefaultGuard {
    static UNDECIDED: std::sync::Once = std::sync::Once::new();
    UNDECIDED.call_once(|| {
        // Another test binary's global subscriber would do as well; this one only needs one.
        let _ = tracing::subscriber::set_global_default(Undecided);
    });
    let guard = tracing::subscriber::set_default(subscriber);
    // A callsite that registered on another thread while the global subscriber was being set
    // may still hold "never": ask every callsite again.
    tracing::callsite::rebuild_interest_cache();
    guard
}

/// Wants every callsite "sometimes" and enables nothing: see [`scoped`].
struct Undecided;

impl Subscriber for Undecided {
    fn register_callsite(
        &self,
        _metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// A layer that keeps every span (with the fields recorded later) and event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Seen>>);

impl Capture {
    /// Captures what is traced on this thread until the guard is dropped.
    pub(crate) fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        (capture, scoped(subscriber))
    }

    /// The spans named `name`, oldest first.
    pub(crate) fn spans(&self, name: &str) -> Vec<Captured> {
        let seen = self.0.lock().unwrap();
        let spans = seen.spans.iter().map(|(_, span)| span);
        spans.filter(|span| span.name == name).cloned().collect()
    }

    /// The events of `target`, oldest first.
    pub(crate) fn events(&self, target: &str) -> Vec<Captured> {
        let seen = self.0.lock().unwrap();
        let events = seen.events.iter().filter(|event| event.name == target);
        events.cloned().collect()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: LayerContext<'_, S>) {
        let mut span = Captured {
            name: attrs.metadata().name().to_owned(),
            level: *attrs.metadata().level(),
            fields: BTreeMap::new(),
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.0.lock().unwrap().spans.push((id.clone(), span));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some((_, span)) = seen.spans.iter_mut().rev().find(|(seen, _)| seen == id) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut captured = Captured {
            name: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields: BTreeMap::new(),
        };
        event.record(&mut Fields(&mut captured.fields));
        self.0.lock().unwrap().events.push(captured);
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
