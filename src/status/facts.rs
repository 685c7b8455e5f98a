//! What acc can see about a profile right now: the schedule, the snapshot store, staging, the
//! freeze, and the latest export. Each part that cannot be read says why instead of failing
//! the whole report.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::Profile;

use crate::delivery::{Delivery, Reach};

use crate::env::Env;
use crate::error::{Error, Failure};
use crate::export::device_sync;
use crate::location::{Location, S3Url};
use crate::objects::{Bucket, Holder, lease, snapshots};
use crate::pg::tls::PeerCert;
use crate::publish::{DayReader, Layout};
use crate::restore::{FreezeState, Kept, Target, freeze_state, read_info};
use crate::schedule::Cutoff;
use crate::schedule::Period;
use crate::snapshot::manifest::Manifest;
use crate::store::ProfileStore;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct CutoffTimes {
    pub business_date: NaiveDate,
    pub cutoff: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

impl From<Cutoff> for CutoffTimes {
    fn from(w: Cutoff) -> CutoffTimes {
        CutoffTimes {
            business_date: w.business_date,
            cutoff: w.cutoff.with_timezone(&Utc),
            deadline: w.deadline.with_timezone(&Utc),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub label: String,
    pub finished_at: DateTime<Utc>,
    pub bytes: u64,
    /// Every file the manifest lists is there with its size (`acc verify` checks the hashes).
    pub complete: bool,
    /// Tables copied as row-level security let acc see them (`snapshot.enable_row_security`).
    pub filtered_by_row_security: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Staging {
    pub label: String,
    pub data_as_of: DateTime<Utc>,
    pub restored_at: DateTime<Utc>,
    pub late: bool,
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportDay {
    pub date: NaiveDate,
    pub finished_at: DateTime<Utc>,
    pub delivered: usize,
    pub total: usize,
    /// Dashboards whose file is from an earlier run of the day (the last run failed them, or
    /// exported others only).
    pub carried: Vec<String>,
}

/// Carers whose device missed visits of the coming day: the device-sync dashboard, run on
/// staging (what the lifeline knows), when the profile tracks devices.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSync {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Carers with visits in the window.
    pub carers: usize,
    /// Of those, whose device missed at least one of them: a sync mismatch.
    pub mismatch: usize,
    /// Of those, whose devices do not all keep an offline copy.
    pub no_offline_mode: usize,
    /// The mismatched carers' employee numbers, most urgent first.
    pub mismatched: Vec<String>,
}

#[derive(Clone)]
pub struct Facts {
    pub profile: String,
    pub region: String,
    pub now: DateTime<Utc>,
    pub zones: Vec<Tz>,
    /// The most recent cutoff at or before now, and the next one.
    pub latest: CutoffTimes,
    pub next: CutoffTimes,
    pub snapshot: Result<Option<Snapshot>, Failure>,
    pub staging: Result<Option<Staging>, Failure>,
    /// The incoming database beside staging: a restore loading it, or a cut-short one's load
    /// kept for the next run of its snapshot.
    pub incoming: Result<Option<Kept>, Failure>,
    pub freeze: Result<Option<FreezeState>, Failure>,
    /// `None` when the profile exports nowhere.
    pub export: Option<Result<Option<ExportDay>, Failure>>,
    /// The certificate each reachable server presented (`production`, `staging`).
    pub certificates: Vec<(&'static str, PeerCert)>,
    /// `None` when the profile does not track devices (`export.extra_dashboards`).
    pub devices: Option<Result<DeviceSync, Failure>>,
    /// With an object store: who holds each job's lease there (`snapshot`, `restore`), and
    /// until when; an expired or released lease is not listed.
    pub leases: Option<Result<Vec<(String, Holder)>, Failure>>,
    /// WARNING when more carers than this have a sync mismatch (`acc status --warn-stale`).
    pub warn_stale_above: Option<usize>,
}

pub async fn gather(profile: &Profile, env: &Env, dirs: &[PathBuf], now: DateTime<Utc>) -> Facts {
    let region = &profile.region;
    let today = now.with_timezone(&region.anchor).date_naive();
    let latest = Cutoff::series(region, today - Duration::days(2), 4)
        .into_iter()
        .rfind(|w| w.cutoff <= now)
        .expect("a cutoff within two days");
    let mut zones = vec![region.anchor];
    zones.extend(region.display.iter().copied());
    zones.push(Tz::UTC);
    let (staging, incoming, freeze) = match profile.staging() {
        Err(e) => {
            let f = Failure::from(e);
            (Err(f.clone()), Err(f.clone()), Err(f))
        }
        Ok(db) => {
            let target = Target {
                db: db.clone(),
                is_staging: true,
            };
            (
                staging(&target, env).await,
                crate::restore::kept(&target, env)
                    .await
                    .map_err(Failure::from),
                freeze_state(&target, env).await.map_err(Failure::from),
            )
        }
    };
    let export = match &profile.export_to {
        None => None,
        Some(Err(bad)) => Some(Err(bad.clone())),
        Some(Ok(to)) => {
            let (to, p, env) = (to.clone(), profile.clone(), env.clone());
            Some(
                crate::pool::run(move || export(&to, &p, &env))
                    .await
                    .unwrap_or_else(|e| Err(Failure::from(e))),
            )
        }
    };
    Facts {
        profile: profile.name.clone(),
        region: region.name.clone(),
        now,
        zones,
        latest: latest.into(),
        next: Cutoff::next_after(region, now).into(),
        snapshot: match &profile.object_store {
            None => snapshot(profile),
            Some(url) => shared_snapshot(url, profile, env).await,
        },
        leases: match &profile.object_store {
            None => None,
            Some(url) => Some(leases(url, profile, env).await),
        },
        staging,
        incoming,
        freeze,
        export,
        certificates: certificates(profile, env).await,
        devices: devices(profile, env, dirs, now).await,
        warn_stale_above: None,
    }
}

/// The device-sync dashboard for the next 24 hours, on staging.
async fn devices(
    profile: &Profile,
    env: &Env,
    dirs: &[PathBuf],
    now: DateTime<Utc>,
) -> Option<Result<DeviceSync, Failure>> {
    if !device_sync::tracked(&profile.export.extra_dashboards) {
        return None;
    }
    let zone = profile.region.local_zone();
    let period = Period {
        today: now.with_timezone(&zone).date_naive(),
        start: now,
        end: now + Duration::hours(24),
    };
    let read = async {
        let carers = device_sync::carers(profile.staging()?, env, dirs, &period, zone).await?;
        Ok::<_, Error>(DeviceSync {
            window_start: period.start,
            window_end: period.end,
            carers: carers.len(),
            mismatch: carers.iter().filter(|c| c.mismatch()).count(),
            no_offline_mode: carers.iter().filter(|c| c.offline_mode != "yes").count(),
            mismatched: carers
                .iter()
                .filter(|c| c.mismatch())
                .map(|c| c.number.clone())
                .collect(),
        })
    };
    Some(read.await.map_err(Failure::from))
}

/// Opens one connection to each configured server to see the certificate it presents.
async fn certificates(profile: &Profile, env: &Env) -> Vec<(&'static str, PeerCert)> {
    let mut out = Vec::new();
    for (name, db) in [
        ("production", &profile.production),
        ("staging", &profile.staging),
    ] {
        if let Some(db) = db
            && let Ok(crate::pg::Connection {
                peer: Some(peer), ..
            }) = crate::pg::open(db, env, "acc status").await
        {
            out.push((name, peer));
        }
    }
    out
}

fn snapshot(profile: &Profile) -> Result<Option<Snapshot>, Failure> {
    let store = match ProfileStore::existing(&profile.store, &profile.name) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let Some(label) = store.latest() else {
        return Ok(None);
    };
    let dir = store.snapshot_dir(&label);
    let m = Manifest::read(&dir).map_err(Failure::from)?;
    let complete = m.short_file_in(&dir).is_none();
    Ok(Some(Snapshot {
        label,
        finished_at: m.finished_at.with_timezone(&Utc),
        bytes: m.total_size(),
        complete,
        filtered_by_row_security: m
            .filtered_by_row_security
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect(),
    }))
}

/// The snapshot the bucket's pointer names, from its manifest there.
async fn shared_snapshot(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
) -> Result<Option<Snapshot>, Failure> {
    let read = async {
        let bucket = Bucket::open(url, &profile.s3, env)?;
        let Some((pointer, bytes, listed)) =
            snapshots::latest_manifest(&bucket, &profile.name).await?
        else {
            return Ok(None);
        };
        let m = Manifest::parse(&bytes, std::path::Path::new(&bucket.describe(&pointer.dir)))?;
        Ok::<_, Error>(Some(Snapshot {
            label: pointer.label,
            finished_at: m.finished_at.with_timezone(&Utc),
            bytes: m.total_size(),
            complete: m.files().all(|f| {
                listed
                    .iter()
                    .any(|(n, size)| *n == f.name && *size == f.digest.size)
            }),
            filtered_by_row_security: m
                .filtered_by_row_security
                .iter()
                .map(|t| format!("{}.{}", t.schema, t.name))
                .collect(),
        }))
    };
    read.await.map_err(Failure::from)
}

/// The leases held now in the bucket, by job.
async fn leases(
    url: &S3Url,
    profile: &Profile,
    env: &Env,
) -> Result<Vec<(String, Holder)>, Failure> {
    let read = async {
        let bucket = Bucket::open(url, &profile.s3, env)?;
        let mut out = Vec::new();
        for job in ["snapshot", "restore"] {
            if let Some(h) =
                lease::holder(&bucket, &snapshots::lease_key(&profile.name, job)).await?
                && !h.released
                && h.expires_at > Utc::now()
            {
                out.push((job.to_string(), h));
            }
        }
        Ok::<_, Error>(out)
    };
    read.await.map_err(Failure::from)
}

/// What staging holds; when it cannot be read because a swap was cut short, the fix instead.
async fn staging(target: &Target, env: &Env) -> Result<Option<Staging>, Failure> {
    match staging_info(target, env).await {
        Err(why) => Err(match crate::restore::swap_advice(target, env).await {
            Some(advice) => Failure {
                message: advice,
                ..why
            },
            None => why,
        }),
        ok => ok,
    }
}

async fn staging_info(target: &Target, env: &Env) -> Result<Option<Staging>, Failure> {
    let Some(info) = read_info(target, env).await.map_err(Failure::from)? else {
        return Ok(None);
    };
    let client = target
        .connect(target.name(), env)
        .await
        .map_err(Failure::from)?;
    let read_only = client
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .map(|r| r.get::<_, String>(0) == "on")
        .map_err(|e| {
            Failure::from(Error::unavailable("cannot read staging's read-only setting").source(e))
        })?;
    Ok(Some(Staging {
        label: info.label,
        data_as_of: info.data_as_of,
        restored_at: info.restored_at,
        late: info.late,
        read_only,
    }))
}

fn export(to: &Location, profile: &Profile, env: &Env) -> Result<Option<ExportDay>, Failure> {
    let delivery = Delivery::open(to, &Reach::of(profile), env).map_err(Failure::from)?;
    let days = DayReader::new(&delivery, Layout::new(profile.name.clone()));
    let Some(date) = days.latest().map_err(Failure::from)? else {
        return Ok(None);
    };
    let m = days
        .manifest(date, &profile.name, None, false)
        .map_err(Failure::from)?
        .manifest;
    Ok(Some(ExportDay {
        date: m.date,
        finished_at: m.finished_at,
        delivered: m.delivered(),
        total: m.files.len(),
        carried: m
            .files
            .iter()
            .filter(|d| d.carried_from.is_some())
            .map(|d| d.name.clone())
            .collect(),
    }))
}
