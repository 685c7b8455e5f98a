//! Foreign keys without the deadlock, and in parallel. Each is added `NOT VALID` first, which
//! needs no scan and holds its SHARE ROW EXCLUSIVE locks on both tables only for an instant;
//! `lanes` never runs two adds sharing a table at once, and a deadlock it did not foresee is
//! retried. Then `VALIDATE CONSTRAINT` does the scanning under SHARE UPDATE EXCLUSIVE on the
//! referencing table and ROW SHARE on the referenced one (PostgreSQL's ALTER TABLE
//! documentation). Those do not conflict across tables, so validations of different tables
//! run side by side; SHARE UPDATE EXCLUSIVE conflicts with itself, so two on one table take
//! turns, as they would with ANALYZE of it. A key production had `NOT VALID` stays so.
//!
//! PostgreSQL cannot add a key `NOT VALID` on a partitioned table. So a key on one whose
//! partitions are all plain tables goes to each partition first, `NOT VALID`, and is
//! validated there in parallel. The key added on the parent afterwards takes those copies
//! over as its own without scanning again: PostgreSQL attaches a partition's matching key,
//! as it does on ATTACH PARTITION. A key referencing a partitioned table is added validated:
//! its per-partition copies would stay unvalidated after `VALIDATE CONSTRAINT` (PostgreSQL
//! 15 does not recurse to them), and staging must be as valid as production.

use std::collections::HashMap;

