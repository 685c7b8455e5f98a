//! Text for the page: cleaned of control characters and wrapped to a width by the real glyph
//! widths, so nothing is cut off. A word wider than the line is broken between characters.

use super::font::{Weight, width};

/// One run of text: its face and size in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub weight: Weight,
    pub size: f32,
}

impl Style {
    pub const fn regular(size: f32) -> Style {
        Style {
            weight: Weight::Regular,
            size,
        }
    }

    pub const fn bold(size: f32) -> Style {
        Style {
            weight: Weight::Bold,
            size,
        }
    }

    pub fn width(self, text: &str) -> f32 {
        width(self.weight, text, self.size)
    }

    /// Baseline to baseline.
    pub fn leading(self) -> f32 {
        self.size * 1.25
    }
}

/// Tabs, newlines and other control characters become spaces; runs of spaces become one.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out
}

/// `text` in lines no wider than `max` points; at least one line, empty for empty text.
pub fn wrap(text: &str, style: Style, max: f32) -> Vec<String> {
    let text = clean(text);
    let space = style.width(" ");
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0.0;
    for word in text.split(' ') {
        let w = style.width(word);
        let with_space = if line.is_empty() { w } else { used + space + w };
        if with_space <= max {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            used = with_space;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if w <= max {
            line.push_str(word);
            used = w;
            continue;
        }
        // a word too wide on a line of its own is broken where it must be
        used = 0.0;
        for c in word.chars() {
            let cw = style.width(c.encode_utf8(&mut [0; 4]));
            if used + cw > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            line.push(c);
            used += cw;
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let s = Style::regular(10.0);
        let text = "1200 Heron Crescent, Apartment 4B, behind the bakery, Loon Harbour ".repeat(5);
        let lines = wrap(&text, s, 200.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| s.width(l) <= 200.0), "{lines:?}");
        assert_eq!(lines.join(" "), clean(&text));
    }

    #[test]
    fn a_word_wider_than_the_line_is_broken_not_cut() {
        let s = Style::bold(10.0);
        let word = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(3);
        let lines = wrap(&word, s, 100.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| s.width(l) <= 100.0));
        assert_eq!(lines.concat(), word);
    }

    #[test]
    fn control_characters_do_not_reach_the_page() {
        assert_eq!(clean("a\tb\r\n  c\u{7}"), "a b c");
        assert_eq!(wrap("", Style::regular(9.0), 50.0), vec![String::new()]);
    }
}
