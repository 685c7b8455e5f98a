//! Reading a published day: which day `latest` names, its current version's manifest with
//! its signature checked, and whether a delivered file still matches its entry.

use std::path::Path;

use chrono::NaiveDate;

use super::day::{DayManifest, FileEntry};
use super::layout::{self, Layout};
use crate::crypt::{HashingReader, Running};
use crate::delivery::Delivery;
use crate::error::{Error, Kind, Result};

/// A day's manifest as read, with the bytes that were signed.
pub struct PublishedDay {
    pub date: NaiveDate,
    /// Which version of the day it is (1 for its first run, 0 for a day written before
    /// versions).
    pub version: u32,
    pub manifest: DayManifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    /// Who signed it, when allowed signers were given.
    pub signed_by: Option<String>,
}

/// The days under one base directory of an open delivery.
pub struct DayReader<'a> {
    delivery: &'a Delivery,
    layout: Layout,
}

impl<'a> DayReader<'a> {
    pub fn new(delivery: &'a Delivery, layout: Layout) -> DayReader<'a> {
        DayReader { delivery, layout }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The newest complete day: the later of the one `latest` names and the newest day the
    /// listing shows with a manifest (two hosts moving `latest` at once may leave it behind;
    /// a pointer that cannot be read is passed over). `None` when no day is complete.
    pub fn latest(&self) -> Result<Option<NaiveDate>> {
        let d = self.delivery;
        let pointed = d
            .read_small(&self.layout.latest(), layout::POINTER_LIMIT)
            .ok()
            .and_then(|text| String::from_utf8(text).ok())
            .and_then(|t| layout::day_of(t.trim()))
            .filter(|date| self.is_complete(*date));
        let mut days: Vec<NaiveDate> = d
            .list(&self.layout.base)
            .unwrap_or_default()
            .iter()
            .filter(|e| e.is_dir)
            .filter_map(|e| layout::day_of(&e.name))
            .collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        let listed = days.into_iter().find(|date| self.is_complete(*date));
        Ok(pointed.max(listed))
    }

    /// A day is complete once a version's manifest, written last, is there.
    pub fn is_complete(&self, date: NaiveDate) -> bool {
        current_version(self.delivery, &self.layout, date).is_some()
    }

    /// Reads and checks the current version's manifest of `date`: its signature when
    /// `allowed_signers` is given (a signed day is then never taken unverified, and an unsigned
    /// one only when `require_signature` is off), its shape, and that it is the day of
    /// `profile` it claims to be, so a signed manifest copied from another day or profile does
    /// not pass for this one.
    pub fn manifest(
        &self,
        date: NaiveDate,
        profile: &str,
        allowed_signers: Option<&Path>,
        require_signature: bool,
    ) -> Result<PublishedDay> {
        let d = self.delivery;
        let version = current_version(d, &self.layout, date).ok_or_else(|| {
            Error::new(
                Kind::Unavailable,
                format!("{} has no complete version", self.layout.day(date)),
            )
        })?;
        let path = self.layout.in_day(date, &layout::manifest_file(version));
        let manifest_bytes = d.read_small(&path, layout::MANIFEST_LIMIT)?;
        let sig_path = self.layout.in_day(date, &layout::signature_file(version));
        let signature = d
            .exists(&sig_path)
            .then(|| d.read_small(&sig_path, layout::SIGNATURE_LIMIT))
            .transpose()?;
        let signed_by = match (allowed_signers, &signature) {
            (Some(_), None) if !require_signature => None,
            (Some(signers), _) => Some(check_day_signature(
                signers,
                &manifest_bytes,
                signature.as_deref(),
            )?),
            (None, _) => None,
        };
        let manifest = DayManifest::parse(&manifest_bytes, &path)?;
        if manifest.version.is_some_and(|v| v != version) {
            return Err(Error::new(
                Kind::BadInput,
                format!(
                    "{path} is version {} of the day, not {version}: it was copied there",
                    manifest.version.unwrap_or(0)
                ),
            )
            .hint("the day was moved or replaced at the destination; nothing was pulled"));
        }
        if manifest.profile != profile || manifest.date != date {
            return Err(Error::new(
                Kind::BadInput,
                format!(
                    "{path} is the export of profile '{}' for {}, not '{profile}' for {date}",
                    manifest.profile, manifest.date,
                ),
            )
            .hint("the day was moved or replaced at the destination; nothing was pulled"));
        }
        Ok(PublishedDay {
            date,
            version,
            manifest,
            manifest_bytes,
            signature,
            signed_by,
        })
    }
}

/// The current version of a day: its highest version directory that holds a manifest (each
/// arrives whole, by one rename; a stray or half-copied one is passed over), else 0 for a day
/// written before versions; `None` when the day has neither.
pub fn current_version(delivery: &Delivery, layout: &Layout, date: NaiveDate) -> Option<u32> {
    try_current_version(delivery, layout, date).unwrap_or(None)
}

/// `current_version`, or an error when the destination could not be asked (a listing or a
/// bucket's request that failed): for a decision that must not take a failure for an answer.
pub fn try_current_version(
    delivery: &Delivery,
    layout: &Layout,
    date: NaiveDate,
) -> Result<Option<u32>> {
    let entries = match delivery.list(&layout.day(date)) {
        Ok(entries) => entries,
        // a day not there yet: a directory that does not exist
        Err(_) if !delivery.try_exists(&layout.day(date))? => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut versions: Vec<u32> = entries
        .iter()
        .filter(|e| e.is_dir)
        .filter_map(|e| layout::version_of(&e.name))
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    for v in versions {
        if delivery.try_exists(&layout.in_day(date, &layout::manifest_file(v)))? {
            return Ok(Some(v));
        }
    }
    Ok(entries
        .iter()
        .any(|e| !e.is_dir && e.name == layout::MANIFEST)
        .then_some(0))
}

fn check_day_signature(
    signers: &Path,
    manifest: &[u8],
    signature: Option<&[u8]>,
) -> Result<String> {
    let Some(sig) = signature else {
        return Err(Error::new(
            Kind::BadInput,
            "the export's manifest is not signed, and allowed signers are configured",
        )
        .hint(
            "the exporting profile needs export.signing_key; an unsigned day cannot be trusted (pull.require_signature = false takes it anyway, with a warning)",
        ));
    };
    crate::crypt::signing::verify_detached(
        signers,
        layout::MANIFEST,
        manifest,
        sig,
        crate::crypt::signing::EXPORT_NAMESPACE,
    )
}

/// Whether the delivered file still has the size and SHA-256 its manifest entry gives: the
/// inner error says how it differs; the outer one, that it could not be read (a destination
/// that failed, which says nothing about the file).
pub fn file_matches(
    delivery: &Delivery,
    rel: &str,
    e: &FileEntry,
) -> Result<std::result::Result<(), String>> {
    let mut running = Running::default();
    let reader = delivery.open_read(rel)?;
    std::io::copy(
        &mut HashingReader::new(reader, &mut running),
        &mut std::io::sink(),
    )
    .map_err(|err| Error::new(Kind::Temporary, format!("cannot read {rel} again")).source(err))?;
    Ok(differs(running.digest(), e))
}

fn differs(now: crate::crypt::Digest, e: &FileEntry) -> std::result::Result<(), String> {
    if Some(now.size) != e.size || Some(&now.sha256) != e.sha256.as_ref() {
        return Err(format!(
            "it no longer matches its manifest entry ({} bytes, sha256 {}, where the entry says {} bytes, {})",
            now.size,
            now.sha256,
            e.size.map_or("no".into(), |s| s.to_string()),
            e.sha256.as_deref().unwrap_or("no sha256")
        ));
    }
    Ok(())
}
