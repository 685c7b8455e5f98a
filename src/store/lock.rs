//! One run per profile at a time: an advisory lock the kernel releases if the holder dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

impl RunLock {
    /// Takes the lock at `path` or fails with exit 75, naming the process that holds it.
    pub fn acquire(path: &Path, what: &str) -> Result<RunLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open the lock {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another process"
                } else {
                    holder
                };
                return Err(Error::new(
                    Kind::Temporary,
                    format!("{what} is already running: {holder}"),
                )
                .hint(format!(
                    "wait for it to finish; the lock {} frees itself when that process ends",
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", path.display()), e));
            }
        }
        let holder = format!(
            "pid {} on {} since {}\n",
            std::process::id(),
            crate::host::name(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(holder.as_bytes());
        Ok(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = RunLock::acquire(&path, "snapshot of demo").unwrap();
        let err = RunLock::acquire(&path, "snapshot of demo").unwrap_err();
        assert_eq!(err.exit_code(), 75);
        assert!(
            err.message()
                .contains(&format!("pid {}", std::process::id())),
            "{}",
            err.message()
        );
        drop(first);
        RunLock::acquire(&path, "snapshot of demo").expect("free again once dropped");
    }
}
