//! A visit as a block of rows for the page: its title bar, the client and where to go, the
//! allergies and risks set apart, a checkbox per task, boxes for the times and initials, and
//! lines for a progress note. Every row knows its height, so pages can be laid out first.

use super::labels::Labels;
use super::text::{Style, wrap};
use crate::sheets::visit::{SheetVisit, day_and_time};

pub const TITLE: Style = Style::bold(10.5);
pub const CLIENT: Style = Style::bold(10.0);
pub const BODY: Style = Style::regular(9.0);
pub const LABEL: Style = Style::bold(8.5);
pub const ALERT: Style = Style::bold(9.0);
/// Tasks of a visit too crowded for a page at the normal size.
const COMPACT_TASK: Style = Style::regular(7.5);
/// Inside the block's frame.
pub const PAD: f32 = 6.0;
/// Tasks go in two columns beyond this many.
const ONE_COLUMN_TASKS: usize = 8;
const CHECKBOX: f32 = 12.0;
pub const TITLE_HEIGHT: f32 = 18.0;
pub const CLOCK_HEIGHT: f32 = 26.0;
pub const NOTE_LINES: usize = 3;
pub const NOTE_SPACING: f32 = 17.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// The shaded bar: visit number and times on the left, the client's number on the right.
    Title {
        left: String,
        right: String,
    },
    /// One line of text, `indent` points in from the frame's padding.
    Line {
        style: Style,
        text: String,
        indent: f32,
    },
    /// A line of the allergies and risks, set apart by a heavy bar and a tint.
    Alert {
        text: String,
        label: bool,
    },
    /// One task: a checkbox per column with its wrapped text.
    Task {
        cells: Vec<Vec<String>>,
        style: Style,
    },
    /// Boxes for the clock-in and clock-out times and the worker's initials.
    Clock,
    /// The progress note's label and ruled lines.
    Note,
    Gap(f32),
}

impl Row {
    pub fn height(&self) -> f32 {
        match self {
            Row::Title { .. } => TITLE_HEIGHT,
            Row::Line { style, .. } => style.leading(),
            Row::Alert { .. } => ALERT.leading() + 1.0,
            Row::Task { cells, style } => {
                let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
                lines as f32 * style.leading() + 2.0
            }
            Row::Clock => CLOCK_HEIGHT,
            Row::Note => LABEL.leading() + NOTE_LINES as f32 * NOTE_SPACING,
            Row::Gap(h) => *h,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The visit number, for the page's footer.
    pub visit: String,
    pub rows: Vec<Row>,
}

impl Block {
    pub fn height(&self) -> f32 {
        self.rows.iter().map(Row::height).sum()
    }
}

/// How tightly a visit's tasks are set: compact for a visit that would not fit a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    Normal,
    Compact,
}

/// A visit's block for a frame `width` points wide: set normally, or compactly when that
/// is what it takes to keep it on one page of body height `body`.
pub fn visit_block(v: &SheetVisit, labels: &Labels, width: f32, body: f32) -> Block {
    let normal = set_block(v, labels, width, Density::Normal);
    if normal.height() <= body {
        return normal;
    }
    set_block(v, labels, width, Density::Compact)
}

fn set_block(v: &SheetVisit, labels: &Labels, width: f32, density: Density) -> Block {
    let inner = width - 2.0 * PAD;
    let mut rows = vec![Row::Title {
        left: title(v, labels),
        right: if v.client_number.is_empty() {
            String::new()
        } else {
            format!("{} {}", labels.client, v.client_number)
        },
    }];
    rows.push(Row::Gap(3.0));
    let lines = |rows: &mut Vec<Row>, style: Style, text: &str| {
        rows.extend(wrap(text, style, inner).into_iter().map(|text| Row::Line {
            style,
            text,
            indent: 0.0,
        }));
    };
    lines(&mut rows, CLIENT, &v.client);
    if !v.address.is_empty() {
        lines(&mut rows, BODY, &v.address);
    }
    if !v.phone.is_empty() {
        lines(&mut rows, BODY, &format!("{}: {}", labels.phone, v.phone));
    }
    for (label, value) in &v.other {
        lines(&mut rows, BODY, &format!("{label}: {value}"));
    }
    rows.push(Row::Gap(3.0));
    if v.alerts.is_empty() {
        lines(&mut rows, BODY, labels.no_alerts);
    } else {
        rows.push(Row::Alert {
            text: format!("⚠ {}", labels.alerts),
            label: true,
        });
        for alert in &v.alerts {
            for text in wrap(alert, ALERT, inner - ALERT_INDENT) {
                rows.push(Row::Alert { text, label: false });
            }
        }
    }
    rows.push(Row::Gap(4.0));
    rows.push(Row::Line {
        style: LABEL,
        text: labels.tasks.to_string(),
        indent: 0.0,
    });
    rows.extend(task_rows(&v.tasks, labels, inner, density));
    rows.push(Row::Gap(3.0));
    rows.push(Row::Clock);
    rows.push(Row::Note);
    rows.push(Row::Gap(PAD));
    Block {
        visit: v.number.clone(),
        rows,
    }
}

/// Where an alert's text starts, after the heavy bar.
pub const ALERT_INDENT: f32 = 8.0;

fn title(v: &SheetVisit, labels: &Labels) -> String {
    let (day, start) = day_and_time(&v.start);
    let (end_day, end) = day_and_time(&v.end);
    let end = if end_day.is_empty() || end_day == day {
        end.to_string()
    } else {
        format!("{end_day} {end}")
    };
    let when = [day, &format!("{start}–{end}")].join(" ");
    format!("{} {}   {}", labels.visit, v.number, when.trim())
}

/// The tasks in one column, or two when there are many; each task wraps in its own column.
fn task_rows(tasks: &[String], labels: &Labels, inner: f32, density: Density) -> Vec<Row> {
    if tasks.is_empty() {
        return vec![Row::Line {
            style: BODY,
            text: labels.no_tasks.to_string(),
            indent: 0.0,
        }];
    }
    let columns = if tasks.len() > ONE_COLUMN_TASKS { 2 } else { 1 };
    let style = match density {
        Density::Normal => BODY,
        Density::Compact => COMPACT_TASK,
    };
    let cell = inner / columns as f32 - CHECKBOX - 4.0;
    let per_column = tasks.len().div_ceil(columns);
    (0..per_column)
        .map(|r| Row::Task {
            cells: (0..columns)
                .filter_map(|c| tasks.get(c * per_column + r))
                .map(|t| wrap(t, style, cell))
                .collect(),
            style,
        })
        .collect()
}

/// How far a task's text starts from its checkbox's left edge.
pub const TASK_TEXT: f32 = CHECKBOX;

#[cfg(test)]
mod tests {
    use super::super::labels::labels_of;
    use super::super::page::{body_height, body_width};
    use super::*;
    use crate::print::{Language, Paper};

