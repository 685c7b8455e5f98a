//! Starting other programs (`pg_dump`, `pg_restore`, `ssh-keygen`, `df`): each starts from an
//! empty environment plus a short allowlist, so no secret of any server section reaches a
//! child's `/proc/<pid>/environ`; and a private temporary directory for files a child must
//! read, such as its password file, removed when dropped.

use std::ffi::OsStr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The variables a child may inherit: where programs are, the locale, the zone, the home
/// directory and the temporary directory. Nothing that can carry a secret.
pub const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
];

/// `program` with an empty environment plus the allowlist, from this process's environment.
pub fn command(program: impl AsRef<OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear();
    for key in ALLOWED {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}

/// The same, for tokio.
pub fn async_command(program: impl AsRef<OsStr>) -> tokio::process::Command {
    tokio::process::Command::from(command(program))
}

/// A directory only this user can enter, created exclusively under `TMPDIR` and removed with
/// everything in it when dropped. It is locked (`flock`) while it lives, so that another
/// run's sweep can tell it from one a killed run left.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
    _lock: std::fs::File,
}

impl PrivateDir {
    /// The first one a process makes also clears what killed runs left (`sweep_dead`).
    pub fn new(purpose: &str) -> std::io::Result<PrivateDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        let base = std::env::temp_dir();
        SWEPT.call_once(|| sweep_dead(&base));
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!(
                "acc-{purpose}-{}-{n}-{nanos:08x}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let lock = std::fs::File::open(&dir).and_then(|f| f.lock().map(|()| f));
                    return match lock {
                        Ok(lock) => Ok(PrivateDir {
                            path: dir,
                            _lock: lock,
                        }),
                        Err(e) => {
                            let _ = std::fs::remove_dir(&dir);
                            Err(e)
                        }
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` inside, mode 0600, created exclusively.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(bytes)?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the private directories under `base` that a run killed before it could drop them
/// left behind (a kill -9 mid-restore leaves a password file there): only this user's, only
/// those no process holds locked (a live run in another PID namespace sharing this TMPDIR
/// holds its lock), and only those whose process is gone here (a directory of an older acc,
/// which took no lock, while it runs). A reused pid keeps a directory until that process ends.
fn sweep_dead(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        // symlink_metadata: a link planted under the name is not followed
        let ours = entry
            .path()
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == me);
        if !ours || crate::host::process_alive(pid) {
            continue;
        }
        // held while removing: a run cannot take a directory being removed
        let unlocked = std::fs::File::open(entry.path())
            .ok()
            .filter(|f| f.try_lock().is_ok());
        if unlocked.is_some() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The process that made a private directory, from its name `acc-<purpose>-<pid>-<n>-<nanos>`.
fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix("acc-")?.rsplitn(4, '-');
    let nanos = parts.next()?;
    let n = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let purpose = parts.next()?;
    let hex = nanos.len() >= 8 && nanos.chars().all(|c| c.is_ascii_hexdigit());
    (hex && n.parse::<u64>().is_ok() && !purpose.is_empty()).then_some(pid)
}

/// Whether acc runs as root (the owner of `/proc/self` is the effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_child_sees_only_the_allowlist() {
        // SAFETY: set in this test only; no other test reads this variable.
        unsafe { std::env::set_var("ACC_TEST_SECRET_FOR_CHILD", "hunter2") };
        let out = command("env").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        for line in text.lines() {
            let key = line.split('=').next().unwrap();
            assert!(ALLOWED.contains(&key), "{key} reached the child");
        }
    }

    #[test]
    fn what_a_killed_run_left_is_swept_and_nothing_else() {
        let base = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let d = base.path().join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("pgpass"), "h:5432:db:u:pw").unwrap();
            d
        };
        // no process has a pid above the kernel's pid_max (at most 2^22)
        let dead = make("acc-pgpass-999999999-0-0a1b2c3d");
        let dead_hyphenated = make("acc-own-signer-999999998-3-0a1b2c3d");
        let alive = make(&format!("acc-pgpass-{}-0-0a1b2c3d", std::process::id()));
        let other = make("acc-restore-notapid-0-0a1b2c3d");
        // a dead pid here, but locked: a live run in another PID namespace
        let elsewhere = make("acc-pgpass-999999997-0-0a1b2c3d");
        let held = std::fs::File::open(&elsewhere).unwrap();
        held.lock().unwrap();
        let unrelated = make("someone-else-999999999-0-0a1b2c3d");
        sweep_dead(base.path());
        assert!(!dead.exists() && !dead_hyphenated.exists());
        assert!(alive.exists() && other.exists() && unrelated.exists());
        assert!(elsewhere.exists(), "a locked directory is a live run's");
        drop(held);
        sweep_dead(base.path());
        assert!(!elsewhere.exists(), "unlocked, it is swept");
        assert_eq!(owner_pid("acc-t-12-3-0000abcd"), Some(12));
        assert_eq!(owner_pid("acc-12-3-0000abcd"), None);
    }

    #[test]
    fn a_private_dir_is_0700_unique_and_removed() {
        let a = PrivateDir::new("t").unwrap();
        let b = PrivateDir::new("t").unwrap();
        assert_ne!(a.path(), b.path());
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let f = a.write("pw", b"x").unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(a.write("pw", b"y").is_err(), "created exclusively");
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
    }
}
