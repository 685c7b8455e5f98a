//! Files only their owner can read: the pulled day's directory (0700) and files (0600),
//! each written under a hidden temporary name, synced, then renamed.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};

pub fn make_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::new(
                Kind::Unavailable,
                format!("cannot create {}", dir.display()),
            )
            .source(e)
        })
}

pub fn create_private(path: &Path) -> io::Result<fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path);
    let _ = fs::remove_file(&tmp);
    let failed = |e: io::Error| {
        Error::new(
            Kind::Unavailable,
            format!("cannot write {}", path.display()),
        )
        .source(e)
    };
    let mut f = create_private(&tmp).map_err(failed)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(failed)?;
    fs::rename(&tmp, path).map_err(failed)
}

pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp"))
}
