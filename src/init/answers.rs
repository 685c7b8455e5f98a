//! What `acc init` asks, and the check of each answer on its own: a wrong one gets a reason
//! that names what to type instead. Checks that need a server live in `probe`.

use std::path::PathBuf;

use crate::config::RawDatabase;

/// Everything `acc init` writes into `acc.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    pub profile: String,
    pub region: String,
    /// `None` only while the interview has not reached it.
    pub production: Option<Connection>,
    pub staging: Option<Connection>,
    pub store: PathBuf,
    pub export_to: Option<String>,
    /// Set when `export_to` is an SFTP URL.
    pub sftp: Option<SftpLogin>,
    pub age_recipients: Vec<String>,
    pub reader_role: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SftpLogin {
    pub identity_file: PathBuf,
    pub known_hosts: PathBuf,
}

/// How acc reaches a PostgreSQL server, as the operator gave it. Never with a password: that
/// stays in `~/.pgpass`, a service file, or a `password_*` reference added by hand.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// `postgresql://user@host:port/db?sslmode=…`
    Url(String),
    /// `host=… port=… dbname=… user=…`
    KeyValue(String),
    /// `service=NAME`, from `~/.pg_service.conf` or `PGSERVICEFILE`.
    Service(String),
}

impl Connection {
    pub fn parse(text: &str) -> Result<Connection, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "give a postgresql:// URL, service=NAME, or host=… port=… dbname=… user=…".into(),
            );
        }
        if let Some(name) = text.strip_prefix("service=") {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err("service=NAME names one service of ~/.pg_service.conf, alone".into());
            }
            return Ok(Connection::Service(name.to_string()));
        }
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
            let in_query = url.query_pairs().any(|(k, _)| k == "password");
            if url.password().is_some() || in_query {
                return Err(NO_PASSWORD.into());
            }
            return Ok(Connection::Url(text.to_string()));
        }
        let mut keys = Vec::new();
        for pair in text.split_whitespace() {
            let Some((key, _)) = pair.split_once('=') else {
                return Err(format!(
                    "'{pair}' is not key=value: give a postgresql:// URL, service=NAME, or host=… port=… dbname=… user=…"
                ));
            };
            keys.push(key.to_string());
        }
        if keys.iter().any(|k| k == "password") {
            return Err(NO_PASSWORD.into());
        }
        Ok(Connection::KeyValue(text.to_string()))
    }

    /// The `[profiles.P.production]` (or staging) section it becomes.
    pub fn raw(&self) -> RawDatabase {
        match self {
            Connection::Url(s) | Connection::KeyValue(s) => RawDatabase {
                url: Some(s.clone()),
                ..RawDatabase::default()
            },
            Connection::Service(name) => RawDatabase {
                service: Some(name.clone()),
                ..RawDatabase::default()
            },
        }
    }
}

const NO_PASSWORD: &str = "acc.toml never holds a password: give the connection without it, and put the password in ~/.pgpass (or a service file); acc reads them as libpq does";

/// A profile name: letters, digits, `-` and `_`, as systemd units and file names take it.
pub fn profile_name(text: &str) -> Result<String, String> {
    identifier(text, "a profile name").map(str::to_string)
}

/// The staging role that may only read; acc creates it when missing.
pub fn role_name(text: &str) -> Result<String, String> {
    identifier(text, "a role name").map(str::to_string)
}

fn identifier<'a>(text: &'a str, what: &str) -> Result<&'a str, String> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if plain {
        Ok(text)
    } else {
        Err(format!(
            "'{text}' is not {what}: lowercase letters, digits, - and _, starting with a letter"
        ))
    }
}

/// One age recipient: an X25519 key (`age1…`) or an SSH public key.
pub fn recipient(text: &str) -> Result<String, String> {
    let text = text.trim();
    crate::crypt::parse_one(text)?;
    Ok(text.to_string())
}

/// Where snapshots go: an absolute path.
pub fn store(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text.trim());
    if !path.is_absolute() {
        return Err(format!(
            "'{}' is not an absolute path: timers run from /, so give the full path",
            path.display()
        ));
    }
    Ok(path)
}

/// Where exports go: an `sftp://` URL or a directory; empty for none.
pub fn export_to(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(None);
    }
    if !(is_sftp(text) || text.starts_with("file:///") || text.starts_with('/')) {
        return Err(format!(
            "'{text}' is neither sftp://user@host:port/path nor an absolute directory"
        ));
    }
    crate::location::Location::parse(text).map_err(|e| e.message().to_string())?;
    Ok(Some(text.to_string()))
}

pub fn is_sftp(export_to: &str) -> bool {
    export_to.starts_with("sftp://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_the_answers() {
        for with_password in [
            "postgresql://acc:hunter2@db.example/agency",
            "postgresql://acc@db.example/agency?password=hunter2",
            "host=db.example user=acc password=hunter2",
        ] {
            let why = Connection::parse(with_password).unwrap_err();
            assert!(why.contains("never holds a password"), "{why}");
            assert!(!why.contains("hunter2"), "{why}");
        }
        assert_eq!(
            Connection::parse("service=prod").unwrap(),
            Connection::Service("prod".into())
        );
        assert!(matches!(
            Connection::parse("host=db.example port=5432 dbname=agency user=acc"),
            Ok(Connection::KeyValue(_))
        ));
        assert!(Connection::parse("db.example").is_err());
        assert!(Connection::parse("service=").is_err());
    }

    #[test]
    fn names_paths_and_recipients_are_checked_with_a_reason() {
        assert_eq!(profile_name(" north ").unwrap(), "north");
        for bad in ["", "North", "1st", "a b", "x/y"] {
            assert!(profile_name(bad).is_err(), "{bad}");
        }
        assert!(store("relative/dir").unwrap_err().contains("absolute"));
        assert!(recipient("age1notakey").is_err());
        assert_eq!(export_to("").unwrap(), None);
        assert!(export_to("ftp://nope").is_err());
    }
}
