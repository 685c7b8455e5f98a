//! Post-data: each loaded table's own keys and indexes run by the data phase as its data is
//! in (`per_table`, `pipeline`); the rest (triggers, partitioned parents, attaches) afterwards,
//! in one transaction; then the foreign keys, added `NOT VALID` and
//! validated side by side (`foreign_keys`), so two keys on tables that reference each other
//! neither deadlock the night nor wait in turn.

use std::collections::HashMap;
use std::path::Path;

use super::archive::Archive;
use super::foreign_keys::EarlyKey;
use super::lanes;
use super::load::Source;
use super::per_table::{self, PerTable};
use super::pipeline;
use super::resume;
use super::target::Target;
use crate::env::Env;
use crate::error::{Error, Result};

/// The archive's foreign keys, read while its indexes were built, to add once they are in.
pub struct PendingKeys {
    header: String,
    keys: Vec<super::foreign_keys::ForeignKey>,
}

/// The post-data archive, decrypted before the data loads, split three ways: each loaded table's own keys and indexes, for the data
/// phase to run as soon as the table is in; the foreign keys; and the rest, for pg_restore.
pub struct PostData {
    archive: Archive,
    keys: PendingKeys,
    per_table: PerTable,
    early_keys: Vec<EarlyKey>,
}

impl PostData {
    /// What the data phase runs besides loading: each loaded table's own work, by its place
    /// in the manifest, the foreign keys between plain tables, and the session settings.
    pub fn take_data_work(&mut self) -> pipeline::Work {
        pipeline::Work {
            tables: std::mem::take(&mut self.per_table.work),
            parents: std::mem::take(&mut self.per_table.parents),
            keys: std::mem::take(&mut self.early_keys),
            header: self.per_table.header.clone(),
        }
    }
}

pub async fn prepare(src: &Source<'_>) -> Result<PostData> {
    let post_data = &src.manifest.schema.post_data;
    let archive = Archive::open(src.files, post_data, src.ids, "post-data.pgdump").await?;
    let toc = archive.toc().await?;
    super::script::tell_tablespaces(archive.path(), "indexes").await?;
    let superuser = super::superuser_only::superuser(src.target, src.env).await?;
    let left = super::superuser_only::leave_out(&archive, &toc, superuser).await?;
    for name in &left.names {
        crate::events::warning(&format!(
            "restore: {name} is left out of staging: only a superuser may create it, and a read-only copy neither publishes changes nor runs DDL"
        ));
    }
    let toc = left.toc;
    let (rest, fks) = split_foreign_keys(&toc);
    let candidates: String = rest
        .lines()
        .map(|l| match per_table::candidate(l) {
            true => format!("{l}\n"),
            false => format!(";{l}\n"),
        })
        .collect();
    let list = archive.write("per-table.list", &candidates)?;
    let sql = archive.sql_of(&list).await?;
    let tables = pg_names(src).await?;
    let places: HashMap<String, usize> =
        (0..tables.len()).map(|i| (tables[i].clone(), i)).collect();
    let partitioned: HashMap<String, Vec<String>> =
        super::foreign_keys::partitioned(src.target, src.env)
            .await?
            .into_iter()
            .filter_map(|(parent, leaves)| Some((parent, leaves?)))
            .collect();
    let per_table = per_table::split(&rest, &sql, &places, &partitioned);
    // a parent's place follows the manifest's tables
    let parents: HashMap<String, (usize, Vec<usize>)> = (per_table.parents.iter().enumerate())
        .map(|(j, p)| (p.name.clone(), (tables.len() + j, p.leaves.clone())))
        .collect();
    let keys = read_keys(&archive, &fks).await?;
    // early only where each table's own unique keys were taken by the data phase, and the
    // session settings the keys need are among those the data phase runs after (it adds
    // the index builds' default tablespace)
    let settings_kept = (keys.header.lines()).all(|l| per_table.header.lines().any(|m| m == l));
    let early_keys = match per_table.work.is_empty() || !settings_kept {
        true => Vec::new(),
        false => {
            let early = super::foreign_keys::early;
            early(src.target, src.env, &keys.keys, &places, &parents).await?
        }
    };
    Ok(PostData {
        archive,
        keys,
        per_table,
        early_keys,
    })
}

/// The archive's foreign keys, as `pg_restore -f -` writes them.
async fn read_keys(archive: &Archive, fks: &ForeignKeys) -> Result<PendingKeys> {
    if fks.count == 0 {
        return Ok(PendingKeys {
            header: String::new(),
            keys: Vec::new(),
        });
    }
    let fk_list = archive.write("fk.list", &fks.text)?;
    let (header, keys) = super::foreign_keys::parse(&archive.sql_of(&fk_list).await?);
    if keys.len() != fks.count {
        return Err(Error::internal(format!(
            "the archive lists {} foreign keys but {} statements were read",
            fks.count,
            keys.len()
        )));
    }
    Ok(PendingKeys { header, keys })
}

