//! Downloading one file of a day: hashed as it arrives, decrypted when asked (counting its
//! records), and renamed to its final name only once size, SHA-256 and rows all match.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use super::private::{create_private, temp_sibling};
use crate::crypt::{HashingReader, Identities, Running, decrypt_from};
use crate::delivery::Delivery;
use crate::publish::FileEntry;

/// Downloads one file, verifying size and SHA-256 (and rows, when decrypting) before it is
/// renamed into place. Returns the rows counted, when decrypted.
pub fn fetch(
    delivery: &Delivery,
    remote: &str,
    entry: &FileEntry,
    identities: Option<&Identities>,
    target: &Path,
) -> std::result::Result<Option<u64>, String> {
    let tmp = temp_sibling(target);
    let _ = fs::remove_file(&tmp);
    let result = (|| -> std::result::Result<Option<u64>, String> {
        let mut out =
            create_private(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        // never more than the manifest says, plus one byte to notice a longer file: a hostile
        // server cannot fill this disk, or this memory through age's headers
        let limit = entry.size.unwrap_or(0).saturating_add(1);
        let reader = io::Read::take(
            delivery
                .open_read(remote)
                .map_err(|e| e.message().to_string())?,
            limit,
        );
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
