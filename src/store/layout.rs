//! One profile's snapshot store: `<store>/<profile>/` holds complete snapshots `<label>/`,
//! runs in progress `<label>.partial/`, the `latest` link and the run lock.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, symlink};
use std::path::{Path, PathBuf};

use super::durable::fsync_dir;
use crate::error::{Error, Kind, Result};

/// Suffix of a snapshot still being written; it is never read as a snapshot.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// The link naming the newest complete snapshot.
pub const LATEST: &str = "latest";

#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
}

impl ProfileStore {
    /// The store of `profile` under `root`, created (mode 0700) if missing.
    pub fn open(root: &Path, profile: &str) -> Result<ProfileStore> {
        let dir = root.join(profile);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                Error::config(format!(
                    "cannot create the snapshot store {}",
                    dir.display()
                ))
                .source(e)
                .hint("check the profile's store setting and that acc may write there")
            })?;
        Ok(ProfileStore { dir })
    }

    /// The store of `profile` under `root`, which must already exist.
    pub fn existing(root: &Path, profile: &str) -> Result<ProfileStore> {
        let dir = root.join(profile);
        if !dir.is_dir() {
            return Err(Error::new(
                Kind::BadInput,
                format!("no snapshot store at {}", dir.display()),
            )
            .hint("run acc snapshot first, or check the profile's store setting"));
        }
        Ok(ProfileStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    /// The lock file `file` of this profile's store, held while a command runs; a second run
    /// is refused, naming `what` holds it.
    pub fn run_lock(&self, file: &str, what: &str) -> Result<super::RunLock> {
        super::RunLock::acquire(&self.dir.join(file), what)
    }

    pub fn partial_dir(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}{PARTIAL_SUFFIX}"))
    }

    pub fn snapshot_dir(&self, label: &str) -> PathBuf {
        self.dir.join(label)
    }

    /// The newest snapshot being taken (or left by a run that did not finish).
    pub fn in_progress(&self) -> Result<Option<String>> {
        let mut labels: Vec<String> = (self.entries()?.into_iter())
            .filter_map(|n| n.strip_suffix(PARTIAL_SUFFIX).map(str::to_string))
            .collect();
        labels.sort();
        Ok(labels.pop())
    }

    /// Removes what crashed runs left behind; call only while holding the run lock.
    pub fn remove_stale_partials(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for name in self.entries()? {
            if name.ends_with(PARTIAL_SUFFIX) {
                let path = self.dir.join(&name);
                fs::remove_dir_all(&path)
                    .map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
                removed.push(name);
            }
        }
        if !removed.is_empty() {
            fsync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Renames `<label>.partial` to `<label>` and points `latest` at it, each step durable.
    pub fn publish(&self, label: &str) -> Result<PathBuf> {
        self.publish_from(&self.partial_dir(label), label)
    }

    /// A directory of this store holding snapshot `label` whole (fetched from an object
    /// store) made `<label>`, and `latest` pointed at it, each step durable.
    pub fn publish_from(&self, from: &Path, label: &str) -> Result<PathBuf> {
        let to = self.snapshot_dir(label);
        fs::rename(from, &to).map_err(|e| {
            Error::internal(format!(
                "cannot rename {} to {}",
                from.display(),
                to.display()
            ))
            .source(e)
        })?;
        fsync_dir(&self.dir)?;
        let tmp = self
            .dir
            .join(format!(".{LATEST}.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        symlink(label, &tmp)
            .and_then(|()| fs::rename(&tmp, self.dir.join(LATEST)))
            .map_err(|e| Error::io(format!("cannot update {}/{LATEST}", self.dir.display()), e))?;
        fsync_dir(&self.dir)?;
        Ok(to)
    }

    /// The label `latest` points at, if any.
    pub fn latest(&self) -> Option<String> {
        fs::read_link(self.dir.join(LATEST))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// The directory of a complete snapshot named by its label or `latest`.
    pub fn resolve(&self, which: &str) -> Result<(String, PathBuf)> {
        let label = if which == LATEST {
            self.latest().ok_or_else(|| {
                Error::new(
                    Kind::BadInput,
                    format!("{} has no complete snapshot yet", self.dir.display()),
                )
                .hint("run acc snapshot first")
            })?
        } else {
            which.to_string()
        };
        if label.ends_with(PARTIAL_SUFFIX) || label.contains('/') || label.starts_with('.') {
            return Err(Error::usage(format!("'{label}' is not a snapshot label")));
        }
        let dir = self.snapshot_dir(&label);
        if !dir.is_dir() {
            return Err(Error::new(
                Kind::BadInput,
                format!("no snapshot '{label}' in {}", self.dir.display()),
            )
            .hint(format!(
                "complete snapshots: {}",
                self.complete_labels()?.join(", ")
            )));
        }
        Ok((label, dir))
    }

    /// Labels of complete snapshots, in name order.
    pub fn complete_labels(&self) -> Result<Vec<String>> {
        let mut labels: Vec<String> = self
            .entries()?
            .into_iter()
            .filter(|n| !n.starts_with('.') && n != LATEST && !n.ends_with(PARTIAL_SUFFIX))
            .filter(|n| self.dir.join(n).is_dir())
            .collect();
        labels.sort();
        Ok(labels)
    }

    /// Deletes the oldest complete snapshots (oldest by `age_key`) so that `keep` remain.
    /// The snapshot `latest` names is never deleted, and neither is a directory `age_key`
    /// cannot date (no manifest acc can read): acc did not write it, so it is not acc's to remove.
    pub fn prune<K: Ord>(
        &self,
        keep: usize,
        age_key: impl Fn(&str) -> Option<K>,
    ) -> Result<Vec<String>> {
        let latest = self.latest();
        let mut dated: Vec<(K, String)> = self
            .complete_labels()?
            .into_iter()
            .filter_map(|l| Some((age_key(&l)?, l)))
            .collect();
        dated.sort_by(|a, b| a.0.cmp(&b.0));
        let labels: Vec<String> = dated.into_iter().map(|(_, l)| l).collect();
        let excess = labels.len().saturating_sub(keep.max(1));
        let doomed: Vec<String> = labels
            .into_iter()
            .filter(|l| Some(l) != latest.as_ref())
            .take(excess)
            .collect();
        for label in &doomed {
            let path = self.snapshot_dir(label);
            fs::remove_dir_all(&path)
                .map_err(|e| Error::io(format!("cannot prune {}", path.display()), e))?;
        }
        if !doomed.is_empty() {
            fsync_dir(&self.dir)?;
        }
        Ok(doomed)
    }

    fn entries(&self) -> Result<Vec<String>> {
        fs::read_dir(&self.dir)
            .and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect()
            })
            .map_err(|e| Error::io(format!("cannot list {}", self.dir.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(labels: &[&str]) -> (tempfile::TempDir, ProfileStore) {
        let root = tempfile::tempdir().unwrap();
        let store = ProfileStore::open(root.path(), "p").unwrap();
        for l in labels {
            fs::create_dir(store.partial_dir(l)).unwrap();
            store.publish(l).unwrap();
        }
        (root, store)
    }

    #[test]
    fn publishing_moves_the_latest_link() {
        let (_root, store) = store_with(&["2026-11-20", "2026-11-21"]);
        assert_eq!(store.latest().as_deref(), Some("2026-11-21"));
        assert_eq!(store.resolve("latest").unwrap().0, "2026-11-21");
        assert_eq!(
            store.complete_labels().unwrap(),
            ["2026-11-20", "2026-11-21"]
        );
    }

    #[test]
    fn partials_are_not_snapshots_and_are_removed() {
        let (_root, store) = store_with(&["2026-11-20"]);
        fs::create_dir(store.partial_dir("2026-11-21")).unwrap();
        assert_eq!(store.complete_labels().unwrap(), ["2026-11-20"]);
        assert!(store.resolve("2026-11-21.partial").is_err());
        assert_eq!(
            store.remove_stale_partials().unwrap(),
            ["2026-11-21.partial"]
        );
        assert!(!store.partial_dir("2026-11-21").exists());
    }

    #[test]
    fn pruning_keeps_the_newest_and_never_the_latest_link_target() {
        let (_root, store) = store_with(&["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]);
        assert_eq!(
            store.prune(2, |l| Some(l.to_string())).unwrap(),
            ["2026-11-18", "2026-11-19"]
        );
        assert_eq!(
            store.complete_labels().unwrap(),
            ["2026-11-20", "2026-11-21"]
        );
        // an ordering that calls the latest the oldest still spares it
        assert_eq!(
            store
                .prune(1, |l| Some(std::cmp::Reverse(l.to_string())))
                .unwrap(),
            ["2026-11-20"]
        );
        assert_eq!(store.complete_labels().unwrap(), ["2026-11-21"]);
    }

    #[test]
    fn a_directory_acc_cannot_date_is_never_pruned() {
        let (_root, store) = store_with(&["2026-11-19", "2026-11-20", "2026-11-21"]);
        fs::create_dir(store.dir().join("archive-by-hand")).unwrap();
        let dated = |l: &str| (l != "archive-by-hand").then(|| l.to_string());
        assert_eq!(store.prune(1, dated).unwrap(), ["2026-11-19", "2026-11-20"]);
        assert!(store.dir().join("archive-by-hand").is_dir());
    }
}
