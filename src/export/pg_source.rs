//! Running a dashboard on PostgreSQL (staging or production). The server renders the CSV
//! itself (`COPY (query) TO STDOUT (FORMAT csv, HEADER)`, with the session's TimeZone set to
//! the region's local zone and DateStyle ISO), which costs it no more than sending binary
//! rows and spares acc the work; acc only turns line ends into CRLF and counts records.
//! That output format is the rule the Snowflake reader imitates (see `csv_out`).

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::Client;
use tokio_postgres::types::{Kind, Type};

use super::csv_out::CsvOut;
use super::dashboard::Dashboard;
use crate::error::{Error, Result};

/// Session settings that fix how the server renders values; set once per transaction.
pub fn settings(zone: &str) -> String {
    format!(
        "SET LOCAL TimeZone = '{}'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601'; \
         SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'",
        zone.replace('\'', "")
    )
}

/// Types whose text form both engines agree on; anything else must be cast in the query.
fn renderable(ty: &Type) -> bool {
    let ty = match ty.kind() {
        Kind::Domain(inner) => inner,
        Kind::Enum(_) => return true,
        _ => ty,
    };
    matches!(
        *ty,
        Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::UNKNOWN
            | Type::BOOL
            | Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::OID
            | Type::FLOAT4
            | Type::FLOAT8
            | Type::NUMERIC
            | Type::DATE
            | Type::TIME
            | Type::TIMESTAMP
            | Type::TIMESTAMPTZ
            | Type::BYTEA
            | Type::UUID
            | Type::JSON
            | Type::JSONB
    ) || ty.name() == "citext"
}

/// Runs the dashboard's query and writes its header and rows.
pub async fn run(client: &Client, d: &Dashboard, out: &mut CsvOut) -> Result<()> {
    let failed = |e: tokio_postgres::Error| query_error(d.name, e);
    let stmt = client.prepare(&d.sql).await.map_err(failed)?;
    if let Some(c) = stmt.columns().iter().find(|c| !renderable(c.type_())) {
        return Err(Error::config(format!(
            "dashboard {}: column \"{}\" has type {}, which acc does not render",
            d.name,
            c.name(),
            c.type_().name()
        ))
        .hint("cast it to text in the query (arrays: array_to_string(col, ' '))"));
    }
    let copy = format!(
        "COPY ({}) TO STDOUT (FORMAT csv, HEADER)",
        d.sql.trim().trim_end_matches(';')
    );
    let stream = client.copy_out(copy.as_str()).await.map_err(failed)?;
    pin_mut!(stream);
    while let Some(chunk) = stream.try_next().await.map_err(failed)? {
        out.server_csv(&chunk).await?;
    }
    out.end_server_csv()
}

fn query_error(name: &str, e: tokio_postgres::Error) -> Error {
    // the server's message, never its DETAIL, which may quote a row's values
    let msg = e
        .as_db_error()
        .map(crate::redact::server_message)
        .unwrap_or_else(|| e.to_string());
    let kind = if e.is_closed() || e.as_db_error().is_none() {
        crate::error::Kind::Temporary
    } else {
        crate::error::Kind::Unavailable
    };
    Error::new(kind, format!("dashboard {name}: {msg}"))
}
