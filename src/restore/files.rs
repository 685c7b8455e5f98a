//! Where a restore reads a snapshot's sealed files from: a directory of this host's store, or
//! the bucket a shared store names, each file streamed from it as it loads (no local copy).

use std::io::Read;
use std::path::PathBuf;

use crate::delivery::BucketDir;
use crate::error::{Error, Kind, Result};

#[derive(Clone)]
pub enum Files {
    Dir(PathBuf),
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
            Files::Bucket(bucket, base) => Ok(Box::new(bucket.open(&format!("{base}/{name}"))?)),
        }
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
            Files::Bucket(bucket, base) => {
                PathBuf::from(bucket.describe(&format!("{base}/{name}")))
            }
        }
    }
}
