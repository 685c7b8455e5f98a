//! Foreign keys without the deadlock, and in parallel. Each is added `NOT VALID` first, which
//! needs no scan and holds its SHARE ROW EXCLUSIVE locks on both tables only for an instant;
//! two of them on a pair of tables that reference each other can still deadlock, and the
//! loser is simply retried. Then `VALIDATE CONSTRAINT` does the scanning under SHARE UPDATE
//! EXCLUSIVE on the referencing table and ROW SHARE on the referenced one, locks that do not
//! conflict with each other, so every validation runs side by side (PostgreSQL's ALTER TABLE
//! documentation). A key production had `NOT VALID` stays so; one on a partitioned table
//! (which PostgreSQL cannot add `NOT VALID`) or referencing one is added validated.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::target::Target;
use crate::config::Env;
use crate::error::{Error, Kind, Result};

/// Deadlocks tolerated per key before the restore gives up.
const ATTEMPTS: u32 = 5;

/// One `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` statement of the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    /// The referencing table as the statement names it (`agency.visits`).
    pub table: String,
    /// The constraint's name as the statement writes it (quoted when it must be).
    pub name: String,
    pub sql: String,
    /// `ALTER TABLE ONLY`: a plain table, which can take `NOT VALID`.
    pub only: bool,
    /// Production has it `NOT VALID`: it is restored so, and never validated.
    pub not_valid: bool,
    /// The referenced table as the statement names it.
    pub references: String,
}

/// The foreign keys in `pg_restore -f -` output, and the session settings it starts with.
pub fn parse(sql: &str) -> (String, Vec<ForeignKey>) {
    let mut blocks = sql.split("\n--\n-- Name: ");
    // psql meta-commands (pg_dump 15.14 and later open with `\restrict KEY`) are not SQL
    let header = blocks
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    let keys = blocks
        .filter_map(|block| {
            let body = block.split_once("\n--\n").map(|(_, b)| b)?.trim();
            let stmt = body.split(";\n").next()?.trim().trim_end_matches(';');
            let rest = stmt.strip_prefix("ALTER TABLE ")?;
            let (only, rest) = match rest.strip_prefix("ONLY ") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            // pg_dump puts the table on the first line, the clause on the next
            let (table, rest) = rest.split_once('\n')?;
            let table = table.trim();
            let name = rest.trim_start().strip_prefix("ADD CONSTRAINT ")?;
            let (name, _) = name.split_once(" FOREIGN KEY")?;
            let references = stmt.split_once(" REFERENCES ")?.1;
            let references = references
                .split_once('(')
                .map_or(references, |(t, _)| t)
                .trim();
            Some(ForeignKey {
                references: references.to_string(),
                table: table.to_string(),
                name: name.to_string(),
                sql: format!("{stmt};"),
                only,
                not_valid: stmt.ends_with("NOT VALID"),
            })
        })
        .collect();
    (header, keys)
}

