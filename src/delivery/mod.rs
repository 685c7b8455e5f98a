//! Where exports land and where `acc pull` reads them from: a local directory, an SFTP
//! server or an S3-compatible bucket, behind one blocking interface, and `Remote`, its async
//! face. Directories publish by rename; a bucket, which cannot rename, by create-only writes
//! (`renames`).

mod bucket;
mod known_hosts;
mod local;
mod remote;
mod sftp;

use std::io::{Read, Write};

pub use bucket::BucketDir;
pub use remote::Remote;

use crate::config::{S3Settings, Sftp};
use crate::location::Location;

use crate::env::Env;
use crate::error::{Error, Kind, Result};

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// An open delivery root. Paths are relative to it and use `/`.
pub enum Delivery {
    Local(local::LocalDir),
    Sftp(Box<sftp::SftpDir>),
    Bucket(bucket::BucketDir),
}

/// A file being written. `close` ends it without waiting for the disk: a day's files are made
/// durable together, by `Delivery::sync`, before its manifest is written (see `publish`).
pub enum Upload {
    Local(std::io::BufWriter<std::fs::File>),
    Sftp(std::io::BufWriter<ssh2::File>),
    Bucket(Box<bucket::BucketUpload>),
}

macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            Delivery::Local($d) => $e,
            Delivery::Sftp($d) => $e,
            Delivery::Bucket($d) => $e,
        }
    };
}

impl Delivery {
    /// Opens the location: for SFTP this connects, checks the host key and logs in; a bucket
    /// is reached at its first request.
    pub fn open(location: &Location, reach: &Reach, env: &Env) -> Result<Delivery> {
        Ok(match location {
            Location::Local(root) => Delivery::Local(local::LocalDir::at(root)?),
            Location::Sftp(addr) => Delivery::Sftp(Box::new(sftp::SftpDir::connect(
                addr,
                reach.sftp.as_ref(),
                env,
            )?)),
            Location::Bucket(url) => Delivery::Bucket(bucket::BucketDir::at(
                crate::objects::Bucket::open(url, &reach.s3, env)?,
            )),
        })
    }

    /// Whether a finished thing goes in by rename (directories); a bucket cannot rename, and
    /// publishes by a create-only write of the thing that makes the rest visible.
    pub fn renames(&self) -> bool {
        !matches!(self, Delivery::Bucket(_))
    }

