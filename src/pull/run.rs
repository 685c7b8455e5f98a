//! One `acc pull`: find the day, check its manifest (and signature), then fetch every file
//! it lists into a private directory. Nothing lands under a final name before it verified.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Serialize;

use super::fetch::fetch;
use super::private::{make_private_dir, write_private};
use crate::config::Profile;
use crate::crypt::Identities;
use crate::delivery::{Delivery, Reach};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::Location;
use crate::publish::{DayKind, DayManifest, DayReader, FileEntry, Layout, layout};

pub struct PullRequest {
    /// `None` means the day `latest` names.
    pub date: Option<NaiveDate>,
    pub identity: Option<PathBuf>,
    pub out: PathBuf,
    pub keep_encrypted: bool,
}

/// What became of one file of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullStatus {
    Ok,
    /// The manifest lists the dashboard as failed when it was exported.
    FailedAtExport,
    /// The file did not verify, and was not kept.
    Mismatch,
}

impl PullStatus {
    pub fn name(self) -> &'static str {
        match self {
            PullStatus::Ok => "ok",
            PullStatus::FailedAtExport => "failed-at-export",
            PullStatus::Mismatch => "mismatch",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    pub name: String,
    pub rows: Option<u64>,
    pub status: PullStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What a pull fetched.
pub struct PullReport {
    /// Where the day was pulled from.
    pub source: String,
    pub manifest: DayManifest,
    pub signed_by: Option<String>,
    pub dashboards: Vec<Pulled>,
}

pub fn pull(profile: &Profile, env: &Env, req: &PullRequest) -> Result<PullReport> {
    let from = profile.destination()?;
    let identities = match (&req.identity, req.keep_encrypted) {
        (Some(path), _) => Some(Identities::load(path)?),
        (None, true) => None,
        (None, false) => {
            return Err(Error::usage("--identity is needed to decrypt").hint(
                "pass --identity FILE (an age identity or ssh private key), or --keep-encrypted",
            ));
        }
    };
    let signers = profile.export.allowed_signers.as_deref();
    let require_signature = profile.pull_requires_signature();
    if require_signature && signers.is_none() {
        return Err(Error::config(format!(
            "profiles.{}.pull.require_signature is on, but export.allowed_signers is not set: nothing could check a day's signature",
            profile.name
        ))
        .hint("set export.allowed_signers to the exporter's public key (an ssh allowed_signers file)"));
    }
    let delivery = Delivery::open(from, &Reach::of(profile), env)?;
    let days = DayReader::new(&delivery, Layout::new(profile.name.clone()));
    let date = find_day(&days, req, from)?;
    let day = days.manifest(date, &profile.name, signers, require_signature)?;
    let newest = Newest::of(profile);
    let seen = newest.as_ref().and_then(Newest::get);
    let version = day.manifest.version.unwrap_or(0);
    if let Some((_, newer)) = seen.filter(|(day, v)| *day == date && *v > version) {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "{date} at {} is at version {version}, but this host already pulled its signed version {newer}: a newer version was removed from the destination; nothing was pulled",
                from.describe()
            ),
        )
        .hint(format!(
            "a day's versions only grow: find out who removed version {newer}; to take version {version} anyway, remove {}",
            newest.as_ref().map_or_else(String::new, |n| n.path.display().to_string())
        )));
    }
    if req.date.is_none()
        && let Some((seen, _)) = seen.filter(|(seen, _)| *seen > date)
    {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "latest at {} names {date}, older than {seen}, a signed day this host already pulled: the destination was rolled back; nothing was pulled",
                from.describe()
            ),
        )
        .hint(format!("to pull that older day on purpose, name it: --date {date}")));
    }

    if let Some(kind) = day.manifest.kind.filter(|k| *k != DayKind::Export) {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "the manifest of {date} at {} is a {} day, not an export: it was copied or moved there; nothing was pulled",
                from.describe(),
                kind.name()
            ),
        ));
    }
    match (&day.signature, signers.is_some()) {
        (None, true) => crate::events::warning(
            "the day is not signed, and pull.require_signature is off: nothing checked who wrote it",
        ),
        (Some(_), false) => crate::events::warning(
            "the day is signed, but its signature was not checked: set export.allowed_signers to the exporter's key so pull knows who wrote it",
        ),
        (None, false) => crate::events::warning(
            "the day is not signed, and nothing checks who wrote it: have the exporter set export.signing_key, and set export.allowed_signers here",
        ),
        _ => {}
    }
    make_private_dir(&req.out)?;
    let dashboards = day
        .manifest
        .files
        .iter()
        .map(|entry| {
            pull_one(
                &delivery,
                days.layout(),
                date,
                entry,
                identities.as_ref(),
                req,
            )
        })
        .collect();
    if let Some(newest) = newest.as_ref().filter(|_| day.signed_by.is_some())
        && let Err(e) = newest.record(date, version)
    {
        crate::events::warning(&format!(
            "cannot record the newest day pulled, so a rolled-back latest is not caught: {}",
            e.one_line()
        ));
    }
    write_private(&req.out.join(layout::MANIFEST), &day.manifest_bytes)?;
    if let Some(sig) = &day.signature {
        write_private(&req.out.join(layout::SIGNATURE), sig)?;
    }
    Ok(PullReport {
        source: from.describe(),
        manifest: day.manifest,
        signed_by: day.signed_by,
        dashboards,
    })
}

