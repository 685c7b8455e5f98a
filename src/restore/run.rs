//! One restore, start to finish: guards, load into `__incoming`, lock down, swap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

use super::autovacuum;
use super::extension_rows;
use super::files::Files;
use super::follow::Follow;
use super::freeze::{FreezeState, freeze_state};
use super::large_objects;
use super::load;
use super::matviews;
use super::pipeline;
use super::post_data;
use super::pre_data;
use super::readonly::{self, lock_down};
use super::resume;
use super::swap;
use super::target::Target;
use crate::config::Profile;
use crate::crypt::Identities;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::pg::quote_ident;
use crate::progress::{Phase, Watch};
use crate::schedule::Cutoff;
use crate::snapshot;
use crate::snapshot::manifest::Manifest;
use crate::store::ProfileStore;

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// A label or `latest`.
    pub snapshot: String,
    /// Restore even when frozen or when the snapshot is older than staging's data.
    pub force: bool,
    /// Restore here instead of the profile's staging.
    pub target: Option<Target>,
    /// The profile a snapshot from another profile's store was taken for, named on purpose.
    pub from_profile: Option<String>,
    /// Where the load reports its progress.
    pub progress: Watch,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub label: String,
    pub database: String,
    /// Staging already held this snapshot; nothing was done.
    pub already_current: bool,
    pub tables: usize,
    pub rows: u64,
    pub data_as_of: DateTime<FixedOffset>,
    pub deadline: Option<DateTime<FixedOffset>>,
    pub late: bool,
    pub preserved_schemas: Vec<String>,
}

pub(super) fn target_of(profile: &Profile, req: &RestoreRequest) -> Result<Target> {
    match &req.target {
        Some(t) => Ok(t.clone()),
        None => Ok(Target {
            db: profile.staging()?.clone(),
            is_staging: true,
        }),
    }
}

pub async fn restore(profile: &Profile, env: &Env, req: &RestoreRequest) -> Result<RestoreReport> {
    match &profile.object_store {
        Some(url) => super::shared::restore_shared(url, profile, env, req).await,
        None => restore_here(profile, env, req).await,
    }
}

/// The snapshot a restore loads: one in a directory of this host's store, or one whose
/// manifest the caller read and checked (signature, sizes) and whose files it streams.
pub(super) enum Found {
    Here {
        label: String,
        dir: PathBuf,
    },
    Streamed {
        manifest: Manifest,
        files: Files,
    },
    /// A snapshot still being taken, and its journal's plan.
    Following(Box<(Follow, Manifest)>),
}

/// The restore, from this host's store.
pub(super) async fn restore_here(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
) -> Result<RestoreReport> {
    let target = target_of(profile, req)?;
    target.check_name()?;
    let store = ProfileStore::existing(&profile.store, &profile.name)?;
    let (label, dir) = store.resolve(&req.snapshot)?;
    restore_found(
        profile,
        env,
        req,
        (&target, &store),
        Found::Here { label, dir },
    )
    .await
}

