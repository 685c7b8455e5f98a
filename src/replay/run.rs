//! One replay: read the files, check them against production, then (for `apply`) apply the
//! plan and write what was refused and what conflicts, encrypted, for review.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::apply::{self, Done, LineOutcome};
use super::check::{self, Checked};
use super::clock::Ambiguous;
use super::entry::{self, Record};
use super::planned::Planned;
use super::read::{self, Parsed, Problem, RawLine};
use super::writes::Batch;
use crate::config::Profile;
use crate::crypt::{Identities, Recipients, decrypt_from, encrypt_to};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::export::device_sync;

pub struct ReplayRequest {
    pub files: Vec<PathBuf>,
    pub ambiguous: Ambiguous,
    pub identity: Option<PathBuf>,
    /// A file with no entries is refused (65) rather than warned about.
    pub require_entries: bool,
    /// `None` only checks.
    pub apply: Option<ApplyOptions>,
}

pub struct ApplyOptions {
    pub operator: String,
    pub dry_run: bool,
    pub prefer_paper: bool,
    /// Where rejects and conflicts files go; default: beside each input.
    pub out: Option<PathBuf>,
}

/// Every line read is exactly one of these.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Tally {
    pub total: u64,
    pub applied: u64,
    pub duplicate: u64,
    pub conflict: u64,
    pub rejected: u64,
    /// Sheet lines nobody filled in.
    pub blank: u64,
}

pub struct ReplayReport {
    pub batch_id: String,
    pub tally: Tally,
    /// Files refused whole (encoding, header, kind): apply exits 65 for these, as check does.
    pub refused_files: usize,
    pub problems: Vec<Problem>,
    pub conflicts: Vec<(String, String)>,
    /// Lines typed from a stale schedule (`file:line`, why), when the profile tracks devices:
    /// reported for the coordinator to check, never refused.
    pub stale: Vec<(String, String)>,
    /// Why no line could be checked for a stale schedule (staging unreadable), when so.
    pub stale_unchecked: Option<String>,
    /// Planned changes, for `--dry-run`.
    pub changes: Vec<String>,
    pub written: Vec<PathBuf>,
}

pub async fn replay(profile: &Profile, env: &Env, req: &ReplayRequest) -> Result<ReplayReport> {
    let identities = req.identity.as_deref().map(Identities::load).transpose()?;
    let (inputs, batch_id) = read_inputs(&req.files, identities.as_ref())?;
    let mut read = records_of(&inputs);
    no_entries(&read.empty, req.require_entries)?;

    let zone = profile.region.local_zone();
    let mut client = crate::pg::connect(profile.production()?, env, "acc-replay").await?;
    let facts = check::facts(&client, &read.records).await?;
    let Checked {
        planned,
        rejected: refused,
        blank,
    } = check::check(read.records, &facts, zone, req.ambiguous, Utc::now());
    read.rejected.extend(refused);
    read.tally.blank = blank.len() as u64;
    read.tally.rejected += read.rejected.len() as u64;
    let mut problems = read.problems;
    problems.extend(read.rejected.iter().map(|(_, p)| p.clone()));
    problems.sort_by(|a, b| (&*a.file, a.line, a.column).cmp(&(&*b.file, b.line, b.column)));

    let mut report = ReplayReport {
        batch_id: batch_id.clone(),
        tally: read.tally,
        refused_files: read.refused_files,
        problems,
        conflicts: Vec::new(),
        stale: Vec::new(),
        stale_unchecked: None,
        changes: Vec::new(),
        written: Vec::new(),
    };
    match stale_lines(profile, env, &planned, zone).await {
        Ok(lines) => report.stale = lines,
        Err(why) => report.stale_unchecked = Some(why),
    }
    let Some(opts) = &req.apply else {
        return Ok(report);
    };
    let batch = Batch {
        id: batch_id,
        operator: opts.operator.clone(),
        prefer_paper: opts.prefer_paper,
        dry_run: opts.dry_run,
    };
    crate::failpoint::pause("replay:checked").await;
    let done: Vec<Done> = apply::apply(&mut client, &planned, &batch, |_| {}).await?;
    let conflicted = count(&done, &planned, opts.dry_run, &mut report);
    if !opts.dry_run {
        let recipients = profile.age_recipients.required(&profile.name)?;
        report.written = write_reviews(&inputs, &read.rejected, &conflicted, opts, &recipients)?;
    }
    Ok(report)
}