/// The day asked for, which must be complete, or the newest complete one.
fn find_day(days: &DayReader, req: &PullRequest, from: &Location) -> Result<NaiveDate> {
    let base = &days.layout().base;
    match req.date {
        Some(date) if days.is_complete(date) => Ok(date),
        Some(date) => Err(Error::new(
            Kind::Unavailable,
            format!(
                "no complete export of {base} for {date} at {}",
                from.describe()
            ),
        )
        .hint("acc pull --date latest takes the newest complete day")),
        None => days.latest()?.ok_or_else(|| {
            Error::new(
                Kind::Unavailable,
                format!("no complete export of {base} is there yet"),
            )
            .hint("run acc export first, or check --from")
        }),
    }
}

fn pull_one(
    delivery: &Delivery,
    layout: &Layout,
    date: NaiveDate,
    entry: &FileEntry,
    identities: Option<&Identities>,
    req: &PullRequest,
) -> Pulled {
    let Some(file) = entry.file.as_deref().filter(|_| entry.ok()) else {
        return Pulled {
            name: entry.name.clone(),
            rows: None,
            status: PullStatus::FailedAtExport,
            file: None,
            problem: entry.error.clone(),
        };
    };
    // `v2/client-list.csv.age` in the day is `client-list.csv` here
    let name = file.rsplit('/').next().unwrap_or(file);
    let local_name = if req.keep_encrypted {
        name
    } else {
        name.trim_end_matches(".age")
    };
    let target = req.out.join(local_name);
    match fetch(
        delivery,
        &layout.in_day(date, file),
        entry,
        identities,
        &target,
    ) {
        Ok(rows) => Pulled {
            name: entry.name.clone(),
            rows: rows.or(entry.rows),
            status: PullStatus::Ok,
            file: Some(target),
            problem: None,
        },
        Err(why) => Pulled {
            name: entry.name.clone(),
            rows: None,
            status: PullStatus::Mismatch,
            file: None,
            problem: Some(format!("{file}: {why}")),
        },
    }
}

/// The newest signed day this host has pulled for a profile, and the version of it, kept in
/// its store (`2026-12-04 v2`): `latest` may never take a reader back past that day without
/// `--date`, and that day never goes back to an older version.
struct Newest {
    path: PathBuf,
}

impl Newest {
    const FILE: &'static str = ".pulled-newest";

    /// `None`, with a warning, where the store cannot be made (a machine that only pulls,
    /// read-only): the pull goes on without the check.
    fn of(profile: &Profile) -> Option<Newest> {
        match crate::store::ProfileStore::open(&profile.store, &profile.name) {
            Ok(store) => Some(Newest {
                path: store.dir().join(Self::FILE),
            }),
            Err(e) => {
                crate::events::warning(&format!(
                    "no store to remember the newest day pulled, so a rolled-back latest is not caught: {}",
                    e.one_line()
                ));
                None
            }
        }
    }

    /// The day and its version (0 where an older acc recorded the day alone).
    fn get(&self) -> Option<(NaiveDate, u32)> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let mut words = text.split_whitespace();
        let date = NaiveDate::parse_from_str(words.next()?, "%Y-%m-%d").ok()?;
        let version = match words.next() {
            Some(v) => v.strip_prefix('v')?.parse().ok()?,
            None => 0,
        };
        Some((date, version))
    }

    fn record(&self, date: NaiveDate, version: u32) -> Result<()> {
        if self.get().is_some_and(|seen| seen >= (date, version)) {
            return Ok(());
        }
        crate::store::write_atomic(&self.path, format!("{date} v{version}\n").as_bytes())
    }
}
