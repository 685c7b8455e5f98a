//! Production's large objects recreated in the incoming database with their own OIDs, before
//! the swap. The snapshot's two catalog files load by COPY into work tables (hashed while they
//! load, like every file), then the server creates each object and writes each page in place,
//! one page per call, so memory stays bounded whatever the objects' sizes. The work tables go
//! before the lock-down; the reader role is granted SELECT on each object there.

use std::sync::Arc;

use tokio_postgres::Client;

use super::load::{Source, load_file};
use super::resume;
use crate::error::{Error, Kind, Result};
use crate::pg::sqlstate;
use crate::progress::{Phase, Run, Watch};
use crate::snapshot::manifest::{self, LargeObjects};

/// The work schema, dropped before the lock-down.
const WORK: &str = "acc_large_objects";

/// Recreates every large object of the snapshot; returns how many.
pub async fn restore(src: &Source<'_>, client: &Client, watch: &Watch) -> Result<u64> {
    let Some(lo) = &src.manifest.large_objects else {
        return Ok(0);
    };
    if src.done.has(resume::LARGE_OBJECTS) {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    // a cut-short run may have left some: they are made again, all of them
    let leftovers = match src.done.resumed() {
        true => format!(
            "DROP SCHEMA IF EXISTS {WORK} CASCADE;
             SELECT lo_unlink(oid) FROM pg_largeobject_metadata;"
        ),
        false => String::new(),
    };
    client
        .batch_execute(&format!(
            "SET statement_timeout = 0;
             {leftovers}
             CREATE SCHEMA {WORK};
             CREATE UNLOGGED TABLE {WORK}.pg_largeobject_metadata (oid oid NOT NULL);
             CREATE UNLOGGED TABLE {WORK}.pg_largeobject (loid oid NOT NULL, pageno int4 NOT NULL, data bytea NOT NULL)"
        ))
        .await
        .map_err(|e| sqlstate::failure("cannot prepare the large objects' work tables", e))?;
    let bytes = lo.objects.plaintext_bytes + lo.pages.plaintext_bytes;
    let files = (lo.objects.files.len() + lo.pages.files.len()) as u64;
    let progress = watch.begin(Phase::LargeObjects, "", bytes, files, 1);
    let loaded = load_both(src, client, lo, &progress).await;
    progress.end();
    loaded?;
    let made = write(client, lo).await?;
    client
        .batch_execute(&format!("DROP SCHEMA {WORK} CASCADE"))
        .await
        .map_err(|e| sqlstate::failure("cannot drop the large objects' work tables", e))?;
    resume::record(client, resume::LARGE_OBJECTS).await?;
    src.timeline.span("large objects", started);
    Ok(made)
}

async fn load_both(
    src: &Source<'_>,
    client: &Client,
    lo: &LargeObjects,
    progress: &Run,
) -> Result<()> {
    for table in [&lo.objects, &lo.pages] {
        let work = manifest::TableEntry {
            schema: WORK.into(),
            ..table.clone()
        };
        for f in &table.files {
            let n = load_file(client, &work, src.files, f, &Arc::clone(src.ids), progress).await?;
            if Some(n) != f.rows {
                return Err(Error::new(
                    Kind::BadInput,
                    format!("{} loaded {n} rows, the manifest says {:?}", f.name, f.rows),
                ));
            }
        }
    }
    Ok(())
}

/// Creates the objects with their OIDs and writes every page at its offset.
async fn write(client: &Client, lo: &LargeObjects) -> Result<u64> {
    let refused = |e: tokio_postgres::Error| {
        let hint = (sqlstate::kind_of(&e) == Kind::Permission).then_some(
            "acc's staging user must be able to run lo_create; once, as a superuser, in the database restore.template names: GRANT EXECUTE ON FUNCTION pg_catalog.lo_create(oid) TO <staging user> (PUBLIC stays revoked, so readers still cannot)",
        );
        let e = sqlstate::failure("cannot recreate production's large objects on staging", e);
        match hint {
            Some(h) => e.hint(h),
            None => e,
        }
    };
    let created: i64 = client
        .query_one(
            &format!("SELECT count(lo_create(oid)) FROM {WORK}.pg_largeobject_metadata"),
            &[],
        )
        .await
        .map_err(refused)?
        .get(0);
    let page = lo.page_bytes as i64;
    let written: i64 = client
        .query_one(
            &format!(
                "SELECT count(lo_put(loid, pageno::int8 * $1, data)) FROM {WORK}.pg_largeobject"
            ),
            &[&page],
        )
        .await
        .map_err(refused)?
        .get(0);
    // an object's length is where its last page ends, and that page may be empty (an object
    // truncated to a page boundary): writing an empty page writes nothing, so each object is
    // set to its length explicitly
    let sized: i64 = client
        .query_one(
            &format!(
                "SELECT count(lo_truncate64(lo_open(loid, 131072), len)) FROM (
                     SELECT loid, max(pageno::int8 * $1 + length(data)) AS len
                     FROM {WORK}.pg_largeobject GROUP BY loid) s"
            ),
            &[&page],
        )
        .await
        .map_err(refused)?
        .get(0);
    if created as u64 != lo.objects.rows || written as u64 != lo.pages.rows || sized > created {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "{created} large objects and {written} pages written, the manifest says {} and {}",
                lo.objects.rows, lo.pages.rows
            ),
        ));
    }
    Ok(created as u64)
}