/// The restore of `found` into `target`, under the store's restore lock.
pub(super) async fn restore_found(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
    (target, store): (&Target, &ProfileStore),
    found: Found,
) -> Result<RestoreReport> {
    refuse_production(profile, target, env).await?;
    let _lock = store.run_lock(
        crate::store::RESTORE_LOCK,
        &format!("a restore of profile '{}'", profile.name),
    )?;
    let (m, files, follow) = match found {
        Found::Here { label, dir } => {
            (verified(profile, req, &label, &dir)?, Files::Dir(dir), None)
        }
        Found::Streamed { manifest, files } => (whose(profile, req, manifest)?, files, None),
        Found::Following(f) => {
            let (follow, plan) = *f;
            let files = Files::Following {
                partial: follow.watch.partial(),
                published: follow.watch.published(),
            };
            (whose(profile, req, plan)?, files, Some(follow))
        }
    };
    let snapshot_failed = follow.as_ref().map(|f| Arc::clone(&f.watch.failed));
    let target = target.clone();
    crate::failpoint::pause("restore:verified").await;
    let ids = Arc::new(Identities::load(&identity(profile)?)?);
    repair(&target, env).await?;
    if target.is_staging
        && !req.force
        && let Some(f) = freeze_state(&target, env).await?
    {
        return Err(frozen(&target, &f));
    }
    let deadline = deadline_of(profile, &m);
    if let Some(info) = readonly::read_info(&target, env).await? {
        if info.label == m.label {
            return Ok(outcome(&m, &target, true, deadline, info.late, Vec::new()));
        }
        if let Some(e) = older_than_staging(&m, &info, &target, req.force) {
            return Err(e);
        }
    }

    readonly::check_reader(&target, env, &profile.restore.reader_role).await?;
    let done = resume::open(&target, env, &profile.restore.template, &m).await?;
    // what staging cannot create is refused before anything loads, and leaves nothing behind
    let pre_data = match done.resumed() {
        true => None,
        false => {
            let template = &profile.restore.template;
            match pre_data::prepare(&target, env, (&files, &m, &ids), template).await {
                Ok(p) => Some(p),
                Err(e) => {
                    drop_incoming(&target, env).await;
                    return Err(e);
                }
            }
        }
    };
    let loading = Loading {
        target: &target,
        files: &files,
        manifest: &m,
        ids: &ids,
        done: &done,
        pre_data,
    };
    match load_and_lock(profile, env, req, &loading, follow, deadline).await {
        Ok((late, preserved, m)) => match swap::swap_in(&target, env).await {
            Ok(()) => Ok(outcome(&m, &target, false, deadline, late, preserved)),
            Err(e) => {
                drop_incoming(&target, env).await;
                Err(e)
            }
        },
        // a snapshot found bad, or one that failed while followed, is not worth resuming;
        // anything else a retry can get past is
        Err(e)
            if e.kind() == Kind::BadInput
                || snapshot_failed.is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst)) =>
        {
            drop_incoming(&target, env).await;
            Err(e)
        }
        Err(e) => {
            crate::events::info(&format!(
                "restore {}: what was loaded is kept in {}; the next restore of this snapshot resumes from it",
                m.label,
                target.incoming()
            ));
            Err(e)
        }
    }
}

/// What one load reads from and writes to.
struct Loading<'a> {
    target: &'a Target,
    files: &'a Files,
    manifest: &'a Manifest,
    ids: &'a Arc<Identities>,
    done: &'a resume::Done,
    /// The schema to apply; `None` when a resumed load has it already.
    pre_data: Option<pre_data::PreData>,
}

/// Sizes, the signature and whose snapshot it is here; every file's SHA-256 is checked as it is
/// loaded, so a file changed after this point is caught before the swap, and nothing is read
/// twice.
fn verified(profile: &Profile, req: &RestoreRequest, label: &str, dir: &Path) -> Result<Manifest> {
    whose(profile, req, verified_files(profile, label, dir)?)
}

/// The manifest, when it is a snapshot of the profile asked for.
fn whose(profile: &Profile, req: &RestoreRequest, m: Manifest) -> Result<Manifest> {
    let label = m.label.clone();
    let expected = req.from_profile.as_deref().unwrap_or(&profile.name);
    if m.profile != expected {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "snapshot {label} was taken for profile '{}', not '{expected}', so it was not restored",
                m.profile
            ),
        )
        .hint(format!(
            "restore a snapshot of profile '{}'; to load this one into its staging on purpose, name its profile: --from-profile {}",
            profile.name, m.profile
        )));
    }
    Ok(m)
}

fn verified_files(profile: &Profile, label: &str, dir: &Path) -> Result<Manifest> {
    let report = snapshot::verify(
        dir,
        profile.snapshot.allowed_signers.as_deref(),
        None,
        profile.restore.workers(),
        snapshot::Depth::Sizes,
    );
    match report.manifest {
        Some(m) if report.failures.is_empty() => Ok(m),
        _ => Err(Error::new(
            Kind::BadInput,
            format!(
                "snapshot {label} does not verify, so it was not restored: {}",
                report.failures.join("; ")
            ),
        )
        .hint("run acc verify for details; restore an older snapshot that verifies")),
    }
}

fn identity(profile: &Profile) -> Result<PathBuf> {
    profile.restore.age_identity.clone().ok_or_else(|| {
        Error::config(format!(
            "profile '{}' has no restore.age_identity to decrypt snapshots",
            profile.name
        ))
        .hint("set age_identity under [profiles.NAME.restore], or pass --identity FILE")
    })
}

/// Finishes a swap a kill cut short, and says what it did.
async fn repair(target: &Target, env: &Env) -> Result<()> {
    match swap::repair(target, env).await? {
        swap::Repair::Nothing => {}
        swap::Repair::PreviousPutBack => crate::events::warning(&format!(
            "{} was missing after an interrupted swap; its previous copy is back in place",
            target.name()
        )),
        swap::Repair::Reopened => crate::events::warning(&format!(
            "{} refused new sessions after an interrupted swap; it accepts them again",
            target.name()
        )),
    }
    Ok(())
}

