//! A restore that follows a snapshot still being taken in this host's store (`acc refresh`,
//! `acc restore --follow`); with an object store, the snapshot host's cache, where it is
//! captured before it goes up. The snapshot's journal is read as it grows: its plan stands in for
//! the manifest until the end, its schema archives load first, and each data file is handed
//! to the loading workers once it is sealed. When the snapshot publishes, its manifest is
//! checked as any restore checks it (signature, sizes, nothing unlisted), every file already
//! loaded must be the one it lists (size and SHA-256; each was also hashed as it loaded), and
//! the files the journal had not yet told of are handed over from it. Nothing is swapped
//! before that; with an object store, nothing before the bucket's pointer names it too
//! (`watch`), and the restore holds the profile's restore lease in the bucket. A snapshot that
//! fails, or whose process is gone without publishing, fails the restore, which then drops its
//! incoming database.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::run::{Found, RestoreReport, RestoreRequest, restore_found, target_of};
use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::objects::Bucket;
use crate::snapshot::journal::{self, Entry};
use crate::snapshot::manifest::{self, Manifest};
use crate::store::ProfileStore;

use super::watch::{POLL, Taker, Watch};

/// A snapshot in progress, followed.
pub struct Follow {
    pub watch: Watch,
    /// Journal entries read so far, and the chain of the last one: a journal that no
    /// longer holds it is another run's (the label taken again).
    seen: usize,
    last_chain: Option<String>,
    /// Data files told of and not yet handed over.
    waiting: Vec<manifest::File>,
    /// Where snapshots are signed: each read of the journal must end on a line one of these
    /// signed, or nothing of it is used.
    allowed_signers: Option<PathBuf>,
}

enum Now {
    Entries(Vec<Entry>),
    Published,
}

impl Follow {
    pub fn new(watch: Watch, allowed_signers: Option<PathBuf>) -> Follow {
        Follow {
            watch,
            seen: 0,
            last_chain: None,
            waiting: Vec::new(),
            allowed_signers,
        }
    }

    fn fail(&self) {
        self.watch.failed.store(true, Ordering::SeqCst);
    }

