//! A delivery directory on a local or mounted filesystem: private modes, `create_new`,
//! fsync of files and of the directories whose entries change.

use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Entry;
use crate::error::{Error, Result};
use crate::store::fsync_dir;

pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn at(root: &Path) -> Result<LocalDir> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| io("cannot create the delivery directory", root, e))?;
        Ok(LocalDir {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn mkdir_all(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)
            .map_err(|e| io("cannot create", &p, e))
    }

    pub fn create(&self, rel: &str) -> Result<BufWriter<File>> {
        let p = self.path(rel);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| io("cannot create", &p, e))?;
        Ok(BufWriter::with_capacity(1 << 20, f))
    }

    pub fn open(&self, rel: &str) -> Result<File> {
        let p = self.path(rel);
        File::open(&p).map_err(|e| io("cannot open", &p, e))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let b = self.rename_unsynced(from, to)?;
        fsync_dir(b.parent().unwrap_or(&self.root))
    }

    /// Onto a new name only, as OpenSSH's SFTP rename: a file is linked under the new name
    /// (which fails if the name exists, even when another process takes it at the same
    /// moment) and then unlinked; a directory, or a file where links are not supported, is
    /// renamed after a check.
    pub fn rename_unsynced(&self, from: &str, to: &str) -> Result<PathBuf> {
        let (a, b) = (self.path(from), self.path(to));
        if a.is_file() {
            match fs::hard_link(&a, &b) {
                Ok(()) => {
                    fs::remove_file(&a).map_err(|e| io("cannot remove", &a, e))?;
                    return Ok(b);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(io("cannot rename", &a, e));
                }
                // a filesystem without hard links (a FAT drive, some shares): check, rename
                Err(_) => {}
            }
        }
        if b.exists() {
            return Err(Error::internal(format!("{} already exists", b.display())));
        }
        fs::rename(&a, &b).map_err(|e| io("cannot rename", &a, e))?;
        Ok(b)
    }

    pub fn sync(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot fsync", &p, e))
    }

    pub fn sync_dir(&self, rel: &str) -> Result<()> {
        fsync_dir(&self.path(rel))
    }

    pub fn remove_file(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("cannot remove", &p, e)),
            _ => Ok(()),
        }
    }

    pub fn remove_dir(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        fs::remove_dir(&p).map_err(|e| io("cannot remove", &p, e))
    }

    pub fn list(&self, rel: &str) -> Result<Vec<Entry>> {
        let p = self.path(rel);
        let mut out = Vec::new();
        for e in fs::read_dir(&p).map_err(|e| io("cannot list", &p, e))? {
            let e = e.map_err(|e| io("cannot list", &p, e))?;
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if let Some(name) = e.file_name().to_str() {
                out.push(Entry {
                    name: name.to_string(),
                    is_dir,
                });
            }
        }
        Ok(out)
    }
}

pub fn sync_so_far(w: &mut BufWriter<File>) -> std::io::Result<()> {
    std::io::Write::flush(w)?;
    w.get_ref().sync_data()
}

/// A finished upload is flushed, and fsynced when `durable`.
pub fn close(w: BufWriter<File>, durable: bool) -> std::io::Result<()> {
    let f = w.into_inner().map_err(|e| e.into_error())?;
    if durable { f.sync_all() } else { Ok(()) }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
        crate::error::Kind::Permission
    } else {
        crate::error::Kind::Unavailable
    };
    Error::new(kind, format!("{what} {}", path.display())).source(e)
}
