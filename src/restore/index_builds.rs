//! A table's own keys and indexes as builds that run side by side. `CREATE INDEX` takes SHARE
//! on its table, which does not conflict with itself, so every index of one table can build at
//! once on separate connections; `ADD CONSTRAINT ... PRIMARY KEY (cols)` takes ACCESS
//! EXCLUSIVE and would run alone. So a primary key or unique constraint of the plain shape
//! pg_dump writes is built as its unique index, under the constraint's name, and becomes the
//! constraint afterwards with `ADD CONSTRAINT ... USING INDEX`, which only records it (pgcopydb
//! builds keys the same way). The catalog ends as the plain statement leaves it. Any other
//! shape (`INCLUDE`, `WITH`, `DEFERRABLE`, `NULLS NOT DISTINCT`, an exclusion constraint, a
//! statement followed by another) runs unchanged after the builds.

/// One index built on a connection of its own, committed with its resume record.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexBuild {
    /// The index, schema-qualified as pg_dump names it.
    pub name: String,
    pub sql: String,
}

/// How one of a table's statements runs: as an index build, and what must follow once every
/// build of the table is in (a key's constraint over its index).
#[derive(Debug, PartialEq)]
pub enum Form {
    Build(IndexBuild, Option<String>),
    After(String),
}

/// The form of `stmt`, one of the statements on plain table `table` (as pg_dump names it).
pub fn form(stmt: &str, table: &str) -> Form {
    key_as_index(stmt, table)
        .or_else(|| plain_index(stmt, table))
        .unwrap_or_else(|| Form::After(stmt.to_string()))
}

/// `CREATE [UNIQUE] INDEX name ON table USING ...;`, one statement on the table itself.
fn plain_index(stmt: &str, table: &str) -> Option<Form> {
    let one = stmt.strip_suffix(';')?;
    if one.contains(";\n") {
        return None;
    }
    let rest = one
        .strip_prefix("CREATE UNIQUE INDEX ")
        .or_else(|| one.strip_prefix("CREATE INDEX "))?;
    let (name, rest) = super::per_table::ident(rest)?;
    let using = rest.strip_prefix(" ON ")?.strip_prefix(table)?;
    if !using.starts_with(" USING ") {
        return None;
    }
    Some(Form::Build(build(name, stmt.to_string(), table)?, None))
}

/// `ALTER TABLE ONLY table\n    ADD CONSTRAINT name PRIMARY KEY|UNIQUE (columns);`: its unique
/// index, then the constraint over it.
fn key_as_index(stmt: &str, table: &str) -> Option<Form> {
    let clause = stmt
        .strip_prefix("ALTER TABLE ONLY ")?
        .strip_prefix(table)?
        .strip_prefix('\n')?
        .trim_start()
        .strip_prefix("ADD CONSTRAINT ")?;
    let (name, rest) = super::per_table::ident(clause)?;
    let (kind, list) = [" PRIMARY KEY (", " UNIQUE ("]
        .into_iter()
        .find_map(|k| rest.strip_prefix(k).map(|l| (k.trim_end_matches(" ("), l)))?;
    let columns = list.strip_suffix(");")?;
    if !plain_columns(columns) {
        return None;
    }
    let sql = format!("CREATE UNIQUE INDEX {name} ON {table} USING btree ({columns});");
    let attach =
        format!("ALTER TABLE ONLY {table}\n    ADD CONSTRAINT {name}{kind} USING INDEX {name};");
    Some(Form::Build(build(name, sql, table)?, Some(attach)))
}

/// `a, "B c", d`: identifiers and nothing else.
fn plain_columns(mut list: &str) -> bool {
    loop {
        let Some((_, rest)) = super::per_table::ident(list) else {
            return false;
        };
        match rest.strip_prefix(", ") {
            Some(more) => list = more,
            None => return rest.is_empty(),
        }
    }
}

fn build(name: &str, sql: String, table: &str) -> Option<IndexBuild> {
    let (schema, _) = super::per_table::ident(table)?;
    Some(IndexBuild {
        name: format!("{schema}.{name}"),
        sql,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "agency.\"Client Contacts\"";

    #[test]
    fn a_plain_key_builds_as_its_unique_index_then_becomes_the_constraint() {
        let stmt = format!(
            "ALTER TABLE ONLY {T}\n    ADD CONSTRAINT \"CC_pkey\" PRIMARY KEY (id, \"Given name\");"
        );
        assert_eq!(
            form(&stmt, T),
            Form::Build(
                IndexBuild {
                    name: "agency.\"CC_pkey\"".into(),
                    sql: format!(
                        "CREATE UNIQUE INDEX \"CC_pkey\" ON {T} USING btree (id, \"Given name\");"
                    ),
                },
                Some(format!(
                    "ALTER TABLE ONLY {T}\n    ADD CONSTRAINT \"CC_pkey\" PRIMARY KEY USING INDEX \"CC_pkey\";"
                ))
            )
        );
        let unique =
            format!("ALTER TABLE ONLY {T}\n    ADD CONSTRAINT cc_email_key UNIQUE (email);");
        let Form::Build(b, Some(attach)) = form(&unique, T) else {
            panic!()
        };
        assert!(b.sql.starts_with("CREATE UNIQUE INDEX cc_email_key ON "));
        assert!(attach.ends_with("ADD CONSTRAINT cc_email_key UNIQUE USING INDEX cc_email_key;"));
    }

    #[test]
    fn an_index_builds_as_written() {
        let stmt = format!("CREATE INDEX cc_name_idx ON {T} USING btree (lower(name));");
        assert_eq!(
            form(&stmt, T),
            Form::Build(
                IndexBuild {
                    name: "agency.cc_name_idx".into(),
                    sql: stmt.clone()
                },
                None
            )
        );
    }

    #[test]
    fn any_other_shape_runs_unchanged_after_the_builds() {
        for clause in [
            "PRIMARY KEY (id) INCLUDE (name)",
            "PRIMARY KEY (id) WITH (fillfactor='70')",
            "UNIQUE (email) DEFERRABLE INITIALLY DEFERRED",
            "UNIQUE NULLS NOT DISTINCT (email)",
            "EXCLUDE USING gist (during WITH &&)",
            "UNIQUE (lower(email))",
        ] {
            let stmt = format!("ALTER TABLE ONLY {T}\n    ADD CONSTRAINT k {clause};");
            assert_eq!(form(&stmt, T), Form::After(stmt.clone()), "{clause}");
        }
        for stmt in [
            format!("CREATE INDEX i ON {T} USING btree (a);\nALTER TABLE {T} CLUSTER ON i;"),
            format!("CREATE INDEX i ON ONLY {T} USING btree (a);"),
            "CREATE INDEX i ON agency.other USING btree (a);".to_string(),
        ] {
            assert_eq!(form(&stmt, T), Form::After(stmt.clone()), "{stmt}");
        }
    }
}
