//! Running PostgreSQL's client programs (pg_dump, pg_restore) against a profile's database:
//! the password goes through the environment, never the command line, and a failure reports
//! the program's first error line.

use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::config::{Database, Env};
use crate::error::{Error, Kind, Result};

/// `program` set up to reach `db` (in database `dbname`), with stdin, stdout and stderr piped.
/// `connection_flag` is how the program takes a connection string (`""` for a positional
/// argument, `"--dbname="` for pg_restore).
pub fn command(
    program: &str,
    db: &Database,
    dbname: &str,
    env: &Env,
    connection_flag: &str,
) -> Result<Command> {
    let mut cmd = Command::new(program);
    cmd.arg("--no-password")
        .arg(format!(
            "{connection_flag}host={} port={} dbname={} user={}",
            conn_value(&db.host),
            db.port,
            conn_value(dbname),
            conn_value(&db.user)
        ))
        .env("PGAPPNAME", format!("acc {program}"))
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(secret) = &db.password {
        cmd.env("PGPASSWORD", secret.resolve(env)?.expose());
    }
    Ok(cmd)
}

pub fn spawn(mut cmd: Command, program: &str) -> Result<Child> {
    cmd.spawn().map_err(|e| {
        Error::unavailable(format!("cannot run {program}"))
            .source(e)
            .hint("install the PostgreSQL client (postgresql-client) of the server's major version or newer")
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
    mut child: Child,
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
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(Error::new(
        Kind::Unavailable,
        format!("{program} failed ({status}): {first}"),
    )
    .hint("the client tools must be the server's major version or newer; acc doctor checks it"))
}

/// Quotes a libpq connection-string value.
fn conn_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}
