//! `acc pull`: an IT team's daily copy. Downloads one exported day, checks every file against
//! the (optionally signed) manifest, and keeps it decrypted or still encrypted, in files only
//! their owner can read. Nothing lands under a final name before it has verified.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::{Env, Profile};
use crate::crypt::{HashingReader, Identities, Running, decrypt_from};
use crate::delivery::{Delivery, Location};
use crate::error::{Error, Kind, Result};
use crate::publish::day::{self, DayManifest};

pub struct Request {
    pub from: Location,
    /// `None` means the day `latest` names.
    pub date: Option<NaiveDate>,
    pub identity: Option<PathBuf>,
    pub out: PathBuf,
    pub keep_encrypted: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Pulled {
    pub name: String,
    pub rows: Option<u64>,
    /// `ok`, `failed-at-export` or `mismatch`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

pub struct Outcome {
    pub manifest: DayManifest,
    pub signed_by: Option<String>,
    pub dashboards: Vec<Pulled>,
}

pub fn pull(profile: &Profile, env: &Env, req: &Request) -> Result<Outcome> {
    let identities = match (&req.identity, req.keep_encrypted) {
        (Some(path), _) => Some(Identities::load(path)?),
        (None, true) => None,
        (None, false) => {
            return Err(Error::usage("--identity is needed to decrypt").hint(
                "pass --identity FILE (an age identity or ssh private key), or --keep-encrypted",
            ));
        }
    };
    let delivery = Delivery::open(&req.from, profile.sftp.as_ref(), env)?;
    let base = profile.name.as_str();
    let date = match req.date {
        Some(d) => d,
        None => latest(&delivery, base)?,
    };
    let dir = format!("{base}/{date}");
    if !delivery.exists(&format!("{dir}/{}", day::MANIFEST)) {
        return Err(Error::new(
            Kind::Unavailable,
            format!(
                "no complete export of {base} for {date} at {}",
                req.from.describe()
            ),
        )
        .hint("acc pull --date latest takes the newest complete day"));
    }
    let manifest_bytes =
        delivery.read_small(&format!("{dir}/{}", day::MANIFEST), day::MANIFEST_LIMIT)?;
    let signature = delivery
        .exists(&format!("{dir}/{}", day::SIGNATURE))
        .then(|| delivery.read_small(&format!("{dir}/{}", day::SIGNATURE), 64 * 1024))
        .transpose()?;
    let signed_by = match &profile.export.allowed_signers {
        Some(signers) => Some(check_signature(
            signers,
            &manifest_bytes,
            signature.as_deref(),
        )?),
        None => None,
    };
    let manifest = DayManifest::parse(&manifest_bytes, &format!("{dir}/{}", day::MANIFEST))?;
    // a signed manifest of another day or profile, copied here, must not pass for this one
    if manifest.profile != profile.name || manifest.date != date {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "{dir}/{} is the export of profile '{}' for {}, not '{}' for {date}",
                day::MANIFEST,
                manifest.profile,
                manifest.date,
                profile.name
            ),
        )
        .hint("the day was moved or replaced at the destination; nothing was pulled"));
    }

    make_private_dir(&req.out)?;
    let mut dashboards = Vec::new();
    for entry in &manifest.dashboards {
        let Some(file) = entry.file.as_deref().filter(|_| entry.ok()) else {
            dashboards.push(Pulled {
                name: entry.name.clone(),
                rows: None,
                status: "failed-at-export".into(),
                file: None,
                problem: entry.error.clone(),
            });
            continue;
        };
        let local_name = if req.keep_encrypted {
            file.to_string()
        } else {
            file.trim_end_matches(".age").to_string()
        };
        let target = req.out.join(&local_name);
        let result = fetch(
            &delivery,
            &format!("{dir}/{file}"),
            entry,
            identities.as_ref(),
            &target,
        );
        dashboards.push(match result {
            Ok(rows) => Pulled {
                name: entry.name.clone(),
                rows: rows.or(entry.rows),
                status: "ok".into(),
                file: Some(target),
                problem: None,
            },
            Err(why) => Pulled {
                name: entry.name.clone(),
                rows: None,
                status: "mismatch".into(),
                file: None,
                problem: Some(format!("{file}: {why}")),
            },
        });
    }
    write_private(&req.out.join(day::MANIFEST), &manifest_bytes)?;
    if let Some(sig) = &signature {
        write_private(&req.out.join(day::SIGNATURE), sig)?;
    }
    Ok(Outcome {
        manifest,
        signed_by,
        dashboards,
    })
}

