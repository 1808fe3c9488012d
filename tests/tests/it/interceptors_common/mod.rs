//! What the interceptor tests share: a tracing layer that keeps every span's fields and every
//! event with the fields of the spans around it, installed once per test binary.
//!
//! The subscriber is the process's global one, so it also sees the spans and events of every
//! other test of the binary running meanwhile. The interceptor tests only look for what they
//! make themselves: `rpc` spans and access-log events (only the `Tracing` and `Logging`
//! interceptors make them, and only interceptors.rs installs those) with request ids and trace
//! ids of their own.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Field name to value, as text.
pub type Fields = HashMap<String, String>;

/// A span or event as the layer saw it.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The span's name, or the event's target.
    pub name: String,
    /// Its own fields.
    pub fields: Fields,
    /// The fields of the spans around an event, innermost first.
    pub scope: Vec<Fields>,
}

#[derive(Default)]
struct Store {
    spans: HashMap<u64, Captured>,
    events: Vec<Captured>,
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per binary");
        Mutex::default()
    })
}

/// Installs the capturing subscriber (idempotent).
pub fn install() {
    store();
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct CaptureLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: LayerContext<'_, S>) {
        let mut captured = Captured {
            name: attrs.metadata().name().to_owned(),
            ..Captured::default()
        };
        attrs.record(&mut Visitor(&mut captured.fields));
        store()
            .lock()
            .unwrap()
            .spans
            .insert(id.into_u64(), captured);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        if let Some(span) = store().lock().unwrap().spans.get_mut(&id.into_u64()) {
            values.record(&mut Visitor(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut captured = Captured {
            name: event.metadata().target().to_owned(),
            ..Captured::default()
        };
        event.record(&mut Visitor(&mut captured.fields));
        let mut store = store().lock().unwrap();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(fields) = store.spans.get(&span.id().into_u64()) {
                    captured.scope.push(fields.fields.clone());
                }
            }
        }
        store.events.push(captured);
    }
}

/// Every span named `rpc` whose `field` is `value`.
pub fn rpc_spans(field: &str, value: &str) -> Vec<Fields> {
    store()
        .lock()
        .unwrap()
        .spans
        .values()
        .filter(|span| span.name == "rpc" && span.fields.get(field).is_some_and(|v| v == value))
        .map(|span| span.fields.clone())
        .collect()
}

/// Every event of `target` whose `field` is `value`.
pub fn events(target: &str, field: &str, value: &str) -> Vec<Captured> {
    store()
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|event| event.name == target && event.fields.get(field).is_some_and(|v| v == value))
        .cloned()
        .collect()
}

/// Waits until `found` returns something (a server logs a call's end just after its client has
/// its answer), failing after 10 s rather than hanging: a guard, not a timing assertion.
pub async fn eventually<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    for _ in 0..1000 {
        if let Some(value) = found() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never saw {what}");
}
