//! What the library tells the operator while it works: a dashboard that failed, a file not
//! carried over, a swap repaired, progress every few seconds. Domain code emits these; the
//! UI (`ui::output`) installs the one sink that renders them, as text or JSON lines on
//! stderr. With no sink installed (a library caller, a unit test) they go nowhere.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Shown with `-v` only: each step's timing and the like.
    Detail,
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Detail => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

type Sink = fn(Level, &str);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installed once, by the UI, at start-up.
pub fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

pub fn emit(level: Level, message: &str) {
    if let Some(sink) = SINK.get() {
        sink(level, message);
    }
}

pub fn detail(message: &str) {
    emit(Level::Detail, message);
}

pub fn info(message: &str) {
    emit(Level::Info, message);
}

pub fn warning(message: &str) {
    emit(Level::Warning, message);
}

pub fn error(message: &str) {
    emit(Level::Error, message);
}
