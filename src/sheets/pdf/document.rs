//! A PDF of one or more employees' sheets, each starting on a new page, built in memory: the
//! caller seals the bytes, so no plaintext PDF touches a disk. Pages are written (deflated) as
//! each sheet is added; the font subsets, the page tree and the catalog when it finishes.

use pdf_writer::{Filter, Finish, Pdf, Rect, Ref, TextStr};

use super::block::{self, Row, visit_block};
use super::deflate;
use super::font::{Subset, Weight};
use super::labels::Labels;
use super::page::{FOOTER, HEADER, MARGIN, Placed, body_height, body_width, paginate};
use super::paint::{BOLD, Painter, REGULAR};
use super::text::{Style, wrap};
use crate::error::Result;
use crate::export::device_sync::Carer;
use crate::print::Paper;
use crate::sheets::visit::EmployeeSheet;

/// What every page's header and footer say besides the employee.
pub struct Context<'a> {
    pub profile: &'a str,
    /// The sheet's days, as printed: `2026-12-01` or `2026-12-01 – 2026-12-03`.
    pub days: String,
    /// When staging's data was taken, in local time, or `None` when it does not say.
    pub data_as_of: Option<String>,
    /// The zone every time on the sheet is in.
    pub zone: &'a str,
    pub labels: &'static Labels,
    /// What each carer's app misses, by employee number, as their sheet's header says it.
    pub missed: &'a std::collections::HashMap<String, String>,
}

/// `device last synced 2026-12-03 21:40; 3 visits changed since` (or never synced), when the
/// carer's app misses visits.
pub fn missed(c: &Carer, l: &Labels) -> Option<String> {
    if !c.mismatch() {
        return None;
    }
    Some(match &c.last_sync {
        Some(t) => format!("{} {t}; {} {}", l.device_synced, c.changed, l.changed_since),
        None => format!("{}; {} {}", l.never_synced, c.changed, l.not_on_app),
    })
}

pub struct Document {
    pdf: Pdf,
    next: Ref,
    paper: Paper,
    tree: Ref,
    fonts: [Ref; 2],
    subsets: [Subset; 2],
    pages: Vec<Ref>,
}

const HEAD: Style = Style::bold(12.5);
const SUB: Style = Style::regular(8.5);
const FOOT: Style = Style::regular(7.5);
const FOOT_BOLD: Style = Style::bold(7.5);
/// One piece of text on the urgent list: its column's offset, style and text.
type Cell = (f32, Style, String);

const URGENT_WHO: Style = Style::bold(8.0);
const URGENT: Style = Style::regular(8.0);

impl Document {
    pub fn new(paper: Paper, title: &str) -> Document {
        let mut next = Ref::new(1);
        let (catalog, tree, info) = (next.bump(), next.bump(), next.bump());
        let fonts = [next.bump(), next.bump()];
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.document_info(info)
            .title(TextStr(title))
            .producer(TextStr(concat!("acc ", env!("CARGO_PKG_VERSION"))));
        Document {
            pdf,
            next,
            paper,
            tree,
            fonts,
            subsets: [Subset::new(Weight::Regular), Subset::new(Weight::Bold)],
            pages: Vec::new(),
        }
    }

    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    /// Adds one employee's sheet on pages of its own; returns how many.
    pub fn add(&mut self, sheet: &EmployeeSheet, cx: &Context) -> usize {
        let width = body_width(self.paper);
        let blocks: Vec<_> = sheet
            .visits
            .iter()
            .map(|v| visit_block(v, cx.labels, width, body_height(self.paper)))
            .collect();
        let pages = paginate(&blocks, body_height(self.paper));
        let total = pages.len();
        let h = self.paper.size().1;
        for (i, placed) in pages.iter().enumerate() {
            let mut p = Painter::new(&mut self.subsets, h);
            header(&mut p, sheet, cx, self.paper, i + 1, total);
            if blocks.is_empty() {
                p.text(block::BODY, MARGIN, MARGIN + HEADER, cx.labels.no_visits);
            }
            for part in placed {
                draw_part(&mut p, &blocks[part.block], part, cx.labels, width);
            }
            let visits: Vec<&str> = placed
                .iter()
                .map(|part| blocks[part.block].visit.as_str())
                .collect();
            footer(&mut p, cx, self.paper, &visits);
            let content = deflate(&p.content.finish());
            self.page(&content);
        }
        total
    }

