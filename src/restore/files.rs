//! Where a restore reads a snapshot's sealed files from: a directory of this host's store (or
//! a snapshot still being taken into it), or the bucket a shared store names, each file streamed from it as it loads (no local copy).

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::delivery::BucketDir;
use crate::error::{Error, Kind, Result};

#[derive(Clone)]
pub enum Files {
    Dir(PathBuf),
    /// A snapshot still being taken: its `.partial` directory, and where it is published.
    Following {
        partial: PathBuf,
        published: PathBuf,
    },
    /// The bucket, and the snapshot's prefix in it.
    Bucket(BucketDir, String),
}

impl Files {
    /// The sealed file `name`, as it is read.
    pub fn open(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        match self {
            Files::Dir(dir) => {
                let path = dir.join(name);
                let file = std::fs::File::open(&path).map_err(|e| {
                    Error::new(Kind::BadInput, format!("cannot open {}", path.display())).source(e)
                })?;
                Ok(Box::new(file))
            }
            // the directory is renamed when the snapshot is published, files and all; a
            // file in neither place went with a snapshot that died (its next run removes
            // what it left), which the follower reports
            Files::Following { partial, published } => {
                let open = |dir: &PathBuf| std::fs::File::open(dir.join(name));
                match open(partial).or_else(|_| open(published)) {
                    Ok(file) => Ok(Box::new(file)),
                    Err(e) => Err(Error::new(
                        Kind::Temporary,
                        format!("{} is gone from the snapshot being followed", name),
                    )
                    .source(e)
                    .hint("the snapshot ended without being published: staging was not touched; run the refresh again")),
                }
            }
            Files::Bucket(bucket, base) => match bucket.open(&format!("{base}/{name}")) {
                Ok(reader) => Ok(Box::new(reader)),
                Err(e) if e.kind() == Kind::Unavailable => Err(Error::new(
                    Kind::Temporary,
                    format!("{} is gone from the bucket", self.path(name).display()),
                )
                .hint("it was pruned while the restore ran (a newer snapshot went in): staging was not touched; run the restore again")),
                Err(e) => Err(e),
            },
        }
    }

    /// `open`, with what goes wrong reading the source (the disk, the bucket) told apart from
    /// what is wrong with its content.
    pub fn open_watched(&self, name: &str) -> Result<(Box<dyn Read + Send>, SourceFailed)> {
        let failed = SourceFailed::default();
        let inner = self.open(name)?;
        let watched = Watched {
            inner,
            failed: failed.clone(),
        };
        Ok((Box::new(watched), failed))
    }

    /// A small sealed file whole (the schema archives).
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(name)?.read_to_end(&mut bytes).map_err(|e| {
            Error::new(
                Kind::Temporary,
                format!("cannot read {}", self.path(name).display()),
            )
            .source(e)
        })?;
        Ok(bytes)
    }

    /// Where `name` is, for messages.
    pub fn path(&self, name: &str) -> PathBuf {
        match self {
            Files::Dir(dir) => dir.join(name),
            Files::Following { published, .. } => published.join(name),
            Files::Bucket(bucket, base) => {
                PathBuf::from(bucket.describe(&format!("{base}/{name}")))
            }
        }
    }
}

/// The first error reading a file's source, if there was one, and its kind (`BadInput`: the
/// object was replaced while it was read).
#[derive(Clone, Default)]
pub struct SourceFailed(Arc<Mutex<Option<(String, Kind)>>>);

impl SourceFailed {
    pub fn get(&self) -> Option<(String, Kind)> {
        self.0.lock().map(|g| g.clone()).unwrap_or(None)
    }
}

struct Watched {
    inner: Box<dyn Read + Send>,
    failed: SourceFailed,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let kind = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<Error>())
                .map_or(Kind::Temporary, Error::kind);
            if let Ok(mut first) = self.failed.0.lock() {
                first.get_or_insert_with(|| (e.to_string(), kind));
            }
        })
    }
}
