//! A tracing subscriber that writes every span, field and event (all levels, trace included)
//! into a shared buffer, so a test can search all log output for secrets.
#![allow(dead_code)] // each test binary uses a different subset

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The shared log text.
pub type Logs = Arc<Mutex<String>>;

/// Records everything into [`Logs`].
pub struct Capture {
    logs: Logs,
    next_id: AtomicU64,
}

/// Installs a [`Capture`] as the global default subscriber; returns the buffer. Call once per
/// test binary, before anything logs.
pub fn install() -> Logs {
    let logs: Logs = Arc::default();
    let sub = Capture {
        logs: logs.clone(),
        next_id: AtomicU64::new(1),
    };
    tracing::subscriber::set_global_default(sub).expect("no other global subscriber");
    logs
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={} / {:?}", field.name(), value, value);
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(self.0, " <- {s} / {s:?}");
            source = s.source();
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut line = format!(
            "SPAN {} {}",
            attrs.metadata().target(),
            attrs.metadata().name()
        );
        attrs.record(&mut Fields(&mut line));
        line.push('\n');
        self.logs.lock().unwrap().push_str(&line);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("RECORD");
        values.record(&mut Fields(&mut line));
        line.push('\n');
        self.logs.lock().unwrap().push_str(&line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let m = event.metadata();
        let mut line = format!("{} {}", m.level(), m.target());
        event.record(&mut Fields(&mut line));
        line.push('\n');
        self.logs.lock().unwrap().push_str(&line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
