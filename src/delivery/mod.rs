//! Where exports land and where `acc pull` reads them from: a local directory or an SFTP
//! server, behind one blocking interface, and `Remote`, its async face.

mod known_hosts;
mod local;
mod remote;
mod sftp;

use std::io::{Read, Write};

pub use remote::Remote;

use crate::config::Sftp;
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
}

/// A file being written. `close` ends it without waiting for the disk: a day's files are made
/// durable together, by `Delivery::sync`, before its manifest is written (see `publish`).
pub enum Upload {
    Local(std::io::BufWriter<std::fs::File>),
    Sftp(std::io::BufWriter<ssh2::File>),
}

macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            Delivery::Local($d) => $e,
            Delivery::Sftp($d) => $e,
        }
    };
}

impl Delivery {
    /// Opens the location: for SFTP this connects, checks the host key and logs in.
    pub fn open(location: &Location, sftp: Option<&Sftp>, env: &Env) -> Result<Delivery> {
        Ok(match location {
            Location::Local(root) => Delivery::Local(local::LocalDir::at(root)?),
            Location::Sftp(addr) => {
                Delivery::Sftp(Box::new(sftp::SftpDir::connect(addr, sftp, env)?))
            }
        })
    }

    pub fn mkdir_all(&self, rel: &str) -> Result<()> {
        each!(self, d => d.mkdir_all(rel))
    }

    /// Creates a new file (never an existing one) readable by its owner only.
    pub fn create(&self, rel: &str) -> Result<Upload> {
        Ok(match self {
            Delivery::Local(d) => Upload::Local(d.create(rel)?),
            Delivery::Sftp(d) => Upload::Sftp(d.create(rel)?),
        })
    }

    pub fn open_read(&self, rel: &str) -> Result<Box<dyn Read + Send>> {
        Ok(match self {
            Delivery::Local(d) => {
                Box::new(std::io::BufReader::with_capacity(1 << 20, d.open(rel)?))
            }
            Delivery::Sftp(d) => Box::new(d.open(rel)?),
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
    pub fn write_small(&self, rel: &str, bytes: &[u8]) -> Result<()> {
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

    pub fn exists(&self, rel: &str) -> bool {
        each!(self, d => d.exists(rel))
    }

    /// Renames onto a name that does not exist yet, durably (a local directory is fsynced).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        each!(self, d => d.rename(from, to))
    }

    /// `rename` inside a working directory that `sync_dir` makes durable later.
    pub fn rename_unsynced(&self, from: &str, to: &str) -> Result<()> {
        match self {
            Delivery::Local(d) => d.rename_unsynced(from, to).map(drop),
            Delivery::Sftp(d) => d.rename_unsynced(from, to),
        }
    }

    /// Asks that a finished file's data be on disk (SFTP: fsync@openssh.com, where offered).
    pub fn sync(&self, rel: &str) -> Result<()> {
        each!(self, d => d.sync(rel))
    }

    /// Makes a directory's entries durable: a local fsync; SFTP has no such request.
    pub fn sync_dir(&self, rel: &str) -> Result<()> {
        each!(self, d => d.sync_dir(rel))
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
        for e in self.list(rel)? {
            let child = format!("{rel}/{}", e.name);
            if e.is_dir {
                self.remove_tree(&child)?;
            } else {
                self.remove_file(&child)?;
            }
        }
        each!(self, d => d.remove_dir(rel))
    }
}

impl Upload {
    /// Flushes and closes; the data may still be in the server's cache.
    pub fn close(self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::close(w, false),
            Upload::Sftp(w) => sftp::close(w, false),
        }
    }

    /// Flushes and syncs what has been written so far, and goes on writing. A large file synced
    /// in stretches as it is written leaves little for the day's durable publish to wait for.
    pub fn sync_so_far(&mut self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::sync_so_far(w),
            Upload::Sftp(w) => sftp::sync_so_far(w),
        }
    }

    /// Flushes, syncs and closes: for small files written last (manifests, pointers).
    pub fn close_durable(self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => local::close(w, true),
            Upload::Sftp(w) => sftp::close(w, true),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Upload::Local(w) => w.write(buf),
            Upload::Sftp(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => w.write_all(buf),
            Upload::Sftp(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Upload::Local(w) => w.flush(),
            Upload::Sftp(w) => w.flush(),
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
