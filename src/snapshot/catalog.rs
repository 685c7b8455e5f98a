//! What production holds, seen from inside the snapshot: the tables to copy, their columns and
//! sizes, the sequences, and how big tables are split into ranges that workers share.

use tokio_postgres::Client;

use super::filter::TableFilter;
use crate::error::Result;
use crate::pg::copy_format::CopyFormat;
use crate::pg::{quote_ident, sqlstate};
use crate::snapshot::manifest::TableName;

/// Tables above this size are split into ranges of about this many bytes, so that several
/// workers share one table; it also bounds how long one range's file stays open.
pub const RANGE_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone)]
pub struct SourceTable {
    pub schema: String,
    pub name: String,
    pub columns: Vec<String>,
    /// On-disk size at the start, its TOAST included, to size ranges and estimate progress.
    pub bytes: u64,
    /// Pages of its main fork, which ranges are cut from (by `ctid`).
    pub heap_pages: u64,
    /// Text when a column's type, at any depth, has no binary send or receive function.
    pub format: CopyFormat,
    /// The columns that make it text, for the operator's log.
    pub text_columns: Vec<String>,
    /// Set on an extension's configuration table: only the rows pg_dump would dump are
    /// copied, in one part.
    pub config: Option<ConfigOf>,
}

/// An extension's configuration table (`pg_extension_config_dump`): CREATE EXTENSION makes it
/// with the extension's own rows, and the rows its condition selects are the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOf {
    pub extension: String,
    /// `WHERE ...`, or empty for every row.
    pub condition: String,
}

impl SourceTable {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub tables: Vec<SourceTable>,
    /// Extensions' configuration tables, each after those it references.
    pub config: Vec<SourceTable>,
    /// Left out by the filter; partitioned parents (which hold no rows) included.
    pub excluded: Vec<TableName>,
}

/// Every user column type whose values, at any depth (a domain over it, an array or range of it,
/// a composite holding it), include a type with no binary send or receive function, or an OID
/// alias: binary COPY of the first fails ("no binary output function available") and of the
/// second carries OIDs that mean nothing on staging; text COPY carries any type by its text.
const TEXT_ONLY_TYPES: &str = "
    parts(root, t) AS (
        SELECT DISTINCT a.atttypid, a.atttypid
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
        UNION
        SELECT p.root, x.child FROM parts p JOIN pg_type ty ON ty.oid = p.t
        CROSS JOIN LATERAL (
            SELECT ty.typbasetype WHERE ty.typtype = 'd'
            UNION ALL SELECT ty.typelem WHERE ty.typcategory = 'A' AND ty.typelem <> 0
            UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = ty.oid
            UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = ty.oid
            UNION ALL SELECT ca.atttypid FROM pg_attribute ca
                WHERE ty.typrelid <> 0 AND ca.attrelid = ty.typrelid AND ca.attnum > 0
                  AND NOT ca.attisdropped
        ) x(child)
    ),
    text_only AS (
        SELECT DISTINCT p.root FROM parts p JOIN pg_type ty ON ty.oid = p.t
        WHERE ty.typsend::oid = 0 OR ty.typreceive::oid = 0
           -- an OID alias (regclass, regtype, ...) sends the bare OID in binary, which names
           -- nothing on staging; its text is the object's name
           OR ty.oid IN ('regclass'::regtype, 'regcollation'::regtype, 'regconfig'::regtype,
                         'regdictionary'::regtype, 'regnamespace'::regtype, 'regoper'::regtype,
                         'regoperator'::regtype, 'regproc'::regtype, 'regprocedure'::regtype,
                         'regrole'::regtype, 'regtype'::regtype)
    )";

