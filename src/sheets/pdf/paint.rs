//! Drawing on one page: text in the document's font subsets, frames, boxes and rules, and
//! each kind of visit row. Coordinates are taken from the page's top-left corner, in points.

use pdf_writer::{Content, Name, Str};

use super::block::{
    self, ALERT, ALERT_INDENT, CLOCK_HEIGHT, LABEL, NOTE_LINES, NOTE_SPACING, PAD, Row, TASK_TEXT,
    TITLE, TITLE_HEIGHT,
};
use super::font::{Subset, Weight, cap_height};
use super::labels::Labels;
use super::text::Style;

pub const REGULAR: Name<'static> = Name(b"F1");
pub const BOLD: Name<'static> = Name(b"F2");

/// The alerts' colour: dark red, which still prints as a heavy dark bar in black and white.
const ALERT_INK: (f32, f32, f32) = (0.62, 0.0, 0.0);
const ALERT_TINT: (f32, f32, f32) = (1.0, 0.93, 0.9);

pub struct Painter<'a> {
    pub content: Content,
    fonts: &'a mut [Subset; 2],
    height: f32,
}

impl<'a> Painter<'a> {
    pub fn new(fonts: &'a mut [Subset; 2], page_height: f32) -> Painter<'a> {
        Painter {
            content: Content::new(),
            fonts,
            height: page_height,
        }
    }

    fn y(&self, top: f32) -> f32 {
        self.height - top
    }

    /// Text whose line box starts `top` points down the page.
    pub fn text(&mut self, style: Style, x: f32, top: f32, text: &str) {
        let (font, subset) = match style.weight {
            Weight::Regular => (REGULAR, &mut self.fonts[0]),
            Weight::Bold => (BOLD, &mut self.fonts[1]),
        };
        let glyphs = subset.encode(text);
        // the baseline sits so capitals are centred in the line's leading
        let baseline = top + (style.leading() + cap_height(style.weight) * style.size) / 2.0;
        let y = self.y(baseline);
        self.content
            .begin_text()
            .set_font(font, style.size)
            .next_line(x, y)
            .show(Str(&glyphs))
            .end_text();
    }

    /// Text whose right edge is at `right`.
    pub fn text_right(&mut self, style: Style, right: f32, top: f32, text: &str) {
        self.text(style, right - style.width(text), top, text);
    }

    pub fn fill(&mut self, rgb: (f32, f32, f32), x: f32, top: f32, w: f32, h: f32) {
        let y = self.y(top + h);
        self.content
            .save_state()
            .set_fill_rgb(rgb.0, rgb.1, rgb.2)
            .rect(x, y, w, h)
            .fill_nonzero()
            .restore_state();
    }

    pub fn frame(&mut self, width: f32, x: f32, top: f32, w: f32, h: f32) {
        let y = self.y(top + h);
        self.content
            .save_state()
            .set_line_width(width)
            .rect(x, y, w, h)
            .stroke()
            .restore_state();
    }

    pub fn rule(&mut self, gray: f32, width: f32, x: f32, top: f32, w: f32) {
        let y = self.y(top);
        self.content
            .save_state()
            .set_stroke_gray(gray)
            .set_line_width(width)
            .move_to(x, y)
            .line_to(x + w, y)
            .stroke()
            .restore_state();
    }

    /// One row of a visit block in a frame starting at `x`, `width` wide.
    pub fn row(&mut self, row: &Row, labels: &Labels, x: f32, top: f32, width: f32) {
        let inner = x + PAD;
        match row {
            Row::Title { left, right } => {
                self.fill((0.86, 0.86, 0.86), x, top, width, TITLE_HEIGHT);
                self.text(TITLE, inner, top + 1.0, left);
                self.text_right(TITLE, x + width - PAD, top + 1.0, right);
            }
            Row::Line {
                style,
                text,
                indent,
            } => self.text(*style, inner + indent, top, text),
            Row::Alert { text, label } => {
                let h = row.height();
                self.fill(ALERT_TINT, inner, top, width - 2.0 * PAD, h);
                self.fill(ALERT_INK, inner, top, 3.5, h);
                self.content.save_state();
                self.content
                    .set_fill_rgb(ALERT_INK.0, ALERT_INK.1, ALERT_INK.2);
                let style = if *label { block::LABEL } else { ALERT };
                self.text(style, inner + ALERT_INDENT, top, text);
                self.content.restore_state();
            }
            Row::Task { cells, style } => {
                let column = (width - 2.0 * PAD) / cells.len().max(1) as f32;
                for (c, lines) in cells.iter().enumerate() {
                    let left = inner + c as f32 * column;
                    let side = style.size.min(8.0);
                    let box_top = top + (style.leading() - side) / 2.0 + 1.0;
                    self.frame(0.8, left, box_top, side, side);
                    for (i, line) in lines.iter().enumerate() {
                        let t = top + 1.0 + i as f32 * style.leading();
                        self.text(*style, left + TASK_TEXT, t, line);
                    }
                }
            }
            Row::Clock => self.clock(labels, inner, top, width - 2.0 * PAD),
            Row::Note => {
                self.text(LABEL, inner, top, labels.note);
                for i in 1..=NOTE_LINES {
                    let t = top + LABEL.leading() + i as f32 * NOTE_SPACING - 2.0;
                    self.rule(0.55, 0.6, inner, t, width - 2.0 * PAD);
                }
            }
            Row::Gap(_) => {}
        }
    }

    /// `Clock in [    ]   Clock out [    ]   Initials [   ]`, spread over the width.
    fn clock(&mut self, labels: &Labels, x: f32, top: f32, width: f32) {
        let h = CLOCK_HEIGHT - 6.0;
        let fields = [
            (labels.clock_in, 0.36),
            (labels.clock_out, 0.36),
            (labels.initials, 0.28),
        ];
        let mut left = x;
        for (label, share) in fields {
            let room = width * share;
            let label_w = LABEL.width(label) + 4.0;
            self.text(LABEL, left, top + 3.0 + (h - LABEL.leading()) / 2.0, label);
            let w = (room - label_w - 10.0).max(30.0);
            self.frame(0.9, left + label_w, top + 3.0, w, h);
            left += room;
        }
    }
}
