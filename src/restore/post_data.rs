//! Post-data (indexes, constraints, triggers) built in parallel by `pg_restore --jobs`, then
//! the foreign keys: added `NOT VALID` and validated side by side (`foreign_keys`), so two
//! keys on tables that reference each other neither deadlock the night nor wait in turn.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::load::Source;
use super::target::Target;
use crate::config::Env;
use crate::crypt::{Identities, unseal};
use crate::error::{Error, Kind, Result};
use crate::pg::tools as pg_tools;
use crate::process::PrivateDir;

/// The archive's foreign keys, read while its indexes were built, to add once they are in.
pub struct PendingKeys {
    header: String,
    keys: Vec<super::foreign_keys::ForeignKey>,
}

/// Indexes, constraints, triggers and the rest of post-data but the foreign keys, which it
/// returns. pg_restore -j needs a seekable file: the DDL-only archive is decrypted into a
/// private temporary directory and removed afterwards; no table data is in it.
pub async fn post_data(src: &Source<'_>) -> Result<PendingKeys> {
    let tmp = PrivateDir::new("restore")
        .map_err(|e| Error::internal("cannot create a private temporary directory").source(e))?;
    let archive = tmp.path().join("post-data.pgdump");
    let sealed = super::load::verified_bytes(src.dir, &src.manifest.schema.post_data)?;
    decrypt_to(sealed, archive.clone(), Arc::clone(src.ids)).await?;
    let (target, env, jobs) = (src.target, src.env, src.jobs);
    let toc = pg_tools::archive_text(&["--list".into()], &archive).await?;
    let (rest, fks) = split_foreign_keys(&toc);
    let (rest_list, fk_list) = (tmp.path().join("rest.list"), tmp.path().join("fk.list"));
    write_private(&rest_list, &rest)?;
    write_private(&fk_list, &fks.text)?;

    let building = std::time::Instant::now();
    run(target, env, &archive, &rest_list, jobs).await?;
    src.timeline.span("index and constraint", building);
    if fks.count == 0 {
        return Ok(PendingKeys {
            header: String::new(),
            keys: Vec::new(),
        });
    }
    let (header, keys) =
        super::foreign_keys::parse(&super::foreign_keys::statements(&archive, &fk_list).await?);
    if keys.len() != fks.count {
        return Err(Error::internal(format!(
            "the archive lists {} foreign keys but {} statements were read",
            fks.count,
            keys.len()
        )));
    }
    Ok(PendingKeys { header, keys })
}

/// Adds the foreign keys `post_data` left, and checks that every one is in place.
pub async fn add_foreign_keys(src: &Source<'_>, pending: PendingKeys) -> Result<()> {
    let expected = pending.keys.len();
    if expected == 0 {
        return Ok(());
    }
    let (target, env) = (src.target, src.env);
    super::foreign_keys::restore(
        target,
        env,
        &pending.header,
        pending.keys,
        src.jobs,
        &src.timeline,
    )
    .await?;
    let have = foreign_keys(target, env).await?;
    if have < expected {
        return Err(Error::unavailable(format!(
            "only {have} of {expected} foreign keys are in place"
        )));
    }
    Ok(())
}

async fn run(target: &Target, env: &Env, archive: &Path, list: &Path, jobs: usize) -> Result<()> {
    let mut cmd = target.pg_restore(env)?;
    cmd.arg(format!("--jobs={}", jobs.max(1)))
        .arg(format!("--use-list={}", list.display()))
        .arg(archive)
        .stdin(std::process::Stdio::null());
    let mut child = pg_tools::spawn(cmd, "pg_restore")?;
    let errors = pg_tools::stderr_of(&mut child);
    pg_tools::finish(child, errors, "pg_restore (post-data)").await
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
        .map_err(|e| Error::unavailable("cannot count the foreign keys").source(e))?
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

async fn decrypt_to(sealed: Vec<u8>, dst: PathBuf, ids: Arc<Identities>) -> Result<()> {
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut reader = unseal(std::io::Cursor::new(sealed), &dst, &ids)?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&dst)
            .map_err(|e| Error::internal("cannot write the post-data archive").source(e))?;
        std::io::copy(&mut reader, &mut out)
            .and_then(|_| out.flush())
            .map_err(|e| {
                Error::new(Kind::BadInput, "cannot decrypt the post-data schema").source(e)
            })?;
        Ok(())
    })
    .await
    .map_err(|e| Error::internal("the decrypting thread panicked").source(e))?
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::internal(format!("cannot write {}", path.display())).source(e))
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