/// What every copied table is read with (as `described` reads it back): its copied columns
/// (generated ones are computed again on load), size, the columns that need text COPY and
/// its heap pages; over `ATTRIBUTES`, grouped by table.
const DESCRIBED: &str = "
    coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}')
        AS columns,
    pg_table_size(c.oid)::int8 AS bytes,
    coalesce(array_agg(a.attname::text ORDER BY a.attnum)
             FILTER (WHERE a.atttypid IN (SELECT root FROM text_only)), '{}') AS text_columns,
    (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8 AS heap_pages";

const ATTRIBUTES: &str = "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
              AND NOT a.attisdropped AND a.attgenerated = ''";

/// The `DESCRIBED` columns of `row`, from column `at` on, as the table `schema.name`.
fn described(row: &tokio_postgres::Row, at: usize, schema: String, name: String) -> SourceTable {
    let text_columns: Vec<String> = row.get(at + 2);
    SourceTable {
        schema,
        name,
        columns: row.get(at),
        bytes: row.get::<_, i64>(at + 1).max(0) as u64,
        heap_pages: row.get::<_, i64>(at + 3).max(0) as u64,
        format: match text_columns.is_empty() {
            true => CopyFormat::Binary,
            false => CopyFormat::Text,
        },
        text_columns,
        config: None,
    }
}

/// The tables that hold rows, their copied columns (generated ones are computed again on
/// load), size, partition root and the columns that need text COPY.
static TABLES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH RECURSIVE {TEXT_ONLY_TYPES}
         SELECT n.nspname, c.relname, c.relkind = 'p' AS parent,
                rn.nspname AS root_schema, r.relname AS root_name,
                {DESCRIBED}
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)
         LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
         {ATTRIBUTES}
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                             AND d.deptype = 'e')
         GROUP BY n.nspname, c.relname, c.relkind, rn.nspname, r.relname, c.oid
         ORDER BY n.nspname, c.relname"
    )
});

/// Extensions' configuration tables, with their extension and condition, columns and size as
/// in `TABLES`, and the other tables each references by a foreign key.
static CONFIG_TABLES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH RECURSIVE {TEXT_ONLY_TYPES}
         SELECT n.nspname, c.relname, e.extname::text, cfg.cond,
                {DESCRIBED},
                c.oid::int8,
                ARRAY(SELECT k.confrelid::int8 FROM pg_constraint k
                      WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid)
         FROM pg_extension e
         CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS cfg(reloid, cond)
         JOIN pg_class c ON c.oid = cfg.reloid AND c.relkind = 'r'
         JOIN pg_namespace n ON n.oid = c.relnamespace
         {ATTRIBUTES}
         GROUP BY n.nspname, c.relname, e.extname, cfg.cond, c.oid
         ORDER BY n.nspname, c.relname"
    )
});

/// Lists the tables that hold rows: ordinary tables and leaf partitions, not extension-owned.
pub async fn read(client: &Client, filter: &TableFilter) -> Result<Catalog> {
    let rows = client
        .query(TABLES.as_str(), &[])
        .await
        .map_err(|e| sqlstate::failure("cannot list production's tables", e))?;
    let mut catalog = Catalog::default();
    for row in rows {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        let parent: bool = row.get(2);
        let root_schema: Option<String> = row.get(3);
        let root_name: Option<String> = row.get(4);
        let root = root_schema.as_deref().zip(root_name.as_deref());
        if filter.excludes(&schema, &name, root) {
            catalog.excluded.push(TableName { schema, name });
        } else if !parent {
            catalog.tables.push(described(&row, 5, schema, name));
        }
    }
    catalog.config = config_tables(client, filter, &mut catalog.excluded).await?;
    Ok(catalog)
}

/// Extensions' configuration tables the filter keeps, each after the ones it references.
async fn config_tables(
    client: &Client,
    filter: &TableFilter,
    excluded: &mut Vec<TableName>,
) -> Result<Vec<SourceTable>> {
    let rows = client
        .query(CONFIG_TABLES.as_str(), &[])
        .await
        .map_err(|e| sqlstate::failure("cannot list production's extension configuration", e))?;
    let mut found = Vec::new();
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        if filter.excludes(&schema, &name, None) {
            excluded.push(TableName { schema, name });
            continue;
        }
        let table = SourceTable {
            config: Some(ConfigOf {
                extension: row.get(2),
                condition: row.get(3),
            }),
            ..described(&row, 4, schema, name)
        };
        found.push((row.get::<_, i64>(8), row.get::<_, Vec<i64>>(9), table));
    }
    Ok(referenced_first(found))
}