/// The planned lines typed from a stale schedule, when the profile tracks devices; why none
/// could be checked when staging cannot be read (the report says so, in JSON too).
async fn stale_lines(
    profile: &Profile,
    env: &Env,
    planned: &[Planned],
    zone: chrono_tz::Tz,
) -> std::result::Result<Vec<(String, String)>, String> {
    if planned.is_empty() || !device_sync::tracked(&profile.export.extra_dashboards) {
        return Ok(Vec::new());
    }
    let read = async { super::stale::flags(profile.staging()?, env, planned, zone).await };
    read.await.map_err(|e| {
        let why = e.message().to_string();
        crate::events::warning(&format!(
            "cannot tell which lines were typed from a stale schedule: {why}"
        ));
        why
    })
}

/// One input file: its path, what parsing found, and its lines by a plain count (for a file
/// refused whole).
type Input = (PathBuf, Parsed, u64);

/// Reads every file (decrypting `.age` ones); the batch id is a digest of all their bytes,
/// so the same files make the same batch.
fn read_inputs(files: &[PathBuf], identities: Option<&Identities>) -> Result<(Vec<Input>, String)> {
    let mut inputs = Vec::new();
    let mut hasher = Sha256::new();
    for path in files {
        let bytes = read_input(path, identities)?;
        hasher.update(&bytes);
        let parsed = read::parse(&path.display().to_string(), &bytes);
        let estimate = bytes
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .saturating_sub(1) as u64;
        inputs.push((path.clone(), parsed, estimate));
    }
    let batch_id = format!("paper-{}", crate::crypt::hex(&hasher.finalize()[..8]));
    Ok((inputs, batch_id))
}

/// What the files hold before production is asked: records to check, and lines refused.
#[derive(Default)]
struct Read {
    tally: Tally,
    refused_files: usize,
    problems: Vec<Problem>,
    rejected: Vec<(RawLine, Problem)>,
    records: Vec<Record>,
    /// Files read whole that hold no entry: a header alone, or sheet lines nobody filled in.
    empty: Vec<String>,
}

/// Warns about each file with no entries, or refuses them (65) when entries are required.
fn no_entries(empty: &[String], required: bool) -> Result<()> {
    if empty.is_empty() {
        return Ok(());
    }
    let files = empty.join(", ");
    if required {
        return Err(Error::new(
            Kind::BadInput,
            format!("{files}: no entries (a header alone, or nothing filled in); nothing was checked or applied"),
        )
        .hint("is it the typed-up file? drop --require-entries to go on without it"));
    }
    crate::events::warning(&format!(
        "{files}: no entries (a header alone, or nothing filled in)"
    ));
    Ok(())
}

fn records_of(inputs: &[Input]) -> Read {
    let mut out = Read::default();
    for (_, parsed, estimate) in inputs {
        let Parsed {
            lines,
            problems: bad,
            total,
            ..
        } = parsed;
        out.problems.extend(bad.iter().cloned());
        if parsed.headers.is_empty() {
            // the file could not be read at all: every line of it is refused
            out.tally.total += estimate;
            out.tally.rejected += estimate;
            out.refused_files += 1;
            continue;
        }
        out.tally.total += total;
        out.tally.rejected += bad.len() as u64;
        match entry::kind_of(parsed) {
            Err(p) => {
                out.tally.rejected += lines.len() as u64;
                out.refused_files += 1;
                out.problems.push(p);
            }
            Ok(kind) => {
                let mut entries = bad.len();
                for raw in lines.iter().cloned() {
                    match entry::record(raw.clone(), kind) {
                        Ok(r) => {
                            entries += usize::from(!r.is_blank());
                            out.records.push(r);
                        }
                        Err(p) => {
                            entries += 1;
                            out.rejected.push((raw, p));
                        }
                    }
                }
                if entries == 0 {
                    out.empty.push(parsed.file.to_string());
                }
            }
        }
    }
    out
}

/// Counts each line's outcome into the report; returns the conflicting lines with why.
fn count(
    done: &[Done],
    planned: &[Planned],
    dry_run: bool,
    report: &mut ReplayReport,
) -> Vec<(RawLine, String)> {
    let mut conflicted = Vec::new();
    for d in done {
        let p = &planned[d.index];
        let at = format!("{}:{}", p.raw.file, p.raw.line);
        match d.outcome {
            LineOutcome::Applied => report.tally.applied += 1,
            LineOutcome::Duplicate => report.tally.duplicate += 1,
            LineOutcome::Conflict => {
                report.tally.conflict += 1;
                let why = d.conflict.clone().unwrap_or_default();
                report.conflicts.push((at.clone(), why.clone()));
                conflicted.push((p.raw.clone(), why));
            }
        }
        if dry_run {
            report
                .changes
                .extend(d.changes.iter().map(|c| format!("{at}: {c}")));
        }
    }
    conflicted
}

