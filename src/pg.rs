//! Connecting to a profile's PostgreSQL servers, with failures mapped to exit codes an
//! operator and a scheduler can act on.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::config::{Database, Env};
use crate::error::{Error, Kind, Result};

/// Opens a connection to `db` as `application_name = app`, reading the password by reference.
pub async fn connect(db: &Database, env: &Env, app: &str) -> Result<Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&db.host)
        .port(db.port)
        .dbname(&db.dbname)
        .user(&db.user)
        .application_name(app)
        .connect_timeout(Duration::from_secs(10));
    if let Some(secret) = &db.password {
        cfg.password(secret.resolve(env)?.expose());
    }
    let (client, connection) = cfg.connect(NoTls).await.map_err(|e| classify(db, e))?;
    tokio::spawn(async move {
        // the connection ends when the client is dropped; its errors surface on the client
        let _ = connection.await;
    });
    Ok(client)
}

fn classify(db: &Database, e: tokio_postgres::Error) -> Error {
    let target = db.describe();
    match e.code() {
        Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            Error::new(Kind::Permission, format!("{target} refused the login"))
                .source(e)
                .hint("check the user and the password reference (password_env, password_file or password_credential)")
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => Error::config(format!("{target}: the database does not exist"))
            .source(e)
            .hint("check dbname in the profile"),
        Some(_) => Error::unavailable(format!("{target} refused the connection")).source(e),
        // no SQL state: the server could not be reached at all, which may pass
        None => Error::new(Kind::Temporary, format!("cannot reach {target}"))
            .source(e)
            .hint("is the server up and listening? the run is safe to retry"),
    }
}

/// An identifier quoted for SQL, whatever characters it holds.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Two runs creating the same object at once: the loser sees a duplicate, which is fine.
pub fn lost_race(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::DUPLICATE_DATABASE
        || *c == SqlState::DUPLICATE_OBJECT
        || *c == SqlState::DUPLICATE_TABLE
        || *c == SqlState::UNIQUE_VIOLATION)
}
