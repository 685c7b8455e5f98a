//! Where `acc init` writes `acc.toml`, and the writing: mode 0600, never over an existing file
//! unless asked, and never half-written (a temporary name, synced, then renamed).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::Sources;

use crate::env::Env;
use crate::error::{Error, Kind, Result};

/// `--config FILE` when given, else the system file for root and the user's file otherwise.
pub fn target(explicit: Option<&Path>, env: &Env) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let sources = Sources::discover(env, None);
    if crate::process::is_root() {
        return Ok(sources.system_dir.join("acc.toml"));
    }
    sources.user_dir.map(|d| d.join("acc.toml")).ok_or_else(|| {
        Error::config("neither HOME nor XDG_CONFIG_HOME is set").hint("pass --config FILE")
    })
}

/// Refuses (78) a file that exists unless `force`: checked before any question is asked.
pub fn check_free(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(
            Error::config(format!("{} exists; nothing was changed", path.display()))
                .hint("pass --force to replace it, or --config FILE to write another"),
        );
    }
    Ok(())
}

/// Writes `text` as `path`, 0600, replacing an existing file only when `force`.
pub fn write(path: &Path, text: &str, force: bool) -> Result<()> {
    check_free(path, force)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| failed(dir, e))?;
    let name = path
        .file_name()
        .map_or("acc.toml".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if force {
            std::fs::rename(&tmp, path)
        } else {
            // a file that appeared meanwhile is not replaced
            std::fs::hard_link(&tmp, path).and_then(|()| std::fs::remove_file(&tmp))
        }
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(path, e));
    }
    crate::store::fsync_dir(dir)
}

fn failed(path: &Path, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::PermissionDenied => Kind::Permission,
        std::io::ErrorKind::AlreadyExists => Kind::Config,
        _ => Kind::Unavailable,
    };
    Error::new(kind, format!("cannot write {}", path.display())).source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_0600_and_never_over_a_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/acc.toml");
        write(&path, "a = 1\n", false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = write(&path, "a = 2\n", false).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
        write(&path, "a = 2\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
    }
}
