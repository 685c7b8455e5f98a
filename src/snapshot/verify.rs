//! Proving a snapshot complete and untampered: the manifest's shape and signature, every
//! file's size and SHA-256, and, given an identity, every file's content and row count.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::crypt::signing;
use crate::crypt::{Identities, file_digest, open_sealed};
use crate::snapshot::manifest::{self, File, Manifest};

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    /// The principal whose signature verified, when signers are configured.
    pub signed_by: Option<String>,
    pub files_checked: usize,
    /// Whether contents were decrypted and row counts checked.
    pub contents_checked: bool,
    /// One line per problem, each naming the file.
    pub failures: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// How deep `verify` looks at each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Present at its listed size; the hashes are checked by whoever reads the files next
    /// (restore hashes each file as it loads it, so nothing is read twice or trusted stale).
    Sizes,
    /// Size and SHA-256.
    Hashes,
}

/// Checks the snapshot in `dir`. Never fails early: every problem found is listed. The
/// manifest is read once: the signature is checked over those bytes, and they are what is
/// parsed and returned.
pub fn verify(
    dir: &Path,
    allowed_signers: Option<&Path>,
    identities: Option<&Identities>,
    jobs: usize,
    depth: Depth,
) -> VerifyReport {
    let mut report = VerifyReport {
        dir: dir.to_path_buf(),
        manifest: None,
        signed_by: None,
        files_checked: 0,
        contents_checked: identities.is_some(),
        failures: Vec::new(),
    };
    let (bytes, manifest) = match read_manifest(dir) {
        Ok(m) => m,
        Err(e) => {
            report
                .failures
                .push(format!("{}: {}", manifest::FILE_NAME, e.one_line()));
            return report;
        }
    };
    if let Some(signers) = allowed_signers {
        match check_manifest_signature(dir, signers, &bytes) {
            Ok(principal) => report.signed_by = Some(principal),
            Err(e) => {
                report
                    .failures
                    .push(format!("{}: {}", manifest::SIGNATURE_FILE, e.message()))
            }
        }
    }
    report.failures.extend(strangers(dir, &manifest));
    let files: Vec<&File> = manifest.files().collect();
    report
        .failures
        .extend(check_files(dir, &files, identities, jobs, depth));
    report.files_checked = files.len();
    report.manifest = Some(manifest);
    report
}

fn read_manifest(dir: &Path) -> crate::error::Result<(Vec<u8>, Manifest)> {
    let path = dir.join(manifest::FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|e| {
        crate::error::Error::new(
            crate::error::Kind::BadInput,
            format!("cannot read {}", path.display()),
        )
        .source(e)
    })?;
    let m = Manifest::parse(&bytes, &path)?;
    Ok((bytes, m))
}

fn check_manifest_signature(
    dir: &Path,
    signers: &Path,
    manifest: &[u8],
) -> crate::error::Result<String> {
    let sig = std::fs::read(dir.join(manifest::SIGNATURE_FILE)).map_err(|_| {
        crate::error::Error::new(
            crate::error::Kind::BadInput,
            "the manifest is not signed, and allowed signers are configured",
        )
    })?;
    signing::verify_detached(
        signers,
        manifest::FILE_NAME,
        manifest,
        &sig,
        signing::NAMESPACE,
    )
}

/// Files in the directory the manifest does not name: a snapshot holds nothing else.
fn strangers(dir: &Path, manifest: &Manifest) -> Vec<String> {
    let expected: BTreeSet<&str> = manifest
        .files()
        .map(|f| f.name.as_str())
        .chain([manifest::FILE_NAME, manifest::SIGNATURE_FILE])
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.contains(name.as_str()))
        .map(|name| format!("{name}: not in the manifest"))
        .collect()
}

/// Checks every file with `jobs` threads; the failures, sorted.
fn check_files(
    dir: &Path,
    files: &[&File],
    identities: Option<&Identities>,
    jobs: usize,
    depth: Depth,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                while let Some(f) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(why) = check_file(dir, f, identities, depth) {
                        failures
                            .lock()
                            .expect("failures lock")
                            .push(format!("{}: {why}", f.name));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("failures lock");
    failures.sort();
    failures
}

fn check_file(
    dir: &Path,
    f: &File,
    identities: Option<&Identities>,
    depth: Depth,
) -> Result<(), String> {
    let path = dir.join(&f.name);
    if depth == Depth::Sizes && identities.is_none() {
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("cannot read it ({e})"))?
            .len();
        if size != f.digest.size {
            return Err(format!(
                "its size is {size}, the manifest says {}",
                f.digest.size
            ));
        }
        return Ok(());
    }
    file_digest(&path)
        .map_err(|e| format!("cannot read it ({e})"))?
        .matches(&f.digest)
        .map_err(|m| m.to_string())?;
    let Some(ids) = identities else {
        return Ok(());
    };
    let mut reader = open_sealed(&path, ids).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        format!("{}{cause}", e.message())
    })?;
    let mut counter = f.rows.map(|_| f.format.file_counter());
    let mut buf = vec![0u8; 256 << 10];
    let mut plaintext = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("cannot decrypt or decompress it ({e})"))?;
        if n == 0 {
            break;
        }
        plaintext += n as u64;
        if let Some(c) = counter.as_mut() {
            c.feed(&buf[..n])
                .map_err(|e| format!("its COPY data is malformed ({e})"))?;
        }
    }
    if plaintext != f.plaintext_bytes {
        return Err(format!(
            "{plaintext} plaintext bytes, the manifest says {}",
            f.plaintext_bytes
        ));
    }
    if let (Some(c), Some(want)) = (counter, f.rows) {
        let rows = c
            .finish()
            .map_err(|e| format!("its COPY data is incomplete ({e})"))?;
        if rows != want {
            return Err(format!("{rows} rows, the manifest says {want}"));
        }
    }
    Ok(())
}
