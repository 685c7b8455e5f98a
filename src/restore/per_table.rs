//! Which post-data entries belong to one loaded table, so they can run the moment its data is
//! in: the table's own primary keys, unique constraints and indexes. Anything else (an index
//! or key `ON ONLY` a partitioned parent, `INDEX ATTACH`, triggers, rules, comments, a
//! materialized view's index) stays for pg_restore after every table is in, as does an entry
//! whose statement does not read as expected. Each table's entries run in archive order on one
//! connection, so its `ADD CONSTRAINT` (ACCESS EXCLUSIVE) never waits on its own index builds.

use std::collections::HashMap;

/// The entries of one table, as SQL, in archive order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableWork {
    pub statements: Vec<String>,
}

/// What `split` decided.
#[derive(Debug, Default, PartialEq)]
pub struct PerTable {
    /// By the table's place in the manifest.
    pub work: HashMap<usize, TableWork>,
    /// The use-list for pg_restore afterwards: everything not taken.
    pub remainder: String,
    /// The session settings the statements run after.
    pub header: String,
}

/// Whether a table-of-contents line is one `split` may take: an index or a plain constraint.
pub fn candidate(line: &str) -> bool {
    let index = line.contains(" INDEX ") && !line.contains(" INDEX ATTACH ");
    let constraint = line.contains(" CONSTRAINT ") && !line.contains(" FK CONSTRAINT ");
    !line.starts_with(';') && (index || constraint)
}

/// `toc` is the use-list without foreign keys; `sql` is `pg_restore -f -` of its candidate
/// lines, in their order; `tables` maps a table as pg_dump names it to its manifest place.
/// When the SQL does not have one block per candidate, nothing is taken.
pub fn split(toc: &str, sql: &str, tables: &HashMap<String, usize>) -> PerTable {
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
    for line in toc.lines() {
        if !candidate(line) {
            out.remainder.push_str(&format!("{line}\n"));
            continue;
        }
        let stmt = next.next().flatten();
        let table = stmt.and_then(table_of);
        match (stmt, table.and_then(|t| tables.get(&t))) {
            (Some(stmt), Some(&t)) => {
                out.work
                    .entry(t)
                    .or_default()
                    .statements
                    .push(stmt.to_string());
                out.remainder.push_str(&format!(";{line}\n"));
            }
            _ => out.remainder.push_str(&format!("{line}\n")),
        }
    }
    out
}

/// The table a statement builds on, as pg_dump names it; `None` for a partitioned parent's
/// `ONLY` entry or a statement that is not one statement of a known shape.
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
    if rest.starts_with("ONLY ") {
        return None;
    }
    let (schema, rest) = ident(rest)?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = ident(rest)?;
    rest.starts_with(" USING ")
        .then(|| format!("{schema}.{table}"))
}

/// One identifier at the start of `s`, bare or double-quoted, as written; and what follows.
fn ident(s: &str) -> Option<(&str, &str)> {
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

    #[test]
    fn a_loaded_tables_own_keys_and_indexes_are_taken_and_the_rest_left_in_order() {
        let p = split(TOC, SQL, &tables());
        assert_eq!(p.work.len(), 3, "{:?}", p.work);
        assert_eq!(
            p.work[&0].statements,
            [
                "ALTER TABLE ONLY agency.branches\n    ADD CONSTRAINT branches_pkey PRIMARY KEY (id);"
            ]
        );
        assert!(p.work[&2].statements[0].starts_with("CREATE INDEX \"Client Contacts_name_idx\""));
        assert!(p.header.contains("SET statement_timeout") && !p.header.contains("restrict"));
        let kept: Vec<&str> = p
            .remainder
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect();
        assert_eq!(
            kept,
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
    fn sql_that_does_not_match_the_list_takes_nothing() {
        let p = split(TOC, "SET x = 1;\n", &tables());
        assert!(p.work.is_empty());
        assert_eq!(p.remainder, TOC);
        // an index in another tablespace: the setting before it is pg_restore's to keep
        let spaced = SQL.replacen(
            "\n--\n-- Name: Client Contacts_name_idx",
            "SET default_tablespace = fast;\n\n--\n-- Name: Client Contacts_name_idx",
            1,
        );
        let p = split(TOC, &spaced, &tables());
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
