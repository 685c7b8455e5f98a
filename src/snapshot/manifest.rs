//! The snapshot manifest: what a snapshot holds and how to check it, written last.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::crypt::Digest;
use crate::error::{Error, Kind, Result};
use crate::pg::copy_format::CopyFormat;
pub use crate::pg::locale::DatabaseLocale;

pub const FILE_NAME: &str = "manifest.json";
pub const SIGNATURE_FILE: &str = "manifest.json.sig";
/// Bumped when a reader of an older format could misread a newer manifest.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub acc_version: String,
    pub profile: String,
    pub region: String,
    pub label: String,
    /// The scheduled cutoff this snapshot answers, or `None` for an on-demand (`--now`) run.
    pub cutoff: Option<DateTime<FixedOffset>>,
    /// When the consistent view of production was taken (server clock).
    pub started_at: DateTime<FixedOffset>,
    pub finished_at: DateTime<FixedOffset>,
    /// WAL position at the start of the snapshot.
    pub wal_lsn: String,
    pub server_version: String,
    /// Production database's encoding and locale, which staging's copy is made in; absent in
    /// manifests written before acc recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<DatabaseLocale>,
    pub database: String,
    /// zstd, then age to these recipients.
    pub encryption: Encryption,
    pub filters: Filters,
    /// Tables the filters left out.
    pub excluded: Vec<TableName>,
    pub schema: SchemaFiles,
    pub sequences: Vec<Sequence>,
    /// Schema-only archives leave every materialized view unpopulated; restore refreshes the
    /// ones production had populated. Absent in manifests written before acc recorded them.
    #[serde(default)]
    pub materialized_views: Vec<MaterializedView>,
    pub tables: Vec<TableEntry>,
    /// The rows of extensions' configuration tables that pg_dump would dump, each table after
    /// those it references; absent when there are none (so an older acc, which would drop
    /// them without a word, refuses the manifest instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_tables: Vec<ExtensionTable>,
    /// Production's large objects; absent when it had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_objects: Option<LargeObjects>,
    /// Tables copied as row-level security let acc's role see them
    /// (`snapshot.enable_row_security`): their rows may be a subset of production's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filtered_by_row_security: Vec<TableName>,
    /// User mappings copied without the options acc's role may not read
    /// (`snapshot.user_mappings_without_options`), as `user mapping for ROLE on server NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_mappings_without_options: Vec<String>,
}

/// Large objects as two copied catalogs: every object's OID, and every page of their data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LargeObjects {
    /// Bytes per page on production (`block_size / 4`): page `n` starts at `n * page_bytes`.
    pub page_bytes: u64,
    /// `pg_largeobject_metadata (oid)`: one row per object, the empty ones included.
    pub objects: TableEntry,
    /// `pg_largeobject (loid, pageno, data)`.
    pub pages: TableEntry,
}

/// An extension's configuration table (`pg_extension_config_dump`): CREATE EXTENSION makes it
/// on staging with the extension's own rows, and restore adds these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionTable {
    pub extension: String,
    /// The extension's condition on the rows copied (`WHERE ...`), empty for every row.
    pub condition: String,
    pub table: TableEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterializedView {
    pub schema: String,
    pub name: String,
    /// Whether production had it populated (`relispopulated`) inside the snapshot.
    pub populated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    pub compression: String,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub exclude_tables: Vec<String>,
    pub only_schemas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

/// `pg_dump --schema-only` in custom format, split so data loads before indexes and constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFiles {
    pub pre_data: File,
    pub post_data: File,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    pub schema: String,
    pub name: String,
    /// Quoted column names, in the order of the COPY data.
    pub columns: Vec<String>,
    pub rows: u64,
    pub plaintext_bytes: u64,
    /// One file per range; several when the table was split between workers.
    pub files: Vec<File>,
}

/// One sealed file (zstd + age) of the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub name: String,
    /// Rows of COPY data in it; absent for schema files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The COPY format of a data file: binary unless a column's type has no binary I/O.
    #[serde(default, skip_serializing_if = "CopyFormat::is_binary")]
    pub format: CopyFormat,
    pub plaintext_bytes: u64,
    #[serde(flatten)]
    pub digest: Digest,
}

impl Manifest {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        s.push('\n');
        s
    }

    /// Reads and checks the shape of `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::new(Kind::BadInput, format!("cannot read {}", path.display())).source(e)
        })?;
        Manifest::parse(&bytes, &path)
    }

    /// Parses and checks the shape of manifest bytes read from `path`.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                Kind::BadInput,
                format!("{} is not a valid manifest", path.display()),
            )
            .source(e)
        })?;
        manifest
            .check_shape()
            .map_err(|why| Error::new(Kind::BadInput, format!("{}: {why}", path.display())))?;
        Ok(manifest)
    }

    /// Every file the manifest names, schema first.
    pub fn files(&self) -> impl Iterator<Item = &File> {
        [&self.schema.pre_data, &self.schema.post_data]
            .into_iter()
            .chain(self.data_tables().flat_map(|t| t.files.iter()))
    }

    /// The first file this manifest lists that is missing from `dir` or not at its size.
    pub fn short_file_in(&self, dir: &Path) -> Option<&File> {
        self.files().find(|f| {
            std::fs::metadata(dir.join(&f.name)).map_or(true, |md| md.len() != f.digest.size)
        })
    }

    /// The tables whose files hold rows: production's, its extensions' configuration tables,
    /// then its large objects' catalogs.
    fn data_tables(&self) -> impl Iterator<Item = &TableEntry> {
        let lo = self
            .large_objects
            .iter()
            .flat_map(|l| [&l.objects, &l.pages]);
        let config = self.extension_tables.iter().map(|e| &e.table);
        self.tables.iter().chain(config).chain(lo)
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn total_size(&self) -> u64 {
        self.files().map(|f| f.digest.size).sum()
    }

    fn check_shape(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "manifest format {} is not {FORMAT}, the one this acc reads",
                self.format
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for f in self.files() {
            let plain = !f.name.is_empty()
                && !f.name.starts_with('.')
                && f.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !plain {
                return Err(format!("file name '{}' is not a plain file name", f.name));
            }
            if f.name == FILE_NAME || f.name == SIGNATURE_FILE || !names.insert(&f.name) {
                return Err(format!("file '{}' is named twice", f.name));
            }
            if f.digest.sha256.len() != 64 {
                return Err(format!("file '{}' has no valid sha256", f.name));
            }
        }
        for t in self.data_tables() {
            let sum: u64 = t.files.iter().map(|f| f.rows.unwrap_or(0)).sum();
            if sum != t.rows || t.files.iter().any(|f| f.rows.is_none()) {
                return Err(format!(
                    "table {}.{} records {} rows but its files add up to {sum}",
                    t.schema, t.name, t.rows
                ));
            }
        }
        Ok(())
    }
}