use super::lanes::{EVERY_TABLE, Scan, Statement};
use super::target::Target;
use crate::env::Env;
use crate::error::Result;

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
    let (header, bodies) = super::script::entries(sql);
    let keys = bodies
        .into_iter()
        .filter_map(|body| {
            let body = body?;
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

/// The statements that put `keys` in, by phase: every add (`NOT VALID`, no scan), then the
/// checks (validations, and the keys that scan as they are added), then the partitioned
/// parents' keys, which take their partitions' over.
pub async fn plan(target: &Target, env: &Env, keys: Vec<ForeignKey>) -> Result<Plan> {
    let partitioned_tables = partitioned(target, env).await?;
    let mut plan = Plan {
        present: present(target, env).await?,
        ..Plan::default()
    };
    for k in keys {
        match (
            partitioned_tables.get(&k.references),
            partitioned_tables.get(&k.table),
        ) {
            // a key a cut-short run of the same snapshot added in one step, as production has
            // it (validated or not), is kept
            (Some(_), _) | (None, Some(_))
                if plan
                    .present
                    .contains_key(&(k.table.clone(), k.name.clone())) => {}
            (Some(referenced), _) => {
                // it locks the referencing table and every partition it references
                let locks = match referenced {
                    Some(leaves) => [k.table.clone(), k.references.clone()]
                        .into_iter()
                        .chain(leaves.iter().cloned())
                        .collect(),
                    None => vec![EVERY_TABLE.to_string()],
                };
                plan.checks.push(Statement {
                    sql: k.sql.clone(),
                    step: VALIDATE,
                    locks,
                    scan: Scan::Whole(k.table.clone()),
                });
            }
            (None, None) => plan.plain(&k.table, &k),
            // one level of plain partitions: the key goes to each first
            (None, Some(Some(leaves))) if !k.not_valid => {
                for leaf in leaves {
                    plan.plain(leaf, &k);
                }
                if plan
                    .present
                    .contains_key(&(k.table.clone(), k.name.clone()))
                {
                    continue;
                }
                plan.attached.push(Statement {
                    sql: k.sql.clone(),
                    step: "foreign key on partitions",
                    locks: [k.table.clone(), k.references.clone()]
                        .into_iter()
                        .chain(leaves.iter().cloned())
                        .collect(),
                    scan: Scan::Nothing,
                });
            }
            (None, Some(_)) => plan.checks.push(Statement {
                sql: k.sql.clone(),
                step: VALIDATE,
                locks: vec![EVERY_TABLE.to_string()],
                scan: Scan::Whole(k.table.clone()),
            }),
        }
    }
    Ok(plan)
}

const VALIDATE: &str = "validate";

/// A key on a plain table (or on one partition of a partitioned table), referencing a plain
/// table, both loaded by the data phase: it goes in as soon as both tables' own keys and
/// indexes are, while other tables still load, so no validation is left for the end but
/// those of keys on partitioned parents. A key on a plain table referencing a partitioned
/// parent whose keys the data phase builds goes in once they are, added validated, locking
/// every partition. The end's plan finds these in place and skips them; one that could not go
/// in early (no unique key to reference yet) is left to it.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyKey {
    /// The manifest places of the referencing and the referenced table.
    pub table: usize,
    pub references: usize,
    /// `ADD ... NOT VALID`, unless a cut-short run added it.
    pub add: Option<String>,
    /// `VALIDATE CONSTRAINT`, for a key production has valid and not yet validated.
    pub validate: Option<String>,
    /// The referenced parent's partitions, which the add locks too.
    pub partitions: Vec<usize>,
}

/// The keys of `keys` the data phase can put in, by the manifest places (`places`, tables as
/// pg_dump names them) of the tables they join; `parents`: the partitioned parents the data
/// phase builds, with their place and their partitions'.
pub async fn early(
    target: &Target,
    env: &Env,
    keys: &[ForeignKey],
    places: &HashMap<String, usize>,
    parents: &HashMap<String, (usize, Vec<usize>)>,
) -> Result<Vec<EarlyKey>> {
    let partitioned_tables = partitioned(target, env).await?;
    let mut plan = Plan {
        present: present(target, env).await?,
        ..Plan::default()
    };
    let mut out = Vec::new();
    for k in keys {
        // PostgreSQL names the key's copies for the parent's partitions as it would name a
        // key of its columns: in before another key on the same columns, one could take that
        // key's name, so such a key waits for the end, as the others are in by then
        let shares_columns = || {
            (keys.iter())
                .any(|o| o.table == k.table && o.name != k.name && o.columns() == k.columns())
        };
        let to_parent = parents.get(&k.references);
        if let (Some((parent, leaves)), None, true) =
            (to_parent, partitioned_tables.get(&k.table), k.only)
            && let Some(&table) = places.get(&k.table)
            && !shares_columns()
        {
            // added in one step, as production has it, unless a cut-short run did
            let present = plan
                .present
                .contains_key(&(k.table.clone(), k.name.clone()));
            out.extend((!present).then(|| EarlyKey {
                table,
                references: *parent,
                add: Some(k.sql.clone()),
                validate: None,
                partitions: leaves.clone(),
            }));
            continue;
        }
        let Some(&references) = places.get(&k.references) else {
            continue;
        };
        if partitioned_tables.contains_key(&k.references) {
            continue;
        }
        let tables = match partitioned_tables.get(&k.table) {
            None if k.only => vec![k.table.clone()],
            Some(Some(leaves)) if !k.not_valid => leaves.clone(),
            _ => continue,
        };
        for table in tables {
            let Some(&place) = places.get(&table) else {
                continue;
            };
            plan.plain(&table, k);
            let add = plan.adds.pop().map(|s| s.sql);
            let validate = plan.checks.pop().map(|s| s.sql);
            if add.is_some() || validate.is_some() {
                out.push(EarlyKey {
                    table: place,
                    references,
                    add,
                    validate,
                    partitions: Vec::new(),
                });
            }
        }
    }
    Ok(out)
}

/// The statements of the foreign-key step, by phase.
#[derive(Debug, Default)]
pub struct Plan {
    /// `NOT VALID` adds, which need no scan.
    pub adds: Vec<Statement>,
    /// Validations of keys production had valid, and keys added validated, which scan.
    pub checks: Vec<Statement>,
    /// Keys on partitioned parents whose partitions already have them, validated.
    pub attached: Vec<Statement>,
    /// The keys already in the incoming copy (a resumed run's), by table and name as pg_dump
    /// writes them, and whether each is validated.
    present: HashMap<(String, String), bool>,
}

impl Plan {
    /// Key `k` on the plain table `table` (itself, or one partition of its table).
    fn plain(&mut self, table: &str, k: &ForeignKey) {
        let clause = k.clause();
        let present = self.present.get(&(table.to_string(), k.name.clone()));
        // every add is NOT VALID; only those production had valid are then validated
        if present.is_none() {
            self.adds.push(Statement {
                sql: format!("ALTER TABLE ONLY {table} {clause} NOT VALID;"),
                step: "foreign key",
                locks: vec![table.to_string(), k.references.clone()],
                scan: Scan::Nothing,
            });
        }
        if k.not_valid || present == Some(&true) {
            return;
        }
        self.checks.push(Statement {
            sql: format!("ALTER TABLE ONLY {table} VALIDATE CONSTRAINT {};", k.name),
            step: VALIDATE,
            locks: vec![table.to_string()],
            scan: Scan::Whole(table.to_string()),
        });
    }
}

impl ForeignKey {
    /// The referencing columns, as written between `FOREIGN KEY (` and `)`.
    fn columns(&self) -> Option<&str> {
        let after = self.sql.split_once(" FOREIGN KEY (")?.1;
        after.split_once(')').map(|(columns, _)| columns)
    }

    /// `ADD CONSTRAINT name FOREIGN KEY ...`, without `NOT VALID` or the closing `;`.
    fn clause(&self) -> String {
        let stmt = self.sql.trim_end_matches(';');
        let stmt = stmt.strip_suffix(" NOT VALID").unwrap_or(stmt);
        stmt.split_once('\n')
            .map_or(stmt, |(_, clause)| clause)
            .trim()
            .to_string()
    }
}

/// The foreign keys already in the incoming copy, by table and name as pg_dump writes them,
/// and whether each is validated: none on a fresh load, a cut-short run's on a resumed one.
async fn present(target: &Target, env: &Env) -> Result<HashMap<(String, String), bool>> {
    let c = target.connect(&target.incoming(), env).await?;
    let rows = c
        .query(
            "SELECT format('%I.%I', n.nspname, t.relname), format('%I', c.conname), c.convalidated
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE c.contype = 'f'",
            &[],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list the foreign keys in place", e))?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect())
}

/// The partitioned tables of the incoming copy, named as pg_dump names them, each with its
/// partitions when they are all plain tables (`None` when some are partitioned themselves).
pub(super) async fn partitioned(
    target: &Target,
    env: &Env,
) -> Result<HashMap<String, Option<Vec<String>>>> {
    let c = target.connect(&target.incoming(), env).await?;
    let rows = c
        .query(
            "SELECT format('%I.%I', n.nspname, p.relname),
                    array_agg(format('%I.%I', cn.nspname, ch.relname) ORDER BY ch.relname)
                        FILTER (WHERE ch.oid IS NOT NULL),
                    bool_and(ch.relkind = 'r') IS NOT FALSE
             FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace
             LEFT JOIN pg_inherits i ON i.inhparent = p.oid
             LEFT JOIN pg_class ch ON ch.oid = i.inhrelid
             LEFT JOIN pg_namespace cn ON cn.oid = ch.relnamespace
             WHERE p.relkind = 'p' GROUP BY 1",
            &[],
        )
        .await
        .map_err(|e| crate::pg::sqlstate::failure("cannot list the partitioned tables", e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let leaves: Option<Vec<String>> = r.get(1);
            let plain: bool = r.get(2);
            (r.get(0), plain.then(|| leaves.unwrap_or_default()))
        })
        .collect())
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
        assert_eq!(keys[0].columns(), Some("manager_id"));
        assert_eq!(keys[2].columns(), Some("client_id"));
    }

    #[test]
    fn a_partitioned_tables_key_goes_to_each_partition_first_and_stays_as_production_had_it() {
        let (_, keys) = parse(SQL);
        let mut plan = Plan::default();
        for leaf in ["agency.visits_2026_11", "agency.visits_default"] {
            plan.plain(leaf, &keys[1]);
        }
        plan.plain(&keys[2].table, &keys[2]);
        assert_eq!(
            plan.adds[0].sql,
            "ALTER TABLE ONLY agency.visits_2026_11 ADD CONSTRAINT visits_client_id_fkey \
             FOREIGN KEY (client_id) REFERENCES agency.clients(id) NOT VALID;"
        );
        assert!(plan.adds.iter().all(|a| a.sql.ends_with(" NOT VALID;")));
        assert_eq!(
            plan.adds[0].locks,
            ["agency.visits_2026_11", "agency.clients"],
            "an add locks both tables"
        );
        let validations: Vec<&str> = plan.checks.iter().map(|v| v.sql.as_str()).collect();
        assert_eq!(
            validations,
            [
                "ALTER TABLE ONLY agency.visits_2026_11 VALIDATE CONSTRAINT visits_client_id_fkey;",
                "ALTER TABLE ONLY agency.visits_default VALIDATE CONSTRAINT visits_client_id_fkey;"
            ],
            "a key production had NOT VALID is never validated"
        );
        assert_eq!(
            keys[0].clause(),
            "ADD CONSTRAINT branches_manager_fkey FOREIGN KEY (manager_id) REFERENCES agency.employees(id) DEFERRABLE INITIALLY DEFERRED"
        );
    }
}
