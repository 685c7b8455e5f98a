//! Which post-data entries belong to one loaded table, so they can run the moment its data is
//! in: the table's own primary keys, unique constraints and indexes. A partitioned parent's
//! keys and indexes (`ON ONLY`) and their `INDEX ATTACH` entries go together, to run once
//! every partition's own are in: the parent's keys are then valid during the data phase, and
//! the foreign keys that reference it can go in beside the loads. Anything else (triggers,
//! rules, comments, a materialized view's index) stays for pg_restore after every table is in,
//! as does an entry whose statement does not read as expected. Each table's entries run in
//! archive order on one connection, so its `ADD CONSTRAINT` (ACCESS EXCLUSIVE) never waits on
//! its own index builds.

use std::collections::{HashMap, HashSet};

use super::index_builds::{Form, IndexBuild, form};

/// The entries of one table: the indexes (its keys' among them) that build side by side,
/// then the statements that run once they are in, as SQL, in archive order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableWork {
    pub indexes: Vec<IndexBuild>,
    pub statements: Vec<String>,
}

impl TableWork {
    /// Adds one of plain table `table`'s statements, as a build where it can be one.
    fn add(&mut self, stmt: &str, table: &str) {
        match form(stmt, table) {
            Form::Build(index, after) => {
                self.indexes.push(index);
                self.statements.extend(after);
            }
            Form::After(stmt) => self.statements.push(stmt),
        }
    }
}

/// A partitioned parent's own keys and indexes and their attaches, to run once every one of
/// its partitions (all loaded tables) has its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentWork {
    /// The parent as pg_dump names it.
    pub name: String,
    /// Its partitions' manifest places.
    pub leaves: Vec<usize>,
    pub work: TableWork,
}

/// What `split` decided.
#[derive(Debug, Default, PartialEq)]
pub struct PerTable {
    /// By the table's place in the manifest.
    pub work: HashMap<usize, TableWork>,
    pub parents: Vec<ParentWork>,
    /// The use-list for pg_restore afterwards: everything not taken.
    pub remainder: String,
    /// The session settings the statements run after.
    pub header: String,
}

/// Whether a table-of-contents line is one `split` may take: an index, a plain constraint,
/// or an index's attach to its partitioned parent's.
pub fn candidate(line: &str) -> bool {
    let index = line.contains(" INDEX ");
    let constraint = line.contains(" CONSTRAINT ") && !line.contains(" FK CONSTRAINT ");
    !line.starts_with(';') && (index || constraint)
}

/// What one candidate entry builds on.
enum On {
    Table(String),
    /// A partitioned parent (`ON ONLY`), and the index it makes, schema-qualified.
    Parent(String, String),
    /// `ALTER INDEX parent ATTACH PARTITION child`.
    Attach(String, String),
}

/// `toc` is the use-list without foreign keys; `sql` is `pg_restore -f -` of its candidate
/// lines, in their order; `tables` maps a table as pg_dump names it to its manifest place;
/// `partitioned` maps each partitioned table to its partitions, where they are all plain.
/// When the SQL does not have one block per candidate, nothing is taken.
pub fn split(
    toc: &str,
    sql: &str,
    tables: &HashMap<String, usize>,
    partitioned: &HashMap<String, Vec<String>>,
) -> PerTable {
    let (header, statements) = super::script::entries(sql);
    let candidates = toc.lines().filter(|l| candidate(l)).count();
    if candidates != statements.len() || super::script::has_settings_between(sql) {
        return PerTable {
            remainder: toc.to_string(),
            ..PerTable::default()
        };
    }
    let mut out = PerTable {
        header,
        ..PerTable::default()
    };
    let mut next = statements.into_iter();
    let read: Vec<(&str, Option<(&str, On)>)> = toc
        .lines()
        .map(|line| {
            let stmt = candidate(line).then(|| next.next().flatten()).flatten();
            (line, stmt.and_then(|s| on(s, partitioned).map(|o| (s, o))))
        })
        .collect();
    // the indexes the loaded tables build, and the parents whose partitions are all loaded
    let mut built = HashSet::new();
    let mut parents: HashMap<&str, usize> = HashMap::new();
    let mut parent_of_index: HashMap<&str, &str> = HashMap::new();
    for (_, entry) in &read {
        match entry {
            Some((stmt, On::Table(t))) if tables.contains_key(t) => {
                built.extend(made_index(stmt, t));
            }
            Some((_, On::Parent(p, index))) => {
                let leaves = partitioned.get(p.as_str());
                let places: Option<Vec<usize>> = leaves
                    .map(|l| l.iter().map(|l| tables.get(l).copied()).collect())
                    .flatten();
                if let Some(places) = places.filter(|p| !p.is_empty()) {
                    let next = out.parents.len();
                    let j = *parents.entry(p.as_str()).or_insert(next);
                    if j == next {
                        out.parents.push(ParentWork {
                            name: p.clone(),
                            leaves: places,
                            work: TableWork::default(),
                        });
                    }
                    parent_of_index.insert(index.as_str(), p.as_str());
                }
            }
            _ => {}
        }
    }
    // a parent whose index would be attached to one no partition builds waits for pg_restore
    let mut unready: HashSet<&str> = HashSet::new();
    for (_, entry) in &read {
        if let Some((_, On::Attach(parent, child))) = entry
            && let Some(&p) = parent_of_index.get(parent.as_str())
            && !built.contains(child)
        {
            unready.insert(p);
        }
    }
    for (line, entry) in &read {
        let parent = |p: &str| parents.get(p).filter(|_| !unready.contains(p)).copied();
        let taken = match &entry {
            Some((stmt, On::Table(name))) => tables.get(name).map(|&t| {
                out.work.entry(t).or_default().add(stmt, name);
            }),
            Some((stmt, On::Parent(p, _))) => parent(p).map(|j| {
                out.parents[j].work.statements.push(stmt.to_string());
            }),
            Some((stmt, On::Attach(index, _))) => parent_of_index
                .get(index.as_str())
                .and_then(|p| parent(p))
                .map(|j| out.parents[j].work.statements.push(stmt.to_string())),
            None => None,
        };
        match taken {
            Some(()) => out.remainder.push_str(&format!(";{line}\n")),
            None => out.remainder.push_str(&format!("{line}\n")),
        }
    }
    out.parents.retain(|p| !unready.contains(p.name.as_str()));
    out
}

