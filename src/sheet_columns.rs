//! The paper sheet's columns, defined once. The sheet query must give each of them (its
//! header is checked before any sheet is written), the printed page reads its cells by them,
//! and `acc replay` reads a typed-up sheet back by them.

use crate::error::{Error, Result};

/// One column of the downtime sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    EmployeeNumber,
    Employee,
    Visit,
    ClientNumber,
    Client,
    Address,
    Phone,
    Start,
    End,
    Tasks,
    AllergiesAndRisks,
    ClockIn,
    ClockOut,
    TasksDone,
    Note,
    Initials,
}

impl Column {
    /// Every column, in the query's order. The first is the employee's number: a sheet is
    /// split where it changes.
    pub const ALL: [Column; 16] = [
        Column::EmployeeNumber,
        Column::Employee,
        Column::Visit,
        Column::ClientNumber,
        Column::Client,
        Column::Address,
        Column::Phone,
        Column::Start,
        Column::End,
        Column::Tasks,
        Column::AllergiesAndRisks,
        Column::ClockIn,
        Column::ClockOut,
        Column::TasksDone,
        Column::Note,
        Column::Initials,
    ];

    /// The columns a worker fills in on paper: the page draws boxes and lines for them.
    pub const FILL_IN: [Column; 5] = [
        Column::ClockIn,
        Column::ClockOut,
        Column::TasksDone,
        Column::Note,
        Column::Initials,
    ];

    /// The header as the sheet query writes it.
    pub const fn header(self) -> &'static str {
        match self {
            Column::EmployeeNumber => "Employee number",
            Column::Employee => "Employee",
            Column::Visit => "Visit",
            Column::ClientNumber => "Client number",
            Column::Client => "Client",
            Column::Address => "Address",
            Column::Phone => "Phone",
            Column::Start => "Start",
            Column::End => "End",
            Column::Tasks => "Tasks",
            Column::AllergiesAndRisks => "Allergies and risks",
            Column::ClockIn => "Clock in",
            Column::ClockOut => "Clock out",
            Column::TasksDone => "Tasks done",
            Column::Note => "Note",
            Column::Initials => "Initials",
        }
    }

    /// The name replay reads it by: the header normalised (`Clock in` is `clock_in`), except
    /// the visit, which replay's other files also call `visit_id`.
    pub const fn key(self) -> &'static str {
        match self {
            Column::EmployeeNumber => "employee_number",
            Column::Employee => "employee",
            Column::Visit => "visit_id",
            Column::ClientNumber => "client_number",
            Column::Client => "client",
            Column::Address => "address",
            Column::Phone => "phone",
            Column::Start => "start",
            Column::End => "end",
            Column::Tasks => "tasks",
            Column::AllergiesAndRisks => "allergies_and_risks",
            Column::ClockIn => "clock_in",
            Column::ClockOut => "clock_out",
            Column::TasksDone => "tasks_done",
            Column::Note => "note",
            Column::Initials => "initials",
        }
    }

    /// The column a header names, written as the query writes it.
    pub fn of_header(header: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.header() == header)
    }

    pub fn is_fill_in(self) -> bool {
        Column::FILL_IN.contains(&self)
    }
}

/// Where each column is in the header of `query` (which query, from where). A column missing
/// from the header is a configuration error that names it: an overriding query may add
/// columns, never drop one.
pub fn positions(query: &str, header: &[&str]) -> Result<[usize; Column::ALL.len()]> {
    let bad = |why: String| {
        Error::config(format!("{query}: {why}"))
            .hint("a sheet query may add columns to the built-in one, never leave one out")
    };
    let mut at = [0; Column::ALL.len()];
    let mut missing = Vec::new();
    for (i, c) in Column::ALL.into_iter().enumerate() {
        match header.iter().position(|h| *h == c.header()) {
            Some(p) => at[i] = p,
            None => missing.push(format!("\"{}\"", c.header())),
        }
    }
    if !missing.is_empty() {
        return Err(bad(format!("no column {}", missing.join(", "))));
    }
    if at[0] != 0 {
        return Err(bad(format!(
            "the first column must be \"{}\"",
            Column::EmployeeNumber.header()
        )));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in query's aliases are exactly the columns, in order.
    #[test]
    fn the_built_in_query_gives_every_column_in_order() {
        let sql = include_str!("../profiles/sheets/downtime-sheet.sql");
        let aliases: Vec<&str> = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .filter_map(|l| l.rsplit_once(" AS \"").map(|(_, a)| a))
            .filter_map(|a| a.split_once('"').map(|(name, _)| name))
            .collect();
        let headers: Vec<&str> = Column::ALL.iter().map(|c| c.header()).collect();
        assert_eq!(aliases, headers);
    }

    #[test]
    fn a_missing_column_is_named_and_a_header_maps_back() {
        let mut header: Vec<&str> = Column::ALL.iter().map(|c| c.header()).collect();
        assert!(positions("q", &header).is_ok());
        header.retain(|h| *h != "Clock out" && *h != "Phone");
        let err = positions("the sheet query (x.sql)", &header).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert_eq!(
            err.message(),
            "the sheet query (x.sql): no column \"Phone\", \"Clock out\""
        );
        assert_eq!(Column::of_header("Tasks done"), Some(Column::TasksDone));
        assert!(Column::of_header("tasks done").is_none());
    }
}
