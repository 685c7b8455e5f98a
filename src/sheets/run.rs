//! One `acc sheets` run: the sheet query streamed from staging (or production), split into
//! one sealed CSV per employee plus one combined, and published as a day of its own under
//! `<root>/<profile>/sheets/`, signed like an export when the profile signs.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use tokio::sync::mpsc;

use super::printed::Printing;
use super::split::split;
use crate::config::{DashboardSource, Profile};
use crate::delivery::{Reach, Remote};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::export::csv_out::CsvOut;
use crate::export::dashboard::{self, Dashboard, Dialect};
use crate::export::device_sync::{self, Carer};
use crate::export::reader::Reader;
use crate::pool::run as blocking;
use crate::publish::{DayKind, DayManifest, DayWriter, Layout};
use crate::schedule::Period;

const BUILT_IN: &str = include_str!("../../profiles/sheets/downtime-sheet.sql");
/// Where `--stale-only` publishes, beside `<profile>/sheets`.
pub const FIRST: &str = "sheets-first";
/// The sheet query's name in errors, as a dashboard's would be.
const QUERY: &str = "downtime-sheet";

pub struct SheetsRequest {
    pub date: NaiveDate,
    pub days: u32,
    pub source: DashboardSource,
    pub dirs: Vec<PathBuf>,
    /// Only the carers who need paper first: a sync mismatch, or no offline mode.
    pub stale_only: bool,
}

/// What a sheets run published.
pub struct SheetsReport {
    pub destination: String,
    pub manifest: DayManifest,
    /// Which version of the day this run published (1 for the day's first run).
    pub version: u32,
    /// Days older than `export.keep_days` removed after this one was published.
    pub removed_days: Vec<NaiveDate>,
    /// The carers who need paper first, most urgent first, when the profile tracks devices.
    pub urgent: Option<Vec<Carer>>,
    /// Why the device-sync dashboard could not be read, when the sheets were made without it.
    pub devices_unread: Option<String>,
    /// `--stale-only`: urgent carers the sheet query gave no visit for, so no sheet.
    pub urgent_without_sheet: Vec<String>,
}