/// What a statement builds on, when it is one statement of a known shape.
fn on(stmt: &str, partitioned: &HashMap<String, Vec<String>>) -> Option<On> {
    let one = stmt.strip_suffix(';')?;
    if one.contains(";\n") {
        return None;
    }
    if let Some(rest) = one.strip_prefix("ALTER INDEX ") {
        let (parent, child) = rest.split_once(" ATTACH PARTITION ")?;
        return Some(On::Attach(parent.to_string(), child.to_string()));
    }
    let table = table_of(stmt)?;
    match partitioned.contains_key(&table) {
        true => index_of(one, &table).map(|index| On::Parent(table, index)),
        false => Some(On::Table(table)),
    }
}

/// The index a table's statement makes, schema-qualified (a key's index has its name).
fn made_index(stmt: &str, table: &str) -> Option<String> {
    index_of(stmt.strip_suffix(';').unwrap_or(stmt), table)
}

/// The index a statement on `table` makes, schema-qualified.
fn index_of(one: &str, table: &str) -> Option<String> {
    let (schema, _) = ident(table)?;
    if let Some(rest) = one.strip_prefix("ALTER TABLE ONLY ") {
        let (_, clause) = rest.split_once('\n')?;
        let name = clause.trim_start().strip_prefix("ADD CONSTRAINT ")?;
        let (name, _) = ident(name)?;
        return Some(format!("{schema}.{name}"));
    }
    let rest = one
        .strip_prefix("CREATE UNIQUE INDEX ")
        .or_else(|| one.strip_prefix("CREATE INDEX "))?;
    let (name, _) = ident(rest)?;
    Some(format!("{schema}.{name}"))
}

/// The table a statement builds on, as pg_dump names it (a partitioned parent for its `ON
/// ONLY` index); `None` for a statement that is not one statement of a known shape.
fn table_of(stmt: &str) -> Option<String> {
    let one = stmt.strip_suffix(';')?;
    if one.contains(";\n") {
        return None;
    }
    if let Some(rest) = one.strip_prefix("ALTER TABLE ONLY ") {
        let (table, clause) = rest.split_once('\n')?;
        let clause = clause.trim_start();
        let kind_ok = clause.starts_with("ADD CONSTRAINT ")
            && !clause.contains(" FOREIGN KEY ")
            && (clause.contains(" PRIMARY KEY ") || clause.contains(" UNIQUE "));
        return kind_ok.then(|| table.trim().to_string());
    }
    let rest = one
        .strip_prefix("CREATE UNIQUE INDEX ")
        .or_else(|| one.strip_prefix("CREATE INDEX "))?;
    let (_, rest) = ident(rest)?;
    let rest = rest.strip_prefix(" ON ")?;
    let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
    let (schema, rest) = ident(rest)?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = ident(rest)?;
    rest.starts_with(" USING ")
        .then(|| format!("{schema}.{table}"))
}

