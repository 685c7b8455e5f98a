//! Connecting to a profile's PostgreSQL servers over TLS by the profile's `sslmode`, with
//! failures mapped to exit codes an operator and a scheduler can act on.

use std::time::Duration;

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, Socket};

use super::pgpass;
use super::tls::{self, PeerCert};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::{Database, SslMode};
use crate::secret::Secret;

/// A connection and the certificate the server presented (none over cleartext).
pub struct Connection {
    pub client: Client,
    pub peer: Option<PeerCert>,
}

/// How a login to a database that does not exist ends its message.
pub const MISSING_DATABASE: &str = "the database does not exist";

/// Whether `e` is a login refused because the database does not exist.
pub fn database_missing(e: &Error) -> bool {
    e.message().ends_with(MISSING_DATABASE)
}

/// Opens a connection to `db` as `application_name = app`.
pub async fn connect(db: &Database, env: &Env, app: &str) -> Result<Client> {
    Ok(open(db, env, app).await?.client)
}

/// Opens a connection to `db`, keeping the server's certificate for doctor and status.
pub async fn open(db: &Database, env: &Env, app: &str) -> Result<Connection> {
    let mut cfg = Config::new();
    cfg.host(&db.host)
        .port(db.port)
        .dbname(&db.dbname)
        .user(&db.user)
        .application_name(app)
        .connect_timeout(Duration::from_secs(10))
        // a dead server or link is noticed in minutes, not at the kernel's two hours; the user
        // timeout is generous, since a busy server may hold a full receive window for a while
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(60))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(6)
        .tcp_user_timeout(Duration::from_secs(600));
    if let Some(addr) = db.hostaddr {
        cfg.hostaddr(addr);
    }
    if let Some(secret) = password(db, env)? {
        cfg.password(secret.expose());
    }
    match db.tls.mode {
        SslMode::Disable => plain(db, cfg).await,
        SslMode::Allow => match plain(db, cfg.clone()).await {
            Err(e) if e.kind() == Kind::Permission => secured(db, cfg, PgSslMode::Require).await,
            other => other,
        },
        SslMode::Prefer => secured(db, cfg, PgSslMode::Prefer).await,
        _ => secured(db, cfg, PgSslMode::Require).await,
    }
}

/// The password for `db`: its reference when set, else its line in the libpq password file.
pub fn password(db: &Database, env: &Env) -> Result<Option<Secret>> {
    match (&db.password, &db.passfile) {
        (Some(r), _) => r.resolve(env).map(Some),
        (None, Some(file)) => pgpass::lookup(file, &db.host, db.port, &db.dbname, &db.user),
        (None, None) => Ok(None),
    }
}

async fn plain(db: &Database, mut cfg: Config) -> Result<Connection> {
    cfg.ssl_mode(PgSslMode::Disable);
    let client = spawn(cfg, NoTls, db).await?;
    Ok(Connection { client, peer: None })
}

async fn secured(db: &Database, mut cfg: Config, mode: PgSslMode) -> Result<Connection> {
    let connector = tls::connector(&db.tls, &db.describe())?;
    cfg.ssl_mode(mode);
    let client = spawn(cfg, connector.make.clone(), db).await?;
    Ok(Connection {
        client,
        peer: connector.peer(),
    })
}

async fn spawn<T>(cfg: Config, tls: T, db: &Database) -> Result<Client>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = cfg.connect(tls).await.map_err(|e| classify(db, e))?;
    tokio::spawn(async move {
        // the connection ends when the client is dropped; its errors surface on the client
        let _ = connection.await;
    });
    client.batch_execute(PIN_SEARCH_PATH).await.map_err(|e| {
        super::sqlstate::failure(
            format!("cannot pin the search_path on {}", db.describe()),
            e,
        )
    })?;
    Ok(client)
}

/// Every session acc opens resolves unqualified names in `pg_catalog` alone (then `pg_temp`,
/// for relations only): an operator or function that a production user put in a schema of the
/// default search_path (`public.=` on an enum, `format(text, name, name)`) can never stand in
/// for the built-in one and run as acc (CVE-2018-1058). pg_dump pins an empty search_path the
/// same way. Set by a qualified call before anything else runs, not as a startup option, which
/// connection poolers refuse.
const PIN_SEARCH_PATH: &str =
    "SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)";

fn classify(db: &Database, e: tokio_postgres::Error) -> Error {
    let target = db.describe();
    if let Some(err) = tls::explain(&e, &target, &db.tls) {
        return err;
    }
    match e.code() {
        Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.tls.mode <= SslMode::Allow
            && e.as_db_error().is_some_and(|d| d.message().contains("no encryption")) =>
        {
            Error::new(Kind::Permission, format!("{target} accepts only TLS connections, and sslmode is \"{}\"", db.tls.mode.name()))
                .source(e)
                .hint("set sslmode = \"verify-full\" (the default) and sslrootcert to the server's CA")
        }
        Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            Error::new(Kind::Permission, format!("{target} refused the login"))
                .source(e)
                .hint("check the user and the password (password_env, password_file, password_credential or .pgpass), or sslcert and sslkey")
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => Error::config(format!("{target}: {MISSING_DATABASE}"))
            .source(e)
            .hint("check dbname in the profile"),
        Some(_) => Error::unavailable(format!("{target} refused the connection")).source(e),
        // no SQL state: the server could not be reached at all, which may pass
        None => Error::new(Kind::Temporary, format!("cannot reach {target}"))
            .source(e)
            .hint("is the server up and listening? the run is safe to retry"),
    }
}

/// Column `i` of a row from a schema acc did not write: a NULL where acc expects a value, or a
/// timestamp of `infinity`, is an error naming the column and the row, never a panic.
pub fn cell<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    i: usize,
    what: &dyn Fn() -> String,
) -> Result<T> {
    row.try_get(i).map_err(|e| {
        Error::new(
            Kind::BadInput,
            format!("production's {} cannot be read: {e}", what()),
        )
        .hint("acc reads finite timestamps and the NOT NULL columns of the reference schema; fix the row or leave it out of the batch")
    })
}

/// An identifier quoted for SQL, whatever characters it holds.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `s` as an SQL string literal, as PostgreSQL's `quote_literal` makes it: read the same
/// whatever `standard_conforming_strings` is.
pub fn quote_literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Two runs creating the same object at once: the loser sees a duplicate, which is fine.
pub fn lost_race(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::DUPLICATE_DATABASE
        || *c == SqlState::DUPLICATE_OBJECT
        || *c == SqlState::DUPLICATE_TABLE
        || *c == SqlState::UNIQUE_VIOLATION)
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn a_literal_reads_the_same_whatever_the_server_does_with_backslashes() {
        assert_eq!(quote_literal("a.\"it's\""), "'a.\"it''s\"'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
    }
}