fn frozen(target: &Target, f: &FreezeState) -> Error {
    Error::new(
        Kind::Partial,
        format!(
            "skipped: the staging refresh of {} is frozen since {} by {}: {}",
            target.name(),
            f.frozen_at.format("%Y-%m-%d %H:%M UTC"),
            f.frozen_by,
            f.reason
        ),
    )
    .hint("staging keeps its data; acc freeze off lifts the freeze, --force overrides it")
}

/// Staging never goes back in time unless forced: an older snapshot is refused.
fn older_than_staging(
    m: &Manifest,
    info: &readonly::StagingInfo,
    target: &Target,
    force: bool,
) -> Option<Error> {
    (info.data_as_of > m.started_at && !force).then(|| {
        Error::new(
            Kind::BadInput,
            format!(
                "snapshot {} (data as of {}) is older than what {} holds ({}, as of {})",
                m.label,
                m.started_at.to_rfc3339(),
                target.name(),
                info.label,
                info.data_as_of.to_rfc3339()
            ),
        )
        .hint("--force restores it anyway; acc restore --rollback swaps back the previous copy")
    })
}

/// A failed run leaves no loaded copy behind; the live database is never touched here.
async fn drop_incoming(target: &Target, env: &Env) {
    if let Ok(admin) = target.maintenance(env).await {
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&target.incoming())
            ))
            .await;
    }
}

/// The load, the lock-down and their checks; returns whether it ended late, the schemas
/// preserved and the snapshot's manifest (a followed snapshot's as it was published).
async fn load_and_lock(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
    loading: &Loading<'_>,
    follow: Option<Follow>,
    deadline: Option<DateTime<FixedOffset>>,
) -> Result<(bool, Vec<String>, Manifest)> {
    let (target, m, done) = (loading.target, loading.manifest, loading.done);
    let mut phases = Phases::start();
    let src = load::Source {
        target,
        env,
        files: loading.files,
        manifest: m,
        ids: loading.ids,
        jobs: profile.restore.workers(),
        timeline: phases.timeline,
        done,
    };
    if done.resumed() {
        let files = m.tables.iter().map(|t| t.files.len()).sum::<usize>();
        let skipped = resume::summary(done, files, m.tables.len());
        src.timeline.skipped(&skipped);
        crate::events::info(&format!(
            "restore {}: resuming the load a cut-short run left in {}: pre-data kept, {skipped}",
            m.label,
            target.incoming()
        ));
    } else if let Some(pre) = &loading.pre_data {
        pre.apply(target, env).await?;
        let c = target.connect(&target.incoming(), env).await?;
        autovacuum::hold(&c).await?;
        resume::record(&c, resume::PRE_DATA).await?;
    }
    crate::failpoint::pause("restore:pre-data").await;
    let mut post = post_data::prepare(&src).await?;
    phases.mark("pre-data");
    let left: Vec<_> = (m.tables.iter().flat_map(|t| &t.files))
        .filter(|f| !done.has(&resume::file(&f.name)))
        .collect();
    let total: u64 = left.iter().map(|f| f.plaintext_bytes).sum();
    let files = left.len() as u64;
    let progress = req.progress.begin(
        Phase::Restore,
        &m.label,
        total,
        files,
        profile.restore.workers(),
    );
    let work = post.take_data_work();
    let loaded = match follow {
        None => pipeline::data(&src, &progress, work, None)
            .await
            .map(|_| (m.clone(), None)),
        Some(follow) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let check = |dir: &Path| verified(profile, req, &m.label, dir);
            let data = pipeline::data(&src, &progress, work, Some(rx));
            tokio::try_join!(follow.feed(m, tx, check), data)
                .map(|((published, watch), _)| (published, Some(watch)))
        }
    };
    progress.end();
    // from here on, the snapshot as published
    let (m, watch) = loaded?;
    let m = &m;
    let src = load::Source { manifest: m, ..src };
    phases.mark("data and table indexes");
    crate::failpoint::pause("restore:data-done").await;
    let keys = post_data::finish(&src, post).await?;
    phases.mark("post-data");
    crate::failpoint::pause("restore:post-data").await;
    let client = target.connect(&target.incoming(), env).await?;
    load::sequences(&client, m).await?;
    extension_rows::restore(&src, &client, &req.progress).await?;
    large_objects::restore(&src, &client, &req.progress).await?;
    crate::failpoint::pause("restore:large-objects").await;
    // with the indexes in, two things that do not wait for one another: materialized views,
    // which read the tables under ACCESS SHARE, which no key's lock blocks, and the foreign
    // keys with the statistics, ordered on one pool by the locks they take
    let (started, timeline) = (std::time::Instant::now(), src.timeline);
    let views = async {
        let r = matviews::refresh(
            target,
            env,
            &m.materialized_views,
            profile.restore.workers(),
        )
        .await;
        timeline.span("materialized views", started);
        r.map(|_| ())
    };
    let (checks, views) = tokio::join!(post_data::keys_and_statistics(&src, keys), views);
    checks.and(views)?;
    phases.mark("foreign keys + materialized views + analyze");
    if let Some(watch) = &watch {
        // with an object store, the swap waits for the bucket to name the snapshot
        watch.published_everywhere(m).await?;
        phases.mark("publication");
    }
    autovacuum::release(&client).await?;
    let preserved = readonly::preserve(target, env, &profile.restore.preserve_schemas).await?;
    let late = deadline.is_some_and(|d| Utc::now() > d);
    crate::failpoint::pause("restore:lock-down").await;
    lock_down(&client, target, &profile.restore.reader_role, m, late).await?;
    phases.mark("preserve and lock down");
    crate::events::info(&format!("restore {}: {}", m.label, phases.summary()));
    Ok((late, preserved, m.clone()))
}

