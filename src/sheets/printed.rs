//! The printable side of `acc sheets`: each employee's sheet rendered as a PDF in memory and
//! sealed as `<employee>.pdf.age`, and every sheet added to the combined `all.pdf.age`, each
//! employee starting on a new page.

use std::collections::HashMap;

use super::pdf::{Context, Document, labels_of, missed};
use crate::export::device_sync::Carer;
use crate::print::{Language, Paper};
use std::io::Write;

use super::chunks::ChunkWriter;
use super::visit::{COMBINED, EmployeeSheet};
use crate::error::{Error, Kind, Result};
use crate::publish::{DayWriter, FileEntry, FileKind};

/// What every printed page says besides the employee's visits.
#[derive(Debug, Clone)]
pub struct Printing {
    pub paper: Paper,
    pub language: Language,
    pub profile: String,
    /// The sheet's days as printed.
    pub days: String,
    pub data_as_of: Option<String>,
    pub zone: String,
    /// The carers the device-sync dashboard lists, most urgent first, when the profile
    /// tracks devices: the combined PDF starts with the urgent ones, and each sheet's header
    /// says what the carer's app misses.
    pub devices: Option<Vec<Carer>>,
    /// Built from `devices` when printing starts.
    missed: HashMap<String, String>,
}

impl Printing {
    pub fn new(
        (paper, language): (Paper, Language),
        profile: String,
        days: String,
        data_as_of: Option<String>,
        zone: String,
        devices: Option<Vec<Carer>>,
    ) -> Printing {
        let labels = labels_of(language);
        let missed = devices
            .iter()
            .flatten()
            .filter_map(|c| Some((c.number.clone(), missed(c, labels)?)))
            .collect();
        Printing {
            paper,
            language,
            profile,
            days,
            data_as_of,
            zone,
            devices,
            missed,
        }
    }

    fn context(&self) -> Context<'_> {
        Context {
            profile: &self.profile,
            days: self.days.clone(),
            data_as_of: self.data_as_of.clone(),
            zone: &self.zone,
            labels: labels_of(self.language),
            missed: &self.missed,
        }
    }

    fn title(&self, who: &str) -> String {
        format!("{} {who} {}", labels_of(self.language).title, self.days)
    }
}

/// The PDFs of one run: each employee's as they end, the combined one at the finish.
pub struct Printer<'w> {
    writer: &'w DayWriter,
    printing: Printing,
    all: Document,
    visits: u64,
}

impl<'w> Printer<'w> {
    pub fn new(writer: &'w DayWriter, printing: Printing) -> Printer<'w> {
        let mut all = Document::new(printing.paper, &printing.title(COMBINED));
        if let Some(carers) = &printing.devices {
            let urgent: Vec<&Carer> = carers.iter().filter(|c| c.urgent()).collect();
            all.add_urgent(&urgent, &printing.context());
        }
        Printer {
            writer,
            printing,
            all,
            visits: 0,
        }
    }

    /// Seals one employee's PDF and adds their pages to the combined one.
    pub fn employee(&mut self, sheet: &EmployeeSheet, origin: &str) -> Result<FileEntry> {
        let cx = self.printing.context();
        let mut doc = Document::new(self.printing.paper, &self.printing.title(&sheet.number));
        let pages = doc.add(sheet, &cx);
        self.all.add(sheet, &cx);
        let rows = sheet.visits.len() as u64;
        self.visits += rows;
        seal(
            self.writer,
            &sheet.number,
            origin,
            rows,
            pages,
            doc.finish()?,
        )
    }

    pub fn finish(self, origin: &str) -> Result<FileEntry> {
        let pages = self.all.pages();
        let bytes = self.all.finish()?;
        seal(self.writer, COMBINED, origin, self.visits, pages, bytes)
    }
}

/// A PDF made in memory, sealed into the day: it is never written in plaintext.
fn seal(
    writer: &DayWriter,
    name: &str,
    origin: &str,
    rows: u64,
    pages: usize,
    pdf: Vec<u8>,
) -> Result<FileEntry> {
    let mut file = writer.create_blocking(name, FileKind::Pdf)?;
    let mut out = ChunkWriter::new(file.sender());
    let plaintext = out.write_all(&pdf).and_then(|()| out.end()).map_err(|e| {
        Error::new(
            Kind::Temporary,
            format!("cannot write {name}'s printed sheet"),
        )
        .source(e)
    })?;
    let file_name = file.file().to_string();
    let digest = file.finish_blocking()?;
    let mut entry = FileEntry::delivered(name, origin, file_name, rows, plaintext, digest);
    entry.pages = Some(pages as u64);
    Ok(entry)
}
