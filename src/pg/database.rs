//! A PostgreSQL server and database as libpq names one, with its TLS settings and where
//! each setting came from. `config` resolves one from a profile's section.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::secret::SecretRef;

/// libpq's `sslmode`, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn parse(s: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `sslrootcert`: a CA file, or `system` for the operating system's trust store (libpq 16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    System,
}

/// TLS to one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
    pub mode: SslMode,
    /// Where trusted CAs come from. Under `verify-ca` and `verify-full` an unset value means
    /// libpq's `~/.postgresql/root.crt`; under `require` it means no check, as in libpq.
    pub root_cert: Option<RootCert>,
    /// A client certificate (PEM) and its key, for `cert` logins.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Revoked certificates (PEM).
    pub crl: Option<PathBuf>,
}

impl Tls {
    /// Whether the server's certificate chain is checked: always under verify-ca and
    /// verify-full, and, as libpq does, under any mode that encrypts when a CA is given.
    pub fn checks_chain(&self) -> bool {
        self.mode >= SslMode::VerifyCa || (self.mode >= SslMode::Allow && self.root_cert.is_some())
    }
}

/// A PostgreSQL server and database.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub host: String,
    /// Where to connect when `host` is a name the certificate holds but DNS must not decide.
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: Option<SecretRef>,
    /// The libpq password file read when no password reference is set.
    pub passfile: Option<PathBuf>,
    pub tls: Tls,
    /// Each setting and where it came from (`profile`, `url`, `service NAME in FILE`, `default`).
    pub origins: Vec<(&'static str, String)>,
}

impl Database {
    /// `user@host:port/dbname`, for messages; never includes the password.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }

    /// Where `setting` came from, for doctor.
    pub fn origin(&self, setting: &str) -> &str {
        self.origins
            .iter()
            .find(|(k, _)| *k == setting)
            .map_or("default", |(_, o)| o.as_str())
    }
}
