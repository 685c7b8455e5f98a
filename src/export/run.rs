//! One export run: read the nine dashboards, seal each into the day being written, carry
//! over the day's earlier files, then publish the day whole (see `publish`).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::csv_out::CsvOut;
use super::dashboard::{self, Dashboard, Period};
use super::reader::Reader;
use crate::config::{DashboardSource, Env, Profile};
use crate::crypt::Recipients;
use crate::delivery::{Location, Remote};
use crate::error::{Error, Result};
use crate::publish::{DayManifest, DayWriter, FileEntry, Layout, SealedFile};
use crate::ui::progress::{Board, Mode};
use crate::ui::units::size;

/// What an export run was asked to do, every flag already resolved against the profile.
pub struct Request {
    pub source: DashboardSource,
    pub to: Location,
    pub only: Vec<&'static str>,
    pub keep_days: Option<u32>,
    pub bom: bool,
    pub spreadsheet_safe: bool,
    pub dirs: Vec<PathBuf>,
    pub progress: Mode,
}

/// What an export run did.
pub struct ExportReport {
    pub destination: String,
    pub manifest: DayManifest,
    /// Dashboards whose query failed in this run (the manifest may still hold an earlier
    /// file of the same day for them).
    pub failures: Vec<String>,
    /// Dashboards kept from an earlier run of the same day.
    pub carried: Vec<String>,
    pub removed_days: Vec<NaiveDate>,
    pub removed_leftovers: Vec<String>,
}

impl ExportReport {
    pub fn failed(&self) -> &[String] {
        &self.failures
    }
}

/// Today in `zone`, and the period from its midnight for `days` days.
pub fn period(now: DateTime<Utc>, zone: Tz, days: u32) -> Period {
    Period::from_day(now.with_timezone(&zone).date_naive(), zone, days)
}

pub async fn export(
    profile: &Profile,
    env: &Env,
    req: &Request,
    days: u32,
) -> Result<ExportReport> {
    let recipients = Arc::new(Recipients::parse(&profile.name, &profile.age_recipients)?);
    let _lock = crate::store::ProfileStore::open(&profile.store, &profile.name)?
        .run_lock(".export.lock", &format!("an export of {}", profile.name))?;

    let generated_at = Utc::now();
    let zone = profile.region.local_zone();
    let period = period(generated_at, zone, days);
    // the SSH handshake and login overlap connecting to the source
    let (remote, reader) = tokio::join!(
        Remote::open(&req.to, profile.sftp.as_ref(), env),
        Reader::open(profile, env, req.source, zone.name())
    );
    let reader = reader?;
    let dashboards = dashboard::load(&req.only, &req.dirs, reader.dialect(), &period)?;
    let data_as_of = reader.data_as_of().await;
    let layout = Layout::new(profile.name.clone());
    let writer = DayWriter::begin(remote?, layout, period.today, recipients).await?;

    let board = Board::new(req.progress);
    let mut entries = Vec::new();
    let mut first_error = None;
    for d in &dashboards {
        let started = std::time::Instant::now();
        let delivered = deliver(&reader, &writer, d, zone, req, &board).await;
        crate::events::detail(&format!(
            "export {}: query, seal and upload took {:.2}s",
            d.name,
            started.elapsed().as_secs_f64()
        ));
        match delivered {
            Ok(entry) => entries.push(entry),
            Err(Failure::Fatal(e)) => {
                writer.abandon().await;
                return Err(e);
            }
            Err(Failure::Dashboard(e)) => {
                crate::events::error(e.message());
                entries.push(FileEntry::failed(
                    d.name,
                    &d.origin,
                    e.message().to_string(),
                ));
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = nothing_delivered(&entries, first_error) {
        writer.abandon().await;
        return Err(e);
    }
    // this run's failures, and any earlier file that could not be carried
    let mut failures: Vec<String> = entries
        .iter()
        .filter(|e| !e.ok())
        .map(|e| e.name.clone())
        .collect();
    let (entries, carried) = writer.carry_over(entries, &super::NAMES).await?;
    for (name, why) in carried.dropped {
        crate::events::warning(&why);
        if !failures.contains(&name) {
            failures.push(name);
        }
    }
    let manifest = DayManifest {
        finished_at: Utc::now(),
        bom: req.bom,
        spreadsheet_safe: req.spreadsheet_safe,
        dashboards: entries,
        ..DayManifest::begin(profile, &period, zone, req.source, data_as_of, generated_at)
    };
    let removed_leftovers = writer.removed_leftovers.clone();
    let removed_days = writer
        .publish(
            &manifest,
            profile.export.signing_key.as_deref(),
            req.keep_days,
        )
        .await?;
    Ok(ExportReport {
        destination: req.to.describe(),
        manifest,
        failures,
        carried: carried.carried,
        removed_days,
        removed_leftovers,
    })
}

/// The error of a run in which every dashboard failed: the previous day is left alone.
fn nothing_delivered(entries: &[FileEntry], first_error: Option<Error>) -> Option<Error> {
    if entries.iter().any(FileEntry::ok) {
        return None;
    }
    let e = first_error?;
    Some(
        Error::new(
            e.kind(),
            format!("no dashboard could be exported: {}", e.message()),
        )
        .hint("the previous day's files are untouched; fix the source and run again"),
    )
}

enum Failure {
    /// This dashboard failed; the others go on.
    Dashboard(Error),
    /// The delivery itself failed; nothing more can be written.
    Fatal(Error),
}

async fn deliver(
    reader: &Reader,
    writer: &DayWriter,
    d: &Dashboard,
    zone: Tz,
    req: &Request,
    board: &Board,
) -> std::result::Result<FileEntry, Failure> {
    let mut file: SealedFile = writer.create(d.name).await.map_err(Failure::Fatal)?;
    let (tracker, on_batch) = board.start(d.name);
    let mut out =
        CsvOut::new(file.sender(), zone, req.bom, on_batch).spreadsheet_safe(req.spreadsheet_safe);
    let produced = match reader.run(d, &mut out).await {
        Ok(()) => out.finish().await,
        Err(e) => {
            drop(out);
            Err(e)
        }
    };
    match produced {
        Ok((rows, plaintext)) => {
            let name = file.file().to_string();
            match file.finish().await {
                Ok(digest) => {
                    tracker.done(&format!("{rows} rows, {} encrypted", size(digest.size)));
                    Ok(FileEntry::delivered(
                        d.name, &d.origin, name, rows, plaintext, digest,
                    ))
                }
                Err(e) => {
                    tracker.done("failed");
                    Err(Failure::Fatal(e))
                }
            }
        }
        Err(e) => {
            tracker.done("failed");
            file.abandon().await.map_err(Failure::Fatal)?;
            Err(Failure::Dashboard(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_delivered_nothing_fails_with_the_first_error() {
        let failed = vec![FileEntry::failed("employee-list", "built-in", "x".into())];
        let e = nothing_delivered(&failed, Some(Error::config("bad query"))).unwrap();
        assert!(
            e.message()
                .contains("no dashboard could be exported: bad query")
        );
        assert_eq!(e.exit_code(), 78);
        let mut some = failed.clone();
        let digest = crate::crypt::Digest {
            size: 1,
            sha256: "00".into(),
        };
        some.push(FileEntry::delivered(
            "client-list",
            "built-in",
            "f".into(),
            1,
            1,
            digest,
        ));
        assert!(nothing_delivered(&some, Some(Error::config("bad query"))).is_none());
    }
}