/// How long each step took, for the log line an operator reads when a night runs long.
struct Phases {
    timeline: super::timeline::Timeline,
    last: std::time::Instant,
    done: Vec<(&'static str, f64)>,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            timeline: super::timeline::Timeline::start(),
            last: std::time::Instant::now(),
            done: Vec::new(),
        }
    }
    fn mark(&mut self, name: &'static str) {
        let took = self.timeline.span(name, self.last);
        self.done.push((name, took));
        self.last = std::time::Instant::now();
    }
    fn summary(&self) -> String {
        self.done
            .iter()
            .map(|(n, s)| format!("{n} {s:.1}s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The staging-ready deadline of the snapshot's business date; none for an on-demand one.
fn deadline_of(profile: &Profile, m: &Manifest) -> Option<DateTime<FixedOffset>> {
    let cutoff = m.cutoff?;
    let date = cutoff.with_timezone(&profile.region.anchor).date_naive();
    Some(Cutoff::of(&profile.region, date).deadline.fixed_offset())
}

fn outcome(
    m: &Manifest,
    target: &Target,
    already: bool,
    deadline: Option<DateTime<FixedOffset>>,
    late: bool,
    preserved: Vec<String>,
) -> RestoreReport {
    RestoreReport {
        label: m.label.clone(),
        database: target.name().to_string(),
        already_current: already,
        tables: m.tables.len(),
        rows: m.total_rows(),
        data_as_of: m.started_at,
        deadline,
        late,
        preserved_schemas: preserved,
    }
}

/// Refuses a target that is production itself: by configuration, and, when production answers,
/// by the server's identity.
async fn refuse_production(profile: &Profile, target: &Target, env: &Env) -> Result<()> {
    let Some(prod) = &profile.production else {
        return Ok(());
    };
    let same = |why: &str| {
        Error::config(format!(
            "the restore target {} is production ({why}); refusing to overwrite it",
            target.db.describe()
        ))
        .hint("point [staging] (or --target) at another server or database")
    };
    if prod.host == target.db.host && prod.port == target.db.port && prod.dbname == target.db.dbname
    {
        return Err(same("same host, port and database"));
    }
    // production may well be down during an outage: then the configuration check is all we have
    let Ok(p) = crate::pg::connect(prod, env, "acc restore").await else {
        return Ok(());
    };
    let t = target
        .connect(target.name(), env)
        .await
        .or(target.maintenance(env).await)?;
    let ident = "SELECT (SELECT system_identifier FROM pg_control_system())::text || ':' || current_setting('port')";
    let (Ok(a), Ok(b)) = (p.query_one(ident, &[]).await, t.query_one(ident, &[]).await) else {
        return Ok(());
    };
    let (a, b): (String, String) = (a.get(0), b.get(0));
    if a == b && prod.dbname == target.db.dbname {
        return Err(same("same server and database"));
    }
    Ok(())
}

/// Swaps the previous copy back into place.
pub async fn rollback(profile: &Profile, env: &Env, target: Option<Target>) -> Result<String> {
    let target = match target {
        Some(t) => t,
        None => Target {
            db: profile.staging()?.clone(),
            is_staging: true,
        },
    };
    target.check_name()?;
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let _lock = store.run_lock(
        crate::store::RESTORE_LOCK,
        &format!("a restore of profile '{}'", profile.name),
    )?;
    swap::roll_back(&target, env).await?;
    Ok(target.name().to_string())
}