pub async fn sheets(profile: &Profile, env: &Env, req: &SheetsRequest) -> Result<SheetsReport> {
    let to = profile.destination()?;
    if req.source == DashboardSource::Snowflake {
        return Err(
            Error::usage("sheets are read from staging or production, not Snowflake")
                .hint("pass --source staging (the default) or --source production"),
        );
    }
    let recipients = profile.age_recipients.required(&profile.name)?;
    let _lock = crate::store::ProfileStore::open(&profile.store, &profile.name)?
        .run_lock(".sheets.lock", &format!("acc sheets of {}", profile.name))?;

    let generated_at = Utc::now();
    let zone = profile.region.local_zone();
    let period = Period::from_day(req.date, zone, req.days);
    let query = sheet_query(&req.dirs, &period)?;
    // paper for everyone never waits on the device table: without it, no list and a warning
    let (devices, devices_unread) = match devices(profile, env, req, &period).await {
        Ok(d) => (d, None),
        Err(e) if !req.stale_only => {
            let why = e.message().to_string();
            crate::events::warning(&format!("sheets are made without the urgent list: {why}"));
            (None, Some(why))
        }
        Err(e) => return Err(e),
    };
    let only: Option<BTreeSet<String>> = req.stale_only.then(|| {
        devices
            .iter()
            .flatten()
            .filter(|c| c.urgent())
            .map(|c| c.number.clone())
            .collect()
    });
    let reach = Reach::of(profile);
    let (remote, reader) = tokio::join!(
        Remote::open(to, &reach, env),
        Reader::open(profile, env, req.source, zone.name())
    );
    let reader = reader?;
    let data_as_of = reader.data_as_of().await;
    // the urgent carers' sheets are a day of their own, never a version of the full set
    let layout = Layout::new(format!(
        "{}/{}",
        profile.name,
        if req.stale_only { FIRST } else { "sheets" }
    ));
    let writer = DayWriter::begin(remote?, layout.clone(), req.date, recipients).await?;

    // the query streams into the splitter, which seals each employee's files as they end
    let format = profile.sheets.format;
    let printing = format.pdf().then(|| {
        Printing::new(
            (profile.sheets.paper, profile.sheets.language),
            profile.name.clone(),
            printed_days(req.date, req.days),
            data_as_of.map(|t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            }),
            zone.name().to_string(),
            devices.clone(),
        )
    });
    let (tx, rx) = mpsc::channel(8);
    let (w, origin) = (writer.clone(), query.origin.clone());
    let keep = only.clone();
    let splitter = tokio::spawn(blocking(move || {
        split(rx, &w, &origin, (format.csv(), keep.as_ref()), printing)
    }));
    let safe = profile.export.spreadsheet_safe;
    let mut out = CsvOut::new(tx, zone, false, Box::new(|_, _| {})).spreadsheet_safe(safe);
    let produced = match reader.run(&query, &mut out).await {
        Ok(()) => out.finish().await.map(|_| ()),
        Err(e) => {
            drop(out);
            Err(e)
        }
    };
    let split = splitter
        .await
        .map_err(|e| Error::internal("the sheet splitter panicked").source(e))
        .and_then(|r| r)
        .and_then(|r| r);
    let entries = match (produced, split) {
        (Ok(()), Ok(entries)) => entries,
        // the query's own error says more than the splitter's "ended early"
        (Err(e), _) | (Ok(()), Err(e)) => {
            writer.abandon().await;
            return Err(e);
        }
    };
    let manifest = DayManifest {
        kind: Some(DayKind::Sheets),
        finished_at: Utc::now(),
        spreadsheet_safe: safe,
        files: entries,
        ..DayManifest::begin(profile, &period, zone, req.source, data_as_of, generated_at)
    };
    // sheets hold the same patient data as the exports beside them: the same retention
    let published = writer
        .publish(
            manifest,
            profile.export.signing_key.as_deref(),
            profile.export.keep_days,
        )
        .await?;
    let urgent_without_sheet: Vec<String> = only
        .iter()
        .flatten()
        .filter(|n| !published.manifest.files.iter().any(|f| &f.name == *n))
        .cloned()
        .collect();
    Ok(SheetsReport {
        destination: format!("{}/{}", to.describe(), layout.day(req.date)),
        manifest: published.manifest,
        version: published.version,
        removed_days: published.removed_days,
        urgent_without_sheet,
        urgent: devices.map(|all| all.into_iter().filter(Carer::urgent).collect()),
        devices_unread,
    })
}

/// The device-sync dashboard's carers for the sheet's days, read where the sheets are, when
/// the profile tracks devices (`export.extra_dashboards`). `--stale-only` needs them.
async fn devices(
    profile: &Profile,
    env: &Env,
    req: &SheetsRequest,
    period: &Period,
) -> Result<Option<Vec<Carer>>> {
    if !device_sync::tracked(&profile.export.extra_dashboards) {
        if req.stale_only {
            return Err(Error::config(format!(
                "--stale-only needs to know whose device missed visits, and profile {} does not track devices",
                profile.name
            ))
            .hint("add \"device-sync\" to export.extra_dashboards (the agency's database needs its device table)"));
        }
        return Ok(None);
    }
    let db = match req.source {
        DashboardSource::Production => profile.production()?,
        _ => profile.staging()?,
    };
    let zone = profile.region.local_zone();
    device_sync::carers(db, env, &req.dirs, period, zone)
        .await
        .map(Some)
}

/// `2026-12-01`, or `2026-12-01 – 2026-12-03` for three days.
fn printed_days(first: NaiveDate, days: u32) -> String {
    let last = first + chrono::Days::new(u64::from(days.saturating_sub(1)));
    if last == first {
        first.to_string()
    } else {
        format!("{first} – {last}")
    }
}

/// The sheet query: `sheets/downtime-sheet.sql` beside a config layer, else the built-in one.
pub fn sheet_query(dirs: &[PathBuf], period: &Period) -> Result<Dashboard> {
    let (origin, text) =
        dashboard::query_text(dirs, &["sheets/downtime-sheet.sql".into()], BUILT_IN)?;
    let sql = dashboard::expand(
        &format!("the sheet query ({origin})"),
        &text,
        Dialect::Postgres,
        period,
    )?;
    Ok(Dashboard {
        name: QUERY,
        origin,
        sql,
    })
}
