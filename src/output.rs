//! Where things are printed: results on stdout, messages on stderr.
//!
//! Errors read `acc: error: ...`, then one `caused by: ...` per cause, then `hint: ...`.
//! A reader that closes stdout early (`acc schedule | head`) ends the run quietly.

use std::io::{self, Write};

use crate::error::{Error, Kind, Result};

/// Writes a result to stdout.
pub fn emit(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                Error::new(Kind::BrokenPipe, "stdout closed")
            } else {
                Error::internal("cannot write to stdout").source(e)
            }
        })
}

/// Writes a value as pretty JSON to stdout.
pub fn emit_json(value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal("cannot encode JSON").source(e))?;
    text.push('\n');
    emit(&text)
}

/// The error as an operator reads it on stderr.
pub fn render_error(err: &Error) -> String {
    let mut text = format!("acc: error: {}\n", err.message());
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        text.push_str(&format!("caused by: {c}\n"));
        cause = c.source();
    }
    if let Some(hint) = err.hint_text() {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}

/// A progress or status line on stderr, one event per line.
pub fn log(message: &str) {
    let _ = writeln!(io::stderr(), "acc: {message}");
}

/// Prints an error to stderr, unless it is the quiet end of a closed pipe.
pub fn report(err: &Error) {
    if err.kind() != Kind::BrokenPipe {
        let _ = io::stderr().write_all(render_error(err).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
