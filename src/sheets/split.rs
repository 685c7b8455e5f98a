//! Splitting the sheet query's CSV by employee (its first column) as it streams: every row
//! goes to the combined sheet and to its employee's, each a sealed file of the day, so no
//! CSV is ever held whole in memory. When sheets are printed, an employee's visits are kept
//! until their rows end, then rendered (see `printed`). Runs on a blocking thread.

use std::collections::BTreeSet;

use tokio::sync::mpsc;

use super::chunks::{ChunkReader, ChunkWriter};
use super::printed::{Printer, Printing};
use super::visit::{COMBINED, Columns, EmployeeSheet};
use crate::error::{Error, Kind, Result};
use crate::publish::{Chunk, DayWriter, FileEntry, FileKind, SealedFile};

/// Reads the CSV from `rx` and writes the sheets: CSVs when `csv`, PDFs when `printing`;
/// only the employees `only` names when it is given. Returns their entries, the combined
/// ones first, then each employee's (CSV, then PDF).
pub fn split(
    rx: mpsc::Receiver<Chunk>,
    writer: &DayWriter,
    origin: &str,
    (csv, only): (bool, Option<&BTreeSet<String>>),
    printing: Option<Printing>,
) -> Result<Vec<FileEntry>> {
    let bad = |e: csv::Error| Error::new(Kind::Internal, "the sheet CSV does not parse").source(e);
    let mut input = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(ChunkReader::new(rx));
    let header = input.headers().map_err(bad)?.clone();
    let columns = Columns::new(&format!("the sheet query ({origin})"), &header)?;
    let mut all = csv
        .then(|| Sheet::start(writer, COMBINED, &header))
        .transpose()?;
    let mut printer = printing.map(|p| Printer::new(writer, p));
    let mut current: Option<Employee> = None;
    let mut seen = BTreeSet::new();
    let mut done = Vec::new();
    for record in input.records() {
        let record = record.map_err(bad)?;
        let employee = record.get(0).unwrap_or("");
        if only.is_some_and(|o| !o.contains(employee)) {
            continue;
        }
        if current.as_ref().is_none_or(|e| e.number != employee) {
            check_employee(employee, &mut seen)?;
            if let Some(e) = current.take() {
                done.extend(e.finish(origin, printer.as_mut())?);
            }
            current = Some(Employee::start(writer, &columns, &record, csv, &header)?);
        }
        let e = current.as_mut().expect("started above");
        if let Some(sheet) = &mut e.csv {
            sheet.write(&record)?;
        }
        if printer.is_some() {
            e.printed.visits.push(columns.visit(&record));
        }
        if let Some(all) = &mut all {
            all.write(&record)?;
        }
    }
    if let Some(e) = current {
        done.extend(e.finish(origin, printer.as_mut())?);
    }
    let mut out = Vec::new();
    if let Some(all) = all {
        out.push(all.finish(origin)?);
    }
    if let Some(p) = printer {
        out.push(p.finish(origin)?);
    }
    out.extend(done);
    Ok(out)
}

/// The employee whose rows are streaming: their CSV sheet, and their visits when printing.
struct Employee {
    number: String,
    csv: Option<Sheet>,
    printed: EmployeeSheet,
}

impl Employee {
    fn start(
        writer: &DayWriter,
        columns: &Columns,
        record: &csv::StringRecord,
        csv: bool,
        header: &csv::StringRecord,
    ) -> Result<Employee> {
        let (number, name) = columns.employee(record);
        let csv = csv
            .then(|| Sheet::start(writer, &number, header))
            .transpose()?;
        Ok(Employee {
            number: number.clone(),
            csv,
            printed: EmployeeSheet {
                number,
                name,
                visits: Vec::new(),
            },
        })
    }

    fn finish(self, origin: &str, printer: Option<&mut Printer>) -> Result<Vec<FileEntry>> {
        let mut out = Vec::new();
        if let Some(sheet) = self.csv {
            out.push(sheet.finish(origin)?);
        }
        if let Some(p) = printer {
            out.push(p.employee(&self.printed, origin)?);
        }
        Ok(out)
    }
}

/// An employee number names a file, and each employee's rows must come together.
fn check_employee(employee: &str, seen: &mut BTreeSet<String>) -> Result<()> {
    let plain = !employee.is_empty()
        && employee
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(Error::new(
            Kind::BadInput,
            "an employee number is not a plain file name",
        )
        .hint("the sheet query's first column must be the employee number"));
    }
    if !seen.insert(employee.to_string()) {
        return Err(Error::new(
            Kind::BadInput,
            format!("employee {employee}'s rows are not together in the sheet query's output"),
        )
        .hint("the sheet query must order its rows by the employee number first"));
    }
    Ok(())
}

/// One sheet being written: CSV records into a sealed file.
struct Sheet {
    name: String,
    rows: u64,
    csv: csv::Writer<ChunkWriter>,
    file: SealedFile,
}

impl Sheet {
    fn start(writer: &DayWriter, name: &str, header: &csv::StringRecord) -> Result<Sheet> {
        let mut file = writer.create_blocking(name, FileKind::Csv)?;
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(ChunkWriter::new(file.sender()));
        csv.write_record(header).map_err(write_failed)?;
        Ok(Sheet {
            name: name.to_string(),
            rows: 0,
            csv,
            file,
        })
    }

    fn write(&mut self, record: &csv::StringRecord) -> Result<()> {
        self.csv.write_record(record).map_err(write_failed)?;
        self.rows += 1;
        Ok(())
    }

    fn finish(self, origin: &str) -> Result<FileEntry> {
        let chunks = self
            .csv
            .into_inner()
            .map_err(|e| write_failed(e.into_error().into()))?;
        let plaintext = chunks.end().map_err(|e| write_failed(e.into()))?;
        let name = self.file.file().to_string();
        let digest = self.file.finish_blocking()?;
        Ok(FileEntry::delivered(
            &self.name, origin, name, self.rows, plaintext, digest,
        ))
    }
}

fn write_failed(e: csv::Error) -> Error {
    Error::new(Kind::Temporary, "cannot write a sheet").source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_employee_whose_rows_are_apart_is_refused() {
        let mut seen = BTreeSet::new();
        assert!(check_employee("E-1", &mut seen).is_ok());
        assert!(check_employee("E-2", &mut seen).is_ok());
        assert_eq!(
            check_employee("E-1", &mut seen).unwrap_err().exit_code(),
            65
        );
        assert_eq!(
            check_employee("../x", &mut seen).unwrap_err().exit_code(),
            65
        );
    }
}
