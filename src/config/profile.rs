//! A resolved profile: one organisation's environment with every decision made.

use std::path::PathBuf;

use super::raw::{RawExport, RawProfile, RawRestore, RawSftp, RawSnapshot, RawSnowflake};
use super::sheets::SheetsSettings;
use crate::crypt::Recipients;
use crate::env::Env;
use crate::error::{Error, Failure, Result};
use crate::location::Location;
use crate::pg::Database;
use crate::schedule::region::{Region, Regions};
use crate::secret::SecretRef;

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub region: Region,
    /// Where snapshots are kept on this host: `<store>/<profile>/<label>/`. With an object
    /// store, this host's cache of what it sent or fetched (`cache`).
    pub store: PathBuf,
    /// `store = "s3://bucket/prefix"`: snapshots live in the bucket, shared by every host with
    /// the same settings; jobs take a lease there instead of a host lock.
    pub object_store: Option<crate::location::S3Url>,
    pub s3: super::S3Settings,
    /// Where exports and sheets go, and pull reads from: an `sftp://` URL or a local directory,
    /// or why the text set is not one. A bad `export_to` stops only the commands that deliver
    /// (`destination`); snapshot and restore go on, and doctor and status report it.
    pub export_to: Option<std::result::Result<Location, Failure>>,
    /// age recipients (X25519, ssh-ed25519 or ssh-rsa public keys) that can read snapshots and exports.
    pub age_recipients: Recipients,
    pub production: Option<Database>,
    pub staging: Option<Database>,
    pub sftp: Option<Sftp>,
    pub snowflake: Option<Snowflake>,
    pub snapshot: SnapshotSettings,
    pub restore: RestoreSettings,
    pub export: ExportSettings,
    pub sheets: SheetsSettings,
    /// `pull.require_signature` as set; see `Profile::pull_requires_signature`.
    pub pull_require_signature: Option<bool>,
    /// node_exporter's textfile directory: each job writes `acc_<job>-<profile>.prom` there.
    pub metrics_dir: Option<PathBuf>,
    /// The configuration layers that were read, lowest precedence first.
    pub origins: Vec<String>,
}

/// How production is captured: parallelism, retention, filters, retries and signing.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSettings {
    /// Worker connections as set; `None` means one per core (`workers`).
    pub jobs: Option<usize>,
    /// Complete snapshots kept after a success; `None` keeps them all.
    pub keep: Option<usize>,
    /// Table patterns (`name`, `schema.name`, `*` and `?` wildcards) left out.
    pub exclude_tables: Vec<String>,
    /// When not empty, only these schemas are captured.
    pub only_schemas: Vec<String>,
    /// How long an unreachable production is retried before giving up with exit 75.
    pub retry: std::time::Duration,
    /// An SSH private key that signs each manifest (`ssh-keygen -Y sign`).
    pub signing_key: Option<PathBuf>,
    /// An `allowed_signers` file; when set, unsigned or badly signed snapshots are refused.
    pub allowed_signers: Option<PathBuf>,
    /// Copy tables whose row-level security policies hide rows from acc's role as the policies
    /// let it see them (pg_dump's `--enable-row-security`), recorded in the manifest. Off: such
    /// a table stops the snapshot (78) before any data is written.
    pub enable_row_security: bool,
    /// Copy user mappings whose options acc's role may not read without those options,
    /// recorded in the manifest. Off: such a mapping stops the snapshot (78) before any data.
    pub user_mappings_without_options: bool,
}

/// How staging is refreshed from a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSettings {
    /// Loading connections as set; `None` means one per core (`workers`).
    pub jobs: Option<usize>,
    /// The role that may connect to staging and SELECT, and nothing more; created if missing.
    pub reader_role: String,
    /// Schemas of staging the refresh carries over unchanged (e.g. `data_exploration`).
    pub preserve_schemas: Vec<String>,
    /// The database each night's copy is created from: `template0`, or one a superuser has
    /// prepared (for example with large-object functions revoked from PUBLIC).
    pub template: String,
    /// The age identity that decrypts snapshots (a file, mode 0600).
    pub age_identity: Option<PathBuf>,
}

