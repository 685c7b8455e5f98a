//! Running a dashboard on a Snowflake reader account, one result partition at a time so that
//! memory stays flat, and rendering each cell by the same rules as PostgreSQL's.

use snowflake_connector_rs::{
    AuthConfig, CellValue, Client, ClientConfig, EndpointConfig, ErrorKind, KeyPairConfig, Session,
    SessionConfig,
};

use super::csv_out::CsvOut;
use super::dashboard::Dashboard;
use crate::config::Snowflake;
use crate::env::Env;
use crate::error::{Error, Kind, Result};

/// Logs in with a key pair when one is configured, else with the password.
pub async fn connect(sf: &Snowflake, env: &Env) -> Result<Session> {
    let auth = if let Some(key) = &sf.private_key_file {
        let pem = std::fs::read_to_string(key).map_err(|e| {
            Error::config(format!(
                "cannot read snowflake.private_key_file {}",
                key.display()
            ))
            .source(e)
        })?;
        match &sf.private_key_passphrase {
            Some(p) => AuthConfig::key_pair(KeyPairConfig::from_encrypted_pem(
                pem,
                p.resolve(env)?.expose().as_bytes(),
            )),
            None => AuthConfig::key_pair(KeyPairConfig::from_pem(pem)),
        }
    } else if let Some(p) = &sf.password {
        AuthConfig::password(p.resolve(env)?.expose())
    } else {
        return Err(Error::config("snowflake has neither private_key_file nor a password")
            .hint("set snowflake.private_key_file (key-pair auth, recommended) or snowflake.password_file"));
    };
    let mut session = SessionConfig::new();
    if let Some(v) = &sf.warehouse {
        session = session.with_warehouse(v);
    }
    if let Some(v) = &sf.database {
        session = session.with_database(v);
    }
    if let Some(v) = &sf.schema {
        session = session.with_schema(v);
    }
    if let Some(v) = &sf.role {
        session = session.with_role(v);
    }
    let mut config = ClientConfig::new(&sf.user, &sf.account, auth).with_session(session);
    if let Some(url) = &sf.base_url {
        let parsed = url
            .parse()
            .map_err(|_| Error::config(format!("snowflake.base_url '{url}' is not a URL")))?;
        config = config.with_endpoint(EndpointConfig::custom_base_url(parsed));
    }
    let client =
        Client::new(config).map_err(|e| failure("cannot set up the snowflake client", e))?;
    client.create_session().await.map_err(|e| {
        failure(
            &format!(
                "cannot log in to snowflake account {} as {}",
                sf.account, sf.user
            ),
            e,
        )
    })
}

/// Logs in and runs `SELECT 1`, for `acc doctor`.
pub async fn login(sf: &Snowflake, env: &Env) -> Result<()> {
    let session = connect(sf, env).await?;
    session
        .query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| failure("snowflake accepted the login but not a query", e))
}

fn failure(what: &str, e: snowflake_connector_rs::Error) -> Error {
    let kind = match e.kind() {
        ErrorKind::Auth => Kind::Permission,
        ErrorKind::Config => Kind::Config,
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::SessionExpired => Kind::Temporary,
        _ => Kind::Unavailable,
    };
    Error::new(kind, what.to_string()).source(e)
}

/// Runs the dashboard's query and writes its header and rows.
pub async fn run(session: &Session, d: &Dashboard, out: &mut CsvOut) -> Result<()> {
    let failed = |e| failure(&format!("dashboard {}", d.name), e);
    let mut cursor = session.query(d.sql.clone()).await.map_err(failed)?;
    let names: Vec<String> = cursor
        .schema()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    out.header(&names);
    while let Some(table) = cursor.next_table().await.map_err(failed)? {
        for row in table.dynamic_rows().map_err(failed)? {
            let row = row.map_err(failed)?;
            for (i, v) in row.values().iter().enumerate() {
                cell(v, out).map_err(|why| {
                    Error::config(format!(
                        "dashboard {}: column \"{}\": {why}",
                        d.name,
                        names.get(i).map_or("?", |s| s.as_str())
                    ))
                    .hint("cast it to a scalar type in the query")
                })?;
            }
            out.end_row().await?;
        }
    }
    Ok(())
}

fn cell(v: &CellValue, out: &mut CsvOut) -> std::result::Result<(), String> {
    match v {
        CellValue::Null => out.null(),
        CellValue::Boolean(b) => out.boolean(*b),
        CellValue::Integer(i) => out.plain_fmt(format_args!("{i}")),
        CellValue::Float(f) => out.float(*f),
        CellValue::Decimal(d) => out.plain(d.raw()),
        CellValue::String(s) => out.text(s),
        CellValue::Date(d) => out.date(*d),
        CellValue::Time(t) => out.time(*t),
        CellValue::TimestampNtz(t) => out.timestamp(*t),
        CellValue::TimestampLtz(t) => out.timestamp_tz(*t),
        CellValue::TimestampTz(t) => out.timestamp_tz(t.to_utc()),
        CellValue::Json(j) => out.text(&j.to_string()),
        CellValue::Binary(b) => out.hex(b.as_ref()),
        CellValue::Vector(_) => return Err("acc does not render VECTOR values".into()),
        _ => return Err("acc does not render this type".into()),
    }
    Ok(())
}
