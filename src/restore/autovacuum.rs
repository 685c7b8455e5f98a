//! Autovacuum is kept off the incoming tables while they load. A freshly loaded table passes
//! autovacuum's insert and analyze thresholds at once: the worker's scans repeat what the
//! load's own ANALYZE does, and a key or an index that needs the table's lock waits
//! `deadlock_timeout` before the worker is cancelled. So pre-data's last step sets
//! `autovacuum_enabled = false` on every table (and its TOAST table) that production set no
//! such option on, each with its record in the same transaction (in batches, all before
//! pre-data's own record, so a run cut short among them starts over); before the lock-down
//! the options are reset from that record, in the transactions that delete it. A table
//! production configured keeps exactly its own options, and a resumed run resets what the
//! first one set. Tables acc's role does not own (an extension's, put in the template by a
//! superuser) are left as they are: only their owner may change them.

use tokio_postgres::Client;

use super::resume::SCHEMA;
use crate::error::Result;
use crate::pg::quote_literal;
use crate::pg::sqlstate::failure;

/// Tables changed per transaction: each ALTER holds a lock until its commit, and a schema of
/// thousands of partitions must not fill the server's lock table.
const BATCH: usize = 500;

const PREFIX: &str = "autovacuum:";

/// The option on the table itself and on its TOAST table.
const HEAP: &str = "autovacuum_enabled";
const TOAST: &str = "toast.autovacuum_enabled";

/// Turns autovacuum off on every loaded table that has no setting of its own, recording each.
pub async fn hold(client: &Client) -> Result<()> {
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname),
                    NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) o WHERE o LIKE 'autovacuum\\_enabled=%'),
                    c.reltoastrelid <> 0 AND NOT EXISTS (
                        SELECT 1 FROM pg_class t, unnest(t.reloptions) o
                        WHERE t.oid = c.reltoastrelid AND o LIKE 'autovacuum\\_enabled=%')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND pg_has_role(c.relowner, 'USAGE')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1)
               AND n.nspname NOT LIKE 'pg\\_%'
             ORDER BY 1",
            &[&SCHEMA],
        )
        .await
        .map_err(|e| failure("cannot list the incoming tables", e))?;
    let held: Vec<(String, Vec<&str>)> = rows
        .iter()
        .filter_map(|r| {
            let options: Vec<&str> = [(r.get::<_, bool>(1), HEAP), (r.get(2), TOAST)]
                .into_iter()
                .filter_map(|(free, o)| free.then_some(o))
                .collect();
            (!options.is_empty()).then(|| (r.get(0), options))
        })
        .collect();
    for batch in held.chunks(BATCH) {
        let mut sql = String::from("BEGIN;");
        for (table, options) in batch {
            let set: Vec<String> = options.iter().map(|o| format!("{o} = false")).collect();
            sql.push_str(&format!("ALTER TABLE {table} SET ({});", set.join(", ")));
            sql.push_str(&format!(
                "INSERT INTO {SCHEMA}.done (step) VALUES ({});",
                quote_literal(&format!("{PREFIX}{}:{table}", options.join(",")))
            ));
        }
        sql.push_str("COMMIT;");
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| failure("cannot keep autovacuum off the incoming tables", e))?;
    }
    Ok(())
}

/// Gives every table the autovacuum options production gave it back, and deletes the record.
pub async fn release(client: &Client) -> Result<()> {
    let steps: Vec<String> = client
        .query(
            &format!("SELECT step FROM {SCHEMA}.done WHERE starts_with(step, $1) ORDER BY 1"),
            &[&PREFIX],
        )
        .await
        .map_err(|e| failure("cannot read the restore's progress", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for batch in steps.chunks(BATCH) {
        let mut sql = String::from("BEGIN;");
        for step in batch {
            let Some((options, table)) = step[PREFIX.len()..].split_once(':') else {
                continue;
            };
            sql.push_str(&format!("ALTER TABLE {table} RESET ({options});"));
            sql.push_str(&format!(
                "DELETE FROM {SCHEMA}.done WHERE step = {};",
                quote_literal(step)
            ));
        }
        sql.push_str("COMMIT;");
        client.batch_execute(&sql).await.map_err(|e| {
            failure(
                "cannot give the incoming tables their autovacuum options back",
                e,
            )
        })?;
    }
    Ok(())
}
