//! One export run: read the nine dashboards, seal each into the day's hidden working
//! directory, write the manifest last, then publish the day whole and prune old days.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio::task::block_in_place;

use super::csv_out::CsvOut;
use super::dashboard::{self, Dashboard, Window};
use crate::publish::day::{self, DashboardEntry, DayManifest};
use crate::ui::board::{Board, size};
use super::reader::Reader;
use super::sink::seal;
use crate::config::{DashboardSource, Env, Profile};
use crate::crypt::Recipients;
use crate::delivery::{Delivery, Location, temp_name};
use crate::error::{Error, Kind, Result};
use crate::ui::output;
use crate::ui::progress::Mode;
use crate::store::RunLock;

/// What an export run was asked to do, every flag already resolved against the profile.
pub struct Request {
    pub source: DashboardSource,
    pub to: Location,
    pub only: Vec<&'static str>,
    pub keep_days: Option<u32>,
    pub bom: bool,
    pub dirs: Vec<PathBuf>,
    pub progress: Mode,
}

pub struct Outcome {
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

impl Outcome {
    pub fn failed(&self) -> &[String] {
        &self.failures
    }
}

/// The region's local zone: its first display zone, else its anchor.
pub fn local_zone(profile: &Profile) -> Tz {
    profile
        .region
        .display
        .first()
        .copied()
        .unwrap_or(profile.region.anchor)
}

/// Today in `zone`, and the window from its midnight for `days` days.
pub fn window(now: DateTime<Utc>, zone: Tz, days: u32) -> Window {
    Window::from_day(now.with_timezone(&zone).date_naive(), zone, days)
}

/// The per-profile run lock of a command that delivers (`what` names it in the busy error).
pub(crate) fn lock(profile: &Profile, file: &str, what: &str) -> Result<RunLock> {
    let store = crate::store::ProfileStore::open(&profile.store, &profile.name)?;
    RunLock::acquire(
        &store.dir().join(file),
        &format!("{what} of {}", profile.name),
    )
}

pub async fn export(profile: &Profile, env: &Env, req: &Request, days: u32) -> Result<Outcome> {
    let recipients = Arc::new(Recipients::parse(&profile.name, &profile.age_recipients)?);
    let _lock = lock(profile, ".export.lock", "an export")?;

    let generated_at = Utc::now();
    let zone = local_zone(profile);
    let window = window(generated_at, zone, days);
    // the SSH handshake and login overlap connecting to the source
    let connecting = {
        let (to, sftp, env) = (req.to.clone(), profile.sftp.clone(), env.clone());
        tokio::task::spawn_blocking(move || Delivery::open(&to, sftp.as_ref(), &env))
    };
    let reader = Reader::open(profile, env, req.source, zone.name()).await?;
    let dashboards = dashboard::load(&req.only, &req.dirs, reader.dialect(), &window)?;
    let data_as_of = reader.data_as_of().await;

    let delivery = connecting
        .await
        .map_err(|e| Error::internal("connecting to the destination panicked").source(e))??;
    let base = profile.name.clone();
    let date = window.today.format("%Y-%m-%d").to_string();
    let work = format!("{base}/.{date}.partial-{}", std::process::id());
    let removed_leftovers = block_in_place(|| -> Result<Vec<String>> {
        delivery.mkdir_all(&base)?;
        let stale = remove_leftovers(&delivery, &base)?;
        delivery.mkdir_all(&work)?;
        Ok(stale)
    })?;

    let board = Board::new(req.progress);
    let mut entries = Vec::new();
    let mut first_error = None;
    for d in &dashboards {
        let result = deliver(
            &reader,
            &delivery,
            &work,
            d,
            &recipients,
            zone,
            req.bom,
            &board,
        )
        .await;
        match result {
            Ok(entry) => entries.push(entry),
            Err(Failure::Fatal(e)) => {
                let _ = block_in_place(|| delivery.remove_tree(&work));
                return Err(e);
            }
            Err(Failure::Dashboard(e)) => {
                output::log(&format!("error: {}", e.message()));
                entries.push(DashboardEntry {
                    name: d.name.to_string(),
                    status: "failed".into(),
                    query: d.origin.clone(),
                    file: None,
                    rows: None,
                    plaintext_bytes: None,
                    size: None,
                    sha256: None,
                    error: Some(e.message().to_string()),
                    carried_from: None,
                });
                first_error.get_or_insert(e);
            }
        }
    }
    if entries.iter().all(|e| !e.ok()) {
        let _ = block_in_place(|| delivery.remove_tree(&work));
        let e = first_error.expect("no dashboard delivered means one failed");
        return Err(Error::new(
            e.kind(),
            format!("no dashboard could be exported: {}", e.message()),
        )
        .hint("the previous day's files are untouched; fix the source and run again"));
    }

    // this run's failures, and any earlier file that could not be carried
    let mut failures: Vec<String> = entries
        .iter()
        .filter(|e| !e.ok())
        .map(|e| e.name.clone())
        .collect();
    let (carried, dropped) =
        block_in_place(|| carry_over(&delivery, &base, &date, &work, &mut entries))?;
    failures.extend(
        dropped
            .into_iter()
            .filter(|d| !failures.contains(d))
            .collect::<Vec<_>>(),
    );
    let manifest = DayManifest {
        finished_at: Utc::now(),
        bom: req.bom,
        dashboards: entries,
        ..DayManifest::begin(profile, &window, zone, req.source, data_as_of, generated_at)
    };
    let signature = match &profile.export.signing_key {
        Some(key) => Some(sign(key, &manifest.to_json())?),
        None => None,
    };
    let removed_days = block_in_place(|| -> Result<Vec<NaiveDate>> {
        if let Some(sig) = &signature {
            delivery.write_small(&format!("{work}/{}", day::SIGNATURE), sig)?;
        }
        delivery.write_small(&format!("{work}/{}", day::MANIFEST), &manifest.to_json())?;
        publish(&delivery, &base, &work, &date)?;
        match req.keep_days {
            Some(keep) => prune(&delivery, &base, window.today, keep),
            None => Ok(Vec::new()),
        }
    })?;
    Ok(Outcome {
        destination: req.to.describe(),
        manifest,
        failures,
        carried,
        removed_days,
        removed_leftovers,
    })
}

/// A run that did not deliver every dashboard keeps the day's earlier files for the others
/// (an export of some dashboards with `--only`, or one failing now after succeeding earlier
/// the same day): they move into the new day with their manifest entries, just before it is
/// published, so a rerun never leaves the agency with fewer files than it had. Each is hashed
/// again first: the new manifest is signed, and acc never signs what it did not check. A file
/// that no longer matches its entry is left out and its dashboard listed as failed.
fn carry_over(
    delivery: &Delivery,
    base: &str,
    date: &str,
    work: &str,
    entries: &mut Vec<DashboardEntry>,
) -> Result<(Vec<String>, Vec<String>)> {
    let path = format!("{base}/{date}/{}", day::MANIFEST);
    if !delivery.exists(&path) {
        return Ok((Vec::new(), Vec::new()));
    }
    let Ok(old) = DayManifest::parse(&delivery.read_small(&path, day::MANIFEST_LIMIT)?, &path)
    else {
        // an unreadable manifest cannot vouch for its files: the new day stands alone
        return Ok((Vec::new(), Vec::new()));
    };
    let (mut carried, mut dropped) = (Vec::new(), Vec::new());
    for mut e in old.dashboards.into_iter().filter(DashboardEntry::ok) {
        let delivered_now = entries.iter().any(|n| n.name == e.name && n.ok());
        let Some(file) = e.file.clone().filter(|_| !delivered_now) else {
            continue;
        };
        let from = format!("{base}/{date}/{file}");
        if !delivery.exists(&from) {
            continue;
        }
        if let Err(why) = still_matches(delivery, &from, &e) {
            crate::ui::output::log(&format!(
                "warning: {from} was not carried into the new day: {why}"
            ));
            dropped.push(e.name.clone());
            if !entries.iter().any(|n| n.name == e.name) {
                entries.push(DashboardEntry {
                    status: "failed".into(),
                    file: None,
                    rows: None,
                    plaintext_bytes: None,
                    size: None,
                    sha256: None,
                    carried_from: None,
                    error: Some(format!("the earlier file was not carried: {why}")),
                    ..e
                });
            }
            continue;
        }
        delivery.rename(&from, &format!("{work}/{file}"))?;
        e.carried_from = e.carried_from.or(Some(old.generated_at));
        entries.retain(|n| n.name != e.name);
        carried.push(e.name.clone());
        entries.push(e);
    }
    let order = |name: &str| {
        super::NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX)
    };
    entries.sort_by_key(|e| order(&e.name));
    Ok((carried, dropped))
}

