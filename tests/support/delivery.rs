//! A test's own corner of the sandbox's SFTP server, and checks on what reached a disk.

use std::path::{Path, PathBuf};

use super::Sandbox;

/// A test's own corner of the SFTP server, removed afterwards.
pub struct Remote {
    /// Where the server keeps it on this machine (files belong to the sftp user).
    pub disk: PathBuf,
    pub url: String,
}

impl Remote {
    pub fn new(sb: &Sandbox, tag: &str) -> Remote {
        let name = format!("t-{tag}-{}", std::process::id());
        let disk = sb.path("ACC_SFTP_ROOT").join(&name);
        let _ = std::fs::remove_dir_all(&disk);
        Remote {
            disk,
            url: format!("{}/{name}", sb.var("ACC_SFTP_URL")),
        }
    }

    /// The day directory of profile `t` that the last export published.
    pub fn day(&self) -> PathBuf {
        let latest = std::fs::read_to_string(self.disk.join("t/latest")).expect("latest exists");
        self.disk.join("t").join(latest.trim())
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.disk);
    }
}

/// A published day's current version, read as a reader outside acc would: its highest `v<n>`
/// directory.
pub fn current_version(day: &Path) -> PathBuf {
    let version = |name: &str| -> u32 {
        name.strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    std::fs::read_dir(day)
        .unwrap_or_else(|e| panic!("{}: {e}", day.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| version(n) > 0)
        .max_by_key(|n| version(n))
        .map(|n| day.join(n))
        .unwrap_or_else(|| panic!("{} has no version", day.display()))
}

/// The manifest of a day's current version.
pub fn day_manifest(day: &Path) -> serde_json::Value {
    let path = current_version(day).join("manifest.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The file a day's current version delivers as `name` (`client-list`, its CSV, or a file name
/// such as `E000001.pdf.age`), wherever its manifest says it is in the day.
pub fn day_file(day: &Path, name: &str) -> PathBuf {
    let want = if name.ends_with(".age") {
        name.to_string()
    } else {
        format!("{name}.csv.age")
    };
    let m = day_manifest(day);
    let file = m["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["file"].as_str())
        .find(|f| f.rsplit('/').next() == Some(want.as_str()))
        .unwrap_or_else(|| panic!("{want} is not in {}", day.display()));
    day.join(file)
}

pub fn sftp_section(sb: &Sandbox) -> String {
    format!(
        "[profiles.t.sftp]\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
        sb.path("ACC_SFTP_KEY").display(),
        sb.path("ACC_KNOWN_HOSTS").display()
    )
}

/// Every regular file under `dir`, recursively; a directory that cannot be read fails the test.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for e in entries.map(|e| e.unwrap()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// No file under `dir` holds the seed's marker or a PDF header in the clear. A directory that
/// does not exist or holds no file fails: there would be nothing to check.
pub fn assert_no_plaintext(dir: &Path) {
    let files = files_under(dir);
    assert!(
        !files.is_empty(),
        "no file under {} to check",
        dir.display()
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(5).any(|w| w == b"SYNTH"),
            "plaintext patient data in {}",
            f.display()
        );
        assert!(
            !bytes.windows(5).any(|w| w == b"%PDF-"),
            "a plaintext PDF in {}",
            f.display()
        );
    }
}
