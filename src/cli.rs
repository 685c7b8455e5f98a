//! The command line as clap types: parsing only, no I/O and no decisions.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES_HELP;

const ABOUT: &str = "Keeps a home-care agency working when its cloud platform is down.";

const LONG_ABOUT: &str = "\
Keeps a home-care agency working when its cloud platform is down.

Every night acc snapshots production at the region's cutoff, restores it into a read-only
staging database before the staging-ready deadline, and exports the nine continuity
dashboards as age-encrypted CSV for IT teams to keep. After an outage it replays what field
staff wrote on paper back into production, exactly once.

A typical night (us-can):
  23:00  acc snapshot --profile P      capture production
  23:xx  acc restore  --profile P      refresh read-only staging, ready by 02:00
         acc export   --profile P      deliver the nine dashboards
  any    acc status   --profile P      is staging ready, is anything late?

Configuration: acc.toml, layered: built-in defaults, /etc/acc/acc.toml,
$XDG_CONFIG_HOME/acc/acc.toml, --config FILE (or ACC_CONFIG), ACC_* variables, then flags.
Secrets are referenced (password_env, password_file, password_credential), never passed as
flags.";

#[derive(Debug, Parser)]
#[command(name = "acc", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Configuration file read after /etc/acc/acc.toml and the user's own.
    #[arg(long, global = true, env = "ACC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The profile (one organisation's environment) to act on.
    #[arg(long, global = true, env = "ACC_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Log lines on stderr: `text` (acc: ..., one event per line) or `json` (one object per
    /// line; progress bars off).
    #[arg(long, global = true, env = "ACC_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List each business date's snapshot cutoff and staging-ready deadline.
    ///
    /// Shows, for each business date, when production is captured (the cutoff) and when
    /// staging must be ready (the deadline), in the region's anchor zone, its display zones
    /// and UTC. Use it to plan timers, to check a daylight-saving night, or to answer "when
    /// is tonight's cutoff in Sydney?".
    ///
    /// Daylight saving: a wall-clock time that does not exist that day (in a spring-forward
    /// gap) is read with the offset in force before the gap, so 02:00 becomes 03:00; a time
    /// that occurs twice (fall-back) is the earlier of the two. Such times are flagged.
    #[command(after_help = EXIT_CODES_HELP)]
    Schedule(ScheduleArgs),

    /// Capture a consistent, encrypted snapshot of production at the regional cutoff.
    ///
    /// Run it from a timer up to 15 minutes before the cutoff: it waits for the cutoff, then
    /// copies every table from one consistent view of production (one exported snapshot shared
    /// by all workers) into zstd + age files under <store>/<profile>/<label>/, with a manifest
    /// written last. A timer that fires late still runs until the staging-ready deadline;
    /// earlier or later it is skipped with exit 3. The label is the business date in the
    /// region's anchor zone; with --now it is <date>-now-<hhmmss>. Plaintext never touches
    /// the disk. One run per profile at a time (a second one exits 75). A run that fails
    /// leaves nothing that looks like a snapshot, and the next run clears its leftovers.
    #[command(after_help = EXIT_CODES_HELP)]
    Snapshot(SnapshotArgs),

    /// Check that a snapshot is complete and untampered.
    ///
    /// Checks the manifest, its signature when the profile lists allowed signers, and every
    /// file's size and SHA-256. With --identity it also decrypts and decompresses every file
    /// in memory and checks its row count. Use it before trusting a snapshot, or on a copy you
    /// moved elsewhere. Exits 65 naming every file that failed.
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(VerifyArgs),

    /// Refresh staging from a snapshot, atomically and read-only, before the deadline.
    ///
    /// Run it after the snapshot. The snapshot is verified (the signature and sizes first, each
    /// file's SHA-256 as it is loaded), loaded into <staging db>__incoming (schema, then data
    /// streamed from the encrypted files, then indexes and constraints in parallel, the
    /// materialized views production had populated, sequences, ANALYZE), checked row by row
    /// count, made read-only with a reader
    /// role that may only SELECT, and swapped into place; the replaced copy is kept as
    /// <staging db>__previous for --rollback. Readers see the old data until the swap and the
    /// new data after it. While the refresh is frozen it is skipped with exit 3. A restore
    /// that ends after the staging-ready deadline completes but exits 3. Restoring the label
    /// staging already holds does nothing.
    #[command(after_help = EXIT_CODES_HELP)]
    Restore(RestoreArgs),

    /// Freeze or unfreeze the staging refresh while production is down.
    ///
    /// When production has been down for more than 24 hours, freeze the refresh so that last
    /// night's lifeline in staging is not overwritten. The state lives on the staging server
    /// (database acc_control), so every host running acc for the profile sees it.
    #[command(after_help = EXIT_CODES_HELP)]
    Freeze(FreezeArgs),

    /// Export the nine continuity dashboards as age-encrypted CSV to SFTP or a directory.
    ///
    /// Run it daily so that the agency holds its employee list, client list, risks and
    /// allergies, supplies, schedules, vacant visits, availability, care plans and
    /// medications even when production and staging are both down.
    ///
    /// Each dashboard is queried (Snowflake, staging or production), rendered as RFC 4180 CSV
    /// with times in the region's local zone, encrypted with age to every recipient of the
    /// profile as it streams, and written to <root>/<profile>/<YYYY-MM-DD>/<name>.csv.age.
    /// The day is assembled in a hidden directory and renamed into place whole, with
    /// manifest.json (rows, size and SHA-256 of each file) written last and signed when
    /// export.signing_key is set; `latest` then names it. Plaintext never touches disk.
    ///
    /// A dashboard whose query fails does not stop the others: they are delivered, the
    /// manifest lists the failure, and the exit code is 3.
    #[command(after_help = EXIT_CODES_HELP)]
    Export(ExportArgs),

    /// Download and verify a day's exported dashboards (for IT teams).
    ///
    /// Use it to keep the daily copy in a secure place. Every file is checked against the
    /// day's manifest (size, SHA-256 and row count) before it appears in --out, decrypted or,
    /// with --keep-encrypted, as it was delivered; files are mode 0600. When
    /// export.allowed_signers is set, an unsigned or badly signed manifest is refused. Any
    /// mismatch exits 65 and names the file.
    #[command(after_help = EXIT_CODES_HELP)]
    Pull(PullArgs),

    /// Produce each employee's paper downtime visit sheet.
    ///
    /// Use it when an outage starts: staff get their visits with client name, address and
    /// phone, scheduled times in local time, the tasks (numbered), the client's allergies and
    /// risks, and blank columns to write clock-in, clock-out, tasks done, a note and their
    /// initials. One age-encrypted CSV per employee plus `all`, delivered like exports to
    /// <root>/<profile>/sheets/<date>/. Typed up, the same CSV is the input of `acc replay`.
    #[command(after_help = EXIT_CODES_HELP)]
    Sheets(SheetsArgs),

    /// Check and replay paper-collected visits, tasks and notes into production, exactly once.
    ///
    /// Use it after an outage, once the sheets are typed up. `check` validates without
    /// writing; `apply` writes what is valid, each line exactly once, and sets aside what is
    /// refused or conflicts with production for review.
    #[command(after_help = REPLAY_FORMATS)]
    Replay(ReplayArgs),

    /// Tell whether staging is ready, snapshots and exports are fresh, and what is frozen.
    ///
    /// For people and monitoring alike: now in the anchor and display zones, the last and next
    /// cutoff and deadline, the latest complete snapshot, what staging holds (from
    /// acc.staging_info) and whether it is read-only and was late, the freeze, and the latest
    /// export day. A verdict of OK, WARNING or CRITICAL follows the rules in README; CRITICAL
    /// exits 3. `--require ready` is the gate before scheduled downtime: it exits 0 only when
    /// staging holds the latest cutoff's data and is read-only, and 3 with the reason
    /// otherwise.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),

    /// Show the resolved profile (secrets as ***) and check the environment acc depends on.
    ///
    /// Use it after changing the configuration, or when a night went wrong. It prints every
    /// setting with the files it came from, then checks production and staging (login, pg_dump
    /// version, staging rights), store space, keys and secret files, the SFTP host key and login,
    /// and Snowflake. A failed check exits 3 and says how to fix it.
    #[command(after_help = EXIT_CODES_HELP)]
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// First business date (YYYY-MM-DD); default: today in the region's anchor zone.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,

    /// How many business dates to list.
    #[arg(long, default_value_t = 7, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,

    /// Use this region instead of the profile's (no profile needed).
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,

    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Write (or print) systemd service and timer units for the profile's snapshot, restore
    /// and export: timers in the region's zone, restore and export chained by OnSuccess=.
    #[arg(long, conflicts_with_all = ["json", "cron", "region"])]
    pub systemd: bool,

    /// Print equivalent crontab lines, with CRON_TZ.
    #[arg(long, conflicts_with_all = ["json", "systemd", "region"])]
    pub cron: bool,

    /// With --systemd: write the units into DIR (e.g. /etc/systemd/system) instead of printing.
    #[arg(long, value_name = "DIR", requires = "systemd")]
    pub install: Option<PathBuf>,

    /// With --systemd: user units (no User=), for `systemctl --user`.
    #[arg(long, requires = "systemd")]
    pub user: bool,

    /// With --systemd: where LoadCredential= reads the secrets the profile names by credential.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/etc/acc/credentials",
        requires = "systemd"
    )]
    pub credentials_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Take it at once instead of at the cutoff; the label says so.
    #[arg(long)]
    pub now: bool,

    /// Worker connections to production [default: the profile's snapshot.jobs, else one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,

    /// After a success, keep only the newest N complete snapshots [default: snapshot.keep].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,

    /// Leave out tables matching PATTERN (`name` or `schema.name`, `*` and `?` wildcards,
    /// case-sensitive); added to the profile's snapshot.exclude_tables. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude_table: Vec<String>,

    /// Capture only this schema; replaces the profile's snapshot.only_schemas. Repeatable.
    #[arg(long, value_name = "NAME")]
    pub only_schema: Vec<String>,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The snapshot's label, or `latest`.
    #[arg(default_value = "latest", value_name = "LABEL")]
    pub label: String,

    /// An age identity file (or unencrypted SSH key) to decrypt every file and check row counts.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot's label, or `latest`.
    #[arg(long, default_value = "latest", value_name = "LABEL")]
    pub snapshot: String,

    /// Loading connections and pg_restore jobs [default: restore.jobs, else one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,

    /// Restore even while frozen, or a snapshot older than what staging holds.
    #[arg(long)]
    pub force: bool,

    /// Restore into this PostgreSQL instead of staging: postgres://user@host:port/dbname. The
    /// password, if any, comes from PGPASSWORD, never the URL.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// The age identity that decrypts the snapshot [default: restore.age_identity].
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Swap the previous copy back into place instead of restoring.
    #[arg(long, conflicts_with_all = ["snapshot", "force", "identity"])]
    pub rollback: bool,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the queries run [default: export.source, else snowflake when configured, else
    /// staging].
    #[arg(long, value_name = "SOURCE", value_enum)]
    pub source: Option<SourceArg>,

    /// Where the files go: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Only these dashboards (comma-separated names).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,

    /// After a success, remove days older than N days [default: export.keep_days, else keep
    /// all]. The day just written is never removed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub keep_days: Option<u32>,

    /// Start each CSV with a UTF-8 byte-order mark, so that Excel reads accents and emoji
    /// [default: export.bom].
    #[arg(long, overrides_with = "no_bom")]
    pub bom: bool,

    /// No byte-order mark, even when the profile sets export.bom.
    #[arg(long, overrides_with = "bom")]
    pub no_bom: bool,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Where the exports are: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,

    /// The day to pull, YYYY-MM-DD, or `latest`.
    #[arg(long, default_value = "latest", value_name = "DATE")]
    pub date: String,

    /// The age identity file, or ssh private key, that decrypts the files.
    #[arg(long, value_name = "FILE", required_unless_present = "keep_encrypted")]
    pub identity: Option<PathBuf>,

    /// The directory the verified files go into (created mode 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Keep the files encrypted, as delivered (still verified against the manifest).
    #[arg(long)]
    pub keep_encrypted: bool,

    /// Print a JSON report instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The input formats, for `acc replay --help` (README says the same).
pub const REPLAY_FORMATS: &str = "\
Input files: CSV, UTF-8 (with or without BOM), comma-separated, a header line; CRLF and quoted
line breaks are fine. Column names ignore case, spaces and dashes (`Clock in` = clock_in).
A file ending in .age is decrypted in memory with --identity. The kind comes from the header:

  attendance   visit_id, clock_in, clock_out [, employee_number]
  tasks        visit_id, task_id, done [, comment]
  notes        visit_id, author, written_at, body
  sheet        the CSV of `acc sheets`, typed up: employee_number, visit_id, clock_in,
               clock_out, tasks_done, note, initials (and the printed columns, ignored)

  visit_id         the visit's number (`visit` is accepted)
  clock_in/out     2026-11-22 08:05, or 08:05 (the visit's day), in the region's local zone;
                   add an offset (08:05-05:00) to say which of two fall-back times it is
  employee_number  must be the visit's assigned worker
  task_id, done    a task of that visit; done is yes/no (y/n, true/false, 1/0)
  comment          free text, optional
  author           the writer's employee number
  written_at       when the note was written, like clock_in
  body             the note
  tasks_done       on a sheet: task numbers from the Tasks column (space- or ;-separated),
                   `all`, or `none` (the visit's other tasks are marked not done)
  note             on a sheet: a progress note by the sheet's worker, dated by clock-out
  initials         the worker's initials; a filled-in line without them is refused
  reject_reason    added by rejects files; ignored, so fixed rejects can be fed back

Refused: unknown columns, missing required columns, unparseable times, clock-out before
clock-in, times more than 12 h from the visit, unknown visits, tasks or employees, a claim
repeated in the batch, a time in a spring-forward gap, a fall-back time without an offset
(unless --ambiguous). Every problem is printed as file:line:column: reason.

Exit codes: 0 ok; 3 apply finished but some lines were refused or conflict (listed);
65 check found problems, or a file could not be read at all (check and apply alike);
69/75 production unavailable; 77 permission; 78 config.";

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every configured profile.
    #[arg(long, conflicts_with = "profile")]
    pub all: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also write a node_exporter textfile (atomically) with the acc_* gauges.
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,

    /// Exit 0 only when this holds: `ready` means staging holds the latest cutoff's data and
    /// is read-only.
    #[arg(long, value_name = "WHAT", value_enum)]
    pub require: Option<Requirement>,
}

#[derive(Debug, Args)]
pub struct SheetsArgs {
    /// The first day of the sheets, YYYY-MM-DD, in the region's local zone [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,

    /// How many days the sheets cover.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=14))]
    pub days: u32,

    /// Where the visits are read.
    #[arg(long, default_value = "staging", value_name = "SOURCE", value_enum)]
    pub source: SheetsSourceArg,

    /// Where the sheets go: sftp://user@host:port/path, file:///path or a directory
    /// [default: export_to].
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    pub action: ReplayAction,
}

#[derive(Debug, Subcommand)]
pub enum ReplayAction {
    /// Validate files against production without writing; every problem as file:line:column.
    #[command(after_help = REPLAY_FORMATS)]
    Check(ReplayCheckArgs),
    /// Apply valid lines to production exactly once; refused lines and conflicts are written,
    /// encrypted, beside the inputs for review.
    #[command(after_help = REPLAY_FORMATS)]
    Apply(ReplayApplyArgs),
}

#[derive(Debug, Args)]
pub struct ReplayCheckArgs {
    /// The typed-up files (CSV, or .csv.age with --identity).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Which of two identical fall-back times a time without an offset means.
    #[arg(long, value_name = "WHICH", value_enum)]
    pub ambiguous: Option<AmbiguousArg>,

    /// Decrypts .age input files.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayApplyArgs {
    #[command(flatten)]
    pub check: ReplayCheckArgs,

    /// Who is applying the batch; recorded with every write.
    #[arg(long, value_name = "NAME")]
    pub operator: String,

    /// Show exactly what would change, and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// When production already holds a different value, write the paper's (the old value is
    /// kept in the ledger) instead of setting the line aside as a conflict.
    #[arg(long, value_name = "SIDE", value_enum)]
    pub prefer: Option<PreferArg>,

    /// Where rejects and conflicts files go [default: beside each input].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    #[command(subcommand)]
    pub action: FreezeAction,
}

#[derive(Debug, Subcommand)]
pub enum FreezeAction {
    /// Freeze the refresh: acc restore skips (exit 3) until `acc freeze off`.
    On {
        /// Why, for whoever reads `acc freeze show` or `acc status` at 2 a.m.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Lift the freeze automatically after this long (e.g. 36h, 2d, 90m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        auto_off_after: Option<chrono::TimeDelta>,
    },
    /// Lift the freeze.
    Off,
    /// Show the freeze state.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `90m`, `36h`, `2d`.
fn parse_duration(s: &str) -> Result<chrono::TimeDelta, String> {
    let (n, unit) = s.split_at(s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len());
    let n: i64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 90m, 36h or 2d"))?;
    match unit {
        "m" => Ok(chrono::TimeDelta::minutes(n)),
        "h" => Ok(chrono::TimeDelta::hours(n)),
        "d" => Ok(chrono::TimeDelta::days(n)),
        _ => Err(format!("'{s}' is not a duration like 90m, 36h or 2d")),
    }
    .and_then(|d| {
        if n > 0 {
            Ok(d)
        } else {
            Err("the duration must be positive".into())
        }
    })
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only show the resolved profile; do not connect to anything.
    #[arg(long)]
    pub no_checks: bool,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// `acc export --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Snowflake,
    Staging,
    Production,
}

/// `acc sheets --source`: sheets need the visit tables, which Snowflake shares lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SheetsSourceArg {
    Staging,
    Production,
}

/// `acc status --require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Requirement {
    Ready,
}

/// `acc replay --ambiguous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AmbiguousArg {
    Earlier,
    Later,
}

/// `acc replay apply --prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreferArg {
    Paper,
}

impl ExportArgs {
    /// `--bom`, `--no-bom`, or neither (the profile decides); the last one given wins.
    pub fn bom(&self) -> Option<bool> {
        match (self.bom, self.no_bom) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}
