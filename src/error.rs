//! One error type for acc: every failure has a kind, and every kind a documented exit code.

use std::fmt;

/// Stable exit codes, in the spirit of sysexits.h. Cron, systemd and scripts act on these.
pub mod code {
    /// Everything asked for was done.
    pub const OK: u8 = 0;
    /// A bug or an unexpected state in acc itself.
    pub const INTERNAL: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
    /// The run finished but some items failed, or it was skipped on purpose; they are listed.
    pub const PARTIAL: u8 = 3;
    /// Input data was invalid: a file, a manifest, a checksum.
    pub const DATA: u8 = 65;
    /// Something acc depends on is unavailable.
    pub const UNAVAILABLE: u8 = 69;
    /// A local file could not be read or written (a full disk, a broken mount).
    pub const IOERR: u8 = 74;
    /// A temporary failure (network, a busy lock): safe to retry.
    pub const TEMPFAIL: u8 = 75;
    /// Permission or authentication was refused.
    pub const NOPERM: u8 = 77;
    /// The configuration is wrong.
    pub const CONFIG: u8 = 78;
}

/// The exit codes as `acc --help` and README list them.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
   0  ok
   1  internal error (a bug in acc)
   2  usage error
   3  partial: finished, but some items failed or the run was skipped on purpose (listed)
  65  bad input data (a file, manifest or checksum)
  69  a dependency is unavailable (a server, a tool)
  74  a local file could not be read or written (a full disk, a broken mount)
  75  temporary failure (network, lock busy): safe to retry
  77  permission or authentication refused
  78  configuration error";

/// What went wrong, at the level an operator or a scheduler acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Usage,
    Partial,
    BadInput,
    Unavailable,
    /// A local file could not be read or written.
    Io,
    Temporary,
    Permission,
    Config,
    /// stdout was closed by the reader (`acc schedule | head`): stop quietly.
    BrokenPipe,
}

impl Kind {
    pub const fn exit_code(self) -> u8 {
        match self {
            Kind::Internal => code::INTERNAL,
            Kind::Usage => code::USAGE,
            Kind::Partial => code::PARTIAL,
            Kind::BadInput => code::DATA,
            Kind::Unavailable => code::UNAVAILABLE,
            Kind::Io => code::IOERR,
            Kind::Temporary => code::TEMPFAIL,
            Kind::Permission => code::NOPERM,
            Kind::Config => code::CONFIG,
            Kind::BrokenPipe => code::OK,
        }
    }

    /// Every kind that ends a run with an error.
    pub const FAILURES: [Kind; 9] = [
        Kind::Internal,
        Kind::Usage,
        Kind::Partial,
        Kind::BadInput,
        Kind::Unavailable,
        Kind::Io,
        Kind::Temporary,
        Kind::Permission,
        Kind::Config,
    ];

    /// Whether running the same command again soon may succeed: a scheduler retries these
    /// (a temporary failure, a local file a full disk refused, a bug that may not recur), and
    /// no others, since only the operator can fix them.
    pub const fn retry_may_help(self) -> bool {
        matches!(self, Kind::Internal | Kind::Io | Kind::Temporary)
    }
}

/// The exit codes a scheduler must not retry, in order: systemd's `RestartPreventExitStatus=`.
pub fn no_retry_codes() -> Vec<u8> {
    Kind::FAILURES
        .into_iter()
        .filter(|k| !k.retry_may_help())
        .map(Kind::exit_code)
        .collect()
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error with a kind, a lowercase message, an optional cause and an optional hint that
/// names the fix.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }
    /// A local file operation that failed: 74, or 77 when the system refused permission.
    pub fn io(message: impl Into<String>, e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::PermissionDenied => Kind::Permission,
            _ => Kind::Io,
        };
        Self::new(kind, message).source(e)
    }

    /// Adds the fix an operator should try.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Records the underlying cause, printed as `caused by:`.
    pub fn source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The chain of causes as printed. A PostgreSQL error shows only the server's message and
    /// SQLSTATE: its DETAIL, WHERE and CONTEXT can quote a row ("Failing row contains ..."), and a
    /// row here is a patient's.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let db = c
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(tokio_postgres::Error::as_db_error)
                .or_else(|| c.downcast_ref::<tokio_postgres::error::DbError>());
            if let Some(db) = db {
                out.push(crate::redact::server_message(db));
                break;
            }
            out.push(c.to_string());
            cause = c.source();
        }
        out
    }

    /// The message, its causes and its hint on one line, for a report that lists failures.
    pub fn one_line(&self) -> String {
        let mut text = self.message().to_string();
        for c in self.causes() {
            text.push_str(&format!("; caused by: {c}"));
        }
        if let Some(hint) = self.hint_text() {
            text.push_str(&format!("; hint: {hint}"));
        }
        text
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// An error kept as data by a report that goes on past it (`acc status`'s facts): its kind,
/// its message with its causes as printed, and its hint. Written to JSON as the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let mut message = e.message().to_string();
        for c in e.causes() {
            message.push_str(&format!("; caused by: {c}"));
        }
        Failure {
            kind: e.kind(),
            message,
            hint: e.hint_text().map(str::to_string),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl serde::Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_documented_code() {
        let table = [
            (Kind::Internal, 1),
            (Kind::Usage, 2),
            (Kind::Partial, 3),
            (Kind::BadInput, 65),
            (Kind::Unavailable, 69),
            (Kind::Io, 74),
            (Kind::Temporary, 75),
            (Kind::Permission, 77),
            (Kind::Config, 78),
        ];
        assert_eq!(table.len(), Kind::FAILURES.len());
        let docs = include_str!("../docs/exit-codes.md");
        for (kind, want) in table {
            assert!(Kind::FAILURES.contains(&kind));
            assert_eq!(kind.exit_code(), want, "{kind:?}");
            assert!(
                EXIT_CODES_HELP.contains(&format!("{want:>4}  ")),
                "{want} missing from the help text"
            );
            assert!(
                docs.contains(&format!("| {want:<4} |")),
                "{want} missing from docs/exit-codes.md"
            );
        }
    }

    #[test]
    fn schedulers_retry_only_what_a_retry_may_fix() {
        assert_eq!(no_retry_codes(), [2, 3, 65, 69, 77, 78]);
        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left");
        assert_eq!(Error::io("cannot write x", full).exit_code(), 74);
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        assert_eq!(Error::io("cannot write x", denied).exit_code(), 77);
    }
}

#[cfg(test)]
mod one_line_tests {
    use super::*;

    #[test]
    fn one_line_joins_message_causes_and_hint() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::new(Kind::BadInput, "cannot read manifest.json")
            .source(io)
            .hint("run acc snapshot again");
        assert_eq!(
            e.one_line(),
            "cannot read manifest.json; caused by: no such file; hint: run acc snapshot again"
        );
    }
}