    fn crowded() -> SheetVisit {
        SheetVisit {
            number: "90001".into(),
            client_number: "C-000001".into(),
            client: "Ngāio Łukasz-Ashgrove-SYNTH".into(),
            address: "Lantern Way ".repeat(25),
            phone: "+1-555-0100".into(),
            start: "2026-12-01 08:00:00-05".into(),
            end: "2026-12-01 09:30:00-05".into(),
            tasks: (1..=40)
                .map(|i| {
                    format!(
                        "{}: Crowded task number {i} of forty, done with care",
                        233_000 + i
                    )
                })
                .collect(),
            alerts: vec![
                "ALLERGY Latex (Rash, low)".into(),
                "RISK Falls (high): Two falls in six months; keep walkways clear".into(),
            ],
            other: vec![],
        }
    }

    #[test]
    fn a_visit_with_forty_tasks_and_a_long_address_fits_on_one_page() {
        let v = crowded();
        assert!(v.address.len() >= 300);
        for paper in [Paper::A4, Paper::Letter] {
            let b = visit_block(
                &v,
                labels_of(Language::English),
                body_width(paper),
                body_height(paper),
            );
            assert!(
                b.height() <= body_height(paper),
                "{} > {} on {paper:?}",
                b.height(),
                body_height(paper)
            );
            let tasks = b
                .rows
                .iter()
                .filter(|r| matches!(r, Row::Task { .. }))
                .count();
            assert_eq!(tasks, 20, "two columns of twenty");
        }
    }

    #[test]
    fn every_task_and_alert_is_on_the_block() {
        let v = crowded();
        let b = visit_block(&v, labels_of(Language::French), body_width(Paper::A4), 1e6);
        let mut text = String::new();
        for r in &b.rows {
            match r {
                Row::Task { cells, .. } => cells
                    .iter()
                    .flatten()
                    .for_each(|l| text += &format!("{l} ")),
                Row::Alert { text: t, .. } | Row::Line { text: t, .. } => text += &format!("{t} "),
                _ => {}
            }
        }
        for t in &v.tasks {
            assert!(text.contains(t.as_str()), "{t}");
        }
        assert!(text.contains("keep walkways clear"));
        assert!(text.contains("ALLERGIES ET RISQUES"));
        assert!(matches!(&b.rows[0], Row::Title { left, .. } if left.contains("08:00–09:30")));
    }
}
