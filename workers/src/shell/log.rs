//! `tracing` to the Workers console (`wrangler tail`, the dashboard's
//! logs): one line per event at INFO and above, its fields as
//! `key=value`. Spans are not tracked (the core does not use them).

use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The subscriber.
#[derive(Debug)]
pub struct Console;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Console {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let m = event.metadata();
        let mut line = Line(format!("{} {}:", m.level(), m.target()));
        event.record(&mut line);
        match *m.level() {
            Level::ERROR => worker::console_error!("{}", line.0),
            Level::WARN => worker::console_warn!("{}", line.0),
            _ => worker::console_log!("{}", line.0),
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Installs it once per isolate.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(Console);
}