    /// Adds the urgent list on pages of its own: the carers whose app misses visits or keeps
    /// no offline copy, most urgent first, with their phone numbers, for the coordinator to
    /// call before anyone goes out. Returns how many pages.
    pub fn add_urgent(&mut self, carers: &[&Carer], cx: &Context) -> usize {
        let width = body_width(self.paper);
        let l = cx.labels;
        // a table: number, name, phone, then what their app misses (wrapped in its column)
        let columns = [0.0, 44.0, 150.0, 222.0];
        let detail_width = width - columns[3];
        let rows: Vec<Vec<Cell>> = if carers.is_empty() {
            vec![vec![(0.0, URGENT, l.urgent_none.to_string())]]
        } else {
            carers
                .iter()
                .flat_map(|c| {
                    let detail = format!(
                        "{} {} {} {} {}  ·  {}: {}",
                        c.changed,
                        l.of,
                        c.visits,
                        l.changed_short,
                        c.last_sync.as_deref().unwrap_or(l.never),
                        l.offline_mode,
                        c.offline_mode,
                    );
                    let mut lines = wrap(&detail, URGENT, detail_width).into_iter();
                    let first = vec![
                        (columns[0], URGENT_WHO, c.number.clone()),
                        (
                            columns[1],
                            URGENT_WHO,
                            fit(&c.name, URGENT_WHO, columns[2] - columns[1] - 6.0),
                        ),
                        (columns[2], URGENT, c.phone.clone()),
                        (columns[3], URGENT, lines.next().unwrap_or_default()),
                    ];
                    std::iter::once(first).chain(lines.map(|w| vec![(columns[3], URGENT, w)]))
                })
                .collect()
        };
        let body = body_height(self.paper);
        let per_page = ((body / URGENT.leading()) as usize).max(1);
        let pages: Vec<&[Vec<Cell>]> = rows.chunks(per_page).collect();
        let (total, h) = (pages.len(), self.paper.size().1);
        for (i, rows) in pages.iter().enumerate() {
            let mut p = Painter::new(&mut self.subsets, h);
            let title = format!("{} ({})", l.urgent_title, carers.len());
            p.text(HEAD, MARGIN, MARGIN, &title);
            let page = format!("{} {} {} {total}", l.urgent_page, i + 1, l.of);
            p.text_right(HEAD, MARGIN + width, MARGIN, &page);
            let as_of = cx.data_as_of.as_deref().unwrap_or(l.unknown);
            let sub = format!(
                "{}   ·   {}: {}   ·   {} {}   ·   {}: {as_of}",
                l.urgent_why, l.agency, cx.profile, l.sheet_for, cx.days, l.data_as_of
            );
            for (j, line) in wrap(&sub, SUB, width).iter().take(2).enumerate() {
                let top = MARGIN + HEAD.leading() + 2.0 + j as f32 * SUB.leading();
                p.text(SUB, MARGIN, top, line);
            }
            p.rule(0.0, 1.2, MARGIN, MARGIN + HEADER - 6.0, width);
            for (n, row) in rows.iter().enumerate() {
                let y = MARGIN + HEADER + n as f32 * URGENT.leading();
                for (x, style, text) in row {
                    p.text(*style, MARGIN + x, y, text);
                }
            }
            let content = deflate(&p.content.finish());
            self.page(&content);
        }
        total
    }

    /// One page of the document whose content stream is `content`.
    fn page(&mut self, content: &[u8]) {
        let (w, h) = self.paper.size();
        let (page, stream) = (self.next.bump(), self.next.bump());
        self.pdf.stream(stream, content).filter(Filter::FlateDecode);
        let mut pg = self.pdf.page(page);
        pg.media_box(Rect::new(0.0, 0.0, w, h))
            .parent(self.tree)
            .contents(stream);
        pg.resources()
            .fonts()
            .pair(REGULAR, self.fonts[0])
            .pair(BOLD, self.fonts[1]);
        pg.finish();
        self.pages.push(page);
    }

    /// The whole PDF.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        for (subset, font) in self.subsets.iter().zip(self.fonts) {
            subset.write(&mut self.pdf, font, &mut self.next)?;
        }
        self.pdf
            .pages(self.tree)
            .kids(self.pages.iter().copied())
            .count(self.pages.len() as i32);
        Ok(self.pdf.finish())
    }
}

/// `text` cut to `room` points, with an ellipsis when it had to be cut.
fn fit(text: &str, style: Style, room: f32) -> String {
    if style.width(text) <= room {
        return text.to_string();
    }
    let mut out: String = text.to_string();
    while !out.is_empty() && style.width(&format!("{out}…")) > room {
        out.pop();
    }
    format!("{out}…")
}

fn draw_part(p: &mut Painter, b: &block::Block, part: &Placed, labels: &Labels, width: f32) {
    let top = MARGIN + HEADER + part.top;
    let mut y = top;
    if part.continued
        && let Row::Title { left, right } = &b.rows[0]
    {
        let title = Row::Title {
            left: format!("{left} ({})", labels.continued),
            right: right.clone(),
        };
        p.row(&title, labels, MARGIN, y, width);
        y += title.height();
    }
    for row in &b.rows[part.rows.clone()] {
        p.row(row, labels, MARGIN, y, width);
        y += row.height();
    }
    p.frame(0.8, MARGIN, top, width, part.height);
}

