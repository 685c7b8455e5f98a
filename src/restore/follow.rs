//! A restore that follows a snapshot still being taken in this host's store (`acc refresh`,
//! `acc restore --follow`). The snapshot's journal is read as it grows: its plan stands in for
//! the manifest until the end, its schema archives load first, and each data file is handed
//! to the loading workers once it is sealed. When the snapshot publishes, its manifest is
//! checked as any restore checks it (signature, sizes, nothing unlisted), every file already
//! loaded must be the one it lists (size and SHA-256; each was also hashed as it loaded), and
//! the files the journal had not yet told of are handed over from it. Nothing is swapped
//! before that. A snapshot that fails, or whose process is gone without publishing, fails the
//! restore, which then drops its incoming database.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::run::{Found, RestoreReport, RestoreRequest, restore_found, target_of};
use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::snapshot::journal::{self, Entry};
use crate::snapshot::manifest::{self, Manifest};
use crate::store::ProfileStore;

const POLL: Duration = Duration::from_millis(100);

/// Whether the snapshot is still being taken: in this process (`acc refresh` knows), or in
/// another one, which holds the store's snapshot lock while it runs.
#[derive(Clone)]
pub enum Taker {
    Here(Arc<AtomicBool>),
    Elsewhere,
}

/// A snapshot in progress, followed.
pub struct Follow {
    store: ProfileStore,
    pub label: String,
    taker: Taker,
    /// Journal entries read so far, and the chain of the last one: a journal that no
    /// longer holds it is another run's (the label taken again).
    seen: usize,
    last_chain: Option<String>,
    /// Data files told of and not yet handed over.
    waiting: Vec<manifest::File>,
    /// Where snapshots are signed: each read of the journal must end on a line one of these
    /// signed, or nothing of it is used.
    allowed_signers: Option<PathBuf>,
    /// The snapshot failed: the restore drops what it loaded.
    pub failed: Arc<AtomicBool>,
}

enum Now {
    Entries(Vec<Entry>),
    Published,
}