/// The day `latest` names, else the newest day that has a manifest.
fn latest(delivery: &Delivery, base: &str) -> Result<NaiveDate> {
    let pointer = format!("{base}/{}", day::LATEST);
    if delivery.exists(&pointer) {
        let text = delivery.read_small(&pointer, 64)?;
        if let Some(d) = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| day::day_of(t.trim()))
            && delivery.exists(&format!("{base}/{d}/{}", day::MANIFEST))
        {
            return Ok(d);
        }
    }
    let mut days: Vec<NaiveDate> = delivery
        .list(base)
        .unwrap_or_default()
        .iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| day::day_of(&e.name))
        .filter(|d| delivery.exists(&format!("{base}/{d}/{}", day::MANIFEST)))
        .collect();
    days.sort();
    days.pop().ok_or_else(|| {
        Error::new(
            Kind::Unavailable,
            format!("no complete export of {base} is there yet"),
        )
        .hint("run acc export first, or check --from")
    })
}

/// Downloads one file, verifying size and SHA-256 (and rows, when decrypting) before it is
/// renamed into place. Returns the rows counted, when decrypted.
fn fetch(
    delivery: &Delivery,
    remote: &str,
    entry: &day::DashboardEntry,
    identities: Option<&Identities>,
    target: &Path,
) -> std::result::Result<Option<u64>, String> {
    let tmp = temp_sibling(target);
    let _ = fs::remove_file(&tmp);
    let result = (|| -> std::result::Result<Option<u64>, String> {
        let mut out =
            create_private(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let reader = delivery
            .open_read(remote)
            .map_err(|e| e.message().to_string())?;
        let mut running = Running::default();
        let rows = {
            let mut hashed = HashingReader::new(reader, &mut running);
            match identities {
                None => {
                    io::copy(&mut hashed, &mut out).map_err(|e| format!("download failed: {e}"))?;
                    None
                }
                Some(ids) => {
                    let mut plain = decrypt_from(ids, &mut hashed, remote)
                        .map_err(|e| e.message().to_string())?;
                    let records = copy_counting_records(&mut plain, &mut out).map_err(|e| {
                        format!(
                            "does not decrypt: {e} (modified, truncated, or not for this identity)"
                        )
                    })?;
                    // anything after age's final chunk is still part of the file: hash it too
                    io::copy(&mut hashed, &mut io::sink())
                        .map_err(|e| format!("download failed: {e}"))?;
                    Some(records.saturating_sub(1))
                }
            }
        };
        let digest = running.digest();
        if Some(digest.size) != entry.size || Some(&digest.sha256) != entry.sha256.as_ref() {
            return Err(format!(
                "does not match the manifest (size {} sha256 {}…, expected size {} sha256 {}…)",
                digest.size,
                &digest.sha256[..12],
                entry.size.unwrap_or(0),
                entry
                    .sha256
                    .as_deref()
                    .unwrap_or("")
                    .get(..12)
                    .unwrap_or("")
            ));
        }
        if let (Some(got), Some(want)) = (rows, entry.rows)
            && got != want
        {
            return Err(format!("holds {got} rows, the manifest says {want}"));
        }
        out.sync_all()
            .map_err(|e| format!("cannot sync {}: {e}", tmp.display()))?;
        fs::rename(&tmp, target)
            .map_err(|e| format!("cannot rename into {}: {e}", target.display()))?;
        Ok(rows)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copies CSV and counts its records: line ends outside quoted fields.
fn copy_counting_records(input: &mut impl Read, out: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut records, mut quoted, mut pending) = (0u64, false, false);
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(records + u64::from(pending));
        }
        for &b in &buf[..n] {
            match b {
                b'"' => quoted = !quoted,
                b'\n' if !quoted => {
                    records += 1;
                    pending = false;
                    continue;
                }
                _ => {}
            }
            pending = true;
        }
        out.write_all(&buf[..n])?;
    }
}

fn check_signature(signers: &Path, manifest: &[u8], signature: Option<&[u8]>) -> Result<String> {
    let Some(sig) = signature else {
        return Err(Error::new(
            Kind::BadInput,
            "the export's manifest is not signed, and allowed signers are configured",
        )
        .hint(
            "the exporting profile needs export.signing_key; an unsigned day cannot be trusted",
        ));
    };
    // staged in a directory of its own, created exclusively: a fixed name could be planted
    crate::crypt::signing::verify_detached(
        signers,
        day::MANIFEST,
        manifest,
        sig,
        crate::crypt::signing::EXPORT_NAMESPACE,
    )
}

fn make_private_dir(dir: &Path) -> Result<()> {
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

fn create_private(path: &Path) -> io::Result<fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
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

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::copy_counting_records;

    #[test]
    fn records_are_counted_outside_quotes_only() {
        let csv = b"a,b\r\n\"x\ny\",\"say \"\"hi\"\"\"\r\n2,3";
        let mut out = Vec::new();
        assert_eq!(copy_counting_records(&mut &csv[..], &mut out).unwrap(), 3);
        assert_eq!(out, csv);
    }
}
