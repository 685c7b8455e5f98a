//! Running PostgreSQL's client programs (pg_dump, pg_restore) against a profile's database
//! with acc's own settings: the same TLS settings through `PGSSL*`, the password from a 0600
//! `PGPASSFILE` in a private directory that lives as long as the child, and an environment
//! that holds nothing else (see `process`). A failure reports the program's first error line.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::pg::{Database, RootCert};

use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::process::PrivateDir;

/// A client program ready to run, with the private directory its password file is in.
pub struct Tool {
    cmd: Command,
    dir: Option<PrivateDir>,
}

impl Deref for Tool {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl DerefMut for Tool {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

/// A running client program; its password file is removed once this is dropped.
pub struct RunningTool {
    child: Child,
    _dir: Option<PrivateDir>,
}

impl Deref for RunningTool {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for RunningTool {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// `program` set up to reach `db` (in database `dbname`), with stdin, stdout and stderr piped.
/// `connection_flag` is how the program takes a connection string (`""` for a positional
/// argument, `"--dbname="` for pg_restore).
pub fn command(
    program: &str,
    db: &Database,
    dbname: &str,
    env: &Env,
    connection_flag: &str,
) -> Result<Tool> {
    let mut cmd = crate::process::async_command(program);
    let mut conninfo = format!(
        "host={} port={} dbname={} user={}",
        conn_value(&db.host),
        db.port,
        conn_value(dbname),
        conn_value(&db.user)
    );
    if let Some(addr) = db.hostaddr {
        conninfo.push_str(&format!(" hostaddr={addr}"));
    }
    cmd.arg("--no-password")
        .arg(format!("{connection_flag}{conninfo}"))
        .env("PGAPPNAME", format!("acc {program}"))
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", db.tls.mode.name())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match &db.tls.root_cert {
        Some(RootCert::File(f)) => {
            cmd.env("PGSSLROOTCERT", f);
        }
        // libpq before 16 has no "system": hand it the system's CA bundle
        Some(RootCert::System) => {
            let bundle = openssl_probe::probe().cert_file.ok_or_else(|| {
                Error::config(format!(
                    "{}: no system CA bundle for {program}",
                    db.describe()
                ))
                .hint("install ca-certificates, or set sslrootcert to a CA file")
            })?;
            cmd.env("PGSSLROOTCERT", bundle);
        }
        None => {}
    }
    for (var, path) in [
        ("PGSSLCERT", &db.tls.cert),
        ("PGSSLKEY", &db.tls.key),
        ("PGSSLCRL", &db.tls.crl),
    ] {
        if let Some(p) = path {
            cmd.env(var, p);
        }
    }
    let dir = match crate::pg::password(db, env)? {
        None => None,
        Some(secret) => {
            let dir = PrivateDir::new("pgpass").map_err(|e| {
                Error::io("cannot create a private directory for the password file", e)
            })?;
            let file = dir
                .write(
                    "pgpass",
                    super::pgpass::line(&db.host, db.port, &db.user, &secret).as_bytes(),
                )
                .map_err(|e| Error::io("cannot write the password file", e))?;
            cmd.env("PGPASSFILE", file);
            Some(dir)
        }
    };
    Ok(Tool { cmd, dir })
}

/// What `pg_restore ARGS ARCHIVE` prints, read whole: its table of contents (`--list`) or
/// the SQL of some entries (`--file=- --use-list=...`). It reads the archive only and
/// connects to nothing.
pub async fn archive_text(args: &[String], archive: &Path) -> Result<String> {
    let out = crate::process::async_command("pg_restore")
        .args(args)
        .arg(archive)
        .output()
        .await
        .map_err(|e| Error::unavailable("cannot run pg_restore").source(e))?;
    if !out.status.success() {
        return Err(Error::new(
            Kind::BadInput,
            format!("pg_restore cannot read {}", archive.display()),
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|e| Error::new(Kind::BadInput, "the archive's text is not UTF-8").source(e))
}

pub fn spawn(mut tool: Tool, program: &str) -> Result<RunningTool> {
    let child = tool.cmd.spawn().map_err(|e| {
        Error::unavailable(format!("cannot run {program}"))
            .source(e)
            .hint("install the PostgreSQL client (postgresql-client) of the server's major version or newer")
    })?;
    Ok(RunningTool {
        child,
        _dir: tool.dir,
    })
}

/// Collects a child's stderr in the background, for the error message.
pub fn stderr_of(child: &mut Child) -> tokio::task::JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text).await;
        }
        text
    })
}

/// Waits for the child; a non-zero exit becomes an error naming its first message.
pub async fn finish(
    mut child: RunningTool,
    stderr: tokio::task::JoinHandle<String>,
    program: &str,
) -> Result<()> {
    let status = child
        .wait()
        .await
        .map_err(|e| Error::internal(format!("cannot wait for {program}")).source(e))?;
    let text = stderr.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let (what, refused) = failure_of(&text);
    let e = Error::new(
        if refused {
            Kind::Permission
        } else {
            Kind::Unavailable
        },
        format!("{program} failed ({status}): {what}"),
    );
    Err(match refused {
        true => e.hint("the server refused acc's user the object named: a superuser must create it (on staging, once, in the database restore.template names) or grant what the message says; retrying alone will not help"),
        false => e.hint("the client tools must be the server's major version or newer; acc doctor checks it"),
    })
}

/// What a tool's stderr says went wrong: its error line, with the archive entry it was on
/// (pg_restore's "from TOC entry" line comes first), and whether the server refused a
/// privilege, which no retry gets past.
fn failure_of(text: &str) -> (String, bool) {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let error = lines
        .iter()
        .find(|l| l.contains("error:"))
        .or(lines.first());
    let mut what = error.map_or("no message".to_string(), |l| l.to_string());
    if let Some(entry) = lines.iter().find(|l| l.contains("from TOC entry")) {
        what = format!("{what} ({})", entry.trim_start_matches("pg_restore: "));
    }
    let refused = ["must be superuser", "permission denied", "must be owner"]
        .iter()
        .any(|m| what.contains(m));
    (what, refused)
}

/// Quotes a libpq connection-string value.
fn conn_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_entry_is_named_with_the_servers_words_and_is_no_retry() {
        let text = "pg_restore: while PROCESSING TOC:\n\
                    pg_restore: from TOC entry 3320; 3466 52531 EVENT TRIGGER audit_ddl postgres\n\
                    pg_restore: error: could not execute query: ERROR:  must be superuser to create an event trigger\n\
                    Command was: CREATE EVENT TRIGGER audit_ddl ON ddl_command_end;\n";
        let (what, refused) = super::failure_of(text);
        assert!(refused);
        assert!(
            what.starts_with(
                "pg_restore: error: could not execute query: ERROR:  must be superuser"
            ),
            "{what}"
        );
        assert!(
            what.ends_with("(from TOC entry 3320; 3466 52531 EVENT TRIGGER audit_ddl postgres)"),
            "{what}"
        );
        let (what, refused) =
            super::failure_of("pg_dump: error: server version: 16.1; pg_dump version: 15.4\n");
        assert!(!refused && what.contains("server version"), "{what}");
    }
}