/// Whether the delivered file still has the size and SHA-256 its manifest entry gives.
fn still_matches(
    delivery: &Delivery,
    rel: &str,
    e: &DashboardEntry,
) -> std::result::Result<(), String> {
    let mut running = crate::crypt::Running::default();
    let reader = delivery
        .open_read(rel)
        .map_err(|err| err.message().to_string())?;
    std::io::copy(
        &mut crate::crypt::HashingReader::new(reader, &mut running),
        &mut std::io::sink(),
    )
    .map_err(|err| format!("cannot read it again: {err}"))?;
    let now = running.digest();
    if Some(now.size) != e.size || Some(&now.sha256) != e.sha256.as_ref() {
        return Err(format!(
            "it no longer matches its manifest entry ({} bytes, sha256 {}, where the entry says {} bytes, {})",
            now.size,
            now.sha256,
            e.size.map_or("no".into(), |s| s.to_string()),
            e.sha256.as_deref().unwrap_or("no sha256")
        ));
    }
    Ok(())
}

enum Failure {
    /// This dashboard failed; the others go on.
    Dashboard(Error),
    /// The delivery itself failed; nothing more can be written.
    Fatal(Error),
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    reader: &Reader,
    delivery: &Delivery,
    work: &str,
    d: &Dashboard,
    recipients: &Arc<Recipients>,
    zone: Tz,
    bom: bool,
    board: &Board,
) -> std::result::Result<DashboardEntry, Failure> {
    let file = day::file_name(d.name);
    let final_path = format!("{work}/{file}");
    let tmp = temp_name(&final_path);
    let upload = block_in_place(|| delivery.create(&tmp)).map_err(Failure::Fatal)?;
    let (tx, rx) = mpsc::channel(8);
    let (tracker, on_batch) = board.start(d.name);
    let recipients = Arc::clone(recipients);
    let name = file.clone();
    let sealer = tokio::task::spawn_blocking(move || seal(rx, upload, recipients, &name));
    let mut out = CsvOut::new(tx, zone, bom, on_batch);
    let produced = match reader.run(d, &mut out).await {
        Ok(()) => out.finish().await,
        Err(e) => {
            drop(out);
            Err(e)
        }
    };
    let sealed = sealer
        .await
        .map_err(|e| Failure::Fatal(Error::internal("the encrypting writer panicked").source(e)))?;
    match (produced, sealed) {
        (Ok((rows, plaintext)), Ok(digest)) => {
            block_in_place(|| delivery.rename(&tmp, &final_path)).map_err(Failure::Fatal)?;
            tracker.done(&format!("{rows} rows, {} encrypted", size(digest.size)));
            Ok(DashboardEntry {
                name: d.name.to_string(),
                status: "ok".into(),
                query: d.origin.clone(),
                file: Some(file),
                rows: Some(rows),
                plaintext_bytes: Some(plaintext),
                size: Some(digest.size),
                sha256: Some(digest.sha256),
                error: None,
                carried_from: None,
            })
        }
        (Err(e), _) => {
            tracker.done("failed");
            block_in_place(|| delivery.remove_file(&tmp)).map_err(Failure::Fatal)?;
            Err(Failure::Dashboard(e))
        }
        (Ok(_), Err(e)) => {
            tracker.done("failed");
            let _ = block_in_place(|| delivery.remove_file(&tmp));
            Err(Failure::Fatal(e))
        }
    }
}

