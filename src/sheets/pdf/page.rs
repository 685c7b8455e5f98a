//! The page: paper sizes, the margins, header and footer bands, and how visit blocks are laid
//! onto pages. A block moves whole to the next page rather than split; only a block taller
//! than a whole page is split, between rows, and its next part says it continues.

use super::block::Block;
use crate::print::Paper;

/// The width between the margins, in points.
pub fn body_width(paper: Paper) -> f32 {
    paper.size().0 - 2.0 * MARGIN
}

/// The height between the header and the footer bands.
pub fn body_height(paper: Paper) -> f32 {
    paper.size().1 - 2.0 * MARGIN - HEADER - FOOTER
}

pub const MARGIN: f32 = 36.0;
pub const HEADER: f32 = 46.0;
pub const FOOTER: f32 = 46.0;
/// Between two visit blocks.
pub const GAP: f32 = 10.0;

/// Part of a block on a page: rows `rows` of block `block`, drawn from `top` of the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub block: usize,
    pub rows: std::ops::Range<usize>,
    pub top: f32,
    pub height: f32,
    /// The block started on an earlier page.
    pub continued: bool,
}

/// The blocks laid onto pages of body height `body`; one empty page when there are none.
pub fn paginate(blocks: &[Block], body: f32) -> Vec<Vec<Placed>> {
    let mut pages = vec![Vec::new()];
    let mut used = 0.0f32;
    for (b, block) in blocks.iter().enumerate() {
        let height = block.height();
        let gap = if used > 0.0 { GAP } else { 0.0 };
        if used > 0.0 && used + gap + height > body {
            pages.push(Vec::new());
            used = 0.0;
        }
        if height <= body - used {
            let top = used + if used > 0.0 { GAP } else { 0.0 };
            pages.last_mut().expect("a page").push(Placed {
                block: b,
                rows: 0..block.rows.len(),
                top,
                height,
                continued: false,
            });
            used = top + height;
            continue;
        }
        // taller than a page: split between rows; each later part repeats the title row
        let mut start = 0;
        let mut continued = false;
        while start < block.rows.len() {
            let title = if continued {
                block.rows[0].height()
            } else {
                0.0
            };
            let mut h = title;
            let mut end = start;
            while end < block.rows.len() && (end == start || h + block.rows[end].height() <= body) {
                h += block.rows[end].height();
                end += 1;
            }
            if !pages.last().expect("a page").is_empty() {
                pages.push(Vec::new());
            }
            pages.last_mut().expect("a page").push(Placed {
                block: b,
                rows: start..end,
                top: 0.0,
                height: h,
                continued,
            });
            used = h;
            start = end;
            continued = true;
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::super::block::{Block, Row};
    use super::*;

    fn block(rows: usize, each: f32) -> Block {
        Block {
            visit: "1".into(),
            rows: (0..rows).map(|_| Row::Gap(each)).collect(),
        }
    }

    #[test]
    fn a_block_that_does_not_fit_moves_whole_to_the_next_page() {
        let blocks = [block(3, 100.0), block(3, 100.0), block(2, 50.0)];
        let pages = paginate(&blocks, 500.0);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].len(), 1);
        assert_eq!(pages[1].len(), 2);
        assert!(
            pages
                .iter()
                .flatten()
                .all(|p| !p.continued && p.rows.start == 0)
        );
        for page in &pages {
            let bottom = page.last().map(|p| p.top + p.height).unwrap();
            assert!(bottom <= 500.0);
        }
    }

    #[test]
    fn only_a_block_taller_than_a_page_is_split_and_each_part_fits() {
        let blocks = [block(2, 30.0), block(30, 40.0)];
        let pages = paginate(&blocks, 500.0);
        let parts: Vec<_> = pages.iter().flatten().filter(|p| p.block == 1).collect();
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.height <= 500.0 && p.top == 0.0));
        assert!(parts[1..].iter().all(|p| p.continued));
        let rows: usize = parts.iter().map(|p| p.rows.len()).sum();
        assert_eq!(rows, 30, "every row is placed once");
    }

    #[test]
    fn no_visits_is_still_a_page() {
        assert_eq!(paginate(&[], 500.0), vec![Vec::new()]);
        assert!(body_height(Paper::A4) > body_height(Paper::Letter));
        assert!(body_width(Paper::Letter) > body_width(Paper::A4));
    }
}