/// Where the dashboards' queries run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashboardSource {
    /// A Snowflake reader account (the seeds' recommendation).
    Snowflake,
    /// Last night's read-only copy.
    Staging,
    /// The live database; for when staging itself is unavailable.
    Production,
}

impl DashboardSource {
    pub fn parse(s: &str) -> Option<DashboardSource> {
        match s {
            "snowflake" => Some(DashboardSource::Snowflake),
            "staging" => Some(DashboardSource::Staging),
            "production" => Some(DashboardSource::Production),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DashboardSource::Snowflake => "snowflake",
            DashboardSource::Staging => "staging",
            DashboardSource::Production => "production",
        }
    }
}

/// How the nine continuity dashboards are exported and delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    /// The default source; `None` means Snowflake when configured, else staging.
    pub source: Option<DashboardSource>,
    /// How many days ahead schedules and vacant visits reach, from the start of today.
    pub days: u32,
    /// Days kept at the destination after a success; `None` keeps them all.
    pub keep_days: Option<u32>,
    /// Start each CSV with a UTF-8 byte-order mark, for Excel.
    pub bom: bool,
    /// Cells a spreadsheet would run as formulas start with `'`; on by default with `bom`,
    /// since a BOM means the files are for Excel.
    pub spreadsheet_safe: bool,
    /// An SSH private key that signs each day's manifest.
    pub signing_key: Option<PathBuf>,
    /// An `allowed_signers` file; when set, `acc pull` refuses unsigned or badly signed days.
    pub allowed_signers: Option<PathBuf>,
    /// Optional dashboards exported after the nine (`device-sync`); checked by the export room.
    pub extra_dashboards: Vec<String>,
}

const DEFAULT_EXPORT_DAYS: u32 = 7;

const DEFAULT_READER_ROLE: &str = "staging_reader";

/// Production unreachable at the cutoff is retried this long by default.
const DEFAULT_RETRY_SECONDS: u64 = 600;

#[derive(Debug, Clone, PartialEq)]
pub struct Sftp {
    pub identity_file: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub use_agent: bool,
    pub passphrase: Option<SecretRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snowflake {
    /// Overrides the account URL, e.g. to reach an emulator.
    pub base_url: Option<String>,
    pub account: String,
    pub user: String,
    pub role: Option<String>,
    pub warehouse: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub password: Option<SecretRef>,
    pub private_key_file: Option<PathBuf>,
    pub private_key_passphrase: Option<SecretRef>,
}

impl Profile {
    pub fn resolve(
        name: &str,
        raw: RawProfile,
        regions: &Regions,
        origins: Vec<String>,
        env: &Env,
    ) -> Result<Profile> {
        let key = |k: &str| format!("profiles.{name}.{k}");
        let region_name = raw.region.ok_or_else(|| {
            Error::config(format!("profile '{name}' has no region")).hint(format!(
                "set region = \"us-can\" or \"aus-int\" under [profiles.{name}], or ACC_REGION"
            ))
        })?;
        let region = regions
            .get(&region_name)
            .map_err(|e| {
                Error::config(format!("{}: {}", key("region"), e.message()))
                    .hint(e.hint_text().unwrap_or_default())
            })?
            .clone();
        let age_recipients = Recipients::parse(raw.age_recipients.unwrap_or_default())
            .map_err(|(i, why)| Error::config(format!("{}[{i}]: {why}", key("age_recipients"))))?;
        let sheets =
            super::sheets::resolve(&key("sheets"), raw.sheets.unwrap_or_default(), &region)?;
        let store = raw
            .store
            .ok_or_else(|| Error::config(format!("{} is not set", key("store"))))?;
        let object_store = crate::location::S3Url::parse(&store.to_string_lossy())
            .transpose()
            .map_err(|e| {
                Error::config(format!("{}: {}", key("store"), e.message()))
                    .hint(e.hint_text().unwrap_or_default())
            })?;
        Ok(Profile {
            name: name.to_string(),
            region,
            store: match &object_store {
                None => store,
                Some(_) => raw.cache.ok_or_else(|| {
                    Error::config(format!("{} is not set", key("cache"))).hint(
                        "a host keeps what it sends to or fetches from the object store there",
                    )
                })?,
            },
            object_store,
            s3: super::s3::resolve(&key("s3"), raw.s3.unwrap_or_default())?,
            export_to: raw.export_to.map(|t| {
                Location::parse(&t).map_err(|e| {
                    Failure::from(
                        Error::config(format!("{}: {}", key("export_to"), e.message()))
                            .hint(e.hint_text().unwrap_or_default()),
                    )
                })
            }),
            age_recipients,
            production: raw
                .production
                .map(|d| super::database::resolve_database(&key("production"), d, env))
                .transpose()?,
            staging: raw
                .staging
                .map(|d| super::database::resolve_database(&key("staging"), d, env))
                .transpose()?,
            sftp: raw.sftp.map(|s| sftp(&key("sftp"), s)).transpose()?,
            snowflake: raw
                .snowflake
                .map(|s| snowflake(&key("snowflake"), s))
                .transpose()?,
            snapshot: snapshot(&key("snapshot"), raw.snapshot.unwrap_or_default())?,
            restore: restore(&key("restore"), raw.restore.unwrap_or_default())?,
            export: export(&key("export"), raw.export.unwrap_or_default())?,
            sheets,
            pull_require_signature: raw.pull.and_then(|p| p.require_signature),
            metrics_dir: raw.metrics.and_then(|m| m.textfile_dir),
            origins,
        })
    }