    /// What the journal holds beyond what was read, or that the snapshot is published. A
    /// snapshot no longer running and not published is gone, whatever its journal still
    /// says; so is one whose journal was started again.
    async fn next(&mut self) -> Result<Now> {
        loop {
            let running = self.watch.running().await?;
            if self.watch.published_here() {
                return Ok(Now::Published);
            }
            if !running {
                return Err(self.watch.gone());
            }
            // the journal is removed just before the manifest is written: missing, it has
            // nothing new
            let text = std::fs::read_to_string(self.watch.partial().join(journal::FILE_NAME));
            let lines = match text {
                Ok(text) => journal::lines(&text).inspect_err(|_| self.fail())?,
                Err(_) => Vec::new(),
            };
            if !lines.is_empty() && self.seen > 0 {
                let same_run =
                    lines.get(self.seen - 1).map(|l| &l.chain) == self.last_chain.as_ref();
                if !same_run {
                    return Err(self.watch.gone());
                }
            }
            if lines.len() > self.seen {
                if let (Some(signers), Some(last)) = (&self.allowed_signers, lines.last()) {
                    let (signers, last) = (signers.clone(), last.clone());
                    crate::pool::run(move || journal::check_signed(&last, &signers))
                        .await
                        .and_then(|checked| checked)
                        .inspect_err(|_| self.fail())?;
                }
                self.last_chain = lines.last().map(|l| l.chain.clone());
                let new = lines[self.seen..].iter().map(|l| l.entry.clone()).collect();
                self.seen = lines.len();
                return Ok(Now::Entries(new));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The journal's plan: the manifest as far as the snapshot knew it before copying, with
    /// its schema archives' entries once both are sealed. `None` when the snapshot was
    /// published before the plan was read (the caller restores it as any snapshot).
    pub async fn plan(&mut self) -> Result<Option<Manifest>> {
        let mut plan: Option<Manifest> = None;
        let (mut pre, mut post) = (None, None);
        loop {
            match self.next().await? {
                Now::Published => return self.published_plan(),
                Now::Entries(entries) => {
                    for e in entries {
                        match e {
                            Entry::Plan(m) if m.label != self.watch.label => {
                                self.fail();
                                return Err(Error::new(
                                    Kind::BadInput,
                                    format!(
                                        "the journal of snapshot {} plans snapshot {}",
                                        self.watch.label, m.label
                                    ),
                                )
                                .hint("staging was not touched; the snapshot being followed is not what it says: take a new one"));
                            }
                            Entry::Plan(m) => plan = Some(*m),
                            Entry::Sealed(f)
                                if Some(&f.name)
                                    == plan.as_ref().map(|m| &m.schema.pre_data.name) =>
                            {
                                pre = Some(f)
                            }
                            Entry::Sealed(f)
                                if Some(&f.name)
                                    == plan.as_ref().map(|m| &m.schema.post_data.name) =>
                            {
                                post = Some(f)
                            }
                            Entry::Sealed(f) => self.waiting.push(f),
                        }
                    }
                }
            }
            if let (Some(m), Some(pre), Some(post)) = (&mut plan, &pre, &post) {
                m.schema.pre_data = pre.clone();
                m.schema.post_data = post.clone();
                return Ok(plan);
            }
        }
    }

    /// The plan of a snapshot published here before its journal was read: `None` (restored
    /// as any snapshot), but with an object store, its manifest, signature checked where
    /// signers are set, so its files load while it goes up and the swap still waits for the
    /// bucket.
    fn published_plan(&self) -> Result<Option<Manifest>> {
        if !self.watch.shared() {
            return Ok(None);
        }
        let dir = self.watch.published();
        if let Some(signers) = &self.allowed_signers {
            crate::crypt::signing::verify(signers, &dir.join(manifest::FILE_NAME))
                .inspect_err(|_| self.fail())?;
        }
        Manifest::read(&dir).map(Some)
    }

    /// Hands each data file over as it is sealed; once the snapshot is published here, checks
    /// its manifest (`check`: signature, sizes, whose) against the plan and against every file
    /// handed over, hands over the rest, and returns it with the watch the swap waits on
    /// (`Watch::published_everywhere`).
    pub async fn feed(
        mut self,
        plan: &Manifest,
        tx: mpsc::UnboundedSender<manifest::File>,
        check: impl FnOnce(&std::path::Path) -> Result<Manifest>,
    ) -> Result<(Manifest, Watch)> {
        let data: HashMap<&str, ()> = plan
            .tables
            .iter()
            .flat_map(|t| t.files.iter().map(|f| (f.name.as_str(), ())))
            .collect();
        let mut sent: HashMap<String, manifest::File> = HashMap::new();
        let hand = |f: manifest::File, sent: &mut HashMap<String, manifest::File>| {
            if data.contains_key(f.name.as_str()) && !sent.contains_key(&f.name) {
                let _ = tx.send(f.clone());
                sent.insert(f.name.clone(), f);
            }
        };
        for f in std::mem::take(&mut self.waiting) {
            hand(f, &mut sent);
        }
        loop {
            match self.next().await? {
                Now::Entries(entries) => {
                    for e in entries {
                        if let Entry::Sealed(f) = e {
                            hand(f, &mut sent);
                        }
                    }
                }
                Now::Published => break,
            }
        }
        let published = check(&self.watch.published()).inspect_err(|_| self.fail())?;
        let differs = |why: String| {
            self.fail();
            Error::new(
                Kind::BadInput,
                format!(
                    "snapshot {} as published differs from what its journal said: {why}",
                    self.watch.label
                ),
            )
            .hint("staging was not touched; restore the published snapshot: acc restore --snapshot LABEL")
        };
        if !same_snapshot(plan, &published) {
            return Err(differs("another start, WAL position or table list".into()));
        }
        for schema in [&published.schema.pre_data, &published.schema.post_data] {
            let loaded = [&plan.schema.pre_data, &plan.schema.post_data];
            if !loaded.iter().any(|f| *f == schema) {
                return Err(differs(format!("{} changed", schema.name)));
            }
        }
        for f in published.tables.iter().flat_map(|t| &t.files) {
            match sent.get(&f.name) {
                Some(told) if told == f => {}
                Some(_) => return Err(differs(format!("{} changed", f.name))),
                None => hand(f.clone(), &mut sent),
            }
        }
        Ok((published, self.watch))
    }
}

/// The newest snapshot being taken on this host: still captured, or, with an object store,
/// captured and still going up: the snapshot lease is held by a run on this host, the
/// newest snapshot in the cache was started under it, and the pointer names nothing as new.
async fn being_taken(
    store: &ProfileStore,
    bucket: Option<&Bucket>,
    profile: &str,
) -> Result<Option<String>> {
    if let Some(label) = store.in_progress()? {
        return Ok(Some(label));
    }
    let Some(bucket) = bucket else {
        return Ok(None);
    };
    let lease = crate::objects::snapshots::lease_key(profile, "snapshot");
    let holder = crate::objects::lease::holder(bucket, &lease).await?;
    let Some(holder) = holder.filter(|h| {
        !h.released && h.expires_at > chrono::Utc::now() && h.host == crate::host::name()
    }) else {
        return Ok(None);
    };
    let Ok((label, dir)) = store.resolve("latest") else {
        return Ok(None);
    };
    let started = Manifest::read(&dir)?.started_at.with_timezone(&chrono::Utc);
    if started < holder.taken_at {
        return Ok(None);
    }
    let pointed = crate::objects::snapshots::latest(bucket, profile).await?;
    let up = pointed.is_some_and(|(p, _)| p.label == label || p.as_of >= started);
    Ok((!up).then_some(label))
}

/// The same snapshot: label, start, WAL position, and the same tables, columns and files.
fn same_snapshot(plan: &Manifest, published: &Manifest) -> bool {
    let shape = |m: &Manifest| -> Vec<(String, String, Vec<String>, Vec<String>)> {
        m.tables
            .iter()
            .map(|t| {
                let files = t.files.iter().map(|f| f.name.clone()).collect();
                (t.schema.clone(), t.name.clone(), t.columns.clone(), files)
            })
            .collect()
    };
    plan.label == published.label
        && plan.started_at == published.started_at
        && plan.wal_lsn == published.wal_lsn
        && shape(plan) == shape(published)
}

/// Whether a restore of `profile` may follow a snapshot being taken: where snapshots are
/// checked, only if they are signed as they are taken. Checked before anything runs.
pub fn followable(profile: &Profile) -> Result<()> {
    // nothing of a snapshot may run before a signature is checked: here, its journal's,
    // which only a snapshot with a signing key has (taken on this host, by this profile)
    let snap = &profile.snapshot;
    match (&snap.allowed_signers, &snap.signing_key) {
        (Some(_), None) => Err(Error::config(format!(
            "profile '{}' checks snapshot signatures (snapshot.allowed_signers) but signs none (snapshot.signing_key): a snapshot it takes would be refused",
            profile.name
        ))
        .hint("set snapshot.signing_key to the key allowed_signers trusts (its journal and manifest are then signed as it goes)")),
        (Some(signers), Some(key)) => trusted(key, signers).map_err(|e| {
            Error::config(format!(
                "profile '{}' signs snapshots with a key its own snapshot.allowed_signers does not trust: {}",
                profile.name,
                e.message()
            ))
            .hint("add the signing key's public half to allowed_signers, or set the key it trusts")
        }),
        _ => Ok(()),
    }
}

/// Whether what `key` signs passes `allowed_signers`: a probe signed and checked.
fn trusted(key: &std::path::Path, signers: &std::path::Path) -> Result<()> {
    use crate::crypt::signing;
    let probe = b"acc snapshot signing probe";
    let signature = signing::sign_bytes(key, probe, signing::NAMESPACE)?;
    signing::verify_detached(signers, "probe", probe, &signature, signing::NAMESPACE).map(|_| ())
}

/// `acc restore --follow` (`taker`: another process) and `acc refresh` (this one): the restore
/// of snapshot `label`, or of the newest one being taken, loading it as it is taken. With an
/// object store, under the profile's restore lease in the bucket.
pub async fn restore_following(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
    label: Option<String>,
    taker: Taker,
) -> Result<RestoreReport> {
    followable(profile)?;
    let Some(url) = &profile.object_store else {
        return follow_into(profile, env, req, (label, taker), None).await;
    };
    let (bucket, lease) = crate::objects::leased(url, profile, env, "restore").await?;
    let done = follow_into(profile, env, req, (label, taker), Some(bucket)).await;
    lease.release().await;
    done
}

async fn follow_into(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
    (label, taker): (Option<String>, Taker),
    bucket: Option<Arc<Bucket>>,
) -> Result<RestoreReport> {
    let target = target_of(profile, req)?;
    target.check_name()?;
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let label = match label {
        Some(l) => l,
        None => being_taken(&store, bucket.as_deref(), &profile.name)
            .await?
            .ok_or_else(|| {
            Error::new(
                Kind::Temporary,
                format!("no snapshot of profile '{}' is being taken on this host", profile.name),
            )
            .hint("start acc snapshot first (or run acc refresh, which takes one and follows it); acc restore without --follow restores the latest")
        })?,
    };
    let watch = Watch::new(
        store.clone(),
        label.clone(),
        taker,
        bucket.map(|b| (b, profile.name.clone())),
    );
    let mut follow = Follow::new(watch, profile.snapshot.allowed_signers.clone());
    let found = match follow.plan().await? {
        Some(plan) => Found::Following(Box::new((follow, plan))),
        // published before its plan was read: a snapshot like any other
        None => Found::Here {
            dir: store.snapshot_dir(&label),
            label,
        },
    };
    restore_found(profile, env, req, (&target, &store), found).await
}