/// Tables in an order where each comes after the tables it references among them.
fn referenced_first<T>(mut left: Vec<(i64, Vec<i64>, T)>) -> Vec<T> {
    let mut out = Vec::new();
    let mut placed = std::collections::HashSet::new();
    while !left.is_empty() {
        let ids: std::collections::HashSet<i64> = left.iter().map(|(id, _, _)| *id).collect();
        let ready = |refs: &Vec<i64>| refs.iter().all(|r| placed.contains(r) || !ids.contains(r));
        // a cycle of references goes in as it is: its keys decide at commit or not at all
        let next = left
            .iter()
            .position(|(_, refs, _)| ready(refs))
            .unwrap_or(0);
        let (id, _, t) = left.remove(next);
        placed.insert(id);
        out.push(t);
    }
    out
}

/// One unit of work: a whole table, or a range of its pages.
#[derive(Debug, Clone)]
pub struct Part {
    pub table: usize,
    pub index: usize,
    /// Pages `[start, end)`; `end` is `None` for the last range, which takes any later page.
    pub pages: Option<(u64, Option<u64>)>,
    pub bytes: u64,
}

impl Part {
    /// The COPY statement that streams this part as binary COPY data.
    pub fn copy_sql(&self, table: &SourceTable) -> String {
        let columns = table
            .columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(config) = &table.config {
            return format!(
                "COPY (SELECT {columns} FROM ONLY {} {}) TO STDOUT (FORMAT {})",
                table.qualified(),
                config.condition,
                table.format.keyword()
            );
        }
        match self.pages {
            None => format!(
                "COPY {} ({columns}) TO STDOUT (FORMAT {})",
                table.qualified(),
                table.format.keyword()
            ),
            Some((start, end)) => {
                let upper = end
                    .map(|e| format!(" AND ctid < '({e},0)'::tid"))
                    .unwrap_or_default();
                format!(
                    "COPY (SELECT {columns} FROM ONLY {} WHERE ctid >= '({start},0)'::tid{upper}) TO STDOUT (FORMAT {})",
                    table.qualified(),
                    table.format.keyword()
                )
            }
        }
    }
}