impl Follow {
    pub fn new(
        store: ProfileStore,
        label: String,
        taker: Taker,
        allowed_signers: Option<PathBuf>,
    ) -> Follow {
        Follow {
            store,
            label,
            taker,
            seen: 0,
            last_chain: None,
            waiting: Vec::new(),
            allowed_signers,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn partial(&self) -> PathBuf {
        self.store.partial_dir(&self.label)
    }

    pub fn published(&self) -> PathBuf {
        self.store.snapshot_dir(&self.label)
    }

    fn running(&self) -> Result<bool> {
        match &self.taker {
            Taker::Here(running) => Ok(running.load(Ordering::SeqCst)),
            Taker::Elsewhere => {
                // the lock is free only when no snapshot runs; taken for an instant. Busy means
                // running; a lock that cannot be opened at all is an error, not a snapshot
                let what = "a restore checking that the snapshot it follows still runs";
                match crate::store::RunLock::acquire(&self.store.lock_path(), what) {
                    Ok(_) => Ok(false),
                    Err(e) if e.kind() == Kind::Temporary => Ok(true),
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn gone(&self) -> Error {
        self.failed.store(true, Ordering::SeqCst);
        Error::new(
            Kind::Temporary,
            format!(
                "the snapshot {} this restore followed ended without being published",
                self.label
            ),
        )
        .hint("staging was not touched; the snapshot failed or was killed (its own log says why): run the refresh again")
    }

    /// What the journal holds beyond what was read, or that the snapshot is published. A
    /// snapshot no longer running and not published is gone, whatever its journal still
    /// says; so is one whose journal was started again.
    async fn next(&mut self) -> Result<Now> {
        loop {
            let running = self.running()?;
            if self.published().join(manifest::FILE_NAME).exists() {
                return Ok(Now::Published);
            }
            if !running {
                return Err(self.gone());
            }
            // the journal is removed just before the manifest is written: missing, it has
            // nothing new
            let text = std::fs::read_to_string(self.partial().join(journal::FILE_NAME));
            let lines = match text {
                Ok(text) => journal::lines(&text).inspect_err(|_| {
                    self.failed.store(true, Ordering::SeqCst);
                })?,
                Err(_) => Vec::new(),
            };
            if !lines.is_empty() && self.seen > 0 {
                let same_run =
                    lines.get(self.seen - 1).map(|l| &l.chain) == self.last_chain.as_ref();
                if !same_run {
                    return Err(self.gone());
                }
            }
            if lines.len() > self.seen {
                if let (Some(signers), Some(last)) = (&self.allowed_signers, lines.last()) {
                    journal::check_signed(last, signers).inspect_err(|_| {
                        self.failed.store(true, Ordering::SeqCst);
                    })?;
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
                Now::Published => return Ok(None),
                Now::Entries(entries) => {
                    for e in entries {
                        match e {
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

    /// Hands each data file over as it is sealed; once the snapshot is published, checks its
    /// manifest (`check`: signature, sizes, whose) against the plan and against every file
    /// handed over, hands over the rest, and returns it.
    pub async fn feed(
        mut self,
        plan: &Manifest,
        tx: mpsc::UnboundedSender<manifest::File>,
        check: impl FnOnce(&std::path::Path) -> Result<Manifest>,
    ) -> Result<Manifest> {
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
        let published = check(&self.published()).inspect_err(|_| {
            self.failed.store(true, Ordering::SeqCst);
        })?;
        let differs = |why: String| {
            self.failed.store(true, Ordering::SeqCst);
            Error::new(
                Kind::BadInput,
                format!(
                    "snapshot {} as published differs from what its journal said: {why}",
                    self.label
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
        Ok(published)
    }
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

/// Whether a restore of `profile` may follow a snapshot being taken: not from an object
/// store, and, where snapshots are checked, only if they are signed as they are taken.
/// Checked before anything runs.
pub fn followable(profile: &Profile) -> Result<()> {
    if profile.object_store.is_some() {
        return Err(Error::config(format!(
            "profile '{}' keeps its snapshots in an object store; a restore follows a snapshot being taken into this host's store only",
            profile.name
        ))
        .hint("run acc snapshot, then acc restore (it streams the snapshot from the bucket)"));
    }
    // nothing of a snapshot may run before a signature is checked: here, its journal's,
    // which only a snapshot with a signing key has (taken on this host, by this profile)
    if profile.snapshot.allowed_signers.is_some() && profile.snapshot.signing_key.is_none() {
        return Err(Error::config(format!(
            "profile '{}' checks snapshot signatures (snapshot.allowed_signers) but signs none (snapshot.signing_key): a snapshot it takes would be refused",
            profile.name
        ))
        .hint("set snapshot.signing_key to the key allowed_signers trusts (its journal and manifest are then signed as it goes)"));
    }
    Ok(())
}

/// `acc restore --follow` (`taker`: another process) and `acc refresh` (this one): the restore
/// of snapshot `label`, or of the newest one being taken, loading it as it is taken.
pub async fn restore_following(
    profile: &Profile,
    env: &Env,
    req: &RestoreRequest,
    label: Option<String>,
    taker: Taker,
) -> Result<RestoreReport> {
    followable(profile)?;
    let target = target_of(profile, req)?;
    target.check_name()?;
    let store = ProfileStore::open(&profile.store, &profile.name)?;
    let label = match label {
        Some(l) => l,
        None => store.in_progress()?.ok_or_else(|| {
            Error::new(
                Kind::Temporary,
                format!("no snapshot of profile '{}' is being taken", profile.name),
            )
            .hint("start acc snapshot first (or run acc refresh, which takes one and follows it); acc restore without --follow restores the latest")
        })?,
    };
    let mut follow = Follow::new(
        ProfileStore::open(&profile.store, &profile.name)?,
        label.clone(),
        taker,
        profile.snapshot.allowed_signers.clone(),
    );
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