fn header(p: &mut Painter, s: &EmployeeSheet, cx: &Context, paper: Paper, n: usize, of: usize) {
    let width = body_width(paper);
    let l = cx.labels;
    let page = format!("{} {n} {} {of}", l.page, l.of);
    let room = width - HEAD.width(&page) - 12.0;
    let who = format!("{}: {} · {}", l.employee, s.number, s.name);
    let line = wrap(&who, HEAD, room)
        .into_iter()
        .next()
        .unwrap_or_default();
    p.text(HEAD, MARGIN, MARGIN, &line);
    p.text_right(HEAD, MARGIN + width, MARGIN, &page);
    let as_of = cx.data_as_of.as_deref().unwrap_or(l.unknown);
    let mut sub = format!(
        "{}   ·   {}: {}   ·   {} {}   ·   {}: {as_of}",
        l.title, l.agency, cx.profile, l.sheet_for, cx.days, l.data_as_of
    );
    // what the carer's app misses comes first, so it is never the part cut off
    if let Some(missed) = cx.missed.get(&s.number) {
        sub = format!("{missed}   ·   {sub}");
    }
    for (i, line) in wrap(&sub, SUB, width).iter().take(2).enumerate() {
        p.text(
            SUB,
            MARGIN,
            MARGIN + HEAD.leading() + 2.0 + i as f32 * SUB.leading(),
            line,
        );
    }
    p.rule(0.0, 1.2, MARGIN, MARGIN + HEADER - 6.0, width);
}

fn footer(p: &mut Painter, cx: &Context, paper: Paper, visits: &[&str]) {
    let width = body_width(paper);
    let l = cx.labels;
    let top = paper.size().1 - MARGIN - FOOTER + 6.0;
    p.rule(0.0, 0.8, MARGIN, top, width);
    let rules = format!(
        "{} ({}). {} {}",
        l.rule_times, cx.zone, l.rule_initial, l.rule_return
    );
    let mut y = top + 3.0;
    for line in wrap(&rules, FOOT_BOLD, width) {
        p.text(FOOT_BOLD, MARGIN, y, &line);
        y += FOOT_BOLD.leading();
    }
    let numbers = format!("{}: {}", l.visits_here, visits.join(", "));
    for line in wrap(&numbers, FOOT, width) {
        p.text(FOOT, MARGIN, y, &line);
        y += FOOT.leading();
    }
}

#[cfg(test)]
mod tests {
    use super::super::labels::labels_of;
    use super::*;
    use crate::print::Language;
    use crate::sheets::visit::SheetVisit;

    fn sheet(number: &str, visits: usize) -> EmployeeSheet {
        EmployeeSheet {
            number: number.into(),
            name: "Zoë Ashgrove".into(),
            visits: (0..visits)
                .map(|i| SheetVisit {
                    number: format!("{}", 7000 + i),
                    client_number: format!("C-{i:06}"),
                    client: format!("Maëlis Larkspur-SYNTH {i}"),
                    address: "12 Heron Crescent, Loon Harbour".into(),
                    phone: "+1-555-0142".into(),
                    start: "2026-12-01 08:00:00-05".into(),
                    end: "2026-12-01 09:00:00-05".into(),
                    tasks: (1..=(i % 12 + 1))
                        .map(|t| format!("{t}: Help with dressing"))
                        .collect(),
                    alerts: if i % 2 == 0 {
                        vec![
                            "ALLERGY Latex (Rash, low)".into(),
                            "RISK Falls (high): Keep walkways clear".into(),
                        ]
                    } else {
                        vec![]
                    },
                    other: vec![],
                })
                .collect(),
        }
    }

    fn cx() -> Context<'static> {
        Context {
            profile: "demo-us",
            days: "2026-12-01".into(),
            data_as_of: Some("2026-11-30 23:00 EST".into()),
            zone: "America/Toronto",
            labels: labels_of(Language::English),
            missed: Box::leak(Box::default()),
        }
    }

    #[test]
    fn each_employee_starts_on_a_page_of_their_own() {
        let mut d = Document::new(Paper::Letter, "t");
        let a = d.add(&sheet("E-1", 9), &cx());
        let b = d.add(&sheet("E-2", 1), &cx());
        assert!(a >= 2, "nine visits take more than a page");
        assert_eq!(b, 1);
        assert_eq!(d.pages(), a + b);
        let pdf = d.finish().unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
