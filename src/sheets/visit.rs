//! An employee's sheet read back from the sheet query's CSV by column name: whose it is and
//! each visit with what the worker needs at the door. Columns the page does not know are kept
//! as labelled lines; the blank fill-in columns are drawn as boxes instead.

use csv::StringRecord;

use crate::error::Result;
use crate::sheet_columns::{self, Column};

/// The combined sheet's name; employee numbers name the others.
pub const COMBINED: &str = "all";

/// One employee's visits, in the query's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmployeeSheet {
    pub number: String,
    pub name: String,
    pub visits: Vec<SheetVisit>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SheetVisit {
    /// The number `acc replay` matches the typed-up line by.
    pub number: String,
    pub client_number: String,
    pub client: String,
    pub address: String,
    pub phone: String,
    /// As the CSV has them: local, `YYYY-MM-DD HH:MM:SS±hh`.
    pub start: String,
    pub end: String,
    pub tasks: Vec<String>,
    pub alerts: Vec<String>,
    /// Any other column of an overriding query: (header, value).
    pub other: Vec<(String, String)>,
}

/// Where each column of the sheet is in the query's header, found once.
#[derive(Debug, Clone)]
pub struct Columns {
    header: Vec<String>,
    at: [usize; Column::ALL.len()],
}

impl Columns {
    /// The header's columns; one of the sheet's columns missing is an error that names it
    /// and `query`.
    pub fn new(query: &str, header: &StringRecord) -> Result<Columns> {
        let at = sheet_columns::positions(query, &header.iter().collect::<Vec<_>>())?;
        Ok(Columns {
            header: header.iter().map(str::to_string).collect(),
            at,
        })
    }

    fn get<'r>(&self, record: &'r StringRecord, column: Column) -> &'r str {
        let i = Column::ALL
            .iter()
            .position(|c| *c == column)
            .expect("every column is in ALL");
        record.get(self.at[i]).unwrap_or("")
    }

    /// The visit of one CSV record.
    pub fn visit(&self, record: &StringRecord) -> SheetVisit {
        let other = self
            .header
            .iter()
            .zip(record.iter())
            .filter(|(h, v)| Column::of_header(h).is_none() && !v.trim().is_empty())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        SheetVisit {
            number: self.get(record, Column::Visit).to_string(),
            client_number: self.get(record, Column::ClientNumber).to_string(),
            client: self.get(record, Column::Client).to_string(),
            address: self.get(record, Column::Address).to_string(),
            phone: self.get(record, Column::Phone).to_string(),
            start: self.get(record, Column::Start).to_string(),
            end: self.get(record, Column::End).to_string(),
            tasks: items(self.get(record, Column::Tasks), starts_task),
            alerts: items(self.get(record, Column::AllergiesAndRisks), starts_alert),
            other,
        }
    }

    /// The employee's number and name, from any of their records.
    pub fn employee(&self, record: &StringRecord) -> (String, String) {
        (
            self.get(record, Column::EmployeeNumber).to_string(),
            self.get(record, Column::Employee).to_string(),
        )
    }
}

/// A list the query joined with `; `. A piece that does not start an item (a risk whose
/// description has a `;` of its own) stays with the one before it.
fn items(text: &str, starts: fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split("; ") {
        match out.last_mut() {
            Some(last) if !starts(piece) => {
                last.push_str("; ");
                last.push_str(piece);
            }
            _ if piece.trim().is_empty() => {}
            _ => out.push(piece.to_string()),
        }
    }
    out
}

/// `12: Assist with shower`: a task starts with its number.
fn starts_task(piece: &str) -> bool {
    piece
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn starts_alert(piece: &str) -> bool {
    piece.starts_with("ALLERGY ") || piece.starts_with("RISK ")
}

/// `2026-12-01 08:00:00-05` as (`2026-12-01`, `08:00`); anything else whole, as the time.
pub fn day_and_time(value: &str) -> (&str, &str) {
    let b = value.as_bytes();
    let shaped = b.len() >= 16
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && value.is_char_boundary(16);
    if shaped {
        (&value[..10], &value[11..16])
    } else {
        ("", value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    #[test]
    fn a_visit_is_read_by_column_name_whatever_the_order() {
        // the query's columns in another order, with one of its own, and their cells
        let cells = [
            ("Employee number", "E-1"),
            ("Gate code", "4711"),
            ("Tasks", "7: Assist with shower; 9: Meal; 10: Walk: slowly"),
            ("Visit", "42"),
            (
                "Allergies and risks",
                "ALLERGY Latex (Rash, low); RISK Falls (high): Two falls; keep walkways clear",
            ),
            ("Client", "Zoë Ashgrove-SYNTH"),
            ("Clock in", ""),
            ("Employee", "Ana Example-SYNTH"),
            ("Client number", "C-7"),
            ("Address", ""),
            ("Phone", "555-0100"),
            ("Start", "2026-12-01 08:00:00-05"),
            ("End", "2026-12-01 09:00:00-05"),
            ("Clock out", ""),
            ("Tasks done", ""),
            ("Note", ""),
            ("Initials", ""),
        ];
        let c = Columns::new("q", &record(&cells.map(|(h, _)| h))).unwrap();
        let row = record(&cells.map(|(_, v)| v));
        let v = c.visit(&row);
        assert_eq!(v.number, "42");
        assert_eq!(v.client, "Zoë Ashgrove-SYNTH");
        assert_eq!(
            v.tasks,
            ["7: Assist with shower", "9: Meal", "10: Walk: slowly"]
        );
        assert_eq!(
            v.alerts,
            [
                "ALLERGY Latex (Rash, low)",
                "RISK Falls (high): Two falls; keep walkways clear"
            ]
        );
        assert_eq!(v.other, [("Gate code".to_string(), "4711".to_string())]);
        assert!(v.address.is_empty());
        assert_eq!(
            c.employee(&row),
            ("E-1".to_string(), "Ana Example-SYNTH".to_string())
        );
    }

    #[test]
    fn a_header_without_one_of_the_sheets_columns_is_refused_naming_it() {
        let err = Columns::new("q", &record(&["Employee number", "Visit", "Client"])).unwrap_err();
        assert!(err.message().contains("\"Clock in\""), "{}", err.message());
    }

    #[test]
    fn times_show_as_the_csv_has_them_locally() {
        assert_eq!(
            day_and_time("2026-12-01 08:00:00-05"),
            ("2026-12-01", "08:00")
        );
        assert_eq!(day_and_time("soon"), ("", "soon"));
        assert!(items("", starts_task).is_empty());
    }
}
