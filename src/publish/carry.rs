//! Carry-over: a same-day rerun keeps the files of the day's current version that it did not
//! make again, by reference (they stay where they are), once the earlier manifest has shown it
//! is this exporter's and each kept file has been hashed again: the new manifest is signed,
//! and acc never signs what it did not check.

use chrono::NaiveDate;

use super::day::{DayKind, DayManifest, FileEntry};
use super::layout::{self, Layout};
use super::reader::file_matches;
use crate::delivery::Delivery;
use crate::error::{Error, Kind, Result};

/// What an earlier run's day must show before any of it is carried into a day acc signs: it
/// was written for this profile and, when a signing key is configured, signed with that key.
#[derive(Debug, Clone)]
pub struct Trust {
    pub kind: DayKind,
    pub profile: String,
    pub signing_key: Option<std::path::PathBuf>,
}

/// What `carry_over` kept from the day's current version, and what it had to leave out.
#[derive(Debug, Default)]
pub struct Carried {
    pub carried: Vec<String>,
    /// Files that no longer match their entry: `(name, why)`.
    pub dropped: Vec<(String, String)>,
}

/// The entries with the kept ones of version `based_on` added, sorted as `order` names them,
/// and what was kept or dropped. A file is dropped (and reported) only when it is gone or no
/// longer matches; a destination that cannot be read, or a signature that cannot be checked,
/// fails the run instead, which publishes nothing.
pub fn carry_over(
    delivery: &Delivery,
    layout: &Layout,
    (date, based_on): (NaiveDate, Option<u32>),
    mut entries: Vec<FileEntry>,
    order: &[&str],
    trust: &Trust,
) -> Result<(Vec<FileEntry>, Carried)> {
    let mut out = Carried::default();
    let Some(version) = based_on else {
        return Ok((entries, out));
    };
    let path = layout.in_day(date, &layout::manifest_file(version));
    let bytes = delivery.read_small(&path, layout::MANIFEST_LIMIT)?;
    let old = match DayManifest::parse(&bytes, &path) {
        Ok(old) => old,
        Err(e) => {
            // it cannot vouch for its files: the new version stands alone, and says so
            out.dropped.push((
                "(every earlier file)".into(),
                format!("{path} was not carried: {}", e.message()),
            ));
            return Ok((entries, out));
        }
    };
    if let Err(why) = vouched(delivery, layout, (date, version), &bytes, &old, trust)? {
        for e in old.files.iter().filter(|e| e.ok()) {
            if !entries.iter().any(|n| n.name == e.name) {
                out.dropped
                    .push((e.name.clone(), format!("{path} was not carried: {why}")));
            }
        }
        return Ok((entries, out));
    }
    // only what this kind of day holds: an export carries dashboards, sheets carry employees
    let ours = |e: &FileEntry| order.is_empty() || order.contains(&e.name.as_str());
    for mut e in old.files.into_iter().filter(FileEntry::ok).filter(ours) {
        let delivered_now = entries.iter().any(|n| n.name == e.name && n.ok());
        let Some(file) = e.file.clone().filter(|_| !delivered_now) else {
            continue;
        };
        let from = layout.in_day(date, &file);
        let checked = if delivery.exists(&from) {
            file_matches(delivery, &from, &e)?
        } else {
            Err("it is gone".to_string())
        };
        if let Err(why) = checked {
            if !entries.iter().any(|n| n.name == e.name) {
                entries.push(FileEntry::failed(
                    &e.name,
                    &e.query,
                    format!("the earlier file was not carried: {why}"),
                ));
            }
            out.dropped.push((
                e.name.clone(),
                format!("{from} was not carried into the new version: {why}"),
            ));
            continue;
        }
        e.carried_from = e.carried_from.or(Some(old.generated_at));
        entries.retain(|n| n.name != e.name);
        out.carried.push(e.name.clone());
        entries.push(e);
    }
    let rank = |name: &str| order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    entries.sort_by_key(|e| rank(&e.name));
    Ok((entries, out))
}

/// Whether the earlier version can vouch for its files: written for this profile and day and,
/// when acc signs, signed by this very key (a party with write access to the destination could
/// add or change an entry; acc's next signature must never cover it).
fn vouched(
    delivery: &Delivery,
    layout: &Layout,
    (date, version): (NaiveDate, u32),
    manifest: &[u8],
    old: &DayManifest,
    trust: &Trust,
) -> Result<std::result::Result<(), String>> {
    if old.kind.is_some_and(|k| k != trust.kind) {
        return Ok(Err(format!(
            "its manifest is a {} day, not an {} day",
            old.kind.map_or("", |k| k.name()),
            trust.kind.name()
        )));
    }
    if old.date != date {
        return Ok(Err(format!(
            "its manifest is the day {}, not {date}",
            old.date
        )));
    }
    if old.version.is_some_and(|v| v != version) {
        return Ok(Err(format!(
            "its manifest is version {} of the day, copied into version {version}",
            old.version.unwrap_or(0)
        )));
    }
    if old.profile != trust.profile {
        return Ok(Err(format!(
            "its manifest is profile '{}', not '{}'",
            old.profile, trust.profile
        )));
    }
    let Some(key) = &trust.signing_key else {
        return Ok(Ok(()));
    };
    let sig_path = layout.in_day(date, &layout::signature_file(version));
    if !delivery.exists(&sig_path) {
        return Ok(Err("it is not signed, and this exporter signs".into()));
    }
    let signature = delivery.read_small(&sig_path, layout::SIGNATURE_LIMIT)?;
    match crate::crypt::signing::verify_own(
        key,
        manifest,
        &signature,
        crate::crypt::signing::EXPORT_NAMESPACE,
    ) {
        Ok(()) => Ok(Ok(())),
        // a signature that does not verify; anything else (the tool, the key) stops the run
        Err(e) if e.kind() == Kind::BadInput => Ok(Err(format!(
            "its signature is not this exporter's: {}",
            e.message()
        ))),
        Err(e) => Err(Error::new(
            e.kind(),
            format!(
                "cannot check the signature of {}: {}",
                layout.in_day(date, &layout::manifest_file(version)),
                e.message()
            ),
        )
        .hint("nothing was published; fix the signing key and run again")),
    }
}