/// Removes working directories that runs killed midway left behind (the lock is held, so
/// none of them is in use).
pub(crate) fn remove_leftovers(delivery: &Delivery, base: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for e in delivery.list(base)? {
        if e.is_dir && day::is_leftover(&e.name) {
            delivery.remove_tree(&format!("{base}/{}", e.name))?;
            removed.push(e.name);
        }
    }
    Ok(removed)
}

/// Puts the finished working directory in place as the day, replacing an earlier run of the
/// same day, then points `latest` at it.
pub(crate) fn publish(delivery: &Delivery, base: &str, work: &str, date: &str) -> Result<()> {
    let day = format!("{base}/{date}");
    let old = format!("{base}/.{date}.old-{}", std::process::id());
    let replacing = delivery.exists(&day);
    if replacing {
        delivery.rename(&day, &old)?;
    }
    if let Err(e) = delivery.rename(work, &day) {
        if replacing {
            let _ = delivery.rename(&old, &day);
        }
        return Err(e);
    }
    if replacing {
        delivery.remove_tree(&old)?;
    }
    let latest = format!("{base}/{}", day::LATEST);
    delivery.remove_file(&latest)?;
    delivery.write_small(&latest, format!("{date}\n").as_bytes())
}

/// Removes days older than `keep` days before `today`; never `today`, the one just written.
pub(crate) fn prune(
    delivery: &Delivery,
    base: &str,
    today: NaiveDate,
    keep: u32,
) -> Result<Vec<NaiveDate>> {
    let oldest_kept = today - Duration::days(i64::from(keep.max(1)) - 1);
    let mut removed = Vec::new();
    for e in delivery.list(base)? {
        if let Some(d) =
            day::day_of(&e.name).filter(|d| e.is_dir && *d < oldest_kept && *d != today)
        {
            delivery.remove_tree(&format!("{base}/{}", e.name))?;
            removed.push(d);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Signs the manifest bytes with `ssh-keygen -Y sign`; returns the signature. The manifest
/// holds names, counts and checksums only, so a private temporary copy is safe.
pub(crate) fn sign(key: &std::path::Path, manifest: &[u8]) -> Result<Vec<u8>> {
    let dir = crate::process::PrivateDir::new("sign").map_err(|e| {
        Error::new(
            Kind::Unavailable,
            "cannot create a private temporary directory",
        )
        .source(e)
    })?;
    let path = dir
        .write(day::MANIFEST, manifest)
        .map_err(|e| Error::internal("cannot stage the manifest for signing").source(e))?;
    crate::crypt::signing::sign_as(key, &path, crate::crypt::signing::EXPORT_NAMESPACE)?;
    std::fs::read(crate::crypt::signing::sig_path(&path))
        .map_err(|e| Error::internal("cannot read the signature").source(e))
}
