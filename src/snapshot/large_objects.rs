//! Large objects: `COPY` of user tables does not carry them, and a schema-only pg_dump leaves
//! them out, so the snapshot copies PostgreSQL's own two catalogs of them as two more "tables":
//! every object's OID (`pg_largeobject_metadata`, which also holds the empty ones) and every
//! 2 KiB page (`pg_largeobject`, split into ranges like any big table, so memory stays bounded
//! whatever the objects' sizes). Reading them takes `pg_read_all_data` (or a superuser):
//! `lo_get` needs a grant on each object, and the catalog needs none beyond that role.

use tokio_postgres::Client;

use super::catalog::SourceTable;
use crate::error::{Error, Kind, Result};
use crate::pg::copy_format::CopyFormat;
use crate::pg::sqlstate;

/// How many large objects production holds, the size of their pages, and their pages' table
/// on disk; `None` when there are none. Refuses (77) before anything is written when acc's
/// role cannot read them.
pub async fn survey(client: &Client, user: &str) -> Result<Option<(u64, u64, u64)>> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_largeobject_metadata)::int8,
                    current_setting('block_size')::int8 / 4,
                    pg_relation_size('pg_catalog.pg_largeobject')::int8,
                    has_table_privilege('pg_catalog.pg_largeobject', 'SELECT')",
            &[],
        )
        .await
        .map_err(|e| sqlstate::failure("cannot count production's large objects", e))?;
    let (count, page, bytes, readable): (i64, i64, i64, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if count == 0 {
        return Ok(None);
    }
    if !readable {
        return Err(Error::new(
            Kind::Permission,
            format!(
                "production holds {count} large object(s), and its user {user} cannot read them"
            ),
        )
        .hint(format!(
            "nothing was written; as an administrator on production: GRANT pg_read_all_data TO {user}"
        )));
    }
    Ok(Some((count as u64, page as u64, bytes.max(0) as u64)))
}

/// The two catalogs as tables to copy: the objects, then their pages.
pub fn tables(pages_bytes: u64) -> [SourceTable; 2] {
    let table = |name: &str, columns: &[&str], bytes| SourceTable {
        schema: "pg_catalog".into(),
        name: name.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        bytes,
        heap_pages: bytes / 8192,
        format: CopyFormat::Binary,
        text_columns: Vec::new(),
        config: None,
    };
    [
        table("pg_largeobject_metadata", &["oid"], 0),
        table("pg_largeobject", &["loid", "pageno", "data"], pages_bytes),
    ]
}