/// Writes each input's refused and conflicting lines, sealed, beside it (or in `--out`).
fn write_reviews(
    inputs: &[Input],
    rejected: &[(RawLine, Problem)],
    conflicted: &[(RawLine, String)],
    opts: &ApplyOptions,
    recipients: &Recipients,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, parsed, _) in inputs {
        let mine = |raw: &RawLine| *raw.file == *path.display().to_string();
        let rejects: Vec<(&RawLine, String)> = rejected
            .iter()
            .filter(|(r, _)| mine(r))
            .map(|(r, p)| (r, p.to_string()))
            .collect();
        let conflicts: Vec<(&RawLine, String)> = conflicted
            .iter()
            .filter(|(r, _)| mine(r))
            .map(|(r, w)| (r, w.clone()))
            .collect();
        for (what, rows, column) in [
            ("rejects", rejects, entry::REJECT_REASON),
            ("conflicts", conflicts, "conflict"),
        ] {
            if rows.is_empty() {
                continue;
            }
            let target = beside(path, opts.out.as_deref(), what);
            write_sealed(&target, recipients, &parsed.written_headers, column, &rows)?;
            written.push(target);
        }
    }
    Ok(written)
}

/// A file's bytes; `.age` files are decrypted in memory with the identity.
fn read_input(path: &Path, identities: Option<&Identities>) -> Result<Vec<u8>> {
    let unreadable = |e: std::io::Error| {
        Error::new(Kind::BadInput, format!("cannot read {}", path.display())).source(e)
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let limit = read::MAX_FILE as u64 + 1;
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "age") {
        let ids = identities.ok_or_else(|| {
            Error::usage(format!("{} is encrypted: pass --identity", path.display()))
        })?;
        let reader = decrypt_from(
            ids,
            std::io::BufReader::new(file),
            &path.display().to_string(),
        )?;
        std::io::Read::read_to_end(&mut std::io::Read::take(reader, limit), &mut bytes)
            .map_err(unreadable)?;
    } else {
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit), &mut bytes)
            .map_err(unreadable)?;
    }
    Ok(bytes)
}

/// `<dir>/<stem>.<what>.csv.age`.
fn beside(input: &Path, out: Option<&Path>, what: &str) -> PathBuf {
    let name = input
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input");
    let stem = name.trim_end_matches(".age").trim_end_matches(".csv");
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| input.parent().map(Path::to_path_buf).unwrap_or_default());
    dir.join(format!("{stem}.{what}.csv.age"))
}

/// The refused lines as they were written, plus a reason column, encrypted; ready to decrypt,
/// fix and feed back (the reason column is ignored on the way in).
fn write_sealed(
    target: &Path,
    recipients: &Recipients,
    headers: &[String],
    reason: &str,
    rows: &[(&RawLine, String)],
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| {
        Error::new(
            Kind::Unavailable,
            format!("cannot write {}", target.display()),
        )
        .source(e)
    };
    let tmp = target.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed)?;
    let mut sealed = encrypt_to(recipients, std::io::BufWriter::new(file))?;
    {
        let mut w = csv::Writer::from_writer(&mut sealed);
        let keep: Vec<usize> = (0..headers.len())
            .filter(|&i| read::normalise(&headers[i]) != entry::REJECT_REASON)
            .collect();
        let mut head: Vec<&str> = keep.iter().map(|&i| headers[i].as_str()).collect();
        head.push(reason);
        w.write_record(&head).map_err(|e| failed(e.into()))?;
        for (raw, why) in rows {
            // the cells were unguarded when read: a person opens this file in a spreadsheet
            let guard = crate::export::spreadsheet::guard_cell;
            let mut rec: Vec<std::borrow::Cow<'_, str>> = keep
                .iter()
                .map(|&i| guard(raw.fields.get(i).map_or("", |s| s.as_str())))
                .collect();
            rec.push(guard(why));
            w.write_record(rec.iter().map(|c| c.as_bytes()))
                .map_err(|e| failed(e.into()))?;
        }
        w.flush().map_err(failed)?;
    }
    let inner = sealed.finish().map_err(failed)?;
    inner
        .into_inner()
        .map_err(|e| failed(e.into_error()))?
        .sync_all()
        .map_err(failed)?;
    std::fs::rename(&tmp, target).map_err(failed)?;
    Ok(())
}
