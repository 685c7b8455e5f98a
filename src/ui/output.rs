//! Where things are printed: results on stdout, messages on stderr.
//!
//! Errors read `acc: error: ...`, then one `caused by: ...` per cause, then `hint: ...`.
//! A reader that closes stdout early (`acc schedule | head`) ends the run quietly.

use std::io::{self, Write};
use std::sync::OnceLock;

use crate::error::{Error, Kind, Result};
use crate::events::Level;

/// How log lines on stderr look: `acc: ...` for people and journald, or one JSON object per
/// line for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

static LOG_FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Set once, at start-up, from `--log-format` (or `ACC_LOG_FORMAT`).
pub fn set_log_format(f: LogFormat) {
    let _ = LOG_FORMAT.set(f);
}

pub fn log_format() -> LogFormat {
    LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// How much goes to stderr: `-q` keeps warnings and errors, `-v` adds each step's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

static VERBOSITY: OnceLock<Verbosity> = OnceLock::new();
static JOURNAL: OnceLock<bool> = OnceLock::new();

/// Set once, at start-up, from `-q` or `-v`.
pub fn set_verbosity(v: Verbosity) {
    let _ = VERBOSITY.set(v);
}

pub fn verbosity() -> Verbosity {
    VERBOSITY.get().copied().unwrap_or(Verbosity::Normal)
}

fn shown(level: Level, v: Verbosity) -> bool {
    match level {
        Level::Detail => v == Verbosity::Verbose,
        Level::Info => v != Verbosity::Quiet,
        Level::Warning | Level::Error => true,
    }
}

/// sd-daemon(3)'s priorities, which journald reads from the start of each line.
fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warning => 4,
        Level::Info => 6,
        Level::Detail => 7,
    }
}

/// Whether stderr is the journal: systemd sets `JOURNAL_STREAM` to the `device:inode` of the
/// stream it connected, and a child that redirected stderr elsewhere no longer matches it.
pub fn is_journal(journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let (Some(stream), Some((dev, ino))) = (journal_stream, stderr) else {
        return false;
    };
    stream.split_once(':').is_some_and(|(d, i)| {
        d.parse::<u64>().ok() == Some(dev) && i.trim().parse::<u64>().ok() == Some(ino)
    })
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/fd/2")
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Writes lines to stderr, each led by its priority when stderr is the journal.
fn to_stderr(level: Level, text: &str) {
    let out = if *JOURNAL.get().unwrap_or(&false) {
        let p = priority(level);
        text.lines().map(|l| format!("<{p}>{l}\n")).collect()
    } else {
        text.to_string()
    };
    let _ = io::stderr().write_all(out.as_bytes());
}

fn json_line(level: &str, message: &str, extra: serde_json::Value) -> String {
    let mut v = serde_json::json!({
        "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": level,
        "msg": message,
    });
    if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    format!("{v}\n")
}

/// Writes a result to stdout.
pub fn emit(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Error::new(Kind::BrokenPipe, "stdout closed")
            } else {
                Error::io("cannot write to stdout", e)
            }
        })
}

/// The version of every `--json` output. Within a version fields may be added, never removed
/// or retyped; a change that does either bumps it.
pub const JSON_SCHEMA_VERSION: u64 = 1;

/// `value` with `schema_version` in it, or in each of its objects when it is a list.
fn versioned(value: &serde_json::Value) -> serde_json::Value {
    let stamp = |v: &serde_json::Value| match v {
        serde_json::Value::Object(map) => {
            let mut out = serde_json::Map::new();
            out.insert("schema_version".into(), JSON_SCHEMA_VERSION.into());
            out.extend(map.clone());
            serde_json::Value::Object(out)
        }
        other => other.clone(),
    };
    match value {
        serde_json::Value::Array(items) => items.iter().map(stamp).collect(),
        other => stamp(other),
    }
}

/// Writes a value as pretty JSON to stdout, stamped with `schema_version`.
pub fn emit_json(value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(&versioned(value))
        .map_err(|e| Error::internal("cannot encode JSON").source(e))?;
    text.push('\n');
    emit(&text)
}

/// The error as an operator reads it on stderr.
pub fn render_error(err: &Error) -> String {
    let mut text = format!("acc: error: {}\n", err.message());
    for c in err.causes() {
        text.push_str(&format!("caused by: {c}\n"));
    }
    if let Some(hint) = err.hint_text() {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}

/// Renders the library's events (`crate::events`) on stderr, one per line: `acc: warning: ...`
/// as text, or a JSON object carrying the level.
pub fn log(level: Level, message: &str) {
    if !shown(level, verbosity()) {
        return;
    }
    let line = match log_format() {
        LogFormat::Text => match level {
            Level::Info | Level::Detail => format!("acc: {message}\n"),
            other => format!("acc: {}: {message}\n", other.name()),
        },
        LogFormat::Json => json_line(level.name(), message, serde_json::Value::Null),
    };
    to_stderr(level, &line);
}

/// Sends the library's events to `log`, and sees whether stderr is the journal; called once
/// at start-up.
pub fn install() {
    let _ = JOURNAL.set(is_journal(
        std::env::var("JOURNAL_STREAM").ok().as_deref(),
        stderr_identity(),
    ));
    crate::events::set_sink(log);
}

/// Prints an error to stderr, unless it is the quiet end of a closed pipe.
pub fn report(err: &Error) {
    if err.kind() == Kind::BrokenPipe {
        return;
    }
    let text = match log_format() {
        LogFormat::Text => render_error(err),
        LogFormat::Json => {
            let causes = err.causes();
            json_line(
                "error",
                err.message(),
                serde_json::json!({ "causes": causes, "hint": err.hint_text(), "exit": err.exit_code() }),
            )
        }
    };
    to_stderr(Level::Error, &text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_is_the_stream_systemd_named() {
        assert!(is_journal(Some("8:1234"), Some((8, 1234))));
        assert!(
            !is_journal(Some("8:1234"), Some((8, 99))),
            "stderr redirected"
        );
        assert!(!is_journal(None, Some((8, 1234))));
        assert!(!is_journal(Some("junk"), Some((8, 1234))));
    }

    #[test]
    fn quiet_keeps_warnings_and_errors_and_verbose_adds_detail() {
        assert!(!shown(Level::Info, Verbosity::Quiet));
        assert!(shown(Level::Warning, Verbosity::Quiet));
        assert!(!shown(Level::Detail, Verbosity::Normal));
        assert!(shown(Level::Detail, Verbosity::Verbose));
        assert_eq!(priority(Level::Error), 3);
    }

    #[test]
    fn every_json_output_carries_its_schema_version() {
        let one = versioned(&serde_json::json!({"a": 1}));
        assert_eq!(one["schema_version"], JSON_SCHEMA_VERSION);
        assert_eq!(one["a"], 1);
        let many = versioned(&serde_json::json!([{"a": 1}, {"a": 2}]));
        assert!(
            many.as_array()
                .unwrap()
                .iter()
                .all(|v| v["schema_version"] == 1)
        );
    }

    #[test]
    fn errors_render_message_causes_and_hint() {
        let io = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let err = Error::config("cannot read config file /x")
            .source(io)
            .hint("check --config");
        assert_eq!(
            render_error(&err),
            "acc: error: cannot read config file /x\ncaused by: no such file\nhint: check --config\n"
        );
    }
}