/// One identifier at the start of `s`, bare or double-quoted, as written; and what follows.
pub(super) fn ident(s: &str) -> Option<(&str, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut i = 0;
        let bytes = quoted.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return Some((&s[..i + 2], &s[i + 2..]));
            }
            i += 1;
        }
        return None;
    }
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOC: &str = ";\n; Archive created at 2026-11-22\n;\n\
        3301; 2606 1 CONSTRAINT agency branches branches_pkey acc\n\
        3302; 2606 2 CONSTRAINT agency visits visits_pkey acc\n\
        3303; 2606 3 CONSTRAINT agency visits_2026_11 visits_2026_11_pkey acc\n\
        3290; 1259 4 INDEX agency \"Client Contacts_name_idx\" acc\n\
        3291; 1259 5 INDEX agency visits_client_start_idx acc\n\
        3292; 1259 6 INDEX agency client_visit_summary_client_idx acc\n\
        3293; 0 7 INDEX ATTACH agency visits_2026_11_pkey acc\n\
        3294; 2620 8 TRIGGER agency clients clients_touch acc\n";

    const SQL: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC\n\nSET statement_timeout = 0;\n\
        \n--\n-- Name: branches branches_pkey; Type: CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE ONLY agency.branches\n    ADD CONSTRAINT branches_pkey PRIMARY KEY (id);\n\
        \n\n--\n-- Name: visits visits_pkey; Type: CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE ONLY agency.visits\n    ADD CONSTRAINT visits_pkey PRIMARY KEY (id, scheduled_start);\n\
        \n\n--\n-- Name: visits_2026_11 visits_2026_11_pkey; Type: CONSTRAINT; Schema: agency; Owner: -\n--\n\n\
        ALTER TABLE ONLY agency.visits_2026_11\n    ADD CONSTRAINT visits_2026_11_pkey PRIMARY KEY (id, scheduled_start);\n\
        \n\n--\n-- Name: Client Contacts_name_idx; Type: INDEX; Schema: agency; Owner: -\n--\n\n\
        CREATE INDEX \"Client Contacts_name_idx\" ON agency.\"Client Contacts\" USING btree (name);\n\
        \n\n--\n-- Name: visits_client_start_idx; Type: INDEX; Schema: agency; Owner: -\n--\n\n\
        CREATE INDEX visits_client_start_idx ON ONLY agency.visits USING btree (client_id, scheduled_start);\n\
        \n\n--\n-- Name: client_visit_summary_client_idx; Type: INDEX; Schema: agency; Owner: -\n--\n\n\
        CREATE UNIQUE INDEX client_visit_summary_client_idx ON agency.client_visit_summary USING btree (client_id);\n\
        \n\n--\n-- Name: visits_2026_11_pkey; Type: INDEX ATTACH; Schema: agency; Owner: -\n--\n\n\
        ALTER INDEX agency.visits_pkey ATTACH PARTITION agency.visits_2026_11_pkey;\n\
        \n\n--\n-- PostgreSQL database dump complete\n--\n\n";

    fn tables() -> HashMap<String, usize> {
        [
            ("agency.branches", 0),
            ("agency.visits_2026_11", 1),
            ("agency.\"Client Contacts\"", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn partitioned() -> HashMap<String, Vec<String>> {
        HashMap::from([("agency.visits".into(), vec!["agency.visits_2026_11".into()])])
    }

    fn kept(p: &PerTable) -> Vec<&str> {
        p.remainder
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect()
    }

    #[test]
    fn a_loaded_tables_own_keys_and_indexes_are_taken_and_the_rest_left_in_order() {
        let p = split(TOC, SQL, &tables(), &HashMap::new());
        assert_eq!(p.work.len(), 3, "{:?}", p.work);
        // a key builds as its index, then becomes the constraint; an index builds as written
        assert_eq!(
            p.work[&0].indexes,
            [IndexBuild {
                name: "agency.branches_pkey".into(),
                sql: "CREATE UNIQUE INDEX branches_pkey ON agency.branches USING btree (id);"
                    .into()
            }]
        );
        assert_eq!(
            p.work[&0].statements,
            [
                "ALTER TABLE ONLY agency.branches\n    ADD CONSTRAINT branches_pkey PRIMARY KEY USING INDEX branches_pkey;"
            ]
        );
        assert!(
            p.work[&2].indexes[0]
                .sql
                .starts_with("CREATE INDEX \"Client Contacts_name_idx\"")
        );
        assert!(p.work[&2].statements.is_empty());
        assert!(p.header.contains("SET statement_timeout") && !p.header.contains("restrict"));
        assert!(p.parents.is_empty(), "no partitioned table is known");
        assert_eq!(
            kept(&p),
            [
                "3302; 2606 2 CONSTRAINT agency visits visits_pkey acc",
                "3291; 1259 5 INDEX agency visits_client_start_idx acc",
                "3292; 1259 6 INDEX agency client_visit_summary_client_idx acc",
                "3293; 0 7 INDEX ATTACH agency visits_2026_11_pkey acc",
                "3294; 2620 8 TRIGGER agency clients clients_touch acc",
            ],
            "a parent's, a materialized view's, attaches and triggers are left to pg_restore"
        );
        assert_eq!(p.remainder.lines().count(), TOC.lines().count());
    }

    #[test]
    fn a_parents_keys_and_attaches_go_together_once_its_partitions_are_loaded() {
        let p = split(TOC, SQL, &tables(), &partitioned());
        assert_eq!(p.parents.len(), 1, "{:?}", p.parents);
        let parent = &p.parents[0];
        assert_eq!(
            (parent.name.as_str(), parent.leaves.as_slice()),
            ("agency.visits", &[1][..])
        );
        let firsts: Vec<&str> = (parent.work.statements.iter())
            .map(|s| s.lines().next().unwrap_or_default())
            .collect();
        assert_eq!(
            firsts,
            [
                "ALTER TABLE ONLY agency.visits",
                "CREATE INDEX visits_client_start_idx ON ONLY agency.visits USING btree (client_id, scheduled_start);",
                "ALTER INDEX agency.visits_pkey ATTACH PARTITION agency.visits_2026_11_pkey;",
            ],
            "in archive order: the parent's key and index, then the attach"
        );
        assert_eq!(
            kept(&p),
            [
                "3292; 1259 6 INDEX agency client_visit_summary_client_idx acc",
                "3294; 2620 8 TRIGGER agency clients clients_touch acc",
            ]
        );
        // a partition not loaded by this restore: the parent waits for pg_restore
        let mut some = tables();
        some.remove("agency.visits_2026_11");
        let p = split(TOC, SQL, &some, &partitioned());
        assert!(p.parents.is_empty());
        assert_eq!(kept(&p).len(), 6);
    }

    #[test]
    fn a_parent_whose_attached_index_no_partition_builds_is_left_whole() {
        // the partition's key is of a shape the data phase does not take
        let sql = SQL.replace(
            "ADD CONSTRAINT visits_2026_11_pkey PRIMARY KEY (id, scheduled_start);",
            "ADD CONSTRAINT visits_2026_11_pkey PRIMARY KEY (id, scheduled_start);\nSELECT 1;",
        );
        let p = split(TOC, &sql, &tables(), &partitioned());
        assert!(p.parents.is_empty(), "{:?}", p.parents);
        assert!(kept(&p).contains(&"3302; 2606 2 CONSTRAINT agency visits visits_pkey acc"));
        assert!(kept(&p).contains(&"3293; 0 7 INDEX ATTACH agency visits_2026_11_pkey acc"));
    }

    #[test]
    fn sql_that_does_not_match_the_list_takes_nothing() {
        let p = split(TOC, "SET x = 1;\n", &tables(), &partitioned());
        assert!(p.work.is_empty());
        assert_eq!(p.remainder, TOC);
        // a setting between entries (another tablespace, were the archive read without
        // --no-tablespaces): pg_restore's to keep
        let spaced = SQL.replacen(
            "\n--\n-- Name: Client Contacts_name_idx",
            "SET default_tablespace = fast;\n\n--\n-- Name: Client Contacts_name_idx",
            1,
        );
        let p = split(TOC, &spaced, &tables(), &partitioned());
        assert!(p.work.is_empty());
        assert_eq!(p.remainder, TOC);
    }

    #[test]
    fn only_known_shapes_name_a_table() {
        assert_eq!(
            table_of("ALTER TABLE ONLY a.b\n    ADD CONSTRAINT c CHECK (x > 0) NOT VALID;"),
            None
        );
        assert_eq!(
            table_of("ALTER TABLE ONLY a.b\n    ADD CONSTRAINT c UNIQUE (x);").as_deref(),
            Some("a.b")
        );
        assert_eq!(
            table_of("CREATE INDEX \"x\"\"y\" ON \"S\".\"T t\" USING btree (a);").as_deref(),
            Some("\"S\".\"T t\"")
        );
        assert_eq!(
            table_of("CREATE INDEX i ON a.b USING btree (x);\nSELECT 1;"),
            None
        );
    }
}
