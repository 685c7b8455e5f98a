//! `acc sheets`: each employee's downtime visit sheet for the coming days, one encrypted CSV
//! per employee plus one combined, delivered like exports under `<root>/<profile>/sheets/`.
//! Filled in on paper and typed up, the same CSV is the input of `acc replay`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use tokio::sync::mpsc;
use tokio::task::block_in_place;

use crate::config::{DashboardSource, Env, Profile};
use crate::crypt::Recipients;
use crate::delivery::{Delivery, Location, temp_name};
use crate::error::{Error, Kind, Result};
use crate::export::dashboard::{self, Dialect, Window};
use crate::publish::day::{self, DashboardEntry, DayManifest};
use crate::export::reader::Reader;
use crate::export::run::{local_zone, lock, publish, remove_leftovers};
use crate::export::sink::{Chunk, seal};

const BUILT_IN: &str = include_str!("../../profiles/sheets/downtime-sheet.sql");
/// The combined sheet's name; employee numbers name the others.
pub const COMBINED: &str = "all";

pub struct Request {
    pub date: NaiveDate,
    pub days: u32,
    pub source: DashboardSource,
    pub to: Location,
    pub dirs: Vec<PathBuf>,
}

pub struct Outcome {
    pub destination: String,
    pub manifest: DayManifest,
}

pub async fn sheets(profile: &Profile, env: &Env, req: &Request) -> Result<Outcome> {
    if req.source == DashboardSource::Snowflake {
        return Err(
            Error::usage("sheets are read from staging or production, not Snowflake")
                .hint("pass --source staging (the default) or --source production"),
        );
    }
    let recipients = Arc::new(Recipients::parse(&profile.name, &profile.age_recipients)?);
    let _lock = lock(profile, ".sheets.lock", "acc sheets")?;

    let generated_at = Utc::now();
    let zone = local_zone(profile);
    let window = Window::from_day(req.date, zone, req.days);
    // `sheets/downtime-sheet.sql` beside a config layer overrides the built-in query
    let (origin, text) =
        dashboard::query_text(&req.dirs, &["sheets/downtime-sheet.sql".into()], BUILT_IN)?;
    let sql = dashboard::expand(&text, Dialect::Postgres, &window)
        .map_err(|why| Error::config(format!("the sheet query ({origin}): {why}")))?;
    let reader = Reader::open(profile, env, req.source, zone.name()).await?;
    let data_as_of = reader.data_as_of().await;
    let csv = reader.csv(&sql).await?;
    let files = split(&csv)?;

    let delivery = block_in_place(|| Delivery::open(&req.to, profile.sftp.as_ref(), env))?;
    let base = format!("{}/sheets", profile.name);
    let date = req.date.format("%Y-%m-%d").to_string();
    let work = format!("{base}/.{date}.partial-{}", std::process::id());
    block_in_place(|| -> Result<()> {
        delivery.mkdir_all(&base)?;
        remove_leftovers(&delivery, &base)?;
        delivery.mkdir_all(&work)
    })?;
    let mut entries = Vec::new();
    for (name, rows, bytes) in files {
        let file = day::file_name(&name);
        let final_path = format!("{work}/{file}");
        let tmp = temp_name(&final_path);
        let upload = block_in_place(|| delivery.create(&tmp))?;
        let (tx, rx) = mpsc::channel(2);
        let r = Arc::clone(&recipients);
        let label = file.clone();
        let sealer = tokio::task::spawn_blocking(move || seal(rx, upload, r, &label));
        let plaintext = bytes.len() as u64;
        let sent = tx.send(Chunk::Data(bytes)).await.is_ok() && tx.send(Chunk::End).await.is_ok();
        drop(tx);
        let digest = sealer
            .await
            .map_err(|e| Error::internal("the encrypting writer panicked").source(e))?;
        let digest = match (sent, digest) {
            (true, Ok(d)) => d,
            (_, failed) => {
                let _ = block_in_place(|| delivery.remove_tree(&work));
                return Err(failed
                    .err()
                    .unwrap_or_else(|| Error::internal("the encrypting writer stopped early")));
            }
        };
        block_in_place(|| delivery.rename(&tmp, &final_path))?;
        entries.push(DashboardEntry {
            name,
            status: "ok".into(),
            query: origin.clone(),
            file: Some(file),
            rows: Some(rows),
            plaintext_bytes: Some(plaintext),
            size: Some(digest.size),
            sha256: Some(digest.sha256),
            error: None,
            carried_from: None,
        });
    }
    let manifest = DayManifest {
        finished_at: Utc::now(),
        dashboards: entries,
        ..DayManifest::begin(profile, &window, zone, req.source, data_as_of, generated_at)
    };
    block_in_place(|| -> Result<()> {
        delivery.write_small(&format!("{work}/{}", day::MANIFEST), &manifest.to_json())?;
        publish(&delivery, &base, &work, &date)
    })?;
    Ok(Outcome {
        destination: format!("{}/{base}/{date}", req.to.describe()),
        manifest,
    })
}

/// Splits the combined CSV into one CSV per employee (the first column), each with the
/// header, plus the combined one: `(name, rows, bytes)`.
fn split(csv: &[u8]) -> Result<Vec<(String, u64, Vec<u8>)>> {
    let bad = |e: csv::Error| Error::new(Kind::Internal, "the sheet CSV does not parse").source(e);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv);
    let header = reader.headers().map_err(bad)?.clone();
    let writer = || {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let _ = w.write_record(&header);
        w
    };
    let mut all = writer();
    let mut all_rows = 0;
    let mut per: Vec<(String, u64, csv::Writer<Vec<u8>>)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let employee = record.get(0).unwrap_or("").to_string();
        if per.last().is_none_or(|(e, _, _)| *e != employee) {
            per.push((employee, 0, writer()));
        }
        let (_, rows, w) = per.last_mut().expect("just pushed");
        w.write_record(&record).map_err(bad)?;
        all.write_record(&record).map_err(bad)?;
        *rows += 1;
        all_rows += 1;
    }
    let finish = |w: csv::Writer<Vec<u8>>| {
        w.into_inner()
            .map_err(|e| Error::internal("cannot finish a sheet").source(e.into_error()))
    };
    let mut out = Vec::with_capacity(per.len() + 1);
    out.push((COMBINED.to_string(), all_rows, finish(all)?));
    for (employee, rows, w) in per {
        if !employee
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || employee.is_empty()
        {
            return Err(Error::new(
                Kind::BadInput,
                "an employee number is not a plain file name",
            )
            .hint("the sheet query's first column must be the employee number"));
        }
        out.push((employee, rows, finish(w)?));
    }
    Ok(out)
}
