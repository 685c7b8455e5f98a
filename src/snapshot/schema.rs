//! The schema of the snapshot: `pg_dump --schema-only` pre-data and post-data sections taken
//! inside the same exported snapshot, and the sequence values a schema-only dump leaves out.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio_postgres::Client;

use super::filter::TableFilter;
use super::sink::{Sealed, Sink};
use crate::crypt::Recipients;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::Database;
use crate::pg::quote_ident;
use crate::pg::tools as pg_tools;
use crate::snapshot::manifest::{MaterializedView, Sequence, TableName};

#[derive(Debug, Clone, Copy)]
pub enum Section {
    PreData,
    PostData,
}

impl Section {
    fn arg(self) -> &'static str {
        match self {
            Section::PreData => "--section=pre-data",
            Section::PostData => "--section=post-data",
        }
    }
}

/// What every pg_dump of one snapshot shares.
pub struct Dumper<'a> {
    pub db: &'a Database,
    pub env: &'a Env,
    pub snapshot_id: &'a str,
    pub filter: &'a TableFilter,
    pub excluded: &'a [TableName],
    pub recipients: &'a Arc<Recipients>,
}

impl Dumper<'_> {
    /// Runs pg_dump for one section in custom format and seals its output into `path`.
    pub async fn dump(&self, section: Section, path: &Path) -> Result<Sealed> {
        let Dumper {
            db,
            env,
            snapshot_id,
            filter,
            excluded,
            recipients,
        } = *self;
        dump_section(
            db,
            env,
            snapshot_id,
            section,
            filter,
            excluded,
            path,
            Arc::clone(recipients),
        )
        .await
    }
}

#[allow(clippy::too_many_arguments)]
async fn dump_section(
    db: &Database,
    env: &Env,
    snapshot_id: &str,
    section: Section,
    filter: &TableFilter,
    excluded: &[TableName],
    path: &Path,
    recipients: Arc<Recipients>,
) -> Result<Sealed> {
    let mut cmd = pg_tools::command("pg_dump", db, &db.dbname, env, "")?;
    cmd.arg("--schema-only")
        .arg(section.arg())
        .arg("--format=custom")
        .arg(format!("--snapshot={snapshot_id}"))
        .stdin(Stdio::null());
    for schema in &filter.only_schemas {
        cmd.arg(format!("--schema={}", quote_ident(schema)));
    }
    for t in excluded {
        cmd.arg(format!(
            "--exclude-table={}.{}",
            quote_ident(&t.schema),
            quote_ident(&t.name)
        ));
    }
    let mut child = pg_tools::spawn(cmd, "pg_dump")?;
    let mut stdout = child.stdout.take().expect("piped");
    let errors = pg_tools::stderr_of(&mut child);
    let sink = Sink::spawn(path.to_path_buf(), recipients);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = stdout
            .read(&mut buf)
            .await
            .map_err(|e| Error::io("cannot read pg_dump's output", e))?;
        if n == 0 {
            break;
        }
        if sink.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
            let _ = child.kill().await;
            return Err(sink
                .abandon()
                .await
                .unwrap_or_else(|| Error::internal("sealing stopped early")));
        }
    }
    if let Err(e) = pg_tools::finish(child, errors, "pg_dump").await {
        let _ = sink.abandon().await;
        return Err(e);
    }
    sink.finish(None).await
}

/// Every sequence's value, read inside the snapshot transaction.
pub async fn sequences(client: &Client, filter: &TableFilter) -> Result<Vec<Sequence>> {
    let fail = |e| crate::pg::sqlstate::failure("cannot read production's sequences", e);
    let rows = client
        .query(
            "SELECT s.schemaname::text, s.sequencename::text FROM pg_sequences s
             JOIN pg_namespace n ON n.nspname = s.schemaname
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
             -- an extension's own sequence is the extension's, unless it marks it as the user's
             WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype = 'e')
                OR EXISTS (SELECT 1 FROM pg_extension e WHERE c.oid = ANY (e.extconfig))
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(fail)?;
    let mut out = Vec::new();
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        if !filter.only_schemas.is_empty() && !filter.only_schemas.contains(&schema) {
            continue;
        }
        let sql = format!(
            "SELECT last_value, is_called FROM {}.{}",
            quote_ident(&schema),
            quote_ident(&name)
        );
        let v = client.query_one(&sql, &[]).await.map_err(fail)?;
        out.push(Sequence {
            schema,
            name,
            last_value: v.get(0),
            is_called: v.get(1),
        });
    }
    Ok(out)
}

/// Production's materialized views and whether each is populated, seen inside the snapshot.
pub async fn materialized_views(
    client: &Client,
    filter: &TableFilter,
) -> Result<Vec<MaterializedView>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.relispopulated
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'm' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot read production's materialized views", e))?;
    Ok(rows
        .iter()
        .map(|r| MaterializedView {
            schema: r.get(0),
            name: r.get(1),
            populated: r.get(2),
        })
        .filter(|v| filter.only_schemas.is_empty() || filter.only_schemas.contains(&v.schema))
        .collect())
}