/// Adds every key, then validates those production had valid, with `jobs` connections.
/// A key that references a partitioned table is added validated: its per-partition copies
/// would stay unvalidated after `VALIDATE CONSTRAINT` (PostgreSQL 15 does not recurse to
/// them), and staging must be as valid as production.
pub async fn restore(
    target: &Target,
    env: &Env,
    header: &str,
    keys: Vec<ForeignKey>,
    jobs: usize,
    timeline: &super::timeline::Timeline,
) -> Result<()> {
    let adding = std::time::Instant::now();
    let partitioned_tables = partitioned(target, env).await?;
    let (plain, partitioned): (Vec<ForeignKey>, Vec<ForeignKey>) = keys
        .into_iter()
        .partition(|k| k.only && !partitioned_tables.contains(&k.references));
    let adds: Vec<String> = plain
        .iter()
        .map(|k| match k.not_valid {
            true => k.sql.clone(),
            false => format!("{} NOT VALID;", k.sql.trim_end_matches(';')),
        })
        .collect();
    run_all(target, env, header, adds, jobs).await?;
    // these scan as they are added; keys on one pair of tables wait for each other, and a
    // deadlock between them is retried
    let at_once = partitioned.iter().map(|k| k.sql.clone()).collect();
    run_all(target, env, header, at_once, jobs).await?;
    timeline.span("foreign key", adding);
    let validating = std::time::Instant::now();
    let validations = plain
        .iter()
        .filter(|k| !k.not_valid)
        .map(|k| format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", k.table, k.name))
        .collect();
    run_all(target, env, header, validations, jobs).await?;
    timeline.span("validate", validating);
    Ok(())
}

/// Runs the statements with up to `jobs` connections to the incoming copy, each after the
/// archive's session settings; a deadlock is retried, anything else fails the restore.
async fn run_all(
    target: &Target,
    env: &Env,
    header: &str,
    statements: Vec<String>,
    jobs: usize,
) -> Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let workers = jobs.clamp(1, statements.len());
    let queue = Arc::new(Mutex::new(VecDeque::from(statements)));
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let client = target.connect(&target.incoming(), env).await?;
        client.batch_execute(header).await.map_err(|e| {
            Error::new(Kind::Unavailable, "cannot set up a foreign-key session").source(e)
        })?;
        let queue = Arc::clone(&queue);
        set.spawn(async move {
            loop {
                let Some(sql) = queue.lock().expect("queue lock").pop_front() else {
                    return Ok(());
                };
                if let Err(e) = with_retry(&client, &sql).await {
                    queue.lock().expect("queue lock").clear();
                    return Err(e);
                }
            }
        });
    }
    let mut first = None;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(|e| Error::internal("a foreign-key worker panicked").source(e)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

async fn with_retry(client: &tokio_postgres::Client, sql: &str) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client.batch_execute(sql).await {
            Ok(()) => return Ok(()),
            Err(e) if deadlock(&e) && attempt < ATTEMPTS => {
                crate::events::detail(&format!(
                    "a foreign key deadlocked (attempt {attempt}); retrying"
                ));
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(e) => {
                return Err(
                    Error::new(Kind::Unavailable, "cannot restore a foreign key").source(e),
                );
            }
        }
    }
}

/// The partitioned tables of the incoming copy, named as pg_dump names them.
async fn partitioned(target: &Target, env: &Env) -> Result<std::collections::HashSet<String>> {
    let c = target.connect(&target.incoming(), env).await?;
    let rows = c
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p'",
            &[],
        )
        .await
        .map_err(|e| Error::unavailable("cannot list the partitioned tables").source(e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn deadlock(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
}

/// `pg_restore -f -` of the archive's foreign keys alone (`list` selects them): SQL text, no
/// data, read into memory.
pub async fn statements(archive: &Path, list: &Path) -> Result<String> {
    let args = [
        "--no-owner".to_string(),
        "--no-privileges".to_string(),
        "--file=-".to_string(),
        format!("--use-list={}", list.display()),
    ];
    crate::pg::tools::archive_text(&args, archive).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123\n\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
        \n--\n-- Name: branches branches_manager_fkey; Type: FK CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE ONLY agency.branches\n    ADD CONSTRAINT branches_manager_fkey FOREIGN KEY (manager_id) REFERENCES agency.employees(id) DEFERRABLE INITIALLY DEFERRED;\n\
        \n\n--\n-- Name: visits visits_client_id_fkey; Type: FK CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE agency.visits\n    ADD CONSTRAINT visits_client_id_fkey FOREIGN KEY (client_id) REFERENCES agency.clients(id);\n\
        \n\n--\n-- Name: \"Client Contacts\" \"Client Contacts_fk\"; Type: FK CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE ONLY agency.\"Client Contacts\"\n    ADD CONSTRAINT \"Client Contacts_fk\" FOREIGN KEY (client_id) REFERENCES agency.clients(id) NOT VALID;\n\
        \n\n--\n-- PostgreSQL database dump complete\n--\n\n";

    #[test]
    fn keys_are_read_with_their_table_and_validity() {
        let (header, keys) = parse(SQL);
        assert!(header.contains("set_config('search_path'"));
        assert!(
            !header.contains("restrict"),
            "no psql meta-command: {header}"
        );
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(keys[0].table, "agency.branches");
        assert_eq!(keys[0].name, "branches_manager_fkey");
        assert!(keys[0].only && !keys[0].not_valid);
        assert!(keys[0].sql.ends_with("DEFERRABLE INITIALLY DEFERRED;"));
        assert!(!keys[1].only, "a partitioned table's key");
        assert_eq!(keys[2].table, "agency.\"Client Contacts\"");
        assert_eq!(keys[2].name, "\"Client Contacts_fk\"");
        assert!(keys[2].not_valid, "production had it NOT VALID");
        assert_eq!(keys[1].references, "agency.clients");
    }
}
