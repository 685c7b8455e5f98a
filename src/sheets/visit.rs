//! An employee's sheet read back from the sheet query's CSV by column name: whose it is and
//! each visit with what the worker needs at the door. Columns the page does not know are kept
//! as labelled lines; the blank fill-in columns are drawn as boxes instead.

use std::collections::HashMap;

use csv::StringRecord;

/// Columns a worker fills in on paper: the page draws boxes and lines for them.
pub const FILL_IN: [&str; 5] = ["Clock in", "Clock out", "Tasks done", "Note", "Initials"];

/// One employee's visits, in the query's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmployeeSheet {
    pub number: String,
    pub name: String,
    pub visits: Vec<Visit>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visit {
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

/// Where each known column is in the header, found once.
#[derive(Debug, Clone)]
pub struct Columns {
    header: Vec<String>,
    at: HashMap<&'static str, usize>,
}

impl Columns {
    pub fn new(header: &StringRecord) -> Columns {
        let header: Vec<String> = header.iter().map(str::to_string).collect();
        let at = KNOWN
            .iter()
            .filter_map(|&k| header.iter().position(|h| h == k).map(|i| (k, i)))
            .collect();
        Columns { header, at }
    }

    fn get<'r>(&self, record: &'r StringRecord, name: &'static str) -> &'r str {
        self.at.get(name).and_then(|&i| record.get(i)).unwrap_or("")
    }

    /// The visit of one CSV record.
    pub fn visit(&self, record: &StringRecord) -> Visit {
        let known = |h: &str| KNOWN.contains(&h) || FILL_IN.contains(&h);
        let other = self
            .header
            .iter()
            .zip(record.iter())
            .filter(|(h, v)| !known(h) && !v.trim().is_empty())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        Visit {
            number: self.get(record, "Visit").to_string(),
            client_number: self.get(record, "Client number").to_string(),
            client: self.get(record, "Client").to_string(),
            address: self.get(record, "Address").to_string(),
            phone: self.get(record, "Phone").to_string(),
            start: self.get(record, "Start").to_string(),
            end: self.get(record, "End").to_string(),
            tasks: items(self.get(record, "Tasks"), starts_task),
            alerts: items(self.get(record, "Allergies and risks"), starts_alert),
            other,
        }
    }

    /// The employee's number and name, from any of their records.
    pub fn employee(&self, record: &StringRecord) -> (String, String) {
        (
            record.get(0).unwrap_or("").to_string(),
            self.get(record, "Employee").to_string(),
        )
    }
}

const KNOWN: [&str; 11] = [
    "Employee number",
    "Employee",
    "Visit",
    "Client number",
    "Client",
    "Address",
    "Phone",
    "Start",
    "End",
    "Tasks",
    "Allergies and risks",
];

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
        let c = Columns::new(&record(&[
            "Employee number",
            "Visit",
            "Client",
            "Tasks",
            "Allergies and risks",
            "Gate code",
            "Clock in",
        ]));
        let v = c.visit(&record(&[
            "E-1",
            "42",
            "Zoë Ashgrove-SYNTH",
            "7: Assist with shower; 9: Meal; 10: Walk: slowly",
            "ALLERGY Latex (Rash, low); RISK Falls (high): Two falls; keep walkways clear",
            "4711",
            "",
        ]));
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
