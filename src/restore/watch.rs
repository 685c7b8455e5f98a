//! Whether a snapshot a restore follows is still being taken, and whether it is published:
//! in this host's store (its manifest written), and with an object store, in the bucket too
//! (the pointer names it with that manifest). A followed restore loads from this host's copy
//! once it is published here, and swaps only once it is published everywhere it goes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::Digest as _;

use crate::error::{Error, Kind, Result};
use crate::objects::{Bucket, snapshots};
use crate::snapshot::manifest;
use crate::store::ProfileStore;

pub(super) const POLL: Duration = Duration::from_millis(100);

/// Whether the snapshot is still being taken: in this process (`acc refresh` knows), or in
/// another one, which holds the store's snapshot lock while it captures and, with an object
/// store, the bucket's snapshot lease until it has published there.
#[derive(Clone)]
pub enum Taker {
    Here(Arc<AtomicBool>),
    Elsewhere,
}

/// One snapshot being taken, watched.
pub struct Watch {
    store: ProfileStore,
    pub label: String,
    taker: Taker,
    /// The bucket of a profile whose snapshots go to an object store, and the profile's name.
    shared: Option<(Arc<Bucket>, String)>,
    /// The snapshot failed: the restore drops what it loaded.
    pub failed: Arc<AtomicBool>,
    /// The snapshot lease's holder first seen running it (a run on this host): a later
    /// holder is another run, not this snapshot still going up.
    holder: std::sync::Mutex<Option<String>>,
}

impl Watch {
    pub fn new(
        store: ProfileStore,
        label: String,
        taker: Taker,
        shared: Option<(Arc<Bucket>, String)>,
    ) -> Watch {
        Watch {
            store,
            label,
            taker,
            shared,
            failed: Arc::new(AtomicBool::new(false)),
            holder: std::sync::Mutex::new(None),
        }
    }

    /// Whether the snapshot also goes to an object store.
    pub fn shared(&self) -> bool {
        self.shared.is_some()
    }

    pub fn partial(&self) -> PathBuf {
        self.store.partial_dir(&self.label)
    }

    pub fn published(&self) -> PathBuf {
        self.store.snapshot_dir(&self.label)
    }

    /// Published in this host's store: its manifest is there (signed first, where signing is
    /// configured).
    pub fn published_here(&self) -> bool {
        self.published().join(manifest::FILE_NAME).exists()
    }

    pub async fn running(&self) -> Result<bool> {
        if let Taker::Here(running) = &self.taker {
            return Ok(running.load(Ordering::SeqCst));
        }
        // the lock is free only when no snapshot runs; taken for an instant. Busy means
        // running; a lock that cannot be opened at all is an error, not a snapshot
        let what = "a restore checking that the snapshot it follows still runs";
        match crate::store::RunLock::acquire(&self.store.lock_path(), what) {
            Ok(_) => {}
            Err(e) if e.kind() == Kind::Temporary => return Ok(true),
            Err(e) => return Err(e),
        }
        // captured here, it may still be going up: the snapshot lease says so, held by a run
        // on this host, the same one each time
        let Some((bucket, profile)) = &self.shared else {
            return Ok(false);
        };
        let lease = snapshots::lease_key(profile, "snapshot");
        let Some(h) = crate::objects::lease::holder(bucket, &lease).await? else {
            return Ok(false);
        };
        if h.released || h.expires_at <= chrono::Utc::now() || h.host != crate::host::name() {
            return Ok(false);
        }
        let mut first = self.holder.lock().expect("holder lock");
        Ok(first.get_or_insert_with(|| h.id.clone()) == &h.id)
    }

    /// The snapshot ended without being published: the restore fails and drops its load.
    pub fn gone(&self) -> Error {
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

    /// Waits, once it is published here (`m`, its manifest as checked), until it is
    /// published in the bucket too (without an object store, at once); fails when its run
    /// ends first, or when the bucket names newer data, which it then never will.
    pub async fn published_everywhere(&self, m: &manifest::Manifest) -> Result<()> {
        let Some((bucket, profile)) = &self.shared else {
            return Ok(());
        };
        // the manifest file as this host has it: the bytes the pointer vouches for
        let path = self.published().join(manifest::FILE_NAME);
        let here = std::fs::read(&path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let ours = crate::crypt::hex(&sha2::Sha256::digest(&here));
        let started = m.started_at.with_timezone(&chrono::Utc);
        let mut told = false;
        loop {
            let running = self.running().await?;
            if let Some((p, _)) = snapshots::latest(bucket, profile).await? {
                if p.label == self.label && p.manifest_sha256 == ours {
                    return Ok(());
                }
                if p.label != self.label && p.as_of >= started {
                    self.failed.store(true, Ordering::SeqCst);
                    return Err(Error::new(
                        Kind::BadInput,
                        format!(
                            "the bucket names snapshot {} (data as of {}), as new as {} this restore followed, which will not be published",
                            p.label, p.as_of, self.label
                        ),
                    )
                    .hint("staging was not touched; run acc restore, which restores the snapshot the bucket names"));
                }
            }
            if !running {
                return Err(self.gone());
            }
            if !told {
                told = true;
                crate::events::info(&format!(
                    "restore {}: loaded; the swap waits for {} to name it",
                    self.label,
                    bucket.describe(&snapshots::pointer_key(profile))
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
