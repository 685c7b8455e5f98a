//! libpq's password file: reading a password for a connection from `PGPASSFILE` or
//! `~/.pgpass`, and writing the private one acc hands to `pg_dump` and `pg_restore`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::env::Env;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// `PGPASSFILE`, else `~/.pgpass`.
pub fn default_path(env: &Env) -> Option<PathBuf> {
    env.get("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| PathBuf::from(h).join(".pgpass")))
}

/// The password `file` holds for this connection; `None` when the file does not exist or has
/// no matching line. A file readable by group or others is refused, as libpq refuses to use it.
pub fn lookup(
    file: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Result<Option<Secret>> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(
                Error::config(format!("cannot read the password file {}", file.display()))
                    .source(e),
            );
        }
    };
    if meta.mode() & 0o077 != 0 {
        return Err(Error::config(format!(
            "the password file {} is readable by group or others (mode {:o})",
            file.display(),
            meta.mode() & 0o777
        ))
        .hint(format!(
            "chmod 600 {}; libpq ignores such a file",
            file.display()
        )));
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::config(format!("cannot read the password file {}", file.display())).source(e)
    })?;
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split(line);
        if fields.len() != 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(wanted)
            .all(|(f, w)| f == "*" || f == w)
        {
            return Ok(Some(Secret::new(fields[4].clone())));
        }
    }
    Ok(None)
}

/// One line that matches `host:port:*:user`, with `:` and `\` escaped as libpq expects.
pub fn line(host: &str, port: u16, user: &str, password: &Secret) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
    format!(
        "{}:{port}:*:{}:{}\n",
        esc(host),
        esc(user),
        esc(password.expose())
    )
}

fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().unwrap().extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_the_first_matching_line_with_wildcards_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        let secret = Secret::new("p:w\\d".into());
        std::fs::write(
            &f,
            format!(
                "# comment\nother:5432:*:acc:no\n{}*:*:agency:*:fallback\n",
                line("db", 5432, "acc", &secret)
            ),
        )
        .unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let get = |h, p, d, u| {
            lookup(&f, h, p, d, u)
                .unwrap()
                .map(|s| s.expose().to_string())
        };
        assert_eq!(
            get("db", 5432, "anything", "acc").as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(
            get("elsewhere", 1, "agency", "x").as_deref(),
            Some("fallback")
        );
        assert_eq!(get("elsewhere", 1, "other", "x"), None);
        assert_eq!(
            lookup(&dir.path().join("missing"), "h", 1, "d", "u").unwrap(),
            None
        );
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgpass");
        std::fs::write(&f, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = lookup(&f, "h", 1, "d", "u").unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.message().contains("640"), "{}", err.message());
    }
}