    /// Whether `acc pull` refuses a day whose signature it cannot check: as
    /// `pull.require_signature` says, on by default once `export.allowed_signers` is set.
    pub fn pull_requires_signature(&self) -> bool {
        self.pull_require_signature
            .unwrap_or(self.export.allowed_signers.is_some())
    }

    /// The production database, or a config error naming the missing section.
    pub fn production(&self) -> Result<&Database> {
        self.production
            .as_ref()
            .ok_or_else(|| self.missing("production"))
    }

    /// The staging database, or a config error naming the missing section.
    /// Where dashboards come from unless `--source` says otherwise.
    pub fn dashboard_source(&self) -> DashboardSource {
        self.export.source.unwrap_or(if self.snowflake.is_some() {
            DashboardSource::Snowflake
        } else {
            DashboardSource::Staging
        })
    }

    pub fn staging(&self) -> Result<&Database> {
        self.staging.as_ref().ok_or_else(|| self.missing("staging"))
    }

    fn missing(&self, section: &str) -> Error {
        Error::config(format!(
            "profile '{}' has no [{section}] database",
            self.name
        ))
        .hint(format!(
            "add [profiles.{}.{section}] with host, dbname and user",
            self.name
        ))
    }
}

impl Profile {
    /// Where this profile's days are published: `export_to`, which `--to` (export, sheets)
    /// and `--from` (pull) override.
    pub fn destination(&self) -> Result<&Location> {
        match &self.export_to {
            Some(Ok(location)) => Ok(location),
            Some(Err(bad)) => {
                let e = Error::config(bad.message.clone());
                Err(match &bad.hint {
                    Some(h) => e.hint(h.clone()),
                    None => e,
                })
            }
            None => Err(
                Error::config(format!("profile '{}' has no export_to", self.name)).hint(
                    "set export_to = \"sftp://user@host:port/path\" (or a directory) in the profile, or pass --to (export, sheets) or --from (pull)",
                ),
            ),
        }
    }
}

impl SnapshotSettings {
    /// Worker connections: `jobs`, or one per core.
    pub fn workers(&self) -> usize {
        self.jobs.unwrap_or_else(one_per_core)
    }
}

impl RestoreSettings {
    /// Loading connections: `jobs`, or one per core.
    pub fn workers(&self) -> usize {
        self.jobs.unwrap_or_else(one_per_core)
    }
}

/// The default for `jobs`: one connection per core.
pub fn one_per_core() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn required<T>(key: &str, field: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| Error::config(format!("{key}.{field} is not set")))
}