/// Splits tables into parts of about `range_bytes` of the table's whole size (a table whose
/// rows live mostly in TOAST, notes or documents, is split as its size says, not its few heap
/// pages), biggest first, so the longest work starts earliest.
pub fn parts(tables: &[SourceTable], range_bytes: u64) -> Vec<Part> {
    let mut parts = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let pages = t.heap_pages;
        // the heap pages that hold about `range_bytes` of the table
        let pages_per_range = (u128::from(pages) * u128::from(range_bytes))
            .div_ceil(u128::from(t.bytes.max(1)))
            .clamp(1, u128::from(u64::MAX)) as u64;
        if t.bytes <= range_bytes || pages <= pages_per_range || t.config.is_some() {
            parts.push(Part {
                table: i,
                index: 0,
                pages: None,
                bytes: t.bytes,
            });
            continue;
        }
        let count = pages.div_ceil(pages_per_range);
        for k in 0..count {
            let start = k * pages_per_range;
            let end = (k + 1 < count).then_some(start + pages_per_range);
            parts.push(Part {
                table: i,
                index: k as usize,
                pages: Some((start, end)),
                bytes: (u128::from(t.bytes) * u128::from(end.unwrap_or(pages) - start)
                    / u128::from(pages)) as u64,
            });
        }
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_BYTES: u64 = 8192;

    #[test]
    fn a_table_whose_rows_live_in_toast_is_split_by_its_whole_size() {
        // 1 GiB of notes in TOAST behind ten heap pages
        let notes = SourceTable {
            heap_pages: 10,
            ..table("notes", 1 << 30)
        };
        let parts = parts(&[notes], 256 << 20);
        let mut ranges: Vec<_> = parts.iter().map(|p| p.pages.unwrap()).collect();
        ranges.sort();
        assert_eq!(
            ranges,
            [(0, Some(3)), (3, Some(6)), (6, Some(9)), (9, None)],
            "every heap page in one range, about 256 MiB of the table each"
        );
        let total: u64 = parts.iter().map(|p| p.bytes).sum();
        assert!(total <= 1 << 30 && total > (1 << 30) - (1 << 20), "{total}");
        // one heap page cannot be cut, whatever its TOAST holds
        let one = SourceTable {
            heap_pages: 1,
            ..table("one", 1 << 30)
        };
        let whole = super::parts(&[one], 256 << 20);
        assert_eq!((whole.len(), whole[0].pages), (1, None));
    }

    fn table(name: &str, bytes: u64) -> SourceTable {
        SourceTable {
            schema: "agency".into(),
            name: name.into(),
            columns: vec!["id".into(), "Full Name".into()],
            bytes,
            heap_pages: bytes / PAGE_BYTES,
            format: CopyFormat::Binary,
            text_columns: Vec::new(),
            config: None,
        }
    }

    #[test]
    fn an_extensions_configuration_table_gives_the_rows_its_condition_selects_in_one_part() {
        let t = SourceTable {
            config: Some(ConfigOf {
                extension: "pg_partman".into(),
                condition: "WHERE NOT standard".into(),
            }),
            ..table("part_config", 1 << 30)
        };
        let parts = parts(std::slice::from_ref(&t), 256 << 20);
        assert_eq!((parts.len(), parts[0].pages), (1, None));
        assert_eq!(
            parts[0].copy_sql(&t),
            r#"COPY (SELECT "id", "Full Name" FROM ONLY "agency"."part_config" WHERE NOT standard) TO STDOUT (FORMAT binary)"#
        );
    }

    #[test]
    fn configuration_tables_come_after_the_ones_they_reference() {
        let order = referenced_first(vec![
            (1, vec![2], "sub"),
            (2, vec![9], "config"),
            (3, vec![1], "subsub"),
        ]);
        assert_eq!(order, ["config", "sub", "subsub"]);
    }

    #[test]
    fn big_tables_are_split_into_ranges_that_cover_every_page() {
        let tables = [table("small", 1 << 20), table("big", 10 * PAGE_BYTES * 100)];
        let parts = parts(&tables, 300 * PAGE_BYTES);
        let big: Vec<_> = parts.iter().filter(|p| p.table == 1).collect();
        assert_eq!(big.len(), 4);
        let mut ranges: Vec<_> = big.iter().map(|p| p.pages.unwrap()).collect();
        ranges.sort();
        assert_eq!(
            ranges,
            [
                (0, Some(300)),
                (300, Some(600)),
                (600, Some(900)),
                (900, None)
            ]
        );
        assert!(parts.iter().any(|p| p.table == 0 && p.pages.is_none()));
    }

    #[test]
    fn a_table_with_a_type_without_binary_io_is_copied_as_text() {
        let t = SourceTable {
            format: CopyFormat::Text,
            ..table("books", 0)
        };
        let whole = Part {
            table: 0,
            index: 0,
            pages: None,
            bytes: 0,
        };
        assert!(whole.copy_sql(&t).ends_with("TO STDOUT (FORMAT text)"));
        let range = Part {
            pages: Some((0, Some(10))),
            ..whole
        };
        assert!(range.copy_sql(&t).ends_with("TO STDOUT (FORMAT text)"));
    }

    #[test]
    fn copy_statements_quote_names_and_bound_ranges() {
        let t = table("Client Contacts", 0);
        let whole = Part {
            table: 0,
            index: 0,
            pages: None,
            bytes: 0,
        };
        assert_eq!(
            whole.copy_sql(&t),
            r#"COPY "agency"."Client Contacts" ("id", "Full Name") TO STDOUT (FORMAT binary)"#
        );
        let last = Part {
            table: 0,
            index: 2,
            pages: Some((600, None)),
            bytes: 0,
        };
        assert!(
            last.copy_sql(&t)
                .contains(r#"FROM ONLY "agency"."Client Contacts" WHERE ctid >= '(600,0)'::tid)"#)
        );
    }
}