    pub fn mkdir_all(&self, rel: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.mkdir_all(rel),
            Delivery::Sftp(d) => d.mkdir_all(rel),
            // a bucket has no directories: a prefix is there once an object is under it
            Delivery::Bucket(_) => Ok(()),
        }
    }

    /// Creates a new file readable by its owner only: never an existing one in a directory;
    /// in a bucket, under a run's own prefix, which nothing else writes.
    pub fn create(&self, rel: &str) -> Result<Upload> {
        Ok(match self {
            Delivery::Local(d) => Upload::Local(d.create(rel)?),
            Delivery::Sftp(d) => Upload::Sftp(d.create(rel)?),
            Delivery::Bucket(d) => Upload::Bucket(Box::new(d.create(rel))),
        })
    }

    pub fn open_read(&self, rel: &str) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Delivery::Local(d) => {
                Box::new(std::io::BufReader::with_capacity(1 << 20, d.open(rel)?))
            }
            Delivery::Sftp(d) => Box::new(d.open(rel)?),
            Delivery::Bucket(d) => Box::new(d.open(rel)?),
        })
    }

    /// A small file read whole (manifests, pointers), refused beyond `limit` bytes.
    pub fn read_small(&self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open_read(rel)?
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::new(Kind::Temporary, format!("cannot read {rel}")).source(e))?;
        if buf.len() as u64 > limit {
            return Err(Error::new(
                Kind::BadInput,
                format!("{rel} is larger than {limit} bytes"),
            ));
        }
        Ok(buf)
    }

    /// Writes a small file under a temporary name, then renames it to `rel` (which must not exist).
    /// A temporary file a killed run left under that name is removed first: the caller holds
    /// the run lock, so no live run is writing it.
    /// In a bucket it is one create-only write: refused when another run wrote `rel` first.
    pub fn write_small(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        if let Delivery::Bucket(d) = self {
            return d.write_new(rel, bytes);
        }
        let tmp = temp_name(rel);
        if self.exists(&tmp) {
            self.remove_file(&tmp)?;
        }
        let mut up = self.create(&tmp)?;
        let written = up.write_all(bytes).map_err(|e| io_failed(rel, e));
        let closed = written.and_then(|()| up.close_durable().map_err(|e| io_failed(rel, e)));
        if let Err(e) = closed.and_then(|()| self.rename(&tmp, rel)) {
            let _ = self.remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// Whether `rel` is there; `false` too when the destination cannot say (see `try_exists`).
    pub fn exists(&self, rel: &str) -> bool {
        self.try_exists(rel).unwrap_or(false)
    }

    /// Whether `rel` is there, or an error when the destination cannot say (a bucket's failed
    /// request): for a decision that removes files.
    pub fn try_exists(&self, rel: &str) -> Result<bool> {
        match self {
            Delivery::Local(d) => Ok(d.exists(rel)),
            Delivery::Sftp(d) => Ok(d.exists(rel)),
            Delivery::Bucket(d) => d.try_exists(rel),
        }
    }

    /// Replaces the small file `rel` with what `next` makes of its content (`None`: leave it).
    /// A directory gets it under `staged` first, then moved across (a reader in between finds
    /// no file); a bucket, by a write conditional on the content read, again when another
    /// writer came in between.
    pub fn replace_small(
        &self,
        rel: &str,
        staged: &str,
        next: &dyn Fn(Option<&[u8]>) -> Option<Vec<u8>>,
    ) -> Result<()> {
        if let Delivery::Bucket(d) = self {
            return d.replace(rel, next);
        }
        // another host may move it at the same moment: once more if it went back
        for _ in 0..2 {
            let now = self.read_small(rel, 64 * 1024).ok();
            let Some(body) = next(now.as_deref()) else {
                return Ok(());
            };
            self.remove_file(staged)?;
            self.write_small(staged, &body)?;
            self.remove_file(rel)?;
            if let Err(e) = self.rename(staged, rel)
                && !self.exists(rel)
            {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Renames onto a name that does not exist yet, durably (a local directory is fsynced).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.rename(from, to),
            Delivery::Sftp(d) => d.rename(from, to),
            Delivery::Bucket(d) => Err(no_rename(&d.describe(from))),
        }
    }

    /// `rename` inside a working directory that `sync_dir` makes durable later.
    pub fn rename_unsynced(&self, from: &str, to: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.rename_unsynced(from, to).map(drop),
            Delivery::Sftp(d) => d.rename_unsynced(from, to),
            Delivery::Bucket(d) => Err(no_rename(&d.describe(from))),
        }
    }

    /// Asks that a finished file's data be on disk (SFTP: fsync@openssh.com, where offered); a
    /// bucket holds an object once its write is answered.
    pub fn sync(&self, rel: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.sync(rel),
            Delivery::Sftp(d) => d.sync(rel),
            Delivery::Bucket(_) => Ok(()),
        }
    }

    /// Makes a directory's entries durable: a local fsync; SFTP and buckets have no such request.
    pub fn sync_dir(&self, rel: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.sync_dir(rel),
            Delivery::Sftp(_) | Delivery::Bucket(_) => Ok(()),
        }
    }

    /// Removes a file; a file already gone is not an error.
    pub fn remove_file(&self, rel: &str) -> Result<()> {
        each!(self, d => d.remove_file(rel))
    }

    pub fn list(&self, rel: &str) -> Result<Vec<Entry>> {
        each!(self, d => d.list(rel))
    }

    /// Removes a directory and everything in it.
    pub fn remove_tree(&self, rel: &str) -> Result<()> {
        let dir = match self {
            Delivery::Bucket(d) => return d.remove_tree(rel),
            Delivery::Local(_) | Delivery::Sftp(_) => rel,
        };
        for e in self.list(dir)? {
            let child = format!("{dir}/{}", e.name);
            if e.is_dir {
                self.remove_tree(&child)?;
            } else {
                self.remove_file(&child)?;
            }
        }
        match self {
            Delivery::Local(d) => d.remove_dir(dir),
            Delivery::Sftp(d) => d.remove_dir(dir),
            Delivery::Bucket(_) => Ok(()),
        }
    }
}

/// What a delivery needs beside its location: an SFTP server's settings, a bucket's.
#[derive(Clone, Default)]
pub struct Reach {
    pub sftp: Option<Sftp>,
    pub s3: S3Settings,
}

impl Reach {
    pub fn of(profile: &crate::config::Profile) -> Reach {
        Reach {
            sftp: profile.sftp.clone(),
            s3: profile.s3.clone(),
        }
    }
}

fn no_rename(what: &str) -> Error {
    Error::internal(format!("{what}: objects in a bucket cannot be renamed"))
}

impl Upload {
    /// Flushes and closes; the data may still be in the server's cache.
    pub fn close(self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::close(w, false),
            Upload::Sftp(w) => sftp::close(w, false),
            Upload::Bucket(w) => w.finish(),
        }
    }

    /// Flushes and syncs what has been written so far, and goes on writing. A large file synced
    /// in stretches as it is written leaves little for the day's durable publish to wait for.
    pub fn sync_so_far(&mut self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::sync_so_far(w),
            Upload::Sftp(w) => sftp::sync_so_far(w),
            // parts go up as they fill; the object is there once finished
            Upload::Bucket(_) => Ok(()),
        }
    }

    /// Flushes, syncs and closes: for small files written last (manifests, pointers).
    pub fn close_durable(self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::close(w, true),
            Upload::Sftp(w) => sftp::close(w, true),
            Upload::Bucket(w) => w.finish(),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Upload::Local(w) => w.write(buf),
            Upload::Sftp(w) => w.write(buf),
            Upload::Bucket(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => w.write_all(buf),
            Upload::Sftp(w) => w.write_all(buf),
            Upload::Bucket(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => w.flush(),
            Upload::Sftp(w) => w.flush(),
            Upload::Bucket(w) => w.flush(),
        }
    }
}

/// `dir/.name.tmp`: hidden, and never a name a reader looks for.
pub fn temp_name(rel: &str) -> String {
    match rel.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/.{name}.tmp"),
        None => format!(".{rel}.tmp"),
    }
}

fn io_failed(rel: &str, e: std::io::Error) -> Error {
    Error::new(Kind::Temporary, format!("cannot write {rel}")).source(e)
}