fn snapshot(key: &str, s: RawSnapshot) -> Result<SnapshotSettings> {
    if s.jobs == Some(0) {
        return Err(Error::config(format!("{key}.jobs must be at least 1")));
    }
    if s.keep == Some(0) {
        return Err(Error::config(format!(
            "{key}.keep must be at least 1: the newest snapshot is never pruned"
        )));
    }
    let mut exclude_tables = s.exclude_tables.unwrap_or_default();
    exclude_tables.extend(s.also_exclude_tables.unwrap_or_default());
    Ok(SnapshotSettings {
        jobs: s.jobs,
        keep: s.keep,
        exclude_tables,
        only_schemas: s.only_schemas.unwrap_or_default(),
        retry: std::time::Duration::from_secs(s.retry_seconds.unwrap_or(DEFAULT_RETRY_SECONDS)),
        signing_key: s.signing_key,
        allowed_signers: s.allowed_signers,
        enable_row_security: s.enable_row_security.unwrap_or(false),
        user_mappings_without_options: s.user_mappings_without_options.unwrap_or(false),
    })
}

fn restore(key: &str, r: RawRestore) -> Result<RestoreSettings> {
    if r.jobs == Some(0) {
        return Err(Error::config(format!("{key}.jobs must be at least 1")));
    }
    let reader_role = r.reader_role.unwrap_or_else(|| DEFAULT_READER_ROLE.into());
    if reader_role.is_empty() || reader_role.starts_with("pg_") {
        return Err(Error::config(format!(
            "{key}.reader_role '{reader_role}' is not a role acc may create"
        )));
    }
    Ok(RestoreSettings {
        jobs: r.jobs,
        reader_role,
        preserve_schemas: r.preserve_schemas.unwrap_or_default(),
        template: r.template.unwrap_or_else(|| "template0".into()),
        age_identity: r.age_identity,
    })
}

fn export(key: &str, e: RawExport) -> Result<ExportSettings> {
    let source = e
        .source
        .map(|s| {
            DashboardSource::parse(&s).ok_or_else(|| {
                Error::config(format!(
                    "{key}.source '{s}' is not snowflake, staging or production"
                ))
            })
        })
        .transpose()?;
    let days = e.days.unwrap_or(DEFAULT_EXPORT_DAYS);
    if !(1..=60).contains(&days) {
        return Err(Error::config(format!(
            "{key}.days must be between 1 and 60, not {days}"
        )));
    }
    if e.keep_days == Some(0) {
        return Err(Error::config(format!(
            "{key}.keep_days must be at least 1: the newest day is never removed"
        )));
    }
    Ok(ExportSettings {
        source,
        days,
        keep_days: e.keep_days,
        bom: e.bom.unwrap_or(false),
        // on unless turned off: a CSV of free text typed by people is opened in spreadsheets
        spreadsheet_safe: e.spreadsheet_safe.unwrap_or(true),
        signing_key: e.signing_key,
        allowed_signers: e.allowed_signers,
        extra_dashboards: e.extra_dashboards.unwrap_or_default(),
    })
}

fn sftp(key: &str, s: RawSftp) -> Result<Sftp> {
    Ok(Sftp {
        identity_file: s.identity_file,
        known_hosts: s.known_hosts,
        use_agent: s.use_agent.unwrap_or(false),
        passphrase: SecretRef::from_keys(
            &format!("{key}.passphrase"),
            s.passphrase_env,
            s.passphrase_file,
            s.passphrase_credential,
        )?,
    })
}

fn snowflake(key: &str, s: RawSnowflake) -> Result<Snowflake> {
    Ok(Snowflake {
        base_url: s.base_url,
        account: required(key, "account", s.account)?,
        user: required(key, "user", s.user)?,
        role: s.role,
        warehouse: s.warehouse,
        database: s.database,
        schema: s.schema,
        password: SecretRef::from_keys(
            &format!("{key}.password"),
            s.password_env,
            s.password_file,
            s.password_credential,
        )?,
        private_key_file: s.private_key_file,
        private_key_passphrase: SecretRef::from_keys(
            &format!("{key}.private_key_passphrase"),
            s.private_key_passphrase_env,
            s.private_key_passphrase_file,
            s.private_key_passphrase_credential,
        )?,
    })
}
