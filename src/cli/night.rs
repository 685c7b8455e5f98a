//! Flags of the nightly refresh and of watching it: schedule, snapshot, verify, restore,
//! freeze, status and doctor.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

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

    /// With --systemd: template services (acc-snapshot@.service, %i the profile) shared by
    /// every profile (or the one --profile names), and a timer per profile and job.
    #[arg(long, requires = "systemd")]
    pub template: bool,

    /// With --systemd: user units (no User=), for `systemctl --user`.
    #[arg(long, requires = "systemd")]
    pub user: bool,

    /// With --systemd: the acc binary the units start [default: this one].
    #[arg(long, value_name = "PATH", requires = "systemd")]
    pub exec: Option<PathBuf>,

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

    /// Restore a snapshot taken for another profile, named here on purpose (a snapshot whose
    /// manifest names another profile is refused otherwise).
    #[arg(long, value_name = "PROFILE")]
    pub from_profile: Option<String>,

    /// Follow a snapshot still being taken in this host's store (the one --snapshot names,
    /// else the newest): load each table file once it is sealed; swap once it is published.
    #[arg(long)]
    pub follow: bool,

    /// Swap the previous copy back into place instead of restoring.
    #[arg(long, conflicts_with_all = ["snapshot", "force", "identity", "from_profile", "follow"])]
    pub rollback: bool,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Take the snapshot at once instead of at the cutoff; the label says so.
    #[arg(long)]
    pub now: bool,

    /// Connections to production and to staging [default: snapshot.jobs and restore.jobs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,

    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
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

    /// Exit 0 only when this holds (repeatable): `ready` means staging holds the latest
    /// cutoff's data and is read-only; `max-stale=N` means at most N carers' devices missed
    /// visits of the next 24 hours (a profile that tracks devices).
    #[arg(long, value_name = "WHAT", value_parser = parse_requirement)]
    pub require: Vec<Requirement>,

    /// WARNING when more than N carers' devices missed visits of the next 24 hours (a sync
    /// mismatch), in every format, Nagios's too.
    #[arg(long, value_name = "N")]
    pub warn_stale: Option<usize>,

    /// One line and the Nagios plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN),
    /// for Nagios, Icinga and anything that speaks their plugin API.
    #[arg(long, conflicts_with_all = ["json", "require"])]
    pub nagios: bool,
}

/// `acc status --require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Ready,
    MaxStale(usize),
}

fn parse_requirement(s: &str) -> Result<Requirement, String> {
    match s.split_once('=') {
        None if s == "ready" => Ok(Requirement::Ready),
        Some(("max-stale", n)) => n
            .parse()
            .map(Requirement::MaxStale)
            .map_err(|_| format!("max-stale needs a whole number of carers, not '{n}'")),
        _ => Err(format!("'{s}' is not ready or max-stale=N")),
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only show the resolved profile; do not connect to anything.
    #[arg(long)]
    pub no_checks: bool,

    /// Print the profile and the checks as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