/// The manifest's tables as pg_dump names them (quoted only where needed), in its order.
async fn pg_names(src: &Source<'_>) -> Result<Vec<String>> {
    let (schemas, names): (Vec<String>, Vec<String>) = src
        .manifest
        .tables
        .iter()
        .map(|t| (t.schema.clone(), t.name.clone()))
        .unzip();
    let c = src.target.connect(&src.target.incoming(), src.env).await?;
    let rows = c
        .query(
            "SELECT format('%I.%I', s, n) FROM unnest($1::text[], $2::text[])
                 WITH ORDINALITY AS t(s, n, i) ORDER BY i",
            &[&schemas, &names],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot name the tables as pg_dump does", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What the data phase left: triggers, a partitioned parent's keys and indexes and their
/// attaches, and the rest, built in parallel by pg_restore; returns the foreign keys, to add
/// once they are in.
pub async fn finish(src: &Source<'_>, post: PostData) -> Result<PendingKeys> {
    let (target, env) = (src.target, src.env);
    let rest_list = (post.archive).write("rest.list", &post.per_table.remainder)?;
    let building = std::time::Instant::now();
    if !src.done.has(resume::POST_DATA) {
        rest(target, env, &post.archive, &rest_list).await?;
        src.timeline.span("index and constraint", building);
    }
    Ok(post.keys)
}

/// Adds the foreign keys `finish` left `NOT VALID`, then validates them, on one pool ordered
/// by the locks each takes (`lanes`), then adds the partitioned parents' keys; checks that
/// every key is in place. (Each table's ANALYZE ran with its indexes, in the data phase.)
pub async fn keys_and_statistics(src: &Source<'_>, pending: PendingKeys) -> Result<()> {
    let (target, env, jobs, timeline) = (src.target, src.env, src.jobs, &src.timeline);
    let expected = pending.keys.len();
    let plan = match expected {
        0 => super::foreign_keys::Plan::default(),
        _ => super::foreign_keys::plan(target, env, pending.keys).await?,
    };
    let header = &pending.header;
    lanes::run(target, env, header, plan.adds, jobs, timeline).await?;
    lanes::run(target, env, header, plan.checks, jobs, timeline).await?;
    lanes::run(target, env, header, plan.attached, jobs, timeline).await?;
    let have = foreign_keys(target, env).await?;
    if have < expected {
        return Err(Error::unavailable(format!(
            "only {have} of {expected} foreign keys are in place"
        )));
    }
    Ok(())
}

/// The entries of `list` (what no table took: triggers, rules, policies, a partitioned
/// parent's indexes and attaches), run as pg_restore writes them, in archive order, in one
/// transaction with their record: all in, or none, so a resumed run never meets half of them.
/// They build no table's own indexes, which the data phase did, so one connection is enough.
async fn rest(target: &Target, env: &Env, archive: &Archive, list: &Path) -> Result<()> {
    let sql = archive.sql_of(list).await?;
    let client = target.connect(&target.incoming(), env).await?;
    let failed = |e| crate::pg::sqlstate::failure("the rest of post-data failed", e);
    client
        .batch_execute(&format!(
            "SET statement_timeout = 0;\nBEGIN;\n{}",
            super::script::statements(&sql)
        ))
        .await
        .map_err(failed)?;
    resume::record(&client, resume::POST_DATA).await?;
    client.batch_execute("COMMIT").await.map_err(failed)
}

/// Foreign keys declared on tables themselves (not the copies partitions inherit).
async fn foreign_keys(target: &Target, env: &Env) -> Result<usize> {
    let c = target.connect(&target.incoming(), env).await?;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE c.contype = 'f' AND c.conparentid = 0
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot count the foreign keys", e))?
        .get(0);
    Ok(n as usize)
}

struct ForeignKeys {
    text: String,
    count: usize,
}

/// Two use-lists from one table of contents: everything but foreign keys, and only them.
fn split_foreign_keys(toc: &str) -> (String, ForeignKeys) {
    let (mut rest, mut fks, mut count) = (String::new(), String::new(), 0);
    for line in toc.lines() {
        let entry = !line.starts_with(';') && !line.trim().is_empty();
        let is_fk = entry && line.contains(" FK CONSTRAINT ");
        count += usize::from(is_fk);
        rest.push_str(&format!("{}{line}\n", if is_fk { ";" } else { "" }));
        fks.push_str(&format!(
            "{}{line}\n",
            if entry && !is_fk { ";" } else { "" }
        ));
    }
    (rest, ForeignKeys { text: fks, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_keys_go_to_their_own_list() {
        let toc = ";\n; Archive created at 2026-11-22\n;\n\
                   3301; 2606 1 CONSTRAINT agency branches branches_pkey acc\n\
                   3360; 2606 2 FK CONSTRAINT agency branches branches_manager_id_fkey acc\n\
                   3361; 2606 3 FK CONSTRAINT agency Client Contacts Client Contacts_client_id_fkey acc\n\
                   3290; 1259 4 INDEX agency visit_notes_visit_idx acc\n";
        let (rest, fks) = split_foreign_keys(toc);
        assert_eq!(fks.count, 2);
        assert!(
            rest.contains("\n3301;")
                && rest.contains("\n;3360;")
                && rest.contains("\n;3361;")
                && rest.contains("\n3290;")
        );
        assert!(
            fks.text.contains("\n;3301;")
                && fks.text.contains("\n3360;")
                && fks.text.contains("\n3361;")
                && fks.text.contains("\n;3290;")
        );
    }
}
